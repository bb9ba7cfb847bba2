// DeploymentSpec: the validated form of the seed's UserParameters, the contract shared by
// the Lambda action (`UserParameters`) and `bluegreen deploy --params`. parse_spec() is the
// only way to build one from outside input; every error names the offending key. The Lambda,
// the CLI (in-process and before it posts to a server) and the server all parse through it,
// so what it refuses never reaches a provider.
//
// Invariants parse_spec guards:
// 1. A provider never silently ignores a key that was given. LOCAL_PATH, CAPACITY, LISTEN,
//    PREVIEW_LISTEN, HEALTH_CHECK_PATH, HEALTH_CHECK_INTERVAL, HEALTHY_THRESHOLD,
//    DRAIN_TIMEOUT, BLUE_TERMINATION_WAIT, PROMOTION, ISOLATION and APP_PORT are honoured only by
//    the local provider; with the elastigroup provider (explicit, or chosen because API_TOKEN is
//    given) any of them with any non-null value is invalid_input naming the key and PROVIDER=local.
//    TRAFFIC_STEPS, STEP_WAIT, MAX_ERROR_RATE, MAX_LATENCY_RATIO, MIN_REQUESTS and
//    ROLLBACK_WINDOW are local-only too. So an elastigroup spec always holds the defaults for
//    those fields, and PROMOTION=manual never ends in an automatic switch.
// 3. TRAFFIC_STEPS is a comma-separated list of whole percents, strictly ascending, each
//    1..100, ending at 100: traffic never moves back towards blue except by a rollback, and a
//    deployment that succeeds always ends with every request on green.
// 2. COMMIT_ID (which becomes an argument of `git archive` and part of a GitHub URL) is a
//    commit id or a branch or tag name: only [A-Za-z0-9._/-], not starting with '-', no "..",
//    1-255 characters. GITHUB_REPO is owner/repo as GitHub allows them. Anything else is
//    invalid_input naming the key.
#pragma once

#include <chrono>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/error.h"
#include "core/instance.h"
#include "core/secret.h"

namespace bluegreen {

enum class Provider {
  local,        // instances are local processes behind the built-in proxy
  elastigroup,  // Spot Elastigroup launches greens, AWS CodeDeploy installs the revision
  // EC2 Auto Scaling launches greens from blue's launch template, CodeDeploy installs the
  // revision, the flow moves the load balancer's target groups from blue to green
  asg,
};

// Bundle formats CodeDeploy knows (S3_BUNDLE); YAML and JSON are AppSpec-only revisions.
enum class BundleType { tar, tgz, zip, yaml, json };

enum class Promotion {
  automatic,  // traffic moves to green as soon as green passes the health gate
  manual,     // the deployment waits, green reachable on PREVIEW_LISTEN, until `promote`
};

struct S3Revision {
  std::string bucket;
  std::string key;
  BundleType bundle = BundleType::zip;
};

struct GitHubRevision {
  std::string repository;  // owner/repo
  std::string commit;
};

struct LocalRevision {
  std::string path;                   // directory, .tar, .tgz/.tar.gz or .zip; or a git repository
  std::optional<std::string> commit;  // with a git repository: the commit to deploy
};

using RevisionSource = std::variant<S3Revision, GitHubRevision, LocalRevision>;

struct DeploymentSpec {
  Provider provider = Provider::local;

  // Spot credentials: a literal token, or a reference resolved at run time
  // (`ssm:/path`, `secretsmanager:<id>`). Never printed.
  Secret api_token;
  std::string account_id;
  std::string group_id;
  std::string app_name;
  std::string deployment_group;
  std::chrono::seconds timeout{0};
  RevisionSource revision;

