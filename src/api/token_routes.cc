#include "api/token_routes.h"

#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "config/value_parsers.h"

namespace custos::api {
namespace {

constexpr size_t kMaxBodyBytes = 32 * 1024;

void reply(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body.dump(), "application/json");
}

std::string iso_utc(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

struct ExchangeRequest {
  std::string identity;
  std::string token;
};

// nullopt + reason when malformed.
std::optional<ExchangeRequest> parse_request(const httplib::Request& req, std::string& why) {
  if (req.body.size() > kMaxBodyBytes) {
    why = "body larger than 32 KiB";
    return std::nullopt;
  }
  ExchangeRequest out;
  std::string type = req.get_header_value("Content-Type");
  if (type.starts_with("application/x-www-form-urlencoded")) {
    httplib::Params params;
    httplib::detail::parse_query_text(req.body, params);
    auto identity = params.find("identity");
    auto token = params.find("token");
    if (identity == params.end() || token == params.end()) {
      why = "expected identity and token fields";
      return std::nullopt;
    }
    out.identity = identity->second;
    out.token = token->second;
  } else {
    nlohmann::json j = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      why = "expected a JSON object";
      return std::nullopt;
    }
    auto identity = j.find("identity");
    auto token = j.find("token");
    if (identity == j.end() || token == j.end() || !identity->is_string() || !token->is_string()) {
      why = "expected string fields identity and token";
      return std::nullopt;
    }
    out.identity = identity->get<std::string>();
    out.token = token->get<std::string>();
  }
  if (!config::is_valid_name(out.identity)) {
    why = "identity is not a valid name";
    return std::nullopt;
  }
  if (out.token.empty()) {
    why = "token is empty";
    return std::nullopt;
  }
  return out;
}

}  // namespace

void register_token_routes(httplib::Server& server, identity::TokenService& tokens) {
  server.Post("/api/token", [&tokens](const httplib::Request& req, httplib::Response& res) {
    std::string why;
    std::optional<ExchangeRequest> request = parse_request(req, why);
    if (!request) {
      reply(res, 400, {{"error", "malformed request: " + why}});
      return;
    }
    Result<identity::IssuedToken> issued =
        tokens.exchange(request->identity, request->token, std::chrono::system_clock::now());
    if (!issued) {
      if (issued.error().code == ErrorCode::kAuth) {
        spdlog::warn("token exchange refused: identity={} client={} reason={}", request->identity,
                     req.remote_addr, issued.error().message);
        reply(res, 401, {{"error", "authentication failed"}});
      } else {
        spdlog::error("token exchange failed: identity={} error={}", request->identity,
                      issued.error().message);
        reply(res, 503, {{"error", "token service unavailable"}});
      }
      return;
    }
    spdlog::info("token issued: identity={} token_id={} jti={} sub={} expires_at={}",
                 issued->identity, issued->token_id, issued->token_jti, issued->token_sub,
                 iso_utc(issued->expires_at));
    reply(res, 200,
          {{"token", std::string(issued->token.reveal())},
           {"expires_at", iso_utc(issued->expires_at)},
           {"identity", issued->identity},
           {"token_id", issued->token_id}});
  });
}

}  // namespace custos::api
