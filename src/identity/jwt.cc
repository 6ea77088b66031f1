#include "identity/jwt.h"

#include <cmath>

#include "identity/base64url.h"

namespace custos::identity {
namespace {

// Nesting depth of the JSON text, counting brackets outside strings. Cheap pre-check so that
// the recursive parser never sees deeply nested input.
bool depth_within(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) {
        return false;
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

std::optional<nlohmann::json> decode_part(std::string_view part) {
  std::optional<core::Bytes> raw = base64url_decode(part);
  if (!raw) {
    return std::nullopt;
  }
  std::string_view text(reinterpret_cast<const char*>(raw->data()), raw->size());
  return parse_json_object(text, kMaxJsonDepth);
}

}  // namespace

std::optional<nlohmann::json> parse_json_object(std::string_view text, int max_depth) {
  if (!depth_within(text, max_depth)) {
    return std::nullopt;
  }
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return std::nullopt;
  }
  return j;
}

std::optional<int64_t> numeric_date(const nlohmann::json& payload, const char* claim) {
  auto it = payload.find(claim);
  if (it == payload.end()) {
    return std::nullopt;
  }
  constexpr int64_t kLimit = int64_t{1} << 40;
  if (it->is_number_integer()) {
    int64_t v = it->get<int64_t>();
    if (it->is_number_unsigned() && it->get<uint64_t>() >= uint64_t(kLimit)) {
      return std::nullopt;
    }
    if (v <= -kLimit || v >= kLimit) {
      return std::nullopt;
    }
    return v;
  }
  if (it->is_number_float()) {
    double d = it->get<double>();
    if (!std::isfinite(d) || d <= -double(kLimit) || d >= double(kLimit)) {
      return std::nullopt;
    }
    return static_cast<int64_t>(std::floor(d));
  }
  return std::nullopt;
}

Result<Jwt> parse_jwt(std::string_view token) {
  if (token.empty()) {
    return fail(ErrorCode::kAuth, "empty token");
  }
  if (token.size() > kMaxTokenBytes) {
    return fail(ErrorCode::kAuth, "token larger than 16 KiB");
  }
  size_t dot1 = token.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return fail(ErrorCode::kAuth, "not a compact JWS (expected three dot-separated parts)");
  }
  std::string_view h = token.substr(0, dot1);
  std::string_view p = token.substr(dot1 + 1, dot2 - dot1 - 1);
  std::string_view s = token.substr(dot2 + 1);
  if (h.empty() || p.empty()) {
    return fail(ErrorCode::kAuth, "not a compact JWS (empty header or payload)");
  }
  Jwt jwt;
  std::optional<nlohmann::json> header = decode_part(h);
  if (!header) {
    return fail(ErrorCode::kAuth, "malformed token header");
  }
  auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string()) {
    return fail(ErrorCode::kAuth, "token header has no alg");
  }
  jwt.alg = alg->get<std::string>();
  if (auto kid = header->find("kid"); kid != header->end()) {
    if (!kid->is_string()) {
      return fail(ErrorCode::kAuth, "token header kid is not a string");
    }
    jwt.kid = kid->get<std::string>();
  }
  // Critical extensions we do not implement must make the token invalid (RFC 7515 4.1.11).
  if (header->contains("crit")) {
    return fail(ErrorCode::kAuth, "token header crit not supported");
  }
  std::optional<nlohmann::json> payload = decode_part(p);
  if (!payload) {
    return fail(ErrorCode::kAuth, "malformed token payload");
  }
  std::optional<core::Bytes> sig = base64url_decode(s);
  if (!sig) {
    return fail(ErrorCode::kAuth, "malformed token signature");
  }
  jwt.header = std::move(*header);
  jwt.payload = std::move(*payload);
  jwt.signing_input = std::string(token.substr(0, dot2));
  jwt.signature = std::move(*sig);
  return jwt;
}

}  // namespace custos::identity
