#include "core/spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "core/text.h"

namespace bluegreen {
namespace {

using nlohmann::json;

const std::set<std::string_view> kS3Keys = {"S3_BUCKET", "S3_KEY", "S3_BUNDLE"};
const std::set<std::string_view> kGitHubKeys = {"GITHUB_REPO"};

std::unexpected<Error> invalid(std::string message) {
  return fail(ErrorKind::invalid_input, std::move(message));
}

// The keys only the local provider acts on, and what the elastigroup provider (Spot launches
// the greens, CodeDeploy installs the revision and moves traffic) does instead.
struct LocalOnlyKey {
  std::string_view key;
  std::string_view elastigroup_instead;
};

constexpr std::string_view kNoHealthGate =
    "has no health gate of its own (the greens must pass their EC2 status checks and the "
    "appspec's ValidateService hook: check health there)";

constexpr std::array kLocalOnlyKeys = {
    // Most consequential first: it is the one named in full when several are given.
    LocalOnlyKey{"PROMOTION",
                 "cannot wait for a manual promotion (Spot and CodeDeploy move traffic as "
                 "soon as the greens are installed)"},
    LocalOnlyKey{"LOCAL_PATH",
                 "cannot install from this machine (CodeDeploy fetches the revision: give "
                 "S3_BUCKET, S3_KEY and S3_BUNDLE, or GITHUB_REPO and COMMIT_ID)"},
    LocalOnlyKey{"CAPACITY",
                 "cannot choose how many greens start (Spot launches as many as the "
                 "Elastigroup's target capacity: change it on the group)"},
    LocalOnlyKey{"LISTEN",
                 "listens on nothing here (traffic reaches the greens through the "
                 "Elastigroup's load balancer)"},
    LocalOnlyKey{"PREVIEW_LISTEN",
                 "has no preview listener (the greens are reached through the Elastigroup's "
                 "load balancer once CodeDeploy allows traffic)"},
    LocalOnlyKey{"HEALTH_CHECK_PATH", kNoHealthGate},
    LocalOnlyKey{"HEALTH_CHECK_INTERVAL", kNoHealthGate},
    LocalOnlyKey{"HEALTHY_THRESHOLD", kNoHealthGate},
    LocalOnlyKey{"DRAIN_TIMEOUT",
                 "cannot set how long blue drains (Spot uses the Elastigroup's own "
                 "drainingTimeout: change it on the group)"},
    LocalOnlyKey{"BLUE_TERMINATION_WAIT",
                 "cannot keep blue for a rollback (Spot detaches and terminates blue as soon "
                 "as CodeDeploy has succeeded)"},
    LocalOnlyKey{"ISOLATION",
                 "runs the revision on EC2 instances (each is a host of its own already)"},
    LocalOnlyKey{"APP_PORT",
                 "does not choose the app's port (the load balancer's target group does)"},
    LocalOnlyKey{"TRAFFIC_STEPS",
                 "cannot move traffic in steps (CodeDeploy moves all of it at once)"},
    LocalOnlyKey{"STEP_WAIT", "cannot move traffic in steps (CodeDeploy moves all of it at once)"},
    LocalOnlyKey{"MAX_ERROR_RATE", "does not see the traffic (the load balancer carries it)"},
    LocalOnlyKey{"MAX_LATENCY_RATIO", "does not see the traffic (the load balancer carries it)"},
    LocalOnlyKey{"MIN_REQUESTS", "does not see the traffic (the load balancer carries it)"},
    LocalOnlyKey{"ROLLBACK_WINDOW", "does not see the traffic (the load balancer carries it)"},
};

// A provider that silently ignored one of these would deploy differently from what was
// asked (PROMOTION=manual would switch automatically), so any of them given at all, whatever
// its value, is refused. JSON null counts as not given, as everywhere in UserParameters.
Result<void> refuse_local_only_keys(const json& params, bool provider_given) {
  std::vector<std::string_view> given;
  const LocalOnlyKey* first = nullptr;
  for (const auto& entry : kLocalOnlyKeys) {
    auto it = params.find(entry.key);
    if (it == params.end() || it->is_null()) continue;
    if (!first) {
      first = &entry;
    } else {
      given.push_back(entry.key);
    }
  }
  if (!first) return {};
  // Some of them PROVIDER=asg honours too (its flow has the same gate, preview and waits).
  constexpr std::array kAsgToo = {"PROMOTION",         "CAPACITY",      "HEALTH_CHECK_INTERVAL",
                                  "HEALTHY_THRESHOLD", "DRAIN_TIMEOUT", "BLUE_TERMINATION_WAIT"};
  bool asg_too = std::ranges::find(kAsgToo, first->key) != kAsgToo.end();
  return invalid(fmt::format(
      "{} is honoured only by PROVIDER=local{}; the elastigroup provider{} {}: remove it or "
      "deploy with PROVIDER=local{}{}",
      first->key, asg_too ? " and PROVIDER=asg" : "",
      provider_given ? "" : " (chosen because API_TOKEN is given)", first->elastigroup_instead,
      asg_too ? " or PROVIDER=asg" : "",
      given.empty() ? std::string()
                    : fmt::format(" (the same holds for {})", fmt::join(given, ", "))));
}

// What PROVIDER=asg does not honour, and what it does instead.
constexpr auto kNotForAsg = std::to_array<std::pair<std::string_view, std::string_view>>({
    {"API_TOKEN", "uses this process's AWS credentials, no Spot token"},
    {"ACCOUNT_ID", "uses this process's AWS credentials, no Spot account"},
    {"LOCAL_PATH",
     "cannot install from this machine (CodeDeploy fetches the revision: give S3_BUCKET, "
     "S3_KEY and S3_BUNDLE, or GITHUB_REPO and COMMIT_ID)"},
    {"LISTEN", "listens on nothing here (the load balancer's listeners carry the traffic)"},
    {"PREVIEW_LISTEN",
     "has no preview listener of its own (give PREVIEW_TARGET_GROUP_ARN, the target group of "
     "a test listener)"},
    {"HEALTH_CHECK_PATH",
     "gates on the target groups' own health checks (set the path on the target group)"},
    {"ISOLATION", "runs the revision on EC2 instances (each is a host of its own already)"},
    {"APP_PORT", "does not choose the app's port (the target group does)"},
    {"TRAFFIC_STEPS", "moves all of the traffic at once (a target group takes every instance)"},
    {"STEP_WAIT", "moves all of the traffic at once (a target group takes every instance)"},
    {"MAX_ERROR_RATE", "does not see the traffic (the load balancer carries it)"},
    {"MAX_LATENCY_RATIO", "does not see the traffic (the load balancer carries it)"},
    {"MIN_REQUESTS", "does not see the traffic (the load balancer carries it)"},
    {"ROLLBACK_WINDOW", "does not see the traffic (the load balancer carries it)"},
});

// Keys the chosen provider would silently ignore are refused, whatever their value: the
// first one given is named with what the provider does instead.
Result<void> refuse_keys_not_honoured(const json& params, Provider provider) {
  auto given = [&](std::string_view key) {
    auto it = params.find(key);
    return it != params.end() && !it->is_null();
  };
  if (provider != Provider::asg) {
    if (!given("PREVIEW_TARGET_GROUP_ARN")) return {};
    return invalid(fmt::format(
        "PREVIEW_TARGET_GROUP_ARN is honoured only by PROVIDER=asg (a load balancer's target "
        "group){}",
        provider == Provider::local ? "; the local provider previews green on PREVIEW_LISTEN"
                                    : ""));
  }
  for (auto [key, instead] : kNotForAsg) {
    if (!given(key)) continue;
    return invalid(
        fmt::format("{} is not honoured by PROVIDER=asg, which {}: remove it", key, instead));
  }
  return {};
}

// A target group's ARN: arn:<partition>:elasticloadbalancing:<region>:<account>:targetgroup/
// <name>/<id>.
Result<void> check_target_group_arn(std::string_view key, const std::string& arn) {
  bool shape = arn.starts_with("arn:") && arn.find(":elasticloadbalancing:") != std::string::npos &&
               arn.find(":targetgroup/") != std::string::npos && arn.size() <= 2048 &&
               std::ranges::all_of(arn, [](char c) { return c > 0x20 && c < 0x7f; });
  if (shape) return {};
  return invalid(fmt::format(
      "{} must be a target group's ARN (arn:aws:elasticloadbalancing:<region>:<account>:"
      "targetgroup/<name>/<id>), got {}",
      key, quoted(arn)));
}

// COMMIT_ID ends up as an argument of `git archive` and in a GitHub URL: only the characters
// of a commit id or a ref name, never an option ("--output=…"), never a range or a path
// climbing out ("..").
Result<void> check_commit(const std::string& commit) {
  bool shape = !commit.empty() && commit.size() <= 255 && commit.front() != '-' &&
               commit.find("..") == std::string::npos && std::ranges::all_of(commit, [](char c) {
                 return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                        c == '/' || c == '-';
               });
  if (shape) return {};
  return invalid(fmt::format(
      "COMMIT_ID must be a commit id or a branch or tag name (letters, digits, '.', '_', '/', "
      "'-'; not starting with '-', no '..', at most 255 characters), got {}",
      quoted(commit)));
}

// GitHub's own rules: an owner (user or organisation) is 1-39 letters, digits and hyphens,
// not starting or ending with a hyphen; a repository is 1-100 letters, digits, '.', '_' and
// '-', other than "." and "..".
Result<void> check_github_repository(const std::string& repository) {
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  auto slash = repository.find('/');
  bool shape = slash != std::string::npos;
  if (shape) {
    std::string_view owner = std::string_view(repository).substr(0, slash);
    std::string_view name = std::string_view(repository).substr(slash + 1);
    shape = !owner.empty() && owner.size() <= 39 && owner.front() != '-' && owner.back() != '-' &&
            std::ranges::all_of(owner, [&](char c) { return alnum(c) || c == '-'; }) &&
            !name.empty() && name.size() <= 100 && name != "." && name != ".." &&
            std::ranges::all_of(
                name, [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
  }
  if (shape) return {};
  return invalid(fmt::format(
      "GITHUB_REPO must be owner/repo as GitHub names them (owner: letters, digits and "
      "inner '-', at most 39; repo: letters, digits, '.', '_', '-', at most 100), got {}",
      quoted(repository)));
}

// Reads a string-valued key. Numbers are accepted and kept in their JSON spelling, since
// CodePipeline users often write "TIMEOUT": 600 and "TIMEOUT": "600" interchangeably.
Result<std::optional<std::string>> string_value(const json& params, std::string_view key) {
  auto it = params.find(key);
  if (it == params.end() || it->is_null()) return std::optional<std::string>{};
  if (it->is_string()) return std::optional<std::string>{it->get<std::string>()};
  if (it->is_number_integer() || it->is_number_unsigned()) {
    return std::optional<std::string>{it->dump()};
  }
  if (it->is_number_float()) return std::optional<std::string>{it->dump()};
  return invalid(fmt::format("{} must be a string", key));
}

Result<std::string> required_string(const json& params, std::string_view key) {
  auto value = string_value(params, key);
  if (!value) return std::unexpected(value.error());
  if (!*value || (*value)->empty()) return invalid(fmt::format("missing key {}", key));
  return **value;
}

Result<long long> positive_integer(std::string_view key, const std::string& text) {
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value <= 0) {
    return invalid(fmt::format("{} must be a positive integer, got \"{}\"", key, text));
  }
  return value;
}

// Durations are seconds, whole or fractional ("0.5"), and may be zero.
Result<std::chrono::milliseconds> seconds_value(std::string_view key, const std::string& text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value) || value < 0 ||
      value > 7 * 24 * 3600) {
    return invalid(
        fmt::format("{} must be a number of seconds between 0 and 604800, got \"{}\"", key, text));
  }
  return std::chrono::milliseconds(static_cast<long long>(std::llround(value * 1000)));
}

// "10,50,100": whole percents, strictly ascending, 1..100, ending at 100.
Result<std::vector<int>> traffic_steps(const std::string& text) {
  std::vector<int> steps;
  std::string_view rest = text;
  while (true) {
    std::size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    int value = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || ec != std::errc{} || end != item.data() + item.size()) {
      return invalid(fmt::format(
          "TRAFFIC_STEPS must be whole percents separated by commas, like \"10,50,100\"; got {}",
          quoted(text)));
    }
    if (value < 1 || value > 100) {
      return invalid(
          fmt::format("TRAFFIC_STEPS: each step must be between 1 and 100 percent, got {}", value));
    }
    if (!steps.empty() && value <= steps.back()) {
      return invalid(fmt::format("TRAFFIC_STEPS must be strictly ascending: {} follows {} in {}",
                                 value, steps.back(), quoted(text)));
    }
    steps.push_back(value);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (steps.back() != 100) {
    return invalid(fmt::format("TRAFFIC_STEPS must end at 100 (every request on green), got {}",
                               quoted(text)));
  }
  return steps;
}

// A positive number, whole or fractional, at most `max`.
Result<double> positive_number(std::string_view key, const std::string& text, double max,
                               std::string_view unit) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value) ||
      value <= 0 || value > max) {
    return invalid(fmt::format("{} must be a number greater than 0 and at most {}{}, got \"{}\"",
                               key, max, unit, text));
  }
  return value;
}

