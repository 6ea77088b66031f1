// API keys in the store (create/list/rotate/revoke, last_used rate limit), the stored-key
// authenticator, token exchange (POST /api/token) and the keys/identities CLI.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sqlite3.h>

#include <regex>
#include <thread>

#include "api/token_routes.h"
#include "cli/keys_command.h"
#include "core/hex.h"
#include "identity/credential_text.h"
#include "identity/key_issuer.h"
#include "identity/password_authenticator.h"
#include "identity/stored_key_authenticator.h"
#include "identity/token_service.h"
#include "store/sqlite/sqlite_key_store.h"
#include "support/identity_test_pki.h"

namespace custos::identity {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using json = nlohmann::json;
using Clock = std::chrono::system_clock;
using namespace std::chrono_literals;
namespace pki = custos::testpki;

const Clock::time_point kNow = Clock::time_point(std::chrono::seconds(1798761600));  // 2027-01-01
const int64_t kNowS = 1798761600;

class KeyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = pki::temp_dir("keys");
    auto ks = store::SqliteKeyStore::open((dir_ / "custos.db").string());
    ASSERT_TRUE(ks.has_value()) << ks.error().message;
    store_ = std::move(*ks);
    config::Identity ci;
    ci.name = "ci-deploy";
    ci.groups = {"ci"};
    // A config key too: "config-key" hashed.
    ci.api_keys.push_back(config::ApiKey{core::sha256_hex("config-key"), std::nullopt, 1});
    cfg_.identities.push_back(ci);
    config::Identity bot;
    bot.name = "report-bot";
    cfg_.identities.push_back(bot);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::SqliteKeyStore> store_;
  config::Config cfg_;
};

TEST_F(KeyStoreTest, CreatedKeyIsHighEntropyAndOnlyItsDigestIsStored) {
  KeyIssuer issuer(*store_);
  Result<IssuedKey> a = issuer.create("ci-deploy", std::nullopt, kNow);
  Result<IssuedKey> b = issuer.create("ci-deploy", std::nullopt, kNow);
  ASSERT_TRUE(a.has_value() && b.has_value());
  std::string text(a->text.reveal());
  EXPECT_TRUE(std::regex_match(text, std::regex("cst_[0-9A-Za-z]{43}"))) << text.size();
  EXPECT_NE(text, std::string(b->text.reveal()));
  EXPECT_EQ(a->row.key_id, core::sha256_hex(text).substr(0, 12));
  Result<store::StoredKey> row = store_->get_key(a->row.key_id);
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->sha256_hex, core::sha256_hex(text));
  EXPECT_EQ(row->identity, "ci-deploy");
  // The key text itself appears nowhere in the database file.
  store_.reset();
  std::ifstream in(dir_ / "custos.db", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::ifstream wal(dir_ / "custos.db-wal", std::ios::binary);
  bytes += std::string((std::istreambuf_iterator<char>(wal)), {});
  EXPECT_EQ(bytes.find(text.substr(4)), std::string::npos);
  EXPECT_NE(bytes.find(a->row.key_id), std::string::npos);
}

TEST_F(KeyStoreTest, StoredKeyAuthenticatesWithExpiry) {
  KeyIssuer issuer(*store_);
  Result<IssuedKey> k = issuer.create("ci-deploy", 24h, kNow);
  ASSERT_TRUE(k.has_value());
  StoredKeyAuthenticator auth(cfg_, *store_);
  Result<Principal> p = auth.authenticate("ci-deploy", k->text.reveal(), kNow + 1h);
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_EQ(p->identity, "ci-deploy");
  EXPECT_EQ(p->groups, std::vector<std::string>{"ci"});
  EXPECT_EQ(p->auth_method, "api_key");
  EXPECT_EQ(p->key_id, k->row.key_id);
  // Config keys still work through the same authenticator.
  EXPECT_TRUE(auth.authenticate("ci-deploy", "config-key", kNow).has_value());
  // Another identity's key, a wrong key, an expired key.
  Result<Principal> other = auth.authenticate("report-bot", k->text.reveal(), kNow);
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().message, "no matching key");
  std::string wrong(k->text.reveal());
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  EXPECT_FALSE(auth.authenticate("ci-deploy", wrong, kNow).has_value());
  Result<Principal> expired = auth.authenticate("ci-deploy", k->text.reveal(), kNow + 25h);
  ASSERT_FALSE(expired.has_value());
  EXPECT_EQ(expired.error().message, "key " + k->row.key_id + " is expired");
  EXPECT_EQ(auth.authenticate("nobody", k->text.reveal(), kNow).error().message,
            "unknown identity");
}

