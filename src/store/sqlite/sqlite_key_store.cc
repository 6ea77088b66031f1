#include "store/sqlite/sqlite_key_store.h"

#include "store/sqlite/sqlite_db.h"

#include <chrono>

namespace custos::store {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS api_keys (
  key_id         TEXT PRIMARY KEY,
  identity       TEXT NOT NULL,
  sha256         TEXT NOT NULL UNIQUE,
  created_at_us  INTEGER NOT NULL,
  expires_at_us  INTEGER,
  revoked_at_us  INTEGER,
  rotated_from   TEXT NOT NULL DEFAULT '',
  grace_until_us INTEGER,
  last_used_at_us INTEGER
);
CREATE INDEX IF NOT EXISTS api_keys_identity ON api_keys(identity);
CREATE INDEX IF NOT EXISTS api_keys_revoked ON api_keys(revoked_at_us);
CREATE TABLE IF NOT EXISTS exchange_tokens (
  token_id       TEXT PRIMARY KEY,
  identity       TEXT NOT NULL,
  sha256         TEXT NOT NULL UNIQUE,
  token_jti      TEXT NOT NULL DEFAULT '',
  token_sub      TEXT NOT NULL DEFAULT '',
  created_at_us  INTEGER NOT NULL,
  expires_at_us  INTEGER NOT NULL,
  revoked_at_us  INTEGER
);
CREATE INDEX IF NOT EXISTS exchange_tokens_revoked ON exchange_tokens(revoked_at_us);
CREATE INDEX IF NOT EXISTS exchange_tokens_expires ON exchange_tokens(expires_at_us);
)sql";

Unexpected db_error(const std::string& what, const Stmt& s) {
  return fail(ErrorCode::kInternal, "key store: " + what + ": " + s.error());
}

constexpr const char* kKeyColumns =
    "key_id, identity, sha256, created_at_us, expires_at_us, revoked_at_us, rotated_from, "
    "grace_until_us, last_used_at_us";

StoredKey read_key(Stmt& s) {
  StoredKey k;
  k.key_id = s.col_text(0);
  k.identity = s.col_text(1);
  k.sha256_hex = s.col_text(2);
  k.created_at = s.col_time(3);
  k.expires_at = s.col_opt_time(4);
  k.revoked_at = s.col_opt_time(5);
  k.rotated_from = s.col_text(6);
  k.grace_until = s.col_opt_time(7);
  k.last_used_at = s.col_opt_time(8);
  return k;
}

}  // namespace

Result<std::unique_ptr<KeyStore>> open_sqlite_key_store(const std::string& path) {
  Result<std::unique_ptr<SqliteKeyStore>> s = SqliteKeyStore::open(path);
  if (!s) {
    return fail(s.error().code, s.error().message);
  }
  return std::unique_ptr<KeyStore>(std::move(*s));
}

Result<std::unique_ptr<SqliteKeyStore>> SqliteKeyStore::open(const std::string& path) {
  auto db = open_sqlite_db(path, "key store");
  if (!db) {
    return fail(db.error().code, db.error().message);
  }
  std::unique_ptr<SqliteKeyStore> store(new SqliteKeyStore(*db));
  if (Result<void> r = store->exec(kSchema); !r) {
    return fail(r.error().code, r.error().message);
  }
  return store;
}

SqliteKeyStore::~SqliteKeyStore() { sqlite3_close_v2(db_); }

Result<void> SqliteKeyStore::exec(const char* sql) { return exec_sql(db_, sql, "key store"); }

Result<void> SqliteKeyStore::insert_key(const StoredKey& key) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "INSERT INTO api_keys (key_id, identity, sha256, created_at_us, expires_at_us, "
         "revoked_at_us, rotated_from, grace_until_us, last_used_at_us) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  if (!s.ok()) {
    return db_error("insert key", s);
  }
  s.text(1, key.key_id).text(2, key.identity).text(3, key.sha256_hex).time(4, key.created_at);
  s.time(5, key.expires_at).time(6, key.revoked_at).text(7, key.rotated_from);
  s.time(8, key.grace_until).time(9, key.last_used_at);
  if (s.step() != SQLITE_DONE) {
    return db_error("insert key", s);
  }
  return {};
}

