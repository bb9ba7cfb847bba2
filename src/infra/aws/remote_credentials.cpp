#include "infra/aws/remote_credentials.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "infra/aws/aws_time.h"
#include "infra/aws/profile.h"
#include "infra/http/url.h"

namespace bluegreen::aws {

namespace {

constexpr auto kMetadataTimeout = std::chrono::milliseconds(1000);

bool allowed_plain_http_host(const std::string& host) {
  if (host == "localhost" || host == "[::1]" || host.starts_with("127.")) return true;
  return host == "169.254.170.2" || host == "169.254.170.23" || host == "[fd00:ec2::23]";
}

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  const auto last = text.find_last_not_of(" \t\r\n");
  return first == std::string::npos ? std::string{} : text.substr(first, last - first + 1);
}

}  // namespace

Result<AwsCredentials> parse_credentials_document(std::string_view json,
                                                  const std::string& source) {
  const auto document = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object()) {
    return fail(ErrorKind::unavailable, source + " answered something that is not JSON");
  }
  if (auto code = document.find("Code");
      code != document.end() && code->is_string() && *code != "Success") {
    return fail(ErrorKind::unavailable, source + " answered Code " + code->get<std::string>());
  }
  auto text = [&](const char* key) -> std::string {
    auto found = document.find(key);
    return found != document.end() && found->is_string() ? found->get<std::string>()
                                                         : std::string{};
  };
  AwsCredentials credentials;
  credentials.access_key_id = text("AccessKeyId");
  credentials.secret_access_key = Secret(text("SecretAccessKey"));
  credentials.session_token = Secret(text("Token"));
  credentials.source = source;
  if (credentials.access_key_id.empty() || credentials.secret_access_key.empty()) {
    return fail(ErrorKind::unavailable,
                source + " answered without AccessKeyId or SecretAccessKey");
  }
  if (const std::string expiration = text("Expiration"); !expiration.empty()) {
    credentials.expiration = parse_iso8601(expiration);
    if (!credentials.expiration) {
      return fail(ErrorKind::unavailable, source + " answered an unreadable Expiration");
    }
  }
  return credentials;
}

ContainerCredentialsProvider::ContainerCredentialsProvider(http::HttpClient& http, Environment env,
                                                           std::string link_local_base)
    : http_(http), env_(std::move(env)), link_local_base_(std::move(link_local_base)) {}

Result<AwsCredentials> ContainerCredentialsProvider::credentials() {
  std::string url;
  if (auto relative = env_("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
    url = link_local_base_ + (relative->starts_with('/') ? "" : "/") + *relative;
  } else if (auto full = env_("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
    auto parsed = http::parse_url(*full);
    if (!parsed) {
      return std::unexpected(parsed.error().with_context("AWS_CONTAINER_CREDENTIALS_FULL_URI"));
    }
    if (parsed->scheme == "http" && !allowed_plain_http_host(parsed->host)) {
      return fail(ErrorKind::invalid_input,
                  "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to a loopback or "
                  "ECS/EKS address, not host " +
                      parsed->host);
    }
    url = *full;
  } else {
    return fail(ErrorKind::not_found,
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI are not set");
  }

  http::Request request{.method = "GET", .url = url, .headers = {{"Accept", "application/json"}}};
  request.timeout = std::chrono::milliseconds(5000);
  if (auto token_file = env_("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
    std::ifstream in(*token_file, std::ios::binary);
    if (!in) {
      return fail(ErrorKind::invalid_input,
                  "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE " + *token_file);
    }
    std::stringstream token;
    token << in.rdbuf();
    request.headers.emplace_back("Authorization", trim(token.str()));
  } else if (auto token = env_("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
    request.headers.emplace_back("Authorization", *token);
  }

  const std::string where = "container credentials endpoint " + http::describe_url(url);
  auto response = http_.send(request);
  if (!response) return std::unexpected(response.error().with_context(where));
  if (response->status == 401 || response->status == 403) {
    return fail(ErrorKind::permission_denied, where + " refused the request (HTTP " +
                                                  std::to_string(response->status) +
                                                  "); check AWS_CONTAINER_AUTHORIZATION_TOKEN");
  }
  if (!response->ok()) {
    return fail(ErrorKind::unavailable,
                where + " answered HTTP " + std::to_string(response->status));
  }
  return parse_credentials_document(response->body, "container credentials endpoint");
}

ImdsCredentialsProvider::ImdsCredentialsProvider(http::HttpClient& http, Environment env)
    : http_(http), env_(std::move(env)) {}

Result<AwsCredentials> ImdsCredentialsProvider::credentials() {
  if (env_flag(env_, "AWS_EC2_METADATA_DISABLED")) {
    return fail(ErrorKind::not_found, "disabled by AWS_EC2_METADATA_DISABLED");
  }
  std::string base = env_("AWS_EC2_METADATA_SERVICE_ENDPOINT").value_or("http://169.254.169.254");
  while (base.ends_with('/')) base.pop_back();

  http::Request token_request{.method = "PUT",
                              .url = base + "/latest/api/token",
                              .headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}}};
  token_request.timeout = kMetadataTimeout;
  auto token = http_.send(token_request);
  if (!token) return fail(ErrorKind::not_found, "not reachable at " + base);
  if (!token->ok()) {
    return fail(ErrorKind::not_found, "token request answered HTTP " +
                                          std::to_string(token->status) +
                                          " (IMDSv2 disabled or blocked)");
  }
  const std::string session = trim(token->body);

  auto get = [&](const std::string& path) {
    http::Request request{
        .method = "GET", .url = base + path, .headers = {{"X-aws-ec2-metadata-token", session}}};
    request.timeout = kMetadataTimeout;
    return http_.send(request);
  };
  const std::string credentials_path = "/latest/meta-data/iam/security-credentials/";
  auto roles = get(credentials_path);
  if (!roles) return std::unexpected(roles.error().with_context("instance metadata"));
  if (roles->status == 404) return fail(ErrorKind::not_found, "the instance has no IAM role");
  if (!roles->ok()) {
    return fail(ErrorKind::unavailable, "instance metadata answered HTTP " +
                                            std::to_string(roles->status) + " for the role");
  }
  const std::string role = trim(roles->body.substr(0, roles->body.find('\n')));
  if (role.empty()) return fail(ErrorKind::not_found, "the instance has no IAM role");
  auto document = get(credentials_path + http::uri_encode(role));
  if (!document) return std::unexpected(document.error().with_context("instance metadata"));
  if (!document->ok()) {
    return fail(ErrorKind::unavailable, "instance metadata answered HTTP " +
                                            std::to_string(document->status) +
                                            " for the credentials of role " + role);
  }
  return parse_credentials_document(document->body, "instance metadata role " + role);
}

std::unique_ptr<CredentialsChain> make_default_credentials_chain(
    http::HttpClient& http, Clock& clock, const Environment& env,
    std::optional<AwsCredentials> explicit_credentials) {
  std::vector<std::unique_ptr<CredentialsProvider>> providers;
  if (explicit_credentials) {
    providers.push_back(
        std::make_unique<StaticCredentialsProvider>(std::move(*explicit_credentials)));
  }
  providers.push_back(std::make_unique<EnvironmentCredentialsProvider>(env));
  providers.push_back(std::make_unique<ProfileCredentialsProvider>(env));
  providers.push_back(std::make_unique<ContainerCredentialsProvider>(http, env));
  providers.push_back(std::make_unique<ImdsCredentialsProvider>(http, env));
  return std::make_unique<CredentialsChain>(std::move(providers), clock);
}

}  // namespace bluegreen::aws
