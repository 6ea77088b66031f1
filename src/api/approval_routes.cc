#include "api/approval_routes.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "api/approvals_page.h"
#include "approval/approval_json.h"
#include "approval/approval_service.h"
#include "config/value_parsers.h"

namespace custos::api {
namespace {

using approval::ApprovalService;
using nlohmann::json;

constexpr size_t kMaxReason = 1000;
constexpr size_t kMaxBody = 16 * 1024;
// Ids are 10 characters of lowercase base32.
#define CUSTOS_ID "([a-z2-7]{10})"

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_content(body.dump(2, ' ', false, json::error_handler_t::replace) + "\n",
                  "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  if (status == 401) {
    res.set_header("WWW-Authenticate", "Bearer realm=\"custos approvals\"");
  }
  send_json(res, status, json{{"error", message}});
}

// The authenticated approver, or nullptr after answering 401.
const config::Approver* authenticate(ApprovalService& service, const httplib::Request& req,
                                     httplib::Response& res) {
  const std::string header = req.get_header_value("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  const config::Approver* approver = nullptr;
  if (header.size() > kBearer.size() && header.starts_with(kBearer)) {
    approver = service.authenticate(std::string_view(header).substr(kBearer.size()));
  }
  if (!approver) {
    send_error(res, 401, header.empty() ? "missing Authorization: Bearer <approver token>"
                                        : "invalid approver token");
  }
  return approver;
}

json approval_item(ApprovalService& service, const config::Approver& who,
                   const approval::Approval& a) {
  json j = approval::to_json(a, service.url_for(a.id));
  j["can_decide"] = a.status == approval::Status::kPending && service.may_decide(who, a);
  return j;
}

// {"reason": "...", "grant_for": "30m"} (both optional; empty body allowed).
struct DecisionBody {
  std::string reason;
  std::optional<std::chrono::seconds> grant_for;
};

std::optional<DecisionBody> parse_body(const httplib::Request& req, httplib::Response& res,
                                       bool allow_grant) {
  DecisionBody out;
  if (req.body.empty()) {
    return out;
  }
  if (req.body.size() > kMaxBody) {
    send_error(res, 413, "request body too large");
    return std::nullopt;
  }
  json j = json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    send_error(res, 400, "expected a JSON object like {\"reason\": \"...\"}");
    return std::nullopt;
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "reason") {
      if (!it->is_string() && !it->is_null()) {
        send_error(res, 400, "reason must be a string");
        return std::nullopt;
      }
      out.reason = it->is_string() ? it->get<std::string>() : "";
      if (out.reason.size() > kMaxReason) {
        send_error(res, 400, "reason is longer than 1000 characters");
        return std::nullopt;
      }
    } else if (it.key() == "grant_for" && allow_grant) {
      if (it->is_null() || (it->is_string() && it->get<std::string>().empty())) {
        continue;
      }
      if (!it->is_string()) {
        send_error(res, 400, "grant_for must be a duration like \"30m\"");
        return std::nullopt;
      }
      Result<std::chrono::milliseconds> d = config::parse_duration(it->get<std::string>());
      if (!d || *d < std::chrono::seconds(1)) {
        send_error(res, 400, "grant_for must be a duration like \"30m\"");
        return std::nullopt;
      }
      out.grant_for = std::chrono::duration_cast<std::chrono::seconds>(*d);
    } else {
      send_error(res, 400, "unknown field \"" + it.key() + "\"; expected reason" +
                               (allow_grant ? " or grant_for" : ""));
      return std::nullopt;
    }
  }
  return out;
}

void decide(ApprovalService& service, const httplib::Request& req, httplib::Response& res,
            bool approve) {
  const config::Approver* who = authenticate(service, req, res);
  if (!who) {
    return;
  }
  std::optional<DecisionBody> body = parse_body(req, res, approve);
  if (!body) {
    return;
  }
  const std::string id = req.matches[1];
  approval::ApprovalResult<approval::Approval> r =
      approve ? service.approve(*who, id, body->reason, body->grant_for)
              : service.deny(*who, id, body->reason);
  if (!r) {
    send_error(res, approval::http_status(r.error().code), r.error().message);
    return;
  }
  send_json(res, 200, approval_item(service, *who, *r));
}

}  // namespace

void register_approval_routes(httplib::Server& server, ApprovalService& service) {
  server.Get("/api/whoami", [&service](const httplib::Request& req, httplib::Response& res) {
    if (const config::Approver* who = authenticate(service, req, res)) {
      send_json(res, 200, json{{"name", who->name}, {"groups", who->groups}});
    }
  });
  server.Get("/api/approvals", [&service](const httplib::Request& req, httplib::Response& res) {
    const config::Approver* who = authenticate(service, req, res);
    if (!who) {
      return;
    }
    std::optional<approval::Status> status;
    if (req.has_param("status") && !req.get_param_value("status").empty()) {
      status = approval::status_from_name(req.get_param_value("status"));
      if (!status) {
        send_error(res, 400,
                   "status must be one of pending, approved, denied, expired, withdrawn");
        return;
      }
    }
    approval::ApprovalResult<std::vector<approval::Approval>> list = service.list(status);
    if (!list) {
      send_error(res, approval::http_status(list.error().code), list.error().message);
      return;
    }
    json items = json::array();
    for (const approval::Approval& a : *list) {
      items.push_back(approval_item(service, *who, a));
    }
    send_json(res, 200, json{{"approvals", items}});
  });
  server.Get("/api/approvals/" CUSTOS_ID,
             [&service](const httplib::Request& req, httplib::Response& res) {
               const config::Approver* who = authenticate(service, req, res);
               if (!who) {
                 return;
               }
               approval::ApprovalResult<approval::Approval> a = service.get(req.matches[1]);
               if (!a) {
                 send_error(res, approval::http_status(a.error().code), a.error().message);
                 return;
               }
               send_json(res, 200, approval_item(service, *who, *a));
             });
  server.Post("/api/approvals/" CUSTOS_ID "/approve",
              [&service](const httplib::Request& req, httplib::Response& res) {
                decide(service, req, res, true);
              });
  server.Post("/api/approvals/" CUSTOS_ID "/deny",
              [&service](const httplib::Request& req, httplib::Response& res) {
                decide(service, req, res, false);
              });
  server.Get("/api/grants", [&service](const httplib::Request& req, httplib::Response& res) {
    if (!authenticate(service, req, res)) {
      return;
    }
    const auto now = approval::Clock::now();
    json items = json::array();
    for (const approval::Grant& g : service.list_grants(now, req.get_param_value("all") == "1")) {
      items.push_back(approval::to_json(g, now));
    }
    send_json(res, 200, json{{"grants", items}});
  });
  server.Post("/api/grants/" CUSTOS_ID "/revoke",
              [&service](const httplib::Request& req, httplib::Response& res) {
                const config::Approver* who = authenticate(service, req, res);
                if (!who) {
                  return;
                }
                approval::ApprovalResult<approval::Grant> g =
                    service.revoke_grant(*who, req.matches[1]);
                if (!g) {
                  send_error(res, approval::http_status(g.error().code), g.error().message);
                  return;
                }
                send_json(res, 200, approval::to_json(*g, approval::Clock::now()));
              });
  register_approvals_page(server);
}

}  // namespace custos::api
