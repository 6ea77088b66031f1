// Workload OIDC tokens as the password: JWT parsing, JWKS, signature and claim checks, JWKS over
// a local HTTPS endpoint (refresh on an unknown kid), and the oidc/mtls config sections.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "config/config_loader.h"
#include "config/extension_loaders.h"
#include "identity/jwks.h"
#include "identity/jwt.h"
#include "identity/oidc_verifier.h"
#include "support/identity_test_pki.h"

namespace custos::config {
// Declared in extension_loaders.h once the lead wires it in; repeated here so the test builds
// either way.
void load_token_config(LoadContext& ctx, YamlMap& root, Config& cfg);
}  // namespace custos::config

namespace custos::identity {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using json = nlohmann::json;
using Clock = std::chrono::system_clock;
using namespace std::chrono_literals;
namespace pki = custos::testpki;

constexpr const char* kIssuer = "https://token.actions.githubusercontent.com";
const Clock::time_point kNow = Clock::time_point(std::chrono::seconds(1798761600));  // 2027-01-01
const int64_t kNowS = 1798761600;

config::Config make_config(const std::string& jwks_file) {
  config::Config cfg;
  config::Identity id;
  id.name = "gha-release";
  id.groups = {"ci"};
  config::OidcConfig o;
  o.issuer = kIssuer;
  o.audience = "custos";
  o.jwks_file = jwks_file;
  o.claims = {{"repository", "acme/shop"}, {"ref", "refs/heads/*"}};
  o.max_ttl = std::chrono::seconds(3600);
  o.replay = config::ReplayMode::kReject;
  id.oidc = o;
  cfg.identities.push_back(id);
  config::Identity plain;
  plain.name = "ci-deploy";
  cfg.identities.push_back(plain);
  return cfg;
}

class OidcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = pki::temp_dir("oidc");
    static pki::PKey rsa = pki::rsa_key();
    static pki::PKey ec = pki::ec_key();
    rsa_ = rsa;
    ec_ = ec;
    jwks_ = json{
        {"keys", json::array({pki::rsa_jwk(rsa_.get(), "rsa1"), pki::ec_jwk(ec_.get(), "ec1")})}};
    pki::write_file(dir_ / "jwks.json", jwks_.dump());
    verifier_ = std::make_unique<OidcVerifier>(make_config((dir_ / "jwks.json").string()));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  json payload() {
    return json{{"iss", kIssuer},
                {"aud", "custos"},
                {"sub", "repo:acme/shop:ref:refs/heads/main"},
                {"repository", "acme/shop"},
                {"ref", "refs/heads/main"},
                {"jti", "jti-" + std::to_string(++serial_)},
                {"iat", kNowS - 10},
                {"nbf", kNowS - 10},
                {"exp", kNowS + 290}};
  }
  std::string rs256(const json& p, const std::string& kid = "rsa1") {
    return pki::sign_jwt({{"alg", "RS256"}, {"typ", "JWT"}, {"kid", kid}}, p, rsa_.get());
  }
  std::string es256(const json& p, const std::string& kid = "ec1") {
    return pki::sign_jwt({{"alg", "ES256"}, {"typ", "JWT"}, {"kid", kid}}, p, ec_.get());
  }
  std::string refusal(const std::string& token) {
    Result<Principal> r = verifier_->authenticate_token("gha-release", token, kNow);
    EXPECT_FALSE(r.has_value()) << "token was accepted";
    if (r.has_value()) {
      return "";
    }
    EXPECT_EQ(r.error().code, ErrorCode::kAuth);
    return r.error().message;
  }

  std::filesystem::path dir_;
  pki::PKey rsa_, ec_;
  json jwks_;
  std::unique_ptr<OidcVerifier> verifier_;
  int serial_ = 0;
};

TEST_F(OidcTest, AcceptsValidRs256Token) {
  json p = payload();
  Result<Principal> r = verifier_->authenticate_token("gha-release", rs256(p), kNow);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->identity, "gha-release");
  EXPECT_EQ(r->groups, std::vector<std::string>{"ci"});
  EXPECT_EQ(r->auth_method, "oidc");
  EXPECT_EQ(r->token_jti, p["jti"].get<std::string>());
  EXPECT_EQ(r->token_sub, "repo:acme/shop:ref:refs/heads/main");
}

