#pragma once
// PostgreSQL "md5" password authentication (AuthenticationMD5Password, auth code 5).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/secret.h"

namespace custos::postgres {

// The PasswordMessage payload for md5 auth:
//   "md5" + hex(md5( hex(md5(password + user)) + salt4 ))   (lowercase hex, 35 chars).
// Returns an empty string if MD5 is unavailable (e.g. an OpenSSL FIPS-only configuration);
// the server then rejects the login, which is the right outcome.
std::string md5_password_response(std::string_view user, const core::SecretString& password,
                                  std::span<const uint8_t, 4> salt);

}  // namespace custos::postgres
