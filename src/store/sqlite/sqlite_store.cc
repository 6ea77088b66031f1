#include "store/sqlite/sqlite_store.h"

#include "store/sqlite/sqlite_db.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>

namespace custos::store {
namespace {

using Clock = std::chrono::system_clock;

// Migration N (1-based) is kMigrations[N-1]. Append only; never edit an applied one.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE sessions (
  id                TEXT PRIMARY KEY,
  identity          TEXT NOT NULL,
  auth_method       TEXT NOT NULL DEFAULT '',
  connection        TEXT NOT NULL DEFAULT '',
  client_addr       TEXT NOT NULL DEFAULT '',
  target            TEXT NOT NULL DEFAULT '',
  started_at_us     INTEGER NOT NULL,
  ended_at_us       INTEGER,
  close_reason      TEXT NOT NULL DEFAULT '',
  statements        INTEGER NOT NULL DEFAULT 0,
  bytes_from_client INTEGER NOT NULL DEFAULT 0,
  bytes_from_target INTEGER NOT NULL DEFAULT 0,
  recording_path    TEXT NOT NULL DEFAULT '',
  status            TEXT NOT NULL DEFAULT 'active'
);
CREATE INDEX sessions_started ON sessions(started_at_us DESC);
CREATE INDEX sessions_identity_started ON sessions(identity, started_at_us DESC);
)sql",
};

constexpr const char* kSessionColumns =
    "id, identity, auth_method, connection, client_addr, target, started_at_us, ended_at_us, "
    "close_reason, statements, bytes_from_client, bytes_from_target, recording_path, status";

SessionRow read_row(Stmt& s) {
  SessionRow r;
  r.id = s.col_text(0);
  r.identity = s.col_text(1);
  r.auth_method = s.col_text(2);
  r.connection = s.col_text(3);
  r.client_addr = s.col_text(4);
  r.target = s.col_text(5);
  r.started_at = s.col_time(6);
  r.ended_at = s.col_opt_time(7);
  r.close_reason = s.col_text(8);
  r.statements = uint64_t(s.col_i64(9));
  r.bytes_from_client = uint64_t(s.col_i64(10));
  r.bytes_from_target = uint64_t(s.col_i64(11));
  r.recording_path = s.col_text(12);
  r.status = s.col_text(13);
  return r;
}

}  // namespace

Error SqliteStore::db_error(const std::string& what) const {
  return Error{ErrorCode::kIo, "sqlite store " + path_ + ": " + what + ": " +
                                   (db_ ? sqlite3_errmsg(db_) : "no database")};
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path) {
  if (path.empty()) {
    return fail(ErrorCode::kConfig, "sqlite store: empty path");
  }
  std::unique_ptr<SqliteStore> st(new SqliteStore(path));
  auto db = open_sqlite_db(path, "sqlite store");
  if (!db) {
    return Unexpected(db.error());
  }
  st->db_ = *db;
  if (auto r = st->exec("PRAGMA foreign_keys=ON"); !r) {
    return Unexpected(r.error());
  }
  if (auto r = st->migrate(); !r) {
    return Unexpected(r.error());
  }
  struct {
    sqlite3_stmt** slot;
    std::string sql;
  } stmts[] = {
      {&st->insert_session_,
       std::string("INSERT INTO sessions (") + kSessionColumns +
           ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"},
      {&st->end_session_,
       "UPDATE sessions SET ended_at_us = ?2, close_reason = ?3, statements = ?4, "
       "bytes_from_client = ?5, bytes_from_target = ?6, status = CASE WHEN status = "
       "'auth_failed' OR ?3 = 'auth_failed' THEN 'auth_failed' ELSE 'closed' END WHERE id = ?1"},
      {&st->list_all_, std::string("SELECT ") + kSessionColumns +
                           " FROM sessions ORDER BY started_at_us DESC, id DESC LIMIT ?1"},
      {&st->list_identity_,
       std::string("SELECT ") + kSessionColumns +
           " FROM sessions WHERE identity = ?2 ORDER BY started_at_us DESC, id DESC LIMIT ?1"},
      {&st->get_session_,
       std::string("SELECT ") + kSessionColumns + " FROM sessions WHERE id = ?1"},
  };
  for (auto& s : stmts) {
    auto p = st->prepare(s.sql.c_str());
    if (!p) {
      return Unexpected(p.error());
    }
    *s.slot = *p;
  }
  return st;
}

SqliteStore::~SqliteStore() {
  for (sqlite3_stmt* s : {insert_session_, end_session_, list_all_, list_identity_, get_session_}) {
    sqlite3_finalize(s);
  }
  sqlite3_close_v2(db_);
}

Result<void> SqliteStore::exec(const char* sql) {
  return exec_sql(db_, sql, "sqlite store " + path_);
}

Result<sqlite3_stmt*> SqliteStore::prepare(const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
    return Unexpected(db_error("prepare"));
  }
  return s;
}