Result<BundleType> bundle_type(const std::string& text) {
  std::string lower = text;
  std::ranges::transform(lower, lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "tar") return BundleType::tar;
  if (lower == "tgz") return BundleType::tgz;
  if (lower == "zip") return BundleType::zip;
  if (lower == "yaml") return BundleType::yaml;
  if (lower == "json") return BundleType::json;
  return invalid(
      fmt::format("S3_BUNDLE must be one of tar, tgz, zip, YAML, JSON, got \"{}\"", text));
}

bool valid_address(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  int port = 0;
  auto text = std::string_view(address).substr(colon + 1);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  return ec == std::errc{} && end == text.data() + text.size() && port >= 0 && port <= 65535;
}

Result<RevisionSource> parse_revision(const json& params, Provider provider) {
  // `has` below counts any non-empty value as given; a value of the wrong type must be refused
  // here, before the revision is read from it.
  for (auto key : {"S3_BUCKET", "S3_KEY", "S3_BUNDLE", "GITHUB_REPO", "COMMIT_ID", "LOCAL_PATH"}) {
    if (auto value = string_value(params, key); !value) return std::unexpected(value.error());
  }
  auto has = [&](std::string_view key) {
    auto it = params.find(key);
    return it != params.end() && !it->is_null() &&
           !(it->is_string() && it->get<std::string>().empty());
  };
  bool s3 = std::ranges::any_of(kS3Keys, has);
  bool local = has("LOCAL_PATH");
  bool github = has("GITHUB_REPO") || (has("COMMIT_ID") && !local);

  std::vector<std::string_view> given;
  if (s3) given.push_back("S3 (S3_BUCKET, S3_KEY, S3_BUNDLE)");
  if (github) given.push_back("GitHub (GITHUB_REPO, COMMIT_ID)");
  if (local) given.push_back("LOCAL_PATH");
  if (given.empty()) {
    return invalid(provider == Provider::local
                       ? "no revision source: give LOCAL_PATH, or S3_BUCKET, S3_KEY and S3_BUNDLE, "
                         "or GITHUB_REPO and COMMIT_ID"
                       : "no revision source: give S3_BUCKET, S3_KEY and S3_BUNDLE, or "
                         "GITHUB_REPO and COMMIT_ID");
  }
  if (given.size() > 1) {
    return invalid(fmt::format("more than one revision source given: {}; give exactly one",
                               fmt::join(given, " and ")));
  }
  if (s3) {
    for (auto key : {"S3_BUCKET", "S3_KEY", "S3_BUNDLE"}) {
      if (!has(key)) return invalid(fmt::format("S3 revision incomplete: missing key {}", key));
    }
    S3Revision revision;
    revision.bucket = *required_string(params, "S3_BUCKET");
    revision.key = *required_string(params, "S3_KEY");
    auto bundle = bundle_type(*required_string(params, "S3_BUNDLE"));
    if (!bundle) return std::unexpected(bundle.error());
    revision.bundle = *bundle;
    return revision;
  }
  if (github) {
    for (auto key : {"GITHUB_REPO", "COMMIT_ID"}) {
      if (!has(key)) return invalid(fmt::format("GitHub revision incomplete: missing key {}", key));
    }
    GitHubRevision revision;
    revision.repository = *required_string(params, "GITHUB_REPO");
    revision.commit = *required_string(params, "COMMIT_ID");
    if (auto checked = check_github_repository(revision.repository); !checked) {
      return std::unexpected(checked.error());
    }
    if (auto checked = check_commit(revision.commit); !checked) {
      return std::unexpected(checked.error());
    }
    return revision;
  }
  LocalRevision revision;
  revision.path = *required_string(params, "LOCAL_PATH");
  if (has("COMMIT_ID")) {
    revision.commit = *required_string(params, "COMMIT_ID");
    if (auto checked = check_commit(*revision.commit); !checked) {
      return std::unexpected(checked.error());
    }
  }
  return revision;
}

