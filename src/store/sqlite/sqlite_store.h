#pragma once
// SqliteStore: the embedded default store. WAL mode, synchronous=NORMAL, busy_timeout 5000 ms.
// One connection guarded by a mutex (called from several io threads); prepared statements are
// prepared once and reused. Schema migrations are numbered; `schema_version` holds the latest
// applied, so later migrations (approvals, grants, keys) append to the list in the .cc.

#include <sqlite3.h>

#include <memory>
#include <mutex>
#include <string>

#include "store/store.h"

namespace custos::store {

class SqliteStore final : public Store {
 public:
  // Creates parent directories and the database file if needed, then migrates.
  [[nodiscard]] static Result<std::unique_ptr<SqliteStore>> open(const std::string& path);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  [[nodiscard]] Result<void> record_session_start(const SessionRow& row) override;
  [[nodiscard]] Result<void> record_session_end(const std::string& id,
                                                std::chrono::system_clock::time_point end_time,
                                                const std::string& close_reason,
                                                uint64_t statements, uint64_t bytes_from_client,
                                                uint64_t bytes_from_target) override;
  [[nodiscard]] Result<std::vector<SessionRow>> list_sessions(
      size_t limit, const std::optional<std::string>& identity = std::nullopt) override;
  [[nodiscard]] Result<SessionRow> get_session(const std::string& id) override;

  int schema_version();
  const std::string& path() const { return path_; }

 private:
  explicit SqliteStore(std::string path) : path_(std::move(path)) {}
  Result<void> exec(const char* sql);
  Result<void> migrate();
  Result<sqlite3_stmt*> prepare(const char* sql);
  Error db_error(const std::string& what) const;

  std::string path_;
  std::mutex mu_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_session_ = nullptr;
  sqlite3_stmt* end_session_ = nullptr;
  sqlite3_stmt* list_all_ = nullptr;
  sqlite3_stmt* list_identity_ = nullptr;
  sqlite3_stmt* get_session_ = nullptr;
};

}  // namespace custos::store