TEST_F(KeyStoreTest, RotatedKeyValidDuringGraceOnly) {
  KeyIssuer issuer(*store_);
  Result<IssuedKey> old_key = issuer.create("ci-deploy", std::nullopt, kNow);
  ASSERT_TRUE(old_key.has_value());
  Result<IssuedKey> new_key = issuer.rotate(old_key->row.key_id, 1h, kNow + 10min);
  ASSERT_TRUE(new_key.has_value()) << new_key.error().message;
  EXPECT_EQ(new_key->row.identity, "ci-deploy");
  EXPECT_EQ(new_key->row.rotated_from, old_key->row.key_id);
  StoredKeyAuthenticator auth(cfg_, *store_);
  EXPECT_TRUE(auth.authenticate("ci-deploy", old_key->text.reveal(), kNow + 69min).has_value());
  EXPECT_TRUE(auth.authenticate("ci-deploy", new_key->text.reveal(), kNow + 69min).has_value());
  Result<Principal> late = auth.authenticate("ci-deploy", old_key->text.reveal(), kNow + 71min);
  ASSERT_FALSE(late.has_value());
  EXPECT_THAT(late.error().message, HasSubstr("was rotated; its grace period is over"));
  EXPECT_TRUE(auth.authenticate("ci-deploy", new_key->text.reveal(), kNow + 71min).has_value());
  EXPECT_EQ(store_->get_key(old_key->row.key_id)->state_at(kNow + 30min), "grace");
  EXPECT_EQ(store_->get_key(old_key->row.key_id)->state_at(kNow + 2h), "rotated");
  // A rotated-out key cannot be rotated again; an unknown id is kNotFound.
  EXPECT_EQ(issuer.rotate(old_key->row.key_id, 1h, kNow + 2h).error().code, ErrorCode::kDenied);
  EXPECT_EQ(issuer.rotate("000000000000", 1h, kNow).error().code, ErrorCode::kNotFound);
}

TEST_F(KeyStoreTest, RevokedKeyRefusedAndReportedForLiveSessions) {
  KeyIssuer issuer(*store_);
  Result<IssuedKey> k = issuer.create("ci-deploy", std::nullopt, kNow);
  ASSERT_TRUE(k.has_value());
  StoredKeyAuthenticator auth(cfg_, *store_);
  ASSERT_TRUE(auth.authenticate("ci-deploy", k->text.reveal(), kNow).has_value());
  EXPECT_TRUE(store_->revoked_key_ids_since(kNow - 1h)->empty());
  ASSERT_TRUE(store_->revoke(k->row.key_id, kNow + 5s).has_value());
  Result<Principal> r = auth.authenticate("ci-deploy", k->text.reveal(), kNow + 6s);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "key " + k->row.key_id + " is revoked");
  EXPECT_EQ(*store_->revoked_key_ids_since(kNow), std::vector<std::string>{k->row.key_id});
  EXPECT_TRUE(store_->revoked_key_ids_since(kNow + 6s)->empty());
  EXPECT_EQ(store_->revoke("ffffffffffff", kNow).error().code, ErrorCode::kNotFound);
}

TEST_F(KeyStoreTest, LastUsedWrittenAtMostOncePerMinutePerKey) {
  KeyIssuer issuer(*store_);
  Result<IssuedKey> k = issuer.create("ci-deploy", std::nullopt, kNow);
  ASSERT_TRUE(k.has_value());
  EXPECT_FALSE(store_->get_key(k->row.key_id)->last_used_at.has_value());
  StoredKeyAuthenticator auth(cfg_, *store_);
  ASSERT_TRUE(auth.authenticate("ci-deploy", k->text.reveal(), kNow).has_value());
  EXPECT_EQ(store_->get_key(k->row.key_id)->last_used_at, kNow);
  for (int i = 1; i <= 50; ++i) {
    ASSERT_TRUE(auth.authenticate("ci-deploy", k->text.reveal(), kNow + i * 1s).has_value());
  }
  EXPECT_EQ(store_->get_key(k->row.key_id)->last_used_at, kNow);  // not rewritten
  ASSERT_TRUE(auth.authenticate("ci-deploy", k->text.reveal(), kNow + 61s).has_value());
  EXPECT_EQ(store_->get_key(k->row.key_id)->last_used_at, kNow + 61s);
}

