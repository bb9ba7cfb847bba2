#include "adapters/store/sqlite_journal.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "adapters/store/sqlite.h"
#include "core/flow.h"
#include "temp_dir.h"

namespace bluegreen {
namespace {

using namespace std::chrono_literals;

using testing::TempDir;

constexpr const char* kToken = "tok-5f1c9e0d-never-stored";

Deployment launched(const std::string& id, TimePoint at) {
  auto spec = parse_spec(std::string_view(std::string(R"({"GROUP_ID":"web","APP_NAME":"a",
      "DEPLOYMENT_GROUP":"dg","TIMEOUT":"60","LOCAL_PATH":"/srv/app","PROVIDER":"local",
      "API_TOKEN":")") + kToken + R"("})"));
  EXPECT_TRUE(spec) << spec.error().message;
  auto t = start(new_deployment(id, *spec, "test", "uuid-" + id, at, std::nullopt), at);
  t = step(t.deployment, Input{at + 1s, input::RevisionFetched{"/state/bundles/" + id, "local"}});
  Instance instance;
  instance.id = "i-" + id;
  instance.fleet_id = id;
  instance.port = 9000;
  instance.tags = {{"GreenIdentifier", "uuid-" + id}};
  t = step(t.deployment, Input{at + 2s, input::GreenLaunched{{instance}}});
  return t.deployment;
}

std::string file_bytes(const std::filesystem::path& dir) {
  std::string all;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    all += buffer.str();
  }
  return all;
}

TEST(SqliteJournal, ARecordReadBackAfterReopeningIsTheSame) {
  TempDir dir;
  auto at = from_epoch_ms(1'700'000'000'000);
  auto first = launched("d-1", at);
  auto second = launched("d-2", at + 1min);
  {
    auto journal = SqliteJournal::open(dir.path() / "journal.db");
    ASSERT_TRUE(journal) << journal.error().message;
    ASSERT_TRUE((*journal)->save(first));
    ASSERT_TRUE((*journal)->save(second));
    ASSERT_TRUE((*journal)->save(second));  // saving again replaces, never duplicates
  }
  auto journal = SqliteJournal::open(dir.path() / "journal.db");
  ASSERT_TRUE(journal);
  auto all = (*journal)->deployments();
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, "d-2") << "newest first";
  auto back = (*journal)->deployment("d-1");
  ASSERT_TRUE(back && *back);
  EXPECT_EQ((*back)->step, Step::install);
  EXPECT_EQ((*back)->phases.size(), first.phases.size());
  EXPECT_EQ((*back)->green.at(0).tags.at("GreenIdentifier"), "uuid-d-1");
  EXPECT_EQ((*journal)->running()->size(), 2u);
  EXPECT_FALSE(*(*journal)->deployment("d-404"));
}

TEST(SqliteJournal, KeepsEventsServingFleetsAndLiveInstances) {
  TempDir dir;
  auto journal = *SqliteJournal::open(dir.path() / "journal.db");
  auto at = from_epoch_ms(1'700'000'000'000);
  auto d = launched("d-1", at);
  ASSERT_TRUE(journal->save(d));
  ASSERT_TRUE(journal->append({"d-1", at, Phase::install, EventKind::info, "first", "i-d-1"}));
  ASSERT_TRUE(journal->append({"d-1", at, Phase::install, EventKind::error, "second", ""}));
  ASSERT_TRUE(journal->set_serving("web", "d-0"));
  ASSERT_TRUE(journal->set_serving("web", "d-1"));

  auto events = journal->events("d-1");
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].message, "first");
  EXPECT_EQ((*events)[0].instance_id, "i-d-1");
  EXPECT_EQ((*events)[1].kind, EventKind::error);
  EXPECT_EQ(journal->serving()->at("web"), "d-1");
  ASSERT_EQ(journal->live_instances()->size(), 1u);

  d.green[0].state = InstanceState::terminated;
  ASSERT_TRUE(journal->save(d));
  EXPECT_TRUE(journal->live_instances()->empty());
}

