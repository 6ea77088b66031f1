#include "api/approvals_page.h"

#include <httplib.h>

#include <algorithm>
#include <initializer_list>
#include <utility>

#include "api/assets.h"

namespace custos::api {
namespace {

constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

void set_page_headers(httplib::Response& res) {
  res.set_header("Content-Security-Policy", kCsp);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Cache-Control", "no-store");
}

using Placeholder = std::pair<std::string_view, std::string_view>;

// `page` with each {{name}} replaced by the value given for that name. One pass over the
// template, so a value is never scanned in turn: text in it that looks like a placeholder stays
// text. A name without a value is left as it is (the unit tests look for any left over).
std::string fill_template(std::string_view page, std::initializer_list<Placeholder> values) {
  std::string out;
  out.reserve(page.size() + 64);
  std::size_t pos = 0;
  for (;;) {
    const std::size_t open = page.find("{{", pos);
    if (open == std::string_view::npos) break;
    const std::size_t close = page.find("}}", open + 2);
    if (close == std::string_view::npos) break;
    const std::string_view name = page.substr(open + 2, close - open - 2);
    const auto value = std::ranges::find(values, name, &Placeholder::first);
    out += page.substr(pos, open - pos);
    out += value != values.end() ? value->second : page.substr(open, close + 2 - open);
    pos = close + 2;
  }
  out += page.substr(pos);
  return out;
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
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
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string approvals_page_html(std::string_view approval_id) {
  const std::string id = html_escape(approval_id);
  const std::string title = approval_id.empty() ? "custos approvals" : "custos approval " + id;
  return fill_template(assets::kApprovalsHtml, {{"title", title}, {"approval_id", id}});
}

void register_approvals_page(httplib::Server& server) {
  server.Get("/approvals/app.js", [](const httplib::Request&, httplib::Response& res) {
    set_page_headers(res);
    res.set_content(assets::kApprovalsJs.data(), assets::kApprovalsJs.size(),
                    "text/javascript; charset=utf-8");
  });
  server.Get("/approvals/app.css", [](const httplib::Request&, httplib::Response& res) {
    set_page_headers(res);
    res.set_content(assets::kApprovalsCss.data(), assets::kApprovalsCss.size(),
                    "text/css; charset=utf-8");
  });
  server.Get("/approvals", [](const httplib::Request&, httplib::Response& res) {
    set_page_headers(res);
    res.set_content(approvals_page_html(""), "text/html; charset=utf-8");
  });
  server.Get("/approvals/([a-z2-7]{10})", [](const httplib::Request& req,
                                              httplib::Response& res) {
    set_page_headers(res);
    res.set_content(approvals_page_html(req.matches[1].str()), "text/html; charset=utf-8");
  });
}

}  // namespace custos::api
