#pragma once
// The approvals web page, served by the admin listener. Its HTML (a template), script and style
// are plain files in src/api/assets/, compiled in as they are (api/assets.h): no JavaScript
// build step.
//   GET /approvals            pending requests (status filter), Approve/Deny with a reason
//   GET /approvals/{id}       one request (the link the held client is shown)
//   GET /approvals/app.js, /approvals/app.css
//
// Authentication: the page asks once for the approver token, checks it with GET /api/whoami,
// keeps it in sessionStorage (gone when the tab closes) and sends it as
// `Authorization: Bearer` on every fetch. No cookie is used, so a cross-site page cannot make
// the browser act with the approver's authority (no CSRF), and the token never appears in a
// URL or server log. The trade-off: script running on this origin could read it, so the page
// runs under a strict Content-Security-Policy (scripts only from 'self', no inline script) and
// renders every value from the API with textContent, never as HTML: statement text is
// attacker-controlled.

#include <string>
#include <string_view>

namespace httplib {
class Server;
}

namespace custos::api {

void register_approvals_page(httplib::Server& server);

// &, <, >, " and ' as entities (for text placed into server-rendered HTML).
std::string html_escape(std::string_view text);

// The HTML shell; `approval_id` empty for the list, else the detail page of that id.
std::string approvals_page_html(std::string_view approval_id);

}  // namespace custos::api
