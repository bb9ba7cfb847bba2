// The Elastigroup request plan's vocabulary (names, classifications), its configuration and its
// continuation token.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "adapters/elastigroup/request_plan.h"
#include "adapters/elastigroup/request_plan_run.h"

namespace bluegreen::elastigroup {
namespace {

using nlohmann::json;

constexpr std::array kStageNames = {
    "read_group",        "find_spot", "create_spot",        "wait_greens", "find_codedeploy",
    "create_codedeploy", "follow",    "wait_blue_detached", "stopping",    "done"};

std::string upper(std::string_view text) {
  std::string out(text);
  std::ranges::transform(out, out.begin(), [](unsigned char c) { return std::toupper(c); });
  return out;
}

bool one_of(const std::string& word, std::initializer_list<std::string_view> words) {
  return std::ranges::find(words, word) != words.end();
}

std::uint64_t fnv1a(std::string_view text, std::uint64_t seed) {
  std::uint64_t hash = seed;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::unexpected<Error> invalid(std::string message) {
  return fail(ErrorKind::invalid_input, std::move(message));
}

}  // namespace

std::string_view to_string(Stage stage) {
  return kStageNames[static_cast<std::size_t>(stage)];
}

bluegreen::Phase user_phase(Stage stage) {
  switch (stage) {
    case Stage::read_group:
    case Stage::find_spot:
    case Stage::create_spot:
    case Stage::wait_greens:
      return bluegreen::Phase::launch_green;
    case Stage::find_codedeploy:
    case Stage::create_codedeploy:
    case Stage::follow:
      return bluegreen::Phase::install;
    case Stage::wait_blue_detached:
      return bluegreen::Phase::terminate_blue;
    case Stage::stopping:
    case Stage::done:
      return bluegreen::Phase::clean_up;
  }
  return bluegreen::Phase::clean_up;
}

std::optional<Stage> stage_from_string(std::string_view text) {
  for (std::size_t i = 0; i < kStageNames.size(); ++i) {
    if (kStageNames[i] == text) return static_cast<Stage>(i);
  }
  return std::nullopt;
}

std::string_view to_string(FailureType type) {
  switch (type) {
    case FailureType::configuration_error:
      return "ConfigurationError";
    case FailureType::permission_error:
      return "PermissionError";
    case FailureType::revision_unavailable:
      return "RevisionUnavailable";
    case FailureType::job_failed:
      return "JobFailed";
    case FailureType::system_unavailable:
      return "SystemUnavailable";
  }
  return "JobFailed";
}

SpotProgress classify(const SpotDeployment& deployment) {
  std::string state = upper(deployment.state), status = upper(deployment.status);
  auto failed = [](const std::string& w) {
    return one_of(w, {"FAILED", "FAILURE", "STOPPED", "STOPPING", "CANCELED", "CANCELLED",
                      "TIMEOUT", "TIMED_OUT", "TIMEDOUT", "ABORTED", "ERROR", "ROLLED_BACK"});
  };
  auto finished = [](const std::string& w) {
    return one_of(
        w, {"FINISHED", "SUCCEEDED", "SUCCESS", "SUCCESSFUL", "COMPLETED", "DONE", "FINALIZED"});
  };
  if (failed(state) || failed(status)) return SpotProgress::failed;
  if (finished(state) || finished(status)) return SpotProgress::finished;
  return SpotProgress::running;
}

std::string_view report_name(const Report& report) {
  static constexpr std::array kNames = {"ReportSuccess", "ReportFailure", "ReportProgress"};
  static_assert(kNames.size() == std::variant_size_v<Report>);
  return kNames[report.index()];
}

bool installs_for(const CodeDeployDeployment& d, const std::string& green_identifier, int* round) {
  if (round != nullptr) *round = 0;
  const std::string replacement = green_identifier + "-r";
  for (const auto& value : d.green_tag_values) {
    if (value == green_identifier) return true;
    if (value.starts_with(replacement)) {
      int n = std::atoi(value.c_str() + replacement.size());
      if (n <= 0) continue;
      if (round != nullptr) *round = n;
      return true;
    }
  }
  return false;
}

std::string green_identifier_for_job(std::string_view job_id) {
  std::uint64_t high = fnv1a(job_id, 0xcbf29ce484222325ULL);
  std::uint64_t low = fnv1a(job_id, fnv1a("bluegreen GreenIdentifier", 0x84222325cbf29ce4ULL));
  // UUID version 8 (custom), RFC 4122 variant.
  high = (high & ~0xF000ULL) | 0x8000ULL;
  low = (low & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", high >> 32, (high >> 16) & 0xFFFF,
                     high & 0xFFFF, low >> 48, low & 0xFFFFFFFFFFFFULL);
}

Result<FlowConfig> make_flow_config(const DeploymentSpec& spec, std::string job_id) {
  if (job_id.empty()) return invalid("the CodePipeline job has no id");
  if (spec.provider != Provider::elastigroup) {
    return invalid(spec.api_token.empty()
                       ? "missing key API_TOKEN"
                       : "PROVIDER must be elastigroup here (or left out when API_TOKEN is given)");
  }
  if (!spec.group_id.starts_with("sig-")) {
    return invalid(
        fmt::format("GROUP_ID must be an Elastigroup id (sig-…), got \"{}\"", spec.group_id));
  }
  if (!spec.account_id.starts_with("act-")) {
    return invalid(
        fmt::format("ACCOUNT_ID must be a Spot account id (act-…), got \"{}\"", spec.account_id));
  }
  if (spec.timeout.count() > 24 * 3600) {
    return invalid(
        "TIMEOUT must be at most 86400 seconds: CodePipeline fails a Lambda action "
        "that has not finished after 24 hours");
  }
  if (std::holds_alternative<LocalRevision>(spec.revision)) {
    return invalid("LOCAL_PATH is only for PROVIDER local; give an S3 or GitHub revision");
  }
  if (const auto* s3 = std::get_if<S3Revision>(&spec.revision);
      s3 && (s3->bundle == BundleType::yaml || s3->bundle == BundleType::json)) {
    return invalid(
        fmt::format("S3_BUNDLE {} is an AppSpec-only revision (Lambda, ECS); EC2 "
                    "instances need tar, tgz or zip",
                    to_string(s3->bundle)));
  }
  FlowConfig config;
  config.green_identifier = green_identifier_for_job(job_id);
  config.job_id = std::move(job_id);
  if (is_secret_reference(spec.api_token.reveal())) {
    config.token_reference = spec.api_token.reveal();  // a name, not the token
  }
  config.group_id = spec.group_id;
  config.app_name = spec.app_name;
  config.deployment_group = spec.deployment_group;
  config.timeout = spec.timeout;
  config.revision = describe(spec.revision);
  config.revision_source = spec.revision;
  return config;
}

// ---- continuation token --------------------------------------------------------------------

std::string to_token(const FlowState& s) {
  json j = {{"v", 1},
            {"job", s.original_job_id},
            {"gid", s.green_identifier},
            {"ph", std::string(to_string(s.stage))},
            {"t0", to_epoch_ms(s.started)},
            {"dl", to_epoch_ms(s.deadline)},
            {"cap", s.target_capacity},
            {"blue", s.blue_count},
            {"lr", to_epoch_ms(s.last_request)},
            {"pi", static_cast<long long>(s.poll_interval.count())},
            {"rd", s.round},
            {"tf", s.transient_failures},
            {"nr", s.requests}};
  if (s.greens_since != TimePoint{}) j["gs"] = to_epoch_ms(s.greens_since);
  auto put = [&](const char* key, const std::string& value) {
    if (!value.empty()) j[key] = value;
  };
  put("sbg", s.spot_deployment_id);
  put("cd", s.codedeploy_deployment_id);
  put("cds", s.codedeploy_status);
  put("cdo", s.codedeploy_overview);
  put("cde", s.codedeploy_error);
  put("sps", s.spot_state);
  put("fle", s.failed_lifecycle);
  put("lte", s.last_transient_error);
  put("note", s.cleanup_note);
  int flags = (s.codedeploy_terminal ? 1 : 0) | (s.spot_ended ? 2 : 0) | (s.spot_finished ? 4 : 0) |
              (s.codedeploy_stop_sent ? 8 : 0) | (s.spot_stop_sent ? 16 : 0) |
              (s.detach_sent ? 32 : 0) | (s.greens_serving ? 64 : 0) | (s.adopted_spot ? 128 : 0) |
              (s.unreachable ? 256 : 0) | (s.codedeploy_recheck ? 512 : 0) |
              (s.replacements_only ? 1024 : 0);
  j["fl"] = flags;
  j["run"] = s.greens_running;
  j["ok"] = s.greens_passing;
  if (!s.green_ids.empty()) j["g"] = s.green_ids;
  if (!s.instance_progress.empty()) j["ip"] = s.instance_progress;
  // Spot interruptions.
  if (!s.blue_ids.empty()) j["bi"] = s.blue_ids;
  if (!s.blue_lost.empty()) j["bl"] = s.blue_lost;
  if (!s.reclaimed.empty()) j["rc"] = s.reclaimed;
  if (!s.installed_ids.empty()) j["in"] = s.installed_ids;
  if (!s.failed_targets.empty()) j["ftg"] = s.failed_targets;
  if (s.install_round > 0) j["ir"] = s.install_round;
  if (!s.earlier_codedeploy_ids.empty()) j["cdh"] = s.earlier_codedeploy_ids;
  if (!s.main_codedeploy_id.empty()) j["cdm"] = s.main_codedeploy_id;
  if (s.failure) {
    j["ft"] = std::string(to_string(s.failure->type));
    j["fm"] = s.failure->message;
    j["cdl"] = to_epoch_ms(s.cleanup_deadline);
  }
  // Drop what matters least until it fits.
  std::string token = j.dump();
  // Without "bl" a blue that left early may be reported twice; without "bi" an untagged
  // replacement is not recognised (one that Spot tagged still is); without "in" the greens
  // seen last count as installed. A fleet of about 25 instances keeps them all.
  for (const char* droppable : {"ip", "lte", "cde", "bl", "ftg", "bi", "g"}) {
    if (token.size() <= kMaxTokenLength) break;
    j.erase(droppable);
    token = j.dump();
  }
  for (std::size_t limit : {600, 300, 100}) {
    if (token.size() <= kMaxTokenLength) break;
    for (const char* key : {"fm", "fle", "note"}) {
      if (j.contains(key)) j[key] = clip(j[key].get<std::string>(), limit);
    }
    token = j.dump();
  }
  // Last, the interruptions' memory: what happened to each reclaimed green in words, then the
  // earlier installs and the installs' targets (without them the live greens count as
  // installed), then which greens were reclaimed at all. The ids and the phase always fit.
  if (token.size() > kMaxTokenLength && j.contains("rc")) {
    for (auto& [id, words] : j["rc"].items()) words = "";
    token = j.dump();
  }
  for (const char* key : {"cdh", "in", "rc"}) {
    if (token.size() <= kMaxTokenLength) break;
    j.erase(key);
    token = j.dump();
  }
  return token;
}

Result<FlowState> from_token(std::string_view token) {
  if (token.size() > kMaxTokenLength) return invalid("continuation token too long");
  json j = json::parse(token, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return invalid("continuation token is not JSON");
  if (j.value("v", 0) != 1) return invalid("continuation token has an unknown version");
  try {
    FlowState s;
    auto stage = stage_from_string(j.at("ph").get<std::string>());
    if (!stage || *stage == Stage::done) return invalid("continuation token has no valid phase");
    s.stage = *stage;
    s.original_job_id = j.at("job").get<std::string>();
    s.green_identifier = j.at("gid").get<std::string>();
    if (s.original_job_id.empty() || s.green_identifier.empty()) {
      return invalid("continuation token lacks the job id or GreenIdentifier");
    }
    s.started = from_epoch_ms(j.at("t0").get<long long>());
    s.deadline = from_epoch_ms(j.at("dl").get<long long>());
    s.target_capacity = j.value("cap", 0);
    s.blue_count = j.value("blue", 0);
    s.last_request = from_epoch_ms(j.value("lr", 0LL));
    s.poll_interval = Duration(j.value("pi", 0LL));
    s.round = j.value("rd", 0);
    s.transient_failures = j.value("tf", 0);
    s.requests = j.value("nr", 0);
    if (j.contains("gs")) s.greens_since = from_epoch_ms(j.at("gs").get<long long>());
    s.spot_deployment_id = j.value("sbg", "");
    s.codedeploy_deployment_id = j.value("cd", "");
    s.codedeploy_status = j.value("cds", "");
    s.codedeploy_overview = j.value("cdo", "");
    s.codedeploy_error = j.value("cde", "");
    s.spot_state = j.value("sps", "");
    s.failed_lifecycle = j.value("fle", "");
    s.last_transient_error = j.value("lte", "");
    s.cleanup_note = j.value("note", "");
    int flags = j.value("fl", 0);
    s.codedeploy_terminal = flags & 1;
    s.spot_ended = flags & 2;
    s.spot_finished = flags & 4;
    s.codedeploy_stop_sent = flags & 8;
    s.spot_stop_sent = flags & 16;
    s.detach_sent = flags & 32;
    s.greens_serving = flags & 64;
    s.adopted_spot = flags & 128;
    s.unreachable = flags & 256;
    s.codedeploy_recheck = flags & 512;
    s.replacements_only = flags & 1024;
    s.greens_running = j.value("run", 0);
    s.greens_passing = j.value("ok", 0);
    if (j.contains("g")) s.green_ids = j.at("g").get<std::vector<std::string>>();
    auto ids = [&](const char* key) {
      return j.contains(key) ? j.at(key).get<std::vector<std::string>>()
                             : std::vector<std::string>{};
    };
    s.blue_ids = ids("bi");
    s.blue_lost = ids("bl");
    s.installed_ids = ids("in");
    s.failed_targets = ids("ftg");
    s.earlier_codedeploy_ids = ids("cdh");
    s.main_codedeploy_id = j.value("cdm", "");
    if (j.contains("rc")) s.reclaimed = j.at("rc").get<std::map<std::string, std::string>>();
    s.install_round = j.value("ir", 0);
    if (j.contains("ip")) {
      s.instance_progress = j.at("ip").get<std::map<std::string, std::string>>();
    }
    if (j.contains("ft")) {
      PendingFailure failure;
      std::string type = j.at("ft").get<std::string>();
      for (auto t : {FailureType::configuration_error, FailureType::permission_error,
                     FailureType::revision_unavailable, FailureType::job_failed,
                     FailureType::system_unavailable}) {
        if (to_string(t) == type) failure.type = t;
      }
      failure.message = j.value("fm", "");
      s.failure = failure;
      s.cleanup_deadline = from_epoch_ms(j.value("cdl", 0LL));
    }
    if ((s.stage == Stage::stopping) != s.failure.has_value()) {
      return invalid("continuation token is inconsistent (stopping without a failure)");
    }
    return s;
  } catch (const json::exception& e) {
    return invalid(fmt::format("continuation token field has the wrong type ({})", e.what()));
  }
}

namespace detail {

bool is_transient(const Error& error) {
  return error.kind == ErrorKind::throttled || error.kind == ErrorKind::unavailable ||
         error.kind == ErrorKind::timeout;
}

FailureType failure_type_of(const Error& error) {
  static constexpr std::array kPermissionCodes = {
      "AccessDenied",          "AccessDeniedException", "UnauthorizedOperation",
      "AuthFailure",           "InvalidClientTokenId",  "UnrecognizedClientException",
      "SignatureDoesNotMatch", "ExpiredToken",          "ExpiredTokenException"};
  static constexpr std::array kRevisionCodes = {"RevisionDoesNotExistException", "NoSuchKey",
                                                "NoSuchBucket"};
  if (error.kind == ErrorKind::permission_denied ||
      std::ranges::find(kPermissionCodes, error.code) != kPermissionCodes.end()) {
    return FailureType::permission_error;
  }
  if (std::ranges::find(kRevisionCodes, error.code) != kRevisionCodes.end()) {
    return FailureType::revision_unavailable;
  }
  if (error.kind == ErrorKind::invalid_input || error.kind == ErrorKind::not_found) {
    return FailureType::configuration_error;
  }
  return FailureType::job_failed;
}

}  // namespace detail
}  // namespace bluegreen::elastigroup
