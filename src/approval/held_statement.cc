#include "approval/held_statement.h"

#include <algorithm>

#include "approval/approval_service.h"

namespace custos::approval {

HeldStatement::HeldStatement(ApprovalService& service, Approval initial)
    : service_(service), id_(initial.id), state_(std::move(initial)) {}

Approval HeldStatement::snapshot() const {
  std::lock_guard lock(mu_);
  return state_;
}

Status HeldStatement::status() const {
  std::lock_guard lock(mu_);
  return state_.status;
}

Outcome HeldStatement::outcome_locked() const {
  Outcome o;
  o.status = state_.status;
  o.reason = state_.reason;
  o.grant_id = state_.grant_id;
  for (const DecisionRecord& d : state_.decisions) {
    bool wanted = state_.status == Status::kDenied ? !d.approve : d.approve;
    if (wanted && std::find(o.approvers.begin(), o.approvers.end(), d.approver) ==
                      o.approvers.end()) {
      o.approvers.push_back(d.approver);
    }
  }
  return o;
}

void HeldStatement::wake_waiter() {
  std::shared_ptr<asio::steady_timer> timer;
  asio::any_io_executor ex;
  {
    std::lock_guard lock(mu_);
    timer = timer_;
    ex = waiter_ex_;
  }
  if (timer) {
    // The timer belongs to the waiter's (serialised) executor: cancel it there.
    asio::post(ex, [timer] { timer->cancel(); });
  }
}

asio::awaitable<Outcome> HeldStatement::wait(asio::any_io_executor ex) {
  std::shared_ptr<HeldStatement> self = shared_from_this();
  auto timer = std::make_shared<asio::steady_timer>(ex);
  {
    std::lock_guard lock(mu_);
    if (state_.status != Status::kPending) {
      co_return outcome_locked();
    }
    timer_ = timer;
    waiter_ex_ = ex;
  }
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (state_.status != Status::kPending) {
        timer_.reset();
        co_return outcome_locked();
      }
      auto remaining = state_.expires_at - Clock::now();
      timer->expires_after(std::max<std::chrono::steady_clock::duration>(
          std::chrono::duration_cast<std::chrono::steady_clock::duration>(remaining),
          std::chrono::steady_clock::duration::zero()));
    }
    std::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) {
      // Deadline reached: expire it (no-op if a decision won the race).
      service_.expire_if_due(*this);
      continue;
    }
    bool pending;
    {
      std::lock_guard lock(mu_);
      pending = state_.status == Status::kPending;
    }
    if (pending) {
      // Cancelled from outside without a decision: the session gave up on it.
      service_.withdraw(id_, "the session stopped waiting");
    }
  }
}

}  // namespace custos::approval
