#pragma once
// HeldStatement: one statement a session is holding until a human decides. Created by
// ApprovalService::create(); the session co_awaits wait() on its own executor. No thread is
// blocked while waiting: the waiter parks on an asio::steady_timer set to expires_at, and the
// thread that decides (an HTTP server thread) posts the timer's cancellation onto the waiter's
// executor, so the timer is only touched there.

#include <asio.hpp>

#include <memory>
#include <mutex>

#include "approval/approval.h"

namespace custos::approval {

class ApprovalService;

class HeldStatement : public std::enable_shared_from_this<HeldStatement> {
 public:
  HeldStatement(ApprovalService& service, Approval initial);
  HeldStatement(const HeldStatement&) = delete;
  HeldStatement& operator=(const HeldStatement&) = delete;

  const std::string& id() const { return id_; }
  Approval snapshot() const;
  Status status() const;

  // Completes when the request is decided, expires (status expired, reason "approval timed out
  // after 10m"), or is withdrawn. If the awaiting coroutine is cancelled (asio cancellation),
  // the request is withdrawn. `ex` must be the executor the awaiting coroutine runs on, and
  // that executor must be serialised (an io_context run by one thread, or a strand). One
  // waiter per held statement. The ApprovalService must outlive the wait.
  asio::awaitable<Outcome> wait(asio::any_io_executor ex);

 private:
  friend class ApprovalService;

  // Called by ApprovalService with mu_ held: the outcome as the waiter would see it.
  Outcome outcome_locked() const;
  // Wakes the waiter, if any (call after changing state_, without holding mu_).
  void wake_waiter();

  ApprovalService& service_;
  const std::string id_;
  mutable std::mutex mu_;
  Approval state_;
  std::shared_ptr<asio::steady_timer> timer_;  // the waiter's timer, while it waits
  asio::any_io_executor waiter_ex_;
};

}  // namespace custos::approval
