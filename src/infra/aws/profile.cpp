#include "infra/aws/profile.h"

#include <fstream>
#include <sstream>

namespace bluegreen::aws {

namespace {

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

std::optional<std::string> read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

// The profile a section header names, or nullopt when the section is not a profile.
std::optional<std::string> section_profile(std::string_view header, bool config_style) {
  header = trim(header);
  if (!config_style) return std::string(header);
  if (header == "default") return std::string("default");
  if (header.starts_with("profile ") || header.starts_with("profile\t")) {
    return std::string(trim(header.substr(8)));
  }
  return std::nullopt;  // [sso-session x], [services x], ...
}

}  // namespace

ProfileSettings parse_profile(std::string_view text, std::string_view profile, bool config_style) {
  ProfileSettings settings;
  bool in_profile = false;
  while (!text.empty()) {
    const auto end = text.find('\n');
    std::string_view raw_line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    const std::string_view line = trim(raw_line);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      const auto close = line.find(']');
      const auto name = section_profile(
          line.substr(1, close == std::string_view::npos ? line.npos : close - 1), config_style);
      in_profile = name && *name == profile;
      continue;
    }
    if (!in_profile) continue;
    // Indented lines continue a nested setting ("s3 =\n  addressing_style = path"); the
    // settings used here are never nested, so they are skipped.
    if (raw_line.front() == ' ' || raw_line.front() == '\t') continue;
    const auto equals = line.find('=');
    if (equals == std::string_view::npos) continue;
    std::string_view value = trim(line.substr(equals + 1));
    // An inline comment needs whitespace before it, as in the AWS CLI.
    for (const char* marker : {" #", " ;", "\t#", "\t;"}) {
      const auto comment = value.find(marker);
      if (comment != std::string_view::npos) value = trim(value.substr(0, comment));
    }
    settings[std::string(trim(line.substr(0, equals)))] = std::string(value);
  }
  return settings;
}

ProfileFiles profile_files(const Environment& env) {
  ProfileFiles files;
  const std::filesystem::path home = env("HOME").value_or("");
  files.credentials_file =
      env("AWS_SHARED_CREDENTIALS_FILE")
          .transform([](const std::string& p) { return std::filesystem::path(p); })
          .value_or(home / ".aws" / "credentials");
  files.config_file = env("AWS_CONFIG_FILE")
                          .transform([](const std::string& p) { return std::filesystem::path(p); })
                          .value_or(home / ".aws" / "config");
  if (auto profile = env("AWS_PROFILE")) {
    files.profile = *profile;
    files.profile_named_explicitly = true;
  } else {
    files.profile = "default";
  }
  return files;
}

ProfileSettings load_profile(const ProfileFiles& files) {
  ProfileSettings merged;
  if (auto config = read_text(files.config_file)) {
    merged = parse_profile(*config, files.profile, /*config_style=*/true);
  }
  if (auto credentials = read_text(files.credentials_file)) {
    for (auto& [key, value] : parse_profile(*credentials, files.profile, /*config_style=*/false)) {
      merged[key] = value;
    }
  }
  return merged;
}

ProfileCredentialsProvider::ProfileCredentialsProvider(Environment env) : env_(std::move(env)) {}

std::string ProfileCredentialsProvider::name() const {
  return "profile '" + profile_files(env_).profile + "'";
}

Result<AwsCredentials> ProfileCredentialsProvider::credentials() {
  const ProfileFiles files = profile_files(env_);
  const ProfileSettings settings = load_profile(files);
  const std::string where = files.credentials_file.string() + " and " + files.config_file.string();
  if (settings.empty()) {
    if (files.profile_named_explicitly) {
      return fail(ErrorKind::invalid_input,
                  "AWS_PROFILE names profile '" + files.profile + "', which is not in " + where);
    }
    return fail(ErrorKind::not_found, "no profile '" + files.profile + "' in " + where);
  }
  const auto key_id = settings.find("aws_access_key_id");
  const auto secret = settings.find("aws_secret_access_key");
  if (key_id == settings.end() && secret == settings.end()) {
    for (const char* indirect : {"role_arn", "credential_process", "sso_session", "sso_start_url",
                                 "web_identity_token_file"}) {
      if (settings.contains(indirect)) {
        return fail(ErrorKind::invalid_input, "profile '" + files.profile + "' uses " + indirect +
                                                  ", which bluegreen does not support; give keys "
                                                  "or use the environment");
      }
    }
    return fail(ErrorKind::not_found, "profile '" + files.profile + "' has no aws_access_key_id");
  }
  if (key_id == settings.end() || secret == settings.end() || key_id->second.empty() ||
      secret->second.empty()) {
    return fail(ErrorKind::invalid_input, "profile '" + files.profile +
                                              "' needs both aws_access_key_id and "
                                              "aws_secret_access_key");
  }
  AwsCredentials found;
  found.access_key_id = key_id->second;
  found.secret_access_key = Secret(secret->second);
  if (auto token = settings.find("aws_session_token"); token != settings.end()) {
    found.session_token = Secret(token->second);
  }
  found.source = "profile " + files.profile;
  return found;
}

Result<std::string> resolve_region(const Environment& env) {
  if (auto region = env("AWS_REGION")) return *region;
  if (auto region = env("AWS_DEFAULT_REGION")) return *region;
  const ProfileFiles files = profile_files(env);
  const ProfileSettings settings = load_profile(files);
  if (auto region = settings.find("region"); region != settings.end() && !region->second.empty()) {
    return region->second;
  }
  return fail(ErrorKind::invalid_input,
              "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or `region` in profile '" +
                  files.profile + "' of " + files.config_file.string() + ")");
}

}  // namespace bluegreen::aws
