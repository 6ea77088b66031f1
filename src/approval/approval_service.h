#pragma once
// ApprovalService: the held statements of one gateway, the approvers who decide them, and the
// time-bound grants approvals create. Thread-safe: sessions create and wait on io threads,
// decisions arrive on HTTP server threads. Every change is written through to the
// ApprovalStore (when given) and announced to the WebhookNotifier (when given).
//
// Rules:
//   - an approver may decide a request when its name, or one of its groups as "group:NAME",
//     is in the hold rule's approvers; never its own request (approver name == identity);
//   - min_approvals distinct approvers approve it (the same approver twice counts once: the
//     second is a 409); one deny from an authorised approver denies it;
//   - at expires_at it expires; a decision after that, or after a withdrawal, is a 409;
//   - approving with grant_for creates a Grant for identity + connection + fingerprint.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "approval/approval.h"
#include "approval/held_statement.h"
#include "config/config.h"

namespace custos::approval {

class ApprovalStore;
class WebhookNotifier;

// The longest grant an approver may give.
inline constexpr std::chrono::hours kMaxGrant{24};

class ApprovalService {
 public:
  // `store` and `notifier` may be null (memory only / no webhooks); both must outlive this.
  // `instance` names this gateway among replicas sharing the store. With a store, requests a
  // previous process of the same instance left pending are marked orphaned (listed, no longer
  // decidable: their session is gone) and the active grants are loaded (start-up: throws
  // std::runtime_error when the store fails).
  ApprovalService(std::vector<config::Approver> approvers, std::string admin_url,
                  ApprovalStore* store = nullptr, WebhookNotifier* notifier = nullptr,
                  std::string instance = {});
  ~ApprovalService();
  ApprovalService(const ApprovalService&) = delete;
  ApprovalService& operator=(const ApprovalService&) = delete;

  // Holds a statement: a new pending request with a fresh id, expiring after req.timeout.
  std::shared_ptr<HeldStatement> create(HoldRequest req);

  // "<admin_url>/approvals/<id>" (for the NoticeResponse and webhooks).
  std::string url_for(std::string_view id) const;
  const std::string& admin_url() const { return admin_url_; }

  // The approver whose token this is (SHA-256 compared in constant time), or nullptr.
  const config::Approver* authenticate(std::string_view bearer_token) const;
  // May this approver decide this request (listed, and not its own)?
  bool may_decide(const config::Approver& approver, const Approval& a) const;

  [[nodiscard]] ApprovalResult<Approval> approve(
      const config::Approver& approver, const std::string& id, const std::string& reason,
      std::optional<std::chrono::seconds> grant_for = std::nullopt);
  [[nodiscard]] ApprovalResult<Approval> deny(const config::Approver& approver,
                                              const std::string& id, const std::string& reason);
  // The session no longer waits (client gone, cancelled): pending → withdrawn. False when it
  // was not pending.
  bool withdraw(const std::string& id, const std::string& reason = "the client disconnected");

  [[nodiscard]] ApprovalResult<Approval> get(const std::string& id);
  // Most recent first; status filter optional.
  [[nodiscard]] ApprovalResult<std::vector<Approval>> list(std::optional<Status> status,
                                                           size_t limit = 200);
  size_t pending_count();

  // An active grant for this statement shape, recording one use; nullopt when none.
  std::optional<Grant> find_grant(const std::string& identity, const std::string& connection,
                                  const std::string& fingerprint, Clock::time_point now);
  std::vector<Grant> list_grants(Clock::time_point now, bool include_inactive = false);
  [[nodiscard]] ApprovalResult<Grant> revoke_grant(const config::Approver& approver,
                                                   const std::string& id);

  // Used by HeldStatement::wait when its timer fires.
  void expire_if_due(HeldStatement& held);

 private:
  struct Change {
    std::string event;  // webhook event name; empty = none
    Approval approval;
  };

  bool listed(const config::Approver& approver, const std::vector<std::string>& entries) const;
  ApprovalResult<Approval> decide(const config::Approver& approver, const std::string& id,
                                  bool approve, const std::string& reason,
                                  std::optional<std::chrono::seconds> grant_for);
  // Ends a pending request (held->mu_ held by the caller).
  static void finish_locked(Approval& a, Status status, std::string reason, Clock::time_point now);
  // Expires every pending request past its deadline (mu_ held); returns what changed.
  std::vector<std::shared_ptr<HeldStatement>> expire_due_locked(Clock::time_point now);
  void persist(const Approval& a);
  void persist(const Grant& g);
  void announce(const std::string& event, const Approval& a);
  void prune_locked(Clock::time_point now);

  const std::vector<config::Approver> approvers_;
  const std::string admin_url_;
  const std::string instance_;
  ApprovalStore* store_;
  WebhookNotifier* notifier_;

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<HeldStatement>> held_;
  std::map<std::string, Grant> grants_;
};

}  // namespace custos::approval
