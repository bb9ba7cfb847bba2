#include "python_service.h"

#include <stdexcept>

#include "infra/http/curl_http_client.h"

namespace bluegreen::testing {

PythonService::PythonService(const std::string& script, const std::vector<std::string>& args,
                             std::chrono::seconds startup) {
  std::vector<std::string> argv{python(), (fakes_dir() / script).string()};
  argv.insert(argv.end(), args.begin(), args.end());
  // The fakes import each other as plain modules.
  process_ = std::make_unique<ChildProcess>(
      argv,
      std::map<std::string, std::string>{{"PYTHONPATH", fakes_dir().string()},
                                         {"PYTHONDONTWRITEBYTECODE", "1"}},
      dir_.path() / "stderr.txt");
  const auto until = std::chrono::steady_clock::now() + startup;
  while (std::chrono::steady_clock::now() < until) {
    auto line = process_->read_line(std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now()));
    if (!line) break;
    if (line->starts_with("READY ")) {
      ready_ = nlohmann::json::parse(line->substr(6));
      return;
    }
  }
  throw std::runtime_error(script + " did not start: " + errors());
}

std::string PythonService::errors() const {
  return read_file(dir_.path() / "stderr.txt");
}

namespace {

AccessKeys keys_from(const nlohmann::json& keys) {
  return AccessKeys{keys.value("access_key_id", ""), keys.value("secret_access_key", ""),
                    keys.value("session_token", "")};
}

std::vector<std::string> fixture_args(const MotoFixture::Options& options) {
  std::vector<std::string> args{"--region", options.region};
  if (!options.policy.is_null()) args.insert(args.end(), {"--policy", options.policy.dump()});
  if (!options.role_policy.is_null()) {
    args.insert(args.end(), {"--role-policy", options.role_policy.dump()});
  }
  if (!options.seed.is_null()) args.insert(args.end(), {"--seed", options.seed.dump()});
  return args;
}

}  // namespace

MotoFixture::MotoFixture(const Options& options)
    : service_("moto_fixture.py", fixture_args(options), std::chrono::seconds(120)) {}

AccessKeys MotoFixture::user() const {
  return keys_from(service_.ready()["user"]);
}

AccessKeys MotoFixture::temporary() const {
  return keys_from(service_.ready()["temporary"]);
}

std::vector<std::string> MotoFixture::seeded_instances(const std::string& tags) const {
  const auto& instances = service_.ready()["seeded"]["ec2_instances"];
  if (!instances.contains(tags)) return {};
  return instances[tags].get<std::vector<std::string>>();
}

nlohmann::json control(const std::string& url, const std::string& path,
                       const nlohmann::json& body) {
  static http::CurlHttpClient client;
  http::Request request{.method = body.is_null() ? "GET" : "POST",
                        .url = url + path,
                        .headers = {{"Content-Type", "application/json"}},
                        .body = body.is_null() ? "" : body.dump()};
  auto response = client.send(request);
  if (!response || response->status != 200) {
    throw std::runtime_error("control call " + path +
                             " failed: " + (response ? response->body : response.error().message));
  }
  return response->body.empty() ? nlohmann::json::object() : nlohmann::json::parse(response->body);
}

}  // namespace bluegreen::testing
