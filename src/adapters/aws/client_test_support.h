// What the unit tests of the AWS service clients share: a ScriptedHttp, a FakeClock and an
// AwsContext pointing at a loopback endpoint with no retry waits worth mentioning.
#pragma once

#include <memory>

#include "infra/aws/aws_client.h"
#include "scripted_http.h"

namespace bluegreen::aws {

class ClientTestBase {
 protected:
  ClientTestBase() {
    AwsCredentials keys;
    keys.access_key_id = "AKIDTEST";
    keys.secret_access_key = Secret("planted-secret-value");
    credentials_ = std::make_unique<StaticCredentialsProvider>(keys);
  }
  AwsContext context(std::map<std::string, std::string, std::less<>> env = {
                         {"AWS_ENDPOINT_URL", "http://127.0.0.1:5055"}}) {
    AwsContext context{http_, *credentials_, clock_, "us-east-1", map_environment(std::move(env))};
    context.retry.random = [] { return 0.0; };
    return context;
  }
  TimePoint deadline() { return clock_.now() + std::chrono::minutes(5); }
  nlohmann::json sent_json(std::size_t index) {
    return nlohmann::json::parse(http_.sent().at(index).body);
  }
  std::string sent_target(std::size_t index) {
    return std::string(
        http::find_header(http_.sent().at(index).headers, "X-Amz-Target").value_or(""));
  }

  testing::ScriptedHttp http_;
  FakeClock clock_;
  std::unique_ptr<CredentialsProvider> credentials_;
};

}  // namespace bluegreen::aws
