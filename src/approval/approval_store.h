#pragma once
// ApprovalStore: the interface the approval service persists through (implemented by the
// store backends, store/sqlite/...): persistence of held-statement requests, their decisions, and grants, so that
// `custos approvals list` shows history after a restart. Implementations are thread-safe.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "approval/approval.h"
#include "core/result.h"

namespace custos::approval {

class ApprovalStore {
 public:
  virtual ~ApprovalStore() = default;

  // Inserts or replaces the request with its decisions.
  [[nodiscard]] virtual Result<void> save_approval(const Approval& a) = 0;
  // kNotFound when there is no such request.
  [[nodiscard]] virtual Result<Approval> get_approval(const std::string& id) = 0;
  // Most recent first; status "pending", "approved", ... or all.
  [[nodiscard]] virtual Result<std::vector<Approval>> list_approvals(
      const std::optional<std::string>& status, size_t limit) = 0;
  // Marks the pending requests of this owner (and those stored without one) orphaned with
  // `reason` (start-up); returns them as they now are.
  [[nodiscard]] virtual Result<std::vector<Approval>> orphan_pending(
      const std::string& owner, const std::string& reason, Clock::time_point now) = 0;

  // Inserts or replaces the grant.
  [[nodiscard]] virtual Result<void> save_grant(const Grant& g) = 0;
  // Most recent first.
  [[nodiscard]] virtual Result<std::vector<Grant>> list_grants(size_t limit) = 0;
};

}  // namespace custos::approval