  // CAPACITY: how many greens. PROVIDER=asg without it: 0, as many as blue's group wants.
  int capacity = 2;
  std::string listen = "127.0.0.1:8080";
  std::string preview_listen;  // empty: no preview listener
  // PREVIEW_TARGET_GROUP_ARN (PROVIDER=asg): the target group of a test listener that reaches
  // green before traffic moves; its health check is green's health gate. Empty: none.
  std::string preview_target_group_arn;
  std::string health_check_path = "/healthz";
  std::chrono::milliseconds health_check_interval{1000};
  int healthy_threshold = 2;
  std::chrono::milliseconds drain_timeout{30'000};
  std::chrono::milliseconds blue_termination_wait{60'000};
  Promotion promotion = Promotion::automatic;
  // ISOLATION; nothing: namespaces when the server can create them, else none (the server
  // decides, see resolve_isolation).
  std::optional<Isolation> isolation;
  // APP_PORT: the port the app listens on inside each instance (ISOLATION=namespaces); the
  // proxy and the health gate reach it there. Nothing: 80 with namespaces; with none each
  // instance gets its own loopback PORT.
  std::optional<int> app_port;

  // Progressive delivery on the built-in switch (local provider only).
  // TRAFFIC_STEPS: percent of new requests sent to green at each step, strictly ascending,
  // each 1..100, the last 100. {100} is the one switch of a plain blue/green deployment.
  std::vector<int> traffic_steps{100};
  // STEP_WAIT: how long each step below 100 lasts (PROMOTION=auto); with PROMOTION=manual
  // each step waits for `promote` instead.
  std::chrono::milliseconds step_wait{60'000};
  // Automatic rollback from what the proxy sees, off unless set. MAX_ERROR_RATE: percent of
  // green's answers in ROLLBACK_WINDOW that are 5xx or failed, counted once green has
  // MIN_REQUESTS requests in the window. MAX_LATENCY_RATIO: green's p99 over blue's p99 in the
  // same window, counted once each served MIN_REQUESTS of it.
  std::optional<double> max_error_rate;
  std::optional<double> max_latency_ratio;
  int min_requests = 20;
  std::chrono::milliseconds rollback_window{60'000};

  bool watches_traffic() const { return max_error_rate || max_latency_ratio; }
};

// Every key parse_spec accepts, in the order the README documents them.
const std::vector<std::string_view>& spec_keys();
// The known key an unknown one was probably meant to be ("timeout" -> TIMEOUT,
// "HEALTH_CHECK_INTERVALL" -> HEALTH_CHECK_INTERVAL): case and '-' ignored, at most two
// letters off. Nothing when no key is that close.
std::optional<std::string_view> closest_spec_key(std::string_view unknown);

// Parses and validates UserParameters text (a JSON object). Errors are invalid_input and name
// the key: missing, unknown, wrong type, out of range, no or several revision sources, an
// incomplete S3 or GitHub source, an S3_BUNDLE outside tar/tgz/zip/YAML/JSON, a key the
// chosen provider does not honour, a COMMIT_ID or GITHUB_REPO of the wrong shape.
Result<DeploymentSpec> parse_spec(std::string_view user_parameters);
Result<DeploymentSpec> parse_spec(const nlohmann::json& user_parameters);

// The spec as UserParameters JSON, safe to store and show: a literal API_TOKEN is replaced by
// "***", a reference (ssm:/…, secretsmanager:…) is kept; the local-only keys appear only for
// the local provider. parse_spec(to_json(s)) round-trips every other field.
nlohmann::json to_json(const DeploymentSpec& spec);

// True when the token is a reference to be resolved at run time rather than the token itself.
bool is_secret_reference(std::string_view token);

std::string_view to_string(Provider provider);
std::string_view to_string(BundleType bundle);
std::string_view to_string(Promotion promotion);

// The isolation a deployment of `spec` runs with on a server that can (`namespaces_possible`)
// or cannot create namespaces (`why_not` says why). Errors (invalid_input, before anything
// starts): ISOLATION=namespaces where they cannot be made, naming why; an APP_PORT that
// CAPACITY > 1 instances would all have to listen on with ISOLATION=none.
Result<Isolation> resolve_isolation(const DeploymentSpec& spec, bool namespaces_possible,
                                    std::string_view why_not);
// The port the proxy and the health gate use inside a namespaced instance.
inline int app_port_of(const DeploymentSpec& spec) {
  return spec.app_port.value_or(80);
}

// A one-line description of the revision, e.g. "s3://bucket/key (zip)" or
// "github:owner/repo@abc123" or "local:/path/to/bundle".
std::string describe(const RevisionSource& revision);

}  // namespace bluegreen