TEST_F(OidcTest, AcceptsValidEs256Token) {
  Result<Principal> r = verifier_->authenticate_token("gha-release", es256(payload()), kNow);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->auth_method, "oidc");
}

TEST_F(OidcTest, GlobClaimMatchesAnyBranchButNotTags) {
  json p = payload();
  p["ref"] = "refs/heads/release/2027-01";
  EXPECT_TRUE(verifier_->authenticate_token("gha-release", rs256(p), kNow).has_value());
  p = payload();
  p["ref"] = "refs/tags/v1.0";
  EXPECT_EQ(refusal(rs256(p)), "claim ref: expected refs/heads/*, got refs/tags/v1.0");
}

TEST_F(OidcTest, RefusesAnotherRepository) {
  json p = payload();
  p["repository"] = "evil/shop";
  EXPECT_EQ(refusal(rs256(p)), "claim repository: expected acme/shop, got evil/shop");
}

TEST_F(OidcTest, RefusesMissingClaim) {
  json p = payload();
  p.erase("ref");
  EXPECT_EQ(refusal(rs256(p)), "claim ref missing");
}

TEST_F(OidcTest, RefusesForgedSignature) {
  // Payload swapped after signing.
  std::string good = rs256(payload());
  json evil = payload();
  evil["repository"] = "acme/shop";
  evil["sub"] = "attacker";
  size_t d1 = good.find('.');
  size_t d2 = good.rfind('.');
  std::string forged = good.substr(0, d1 + 1) + pki::b64u(evil.dump()) + good.substr(d2);
  EXPECT_EQ(refusal(forged), "signature invalid");
  // Signed by another key under a known kid.
  pki::PKey other = pki::rsa_key();
  std::string t = pki::sign_jwt({{"alg", "RS256"}, {"kid", "rsa1"}}, payload(), other.get());
  EXPECT_EQ(refusal(t), "signature invalid");
  // ES256 with a flipped signature bit.
  std::string e = es256(payload());
  e.back() = e.back() == 'A' ? 'Q' : 'A';
  EXPECT_EQ(refusal(e), "signature invalid");
}

TEST_F(OidcTest, RefusesExpiredToken) {
  json p = payload();
  p["iat"] = kNowS - 700;
  p["nbf"] = kNowS - 700;
  p["exp"] = kNowS - 100;  // beyond the 60 s skew
  EXPECT_EQ(refusal(rs256(p)), "token expired at 2026-12-31T23:58:20Z");
  p["exp"] = kNowS - 30;  // within the skew: still accepted
  p["jti"] = "within-skew";
  EXPECT_TRUE(verifier_->authenticate_token("gha-release", rs256(p), kNow).has_value());
}

TEST_F(OidcTest, RefusesTokenWithoutExp) {
  json p = payload();
  p.erase("exp");
  EXPECT_EQ(refusal(rs256(p)), "exp missing or not a number");
  p = payload();
  p["exp"] = "tomorrow";
  EXPECT_EQ(refusal(rs256(p)), "exp missing or not a number");
}

TEST_F(OidcTest, RefusesNotYetValidToken) {
  json p = payload();
  p["nbf"] = kNowS + 120;
  EXPECT_THAT(refusal(rs256(p)), StartsWith("token not valid before 2027-01-01T00:02:00Z"));
  p = payload();
  p["iat"] = kNowS + 120;
  EXPECT_THAT(refusal(rs256(p)), StartsWith("token issued in the future"));
}

