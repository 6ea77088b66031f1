#include "store/sqlite/sqlite_approval_store.h"

#include "store/sqlite/sqlite_db.h"

#include <nlohmann/json.hpp>

#include <filesystem>

namespace custos::store {
namespace {

using approval::Approval;
using approval::Clock;
using approval::Grant;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS approvals (
  id              TEXT PRIMARY KEY,
  session_id      TEXT NOT NULL DEFAULT '',
  identity        TEXT NOT NULL,
  connection      TEXT NOT NULL DEFAULT '',
  statement       TEXT NOT NULL DEFAULT '',
  kinds           TEXT NOT NULL DEFAULT '[]',
  tables          TEXT NOT NULL DEFAULT '[]',
  fingerprint     TEXT NOT NULL DEFAULT '',
  policy          TEXT NOT NULL DEFAULT '',
  rule            INTEGER NOT NULL DEFAULT 0,
  approvers       TEXT NOT NULL DEFAULT '[]',
  min_approvals   INTEGER NOT NULL DEFAULT 1,
  timeout_ms      INTEGER NOT NULL DEFAULT 0,
  preview         TEXT NOT NULL DEFAULT '',
  message         TEXT NOT NULL DEFAULT '',
  requested_at_us INTEGER NOT NULL,
  expires_at_us   INTEGER NOT NULL,
  status          TEXT NOT NULL,
  reason          TEXT NOT NULL DEFAULT '',
  decided_at_us   INTEGER,
  grant_id        TEXT NOT NULL DEFAULT '',
  owner           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS approvals_requested ON approvals(requested_at_us DESC);
CREATE INDEX IF NOT EXISTS approvals_status ON approvals(status, requested_at_us DESC);
CREATE TABLE IF NOT EXISTS approval_decisions (
  approval_id TEXT NOT NULL,
  seq         INTEGER NOT NULL,
  approver    TEXT NOT NULL,
  decision    TEXT NOT NULL,
  reason      TEXT NOT NULL DEFAULT '',
  at_us       INTEGER NOT NULL,
  PRIMARY KEY (approval_id, seq)
);
CREATE TABLE IF NOT EXISTS grants (
  id            TEXT PRIMARY KEY,
  approval_id   TEXT NOT NULL,
  identity      TEXT NOT NULL,
  connection    TEXT NOT NULL,
  fingerprint   TEXT NOT NULL,
  statement     TEXT NOT NULL DEFAULT '',
  approvers     TEXT NOT NULL DEFAULT '[]',
  granted_by    TEXT NOT NULL DEFAULT '[]',
  created_at_us INTEGER NOT NULL,
  expires_at_us INTEGER NOT NULL,
  revoked_at_us INTEGER,
  revoked_by    TEXT NOT NULL DEFAULT '',
  uses          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS grants_created ON grants(created_at_us DESC);
)sql";

constexpr const char* kApprovalColumns =
    "id, session_id, identity, connection, statement, kinds, tables, fingerprint, policy, rule, "
    "approvers, min_approvals, timeout_ms, preview, message, requested_at_us, expires_at_us, "
    "status, reason, decided_at_us, grant_id, owner";

std::string list_json(const std::vector<std::string>& v) {
  return nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::string> parse_list(const std::string& s) {
  nlohmann::json j = nlohmann::json::parse(s, nullptr, false);
  std::vector<std::string> out;
  if (j.is_array()) {
    for (const auto& e : j) {
      if (e.is_string()) {
        out.push_back(e.get<std::string>());
      }
    }
  }
  return out;
}

Approval read_approval(Stmt& s) {
  Approval a;
  a.id = s.col_text(0);
  a.request.session_id = s.col_text(1);
  a.request.identity = s.col_text(2);
  a.request.connection = s.col_text(3);
  a.request.statement = s.col_text(4);
  a.request.kinds = parse_list(s.col_text(5));
  a.request.tables = parse_list(s.col_text(6));
  a.request.fingerprint = s.col_text(7);
  a.request.policy = s.col_text(8);
  a.request.rule = static_cast<int>(s.col_i64(9));
  a.request.approvers = parse_list(s.col_text(10));
  a.request.min_approvals = static_cast<int>(s.col_i64(11));
  a.request.timeout = std::chrono::milliseconds(s.col_i64(12));
  a.request.preview_text = s.col_text(13);
  a.request.message = s.col_text(14);
  a.requested_at = s.col_time(15);
  a.expires_at = s.col_time(16);
  a.status = approval::status_from_name(s.col_text(17)).value_or(approval::Status::kExpired);
  a.reason = s.col_text(18);
  a.decided_at = s.col_opt_time(19);
  a.grant_id = s.col_text(20);
  a.owner = s.col_text(21);
  return a;
}

}  // namespace

Result<std::unique_ptr<SqliteApprovalStore>> SqliteApprovalStore::open(const std::string& path) {
  auto db = open_sqlite_db(path, "approvals store", SQLITE_OPEN_FULLMUTEX);
  if (!db) {
    return Unexpected(db.error());
  }
  std::unique_ptr<SqliteApprovalStore> s(new SqliteApprovalStore());
  s->db_ = *db;
  if (Result<void> r = s->exec(kSchema); !r) {
    return Unexpected(r.error());
  }
  if (Result<void> r = s->add_owner_column(); !r) {
    return Unexpected(r.error());
  }
  return s;
}

SqliteApprovalStore::~SqliteApprovalStore() { sqlite3_close_v2(db_); }

Error SqliteApprovalStore::db_error(const std::string& what) const {
  return Error{ErrorCode::kIo, "approvals store: " + what + ": " + sqlite3_errmsg(db_)};
}

Result<void> SqliteApprovalStore::exec(const char* sql) {
  return exec_sql(db_, sql, "approvals store");
}

Result<void> SqliteApprovalStore::save_approval(const Approval& a) {
  std::lock_guard lock(mu_);
  if (Result<void> r = exec("BEGIN IMMEDIATE"); !r) {
    return r;
  }
  auto rollback = [&](const std::string& what) {
    Error e = db_error(what);
    (void)exec("ROLLBACK");
    return Unexpected(std::move(e));
  };
  {
    std::string sql = std::string("INSERT OR REPLACE INTO approvals (") + kApprovalColumns +
                      ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
    Stmt s(db_, sql.c_str());
    if (!s.ok()) {
      return rollback("prepare");
    }
    const approval::HoldRequest& r = a.request;
    s.text(1, a.id);
    s.text(2, r.session_id);
    s.text(3, r.identity);
    s.text(4, r.connection);
    s.text(5, r.statement);
    s.text(6, list_json(r.kinds));
    s.text(7, list_json(r.tables));
    s.text(8, r.fingerprint);
    s.text(9, r.policy);
    s.i64(10, r.rule);
    s.text(11, list_json(r.approvers));
    s.i64(12, r.min_approvals);
    s.i64(13, r.timeout.count());
    s.text(14, r.preview_text);
    s.text(15, r.message);
    s.time(16, a.requested_at);
    s.time(17, a.expires_at);
    s.text(18, std::string(approval::status_name(a.status)));
    s.text(19, a.reason);
    s.time(20, a.decided_at);
    s.text(21, a.grant_id);
    s.text(22, a.owner);
    if (sqlite3_step(s.get()) != SQLITE_DONE) {
      return rollback("save request");
    }
  }
  {
    Stmt del(db_, "DELETE FROM approval_decisions WHERE approval_id = ?");
    if (!del.ok()) {
      return rollback("prepare");
    }
    del.text(1, a.id);
    if (sqlite3_step(del.get()) != SQLITE_DONE) {
      return rollback("save decisions");
    }
  }
  for (size_t i = 0; i < a.decisions.size(); ++i) {
    const approval::DecisionRecord& d = a.decisions[i];
    Stmt s(db_,
           "INSERT INTO approval_decisions (approval_id, seq, approver, decision, reason, at_us) "
           "VALUES (?,?,?,?,?,?)");
    if (!s.ok()) {
      return rollback("prepare");
    }
    s.text(1, a.id);
    s.i64(2, static_cast<int64_t>(i));
    s.text(3, d.approver);
    s.text(4, d.approve ? "approve" : "deny");
    s.text(5, d.reason);
    s.time(6, d.at);
    if (sqlite3_step(s.get()) != SQLITE_DONE) {
      return rollback("save decision");
    }
  }
  return exec("COMMIT");
}

Result<std::vector<Approval>> SqliteApprovalStore::query_approvals(const std::string& where,
                                                                   const std::string& bind1,
                                                                   size_t limit) {
  std::string sql = std::string("SELECT ") + kApprovalColumns + " FROM approvals " + where +
                    " ORDER BY requested_at_us DESC, id LIMIT ?";
  Stmt s(db_, sql.c_str());
  if (!s.ok()) {
    return Unexpected(db_error("prepare"));
  }
  int next = 1;
  if (!bind1.empty() || where.find('?') != std::string::npos) {
    s.text(next++, bind1);
  }
  s.i64(next, static_cast<int64_t>(limit));
  std::vector<Approval> out;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    out.push_back(read_approval(s));
  }
  if (rc != SQLITE_DONE) {
    return Unexpected(db_error("list requests"));
  }
  for (Approval& a : out) {
    Stmt d(db_,
           "SELECT approver, decision, reason, at_us FROM approval_decisions WHERE approval_id = ? "
           "ORDER BY seq");
    if (!d.ok()) {
      return Unexpected(db_error("prepare"));
    }
    d.text(1, a.id);
    while ((rc = sqlite3_step(d.get())) == SQLITE_ROW) {
      a.decisions.push_back(approval::DecisionRecord{d.col_text(0), d.col_text(1) == "approve",
                                                     d.col_text(2), d.col_time(3)});
    }
    if (rc != SQLITE_DONE) {
      return Unexpected(db_error("list decisions"));
    }
  }
  return out;
}

Result<Approval> SqliteApprovalStore::get_approval(const std::string& id) {
  std::lock_guard lock(mu_);
  Result<std::vector<Approval>> r = query_approvals("WHERE id = ?", id, 1);
  if (!r) {
    return Unexpected(r.error());
  }
  if (r->empty()) {
    return fail(ErrorCode::kNotFound, "no approval request " + id);
  }
  return std::move(r->front());
}

Result<std::vector<Approval>> SqliteApprovalStore::list_approvals(
    const std::optional<std::string>& status, size_t limit) {
  std::lock_guard lock(mu_);
  return status ? query_approvals("WHERE status = ?", *status, limit)
                : query_approvals("", "", limit);
}

Result<std::vector<Approval>> SqliteApprovalStore::orphan_pending(const std::string& owner,
                                                                 const std::string& reason,
                                                                 Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (Result<void> r = exec("BEGIN IMMEDIATE"); !r) {
    return Unexpected(r.error());
  }
  auto rollback = [&](const std::string& what) {
    Error e = db_error(what);
    (void)exec("ROLLBACK");
    return Unexpected(std::move(e));
  };
  Stmt s(db_,
         "UPDATE approvals SET status = 'orphaned', reason = ?, decided_at_us = ? "
         "WHERE status = 'pending' AND owner IN (?, '') RETURNING id");
  if (!s.ok()) {
    return rollback("prepare");
  }
  s.text(1, reason);
  s.time(2, now);
  s.text(3, owner);
  std::vector<std::string> ids;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    ids.push_back(s.col_text(0));
  }
  if (rc != SQLITE_DONE) {
    return rollback("orphan pending requests");
  }
  std::vector<Approval> out;
  for (const std::string& id : ids) {
    Result<std::vector<Approval>> r = query_approvals("WHERE id = ?", id, 1);
    if (!r) {
      (void)exec("ROLLBACK");
      return Unexpected(r.error());
    }
    for (Approval& a : *r) {
      out.push_back(std::move(a));
    }
  }
  if (Result<void> r = exec("COMMIT"); !r) {
    return Unexpected(r.error());
  }
  return out;
}

Result<void> SqliteApprovalStore::add_owner_column() {
  // Stores written before requests carried their owner: add the column (empty = the one
  // instance that used the store then).
  Stmt s(db_, "SELECT 1 FROM pragma_table_info('approvals') WHERE name = 'owner'");
  if (!s.ok()) {
    return Unexpected(db_error("prepare"));
  }
  const int rc = sqlite3_step(s.get());
  if (rc == SQLITE_ROW) {
    return {};
  }
  if (rc != SQLITE_DONE) {
    return Unexpected(db_error("read schema"));
  }
  return exec("ALTER TABLE approvals ADD COLUMN owner TEXT NOT NULL DEFAULT ''");
}

Result<void> SqliteApprovalStore::save_grant(const Grant& g) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "INSERT OR REPLACE INTO grants (id, approval_id, identity, connection, fingerprint, "
         "statement, approvers, granted_by, created_at_us, expires_at_us, revoked_at_us, "
         "revoked_by, uses) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!s.ok()) {
    return Unexpected(db_error("prepare"));
  }
  s.text(1, g.id);
  s.text(2, g.approval_id);
  s.text(3, g.identity);
  s.text(4, g.connection);
  s.text(5, g.fingerprint);
  s.text(6, g.statement);
  s.text(7, list_json(g.approvers));
  s.text(8, list_json(g.granted_by));
  s.time(9, g.created_at);
  s.time(10, g.expires_at);
  s.time(11, g.revoked_at);
  s.text(12, g.revoked_by);
  s.i64(13, static_cast<int64_t>(g.uses));
  if (sqlite3_step(s.get()) != SQLITE_DONE) {
    return Unexpected(db_error("save grant"));
  }
  return {};
}

