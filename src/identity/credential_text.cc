#include "identity/credential_text.h"

#include <sodium.h>

#include <algorithm>
#include <array>

#include "core/hex.h"

namespace custos::identity {
namespace {

constexpr char kBase62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr size_t kRandomBytes = 32;
constexpr size_t kBase62Chars = 43;  // ceil(256 / log2(62))

std::string random_base62() {
  std::array<uint8_t, kRandomBytes> n{};
  randombytes_buf(n.data(), n.size());
  std::string out(kBase62Chars, '0');
  // Repeated division of the big-endian number by 62; exactly 43 digits (leading zeros kept).
  for (size_t pos = kBase62Chars; pos-- > 0;) {
    uint32_t rem = 0;
    for (uint8_t& byte : n) {
      uint32_t cur = (rem << 8) | byte;
      byte = static_cast<uint8_t>(cur / 62);
      rem = cur % 62;
    }
    out[pos] = kBase62[rem];
  }
  sodium_memzero(n.data(), n.size());
  return out;
}

}  // namespace

core::SecretString generate_api_key() {
  return core::SecretString(std::string(kApiKeyPrefix) + random_base62());
}

core::SecretString generate_exchange_token() {
  return core::SecretString(std::string(kTokenPrefix) + random_base62());
}

std::string credential_id(std::string_view text) { return core::sha256_hex(text).substr(0, 12); }

bool looks_like_exchange_token(std::string_view text) { return text.starts_with(kTokenPrefix); }

}  // namespace custos::identity