Result<StoredKey> SqliteKeyStore::get_key(const std::string& key_id) {
  std::lock_guard lock(mu_);
  std::string sql = std::string("SELECT ") + kKeyColumns + " FROM api_keys WHERE key_id = ?1";
  Stmt s(db_, sql.c_str());
  if (!s.ok()) {
    return db_error("get key", s);
  }
  s.text(1, key_id);
  int rc = s.step();
  if (rc == SQLITE_ROW) {
    return read_key(s);
  }
  if (rc == SQLITE_DONE) {
    return fail(ErrorCode::kNotFound, "no key " + key_id);
  }
  return db_error("get key", s);
}

Result<std::vector<StoredKey>> SqliteKeyStore::list_keys(const std::string& identity) {
  std::lock_guard lock(mu_);
  std::string sql = std::string("SELECT ") + kKeyColumns +
                    " FROM api_keys WHERE ?1 = '' OR identity = ?1 ORDER BY created_at_us, key_id";
  Stmt s(db_, sql.c_str());
  if (!s.ok()) {
    return db_error("list keys", s);
  }
  s.text(1, identity);
  std::vector<StoredKey> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    out.push_back(read_key(s));
  }
  if (rc != SQLITE_DONE) {
    return db_error("list keys", s);
  }
  return out;
}

Result<void> SqliteKeyStore::set_grace(const std::string& key_id, TimePoint grace_until) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "UPDATE api_keys SET grace_until_us = ?2 WHERE key_id = ?1");
  if (!s.ok()) {
    return db_error("rotate key", s);
  }
  s.text(1, key_id).time(2, grace_until);
  if (s.step() != SQLITE_DONE) {
    return db_error("rotate key", s);
  }
  if (sqlite3_changes(db_) == 0) {
    return fail(ErrorCode::kNotFound, "no key " + key_id);
  }
  return {};
}

Result<void> SqliteKeyStore::revoke(const std::string& id, TimePoint now) {
  std::lock_guard lock(mu_);
  int changed = 0;
  bool exists = false;
  for (const char* sql :
       {"UPDATE api_keys SET revoked_at_us = COALESCE(revoked_at_us, ?2) WHERE key_id = ?1",
        "UPDATE exchange_tokens SET revoked_at_us = COALESCE(revoked_at_us, ?2) "
        "WHERE token_id = ?1"}) {
    Stmt s(db_, sql);
    if (!s.ok()) {
      return db_error("revoke", s);
    }
    s.text(1, id).time(2, now);
    if (s.step() != SQLITE_DONE) {
      return db_error("revoke", s);
    }
    changed = sqlite3_changes(db_);
    exists = exists || changed > 0;
  }
  if (!exists) {
    return fail(ErrorCode::kNotFound, "no key or token " + id);
  }
  return {};
}

Result<void> SqliteKeyStore::set_last_used(const std::string& key_id, TimePoint when) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "UPDATE api_keys SET last_used_at_us = MAX(COALESCE(last_used_at_us, 0), ?2) "
         "WHERE key_id = ?1");
  if (!s.ok()) {
    return db_error("touch key", s);
  }
  s.text(1, key_id).time(2, when);
  if (s.step() != SQLITE_DONE) {
    return db_error("touch key", s);
  }
  return {};
}

