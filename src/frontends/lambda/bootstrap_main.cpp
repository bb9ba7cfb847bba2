// bootstrap: the Lambda custom runtime (provided.al2023) of the CodePipeline action. A shim:
// it reads the environment, builds the real cloud ports and serves invocations until the
// Runtime API goes away. Everything it does is in bg_lambda and the libraries below it.
//
// Invariants of the package (scripts/package-lambda), x86_64 and arm64 alike:
// - It is this binary alone, statically linked: it needs nothing from the image but the CA
//   bundle for HTTPS (found at the usual paths, or SSL_CERT_FILE / AWS_CA_BUNDLE), and it
//   resolves names from /etc/hosts and /etc/resolv.conf itself (no NSS module is loaded).
//   tests/lambda/chroot_test.py runs a whole deployment with only those files present;
//   lambda_action_test.py checks that the running function maps no shared library.
// - Nothing is read before the first `next` that a cold start could do without: the CA
//   bundle is parsed at the first HTTPS request, not at start.
#include <exception>
#include <iostream>

#include "adapters/asg/asg_cloud.h"
#include "adapters/elastigroup/elastigroup_cloud.h"
#include "adapters/elastigroup/elastigroup_log.h"
#include "frontends/lambda/lambda_settings.h"
#include "frontends/lambda/runtime_loop.h"
#include "infra/http/beast_http_client.h"

namespace {

using namespace bluegreen;

// The Runtime API client must never time out on `next` (see runtime_api.h).
http::HttpOptions runtime_api_options() {
  http::HttpOptions options;
  options.total_timeout = std::chrono::hours(24 * 30);
  options.stall_timeout = std::chrono::hours(24 * 30);
  return options;
}

int run() {
  auto endpoint = lambda::process_getenv("AWS_LAMBDA_RUNTIME_API").value_or("");
  if (endpoint.empty()) {
    lambda::write_runtime_log(std::cout, "error", "init_failed",
                              "AWS_LAMBDA_RUNTIME_API is not set: bootstrap runs inside Lambda");
    return 1;
  }
  http::BeastHttpClient runtime_http(runtime_api_options());
  lambda::RuntimeApi api(runtime_http, endpoint);
  auto init_failed = [&](const std::string& type, const std::string& message) {
    lambda::write_runtime_log(std::cout, "error", "init_failed", message);
    auto posted = api.report_init_error({type, message});
    if (!posted)
      lambda::write_runtime_log(std::cout, "error", "post_failed", posted.error().message);
    return 1;
  };
  auto settings = lambda::settings_from_environment(lambda::process_getenv);
  if (!settings) return init_failed("Runtime.InvalidConfiguration", settings.error().message);

  SystemClock clock;
  auto cloud = elastigroup::ElastigroupCloud::from_environment(clock);
  if (!cloud) return init_failed("Runtime.InvalidConfiguration", cloud.error().message);
  elastigroup::JsonLinesLog log(std::cout);
  lambda::CodePipelineHandler handler(
      (*cloud)->ports(log), settings->options,
      [&clock]() -> Result<std::unique_ptr<asg::AsgCloud>> {
        auto asg_cloud = asg::AwsAsgCloud::from_environment(clock);
        if (!asg_cloud) return std::unexpected(asg_cloud.error());
        return std::unique_ptr<asg::AsgCloud>(std::move(*asg_cloud));
      });
  return lambda::serve(api, handler, std::cout);
}

}  // namespace

int main() {
  try {
    return run();
  } catch (const std::exception& e) {
    bluegreen::lambda::write_runtime_log(std::cout, "error", "crashed", e.what());
    return 1;
  }
}
