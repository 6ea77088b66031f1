#pragma once
// base64url without padding (RFC 7515 section 2), as used by JWS and JWK.

#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.h"

namespace custos::identity {

std::string base64url_encode(core::ByteView data);

// Strict: only A-Z a-z 0-9 - _, no padding, no whitespace, a length that is not 1 mod 4, and
// zero unused trailing bits (one canonical encoding per value). nullopt on any violation.
std::optional<core::Bytes> base64url_decode(std::string_view text);

}  // namespace custos::identity
