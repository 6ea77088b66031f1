#pragma once
// The data of the approvals component: a held statement's request, its decisions and status,
// time-bound grants, and the error type of approval operations. Plain values, no behaviour;
// persisted by approval::ApprovalStore and rendered by approval_json.h.

#include <chrono>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace custos::approval {

using Clock = std::chrono::system_clock;

// kOrphaned: the gateway that held the statement restarted; no session waits for a decision
// any more (the client must send the statement again), but the request stays listed.
enum class Status { kPending, kApproved, kDenied, kExpired, kWithdrawn, kOrphaned };

std::string_view status_name(Status s);  // "pending", "approved", ...
std::optional<Status> status_from_name(std::string_view name);

// What the session asks to hold. `approvers` are the hold rule's entries ("NAME" or
// "group:NAME").
struct HoldRequest {
  std::string session_id;
  std::string identity;
  std::string connection;
  std::string statement;
  std::vector<std::string> kinds;
  std::vector<std::string> tables;
  std::string fingerprint;  // statement shape (literals removed): what a grant matches
  std::string policy;
  int rule = 0;  // 1-based index of the hold rule in the policy
  std::vector<std::string> approvers;
  int min_approvals = 1;
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};
  std::string preview_text;  // e.g. "would delete 42 rows"; empty when no preview
  std::string message;       // the hold rule's message, shown to approvers
};

struct DecisionRecord {
  std::string approver;
  bool approve = false;
  std::string reason;
  Clock::time_point at{};
};

// One held statement as stored and shown.
struct Approval {
  std::string id;
  HoldRequest request;
  Clock::time_point requested_at{};
  Clock::time_point expires_at{};
  Status status = Status::kPending;
  std::string reason;  // why it ended ("approved by alice", "approval timed out after 10m")
  std::optional<Clock::time_point> decided_at;
  std::vector<DecisionRecord> decisions;
  std::string grant_id;  // set when the approval created a grant
  // The gateway instance whose session waits (config `instance`): a restart orphans only the
  // requests of its own instance, never those another replica sharing the store still holds.
  std::string owner;
};

// What the waiting session learns.
struct Outcome {
  Status status = Status::kPending;
  std::string reason;
  std::vector<std::string> approvers;  // who approved (approved) or who denied (denied)
  std::string grant_id;
};

// Lets statements of one shape (identity + connection + fingerprint) through without a hold
// until expires_at, unless revoked.
struct Grant {
  std::string id;
  std::string approval_id;
  std::string identity;
  std::string connection;
  std::string fingerprint;
  std::string statement;               // the approved example
  std::vector<std::string> approvers;  // the hold rule's approver entries (who may revoke)
  std::vector<std::string> granted_by;
  Clock::time_point created_at{};
  Clock::time_point expires_at{};
  std::optional<Clock::time_point> revoked_at;
  std::string revoked_by;
  uint64_t uses = 0;

  bool active(Clock::time_point now) const { return !revoked_at && now < expires_at; }
};

// Errors of approval operations; each maps to one HTTP status (401, 403, 404, 409, 400, 503).
enum class ApprovalErrorCode {
  kUnauthenticated,
  kForbidden,
  kNotFound,
  kConflict,
  kInvalid,
  kUnavailable,
};

struct ApprovalError {
  ApprovalErrorCode code = ApprovalErrorCode::kUnavailable;
  std::string message;
};

template <class T>
using ApprovalResult = std::expected<T, ApprovalError>;

inline std::unexpected<ApprovalError> approval_error(ApprovalErrorCode code, std::string message) {
  return std::unexpected(ApprovalError{code, std::move(message)});
}

int http_status(ApprovalErrorCode code);

// "10m", "90s", "2h", "1500ms": the shortest exact unit.
std::string format_duration(std::chrono::milliseconds d);

}  // namespace custos::approval
