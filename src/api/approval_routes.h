#pragma once
// The approvals REST API and web page on the admin listener. Every /api route requires
// `Authorization: Bearer <approver token>` (401 without or with a wrong one).
//
//   GET  /api/approvals?status=pending|approved|denied|expired|withdrawn  → {"approvals":[...]}
//   GET  /api/approvals/{id}                                              → approval
//   POST /api/approvals/{id}/approve  {"reason": "...", "grant_for": "30m"} (body optional)
//   POST /api/approvals/{id}/deny     {"reason": "..."}
//   GET  /api/grants?all=1                                                → {"grants":[...]}
//   POST /api/grants/{id}/revoke
//   GET  /api/whoami                                                      → {name, groups}
//   GET  /approvals, /approvals/{id}   the web page (see approvals_page.h)
//
// Errors are {"error": "<message>"} with 400 (bad body), 401, 403 (own request, or approver not
// listed for the rule), 404 (unknown id), 409 (already decided, withdrawn or expired).
// Approval items are approval_json.h's shape plus "can_decide" for the caller.

namespace httplib {
class Server;
}

namespace custos::approval {
class ApprovalService;
}

namespace custos::api {

void register_approval_routes(httplib::Server& server, approval::ApprovalService& service);

}  // namespace custos::api