Result<void> SqliteKeyStore::insert_token(const StoredToken& t) {
  std::lock_guard lock(mu_);
  // Expired tokens are useless: drop those more than a day past expiry while here.
  Stmt purge(db_, "DELETE FROM exchange_tokens WHERE expires_at_us < ?1");
  if (purge.ok()) {
    purge.time(1, t.created_at - std::chrono::hours(24));
    (void)purge.step();
  }
  Stmt s(db_,
         "INSERT INTO exchange_tokens (token_id, identity, sha256, token_jti, token_sub, "
         "created_at_us, expires_at_us, revoked_at_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!s.ok()) {
    return db_error("insert token", s);
  }
  s.text(1, t.token_id).text(2, t.identity).text(3, t.sha256_hex).text(4, t.token_jti);
  s.text(5, t.token_sub).time(6, t.created_at).time(7, t.expires_at);
  s.time(8, t.revoked_at);
  if (s.step() != SQLITE_DONE) {
    return db_error("insert token", s);
  }
  return {};
}

Result<StoredToken> SqliteKeyStore::get_token(const std::string& token_id) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "SELECT token_id, identity, sha256, token_jti, token_sub, created_at_us, expires_at_us, "
         "revoked_at_us FROM exchange_tokens WHERE token_id = ?1");
  if (!s.ok()) {
    return db_error("get token", s);
  }
  s.text(1, token_id);
  int rc = s.step();
  if (rc == SQLITE_DONE) {
    return fail(ErrorCode::kNotFound, "no token " + token_id);
  }
  if (rc != SQLITE_ROW) {
    return db_error("get token", s);
  }
  StoredToken t;
  t.token_id = s.col_text(0);
  t.identity = s.col_text(1);
  t.sha256_hex = s.col_text(2);
  t.token_jti = s.col_text(3);
  t.token_sub = s.col_text(4);
  t.created_at = s.col_time(5);
  t.expires_at = s.col_time(6);
  t.revoked_at = s.col_opt_time(7);
  return t;
}

Result<std::vector<std::string>> SqliteKeyStore::revoked_key_ids_since(TimePoint since) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "SELECT key_id FROM api_keys WHERE revoked_at_us >= ?1 UNION ALL "
         "SELECT token_id FROM exchange_tokens WHERE revoked_at_us >= ?1");
  if (!s.ok()) {
    return db_error("revoked ids", s);
  }
  s.time(1, since);
  std::vector<std::string> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    out.push_back(s.col_text(0));
  }
  if (rc != SQLITE_DONE) {
    return db_error("revoked ids", s);
  }
  return out;
}

Result<std::vector<IdentityActivity>> SqliteKeyStore::identity_activity(TimePoint now) {
  std::lock_guard lock(mu_);
  {
    Stmt exists(db_, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sessions'");
    if (!exists.ok() || exists.step() != SQLITE_ROW) {
      return std::vector<IdentityActivity>{};
    }
  }
  std::vector<IdentityActivity> out;
  Stmt s(db_,
         "SELECT identity, MAX(started_at_us), "
         "SUM(CASE WHEN started_at_us >= ?1 THEN 1 ELSE 0 END), "
         "SUM(CASE WHEN started_at_us >= ?1 THEN statements ELSE 0 END) "
         "FROM sessions WHERE status != 'auth_failed' GROUP BY identity ORDER BY identity");
  if (!s.ok()) {
    return db_error("session activity", s);
  }
  s.time(1, now - std::chrono::days(30));
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    IdentityActivity a;
    a.identity = s.col_text(0);
    a.last_seen = s.col_opt_time(1);
    a.sessions_30d = uint64_t(s.col_i64(2));
    a.statements_30d = uint64_t(s.col_i64(3));
    out.push_back(std::move(a));
  }
  if (rc != SQLITE_DONE) {
    return db_error("session activity", s);
  }
  Stmt c(db_,
         "SELECT DISTINCT identity, connection FROM sessions WHERE status != 'auth_failed' "
         "AND connection != '' ORDER BY identity, connection");
  if (!c.ok()) {
    return db_error("session activity", c);
  }
  while ((rc = c.step()) == SQLITE_ROW) {
    std::string identity = c.col_text(0);
    for (IdentityActivity& a : out) {
      if (a.identity == identity) {
        a.connections.push_back(c.col_text(1));
      }
    }
  }
  if (rc != SQLITE_DONE) {
    return db_error("session activity", c);
  }
  return out;
}

}  // namespace custos::store
