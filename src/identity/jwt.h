#pragma once
// Jwt: a compact JWS (header.payload.signature) split and decoded, NOT yet verified. Parsing is
// strict and bounded: at most kMaxTokenBytes, exactly three base64url parts, header and payload
// JSON objects nested at most kMaxJsonDepth deep, `alg` a string. Nothing here trusts the
// content; OidcVerifier checks the signature and the claims.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/result.h"

namespace custos::identity {

inline constexpr size_t kMaxTokenBytes = 16 * 1024;
inline constexpr int kMaxJsonDepth = 16;

struct Jwt {
  nlohmann::json header;      // an object
  nlohmann::json payload;     // an object
  std::string alg;            // header alg
  std::string kid;            // header kid, empty when absent
  std::string signing_input;  // "<header b64>.<payload b64>": what the signature covers
  core::Bytes signature;
};

[[nodiscard]] Result<Jwt> parse_jwt(std::string_view token);

// Parses a JSON object with the depth bound and without exceptions; nullopt when the text is
// not a JSON object (or too deep). Used for headers, payloads, JWKS and discovery documents.
std::optional<nlohmann::json> parse_json_object(std::string_view text, int max_depth);

// A NumericDate claim (seconds since the epoch; integer or finite float, |v| < 2^40) or
// nullopt when the claim is absent or not such a number.
std::optional<int64_t> numeric_date(const nlohmann::json& payload, const char* claim);

}  // namespace custos::identity
