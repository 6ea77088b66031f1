// mTLS / SPIFFE: matching a (chain-verified) client certificate to an identity, and the server
// SSL_CTX setup that makes client certificates optional but verified.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>

#include "core/hex.h"
#include "identity/mtls_authenticator.h"
#include "support/identity_test_pki.h"

namespace custos::identity {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Clock = std::chrono::system_clock;
using namespace std::chrono_literals;
namespace pki = custos::testpki;

struct Pki {
  pki::PKey ca_key = pki::ec_key();
  pki::Cert ca = pki::make_cert(ca_key.get(), "acme CI CA", nullptr, nullptr,
                                {{NID_basic_constraints, "critical,CA:TRUE"},
                                 {NID_key_usage, "critical,keyCertSign,cRLSign"}});
  pki::PKey other_ca_key = pki::ec_key();
  pki::Cert other_ca = pki::make_cert(other_ca_key.get(), "evil CA", nullptr, nullptr,
                                      {{NID_basic_constraints, "critical,CA:TRUE"}});
  pki::PKey leaf_key = pki::ec_key();
  pki::Cert deployer = leaf("deployer", "URI:spiffe://acme.org/ci/deployer");
  pki::Cert two_uris = leaf("x", "URI:spiffe://acme.org/ci/deployer,URI:spiffe://acme.org/admin");
  pki::Cert https_uri = leaf("x", "URI:https://acme.org/ci/deployer");
  pki::Cert other_id = leaf("x", "URI:spiffe://acme.org/ci/other");
  pki::Cert legacy = leaf("legacy-bot", "DNS:legacy.acme.org");
  pki::Cert from_other_ca =
      pki::make_cert(leaf_key.get(), "deployer", other_ca.get(), other_ca_key.get(),
                     {{NID_subject_alt_name, "URI:spiffe://acme.org/ci/deployer"}}, 9);

  pki::Cert leaf(const std::string& cn, const std::string& san) {
    static long serial = 100;
    return pki::make_cert(leaf_key.get(), cn, ca.get(), ca_key.get(),
                          {{NID_basic_constraints, "critical,CA:FALSE"},
                           {NID_subject_alt_name, san},
                           {NID_ext_key_usage, "clientAuth,serverAuth"}},
                          ++serial);
  }
};

Pki& test_pki() {
  static Pki p;
  return p;
}

config::Config mtls_config() {
  config::Config cfg;
  config::Identity deployer;
  deployer.name = "deployer";
  deployer.groups = {"ci"};
  deployer.mtls = config::MtlsConfig{"spiffe://acme.org/ci/deployer", "", 1};
  config::Identity legacy;
  legacy.name = "legacy";
  legacy.mtls = config::MtlsConfig{"", "legacy-bot", 2};
  config::Identity keys_only;
  keys_only.name = "ci-deploy";
  cfg.identities = {deployer, legacy, keys_only};
  return cfg;
}

TEST(Mtls, SpiffeIdMatches) {
  MtlsAuthenticator auth(mtls_config());
  Result<Principal> p =
      auth.authenticate_certificate("deployer", test_pki().deployer.get(), Clock::now());
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_EQ(p->identity, "deployer");
  EXPECT_EQ(p->groups, std::vector<std::string>{"ci"});
  EXPECT_EQ(p->auth_method, "mtls");
  // The fingerprint is the SHA-256 of the DER.
  unsigned char* der = nullptr;
  int len = i2d_X509(test_pki().deployer.get(), &der);
  std::string expected =
      core::sha256_hex(std::string_view(reinterpret_cast<char*>(der), size_t(len)));
  OPENSSL_free(der);
  EXPECT_EQ(p->cert_fingerprint, expected);
}

TEST(Mtls, SpiffeIdMismatchesAreRefused) {
  MtlsAuthenticator auth(mtls_config());
  auto refusal = [&](X509* cert, std::string_view identity = "deployer") {
    Result<Principal> r = auth.authenticate_certificate(identity, cert, Clock::now());
    EXPECT_FALSE(r.has_value());
    return r.has_value() ? std::string() : r.error().message;
  };
  EXPECT_EQ(refusal(test_pki().other_id.get()),
            "spiffe id mismatch: expected spiffe://acme.org/ci/deployer, got "
            "spiffe://acme.org/ci/other");
  EXPECT_THAT(refusal(test_pki().two_uris.get()), HasSubstr("has 2 URI SANs"));
  EXPECT_EQ(refusal(test_pki().https_uri.get()), "client certificate URI SAN is not a SPIFFE ID");
  EXPECT_THAT(refusal(test_pki().legacy.get()), HasSubstr("has 0 URI SANs"));
  EXPECT_EQ(refusal(test_pki().ca.get()),
            "client certificate has 0 URI SANs (a SPIFFE SVID has exactly one)");
  EXPECT_EQ(refusal(nullptr), "no client certificate");
  EXPECT_EQ(refusal(test_pki().deployer.get(), "ci-deploy"), "identity has no mtls configured");
  EXPECT_EQ(refusal(test_pki().deployer.get(), "nobody"), "identity has no mtls configured");
}

TEST(Mtls, SubjectCnMatches) {
  MtlsAuthenticator auth(mtls_config());
  EXPECT_TRUE(
      auth.authenticate_certificate("legacy", test_pki().legacy.get(), Clock::now()).has_value());
  Result<Principal> r =
      auth.authenticate_certificate("legacy", test_pki().deployer.get(), Clock::now());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "subject CN mismatch: expected legacy-bot, got deployer");
}

