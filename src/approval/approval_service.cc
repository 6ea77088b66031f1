#include "approval/approval_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <stdexcept>

#include "approval/approval_json.h"
#include "approval/webhook_notifier.h"
#include "core/hex.h"
#include "approval/approval_store.h"

namespace custos::approval {
namespace {

constexpr std::string_view kIdAlphabet = "abcdefghijklmnopqrstuvwxyz234567";
constexpr size_t kIdLength = 10;  // 50 random bits
// Finished requests stay in memory this long (then only in the store, when there is one).
constexpr auto kKeepFinished = std::chrono::hours(1);

std::string new_id() {
  core::Bytes b = core::random_bytes(kIdLength);
  std::string id(kIdLength, 'a');
  for (size_t i = 0; i < kIdLength; ++i) {
    id[i] = kIdAlphabet[b[i] % kIdAlphabet.size()];  // 256 % 32 == 0: unbiased
  }
  return id;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) {
    out += out.empty() ? "" : ", ";
    out += s;
  }
  return out;
}

}  // namespace

std::string_view status_name(Status s) {
  switch (s) {
    case Status::kPending:
      return "pending";
    case Status::kApproved:
      return "approved";
    case Status::kDenied:
      return "denied";
    case Status::kExpired:
      return "expired";
    case Status::kWithdrawn:
      return "withdrawn";
    case Status::kOrphaned:
      return "orphaned";
  }
  return "pending";
}

std::optional<Status> status_from_name(std::string_view name) {
  for (Status s : {Status::kPending, Status::kApproved, Status::kDenied, Status::kExpired,
                   Status::kWithdrawn, Status::kOrphaned}) {
    if (status_name(s) == name) {
      return s;
    }
  }
  return std::nullopt;
}

int http_status(ApprovalErrorCode code) {
  switch (code) {
    case ApprovalErrorCode::kUnauthenticated:
      return 401;
    case ApprovalErrorCode::kForbidden:
      return 403;
    case ApprovalErrorCode::kNotFound:
      return 404;
    case ApprovalErrorCode::kConflict:
      return 409;
    case ApprovalErrorCode::kInvalid:
      return 400;
    case ApprovalErrorCode::kUnavailable:
      return 503;
  }
  return 500;
}

std::string format_duration(std::chrono::milliseconds d) {
  using namespace std::chrono;
  int64_t ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0) {
    return std::to_string(ms / 3'600'000) + "h";
  }
  if (ms != 0 && ms % 60'000 == 0) {
    return std::to_string(ms / 60'000) + "m";
  }
  if (ms % 1000 == 0) {
    return std::to_string(ms / 1000) + "s";
  }
  return std::to_string(ms) + "ms";
}

ApprovalService::ApprovalService(std::vector<config::Approver> approvers, std::string admin_url,
                                 ApprovalStore* store, WebhookNotifier* notifier,
                                 std::string instance)
    : approvers_(std::move(approvers)),
      admin_url_(std::move(admin_url)),
      instance_(std::move(instance)),
      store_(store),
      notifier_(notifier) {
  if (!store_) {
    return;
  }
  Result<std::vector<Approval>> orphaned = store_->orphan_pending(
      instance_, "the gateway restarted while the statement was held; send it again",
      Clock::now());
  if (!orphaned) {
    throw std::runtime_error("approvals store: " + orphaned.error().message);
  }
  if (!orphaned->empty()) {
    spdlog::info("approvals: {} request(s) left pending by a previous run of instance '{}' "
                 "marked orphaned",
                 orphaned->size(), instance_);
  }
  for (const Approval& a : *orphaned) {
    announce("orphaned", a);
  }
  Result<std::vector<Grant>> grants = store_->list_grants(10000);
  if (!grants) {
    throw std::runtime_error("approvals store: " + grants.error().message);
  }
  const Clock::time_point now = Clock::now();
  for (Grant& g : *grants) {
    if (g.active(now)) {
      grants_.emplace(g.id, std::move(g));
    }
  }
}

ApprovalService::~ApprovalService() = default;

