// SqliteJournal: the Journal port (engine/ports.h) over one SQLite file in the server's state
// directory. It keeps every deployment (the whole record, as core/deployment_json.h writes it,
// plus its phases as rows), each deployment's log, every instance the deployments launched,
// and which fleet serves each group on which address. A restarted server reads all of it back.
//
// Secrets: records are stored through to_json(spec), which never writes a literal API_TOKEN.
// Thread-safe: one connection behind a mutex.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "adapters/store/sqlite.h"
#include "engine/ports.h"

namespace bluegreen {

class SqliteJournal final : public Journal {
 public:
  // Opens or creates the journal file and its tables.
  static Result<std::unique_ptr<SqliteJournal>> open(const std::filesystem::path& file);

  Result<void> save(const Deployment& deployment) override;
  Result<void> append(const DeploymentEvent& event) override;
  Result<void> set_serving(const std::string& group_id, const std::string& fleet_id) override;
  Result<void> set_listener(const std::string& group_id, const std::string& address) override;

  Result<std::vector<Deployment>> deployments(const std::string& group = "") const override;
  Result<std::optional<Deployment>> deployment(const std::string& id) const override;
  Result<std::vector<Deployment>> running() const override;
  Result<std::vector<DeploymentEvent>> events(const std::string& deployment_id) const override;
  Result<std::map<std::string, std::string>> serving() const override;
  Result<std::map<std::string, std::string>> listeners() const override;

  // Instances not terminated, by the record of the deployment that launched them.
  Result<std::vector<Instance>> live_instances() const;

 private:
  explicit SqliteJournal(sqlite::Database db) : db_(std::move(db)) {}
  Result<std::vector<Deployment>> query_deployments(const std::string& where,
                                                    const std::string& argument) const;

  mutable std::mutex mutex_;
  mutable sqlite::Database db_;
};

}  // namespace bluegreen
