#include "cli/approvals_command.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>

#include "config/config.h"

namespace custos::cli {
namespace {

using json = nlohmann::json;

constexpr int kRefused = 1;
constexpr int kUsage = 2;

struct ApiClient {
  std::string base;
  std::string token;
};

// Ids are 10 characters of lowercase base32 (so they are safe in a URL path as they are).
bool valid_id(const std::string& id) {
  if (id.size() != 10) {
    return false;
  }
  for (char ch : id) {
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '2' && ch <= '7'))) {
      return false;
    }
  }
  return true;
}

std::optional<ApiClient> connect(const std::string& config_path, const std::string& token_arg,
                                 const std::string& id = "0000000000") {
  if (id != "0000000000" && !valid_id(id)) {
    std::cerr << "custos: " << terminal_safe(id, 64)
              << " is not an id (10 characters a-z, 2-7; see `custos approvals list`)\n";
    return std::nullopt;
  }
  Result<config::Config> cfg = config::load_config(config_path);
  if (!cfg) {
    std::cerr << cfg.error().message << "\n";
    return std::nullopt;
  }
  ApiClient c;
  c.base = approvals_base_url(cfg->listen.admin ? cfg->listen.admin->to_string() : "",
                              cfg->admin_url);
  if (c.base.empty()) {
    std::cerr << "custos: neither listen.admin nor admin_url is set in " << config_path << "\n";
    return std::nullopt;
  }
  c.token = token_arg;
  if (c.token.empty()) {
    const char* env = std::getenv("CUSTOS_APPROVER_TOKEN");
    c.token = env ? env : "";
  }
  if (c.token.empty()) {
    std::cerr << "custos: no approver token: pass --token or set CUSTOS_APPROVER_TOKEN\n";
    return std::nullopt;
  }
  return c;
}

// Sends the request; prints the gateway's error and returns nullopt + exit code on failure.
std::optional<json> call(const ApiClient& c, const std::string& method, const std::string& path,
                         const json& body, int& exit_code) {
  httplib::Client http(c.base);
  http.set_connection_timeout(std::chrono::seconds(5));
  http.set_read_timeout(std::chrono::seconds(30));
  httplib::Headers headers = {{"Authorization", "Bearer " + c.token}};
  httplib::Result res = method == "GET"
                            ? http.Get(path, headers)
                            : http.Post(path, headers, body.is_null() ? "" : body.dump(),
                                        "application/json");
  if (!res) {
    std::cerr << "custos: cannot reach the gateway at " << c.base << ": "
              << httplib::to_string(res.error()) << "\n";
    exit_code = kUsage;
    return std::nullopt;
  }
  json j = json::parse(res->body, nullptr, false);
  if (res->status != 200) {
    std::string msg = j.is_object() && j.contains("error") && j["error"].is_string()
                          ? j["error"].get<std::string>()
                          : "HTTP " + std::to_string(res->status);
    std::cerr << "custos: " << terminal_safe(msg, 500) << " (HTTP " << res->status << ")\n";
    exit_code = kRefused;
    return std::nullopt;
  }
  if (j.is_discarded()) {
    std::cerr << "custos: the gateway answered with something that is not JSON\n";
    exit_code = kUsage;
    return std::nullopt;
  }
  exit_code = 0;
  return j;
}

std::string str(const json& j, const char* key) {
  if (!j.contains(key)) {
    return "";
  }
  const json& v = j[key];
  if (v.is_string()) {
    return v.get<std::string>();
  }
  if (v.is_null()) {
    return "";
  }
  return v.dump();
}

std::string joined(const json& j, const char* key) {
  std::string out;
  if (j.contains(key) && j[key].is_array()) {
    for (const json& e : j[key]) {
      out += out.empty() ? "" : ", ";
      out += e.is_string() ? e.get<std::string>() : e.dump();
    }
  }
  return out;
}

