#pragma once
// SqliteApprovalStore: the approvals tables (approvals, approval_decisions, grants) in the same
// SQLite file as SqliteStore, over a connection of its own (WAL mode, busy_timeout 5000 ms) so
// the two never share a statement or a lock. Tables are created with IF NOT EXISTS.

#include <sqlite3.h>

#include <memory>
#include <mutex>
#include <string>

#include "approval/approval_store.h"

namespace custos::store {

class SqliteApprovalStore final : public approval::ApprovalStore {
 public:
  // Creates parent directories and the file if needed, and the tables.
  [[nodiscard]] static Result<std::unique_ptr<SqliteApprovalStore>> open(const std::string& path);
  ~SqliteApprovalStore() override;
  SqliteApprovalStore(const SqliteApprovalStore&) = delete;
  SqliteApprovalStore& operator=(const SqliteApprovalStore&) = delete;

  [[nodiscard]] Result<void> save_approval(const approval::Approval& a) override;
  [[nodiscard]] Result<approval::Approval> get_approval(const std::string& id) override;
  [[nodiscard]] Result<std::vector<approval::Approval>> list_approvals(
      const std::optional<std::string>& status, size_t limit) override;
  [[nodiscard]] Result<std::vector<approval::Approval>> orphan_pending(
      const std::string& owner, const std::string& reason,
      approval::Clock::time_point now) override;
  [[nodiscard]] Result<void> save_grant(const approval::Grant& g) override;
  [[nodiscard]] Result<std::vector<approval::Grant>> list_grants(size_t limit) override;

 private:
  SqliteApprovalStore() = default;
  Result<void> exec(const char* sql);
  Result<void> add_owner_column();
  Result<std::vector<approval::Approval>> query_approvals(const std::string& where,
                                                          const std::string& bind1,
                                                          size_t limit);
  Error db_error(const std::string& what) const;

  std::mutex mu_;
  sqlite3* db_ = nullptr;
};

}  // namespace custos::store
