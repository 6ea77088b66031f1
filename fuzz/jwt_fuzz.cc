// libFuzzer target: JWT (compact JWS) and JWKS parsing, and signature verification of whatever
// parses, against a fixed JWKS of one RSA and one EC key. The first input byte picks the mode:
//   0: parse_jwt → alg → verify against the fixed keys; numeric dates of the payload
//   1: parse_jwks (and verify a fixed message with every key it yields)
//   2: base64url: a decoded string re-encodes to itself (strict decoding is canonical)
// Built without custos_lib (plain C++20 under clang-14); see CMakeLists.txt.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "identity/base64url.h"
#include "identity/jwks.h"
#include "identity/jwt.h"

namespace {

using custos::identity::Jwks;

// A fixed JWKS of freshly generated keys whose private halves were thrown away: nothing the
// fuzzer produces can carry a valid signature for them (the seeds are signed with other keys).
constexpr const char* kJwks =
    R"({"keys":[{"alg":"RS256","e":"AQAB","kid":"rsa1","kty":"RSA","n":"ycIBIwpowfpIh1lWl051yd_qOfY5LE4WU8n-EM8D_jNeMKvDC30B5MbTqU2sSVqhbq-undGWeoNxjFCW-DvOMWcMJOa6fWU146bZOGxZsuvSGrSaIwiQzXrshr8GHDsnf7Tqx4BttapzniuDrlAiDPmQJ611emyEPeqHYn0ole2Mw8haVW9yKTHzTmQ9z4Qw6akAoczr_4GiQxNBPPAeGzCoFNhuVrfFP9eukOEHiuzaz4CoGUC_1ggGhII2bW3ew0uK43qWQ0DEz1pXDTlmkeMgS8_agVcHf3a4e8gZXr9JH1cqWZ8bchPOGUOiGNOFMYBttSjsDi6vWDVrXj53YQ","use":"sig"},{"crv":"P-256","kid":"ec1","kty":"EC","use":"sig","x":"VIOBJ3Byl1nTTjUr4_pdT32td1U9gdxT6JneCtGDnTQ","y":"l25VBMZS9oJyJLjKhfAzSQs9Lg2YViCQG2dYWyPZLjQ"}]})";

const Jwks& fixed_keys() {
  static const Jwks keys = [] {
    custos::Result<Jwks> k = custos::identity::parse_jwks(kJwks);
    if (!k.has_value() || k.value().size() != 2) {
      __builtin_trap();  // the fixed keys must load, or the verify path is never exercised
    }
    return k.value();
  }();
  return keys;
}

void fuzz_jwt(std::string_view token) {
  custos::Result<custos::identity::Jwt> jwt = custos::identity::parse_jwt(token);
  if (!jwt.has_value()) {
    return;
  }
  (void)custos::identity::numeric_date(jwt.value().payload, "exp");
  (void)custos::identity::numeric_date(jwt.value().payload, "iat");
  custos::Result<custos::identity::JwsAlg> alg = custos::identity::parse_jws_alg(jwt.value().alg);
  if (!alg.has_value()) {
    return;
  }
  for (const custos::identity::Jwk* key : fixed_keys().find(jwt.value().kid, alg.value())) {
    // A random input must never verify.
    if (custos::identity::verify_jws_signature(*key, jwt.value().signing_input,
                                               jwt.value().signature)) {
      __builtin_trap();
    }
  }
}

void fuzz_jwks(std::string_view text) {
  custos::Result<Jwks> jwks = custos::identity::parse_jwks(text);
  if (!jwks.has_value()) {
    return;
  }
  static const uint8_t kSig[64] = {1};
  for (const char* kid : {"a", "rsa1", "ec1", "1"}) {
    for (custos::identity::JwsAlg alg :
         {custos::identity::JwsAlg::kRs256, custos::identity::JwsAlg::kEs256}) {
      for (const custos::identity::Jwk* key : jwks.value().find(kid, alg)) {
        (void)custos::identity::verify_jws_signature(*key, "x.y", custos::core::ByteView(kSig, 64));
      }
    }
  }
}

void fuzz_base64url(std::string_view text) {
  std::optional<custos::core::Bytes> raw = custos::identity::base64url_decode(text);
  if (raw && custos::identity::base64url_encode(*raw) != text) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      fuzz_jwt(input);
      break;
    case 1:
      fuzz_jwks(input);
      break;
    default:
      fuzz_base64url(input);
      break;
  }
  return 0;
}