TEST_F(OidcTest, AudienceMustBeListed) {
  json p = payload();
  p["aud"] = "someone-else";
  EXPECT_THAT(refusal(rs256(p)), StartsWith("audience mismatch"));
  p["aud"] = json::array({"a", "b"});
  EXPECT_THAT(refusal(rs256(p)), StartsWith("audience mismatch"));
  p.erase("aud");
  EXPECT_THAT(refusal(rs256(p)), StartsWith("audience mismatch"));
  p = payload();
  p["aud"] = json::array({"sts.amazonaws.com", "custos"});
  EXPECT_TRUE(verifier_->authenticate_token("gha-release", rs256(p), kNow).has_value());
}

TEST_F(OidcTest, RefusesWrongIssuer) {
  json p = payload();
  p["iss"] = "https://evil.example";
  EXPECT_EQ(refusal(rs256(p)),
            "issuer mismatch: expected https://token.actions.githubusercontent.com, got "
            "https://evil.example");
}

TEST_F(OidcTest, RefusesAlgNone) {
  std::string t = pki::b64u(json{{"alg", "none"}, {"kid", "rsa1"}}.dump()) + "." +
                  pki::b64u(payload().dump()) + ".";
  EXPECT_EQ(refusal(t), "alg none refused");
  t = pki::b64u(json{{"alg", "nOnE"}, {"kid", "rsa1"}}.dump()) + "." + pki::b64u(payload().dump()) +
      ".";
  EXPECT_EQ(refusal(t), "alg none refused");
}

TEST_F(OidcTest, RefusesHs256SignedWithThePublicKey) {
  // The classic key-confusion attack: HMAC with the RSA public key as the secret.
  std::string pem = pki::public_pem(rsa_.get());
  std::string t = pki::hs256_jwt({{"alg", "HS256"}, {"kid", "rsa1"}}, payload(), pem);
  EXPECT_EQ(refusal(t), "alg HS256 refused (only RS256 and ES256)");
  std::string n = jwks_["keys"][0]["n"].get<std::string>();
  t = pki::hs256_jwt({{"alg", "HS256"}, {"kid", "rsa1"}}, payload(), n);
  EXPECT_THAT(refusal(t), StartsWith("alg HS256 refused"));
}

TEST_F(OidcTest, RefusesUnknownKid) {
  pki::PKey other = pki::rsa_key();
  std::string t =
      pki::sign_jwt({{"alg", "RS256"}, {"kid", "rotated-away"}}, payload(), other.get());
  EXPECT_EQ(refusal(t), "unknown kid rotated-away");
  t = pki::sign_jwt({{"alg", "RS256"}}, payload(), rsa_.get());
  EXPECT_EQ(refusal(t), "token header has no kid");
}

TEST_F(OidcTest, AlgMustMatchTheKeyType) {
  // RS256 header naming the EC key: never checked with an EC key.
  std::string t = pki::sign_jwt({{"alg", "RS256"}, {"kid", "ec1"}}, payload(), ec_.get());
  EXPECT_EQ(refusal(t), "kid ec1 is not a RS256 key (alg/key type mismatch)");
  t = pki::sign_jwt({{"alg", "ES256"}, {"kid", "rsa1"}}, payload(), rsa_.get());
  EXPECT_EQ(refusal(t), "kid rsa1 is not a ES256 key (alg/key type mismatch)");
}

TEST_F(OidcTest, RefusesReplayedJti) {
  std::string t = rs256(payload());
  ASSERT_TRUE(verifier_->authenticate_token("gha-release", t, kNow).has_value());
  EXPECT_THAT(refusal(t), StartsWith("replayed jti"));
  json p = payload();
  p.erase("jti");
  EXPECT_EQ(refusal(rs256(p)), "jti missing (required by replay: reject)");
}

TEST_F(OidcTest, ReplayAllowedByDefault) {
  config::Config cfg = make_config((dir_ / "jwks.json").string());
  cfg.identities[0].oidc->replay = config::ReplayMode::kAllow;
  OidcVerifier v(cfg);
  std::string t = rs256(payload());
  EXPECT_TRUE(v.authenticate_token("gha-release", t, kNow).has_value());
  EXPECT_TRUE(v.authenticate_token("gha-release", t, kNow).has_value());
}

