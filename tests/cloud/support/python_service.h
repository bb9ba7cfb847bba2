// PythonService: one of the Python programs in tests/fakes (moto_fixture.py, spot_fake.py,
// aws_fake.py) run for the length of a test. It waits for the program's "READY {json}" line
// and keeps the JSON; the destructor stops the program and everything it started.
//
// MotoFixture: moto_server with request authentication on, an IAM user with the given policy,
// and temporary (assumed-role) credentials; see moto_fixture.py for the policy and seed forms.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "child_process.h"
#include "temp_dir.h"

namespace bluegreen::testing {

class PythonService {
 public:
  // Runs tests/fakes/<script> with `args`. Throws std::runtime_error (with the program's
  // stderr) when it exits or stays silent for `startup` before printing READY.
  PythonService(const std::string& script, const std::vector<std::string>& args,
                std::chrono::seconds startup = std::chrono::seconds(60));

  const nlohmann::json& ready() const { return ready_; }
  // ready()["url"], the base URL of a fake.
  std::string url() const { return ready_.value("url", ""); }
  // What the program wrote to stderr so far.
  std::string errors() const;

 private:
  TempDir dir_{"bg-fake"};
  std::unique_ptr<ChildProcess> process_;
  nlohmann::json ready_;
};

struct AccessKeys {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for the IAM user's long-term keys
};

class MotoFixture {
 public:
  struct Options {
    nlohmann::json policy;       // IAM policy document of the user; null: moto_fixture's default
    nlohmann::json role_policy;  // of the assumed role; null: the user's policy
    nlohmann::json seed;         // data created before auth is enforced; null: none
    std::string region = "us-east-1";
  };
  explicit MotoFixture(const Options& options);
  MotoFixture() : MotoFixture(Options{}) {}

  std::string endpoint() const { return service_.ready()["endpoint"]; }
  std::string region() const { return service_.ready()["region"]; }
  AccessKeys user() const;
  AccessKeys temporary() const;
  // Instance ids moto launched for seed "ec2" entries, keyed "key=value[,key=value]".
  std::vector<std::string> seeded_instances(const std::string& tags) const;
  const nlohmann::json& description() const { return service_.ready(); }

 private:
  PythonService service_;
};

// POSTs `body` as JSON to a fake's control API (`url` + `path`) and returns the answer's JSON.
// Throws std::runtime_error when the fake does not answer 200.
nlohmann::json control(const std::string& url, const std::string& path,
                       const nlohmann::json& body = nullptr);

}  // namespace bluegreen::testing
