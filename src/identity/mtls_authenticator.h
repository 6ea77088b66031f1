#pragma once
// MtlsAuthenticator: an identity authenticated by its TLS client certificate. The TLS layer
// verifies the chain against tls.client_ca (configure_client_certificates below); this class then
// checks that the certificate names the identity:
//   - mtls.spiffe_id: the certificate carries exactly one URI SAN, it is a spiffe:// ID, and it is
//     exactly the configured one (X.509-SVID rules; a CA certificate is refused as a leaf);
//   - mtls.subject_cn: the subject has exactly one CN, exactly the configured value.
// Also checked again here: the certificate is within its validity period at `now`.
// Principal{identity, groups, "mtls", cert_fingerprint = SHA-256 hex of the DER}.

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/result.h"
#include "identity/principal.h"

namespace custos::identity {

class MtlsAuthenticator {
 public:
  explicit MtlsAuthenticator(const config::Config& cfg);

  // `peer_cert` must already be chain-verified by the TLS layer (see verified_peer_certificate).
  [[nodiscard]] Result<Principal> authenticate_certificate(
      std::string_view identity, X509* peer_cert, std::chrono::system_clock::time_point now) const;

  // Identities whose mtls section this certificate satisfies (to pick one when the client did
  // not name an identity). Same checks as authenticate_certificate.
  std::vector<std::string> identities_for(X509* peer_cert,
                                          std::chrono::system_clock::time_point now) const;

 private:
  struct Entry {
    std::string name;
    std::vector<std::string> groups;
    config::MtlsConfig mtls;
  };
  std::vector<Entry> entries_;
};

// Server side: request a client certificate and verify it against the PEM bundle at
// `client_ca_path` when one is sent (SSL_VERIFY_PEER without FAIL_IF_NO_PEER_CERT: clients that
// authenticate with an API key or token still connect; a client certificate that does not verify
// fails the handshake). Also sends the CA names in the CertificateRequest.
[[nodiscard]] Result<void> configure_client_certificates(SSL_CTX* ctx,
                                                         const std::string& client_ca_path);

// The client certificate of an established connection if one was sent AND it verified; nullptr
// otherwise. The caller owns the returned reference (X509_free).
X509* verified_peer_certificate(SSL* ssl);

// SHA-256 hex of the certificate's DER encoding.
std::string certificate_fingerprint(X509* cert);

}  // namespace custos::identity