// Edit distance (insertions, deletions, substitutions) between two short keys.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::optional<std::string_view> closest_spec_key(std::string_view unknown) {
  if (unknown.size() > 64) return std::nullopt;
  std::string upper(unknown);
  for (auto& c : upper) {
    c = c == '-' || c == ' ' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  std::optional<std::string_view> best;
  std::size_t best_distance = 0;
  for (auto key : spec_keys()) {
    auto distance = edit_distance(upper, key);
    // A typo of a few letters, never a different word: at most 2 edits, and fewer than a
    // third of the key.
    if (distance > 2 || distance * 3 >= key.size()) continue;
    if (!best || distance < best_distance) {
      best = key;
      best_distance = distance;
    }
  }
  return best;
}

const std::vector<std::string_view>& spec_keys() {
  static const std::vector<std::string_view> keys = {"API_TOKEN",
                                                     "ACCOUNT_ID",
                                                     "GROUP_ID",
                                                     "APP_NAME",
                                                     "DEPLOYMENT_GROUP",
                                                     "TIMEOUT",
                                                     "S3_BUCKET",
                                                     "S3_KEY",
                                                     "S3_BUNDLE",
                                                     "GITHUB_REPO",
                                                     "COMMIT_ID",
                                                     "PROVIDER",
                                                     "LOCAL_PATH",
                                                     "CAPACITY",
                                                     "LISTEN",
                                                     "PREVIEW_LISTEN",
                                                     "PREVIEW_TARGET_GROUP_ARN",
                                                     "HEALTH_CHECK_PATH",
                                                     "HEALTH_CHECK_INTERVAL",
                                                     "HEALTHY_THRESHOLD",
                                                     "DRAIN_TIMEOUT",
                                                     "BLUE_TERMINATION_WAIT",
                                                     "PROMOTION",
                                                     "ISOLATION",
                                                     "APP_PORT",
                                                     "TRAFFIC_STEPS",
                                                     "STEP_WAIT",
                                                     "MAX_ERROR_RATE",
                                                     "MIN_REQUESTS",
                                                     "MAX_LATENCY_RATIO",
                                                     "ROLLBACK_WINDOW"};
  return keys;
}

