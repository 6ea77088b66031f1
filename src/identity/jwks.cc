#include "identity/jwks.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>

#include "core/ascii.h"
#include "identity/base64url.h"
#include "identity/jwt.h"

namespace custos::identity {
namespace {

std::shared_ptr<EVP_PKEY> wrap(EVP_PKEY* k) { return std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free); }

std::optional<core::Bytes> b64_member(const nlohmann::json& jwk, const char* name) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) {
    return std::nullopt;
  }
  return base64url_decode(it->get_ref<const std::string&>());
}

std::optional<std::string> string_member(const nlohmann::json& jwk, const char* name) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) {
    return std::nullopt;
  }
  return it->get<std::string>();
}

// Imports parameters built in `bld` as a public key of `type`, then checks it.
std::shared_ptr<EVP_PKEY> from_params(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  if (params == nullptr) {
    return nullptr;
  }
  EVP_PKEY* pkey = nullptr;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  bool ok = ctx != nullptr && EVP_PKEY_fromdata_init(ctx) == 1 &&
            EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  if (!ok || pkey == nullptr) {
    EVP_PKEY_free(pkey);
    return nullptr;
  }
  std::shared_ptr<EVP_PKEY> key = wrap(pkey);
  EVP_PKEY_CTX* check = EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr);
  bool valid = check != nullptr && EVP_PKEY_public_check(check) == 1;
  EVP_PKEY_CTX_free(check);
  return valid ? key : nullptr;
}

std::shared_ptr<EVP_PKEY> rsa_key(const nlohmann::json& jwk) {
  auto n = b64_member(jwk, "n");
  auto e = b64_member(jwk, "e");
  if (!n || !e || n->empty() || e->empty() || e->size() > 8 || n->size() > 1024) {
    return nullptr;
  }
  BIGNUM* bn_n = BN_bin2bn(n->data(), int(n->size()), nullptr);
  BIGNUM* bn_e = BN_bin2bn(e->data(), int(e->size()), nullptr);
  std::shared_ptr<EVP_PKEY> key;
  if (bn_n != nullptr && bn_e != nullptr && BN_num_bits(bn_n) >= 2048) {
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    if (bld != nullptr && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1) {
      key = from_params("RSA", bld);
    }
    OSSL_PARAM_BLD_free(bld);
  }
  BN_free(bn_n);
  BN_free(bn_e);
  return key;
}

std::shared_ptr<EVP_PKEY> ec_p256_key(const nlohmann::json& jwk) {
  auto x = b64_member(jwk, "x");
  auto y = b64_member(jwk, "y");
  if (!x || !y || x->size() != 32 || y->size() != 32) {
    return nullptr;
  }
  core::Bytes point;
  point.reserve(65);
  point.push_back(0x04);
  point.insert(point.end(), x->begin(), x->end());
  point.insert(point.end(), y->begin(), y->end());
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  std::shared_ptr<EVP_PKEY> key;
  char group[] = "prime256v1";
  if (bld != nullptr &&
      OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) ==
          1) {
    key = from_params("EC", bld);
  }
  OSSL_PARAM_BLD_free(bld);
  return key;
}

std::optional<Jwk> parse_key(const nlohmann::json& jwk) {
  if (!jwk.is_object()) {
    return std::nullopt;
  }
  auto kid = string_member(jwk, "kid");
  auto kty = string_member(jwk, "kty");
  if (!kid || kid->empty() || !kty) {
    return std::nullopt;
  }
  if (jwk.contains("use") && string_member(jwk, "use") != std::optional<std::string>("sig")) {
    return std::nullopt;
  }
  if (auto ops = jwk.find("key_ops"); ops != jwk.end()) {
    bool verify = false;
    if (ops->is_array()) {
      for (const auto& op : *ops) {
        verify = verify || (op.is_string() && op.get_ref<const std::string&>() == "verify");
      }
    }
    if (!verify) {
      return std::nullopt;
    }
  }
  std::optional<std::string> declared_alg = string_member(jwk, "alg");
  if (jwk.contains("alg") && !declared_alg) {
    return std::nullopt;
  }
  Jwk out;
  out.kid = *kid;
  if (*kty == "RSA") {
    if (declared_alg && *declared_alg != "RS256") {
      return std::nullopt;
    }
    out.alg = JwsAlg::kRs256;
    out.key = rsa_key(jwk);
  } else if (*kty == "EC") {
    if (string_member(jwk, "crv") != std::optional<std::string>("P-256") ||
        (declared_alg && *declared_alg != "ES256")) {
      return std::nullopt;
    }
    out.alg = JwsAlg::kEs256;
    out.key = ec_p256_key(jwk);
  } else {
    return std::nullopt;
  }
  if (!out.key) {
    return std::nullopt;
  }
  return out;
}