void print_approval(const json& a) {
  std::printf("id:          %s\n", terminal_safe(str(a, "id"), 64).c_str());
  std::printf("status:      %s\n", terminal_safe(str(a, "status"), 64).c_str());
  if (!str(a, "reason").empty()) {
    std::printf("outcome:     %s\n", terminal_safe(str(a, "reason"), 2000).c_str());
  }
  std::printf("identity:    %s\n", terminal_safe(str(a, "identity"), 200).c_str());
  std::printf("connection:  %s\n", terminal_safe(str(a, "connection"), 200).c_str());
  std::printf("session:     %s\n", terminal_safe(str(a, "session_id"), 200).c_str());
  std::printf("kinds:       %s\n", terminal_safe(joined(a, "kinds"), 500).c_str());
  std::printf("tables:      %s\n", terminal_safe(joined(a, "tables"), 2000).c_str());
  std::printf("policy:      %s rule %s\n", terminal_safe(str(a, "policy"), 200).c_str(),
              str(a, "rule").c_str());
  std::printf("approvers:   %s (%s needed)\n", terminal_safe(joined(a, "approvers"), 500).c_str(),
              str(a, "min_approvals").c_str());
  std::printf("requested:   %s\n", str(a, "requested_at").c_str());
  std::printf("expires:     %s\n", str(a, "expires_at").c_str());
  if (!str(a, "preview").empty()) {
    std::printf("preview:     %s\n", terminal_safe(str(a, "preview"), 2000).c_str());
  }
  if (!str(a, "grant_id").empty()) {
    std::printf("grant:       %s\n", terminal_safe(str(a, "grant_id"), 64).c_str());
  }
  std::printf("url:         %s\n", terminal_safe(str(a, "url"), 500).c_str());
  if (a.contains("decisions") && a["decisions"].is_array()) {
    for (const json& d : a["decisions"]) {
      std::printf("decision:    %s %s at %s%s\n", terminal_safe(str(d, "approver"), 100).c_str(),
                  terminal_safe(str(d, "decision"), 20).c_str(), str(d, "at").c_str(),
                  str(d, "reason").empty()
                      ? ""
                      : (": " + terminal_safe(str(d, "reason"), 1000)).c_str());
    }
  }
  std::printf("statement:\n%s\n", terminal_safe(str(a, "statement"), 1 << 20).c_str());
}

}  // namespace

std::string approvals_base_url(const std::string& admin_host_port, const std::string& admin_url) {
  if (!admin_host_port.empty()) {
    std::string hp = admin_host_port;
    if (hp.starts_with("0.0.0.0:")) {
      hp = "127.0.0.1:" + hp.substr(8);
    } else if (hp.starts_with("[::]:")) {
      hp = "[::1]:" + hp.substr(5);
    }
    return "http://" + hp;
  }
  return admin_url;
}

std::string terminal_safe(const std::string& text, size_t max_chars) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (out.size() >= max_chars) {
      out += "…";
      break;
    }
    unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

int cmd_approvals_list(const std::string& config_path, const std::string& status,
                       const std::string& token) {
  std::optional<ApiClient> c = connect(config_path, token);
  if (!c) {
    return kUsage;
  }
  int rc = 0;
  std::string path = "/api/approvals";
  if (!status.empty() && status != "all") {
    path += "?status=" + httplib::detail::encode_query_param(status);
  }
  std::optional<json> j = call(*c, "GET", path, nullptr, rc);
  if (!j) {
    return rc;
  }
  std::printf("%-10s  %-9s  %-20s  %-16s  %-27s  %s\n", "ID", "STATUS", "IDENTITY", "CONNECTION",
              "REQUESTED", "STATEMENT");
  for (const json& a : (*j)["approvals"]) {
    std::string stmt = str(a, "statement");
    for (char& ch : stmt) {
      if (ch == '\n' || ch == '\t') {
        ch = ' ';
      }
    }
    std::printf("%-10s  %-9s  %-20s  %-16s  %-27s  %s\n", terminal_safe(str(a, "id"), 10).c_str(),
                terminal_safe(str(a, "status"), 9).c_str(),
                terminal_safe(str(a, "identity"), 20).c_str(),
                terminal_safe(str(a, "connection"), 16).c_str(), str(a, "requested_at").c_str(),
                terminal_safe(stmt, 60).c_str());
  }
  return 0;
}