Result<DeploymentSpec> parse_spec(std::string_view user_parameters) {
  json params = json::parse(user_parameters, nullptr, /*allow_exceptions=*/false);
  if (params.is_discarded()) {
    return invalid("UserParameters is not valid JSON");
  }
  return parse_spec(params);
}

Result<DeploymentSpec> parse_spec(const json& params) {
  if (!params.is_object()) return invalid("UserParameters must be a JSON object");
  for (const auto& [key, value] : params.items()) {
    if (std::ranges::find(spec_keys(), key) == spec_keys().end()) {
      auto suggestion = closest_spec_key(key);
      return invalid(suggestion ? fmt::format("unknown key {}; did you mean {}?", key, *suggestion)
                                : fmt::format("unknown key {}", key));
    }
  }

  DeploymentSpec spec;
  auto token = string_value(params, "API_TOKEN");
  if (!token) return std::unexpected(token.error());
  if (*token && !(*token)->empty()) spec.api_token = Secret(**token);

  auto provider = string_value(params, "PROVIDER");
  if (!provider) return std::unexpected(provider.error());
  if (!*provider || (*provider)->empty()) {
    spec.provider = spec.api_token.empty() ? Provider::local : Provider::elastigroup;
  } else if (**provider == "local") {
    spec.provider = Provider::local;
  } else if (**provider == "elastigroup") {
    spec.provider = Provider::elastigroup;
  } else if (**provider == "asg") {
    spec.provider = Provider::asg;
  } else {
    return invalid(
        fmt::format("PROVIDER must be local, elastigroup or asg, got \"{}\"", **provider));
  }
  if (spec.provider == Provider::elastigroup) {
    bool provider_given = *provider && !(*provider)->empty();
    if (auto refused = refuse_local_only_keys(params, provider_given); !refused) {
      return std::unexpected(refused.error());
    }
  }
  if (auto refused = refuse_keys_not_honoured(params, spec.provider); !refused) {
    return std::unexpected(refused.error());
  }

  std::vector<std::string_view> required = {"GROUP_ID", "APP_NAME", "DEPLOYMENT_GROUP", "TIMEOUT"};
  if (spec.provider == Provider::elastigroup) {
    required.insert(required.begin(), {"API_TOKEN", "ACCOUNT_ID"});
  }
  for (auto key : required) {
    auto value = required_string(params, key);
    if (!value) return std::unexpected(value.error());
  }
  auto account = string_value(params, "ACCOUNT_ID");
  if (!account) return std::unexpected(account.error());
  spec.account_id = account->value_or("");
  spec.group_id = *required_string(params, "GROUP_ID");
  spec.app_name = *required_string(params, "APP_NAME");
  spec.deployment_group = *required_string(params, "DEPLOYMENT_GROUP");
  auto timeout = positive_integer("TIMEOUT", *required_string(params, "TIMEOUT"));
  if (!timeout) return std::unexpected(timeout.error());
  spec.timeout = std::chrono::seconds(*timeout);

  auto revision = parse_revision(params, spec.provider);
  if (!revision) return std::unexpected(revision.error());
  spec.revision = *revision;

  // Optional keys; absent means the default in DeploymentSpec.
  auto optional = [&](std::string_view key) { return string_value(params, key); };
  if (spec.provider == Provider::asg) spec.capacity = 0;  // as blue's group, unless given
  if (auto v = optional("PREVIEW_TARGET_GROUP_ARN"); !v) {
    return std::unexpected(v.error());
  } else if (*v) {
    if (auto wrong = check_target_group_arn("PREVIEW_TARGET_GROUP_ARN", **v); !wrong) {
      return std::unexpected(wrong.error());
    }
    spec.preview_target_group_arn = **v;
  }
  if (auto v = optional("CAPACITY"); !v) {
    return std::unexpected(v.error());
  } else if (*v) {
    auto capacity = positive_integer("CAPACITY", **v);
    if (!capacity) return std::unexpected(capacity.error());
    if (*capacity > 1000) return invalid("CAPACITY must be at most 1000");
    spec.capacity = static_cast<int>(*capacity);
  }
  if (auto v = optional("HEALTHY_THRESHOLD"); !v) {
    return std::unexpected(v.error());
  } else if (*v) {
    auto threshold = positive_integer("HEALTHY_THRESHOLD", **v);
    if (!threshold) return std::unexpected(threshold.error());
    if (*threshold > 100) return invalid("HEALTHY_THRESHOLD must be at most 100");
    spec.healthy_threshold = static_cast<int>(*threshold);
  }
  for (auto [key, target] :
       {std::pair{"LISTEN", &spec.listen}, std::pair{"PREVIEW_LISTEN", &spec.preview_listen}}) {
    auto v = optional(key);
    if (!v) return std::unexpected(v.error());
    if (!*v) continue;
    if (!valid_address(**v)) {
      return invalid(fmt::format("{} must be host:port, got \"{}\"", key, **v));
    }
    *target = **v;
  }
  if (!spec.preview_listen.empty() && spec.preview_listen == spec.listen) {
    return invalid("PREVIEW_LISTEN must differ from LISTEN");
  }
  if (auto v = optional("HEALTH_CHECK_PATH"); !v) {
    return std::unexpected(v.error());
  } else if (*v) {
    if ((*v)->empty() || (**v)[0] != '/') {
      return invalid(fmt::format("HEALTH_CHECK_PATH must start with /, got \"{}\"", **v));
    }
    // The path goes verbatim into the probe's request line: a space or a control character
    // would end it early or start a header.
    if (!std::ranges::all_of(**v, [](char c) { return c > 0x20 && c < 0x7f; })) {
      return invalid(
          "HEALTH_CHECK_PATH must be visible ASCII, without spaces or control "
          "characters (percent-encode them)");
    }
    spec.health_check_path = **v;
  }
  for (auto [key, target] : {std::pair{"HEALTH_CHECK_INTERVAL", &spec.health_check_interval},
                             std::pair{"DRAIN_TIMEOUT", &spec.drain_timeout},
                             std::pair{"BLUE_TERMINATION_WAIT", &spec.blue_termination_wait},
                             std::pair{"STEP_WAIT", &spec.step_wait},
                             std::pair{"ROLLBACK_WINDOW", &spec.rollback_window}}) {
    auto v = optional(key);
    if (!v) return std::unexpected(v.error());
    if (!*v) continue;
    auto duration = seconds_value(key, **v);
    if (!duration) return std::unexpected(duration.error());
    *target = *duration;
  }
  if (spec.health_check_interval.count() == 0) {
    return invalid("HEALTH_CHECK_INTERVAL must be greater than 0");
  }
  if (auto v = optional("PROMOTION"); !v) {
    return std::unexpected(v.error());
  } else if (*v) {
    if (**v == "auto") {
      spec.promotion = Promotion::automatic;
    } else if (**v == "manual") {
      spec.promotion = Promotion::manual;
    } else {
      return invalid(fmt::format("PROMOTION must be auto or manual, got \"{}\"", **v));
    }
  }
  if (auto v = optional("ISOLATION"); !v) {
    return std::unexpected(v.error());
  } else if (*v) {
    if (**v == "namespaces") {
      spec.isolation = Isolation::namespaces;
    } else if (**v == "none") {
      spec.isolation = Isolation::none;
    } else {
      return invalid(fmt::format("ISOLATION must be namespaces or none, got \"{}\"", **v));
    }
  }
  if (auto v = optional("APP_PORT"); !v) {
    return std::unexpected(v.error());
  } else if (*v) {
    auto port = positive_integer("APP_PORT", **v);
    if (!port) return std::unexpected(port.error());
    if (*port > 65535) return invalid(fmt::format("APP_PORT must be 1-65535, got {}", *port));
    spec.app_port = static_cast<int>(*port);
  }
  if (spec.isolation == Isolation::none) {
    if (auto refused = resolve_isolation(spec, false, ""); !refused) {
      return std::unexpected(refused.error());
    }
  }
  if (auto v = optional("TRAFFIC_STEPS"); !v) {
    return std::unexpected(v.error());
  } else if (*v) {
    auto steps = traffic_steps(**v);
    if (!steps) return std::unexpected(steps.error());
    spec.traffic_steps = *steps;
  }
  if (spec.rollback_window.count() < 1000) {
    return invalid("ROLLBACK_WINDOW must be at least 1 second");
  }
  if (auto v = optional("MAX_ERROR_RATE"); !v) {
    return std::unexpected(v.error());
  } else if (*v) {
    auto rate = positive_number("MAX_ERROR_RATE", **v, 100, " (percent)");
    if (!rate) return std::unexpected(rate.error());
    spec.max_error_rate = *rate;
  }
  if (auto v = optional("MAX_LATENCY_RATIO"); !v) {
    return std::unexpected(v.error());
  } else if (*v) {
    auto ratio = positive_number("MAX_LATENCY_RATIO", **v, 1000, "");
    if (!ratio) return std::unexpected(ratio.error());
    if (*ratio < 1) {
      return invalid(fmt::format(
          "MAX_LATENCY_RATIO must be at least 1 (green as slow as blue), got \"{}\"", **v));
    }
    spec.max_latency_ratio = *ratio;
  }
  if (auto v = optional("MIN_REQUESTS"); !v) {
    return std::unexpected(v.error());
  } else if (*v) {
    auto minimum = positive_integer("MIN_REQUESTS", **v);
    if (!minimum) return std::unexpected(minimum.error());
    if (*minimum > 1'000'000) return invalid("MIN_REQUESTS must be at most 1000000");
    spec.min_requests = static_cast<int>(*minimum);
  }
  return spec;
}