// JOSE r||s (32 + 32 bytes) → DER ECDSA-Sig-Value, as EVP_DigestVerify expects.
std::optional<core::Bytes> es256_to_der(core::ByteView raw) {
  if (raw.size() != 64) {
    return std::nullopt;
  }
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(raw.data(), 32, nullptr);
  BIGNUM* s = BN_bin2bn(raw.data() + 32, 32, nullptr);
  if (sig == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
    ECDSA_SIG_free(sig);
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (len <= 0) {
    return std::nullopt;
  }
  core::Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

}  // namespace

std::vector<const Jwk*> Jwks::find(std::string_view kid, JwsAlg alg) const {
  std::vector<const Jwk*> out;
  for (const Jwk& k : keys_) {
    if (k.kid == kid && k.alg == alg) {
      out.push_back(&k);
    }
  }
  return out;
}

bool Jwks::has_kid(std::string_view kid) const {
  for (const Jwk& k : keys_) {
    if (k.kid == kid) {
      return true;
    }
  }
  return false;
}

Result<Jwks> parse_jwks(std::string_view json) {
  if (json.size() > kMaxJwksBytes) {
    return fail(ErrorCode::kProtocol, "JWKS larger than 1 MiB");
  }
  std::optional<nlohmann::json> doc = parse_json_object(json, kMaxJsonDepth);
  if (!doc) {
    return fail(ErrorCode::kProtocol, "JWKS is not a JSON object");
  }
  auto keys = doc->find("keys");
  if (keys == doc->end() || !keys->is_array()) {
    return fail(ErrorCode::kProtocol, "JWKS has no keys array");
  }
  if (keys->size() > kMaxJwksKeys) {
    return fail(ErrorCode::kProtocol, "JWKS has more than 100 keys");
  }
  Jwks out;
  for (const auto& k : *keys) {
    if (std::optional<Jwk> key = parse_key(k)) {
      out.add(std::move(*key));
    }
  }
  return out;
}

Result<JwsAlg> parse_jws_alg(std::string_view alg) {
  if (alg == "RS256") {
    return JwsAlg::kRs256;
  }
  if (alg == "ES256") {
    return JwsAlg::kEs256;
  }
  if (core::ascii_lower(alg) == "none") {
    return fail(ErrorCode::kAuth, "alg none refused");
  }
  std::string shown;
  for (char c : alg.substr(0, 16)) {
    shown += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return fail(ErrorCode::kAuth, "alg " + shown + " refused (only RS256 and ES256)");
}

bool verify_jws_signature(const Jwk& key, std::string_view signing_input,
                          core::ByteView signature) {
  core::Bytes der;
  core::ByteView sig = signature;
  if (key.alg == JwsAlg::kEs256) {
    std::optional<core::Bytes> converted = es256_to_der(signature);
    if (!converted) {
      return false;
    }
    der = std::move(*converted);
    sig = der;
  } else if (size_t(EVP_PKEY_get_size(key.key.get())) != signature.size()) {
    return false;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx != nullptr &&
            EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key.key.get()) == 1 &&
            EVP_DigestVerify(ctx, sig.data(), sig.size(),
                             reinterpret_cast<const unsigned char*>(signing_input.data()),
                             signing_input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

}  // namespace custos::identity