TEST_F(KeyStoreTest, ListKeysFiltersByIdentity) {
  KeyIssuer issuer(*store_);
  ASSERT_TRUE(issuer.create("ci-deploy", std::nullopt, kNow).has_value());
  ASSERT_TRUE(issuer.create("report-bot", std::nullopt, kNow + 1s).has_value());
  EXPECT_EQ(store_->list_keys("")->size(), 2u);
  ASSERT_EQ(store_->list_keys("report-bot")->size(), 1u);
  EXPECT_EQ(store_->list_keys("report-bot")->at(0).identity, "report-bot");
}

// ---------------------------------------------------------------------------------------------
// Token exchange

class TokenExchangeTest : public KeyStoreTest {
 protected:
  void SetUp() override {
    KeyStoreTest::SetUp();
    rsa_ = pki::rsa_key();
    json jwks = {{"keys", json::array({pki::rsa_jwk(rsa_.get(), "k1")})}};
    pki::write_file(dir_ / "jwks.json", jwks.dump());
    config::Identity gha;
    gha.name = "gha-release";
    gha.groups = {"ci", "release"};
    config::OidcConfig o;
    o.issuer = "https://token.actions.githubusercontent.com";
    o.audience = "custos";
    o.jwks_file = (dir_ / "jwks.json").string();
    o.claims = {{"repository", "acme/shop"}};
    gha.oidc = o;
    cfg_.identities.push_back(gha);
    verifier_ = std::make_unique<OidcVerifier>(cfg_);
    tokens_ = std::make_unique<TokenService>(cfg_, *verifier_, *store_);
  }
  std::string jwt(int64_t exp_in = 3600, const std::string& repo = "acme/shop") {
    return pki::sign_jwt({{"alg", "RS256"}, {"kid", "k1"}},
                         {{"iss", "https://token.actions.githubusercontent.com"},
                          {"aud", "custos"},
                          {"sub", "repo:acme/shop:environment:production"},
                          {"jti", "wl-jti-1"},
                          {"repository", repo},
                          {"iat", kNowS - 5},
                          {"exp", kNowS + exp_in}},
                         rsa_.get());
  }
  pki::PKey rsa_;
  std::unique_ptr<OidcVerifier> verifier_;
  std::unique_ptr<TokenService> tokens_;
};

TEST_F(TokenExchangeTest, IssuesShortTokenUsableAsPassword) {
  Result<IssuedToken> t = tokens_->exchange("gha-release", jwt(), kNow);
  ASSERT_TRUE(t.has_value()) << t.error().message;
  std::string text(t->token.reveal());
  EXPECT_TRUE(std::regex_match(text, std::regex("cst_t_[0-9A-Za-z]{43}")));
  EXPECT_LE(text.size(), 64u);
  EXPECT_EQ(t->expires_at, kNow + 15min);  // capped by tokens.max_ttl (default 15 min)
  Result<Principal> p = tokens_->authenticate("gha-release", text, kNow + 14min);
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_EQ(p->auth_method, "token");
  EXPECT_EQ(p->groups, (std::vector<std::string>{"ci", "release"}));
  EXPECT_EQ(p->token_jti, "wl-jti-1");
  EXPECT_EQ(p->token_sub, "repo:acme/shop:environment:production");
  EXPECT_EQ(p->key_id, t->token_id);
  // Bound to its identity; expires; a modified token does not match.
  EXPECT_EQ(tokens_->authenticate("ci-deploy", text, kNow).error().message, "no matching token");
  Result<Principal> late = tokens_->authenticate("gha-release", text, kNow + 15min);
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().message, "token " + t->token_id + " expired");
  text.back() = text.back() == 'x' ? 'y' : 'x';
  EXPECT_FALSE(tokens_->authenticate("gha-release", text, kNow).has_value());
}

TEST_F(TokenExchangeTest, LifetimeNeverExceedsTheWorkloadToken) {
  Result<IssuedToken> t = tokens_->exchange("gha-release", jwt(120), kNow);
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(t->expires_at, kNow + 120s);
  config::Config shorter = cfg_;
  shorter.tokens.max_ttl = 60s;
  TokenService svc(shorter, *verifier_, *store_);
  EXPECT_EQ(svc.exchange("gha-release", jwt(), kNow)->expires_at, kNow + 60s);
}

TEST_F(TokenExchangeTest, RefusedWorkloadTokenIssuesNothing) {
  Result<IssuedToken> t = tokens_->exchange("gha-release", jwt(3600, "evil/shop"), kNow);
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().code, ErrorCode::kAuth);
  EXPECT_EQ(t.error().message, "claim repository: expected acme/shop, got evil/shop");
  EXPECT_FALSE(tokens_->exchange("ci-deploy", jwt(), kNow).has_value());  // no oidc there
}