bool is_secret_reference(std::string_view token) {
  return token.starts_with("ssm:") || token.starts_with("secretsmanager:");
}

json to_json(const DeploymentSpec& spec) {
  json out;
  if (!spec.api_token.empty()) {
    out["API_TOKEN"] =
        is_secret_reference(spec.api_token.reveal()) ? spec.api_token.reveal() : Secret::kRedacted;
  }
  if (!spec.account_id.empty()) out["ACCOUNT_ID"] = spec.account_id;
  out["PROVIDER"] = to_string(spec.provider);
  out["GROUP_ID"] = spec.group_id;
  out["APP_NAME"] = spec.app_name;
  out["DEPLOYMENT_GROUP"] = spec.deployment_group;
  out["TIMEOUT"] = spec.timeout.count();
  std::visit(
      [&](const auto& revision) {
        using T = std::decay_t<decltype(revision)>;
        if constexpr (std::is_same_v<T, S3Revision>) {
          out["S3_BUCKET"] = revision.bucket;
          out["S3_KEY"] = revision.key;
          out["S3_BUNDLE"] = to_string(revision.bundle);
        } else if constexpr (std::is_same_v<T, GitHubRevision>) {
          out["GITHUB_REPO"] = revision.repository;
          out["COMMIT_ID"] = revision.commit;
        } else {
          out["LOCAL_PATH"] = revision.path;
          if (revision.commit) out["COMMIT_ID"] = *revision.commit;
        }
      },
      spec.revision);
  auto seconds = [](std::chrono::milliseconds ms) {
    return ms.count() % 1000 == 0 ? json(ms.count() / 1000) : json(ms.count() / 1000.0);
  };
  // PROVIDER=asg honours a few of the local provider's keys, and one of its own.
  if (spec.provider == Provider::asg) {
    if (spec.capacity > 0) out["CAPACITY"] = spec.capacity;
    if (!spec.preview_target_group_arn.empty()) {
      out["PREVIEW_TARGET_GROUP_ARN"] = spec.preview_target_group_arn;
    }
    out["HEALTH_CHECK_INTERVAL"] = seconds(spec.health_check_interval);
    out["HEALTHY_THRESHOLD"] = spec.healthy_threshold;
    out["DRAIN_TIMEOUT"] = seconds(spec.drain_timeout);
    out["BLUE_TERMINATION_WAIT"] = seconds(spec.blue_termination_wait);
    out["PROMOTION"] = to_string(spec.promotion);
    return out;
  }
  // The keys only the local provider honours: an elastigroup spec never carries them, and
  // parse_spec would refuse them.
  if (spec.provider != Provider::local) return out;
  out["CAPACITY"] = spec.capacity;
  out["LISTEN"] = spec.listen;
  if (!spec.preview_listen.empty()) out["PREVIEW_LISTEN"] = spec.preview_listen;
  out["HEALTH_CHECK_PATH"] = spec.health_check_path;
  out["HEALTH_CHECK_INTERVAL"] = seconds(spec.health_check_interval);
  out["HEALTHY_THRESHOLD"] = spec.healthy_threshold;
  out["DRAIN_TIMEOUT"] = seconds(spec.drain_timeout);
  out["BLUE_TERMINATION_WAIT"] = seconds(spec.blue_termination_wait);
  out["PROMOTION"] = to_string(spec.promotion);
  if (spec.isolation) out["ISOLATION"] = to_string(*spec.isolation);
  if (spec.app_port) out["APP_PORT"] = *spec.app_port;
  out["TRAFFIC_STEPS"] = fmt::format("{}", fmt::join(spec.traffic_steps, ","));
  out["STEP_WAIT"] = seconds(spec.step_wait);
  if (spec.max_error_rate) out["MAX_ERROR_RATE"] = *spec.max_error_rate;
  if (spec.max_latency_ratio) out["MAX_LATENCY_RATIO"] = *spec.max_latency_ratio;
  out["MIN_REQUESTS"] = spec.min_requests;
  out["ROLLBACK_WINDOW"] = seconds(spec.rollback_window);
  return out;
}

