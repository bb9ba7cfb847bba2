// Helpers for tests of the local adapters: writing bundles, and a fleet that terminates what
// it launched when the test ends, even a failed one. Header-only; included by tests only.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "adapters/local/local_fleet.h"
#include "infra/process/process_test_support.h"

namespace bluegreen::testing_support {

inline void write_file(const std::filesystem::path& path, const std::string& text,
                       std::filesystem::perms perms = std::filesystem::perms::owner_read |
                                                      std::filesystem::perms::owner_write |
                                                      std::filesystem::perms::group_read |
                                                      std::filesystem::perms::others_read) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  std::filesystem::permissions(path, perms);
}

// A /bin/sh script with the given body, executable by everyone.
inline void write_script(const std::filesystem::path& path, const std::string& body) {
  write_file(path, "#!/bin/sh\n" + body,
             std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                 std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                 std::filesystem::perms::others_exec);
}

// A LocalFleet in a temporary state directory (traversable by other users, for runas) that
// terminates every instance it launched when the test ends.
class TestFleet {
 public:
  TestFleet() : fleet_(LocalFleetOptions{.state_dir = state_.path(), .kill_grace = Duration(500)}) {
    std::filesystem::permissions(state_.path(), std::filesystem::perms::owner_all |
                                                    std::filesystem::perms::others_exec |
                                                    std::filesystem::perms::group_exec);
  }
  ~TestFleet() {
    std::vector<std::string> ids;
    for (const auto& instance : launched_) ids.push_back(instance.id);
    auto ended = fleet_.terminate(ids);
    EXPECT_TRUE(ended) << ended.error().message;
  }
  TestFleet(const TestFleet&) = delete;
  TestFleet& operator=(const TestFleet&) = delete;

  std::vector<Instance> launch(int count, const std::string& fleet_id = "d-test") {
    auto launched = fleet_.launch(LaunchRequest{
        .fleet_id = fleet_id, .count = count, .tags = {{"GreenIdentifier", "green-" + fleet_id}}});
    EXPECT_TRUE(launched) << launched.error().message;
    if (!launched) return {};
    launched_.insert(launched_.end(), launched->begin(), launched->end());
    return *launched;
  }

  LocalFleet& fleet() { return fleet_; }
  const std::filesystem::path& state_dir() const { return state_.path(); }

 private:
  TempDir state_{"bg-fleet"};
  LocalFleet fleet_;
  std::vector<Instance> launched_;
};

}  // namespace bluegreen::testing_support