// A restarted server re-adopts a namespaced instance where it was: its isolation and its own
// address come back from the journal, and a journal from before instances had an isolation
// reads its instances as ISOLATION=none.
TEST(SqliteJournal, AnInstancesIsolationAndAddressSurviveAReopenAndOldJournalsReadAsNone) {
  TempDir dir;
  auto at = from_epoch_ms(1'700'000'000'000);
  {
    auto old = sqlite::Database::open(dir.path() / "journal.db");
    ASSERT_TRUE(old);
    ASSERT_TRUE(old->exec(
        "CREATE TABLE instances (id TEXT PRIMARY KEY, fleet_id TEXT NOT NULL, host TEXT NOT "
        "NULL, port INTEGER NOT NULL, root TEXT NOT NULL, tags TEXT NOT NULL, state TEXT NOT "
        "NULL); INSERT INTO instances VALUES ('i-old', 'd-0', '127.0.0.1', 9100, '/r', '{}', "
        "'healthy')"));
  }
  {
    auto journal = SqliteJournal::open(dir.path() / "journal.db");
    ASSERT_TRUE(journal) << journal.error().message;
    auto d = launched("d-1", at);
    d.green[0].isolation = Isolation::namespaces;
    d.green[0].host = "10.213.0.6";
    d.green[0].port = 8080;
    ASSERT_TRUE((*journal)->save(d));
  }
  auto journal = *SqliteJournal::open(dir.path() / "journal.db");
  auto live = journal->live_instances();
  ASSERT_TRUE(live);
  ASSERT_EQ(live->size(), 2u);
  EXPECT_EQ((*live)[0].id, "i-d-1");
  EXPECT_EQ((*live)[0].isolation, Isolation::namespaces);
  EXPECT_EQ((*live)[0].host, "10.213.0.6");
  EXPECT_EQ((*live)[0].port, 8080);
  EXPECT_EQ((*live)[1].id, "i-old");
  EXPECT_EQ((*live)[1].isolation, Isolation::none);
  auto record = journal->deployment("d-1");
  ASSERT_TRUE(record && *record);
  EXPECT_EQ((*record)->green.at(0).isolation, Isolation::namespaces);
}

// An event's name and fields (a cloud run's lifecycle events, ids and flow phase) come back
// as they were written, also from a journal written before events had them.
TEST(SqliteJournal, AnEventsNameAndFieldsSurviveAReopenAndOldEventsReadWithout) {
  TempDir dir;
  auto at = from_epoch_ms(1'700'000'000'000);
  {
    auto old = sqlite::Database::open(dir.path() / "journal.db");
    ASSERT_TRUE(old);
    ASSERT_TRUE(old->exec(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, deployment_id TEXT NOT "
        "NULL, at_ms INTEGER NOT NULL, phase TEXT NOT NULL, kind TEXT NOT NULL, instance_id "
        "TEXT NOT NULL, message TEXT NOT NULL); INSERT INTO events (deployment_id, at_ms, "
        "phase, kind, instance_id, message) VALUES ('d-1', 1700000000000, 'install', 'info', "
        "'', 'old')"));
  }
  {
    auto journal = SqliteJournal::open(dir.path() / "journal.db");
    ASSERT_TRUE(journal) << journal.error().message;
    ASSERT_TRUE((*journal)->append({"d-1",
                                    at,
                                    Phase::install,
                                    EventKind::error,
                                    "ValidateService Failed on i-0abc",
                                    "i-0abc",
                                    "lifecycle_event",
                                    {{"lifecycle_event", "ValidateService"},
                                     {"status", "Failed"},
                                     {"flow_phase", "follow"}}}));
  }
  auto journal = *SqliteJournal::open(dir.path() / "journal.db");
  auto events = journal->events("d-1");
  ASSERT_TRUE(events) << events.error().message;
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].message, "old");
  EXPECT_EQ((*events)[0].name, "");
  EXPECT_TRUE((*events)[0].fields.empty());
  const auto& event = (*events)[1];
  EXPECT_EQ(event.name, "lifecycle_event");
  EXPECT_EQ(event.instance_id, "i-0abc");
  EXPECT_EQ(event.fields.at("lifecycle_event"), "ValidateService");
  EXPECT_EQ(event.fields.at("status"), "Failed");
  EXPECT_EQ(event.fields.at("flow_phase"), "follow");
}

TEST(SqliteJournal, AGroupsBoundAddressSurvivesAReopen) {
  TempDir dir;
  {
    auto journal = *SqliteJournal::open(dir.path() / "journal.db");
    ASSERT_TRUE(journal->set_listener("web", "127.0.0.1:41234"));
    ASSERT_TRUE(journal->set_listener("web", "127.0.0.1:41235"));
    ASSERT_TRUE(journal->set_listener("api", "127.0.0.1:8080"));
  }
  auto journal = *SqliteJournal::open(dir.path() / "journal.db");
  auto listeners = journal->listeners();
  ASSERT_TRUE(listeners);
  EXPECT_EQ(*listeners, (std::map<std::string, std::string>{{"api", "127.0.0.1:8080"},
                                                            {"web", "127.0.0.1:41235"}}));
}

TEST(SqliteJournal, NeverStoresALiteralApiToken) {
  TempDir dir;
  {
    auto journal = *SqliteJournal::open(dir.path() / "journal.db");
    ASSERT_TRUE(journal->save(launched("d-1", from_epoch_ms(1'700'000'000'000))));
  }
  EXPECT_EQ(file_bytes(dir.path()).find(kToken), std::string::npos);
}

TEST(SqliteJournal, AnUnwritablePlaceIsAnErrorNotACrash) {
  auto journal = SqliteJournal::open("/proc/no-such-dir/journal.db");
  ASSERT_FALSE(journal);
  EXPECT_NE(journal.error().message.find("journal.db"), std::string::npos);
}

}  // namespace
}  // namespace bluegreen
