#pragma once
// The text of credentials custos issues: API keys "cst_<43 base62>" and exchanged tokens
// "cst_t_<43 base62>" (32 random bytes each, 49 characters at most). Only their SHA-256 is
// stored; the id shown and logged is the first 12 hex characters of that digest.

#include <string>
#include <string_view>

#include "core/secret.h"

namespace custos::identity {

inline constexpr std::string_view kApiKeyPrefix = "cst_";
inline constexpr std::string_view kTokenPrefix = "cst_t_";

core::SecretString generate_api_key();
core::SecretString generate_exchange_token();

// First 12 hex characters of sha256_hex(text).
std::string credential_id(std::string_view text);

bool looks_like_exchange_token(std::string_view text);

}  // namespace custos::identity
