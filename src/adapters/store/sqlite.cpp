#include "adapters/store/sqlite.h"

#include <sqlite3.h>

#include <utility>

namespace bluegreen::sqlite {
namespace {

std::unexpected<Error> sqlite_error(sqlite3* db, std::string_view what) {
  std::string message = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : "out of memory");
  int code = db ? sqlite3_errcode(db) : SQLITE_NOMEM;
  ErrorKind kind = (code == SQLITE_BUSY || code == SQLITE_LOCKED) ? ErrorKind::conflict
                   : (code == SQLITE_FULL || code == SQLITE_IOERR || code == SQLITE_CANTOPEN)
                       ? ErrorKind::unavailable
                       : ErrorKind::internal;
  return fail(kind, std::move(message));
}

}  // namespace

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), statement_(std::exchange(other.statement_, nullptr)) {}

Statement::~Statement() {
  sqlite3_finalize(statement_);
}

Statement& Statement::bind(int index, std::string_view text) {
  sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()),
                    SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(statement_, index, value);
  return *this;
}

Statement& Statement::bind_null(int index) {
  sqlite3_bind_null(statement_, index);
  return *this;
}

Statement& Statement::bind(int index, const std::optional<std::int64_t>& value) {
  return value ? bind(index, *value) : bind_null(index);
}

Result<bool> Statement::step() {
  int rc = sqlite3_step(statement_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_error(db_, "sqlite step");
}

Result<void> Statement::run() {
  auto stepped = step();
  if (!stepped) return std::unexpected(stepped.error());
  return {};
}

std::string Statement::text(int column) const {
  const auto* value = sqlite3_column_text(statement_, column);
  if (!value) return {};
  return std::string(reinterpret_cast<const char*>(value),
                     static_cast<std::size_t>(sqlite3_column_bytes(statement_, column)));
}

std::int64_t Statement::integer(int column) const {
  return sqlite3_column_int64(statement_, column);
}

bool Statement::is_null(int column) const {
  return sqlite3_column_type(statement_, column) == SQLITE_NULL;
}

Result<Database> Database::open(const std::filesystem::path& file) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    auto error = sqlite_error(db, "open " + file.string());
    sqlite3_close(db);
    return error;
  }
  Database database(db);
  sqlite3_busy_timeout(db, 5000);
  // WAL keeps readers off the writer's back; FULL sync makes each step durable even if the
  // machine, not only the server, goes down right after it.
  auto configured =
      database.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
  if (!configured) return std::unexpected(configured.error());
  return database;
}

Database::Database(Database&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Database::~Database() {
  sqlite3_close(db_);
}

Result<void> Database::exec(std::string_view sql) {
  std::string copy(sql);
  if (sqlite3_exec(db_, copy.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    return sqlite_error(db_, "sqlite");
  }
  return {};
}

Result<Statement> Database::prepare(std::string_view sql) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &statement, nullptr) !=
      SQLITE_OK) {
    return sqlite_error(db_, "sqlite prepare");
  }
  return Statement(db_, statement);
}

}  // namespace bluegreen::sqlite
