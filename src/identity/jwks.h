#pragma once
// Jwks: the public signing keys of an OIDC issuer (RFC 7517), as OpenSSL keys, and JWS
// signature verification for the two algorithms custos accepts: RS256 and ES256. A key is only
// ever used with the algorithm its type implies (RSA → RS256, EC P-256 → ES256); a declared
// `alg` or `use` that disagrees makes the key unusable for that token.

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"

namespace custos::identity {

enum class JwsAlg { kRs256, kEs256 };

struct Jwk {
  std::string kid;
  JwsAlg alg = JwsAlg::kRs256;  // implied by kty (and crv)
  std::shared_ptr<EVP_PKEY> key;
};

inline constexpr size_t kMaxJwksBytes = 1 << 20;
inline constexpr size_t kMaxJwksKeys = 100;

class Jwks {
 public:
  // Keys with this kid that can verify `alg` (usually zero or one).
  std::vector<const Jwk*> find(std::string_view kid, JwsAlg alg) const;
  bool has_kid(std::string_view kid) const;
  size_t size() const { return keys_.size(); }
  void add(Jwk key) { keys_.push_back(std::move(key)); }

 private:
  std::vector<Jwk> keys_;
};

// Parses a JWKS document. Keys custos cannot use (other kty/crv, use: enc, no kid, RSA modulus
// under 2048 bits, EC point not on the curve) are skipped; the document itself must be a JSON
// object with a "keys" array, under 1 MiB and 100 keys.
[[nodiscard]] Result<Jwks> parse_jwks(std::string_view json);

// "RS256" → kRs256, "ES256" → kEs256; every other alg (none, HS256, PS256, ...) is refused with
// a reason naming it.
[[nodiscard]] Result<JwsAlg> parse_jws_alg(std::string_view alg);

// Verifies a JWS signature. For ES256 the signature is the JOSE raw r||s (64 bytes).
[[nodiscard]] bool verify_jws_signature(const Jwk& key, std::string_view signing_input,
                                        core::ByteView signature);

}  // namespace custos::identity