int SqliteStore::schema_version() {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT max(version) FROM schema_version");
  return s.ok() && s.step() == SQLITE_ROW ? int(s.col_i64(0)) : 0;
}

Result<void> SqliteStore::migrate() {
  // BEGIN IMMEDIATE: two processes opening a fresh database do not both migrate.
  if (auto r = exec("BEGIN IMMEDIATE"); !r) {
    return r;
  }
  auto rollback = [&](Result<void> r) {
    static_cast<void>(exec("ROLLBACK"));
    return r;
  };
  if (auto r = exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, "
                    "applied_at_us INTEGER NOT NULL)");
      !r) {
    return rollback(r);
  }
  int current = 0;
  {
    Stmt s(db_, "SELECT coalesce(max(version), 0) FROM schema_version");
    if (!s.ok() || s.step() != SQLITE_ROW) {
      return rollback(Unexpected(db_error("read schema_version")));
    }
    current = int(s.col_i64(0));
  }
  constexpr int kLatest = int(std::size(kMigrations));
  if (current > kLatest) {
    return rollback(fail(ErrorCode::kConfig, "sqlite store " + path_ + " has schema version " +
                                                 std::to_string(current) +
                                                 ", newer than this binary (" +
                                                 std::to_string(kLatest) + ")"));
  }
  for (int v = current + 1; v <= kLatest; ++v) {
    if (auto r = exec(kMigrations[v - 1]); !r) {
      return rollback(r);
    }
    Stmt mark(db_, "INSERT INTO schema_version (version, applied_at_us) VALUES (?1, ?2)");
    if (!mark.ok() || mark.i64(1, v).time(2, Clock::now()).step() != SQLITE_DONE) {
      return rollback(Unexpected(db_error("mark schema version " + std::to_string(v))));
    }
  }
  return exec("COMMIT");
}

Result<void> SqliteStore::record_session_start(const SessionRow& row) {
  std::lock_guard lock(mu_);
  Stmt s(db_, insert_session_);
  s.text(1, row.id).text(2, row.identity).text(3, row.auth_method).text(4, row.connection);
  s.text(5, row.client_addr).text(6, row.target).time(7, row.started_at).time(8, row.ended_at);
  s.text(9, row.close_reason).i64(10, int64_t(row.statements));
  s.i64(11, int64_t(row.bytes_from_client)).i64(12, int64_t(row.bytes_from_target));
  s.text(13, row.recording_path).text(14, row.status.empty() ? std::string("active") : row.status);
  if (s.step() != SQLITE_DONE) {
    return Unexpected(db_error("insert session " + row.id));
  }
  return {};
}

Result<void> SqliteStore::record_session_end(const std::string& id, Clock::time_point end_time,
                                             const std::string& close_reason, uint64_t statements,
                                             uint64_t bytes_from_client,
                                             uint64_t bytes_from_target) {
  std::lock_guard lock(mu_);
  Stmt s(db_, end_session_);
  s.text(1, id).time(2, end_time).text(3, close_reason).i64(4, int64_t(statements));
  s.i64(5, int64_t(bytes_from_client)).i64(6, int64_t(bytes_from_target));
  if (s.step() != SQLITE_DONE) {
    return Unexpected(db_error("end session " + id));
  }
  if (sqlite3_changes(db_) == 0) {
    return fail(ErrorCode::kNotFound, "no session " + id);
  }
  return {};
}

Result<std::vector<SessionRow>> SqliteStore::list_sessions(
    size_t limit, const std::optional<std::string>& identity) {
  std::lock_guard lock(mu_);
  Stmt s(db_, identity ? list_identity_ : list_all_);
  s.i64(1, int64_t(std::min<size_t>(limit, size_t(INT64_MAX))));
  if (identity) {
    s.text(2, *identity);
  }
  std::vector<SessionRow> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    out.push_back(read_row(s));
  }
  if (rc != SQLITE_DONE) {
    return Unexpected(db_error("list sessions"));
  }
  return out;
}

Result<SessionRow> SqliteStore::get_session(const std::string& id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, get_session_);
  s.text(1, id);
  int rc = s.step();
  if (rc == SQLITE_ROW) {
    return read_row(s);
  }
  if (rc == SQLITE_DONE) {
    return fail(ErrorCode::kNotFound, "no session " + id);
  }
  return Unexpected(db_error("get session " + id));
}

}  // namespace custos::store