std::shared_ptr<HeldStatement> ApprovalService::create(HoldRequest req) {
  const Clock::time_point now = Clock::now();
  Approval a;
  a.requested_at = now;
  a.expires_at = now + std::chrono::duration_cast<Clock::duration>(req.timeout);
  a.request = std::move(req);
  a.request.min_approvals = std::max(1, a.request.min_approvals);
  a.owner = instance_;
  std::shared_ptr<HeldStatement> held;
  {
    std::lock_guard lock(mu_);
    prune_locked(now);
    do {
      a.id = new_id();
    } while (held_.contains(a.id));
    held = std::make_shared<HeldStatement>(*this, a);
    held_.emplace(a.id, held);
    persist(a);
  }
  announce("created", a);
  return held;
}

std::string ApprovalService::url_for(std::string_view id) const {
  return admin_url_ + "/approvals/" + std::string(id);
}

const config::Approver* ApprovalService::authenticate(std::string_view bearer_token) const {
  if (bearer_token.empty()) {
    return nullptr;
  }
  const std::string digest = core::sha256_hex(bearer_token);
  const config::Approver* found = nullptr;
  for (const config::Approver& a : approvers_) {  // no early exit: same work for every token
    if (core::constant_time_equal(digest, a.token_sha256) && !found) {
      found = &a;
    }
  }
  return found;
}

bool ApprovalService::listed(const config::Approver& approver,
                             const std::vector<std::string>& entries) const {
  for (const std::string& e : entries) {
    if (e.starts_with("group:")) {
      std::string_view g = std::string_view(e).substr(6);
      if (std::find(approver.groups.begin(), approver.groups.end(), g) != approver.groups.end()) {
        return true;
      }
    } else if (e == approver.name) {
      return true;
    }
  }
  return false;
}

bool ApprovalService::may_decide(const config::Approver& approver, const Approval& a) const {
  return approver.name != a.request.identity && listed(approver, a.request.approvers);
}

void ApprovalService::finish_locked(Approval& a, Status status, std::string reason,
                                    Clock::time_point now) {
  a.status = status;
  a.reason = std::move(reason);
  a.decided_at = now;
}

ApprovalResult<Approval> ApprovalService::approve(const config::Approver& approver,
                                                  const std::string& id,
                                                  const std::string& reason,
                                                  std::optional<std::chrono::seconds> grant_for) {
  return decide(approver, id, true, reason, grant_for);
}

ApprovalResult<Approval> ApprovalService::deny(const config::Approver& approver,
                                               const std::string& id, const std::string& reason) {
  return decide(approver, id, false, reason, std::nullopt);
}

ApprovalResult<Approval> ApprovalService::decide(const config::Approver& approver,
                                                 const std::string& id, bool approve,
                                                 const std::string& reason,
                                                 std::optional<std::chrono::seconds> grant_for) {
  if (grant_for && (*grant_for <= std::chrono::seconds(0) || *grant_for > kMaxGrant)) {
    return approval_error(ApprovalErrorCode::kInvalid,
                          "grant_for must be between 1s and " + format_duration(kMaxGrant));
  }
  const Clock::time_point now = Clock::now();
  std::vector<std::shared_ptr<HeldStatement>> expired;
  std::shared_ptr<HeldStatement> held;
  bool finished = false;
  std::optional<Grant> grant;
  ApprovalResult<Approval> result = [&]() -> ApprovalResult<Approval> {
    std::lock_guard lock(mu_);
    expired = expire_due_locked(now);
    auto it = held_.find(id);
    if (it == held_.end()) {
      if (store_) {
        Result<Approval> stored = store_->get_approval(id);
        if (stored) {
          return approval_error(ApprovalErrorCode::kConflict,
                                "approval " + id + " is already " +
                                    std::string(status_name(stored->status)));
        }
      }
      return approval_error(ApprovalErrorCode::kNotFound, "no approval request " + id);
    }
    held = it->second;
    Approval after;
    {
      std::lock_guard hl(held->mu_);
      Approval& a = held->state_;
      if (a.status != Status::kPending) {
        return approval_error(ApprovalErrorCode::kConflict, "approval " + id + " is already " +
                                                                std::string(status_name(a.status)));
      }
      if (approver.name == a.request.identity) {
        return approval_error(ApprovalErrorCode::kForbidden,
                              "you cannot decide a request made by your own identity");
      }
      if (!listed(approver, a.request.approvers)) {
        return approval_error(ApprovalErrorCode::kForbidden,
                              "approver " + approver.name +
                                  " is not listed for this hold rule (approvers: " +
                                  join(a.request.approvers) + ")");
      }
      if (approve) {
        for (const DecisionRecord& d : a.decisions) {
          if (d.approve && d.approver == approver.name) {
            return approval_error(ApprovalErrorCode::kConflict,
                                  "you already approved " + id + "; it needs " +
                                      std::to_string(a.request.min_approvals) +
                                      " distinct approvers");
          }
        }
      }
      a.decisions.push_back(DecisionRecord{approver.name, approve, reason, now});
      if (!approve) {
        finish_locked(a, Status::kDenied,
                      "denied by " + approver.name + (reason.empty() ? "" : ": " + reason), now);
        finished = true;
      } else {
        std::vector<std::string> approved_by;
        for (const DecisionRecord& d : a.decisions) {
          if (d.approve) {
            approved_by.push_back(d.approver);
          }
        }
        if (static_cast<int>(approved_by.size()) >= a.request.min_approvals) {
          if (grant_for) {
            Grant g;
            do {
              g.id = new_id();
            } while (grants_.contains(g.id));
            g.approval_id = a.id;
            g.identity = a.request.identity;
            g.connection = a.request.connection;
            g.fingerprint = a.request.fingerprint;
            g.statement = a.request.statement;
            g.approvers = a.request.approvers;
            g.granted_by = approved_by;
            g.created_at = now;
            g.expires_at = now + *grant_for;
            a.grant_id = g.id;
            grants_.emplace(g.id, g);
            grant = std::move(g);
          }
          finish_locked(a, Status::kApproved,
                        "approved by " + join(approved_by) + (reason.empty() ? "" : ": " + reason),
                        now);
          finished = true;
        }
      }
      after = a;
    }
    if (grant) {
      persist(*grant);
    }
    persist(after);
    return after;
  }();
  for (const auto& e : expired) {
    e->wake_waiter();
    announce("expired", e->snapshot());
  }
  if (result && finished) {
    held->wake_waiter();
    announce(std::string(status_name(result->status)), *result);
  }
  return result;
}

