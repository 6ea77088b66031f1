#pragma once
// SqliteKeyStore: KeyStore on its own tables (api_keys, exchange_tokens) of the embedded SQLite
// file, through its own connection, so the session index code is untouched. Reads the sessions
// table only for identity_activity.

#include <sqlite3.h>

#include <mutex>
#include <string>

#include "store/key_store.h"

namespace custos::store {

class SqliteKeyStore : public KeyStore {
 public:
  // Opens (creating the file and tables if needed).
  [[nodiscard]] static Result<std::unique_ptr<SqliteKeyStore>> open(const std::string& path);
  ~SqliteKeyStore() override;

  Result<void> insert_key(const StoredKey& key) override;
  Result<StoredKey> get_key(const std::string& key_id) override;
  Result<std::vector<StoredKey>> list_keys(const std::string& identity) override;
  Result<void> set_grace(const std::string& key_id, TimePoint grace_until) override;
  Result<void> revoke(const std::string& key_or_token_id, TimePoint now) override;
  Result<void> set_last_used(const std::string& key_id, TimePoint when) override;
  Result<void> insert_token(const StoredToken& token) override;
  Result<StoredToken> get_token(const std::string& token_id) override;
  Result<std::vector<std::string>> revoked_key_ids_since(TimePoint since) override;
  Result<std::vector<IdentityActivity>> identity_activity(TimePoint now) override;

 private:
  explicit SqliteKeyStore(sqlite3* db) : db_(db) {}
  Result<void> exec(const char* sql);

  std::mutex mu_;
  sqlite3* db_;
};

}  // namespace custos::store
