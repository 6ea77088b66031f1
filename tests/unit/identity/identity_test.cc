// API-key authentication (identity::ApiKeyAuthenticator) and the connect policy
// (policy::connect_policy_for).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "config/config.h"
#include "config/config_loader.h"
#include "core/hex.h"
#include "identity/api_key_authenticator.h"
#include "identity/principal.h"
#include "policy/connect_policy.h"

namespace custos::identity {
namespace {

using namespace std::chrono;
using ::testing::HasSubstr;

constexpr std::string_view kCiKey = "ck_live_3f9a8b7c6d5e4f30";
constexpr std::string_view kCiOldKey = "ck_live_old_old_old_old";
constexpr std::string_view kBotKey = "ck_bot_1111222233334444";

// 2026-06-15T13:45:00Z
const system_clock::time_point kNow = sys_days(2026y / 6 / 15) + 13h + 45min;

config::ApiKey key_for(std::string_view raw, std::optional<sys_days> expires) {
  config::ApiKey k;
  k.sha256_hex = core::sha256_hex(raw);
  k.expires = expires;
  return k;
}

config::Config make_config() {
  config::Config cfg;
  config::Identity ci;
  ci.name = "ci-deploy";
  ci.groups = {"ci", "deployers"};
  ci.api_keys.push_back(key_for(kCiOldKey, sys_days(2026y / 6 / 15)));  // expired today
  ci.api_keys.push_back(key_for(kCiKey, sys_days(2026y / 6 / 16)));     // expires tomorrow
  cfg.identities.push_back(ci);
  config::Identity bot;
  bot.name = "report-bot";
  bot.groups = {"bots"};
  bot.api_keys.push_back(key_for(kBotKey, std::nullopt));
  cfg.identities.push_back(bot);
  return cfg;
}

TEST(ApiKeyAuthenticator, RightKeyGivesPrincipal) {
  ApiKeyAuthenticator auth(make_config());
  Result<Principal> p = auth.authenticate("ci-deploy", kCiKey, kNow);
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_EQ(p->identity, "ci-deploy");
  EXPECT_EQ(p->groups, (std::vector<std::string>{"ci", "deployers"}));
  EXPECT_EQ(p->auth_method, "api_key");
  EXPECT_EQ(p->key_id, core::sha256_hex(kCiKey).substr(0, 12));
  EXPECT_EQ(p->key_id.size(), 12u);

  Result<Principal> bot = auth.authenticate("report-bot", kBotKey, kNow + years(30));
  ASSERT_TRUE(bot.has_value()) << bot.error().message;  // no expiry configured
  EXPECT_EQ(bot->identity, "report-bot");
}

TEST(ApiKeyAuthenticator, WrongKeyIsRefused) {
  ApiKeyAuthenticator auth(make_config());
  Result<Principal> p = auth.authenticate("ci-deploy", "ck_live_guess", kNow);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().code, ErrorCode::kAuth);
  EXPECT_EQ(p.error().message, "no matching key");
  // Another identity's valid key does not work for this identity.
  Result<Principal> other = auth.authenticate("ci-deploy", kBotKey, kNow);
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().message, "no matching key");
  Result<Principal> empty = auth.authenticate("ci-deploy", "", kNow);
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code, ErrorCode::kAuth);
}

TEST(ApiKeyAuthenticator, UnknownIdentityIsRefused) {
  ApiKeyAuthenticator auth(make_config());
  Result<Principal> p = auth.authenticate("nobody", kCiKey, kNow);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().code, ErrorCode::kAuth);
  EXPECT_EQ(p.error().message, "unknown identity");
}

TEST(ApiKeyAuthenticator, KeyExpiresAtTheStartOfItsExpiryDay) {
  ApiKeyAuthenticator auth(make_config());
  // expires: 2026-06-15 and now is 2026-06-15 13:45 UTC → expired.
  Result<Principal> p = auth.authenticate("ci-deploy", kCiOldKey, kNow);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().code, ErrorCode::kAuth);
  EXPECT_EQ(p.error().message, "key expired on 2026-06-15");
  // One second before midnight of the expiry day it was still valid.
  Result<Principal> before =
      auth.authenticate("ci-deploy", kCiOldKey, sys_days(2026y / 6 / 15) - 1s);
  EXPECT_TRUE(before.has_value());
}

