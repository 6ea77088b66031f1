#pragma once
// JSON shapes of the approvals API and webhooks (one place, so REST, webhooks and the CLI agree).
//
// approval: { id, url, session_id, identity, connection, statement, kinds[], tables[], policy,
//             rule, message, approvers[], min_approvals, requested_at, expires_at, status,
//             reason, decided_at, decisions[{approver, decision, reason, at}], preview,
//             grant_id }
// grant:    { id, approval_id, identity, connection, fingerprint, statement, granted_by[],
//             created_at, expires_at, revoked_at, revoked_by, uses, active }
// Times are UTC "2026-01-02T03:04:05.000000Z".

#include <nlohmann/json.hpp>

#include <string>

#include "approval/approval.h"

namespace custos::approval {

nlohmann::json to_json(const Approval& a, const std::string& url);
nlohmann::json to_json(const Grant& g, Clock::time_point now);

// {"event": ..., "approval": {...}, "text": "<one-line Slack-compatible summary with the URL>"}
std::string webhook_body(const std::string& event, const Approval& a, const std::string& url);
// The summary alone: statement text shortened and with Slack's control characters (&, <, >)
// escaped, so attacker-controlled SQL cannot mention @channel or forge links.
std::string summary_text(const std::string& event, const Approval& a, const std::string& url);

}  // namespace custos::approval