TEST_F(TokenExchangeTest, RevokedTokenRefused) {
  Result<IssuedToken> t = tokens_->exchange("gha-release", jwt(), kNow);
  ASSERT_TRUE(t.has_value());
  ASSERT_TRUE(tokens_->revoke(t->token_id, kNow + 1s).has_value());
  Result<Principal> p = tokens_->authenticate("gha-release", t->token.reveal(), kNow + 2s);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().message, "token " + t->token_id + " is revoked");
  EXPECT_EQ(*store_->revoked_key_ids_since(kNow), std::vector<std::string>{t->token_id});
}

TEST_F(TokenExchangeTest, PasswordFormPicksTheAuthenticator) {
  KeyIssuer issuer(*store_);
  Result<IssuedKey> key = issuer.create("gha-release", std::nullopt, kNow);
  ASSERT_TRUE(key.has_value());
  Result<IssuedToken> token = tokens_->exchange("gha-release", jwt(), kNow);
  ASSERT_TRUE(token.has_value());
  StoredKeyAuthenticator keys(cfg_, *store_);
  PasswordAuthenticator auth(keys, *verifier_, *tokens_);
  EXPECT_EQ(auth.authenticate("gha-release", jwt(), kNow)->auth_method, "oidc");
  EXPECT_EQ(auth.authenticate("gha-release", token->token.reveal(), kNow)->auth_method, "token");
  EXPECT_EQ(auth.authenticate("gha-release", key->text.reveal(), kNow)->auth_method, "api_key");
  EXPECT_EQ(auth.authenticate("ci-deploy", "config-key", kNow)->auth_method, "api_key");
  // A JWT for an identity without oidc is just a wrong key.
  EXPECT_EQ(auth.authenticate("ci-deploy", jwt(), kNow).error().message, "no matching key");
  EXPECT_EQ(auth.authenticate("gha-release", jwt(60, "evil/shop"), kNow).error().message,
            "claim repository: expected acme/shop, got evil/shop");
}