TEST(ApiKeyAuthenticator, KeyExpiringTomorrowIsAccepted) {
  ApiKeyAuthenticator auth(make_config());
  EXPECT_TRUE(auth.authenticate("ci-deploy", kCiKey, kNow).has_value());
  // ...and refused once tomorrow comes.
  Result<Principal> later = auth.authenticate("ci-deploy", kCiKey, sys_days(2026y / 6 / 16));
  ASSERT_FALSE(later.has_value());
  EXPECT_EQ(later.error().message, "key expired on 2026-06-16");
}

TEST(ApiKeyAuthenticator, WorksFromLoadedConfig) {
  std::string yaml =
      "identities:\n  - name: ci\n    api_keys:\n      - sha256: " + core::sha256_hex(kCiKey) +
      "\n        expires: 2027-01-01\n";
  Result<config::Config> cfg = config::load_config_from_string(yaml, "t.yaml", ".");
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  ApiKeyAuthenticator auth(*cfg);
  EXPECT_TRUE(auth.authenticate("ci", kCiKey, sys_days(2026y / 12 / 31) + 23h).has_value());
  Result<Principal> expired = auth.authenticate("ci", kCiKey, sys_days(2027y / 1 / 1));
  ASSERT_FALSE(expired.has_value());
  EXPECT_EQ(expired.error().message, "key expired on 2027-01-01");
}

}  // namespace
}  // namespace custos::identity

namespace custos::policy {
namespace {

config::Config policy_config() {
  config::Config cfg;
  for (const char* name : {"orders", "billing", "analytics"}) {
    config::Connection c;
    c.name = name;
    cfg.connections.push_back(c);
  }
  config::Policy by_name{"deploy-orders", {"ci-deploy"}, {"orders"}, {}};
  config::Policy by_group{"ci-billing", {"group:ci"}, {"billing", "orders"}, {}};
  config::Policy everywhere{"auditors-all", {"auditor"}, {"*"}, {}};
  cfg.policies = {by_name, by_group, everywhere};
  return cfg;
}

identity::Principal principal(std::string name, std::vector<std::string> groups) {
  return identity::Principal{std::move(name), std::move(groups), "api_key", "0123456789ab"};
}

TEST(ConnectPolicy, MatchesByIdentityName) {
  config::Config cfg = policy_config();
  EXPECT_EQ(connect_policy_for(cfg, principal("ci-deploy", {}), *cfg.find_connection("orders")),
            "deploy-orders");
}

TEST(ConnectPolicy, MatchesByGroup) {
  config::Config cfg = policy_config();
  EXPECT_EQ(
      connect_policy_for(cfg, principal("builder", {"x", "ci"}), *cfg.find_connection("billing")),
      "ci-billing");
  // First matching policy wins (by config order).
  EXPECT_EQ(connect_policy_for(cfg, principal("ci-deploy", {"ci"}), *cfg.find_connection("orders")),
            "deploy-orders");
  // "group:ci" does not match an identity *named* ci.
  EXPECT_EQ(connect_policy_for(cfg, principal("ci", {}), *cfg.find_connection("billing")),
            std::nullopt);
}

TEST(ConnectPolicy, WildcardConnection) {
  config::Config cfg = policy_config();
  for (const char* conn : {"orders", "billing", "analytics"}) {
    EXPECT_EQ(connect_policy_for(cfg, principal("auditor", {}), *cfg.find_connection(conn)),
              "auditors-all")
        << conn;
  }
}

TEST(ConnectPolicy, NotPermitted) {
  config::Config cfg = policy_config();
  EXPECT_EQ(connect_policy_for(cfg, principal("ci-deploy", {}), *cfg.find_connection("billing")),
            std::nullopt);
  EXPECT_EQ(
      connect_policy_for(cfg, principal("builder", {"ci"}), *cfg.find_connection("analytics")),
      std::nullopt);
  EXPECT_EQ(connect_policy_for(cfg, principal("stranger", {"ops"}), *cfg.find_connection("orders")),
            std::nullopt);
}

}  // namespace
}  // namespace custos::policy