TEST_F(OidcTest, RefusesLifetimeOverMaxTtl) {
  json p = payload();
  p["exp"] = kNowS - 10 + 3601;
  EXPECT_EQ(refusal(rs256(p)), "token lifetime 3601s exceeds max_ttl 3600s");
  p = payload();
  p.erase("iat");
  EXPECT_EQ(refusal(rs256(p)), "iat missing (required by max_ttl)");
}

TEST_F(OidcTest, RefusesMalformedTokens) {
  std::string good = rs256(payload());
  EXPECT_THAT(refusal(""), StartsWith("empty token"));
  EXPECT_THAT(refusal("abc.def"), StartsWith("not a compact JWS"));
  EXPECT_THAT(refusal(good + ".x"), StartsWith("not a compact JWS"));
  EXPECT_THAT(refusal("%%%." + good.substr(good.find('.') + 1)),
              StartsWith("malformed token header"));
  EXPECT_THAT(refusal(good + "="), StartsWith("malformed token signature"));
  EXPECT_THAT(refusal(std::string(17000, 'a')), StartsWith("token larger than 16 KiB"));
  std::string deep = std::string(100, '[') + std::string(100, ']');
  json p = payload();
  std::string t = pki::b64u(json{{"alg", "RS256"}, {"kid", "rsa1"}}.dump()) + "." +
                  pki::b64u("{\"x\":" + deep + "}") + ".AAAA";
  EXPECT_EQ(refusal(t), "malformed token payload");
}

TEST_F(OidcTest, UnknownOrNonOidcIdentity) {
  std::string t = rs256(payload());
  EXPECT_FALSE(verifier_->authenticate_token("nobody", t, kNow).has_value());
  EXPECT_FALSE(verifier_->authenticate_token("ci-deploy", t, kNow).has_value());
  EXPECT_TRUE(verifier_->accepts("gha-release"));
  EXPECT_FALSE(verifier_->accepts("ci-deploy"));
}

TEST_F(OidcTest, JwksFileReReadOnUnknownKidAtMostEvery30s) {
  EXPECT_TRUE(verifier_->authenticate_token("gha-release", rs256(payload()), kNow).has_value());
  EXPECT_EQ(verifier_->fetch_count(), 1u);
  pki::PKey rsa2 = pki::rsa_key();
  jwks_["keys"].push_back(pki::rsa_jwk(rsa2.get(), "rsa2"));
  pki::write_file(dir_ / "jwks.json", jwks_.dump());
  json p = payload();
  std::string t = pki::sign_jwt({{"alg", "RS256"}, {"kid", "rsa2"}}, p, rsa2.get());
  EXPECT_EQ(refusal(t), "unknown kid rsa2");  // re-read rate-limited
  EXPECT_EQ(verifier_->fetch_count(), 1u);
  p["exp"] = kNowS + 600;
  p["jti"] = "later";
  t = pki::sign_jwt({{"alg", "RS256"}, {"kid", "rsa2"}}, p, rsa2.get());
  EXPECT_TRUE(verifier_->authenticate_token("gha-release", t, kNow + 31s).has_value());
  EXPECT_EQ(verifier_->fetch_count(), 2u);
}

TEST(Glob, Matches) {
  EXPECT_TRUE(glob_match("refs/heads/*", "refs/heads/main"));
  EXPECT_TRUE(glob_match("refs/heads/*", "refs/heads/"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("a*b*c", "axxbyyc"));
  EXPECT_TRUE(glob_match("acme/shop", "acme/shop"));
  EXPECT_FALSE(glob_match("acme/shop", "acme/shop2"));
  EXPECT_FALSE(glob_match("refs/heads/*", "refs/tags/main"));
  EXPECT_FALSE(glob_match("a*b", "axxbc"));
}

TEST(Jwks, SkipsKeysThatCannotBeUsed) {
  pki::PKey small(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024}), EVP_PKEY_free);
  pki::PKey ec = pki::ec_key();
  pki::PKey rsa = pki::rsa_key();
  json off_curve = pki::ec_jwk(ec.get(), "bad-point");
  off_curve["y"] = pki::b64u(std::vector<uint8_t>(32, 7));
  json enc = pki::rsa_jwk(rsa.get(), "enc");
  enc["use"] = "enc";
  json wrong_alg = pki::rsa_jwk(rsa.get(), "wrong-alg");
  wrong_alg["alg"] = "HS256";
  json doc = {{"keys", json::array({pki::rsa_jwk(small.get(), "small"), off_curve, enc, wrong_alg,
                                    json{{"kty", "oct"}, {"kid", "h"}, {"k", "AAAA"}},
                                    pki::rsa_jwk(rsa.get(), "good")})}};
  Result<Jwks> r = parse_jwks(doc.dump());
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->size(), 1u);
  EXPECT_TRUE(r->has_kid("good"));
  EXPECT_FALSE(parse_jwks("[]").has_value());
  EXPECT_FALSE(parse_jwks("{\"keys\": 5}").has_value());
  EXPECT_FALSE(parse_jwks("{").has_value());
}