TEST_F(TokenExchangeTest, HttpRoute) {
  // The route uses the wall clock: sign a token valid now.
  const int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
  std::string workload = pki::sign_jwt({{"alg", "RS256"}, {"kid", "k1"}},
                                       {{"iss", "https://token.actions.githubusercontent.com"},
                                        {"aud", "custos"},
                                        {"sub", "s"},
                                        {"repository", "acme/shop"},
                                        {"iat", now_s},
                                        {"exp", now_s + 300}},
                                       rsa_.get());
  httplib::Server server;
  api::register_token_routes(server, *tokens_);
  int port = server.bind_to_any_port("127.0.0.1");
  std::thread th([&] { server.listen_after_bind(); });
  while (!server.is_running()) {
    std::this_thread::sleep_for(1ms);
  }
  httplib::Client client("127.0.0.1", port);

  auto ok = client.Post("/api/token", json{{"identity", "gha-release"}, {"token", workload}}.dump(),
                        "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  json body = json::parse(ok->body);
  EXPECT_EQ(body["identity"], "gha-release");
  std::string issued = body["token"].get<std::string>();
  EXPECT_THAT(issued, StartsWith("cst_t_"));
  EXPECT_TRUE(tokens_->authenticate("gha-release", issued, Clock::now()).has_value());
  EXPECT_TRUE(std::regex_match(body["expires_at"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));

  auto form = client.Post("/api/token", "identity=gha-release&token=" + workload,
                          "application/x-www-form-urlencoded");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->status, 200) << form->body;

  auto refused =
      client.Post("/api/token", json{{"identity", "gha-release"}, {"token", "a.b.c"}}.dump(),
                  "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);
  EXPECT_EQ(refused->body, R"({"error":"authentication failed"})");  // reason not disclosed

  for (std::string bad :
       {std::string("not json"), std::string("[]"), json{{"identity", "gha-release"}}.dump(),
        json{{"identity", 5}, {"token", "x"}}.dump()}) {
    auto r = client.Post("/api/token", bad, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad;
  }
  server.stop();
  th.join();
}

// ---------------------------------------------------------------------------------------------
// CLI

class KeysCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = pki::temp_dir("keyscli");
    pki::write_file(dir_ / "custos.yaml", "data_dir: " + dir_.string() + R"(
identities:
  - name: ci-deploy
    groups: [ci]
  - name: spiffe-bot
    mtls: { subject_cn: bot }
)");
    config_ = (dir_ / "custos.yaml").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs fn with stdout and stderr captured.
  template <class Fn>
  int run(Fn fn, std::string& out, std::string& err) {
    ::testing::internal::CaptureStdout();
    ::testing::internal::CaptureStderr();
    int rc = fn();
    out = ::testing::internal::GetCapturedStdout();
    err = ::testing::internal::GetCapturedStderr();
    return rc;
  }
  std::filesystem::path dir_;
  std::string config_;
};

TEST_F(KeysCliTest, CreateListRotateRevoke) {
  std::string out, err;
  ASSERT_EQ(run([&] { return cli::cmd_keys_create(config_, "ci-deploy", "30d"); }, out, err), 0)
      << err;
  ASSERT_TRUE(std::regex_match(out, std::regex("cst_[0-9A-Za-z]{43}\n"))) << out;
  std::string key = out.substr(0, out.size() - 1);
  std::string id = credential_id(key);
  EXPECT_THAT(err, HasSubstr("created key " + id + " for identity ci-deploy"));

  ASSERT_EQ(run([&] { return cli::cmd_keys_list(config_, ""); }, out, err), 0) << err;
  EXPECT_THAT(out, HasSubstr(id));
  EXPECT_THAT(out, HasSubstr("active"));
  EXPECT_EQ(out.find(key), std::string::npos);  // never shown again

  ASSERT_EQ(run([&] { return cli::cmd_keys_rotate(config_, id, "1h"); }, out, err), 0) << err;
  std::string new_key = out.substr(0, out.size() - 1);
  EXPECT_THAT(new_key, StartsWith("cst_"));
  ASSERT_EQ(run([&] { return cli::cmd_keys_list(config_, "ci-deploy"); }, out, err), 0);
  EXPECT_THAT(out, HasSubstr("grace"));
  EXPECT_THAT(out, HasSubstr("replaces " + id));

  ASSERT_EQ(run([&] { return cli::cmd_keys_revoke(config_, credential_id(new_key)); }, out, err),
            0);
  ASSERT_EQ(run([&] { return cli::cmd_keys_list(config_, "ci-deploy"); }, out, err), 0);
  EXPECT_THAT(out, HasSubstr("revoked"));

  EXPECT_EQ(run([&] { return cli::cmd_keys_create(config_, "nobody", ""); }, out, err), 2);
  EXPECT_THAT(err, HasSubstr("no identity named nobody"));
  EXPECT_EQ(run([&] { return cli::cmd_keys_create(config_, "ci-deploy", "soon"); }, out, err), 2);
  EXPECT_EQ(run([&] { return cli::cmd_keys_revoke(config_, "000000000000"); }, out, err), 1);
}

TEST_F(KeysCliTest, IdentitiesListShowsMethodsAndActivity) {
  std::string out, err;
  ASSERT_EQ(run([&] { return cli::cmd_keys_create(config_, "ci-deploy", ""); }, out, err), 0);
  // A session index as the gateway writes it (the key store reads it, read-only).
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "custos.db").c_str(), &db), SQLITE_OK);
  const int64_t now_us =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
          .count();
  std::string sql =
      "CREATE TABLE sessions (id TEXT PRIMARY KEY, identity TEXT NOT NULL, connection TEXT, "
      "started_at_us INTEGER NOT NULL, statements INTEGER NOT NULL DEFAULT 0, status TEXT);"
      "INSERT INTO sessions VALUES ('s1','ci-deploy','orders'," +
      std::to_string(now_us) + ",7,'closed'),('s2','ci-deploy','analytics'," +
      std::to_string(now_us - 40LL * 86400000000) + ",100,'closed'),('s3','ci-deploy','orders'," +
      std::to_string(now_us) + ",50,'auth_failed');";
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  ASSERT_EQ(run([&] { return cli::cmd_identities_list(config_); }, out, err), 0) << err;
  std::istringstream lines(out);
  std::string header, ci, bot;
  std::getline(lines, header);
  std::getline(lines, ci);
  std::getline(lines, bot);
  EXPECT_THAT(ci, StartsWith("ci-deploy"));
  EXPECT_THAT(ci, HasSubstr("api_key(store:1)"));
  EXPECT_THAT(ci, HasSubstr("analytics,orders"));
  EXPECT_THAT(ci, ::testing::EndsWith("       1         7"));  // 30 days: 1 session, 7 stmts
  EXPECT_THAT(bot, StartsWith("spiffe-bot"));
  EXPECT_THAT(bot, HasSubstr("mtls"));
  EXPECT_THAT(bot, HasSubstr("never"));
}

}  // namespace
}  // namespace custos::identity
