#include "approval/approval_json.h"

#include "record/timestamp.h"

namespace custos::approval {
namespace {

nlohmann::json time_or_null(const std::optional<Clock::time_point>& t) {
  return t ? nlohmann::json(record::format_timestamp(*t)) : nlohmann::json(nullptr);
}

std::string slack_escape(std::string_view s, size_t max_chars) {
  std::string out;
  size_t n = 0;
  for (char c : s) {
    if (n++ >= max_chars) {
      out += "…";
      break;
    }
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\n':
      case '\r':
      case '\t':
        out += ' ';
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

nlohmann::json to_json(const Approval& a, const std::string& url) {
  nlohmann::json decisions = nlohmann::json::array();
  for (const DecisionRecord& d : a.decisions) {
    decisions.push_back({{"approver", d.approver},
                         {"decision", d.approve ? "approve" : "deny"},
                         {"reason", d.reason},
                         {"at", record::format_timestamp(d.at)}});
  }
  const HoldRequest& r = a.request;
  return {{"id", a.id},
          {"url", url},
          {"session_id", r.session_id},
          {"identity", r.identity},
          {"connection", r.connection},
          {"statement", r.statement},
          {"kinds", r.kinds},
          {"tables", r.tables},
          {"policy", r.policy},
          {"rule", r.rule},
          {"message", r.message},
          {"approvers", r.approvers},
          {"min_approvals", r.min_approvals},
          {"requested_at", record::format_timestamp(a.requested_at)},
          {"expires_at", record::format_timestamp(a.expires_at)},
          {"status", status_name(a.status)},
          {"reason", a.reason},
          {"decided_at", time_or_null(a.decided_at)},
          {"decisions", decisions},
          {"preview", r.preview_text},
          {"grant_id", a.grant_id},
          {"instance", a.owner}};
}

nlohmann::json to_json(const Grant& g, Clock::time_point now) {
  return {{"id", g.id},
          {"approval_id", g.approval_id},
          {"identity", g.identity},
          {"connection", g.connection},
          {"fingerprint", g.fingerprint},
          {"statement", g.statement},
          {"granted_by", g.granted_by},
          {"created_at", record::format_timestamp(g.created_at)},
          {"expires_at", record::format_timestamp(g.expires_at)},
          {"revoked_at", time_or_null(g.revoked_at)},
          {"revoked_by", g.revoked_by},
          {"uses", g.uses},
          {"active", g.active(now)}};
}

std::string summary_text(const std::string& event, const Approval& a, const std::string& url) {
  const HoldRequest& r = a.request;
  std::string kinds;
  for (const std::string& k : r.kinds) {
    kinds += kinds.empty() ? "" : "/";
    kinds += k;
  }
  std::string head;
  if (event == "created") {
    head = "custos: " + slack_escape(r.identity, 64) + " on " + slack_escape(r.connection, 64) +
           " waits for approval of " + (kinds.empty() ? "a statement" : slack_escape(kinds, 64)) +
           ": `" + slack_escape(r.statement, 200) + "`";
  } else {
    head = "custos: request by " + slack_escape(r.identity, 64) + " on " +
           slack_escape(r.connection, 64) + " " + event + " (" + slack_escape(a.reason, 200) +
           ")";
  }
  return head + " <" + url + "|" + a.id + ">";
}

std::string webhook_body(const std::string& event, const Approval& a, const std::string& url) {
  nlohmann::json body = {{"event", event},
                         {"approval", to_json(a, url)},
                         {"text", summary_text(event, a, url)}};
  // Invalid UTF-8 in statement text must not throw: replace it.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace custos::approval