// ---------------------------------------------------------------------------------------------
// JWKS over HTTPS from a local server with a test CA.

class JwksServer {
 public:
  JwksServer(const std::filesystem::path& dir, bool trusted_name = true) {
    pki::PKey ca_key = pki::ec_key();
    ca_ = pki::make_cert(ca_key.get(), "custos test CA", nullptr, nullptr,
                         {{NID_basic_constraints, "critical,CA:TRUE"},
                          {NID_key_usage, "critical,keyCertSign,cRLSign"}});
    pki::PKey key = pki::ec_key();
    pki::Cert cert = pki::make_cert(
        key.get(), "localhost", ca_.get(), ca_key.get(),
        {{NID_subject_alt_name, trusted_name ? "DNS:localhost,IP:127.0.0.1" : "DNS:other.example"}},
        2);
    ca_file_ = (dir / "ca.pem").string();
    pki::write_file(ca_file_, pki::cert_pem(ca_.get()));
    pki::write_file(dir / "server.crt", pki::cert_pem(cert.get()));
    pki::write_file(dir / "server.key", pki::key_pem(key.get()));
    server_ = std::make_unique<httplib::SSLServer>((dir / "server.crt").c_str(),
                                                   (dir / "server.key").c_str());
    server_->Get("/jwks", [this](const httplib::Request&, httplib::Response& res) {
      ++jwks_hits_;
      std::lock_guard lock(mu_);
      res.set_content(jwks_, "application/json");
    });
    server_->Get("/.well-known/openid-configuration",
                 [this](const httplib::Request&, httplib::Response& res) {
                   json doc = {{"issuer", issuer()}, {"jwks_uri", issuer() + "/jwks"}};
                   res.set_content(doc.dump(), "application/json");
                 });
    port_ = server_->bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~JwksServer() {
    server_->stop();
    thread_.join();
  }
  void set_jwks(const std::string& j) {
    std::lock_guard lock(mu_);
    jwks_ = j;
  }
  std::string issuer() const { return "https://127.0.0.1:" + std::to_string(port_); }
  const std::string& ca_file() const { return ca_file_; }
  int jwks_hits() const { return jwks_hits_; }

 private:
  pki::Cert ca_;
  std::string ca_file_;
  std::unique_ptr<httplib::SSLServer> server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::string jwks_ = "{\"keys\":[]}";
  std::atomic<int> jwks_hits_{0};
};

class OidcHttpsTest : public OidcTest {};

TEST_F(OidcHttpsTest, JwksUrlFetchedOverVerifiedTlsAndRefreshedOnUnknownKid) {
  JwksServer server(dir_);
  server.set_jwks(jwks_.dump());
  config::Config cfg = make_config("");
  cfg.identities[0].oidc->jwks_url = server.issuer() + "/jwks";
  cfg.identities[0].oidc->ca_file = server.ca_file();
  OidcVerifier v(cfg);
  Result<Principal> r = v.authenticate_token("gha-release", rs256(payload()), kNow);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(server.jwks_hits(), 1);
  EXPECT_TRUE(v.authenticate_token("gha-release", es256(payload()), kNow + 1s).has_value());
  EXPECT_EQ(server.jwks_hits(), 1);  // cached

  // The issuer rotates in a new key.
  pki::PKey rsa2 = pki::rsa_key();
  json rotated = jwks_;
  rotated["keys"].push_back(pki::rsa_jwk(rsa2.get(), "rsa2"));
  server.set_jwks(rotated.dump());
  json p = payload();
  p["exp"] = kNowS + 600;
  std::string t = pki::sign_jwt({{"alg", "RS256"}, {"kid", "rsa2"}}, p, rsa2.get());
  Result<Principal> early = v.authenticate_token("gha-release", t, kNow + 10s);
  ASSERT_FALSE(early.has_value());
  EXPECT_EQ(early.error().message, "unknown kid rsa2");
  EXPECT_EQ(server.jwks_hits(), 1);  // within 30 s of the last fetch: no refetch
  Result<Principal> later = v.authenticate_token("gha-release", t, kNow + 31s);
  ASSERT_TRUE(later.has_value()) << later.error().message;
  EXPECT_EQ(server.jwks_hits(), 2);
}

TEST_F(OidcHttpsTest, DiscoveryFindsJwksUri) {
  JwksServer server(dir_);
  server.set_jwks(jwks_.dump());
  config::Config cfg = make_config("");
  cfg.identities[0].oidc->issuer = server.issuer();
  cfg.identities[0].oidc->discover = true;
  cfg.identities[0].oidc->ca_file = server.ca_file();
  OidcVerifier v(cfg);
  json p = payload();
  p["iss"] = server.issuer();
  Result<Principal> r = v.authenticate_token("gha-release", es256(p), kNow);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(server.jwks_hits(), 1);
}

TEST_F(OidcHttpsTest, UntrustedServerCertificateIsRefused) {
  JwksServer server(dir_);
  server.set_jwks(jwks_.dump());
  config::Config cfg = make_config("");
  cfg.identities[0].oidc->jwks_url = server.issuer() + "/jwks";  // system trust store only
  OidcVerifier v(cfg);
  Result<Principal> r = v.authenticate_token("gha-release", rs256(payload()), kNow);
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message, StartsWith("JWKS unavailable"));
  EXPECT_EQ(server.jwks_hits(), 0);
  // A failed fetch is rate-limited too: no new connection attempt within 30 s.
  size_t attempts = v.fetch_count();
  EXPECT_FALSE(v.authenticate_token("gha-release", rs256(payload()), kNow + 5s).has_value());
  EXPECT_EQ(v.fetch_count(), attempts);
}

