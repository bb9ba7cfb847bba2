// examples/hello through the local adapters, as the engine drives them in a blue/green
// deployment: fetch each version's bundle (made by examples/hello/make-bundle), launch two
// instances per version, run the green lifecycle and the traffic events, health-check, retire
// blue (BlockTraffic events and ApplicationStop) and terminate everything.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include "adapters/local/appspec_agent.h"
#include "adapters/local/http_health_probe.h"
#include "adapters/local/instance_layout.h"
#include "adapters/local/lifecycle_events.h"
#include "adapters/local/local_revision_fetcher.h"
#include "adapters/local/local_test_support.h"
#include "infra/process/marked_processes.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;
using namespace testing_support;

// The body of GET `path` on 127.0.0.1:`port`, or "" if there is no answer.
std::string http_get_body(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    std::string request =
        "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    char buffer[4096];
    for (ssize_t n; (n = recv(fd, buffer, sizeof buffer, 0)) > 0;) answer.append(buffer, n);
  }
  close(fd);
  auto body = answer.find("\r\n\r\n");
  return body == std::string::npos ? "" : answer.substr(body + 4);
}

class HelloLifecycle : public ::testing::Test {
 protected:
  Bundle fetch_version(const std::string& version) {
    fs::path archive = work_.path() / ("hello-" + version + ".tgz");
    std::string command = std::string(BLUEGREEN_SOURCE_DIR) + "/examples/hello/make-bundle " +
                          version + " '" + archive.string() + "' >/dev/null";
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    auto bundle =
        fetcher_.fetch(LocalRevision{.path = archive.string()},
                       work_.path() / ("bundle-" + version), from_now(std::chrono::seconds(60)));
    EXPECT_TRUE(bundle) << bundle.error().message;
    return bundle.value_or(Bundle{});
  }

  Result<void> run(const Bundle& bundle, const std::vector<Instance>& instances,
                   const std::vector<std::string>& events) {
    return agent_.run(bundle, instances, events, context_, from_now(std::chrono::seconds(120)),
                      results_);
  }

  void expect_serving(const std::vector<Instance>& instances, const std::string& version) {
    for (const auto& instance : instances) {
      auto healthy = probe_.check(instance, "/healthz", from_now(std::chrono::seconds(10)));
      EXPECT_TRUE(healthy) << healthy.error().message;
      EXPECT_EQ(http_get_body(instance.port, "/"), "hello from version " + version + "\n");
    }
  }

  TempDir work_{"bg-hello"};
  TestFleet fleet_;
  LocalRevisionFetcher fetcher_;
  AppspecAgent agent_;
  HttpHealthProbe probe_;
  LifecycleContext context_{.deployment_id = "d-HELLO0001",
                            .application_name = "hello",
                            .deployment_group_name = "hello-local",
                            .deployment_group_id = "5d1a7c9e-0000-4000-8000-000000000001"};
  std::vector<HookResult> results_;
};

TEST_F(HelloLifecycle, Version1ThenVersion2OnTwoInstancesEach) {
  Bundle version1 = fetch_version("1");
  auto blue = fleet_.launch(2, "d-blue");
  ASSERT_EQ(blue.size(), 2u);
  auto installed = run(version1, blue, lifecycle::green_install_events());
  ASSERT_TRUE(installed) << installed.error().message;
  ASSERT_TRUE(run(version1, blue, lifecycle::allow_traffic_events()));
  expect_serving(blue, "1");
  for (const auto& instance : blue) {
    EXPECT_EQ(read_text(instance_layout::install_root(instance.root) / "opt/hello/VERSION"), "1\n");
  }

  Bundle version2 = fetch_version("2");
  auto green = fleet_.launch(2, "d-green");
  auto green_installed = run(version2, green, lifecycle::green_install_events());
  ASSERT_TRUE(green_installed) << green_installed.error().message;
  ASSERT_TRUE(run(version2, green, lifecycle::allow_traffic_events()));
  expect_serving(green, "2");
  expect_serving(blue, "1");  // both colours run side by side until blue retires

  // Retire blue: its own revision's ApplicationStop stops its service.
  ASSERT_TRUE(run(version2, blue, lifecycle::block_traffic_events()));
  auto stopped = run(version2, blue, lifecycle::stop_events());
  ASSERT_TRUE(stopped) << stopped.error().message;
  for (const auto& instance : blue) {
    auto probe = probe_.check(instance, "/healthz", from_now(std::chrono::seconds(10)));
    ASSERT_FALSE(probe);
    EXPECT_EQ(probe.error().kind, ErrorKind::unavailable) << probe.error().message;
  }
  std::vector<std::string> blue_ids{blue[0].id, blue[1].id};
  ASSERT_TRUE(fleet_.fleet().terminate(blue_ids));

  expect_serving(green, "2");
  ASSERT_TRUE(fleet_.fleet().terminate({green[0].id, green[1].id}));
  for (const auto& instance : green) {
    EXPECT_FALSE(probe_.check(instance, "/healthz", from_now(std::chrono::seconds(10))));
    EXPECT_TRUE(find_marked_processes({"BLUEGREEN_INSTANCE_ID=" + instance.id}).empty());
  }
  EXPECT_TRUE(fleet_.fleet().list().empty());

  // Every hook of the example ran and passed, on every instance.
  for (const auto& result : results_) {
    EXPECT_EQ(result.exit_code, 0) << result.lifecycle_event << " " << result.script << ":\n"
                                   << result.output_tail;
  }
  EXPECT_EQ(results_.size(), 2u * 4 + 2u * 4 + 2u);  // 4 install hooks per instance, 2 stops
}

}  // namespace
}  // namespace bluegreen
