#include "protocol/postgres/md5_password.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>

#include "core/hex.h"

namespace custos::postgres {

namespace {

// MD5 over the concatenation of two byte ranges; false if the digest is unavailable.
bool md5_two(std::string_view a, core::ByteView b, std::array<uint8_t, 16>& out) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) {
    return false;
  }
  unsigned len = 0;
  bool ok = EVP_DigestInit_ex(ctx, EVP_md5(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx, a.data(), a.size()) == 1 &&
            EVP_DigestUpdate(ctx, b.data(), b.size()) == 1 &&
            EVP_DigestFinal_ex(ctx, out.data(), &len) == 1 && len == out.size();
  EVP_MD_CTX_free(ctx);
  return ok;
}

}  // namespace

std::string md5_password_response(std::string_view user, const core::SecretString& password,
                                  std::span<const uint8_t, 4> salt) {
  // Inner: md5(password + user) — this is what pg_authid stores, i.e. a password equivalent,
  // so both the digest and its hex form are wiped.
  std::array<uint8_t, 16> inner{};
  if (!md5_two(password.reveal(), core::as_bytes(user), inner)) {
    OPENSSL_cleanse(inner.data(), inner.size());
    return {};
  }
  std::string inner_hex = core::to_hex(inner);
  OPENSSL_cleanse(inner.data(), inner.size());

  std::array<uint8_t, 16> outer{};
  bool ok = md5_two(inner_hex, salt, outer);
  OPENSSL_cleanse(inner_hex.data(), inner_hex.size());
  if (!ok) {
    return {};
  }
  return "md5" + core::to_hex(outer);
}

}  // namespace custos::postgres