bool ApprovalService::withdraw(const std::string& id, const std::string& reason) {
  std::shared_ptr<HeldStatement> held;
  Approval after;
  {
    std::lock_guard lock(mu_);
    auto it = held_.find(id);
    if (it == held_.end()) {
      return false;
    }
    held = it->second;
    {
      std::lock_guard hl(held->mu_);
      if (held->state_.status != Status::kPending) {
        return false;
      }
      finish_locked(held->state_, Status::kWithdrawn, reason, Clock::now());
      after = held->state_;
    }
    persist(after);
  }
  held->wake_waiter();
  announce("withdrawn", after);
  return true;
}

void ApprovalService::expire_if_due(HeldStatement& held) {
  std::vector<std::shared_ptr<HeldStatement>> expired;
  {
    std::lock_guard lock(mu_);
    expired = expire_due_locked(Clock::now());
  }
  for (const auto& e : expired) {
    if (e.get() != &held) {
      e->wake_waiter();
    }
    announce("expired", e->snapshot());
  }
}

std::vector<std::shared_ptr<HeldStatement>> ApprovalService::expire_due_locked(
    Clock::time_point now) {
  std::vector<std::shared_ptr<HeldStatement>> out;
  for (auto& [id, held] : held_) {
    Approval copy;
    {
      std::lock_guard hl(held->mu_);
      Approval& a = held->state_;
      if (a.status != Status::kPending || now < a.expires_at) {
        continue;
      }
      finish_locked(a, Status::kExpired,
                    "approval timed out after " + format_duration(a.request.timeout), now);
      copy = a;
    }
    persist(copy);
    out.push_back(held);
  }
  return out;
}

void ApprovalService::prune_locked(Clock::time_point now) {
  if (!store_) {
    return;  // memory is the only history
  }
  for (auto it = held_.begin(); it != held_.end();) {
    std::unique_lock hl(it->second->mu_);
    bool drop = it->second->state_.status != Status::kPending &&
                it->second->state_.decided_at && now - *it->second->state_.decided_at > kKeepFinished;
    hl.unlock();
    it = drop ? held_.erase(it) : std::next(it);
  }
}

