#include "identity/mtls_authenticator.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <optional>

#include "core/hex.h"

namespace custos::identity {
namespace {

std::string printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 120)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return out;
}

std::string asn1_text(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     size_t(ASN1_STRING_length(s)));
}

// URI SANs of the certificate.
std::vector<std::string> uri_sans(X509* cert) {
  std::vector<std::string> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) {
    return out;
  }
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_URI) {
      out.push_back(asn1_text(n->d.uniformResourceIdentifier));
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

// The subject CN when there is exactly one, as raw bytes (an embedded NUL never matches a name).
std::optional<std::string> single_cn(X509* cert) {
  X509_NAME* subject = X509_get_subject_name(cert);
  int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (idx < 0 || X509_NAME_get_index_by_NID(subject, NID_commonName, idx) >= 0) {
    return std::nullopt;
  }
  return asn1_text(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx)));
}

Result<void> check_validity(X509* cert, std::chrono::system_clock::time_point now) {
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  if (X509_cmp_time(X509_get0_notBefore(cert), &t) >= 0) {
    return fail(ErrorCode::kAuth, "client certificate not yet valid");
  }
  if (X509_cmp_time(X509_get0_notAfter(cert), &t) <= 0) {
    return fail(ErrorCode::kAuth, "client certificate expired");
  }
  return {};
}

Result<void> matches(const config::MtlsConfig& mtls, X509* cert) {
  if (!mtls.spiffe_id.empty()) {
    std::vector<std::string> uris = uri_sans(cert);
    if (uris.size() != 1) {
      return fail(ErrorCode::kAuth, "client certificate has " + std::to_string(uris.size()) +
                                        " URI SANs (a SPIFFE SVID has exactly one)");
    }
    if (!uris[0].starts_with("spiffe://")) {
      return fail(ErrorCode::kAuth, "client certificate URI SAN is not a SPIFFE ID");
    }
    if (X509_check_ca(cert) != 0) {
      return fail(ErrorCode::kAuth, "client certificate is a CA certificate");
    }
    if (uris[0] != mtls.spiffe_id) {
      return fail(ErrorCode::kAuth,
                  "spiffe id mismatch: expected " + mtls.spiffe_id + ", got " + printable(uris[0]));
    }
    return {};
  }
  std::optional<std::string> cn = single_cn(cert);
  if (!cn) {
    return fail(ErrorCode::kAuth, "client certificate subject has no single CN");
  }
  if (*cn != mtls.subject_cn) {
    return fail(ErrorCode::kAuth,
                "subject CN mismatch: expected " + mtls.subject_cn + ", got " + printable(*cn));
  }
  return {};
}

}  // namespace

MtlsAuthenticator::MtlsAuthenticator(const config::Config& cfg) {
  for (const config::Identity& id : cfg.identities) {
    if (id.mtls) {
      entries_.push_back(Entry{id.name, id.groups, *id.mtls});
    }
  }
}

Result<Principal> MtlsAuthenticator::authenticate_certificate(
    std::string_view identity, X509* peer_cert, std::chrono::system_clock::time_point now) const {
  if (peer_cert == nullptr) {
    return fail(ErrorCode::kAuth, "no client certificate");
  }
  const Entry* entry = nullptr;
  for (const Entry& e : entries_) {
    if (e.name == identity) {
      entry = &e;
    }
  }
  if (entry == nullptr) {
    return fail(ErrorCode::kAuth, "identity has no mtls configured");
  }
  if (Result<void> v = check_validity(peer_cert, now); !v) {
    return fail(ErrorCode::kAuth, v.error().message);
  }
  if (Result<void> m = matches(entry->mtls, peer_cert); !m) {
    return fail(ErrorCode::kAuth, m.error().message);
  }
  Principal p;
  p.identity = entry->name;
  p.groups = entry->groups;
  p.auth_method = "mtls";
  p.cert_fingerprint = certificate_fingerprint(peer_cert);
  return p;
}

std::vector<std::string> MtlsAuthenticator::identities_for(
    X509* peer_cert, std::chrono::system_clock::time_point now) const {
  std::vector<std::string> out;
  if (peer_cert == nullptr || !check_validity(peer_cert, now)) {
    return out;
  }
  for (const Entry& e : entries_) {
    if (matches(e.mtls, peer_cert)) {
      out.push_back(e.name);
    }
  }
  return out;
}

Result<void> configure_client_certificates(SSL_CTX* ctx, const std::string& client_ca_path) {
  if (SSL_CTX_load_verify_locations(ctx, client_ca_path.c_str(), nullptr) != 1) {
    ERR_clear_error();
    return fail(ErrorCode::kConfig, "cannot load client CA bundle " + client_ca_path);
  }
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(client_ca_path.c_str());
  if (names == nullptr) {
    ERR_clear_error();
    return fail(ErrorCode::kConfig, "no certificates in client CA bundle " + client_ca_path);
  }
  SSL_CTX_set_client_CA_list(ctx, names);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_verify_depth(ctx, 4);
  return {};
}

X509* verified_peer_certificate(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) {
    return nullptr;
  }
  if (SSL_get_verify_result(ssl) != X509_V_OK) {
    X509_free(cert);
    return nullptr;
  }
  return cert;
}

std::string certificate_fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1) {
    return "";
  }
  return core::to_hex(core::ByteView(md, len));
}

}  // namespace custos::identity
