#pragma once
// Test-only PKI for the identity and TLS stream tests: keys, a JWT signer, JWKS documents and
// X.509 certificates generated with OpenSSL at test time (nothing secret is checked in).

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "identity/base64url.h"

namespace custos::testpki {

using PKey = std::shared_ptr<EVP_PKEY>;
using Cert = std::shared_ptr<X509>;

inline PKey rsa_key() {
  return PKey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}), EVP_PKEY_free);
}
inline PKey ec_key() {
  return PKey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), EVP_PKEY_free);
}

inline std::string b64u(const std::vector<uint8_t>& v) { return identity::base64url_encode(v); }
inline std::string b64u(std::string_view s) {
  return identity::base64url_encode(
      core::ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

inline std::vector<uint8_t> bn_param(EVP_PKEY* k, const char* name, int pad = 0) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(k, name, &bn) != 1) {
    throw std::runtime_error("bn param");
  }
  int len = pad > 0 ? pad : BN_num_bytes(bn);
  std::vector<uint8_t> out(size_t(len), 0);
  BN_bn2binpad(bn, out.data(), len);
  BN_free(bn);
  return out;
}

inline nlohmann::json rsa_jwk(EVP_PKEY* k, const std::string& kid) {
  return {{"kty", "RSA"},
          {"kid", kid},
          {"use", "sig"},
          {"alg", "RS256"},
          {"n", b64u(bn_param(k, OSSL_PKEY_PARAM_RSA_N))},
          {"e", b64u(bn_param(k, OSSL_PKEY_PARAM_RSA_E))}};
}

inline nlohmann::json ec_jwk(EVP_PKEY* k, const std::string& kid) {
  return {{"kty", "EC"},
          {"kid", kid},
          {"crv", "P-256"},
          {"use", "sig"},
          {"x", b64u(bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, 32))},
          {"y", b64u(bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
}

inline std::vector<uint8_t> digest_sign(EVP_PKEY* k, const std::string& input) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, k);
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const uint8_t*>(input.data()), input.size());
  std::vector<uint8_t> sig(len);
  EVP_DigestSign(ctx, sig.data(), &len, reinterpret_cast<const uint8_t*>(input.data()),
                 input.size());
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  return sig;
}

// Signs header.payload with the key's natural JOSE algorithm (RS256 for RSA, ES256 for EC).
inline std::string sign_jwt(const nlohmann::json& header, const nlohmann::json& payload,
                            EVP_PKEY* k) {
  std::string input = b64u(header.dump()) + "." + b64u(payload.dump());
  std::vector<uint8_t> sig = digest_sign(k, input);
  if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC) {
    const uint8_t* p = sig.data();
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, long(sig.size()));
    std::vector<uint8_t> raw(64);
    BN_bn2binpad(ECDSA_SIG_get0_r(es), raw.data(), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), raw.data() + 32, 32);
    ECDSA_SIG_free(es);
    sig = raw;
  }
  return input + "." + b64u(sig);
}

inline std::string hs256_jwt(const nlohmann::json& header, const nlohmann::json& payload,
                             const std::string& secret) {
  std::string input = b64u(header.dump()) + "." + b64u(payload.dump());
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), int(secret.size()),
       reinterpret_cast<const uint8_t*>(input.data()), input.size(), mac, &len);
  return input + "." + b64u(std::vector<uint8_t>(mac, mac + len));
}

inline std::string public_pem(EVP_PKEY* k) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, k);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, size_t(n));
  BIO_free(bio);
  return out;
}

// A certificate for `key` signed by `issuer_key` (self-signed when issuer is null).
// `ext` entries are "name=value" in openssl.cnf syntax (e.g. "subjectAltName=URI:spiffe://x").
inline Cert make_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key,
                      const std::vector<std::pair<int, std::string>>& ext, long serial = 1) {
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : x, x, nullptr, nullptr, 0);
  for (const auto& [nid, value] : ext) {
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (e == nullptr) {
      throw std::runtime_error("bad extension " + value);
    }
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
  }
  X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256());
  return Cert(x, X509_free);
}

inline std::string cert_pem(X509* x) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, size_t(n));
  BIO_free(bio);
  return out;
}

inline std::string key_pem(EVP_PKEY* k) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, size_t(n));
  BIO_free(bio);
  return out;
}

inline void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

inline std::filesystem::path temp_dir(const std::string& tag) {
  std::filesystem::path p =
      std::filesystem::temp_directory_path() /
      ("custos_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(std::rand()));
  std::filesystem::create_directories(p);
  return p;
}

}  // namespace custos::testpki