ApprovalResult<Approval> ApprovalService::get(const std::string& id) {
  std::vector<std::shared_ptr<HeldStatement>> expired;
  std::optional<Approval> found;
  {
    std::lock_guard lock(mu_);
    expired = expire_due_locked(Clock::now());
    if (auto it = held_.find(id); it != held_.end()) {
      found = it->second->snapshot();
    }
  }
  for (const auto& e : expired) {
    e->wake_waiter();
    announce("expired", e->snapshot());
  }
  if (found) {
    return *found;
  }
  if (store_) {
    Result<Approval> stored = store_->get_approval(id);
    if (stored) {
      return *stored;
    }
    if (stored.error().code != ErrorCode::kNotFound) {
      return approval_error(ApprovalErrorCode::kUnavailable, "approvals store unavailable");
    }
  }
  return approval_error(ApprovalErrorCode::kNotFound, "no approval request " + id);
}

ApprovalResult<std::vector<Approval>> ApprovalService::list(std::optional<Status> status,
                                                            size_t limit) {
  std::vector<std::shared_ptr<HeldStatement>> expired;
  std::vector<Approval> out;
  {
    std::lock_guard lock(mu_);
    expired = expire_due_locked(Clock::now());
    if (!store_) {
      for (const auto& [id, held] : held_) {
        Approval a = held->snapshot();
        if (!status || a.status == *status) {
          out.push_back(std::move(a));
        }
      }
    }
  }
  for (const auto& e : expired) {
    e->wake_waiter();
    announce("expired", e->snapshot());
  }
  if (store_) {
    Result<std::vector<Approval>> stored =
        store_->list_approvals(status ? std::optional<std::string>(status_name(*status))
                                      : std::nullopt,
                               limit);
    if (!stored) {
      return approval_error(ApprovalErrorCode::kUnavailable, "approvals store unavailable");
    }
    return std::move(*stored);
  }
  std::sort(out.begin(), out.end(), [](const Approval& a, const Approval& b) {
    return a.requested_at > b.requested_at;
  });
  if (out.size() > limit) {
    out.resize(limit);
  }
  return out;
}

size_t ApprovalService::pending_count() {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [id, held] : held_) {
    n += held->status() == Status::kPending ? 1 : 0;
  }
  return n;
}

std::optional<Grant> ApprovalService::find_grant(const std::string& identity,
                                                 const std::string& connection,
                                                 const std::string& fingerprint,
                                                 Clock::time_point now) {
  std::lock_guard lock(mu_);
  for (auto& [id, g] : grants_) {
    if (g.active(now) && g.identity == identity && g.connection == connection &&
        g.fingerprint == fingerprint) {
      ++g.uses;
      persist(g);
      return g;
    }
  }
  return std::nullopt;
}

std::vector<Grant> ApprovalService::list_grants(Clock::time_point now, bool include_inactive) {
  std::vector<Grant> out;
  if (include_inactive && store_) {
    Result<std::vector<Grant>> stored = store_->list_grants(1000);
    if (stored) {
      return std::move(*stored);
    }
  }
  std::lock_guard lock(mu_);
  for (const auto& [id, g] : grants_) {
    if (include_inactive || g.active(now)) {
      out.push_back(g);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const Grant& a, const Grant& b) { return a.created_at > b.created_at; });
  return out;
}

ApprovalResult<Grant> ApprovalService::revoke_grant(const config::Approver& approver,
                                                    const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = grants_.find(id);
  if (it == grants_.end()) {
    return approval_error(ApprovalErrorCode::kNotFound, "no grant " + id);
  }
  Grant& g = it->second;
  if (!listed(approver, g.approvers)) {
    return approval_error(ApprovalErrorCode::kForbidden,
                          "approver " + approver.name + " is not listed for this grant's rule");
  }
  if (g.revoked_at) {
    return approval_error(ApprovalErrorCode::kConflict, "grant " + id + " is already revoked");
  }
  g.revoked_at = Clock::now();
  g.revoked_by = approver.name;
  persist(g);
  return g;
}

void ApprovalService::persist(const Approval& a) {
  if (store_) {
    if (Result<void> r = store_->save_approval(a); !r) {
      spdlog::error("approvals: cannot store request {}: {}", a.id, r.error().message);
    }
  }
}

void ApprovalService::persist(const Grant& g) {
  if (store_) {
    if (Result<void> r = store_->save_grant(g); !r) {
      spdlog::error("approvals: cannot store grant {}: {}", g.id, r.error().message);
    }
  }
}

void ApprovalService::announce(const std::string& event, const Approval& a) {
  if (notifier_) {
    notifier_->notify(event, webhook_body(event, a, url_for(a.id)));
  }
}

}  // namespace custos::approval
