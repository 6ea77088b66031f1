#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"

namespace custos::core {

std::string to_hex(ByteView bytes);
std::optional<Bytes> from_hex(std::string_view hex);
// SHA-256 of data, lowercase hex.
std::string sha256_hex(std::string_view data);
// Constant-time equality of two equal-length strings (false when lengths differ).
bool constant_time_equal(std::string_view a, std::string_view b);
// Cryptographically random bytes / hex string.
Bytes random_bytes(size_t n);
std::string random_hex(size_t n_bytes);

}  // namespace custos::core
