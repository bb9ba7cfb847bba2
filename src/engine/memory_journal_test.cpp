// MemoryJournal stands in for SqliteJournal in the service's tests, so it answers the reads of
// the Journal port (engine/ports.h) as the real one does: order, filters, the last record.
#include <gtest/gtest.h>

#include "engine/fakes.h"

namespace bluegreen {
namespace {

using namespace std::chrono_literals;

Deployment record(const std::string& id, const std::string& group, TimePoint created,
                  DeploymentStatus status = DeploymentStatus::running) {
  Deployment d;
  d.id = id;
  d.spec = test_spec({{"GROUP_ID", group}});
  d.created = created;
  d.status = status;
  return d;
}

std::vector<std::string> ids(const Result<std::vector<Deployment>>& deployments) {
  std::vector<std::string> out;
  for (const auto& d : deployments.value()) out.push_back(d.id);
  return out;
}

TEST(MemoryJournal, ListsNewestFirstAndTheLaterSavedFirstAmongEqualTimes) {
  MemoryJournal journal;
  auto at = from_epoch_ms(1'700'000'000'000);
  ASSERT_TRUE(journal.save(record("d-b", "web", at + 1min)));
  ASSERT_TRUE(journal.save(record("d-a", "web", at + 1min)));
  ASSERT_TRUE(journal.save(record("d-old", "api", at)));
  ASSERT_TRUE(journal.save(record("d-b", "web", at + 1min, DeploymentStatus::succeeded)));

  EXPECT_EQ(ids(journal.deployments()), (std::vector<std::string>{"d-a", "d-b", "d-old"}))
      << "saving d-b again replaces its record and keeps its place";
  EXPECT_EQ(ids(journal.deployments("api")), (std::vector<std::string>{"d-old"}));
  EXPECT_EQ(ids(journal.running()), (std::vector<std::string>{"d-a", "d-old"}));
  EXPECT_EQ(journal.deployment("d-b").value()->status, DeploymentStatus::succeeded);
  EXPECT_FALSE(journal.deployment("d-nope").value().has_value());
}

TEST(MemoryJournal, AnswersOneDeploymentsLogOldestFirstAndTheGroupsFleetsAndAddresses) {
  MemoryJournal journal;
  auto at = from_epoch_ms(1'700'000'000'000);
  ASSERT_TRUE(journal.append(DeploymentEvent{"d-1", at, Phase::validate, EventKind::info, "a"}));
  ASSERT_TRUE(journal.append(DeploymentEvent{"d-2", at, Phase::validate, EventKind::info, "x"}));
  ASSERT_TRUE(journal.append(DeploymentEvent{"d-1", at, Phase::install, EventKind::info, "b"}));
  auto events = journal.events("d-1").value();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].message, "a");
  EXPECT_EQ(events[1].message, "b");

  ASSERT_TRUE(journal.set_serving("web", "d-1"));
  ASSERT_TRUE(journal.set_serving("web", "d-2"));
  ASSERT_TRUE(journal.set_listener("web", "127.0.0.1:40001"));
  EXPECT_EQ(journal.serving().value(), (std::map<std::string, std::string>{{"web", "d-2"}}));
  EXPECT_EQ(journal.listeners().value(),
            (std::map<std::string, std::string>{{"web", "127.0.0.1:40001"}}));
}

}  // namespace
}  // namespace bluegreen