TEST_F(OidcHttpsTest, CertificateForAnotherHostIsRefused) {
  JwksServer server(dir_, /*trusted_name=*/false);
  server.set_jwks(jwks_.dump());
  config::Config cfg = make_config("");
  cfg.identities[0].oidc->jwks_url = server.issuer() + "/jwks";
  cfg.identities[0].oidc->ca_file = server.ca_file();
  OidcVerifier v(cfg);
  Result<Principal> r = v.authenticate_token("gha-release", rs256(payload()), kNow);
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message, StartsWith("JWKS unavailable"));
  EXPECT_EQ(server.jwks_hits(), 0);
}

// ---------------------------------------------------------------------------------------------
// Config sections

class IdentityConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = pki::temp_dir("idcfg");
    pki::write_file(dir_ / "jwks.json", "{\"keys\":[]}");
    pki::write_file(dir_ / "clients.pem", "x");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  Result<config::Config> load(const std::string& yaml) {
    return config::load_config_from_string(yaml, "test.yaml", dir_.string());
  }
  std::filesystem::path dir_;
};

TEST_F(IdentityConfigTest, OidcAndMtlsSectionsLoad) {
  Result<config::Config> r = load(R"(identities:
  - name: gha-release
    groups: [ci]
    oidc:
      issuer: https://token.actions.githubusercontent.com
      audience: custos
      jwks_file: jwks.json
      claims: { repository: acme/shop, ref: "refs/heads/*", environment: production }
      max_ttl: 1h
      replay: reject
  - name: deployer
    mtls: { spiffe_id: spiffe://acme.org/ci/deployer }
  - name: legacy
    mtls: { subject_cn: legacy-bot }
)");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  const config::Identity* id = r->find_identity("gha-release");
  ASSERT_NE(id, nullptr);
  ASSERT_TRUE(id->oidc.has_value());
  EXPECT_EQ(id->oidc->issuer, "https://token.actions.githubusercontent.com");
  EXPECT_EQ(id->oidc->jwks_file, (dir_ / "jwks.json").string());
  EXPECT_EQ(id->oidc->max_ttl, std::chrono::seconds(3600));
  EXPECT_EQ(id->oidc->replay, config::ReplayMode::kReject);
  ASSERT_EQ(id->oidc->claims.size(), 3u);
  EXPECT_EQ(r->find_identity("deployer")->mtls->spiffe_id, "spiffe://acme.org/ci/deployer");
  EXPECT_EQ(r->find_identity("legacy")->mtls->subject_cn, "legacy-bot");
}

TEST_F(IdentityConfigTest, ClientCaAndTokensSection) {
  Result<config::Config> r =
      load(R"(tls: { cert: jwks.json, key: jwks.json, client_ca: clients.pem }
)");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->tls.client_ca, (dir_ / "clients.pem").string());
  Result<config::Config> missing =
      load("tls: { cert: jwks.json, key: jwks.json, client_ca: no.pem }\n");
  ASSERT_FALSE(missing.has_value());
  EXPECT_THAT(missing.error().message, HasSubstr("test.yaml:1: tls.client_ca: cannot read file"));

  // tokens: { max_ttl } (loaded by load_token_config, which the core loader calls at the root).
  config::LoadContext ctx("test.yaml", dir_);
  YAML::Node root = YAML::Load("tokens: { max_ttl: 5m }\n");
  std::optional<config::YamlMap> m = config::YamlMap::open(ctx, root, "", {"tokens"});
  config::Config cfg;
  EXPECT_EQ(cfg.tokens.max_ttl, std::chrono::seconds(900));
  config::load_token_config(ctx, *m, cfg);
  EXPECT_FALSE(ctx.has_errors());
  EXPECT_EQ(cfg.tokens.max_ttl, std::chrono::seconds(300));
  YAML::Node bad = YAML::Load("tokens: { max_ttl: 2h }\n");
  std::optional<config::YamlMap> b = config::YamlMap::open(ctx, bad, "", {"tokens"});
  config::load_token_config(ctx, *b, cfg);
  ASSERT_TRUE(ctx.has_errors());
  EXPECT_THAT(ctx.to_error().message,
              HasSubstr("test.yaml:1: tokens.max_ttl: expected at most 1h"));
}

TEST_F(IdentityConfigTest, OidcMistakesAreReportedWithLines) {
  Result<config::Config> r = load(R"(identities:
  - name: gha
    oidc:
      issuer: http://insecure.example
      audience: custos
      jwks_file: jwks.json
      jwks_url: https://x.example/jwks
      claims: { repositry: acme/shop }
      replay: maybe
  - name: m
    mtls: { spiffe_id: "http://acme.org/x", subject_cn: y }
)");
  ASSERT_FALSE(r.has_value());
  const std::string& e = r.error().message;
  EXPECT_THAT(e, HasSubstr("test.yaml:4: identities[0].oidc.issuer: expected an https:// URL"));
  EXPECT_THAT(e, HasSubstr("expected exactly one of jwks_file, jwks_url or discover"));
  EXPECT_THAT(e, HasSubstr("test.yaml:8: identities[0].oidc.claims.repositry: unknown key"));
  EXPECT_THAT(e, HasSubstr("test.yaml:9: identities[0].oidc.replay: expected allow or reject"));
  EXPECT_THAT(e, HasSubstr("expected exactly one of spiffe_id or subject_cn"));
  EXPECT_THAT(e, HasSubstr("expected spiffe://TRUST-DOMAIN/PATH"));
}

}  // namespace
}  // namespace custos::identity