int cmd_approvals_show(const std::string& config_path, const std::string& id,
                       const std::string& token) {
  std::optional<ApiClient> c = connect(config_path, token, id);
  if (!c) {
    return kUsage;
  }
  int rc = 0;
  std::optional<json> j =
      call(*c, "GET", "/api/approvals/" + id, nullptr, rc);
  if (j) {
    print_approval(*j);
  }
  return rc;
}

int cmd_approvals_approve(const std::string& config_path, const std::string& id,
                          const std::string& reason, const std::string& grant_for,
                          const std::string& token) {
  std::optional<ApiClient> c = connect(config_path, token, id);
  if (!c) {
    return kUsage;
  }
  json body = {{"reason", reason}};
  if (!grant_for.empty()) {
    body["grant_for"] = grant_for;
  }
  int rc = 0;
  std::optional<json> j =
      call(*c, "POST", "/api/approvals/" + id + "/approve", body, rc);
  if (j) {
    std::string status = str(*j, "status");
    if (status == "approved") {
      std::printf("approved %s", terminal_safe(id, 64).c_str());
      if (!str(*j, "grant_id").empty()) {
        std::printf(" (grant %s for %s)", str(*j, "grant_id").c_str(),
                    terminal_safe(grant_for, 20).c_str());
      }
      std::printf("\n");
    } else {
      std::printf("approval recorded for %s; still %s (%s needed)\n", terminal_safe(id, 64).c_str(),
                  terminal_safe(status, 20).c_str(), str(*j, "min_approvals").c_str());
    }
  }
  return rc;
}

int cmd_approvals_deny(const std::string& config_path, const std::string& id,
                       const std::string& reason, const std::string& token) {
  std::optional<ApiClient> c = connect(config_path, token, id);
  if (!c) {
    return kUsage;
  }
  int rc = 0;
  std::optional<json> j =
      call(*c, "POST", "/api/approvals/" + id + "/deny",
           json{{"reason", reason}}, rc);
  if (j) {
    std::printf("denied %s\n", terminal_safe(id, 64).c_str());
  }
  return rc;
}

int cmd_grants_list(const std::string& config_path, const std::string& token) {
  std::optional<ApiClient> c = connect(config_path, token);
  if (!c) {
    return kUsage;
  }
  int rc = 0;
  std::optional<json> j = call(*c, "GET", "/api/grants?all=1", nullptr, rc);
  if (!j) {
    return rc;
  }
  std::printf("%-10s  %-8s  %-20s  %-16s  %-27s  %-5s  %s\n", "ID", "STATE", "IDENTITY",
              "CONNECTION", "EXPIRES", "USES", "STATEMENT");
  for (const json& g : (*j)["grants"]) {
    std::string state = !str(g, "revoked_at").empty() ? "revoked"
                        : g.value("active", false)    ? "active"
                                                      : "expired";
    std::string stmt = str(g, "statement");
    for (char& ch : stmt) {
      if (ch == '\n' || ch == '\t') {
        ch = ' ';
      }
    }
    std::printf("%-10s  %-8s  %-20s  %-16s  %-27s  %-5s  %s\n",
                terminal_safe(str(g, "id"), 10).c_str(), state.c_str(),
                terminal_safe(str(g, "identity"), 20).c_str(),
                terminal_safe(str(g, "connection"), 16).c_str(), str(g, "expires_at").c_str(),
                str(g, "uses").c_str(), terminal_safe(stmt, 60).c_str());
  }
  return 0;
}

int cmd_grants_revoke(const std::string& config_path, const std::string& id,
                      const std::string& token) {
  std::optional<ApiClient> c = connect(config_path, token, id);
  if (!c) {
    return kUsage;
  }
  int rc = 0;
  std::optional<json> j = call(
      *c, "POST", "/api/grants/" + id + "/revoke", nullptr, rc);
  if (j) {
    std::printf("revoked grant %s\n", terminal_safe(id, 64).c_str());
  }
  return rc;
}

}  // namespace custos::cli
