#include "adapters/store/sqlite_journal.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/deployment_json.h"

namespace bluegreen {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS deployments (
  id          TEXT PRIMARY KEY,
  group_id    TEXT NOT NULL,
  status      TEXT NOT NULL,
  phase       TEXT NOT NULL,
  created_ms  INTEGER NOT NULL,
  finished_ms INTEGER,
  record      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deployments_by_group ON deployments (group_id, created_ms);
CREATE TABLE IF NOT EXISTS phases (
  deployment_id TEXT NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
  position      INTEGER NOT NULL,
  phase         TEXT NOT NULL,
  started_ms    INTEGER NOT NULL,
  ended_ms      INTEGER,
  outcome       TEXT NOT NULL,
  message       TEXT NOT NULL,
  PRIMARY KEY (deployment_id, position)
);
CREATE TABLE IF NOT EXISTS events (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT,
  deployment_id TEXT NOT NULL,
  at_ms         INTEGER NOT NULL,
  phase         TEXT NOT NULL,
  kind          TEXT NOT NULL,
  instance_id   TEXT NOT NULL,
  message       TEXT NOT NULL,
  name          TEXT NOT NULL DEFAULT '',
  fields        TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS events_by_deployment ON events (deployment_id, seq);
CREATE TABLE IF NOT EXISTS instances (
  id            TEXT PRIMARY KEY,
  fleet_id      TEXT NOT NULL,
  host          TEXT NOT NULL,
  port          INTEGER NOT NULL,
  root          TEXT NOT NULL,
  tags          TEXT NOT NULL,
  state         TEXT NOT NULL,
  isolation     TEXT NOT NULL DEFAULT 'none'
);
CREATE TABLE IF NOT EXISTS groups (
  group_id      TEXT PRIMARY KEY,
  serving_fleet TEXT NOT NULL,
  updated_ms    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS listeners (
  group_id      TEXT PRIMARY KEY,
  address       TEXT NOT NULL
);
)sql";

std::optional<std::int64_t> optional_ms(const std::optional<TimePoint>& t) {
  if (!t) return std::nullopt;
  return to_epoch_ms(*t);
}

// Runs `body` inside a transaction; rolls back when it fails.
Result<void> in_transaction(sqlite::Database& db, auto&& body) {
  if (auto begun = db.exec("BEGIN IMMEDIATE"); !begun) return begun;
  Result<void> result = body();
  if (!result) {
    (void)db.exec("ROLLBACK");
    return result;
  }
  return db.exec("COMMIT");
}

Result<void> save_instance(sqlite::Database& db, const Instance& instance) {
  auto statement = db.prepare(
      "INSERT INTO instances (id, fleet_id, host, port, root, tags, state, isolation) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO UPDATE SET "
      "fleet_id = ?2, host = ?3, port = ?4, root = ?5, tags = ?6, state = ?7, isolation = ?8");
  if (!statement) return std::unexpected(statement.error());
  return statement->bind(1, instance.id)
      .bind(2, instance.fleet_id)
      .bind(3, instance.host)
      .bind(4, std::int64_t{instance.port})
      .bind(5, instance.root.string())
      .bind(6, nlohmann::json(instance.tags).dump())
      .bind(7, to_string(instance.state))
      .bind(8, to_string(instance.isolation))
      .run();
}

// The rows of `sql`, a SELECT of two text columns, as first column -> second column.
Result<std::map<std::string, std::string>> text_map(sqlite::Database& db, const char* sql) {
  auto select = db.prepare(sql);
  if (!select) return std::unexpected(select.error());
  std::map<std::string, std::string> out;
  for (;;) {
    auto row = select->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    out[select->text(0)] = select->text(1);
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<SqliteJournal>> SqliteJournal::open(const std::filesystem::path& file) {
  auto db = sqlite::Database::open(file);
  if (!db) return std::unexpected(db.error());
  if (auto created = db->exec(kSchema); !created) return std::unexpected(created.error());
  // Columns a journal written by an earlier version lacks: instances ran without isolation
  // then, and events had no name and no fields.
  struct Added {
    const char* table;
    const char* column;
    const char* definition;
  };
  for (const Added& added : {Added{"instances", "isolation", "TEXT NOT NULL DEFAULT 'none'"},
                             Added{"events", "name", "TEXT NOT NULL DEFAULT ''"},
                             Added{"events", "fields", "TEXT NOT NULL DEFAULT '{}'"}}) {
    auto has = db->prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2");
    if (!has) return std::unexpected(has.error());
    has->bind(1, std::string(added.table)).bind(2, std::string(added.column));
    auto found = has->step();
    if (!found) return std::unexpected(found.error());
    if (*found) continue;
    auto altered = db->exec(fmt::format("ALTER TABLE {} ADD COLUMN {} {}", added.table,
                                        added.column, added.definition));
    if (!altered) return std::unexpected(altered.error());
  }
  return std::unique_ptr<SqliteJournal>(new SqliteJournal(std::move(*db)));
}

Result<void> SqliteJournal::save(const Deployment& d) {
  std::lock_guard lock(mutex_);
  return in_transaction(db_, [&]() -> Result<void> {
    auto row = db_.prepare(
        "INSERT INTO deployments (id, group_id, status, phase, created_ms, finished_ms, record) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO UPDATE SET "
        "status = ?3, phase = ?4, finished_ms = ?6, record = ?7");
    if (!row) return std::unexpected(row.error());
    auto saved = row->bind(1, d.id)
                     .bind(2, d.spec.group_id)
                     .bind(3, to_string(d.status))
                     .bind(4, to_string(d.phase))
                     .bind(5, std::int64_t{to_epoch_ms(d.created)})
                     .bind(6, optional_ms(d.finished))
                     .bind(7, to_json(d).dump())
                     .run();
    if (!saved) return saved;

    auto cleared = db_.prepare("DELETE FROM phases WHERE deployment_id = ?1");
    if (!cleared) return std::unexpected(cleared.error());
    if (auto done = cleared->bind(1, d.id).run(); !done) return done;
    for (std::size_t i = 0; i < d.phases.size(); ++i) {
      const auto& phase = d.phases[i];
      auto insert = db_.prepare(
          "INSERT INTO phases (deployment_id, position, phase, started_ms, ended_ms, outcome, "
          "message) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
      if (!insert) return std::unexpected(insert.error());
      auto inserted = insert->bind(1, d.id)
                          .bind(2, static_cast<std::int64_t>(i))
                          .bind(3, to_string(phase.phase))
                          .bind(4, std::int64_t{to_epoch_ms(phase.started)})
                          .bind(5, optional_ms(phase.ended))
                          .bind(6, to_string(phase.outcome))
                          .bind(7, phase.message)
                          .run();
      if (!inserted) return inserted;
    }
    for (const auto& instance : d.green) {
      if (auto stored = save_instance(db_, instance); !stored) return stored;
    }
    if (d.blue) {
      for (const auto& instance : d.blue->instances) {
        if (auto stored = save_instance(db_, instance); !stored) return stored;
      }
    }
    return {};
  });
}

Result<void> SqliteJournal::append(const DeploymentEvent& event) {
  std::lock_guard lock(mutex_);
  auto insert = db_.prepare(
      "INSERT INTO events (deployment_id, at_ms, phase, kind, instance_id, message, name, "
      "fields) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!insert) return std::unexpected(insert.error());
  return insert->bind(1, event.deployment_id)
      .bind(2, std::int64_t{to_epoch_ms(event.at)})
      .bind(3, to_string(event.phase))
      .bind(4, to_string(event.kind))
      .bind(5, event.instance_id)
      .bind(6, event.message)
      .bind(7, event.name)
      .bind(8, nlohmann::json(event.fields).dump())
      .run();
}

Result<void> SqliteJournal::set_serving(const std::string& group_id, const std::string& fleet_id) {
  std::lock_guard lock(mutex_);
  auto upsert = db_.prepare(
      "INSERT INTO groups (group_id, serving_fleet, updated_ms) VALUES (?1, ?2, "
      "CAST(strftime('%s', 'now') AS INTEGER) * 1000) ON CONFLICT (group_id) DO UPDATE SET "
      "serving_fleet = ?2, updated_ms = excluded.updated_ms");
  if (!upsert) return std::unexpected(upsert.error());
  return upsert->bind(1, group_id).bind(2, fleet_id).run();
}

Result<std::vector<Deployment>> SqliteJournal::query_deployments(
    const std::string& where, const std::string& argument) const {
  std::lock_guard lock(mutex_);
  auto select = db_.prepare("SELECT record FROM deployments " + where +
                            " ORDER BY created_ms DESC, rowid DESC");
  if (!select) return std::unexpected(select.error());
  if (!argument.empty()) select->bind(1, argument);
  std::vector<Deployment> out;
  for (;;) {
    auto row = select->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    auto json = nlohmann::json::parse(select->text(0), nullptr, false);
    auto d = deployment_from_json(json);
    if (!d) return std::unexpected(d.error().with_context("journal record"));
    out.push_back(std::move(*d));
  }
  return out;
}

Result<std::vector<Deployment>> SqliteJournal::deployments(const std::string& group) const {
  return group.empty() ? query_deployments("", "")
                       : query_deployments("WHERE group_id = ?1", group);
}

Result<std::optional<Deployment>> SqliteJournal::deployment(const std::string& id) const {
  auto found = query_deployments("WHERE id = ?1", id);
  if (!found) return std::unexpected(found.error());
  if (found->empty()) return std::optional<Deployment>{};
  return std::optional<Deployment>{std::move(found->front())};
}

Result<std::vector<Deployment>> SqliteJournal::running() const {
  return query_deployments("WHERE status = ?1", std::string(to_string(DeploymentStatus::running)));
}

Result<std::vector<DeploymentEvent>> SqliteJournal::events(const std::string& deployment_id) const {
  std::lock_guard lock(mutex_);
  auto select = db_.prepare(
      "SELECT at_ms, phase, kind, instance_id, message, name, fields FROM events "
      "WHERE deployment_id = ?1 "
      "ORDER BY seq");
  if (!select) return std::unexpected(select.error());
  select->bind(1, deployment_id);
  std::vector<DeploymentEvent> out;
  for (;;) {
    auto row = select->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    DeploymentEvent event{deployment_id,
                          from_epoch_ms(select->integer(0)),
                          phase_from_string(select->text(1)).value_or(Phase::validate),
                          event_kind_from_string(select->text(2)).value_or(EventKind::info),
                          select->text(4),
                          select->text(3),
                          select->text(5),
                          {}};
    auto fields = nlohmann::json::parse(select->text(6), nullptr, false);
    if (fields.is_object()) {
      for (const auto& [key, value] : fields.items()) {
        if (value.is_string()) event.fields[key] = value.get<std::string>();
      }
    }
    out.push_back(std::move(event));
  }
  return out;
}

Result<std::map<std::string, std::string>> SqliteJournal::serving() const {
  std::lock_guard lock(mutex_);
  return text_map(db_, "SELECT group_id, serving_fleet FROM groups ORDER BY group_id");
}

Result<void> SqliteJournal::set_listener(const std::string& group_id, const std::string& address) {
  std::lock_guard lock(mutex_);
  auto upsert = db_.prepare(
      "INSERT INTO listeners (group_id, address) VALUES (?1, ?2) "
      "ON CONFLICT (group_id) DO UPDATE SET address = ?2");
  if (!upsert) return std::unexpected(upsert.error());
  return upsert->bind(1, group_id).bind(2, address).run();
}

Result<std::map<std::string, std::string>> SqliteJournal::listeners() const {
  std::lock_guard lock(mutex_);
  return text_map(db_, "SELECT group_id, address FROM listeners ORDER BY group_id");
}

Result<std::vector<Instance>> SqliteJournal::live_instances() const {
  std::lock_guard lock(mutex_);
  auto select = db_.prepare(
      "SELECT id, fleet_id, host, port, root, tags, state, isolation FROM instances "
      "WHERE state != ?1 "
      "ORDER BY id");
  if (!select) return std::unexpected(select.error());
  select->bind(1, to_string(InstanceState::terminated));
  std::vector<Instance> out;
  for (;;) {
    auto row = select->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    Instance instance;
    instance.id = select->text(0);
    instance.fleet_id = select->text(1);
    instance.host = select->text(2);
    instance.port = static_cast<int>(select->integer(3));
    instance.root = select->text(4);
    auto tags = nlohmann::json::parse(select->text(5), nullptr, false);
    if (tags.is_object()) instance.tags = tags.get<std::map<std::string, std::string>>();
    instance.state = instance_state_from_string(select->text(6));
    instance.isolation = isolation_from_string(select->text(7));
    out.push_back(std::move(instance));
  }
  return out;
}

}  // namespace bluegreen