Result<std::vector<Grant>> SqliteApprovalStore::list_grants(size_t limit) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "SELECT id, approval_id, identity, connection, fingerprint, statement, approvers, "
         "granted_by, created_at_us, expires_at_us, revoked_at_us, revoked_by, uses FROM grants "
         "ORDER BY created_at_us DESC, id LIMIT ?");
  if (!s.ok()) {
    return Unexpected(db_error("prepare"));
  }
  s.i64(1, static_cast<int64_t>(limit));
  std::vector<Grant> out;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    Grant g;
    g.id = s.col_text(0);
    g.approval_id = s.col_text(1);
    g.identity = s.col_text(2);
    g.connection = s.col_text(3);
    g.fingerprint = s.col_text(4);
    g.statement = s.col_text(5);
    g.approvers = parse_list(s.col_text(6));
    g.granted_by = parse_list(s.col_text(7));
    g.created_at = s.col_time(8);
    g.expires_at = s.col_time(9);
    g.revoked_at = s.col_opt_time(10);
    g.revoked_by = s.col_text(11);
    g.uses = static_cast<uint64_t>(s.col_i64(12));
    out.push_back(std::move(g));
  }
  if (rc != SQLITE_DONE) {
    return Unexpected(db_error("list grants"));
  }
  return out;
}

}  // namespace custos::store
