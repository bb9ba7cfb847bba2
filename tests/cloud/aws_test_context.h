// AwsTestContext: an AwsContext for integration tests: the real libcurl client, the system
// clock (signatures carry the real time), fixed keys and every endpoint pointed at one local
// server (moto or aws_fake.py). Retry waits are short so failing paths stay quick.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "infra/aws/aws_client.h"
#include "infra/http/curl_http_client.h"
#include "python_service.h"

namespace bluegreen::testing {

class AwsTestContext {
 public:
  AwsTestContext(const std::string& endpoint, const AccessKeys& keys,
                 const std::string& region = "us-east-1",
                 std::map<std::string, std::string, std::less<>> extra_env = {})
      : credentials_(to_credentials(keys)),
        context_{http_, credentials_, clock_, region, environment(endpoint, std::move(extra_env))} {
    context_.retry.base_delay = Duration(20);
    context_.retry.max_delay = Duration(200);
    context_.on_retry = [this](const RetryNotice& notice) {
      std::lock_guard lock(mutex_);
      notices_.push_back(notice.reason);
    };
  }

  aws::AwsContext& context() { return context_; }
  TimePoint deadline(std::chrono::seconds from_now = std::chrono::seconds(60)) {
    return clock_.now() + from_now;
  }
  std::vector<std::string> retry_notices() const {
    std::lock_guard lock(mutex_);
    return notices_;
  }

  static aws::AwsCredentials to_credentials(const AccessKeys& keys) {
    aws::AwsCredentials credentials;
    credentials.access_key_id = keys.access_key_id;
    credentials.secret_access_key = Secret(keys.secret_access_key);
    credentials.session_token = Secret(keys.session_token);
    return credentials;
  }

 private:
  static aws::Environment environment(const std::string& endpoint,
                                      std::map<std::string, std::string, std::less<>> extra) {
    extra["AWS_ENDPOINT_URL"] = endpoint;
    return aws::map_environment(std::move(extra));
  }

  http::CurlHttpClient http_;
  SystemClock clock_;
  aws::StaticCredentialsProvider credentials_;
  aws::AwsContext context_;
  mutable std::mutex mutex_;
  std::vector<std::string> notices_;
};

}  // namespace bluegreen::testing
