#pragma once
// Standard base64 (RFC 4648 section 4, alphabet A-Z a-z 0-9 + /, '=' padding).

#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.h"

namespace custos::core {

// Encodes with padding, no line breaks.
std::string base64_encode(ByteView data);

// Strict decoding: the length must be a multiple of 4, only alphabet characters are accepted
// (no whitespace, no URL-safe alphabet), '=' may appear only as one or two final padding
// characters, and the unused bits before the padding must be zero (canonical form only).
// Returns std::nullopt on any violation. The empty string decodes to an empty buffer.
std::optional<Bytes> base64_decode(std::string_view text);

}  // namespace custos::core