std::string_view to_string(Provider provider) {
  switch (provider) {
    case Provider::local:
      return "local";
    case Provider::elastigroup:
      return "elastigroup";
    case Provider::asg:
      return "asg";
  }
  return "local";
}

Result<Isolation> resolve_isolation(const DeploymentSpec& spec, bool namespaces_possible,
                                    std::string_view why_not) {
  if (spec.isolation == Isolation::namespaces && !namespaces_possible) {
    return invalid(fmt::format(
        "ISOLATION=namespaces: this server cannot create namespaces ({}); run it as root, "
        "allow unprivileged user namespaces, or deploy with ISOLATION=none",
        why_not.empty() ? "refused" : why_not));
  }
  auto isolation =
      spec.isolation.value_or(namespaces_possible ? Isolation::namespaces : Isolation::none);
  if (isolation == Isolation::none && spec.app_port && spec.capacity > 1) {
    return invalid(fmt::format(
        "APP_PORT {0} needs ISOLATION=namespaces: with ISOLATION=none the {1} instances share "
        "this machine's network and cannot all listen on port {0}{2}",
        *spec.app_port, spec.capacity,
        spec.isolation ? ""
                       : fmt::format(" (namespaces are not available here: {})",
                                     why_not.empty() ? "refused" : why_not)));
  }
  return isolation;
}

std::string_view to_string(BundleType bundle) {
  switch (bundle) {
    case BundleType::tar:
      return "tar";
    case BundleType::tgz:
      return "tgz";
    case BundleType::zip:
      return "zip";
    case BundleType::yaml:
      return "YAML";
    case BundleType::json:
      return "JSON";
  }
  return "zip";
}

std::string_view to_string(Promotion promotion) {
  return promotion == Promotion::automatic ? "auto" : "manual";
}

std::string describe(const RevisionSource& revision) {
  return std::visit(
      [](const auto& r) -> std::string {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, S3Revision>) {
          return fmt::format("s3://{}/{} ({})", r.bucket, r.key, to_string(r.bundle));
        } else if constexpr (std::is_same_v<T, GitHubRevision>) {
          return fmt::format("github:{}@{}", r.repository, r.commit);
        } else {
          return r.commit ? fmt::format("local:{}@{}", r.path, *r.commit)
                          : fmt::format("local:{}", r.path);
        }
      },
      revision);
}

}  // namespace bluegreen