TEST(Mtls, ValidityCheckedAtNow) {
  MtlsAuthenticator auth(mtls_config());
  Result<Principal> r =
      auth.authenticate_certificate("deployer", test_pki().deployer.get(), Clock::now() + 48h);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "client certificate expired");
  r = auth.authenticate_certificate("deployer", test_pki().deployer.get(), Clock::now() - 2h);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "client certificate not yet valid");
}

TEST(Mtls, IdentitiesForCertificate) {
  MtlsAuthenticator auth(mtls_config());
  EXPECT_EQ(auth.identities_for(test_pki().deployer.get(), Clock::now()),
            std::vector<std::string>{"deployer"});
  EXPECT_EQ(auth.identities_for(test_pki().legacy.get(), Clock::now()),
            std::vector<std::string>{"legacy"});
  EXPECT_TRUE(auth.identities_for(test_pki().other_id.get(), Clock::now()).empty());
}

// ---------------------------------------------------------------------------------------------
// Server SSL_CTX: client certificates optional, verified against client_ca when present.

class HandshakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = pki::temp_dir("mtls");
    pki::write_file(dir_ / "client_ca.pem", pki::cert_pem(test_pki().ca.get()));
    server_key_ = pki::ec_key();
    server_cert_ =
        pki::make_cert(server_key_.get(), "gateway", test_pki().ca.get(), test_pki().ca_key.get(),
                       {{NID_subject_alt_name, "DNS:gateway"}}, 50);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  struct Outcome {
    bool ok = false;
    X509* peer = nullptr;  // owned
  };
  // Runs a TLS handshake in memory; the client presents `cert` (or nothing).
  Outcome handshake(X509* client_cert) {
    SSL_CTX* sctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(sctx, server_cert_.get());
    SSL_CTX_use_PrivateKey(sctx, server_key_.get());
    Result<void> configured =
        configure_client_certificates(sctx, (dir_ / "client_ca.pem").string());
    EXPECT_TRUE(configured.has_value());
    SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
    if (client_cert != nullptr) {
      SSL_CTX_use_certificate(cctx, client_cert);
      SSL_CTX_use_PrivateKey(cctx, test_pki().leaf_key.get());
    }
    SSL* s = SSL_new(sctx);
    SSL* c = SSL_new(cctx);
    BIO *sb = nullptr, *cb = nullptr;
    BIO_new_bio_pair(&sb, 0, &cb, 0);
    SSL_set_bio(s, sb, sb);
    SSL_set_bio(c, cb, cb);
    SSL_set_accept_state(s);
    SSL_set_connect_state(c);
    bool s_done = false, c_done = false, failed = false;
    for (int i = 0; i < 100 && !(s_done && c_done) && !failed; ++i) {
      if (!c_done) {
        int r = SSL_do_handshake(c);
        c_done = r == 1;
        failed = failed || (r <= 0 && SSL_get_error(c, r) != SSL_ERROR_WANT_READ);
      }
      if (!s_done) {
        int r = SSL_do_handshake(s);
        s_done = r == 1;
        failed = failed || (r <= 0 && SSL_get_error(s, r) != SSL_ERROR_WANT_READ);
      }
    }
    // TLS 1.3: the server learns about a rejected client certificate after the client finished;
    // exchange one application byte so both sides have processed everything.
    if (!failed) {
      char byte = 'x';
      SSL_write(c, &byte, 1);
      failed = SSL_read(s, &byte, 1) != 1;
    }
    Outcome out;
    out.ok = s_done && c_done && !failed;
    out.peer = out.ok ? verified_peer_certificate(s) : nullptr;
    ERR_clear_error();
    SSL_free(s);
    SSL_free(c);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    return out;
  }

  std::filesystem::path dir_;
  pki::PKey server_key_;
  pki::Cert server_cert_;
};

TEST_F(HandshakeTest, ClientWithoutCertificateStillConnects) {
  Outcome o = handshake(nullptr);
  EXPECT_TRUE(o.ok);
  EXPECT_EQ(o.peer, nullptr);
}

TEST_F(HandshakeTest, CertificateFromClientCaIsVerifiedAndMatched) {
  Outcome o = handshake(test_pki().deployer.get());
  ASSERT_TRUE(o.ok);
  ASSERT_NE(o.peer, nullptr);
  MtlsAuthenticator auth(mtls_config());
  Result<Principal> p = auth.authenticate_certificate("deployer", o.peer, Clock::now());
  EXPECT_TRUE(p.has_value());
  X509_free(o.peer);
}

TEST_F(HandshakeTest, CertificateFromAnotherCaFailsTheHandshake) {
  Outcome o = handshake(test_pki().from_other_ca.get());
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.peer, nullptr);
}

TEST_F(HandshakeTest, MissingCaBundleIsAConfigError) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  Result<void> r = configure_client_certificates(ctx, (dir_ / "absent.pem").string());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kConfig);
  SSL_CTX_free(ctx);
}

}  // namespace
}  // namespace custos::identity
