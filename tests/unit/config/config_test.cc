// Configuration loading and validation, and secret resolution (secrets::resolve).

#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "config/config_loader.h"
#include "config/value_parsers.h"
#include "secrets/secret_resolver.h"

namespace custos::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using namespace std::chrono_literals;

const std::string kDataDir = std::string(CUSTOS_TEST_DATA_DIR) + "/unit/data/config";

Result<Config> load(std::string_view yaml) {
  return load_config_from_string(yaml, "test.yaml", kDataDir);
}

// The error text of a load that must fail.
std::string load_error(std::string_view yaml) {
  Result<Config> r = load(yaml);
  EXPECT_FALSE(r.has_value()) << "expected the configuration to be refused";
  return r.has_value() ? std::string() : r.error().message;
}

// ---------------------------------------------------------------------------------------------
// A complete valid file

TEST(ConfigLoad, ValidFileLoadsWithTypedValues) {
  Result<Config> r = load_config(kDataDir + "/valid.yaml");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  const Config& c = *r;
  EXPECT_EQ(c.source_path, kDataDir + "/valid.yaml");

  ASSERT_TRUE(c.listen.postgres.has_value());
  EXPECT_EQ(c.listen.postgres->host, "127.0.0.1");
  EXPECT_EQ(c.listen.postgres->port, 15432);
  ASSERT_TRUE(c.listen.admin.has_value());
  EXPECT_EQ(c.listen.admin->host, "::1");
  EXPECT_EQ(c.listen.admin->to_string(), "[::1]:8009");
  EXPECT_FALSE(c.listen.allow_plaintext_auth);

  // Relative paths resolve against the config file's directory.
  EXPECT_EQ(c.tls.cert, kDataDir + "/certs/gw.crt");
  EXPECT_EQ(c.tls.key, kDataDir + "/certs/gw.key");
  EXPECT_EQ(c.data_dir, kDataDir + "/state");
  EXPECT_EQ(c.store, "sqlite://" + kDataDir + "/state/index.db");
  EXPECT_EQ(c.sqlite_path(), kDataDir + "/state/index.db");
  EXPECT_EQ(c.threads, 4u);
  EXPECT_EQ(c.log_level, "debug");

  EXPECT_EQ(c.limits.max_message_bytes, 1u << 20);
  EXPECT_EQ(c.limits.idle_timeout, 300s);
  EXPECT_EQ(c.limits.connect_timeout, 10s);
  EXPECT_EQ(c.limits.shutdown_grace, 3600s);
  EXPECT_EQ(c.limits.auth_timeout, 30s);
  EXPECT_EQ(c.recording.fsync_interval, 250ms);

  ASSERT_EQ(c.identities.size(), 2u);
  const Identity* ci = c.find_identity("ci-deploy");
  ASSERT_NE(ci, nullptr);
  EXPECT_EQ(ci->groups, (std::vector<std::string>{"ci", "deployers"}));
  ASSERT_EQ(ci->api_keys.size(), 2u);
  // Stored lowercase.
  EXPECT_EQ(ci->api_keys[0].sha256_hex,
            "8a2f6b1c9d3e4f5061728394a5b6c7d8e9f00112233445566778899aabbccdde");
  ASSERT_TRUE(ci->api_keys[0].expires.has_value());
  EXPECT_EQ(*ci->api_keys[0].expires, std::chrono::sys_days(2027y / 1 / 1));
  EXPECT_EQ(ci->api_keys[0].line, 19);
  EXPECT_FALSE(ci->api_keys[1].expires.has_value());
  EXPECT_EQ(c.find_identity("nobody"), nullptr);

  ASSERT_EQ(c.connections.size(), 2u);
  const Connection* orders = c.find_connection("orders");
  ASSERT_NE(orders, nullptr);
  EXPECT_EQ(orders->type, ConnectionType::kPostgres);
  EXPECT_EQ(orders->address.to_string(), "db.internal:5432");
  EXPECT_EQ(orders->database, "orders");
  EXPECT_EQ(orders->credentials.username, "app_rw");
  EXPECT_EQ(orders->credentials.password.ref, "env:ORDERS_DB_PASSWORD");
  EXPECT_EQ(orders->tls.mode, UpstreamTlsMode::kVerifyFull);
  EXPECT_EQ(orders->tls.ca, kDataDir + "/certs/ca.pem");
  const Connection* analytics = c.find_connection("analytics");
  ASSERT_NE(analytics, nullptr);
  EXPECT_EQ(analytics->address.host, "2001:db8::5");
  EXPECT_EQ(analytics->address.port, 6432);
  EXPECT_EQ(analytics->tls.mode, UpstreamTlsMode::kDisable);
  // file: paths resolve against the config directory too.
  EXPECT_EQ(analytics->credentials.password.ref, "file:" + kDataDir + "/secrets/orders_password");

  ASSERT_EQ(c.policies.size(), 2u);
  EXPECT_EQ(c.policies[0].name, "ci-on-orders");
  EXPECT_EQ(c.policies[0].identities, (std::vector<std::string>{"ci-deploy", "group:ci"}));
  EXPECT_EQ(c.policies[0].connections, (std::vector<std::string>{"orders"}));
  EXPECT_TRUE(c.policies[0].rules.empty());
  EXPECT_EQ(c.policies[1].connections, (std::vector<std::string>{"*"}));
}

TEST(ConfigLoad, DefaultsWhenKeysAreAbsent) {
  Result<Config> r = load("listen: { admin: 127.0.0.1:8009 }\n");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_FALSE(r->listen.postgres.has_value());
  EXPECT_EQ(r->data_dir, kDataDir + "/data");
  EXPECT_EQ(r->store, "sqlite://" + kDataDir + "/data/custos.db");
  EXPECT_EQ(r->sqlite_path(), kDataDir + "/data/custos.db");
  EXPECT_EQ(r->limits.max_message_bytes, 64u << 20);
  EXPECT_EQ(r->limits.idle_timeout, 3600s);
  EXPECT_EQ(r->recording.fsync_interval, 200ms);
  EXPECT_EQ(r->threads, 0u);
  EXPECT_EQ(r->log_level, "info");
}

TEST(ConfigLoad, AbsolutePathsAreKept) {
  Result<Config> r = load("data_dir: /var/lib/custos\nstore: sqlite:///srv/custos.db\n");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->data_dir, "/var/lib/custos");
  EXPECT_EQ(r->sqlite_path(), "/srv/custos.db");
}

TEST(ConfigLoad, MissingFileNamesThePath) {
  Result<Config> r = load_config(kDataDir + "/does-not-exist.yaml");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kConfig);
  EXPECT_THAT(r.error().message, HasSubstr("does-not-exist.yaml"));
}

// ---------------------------------------------------------------------------------------------
// Syntax and structure

TEST(ConfigLoad, YamlSyntaxErrorHasFileAndLine) {
  std::string e = load_error("threads: 1\nlisten: { admin: 127.0.0.1:8009\nlog_level: info\n");
  EXPECT_THAT(e, StartsWith("test.yaml:"));
  EXPECT_THAT(e, HasSubstr("YAML syntax error"));
  EXPECT_THAT(e, Not(StartsWith("test.yaml:1:")));  // the problem is not on line 1
}

TEST(ConfigLoad, EmptyDocumentIsRefused) {
  EXPECT_THAT(load_error(""), StartsWith("test.yaml:1: "));
}

TEST(ConfigLoad, UnknownTopLevelKeyIsRefusedWithAllowedKeys) {
  std::string e = load_error("threads: 2\nlisten_on: 127.0.0.1:1\n");
  EXPECT_THAT(e, StartsWith("test.yaml:2: listen_on: unknown key; allowed keys: listen, tls"));
  EXPECT_THAT(e, HasSubstr("policies"));
}

TEST(ConfigLoad, UnknownNestedKeyIsRefused) {
  std::string e = load_error(
      "connections:\n"
      "  - name: orders\n"
      "    type: postgres\n"
      "    address: db:5432\n"
      "    database: orders\n"
      "    credentials: { username: u, password: env:P }\n"
      "    tsl: { mode: require }\n");
  EXPECT_THAT(e, StartsWith("test.yaml:7: connections[0].tsl: unknown key; allowed keys: name, "
                            "type, address, database, credentials, tls"));
}

TEST(ConfigLoad, UnknownKeyDoesNotEchoItsValue) {
  std::string e = load_error(
      "connections:\n"
      "  - { name: o, type: postgres, address: db:5432, database: d,\n"
      "      credentials: { username: u, password: env:P, pasword: hunter2-secret } }\n");
  EXPECT_THAT(e, HasSubstr("test.yaml:3: connections[0].credentials.pasword: unknown key"));
  EXPECT_THAT(e, Not(HasSubstr("hunter2")));
}

TEST(ConfigLoad, DuplicateKeyIsRefused) {
  std::string e = load_error("threads: 1\nthreads: 2\n");
  EXPECT_THAT(e, StartsWith("test.yaml:2: threads: duplicate key"));
}

TEST(ConfigLoad, WrongShapeIsRefused) {
  EXPECT_THAT(load_error("listen: 127.0.0.1:5432\n"),
              StartsWith("test.yaml:1: listen: expected a mapping, got a scalar"));
  EXPECT_THAT(load_error("identities:\n  name: x\n"),
              StartsWith("test.yaml:2: identities: expected a list, got a mapping"));
}

TEST(ConfigLoad, ReportsEveryErrorOneLineEach) {
  std::string e = load_error("threads: lots\nlog_level: loud\n");
  EXPECT_THAT(e, HasSubstr("test.yaml:1: threads: expected a number of threads"));
  EXPECT_THAT(e, HasSubstr("\ntest.yaml:2: log_level: expected one of trace, debug, info"));
}

// ---------------------------------------------------------------------------------------------
// listen / tls

TEST(ConfigLoad, BadHostPortNamesKeyAndValue) {
  EXPECT_THAT(load_error("listen: { admin: abc }\n"),
              StartsWith("test.yaml:1: listen.admin: expected host:port, got \"abc\""));
  EXPECT_THAT(load_error("listen:\n  admin: 127.0.0.1:0\n"),
              StartsWith("test.yaml:2: listen.admin: expected host:port, got \"127.0.0.1:0\""));
  EXPECT_THAT(load_error("listen:\n  admin: 127.0.0.1:65536\n"),
              StartsWith("test.yaml:2: listen.admin: expected host:port"));
}

TEST(ValueParsers, HostPort) {
  Result<HostPort> v4 = parse_host_port("10.0.0.1:5432");
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->host, "10.0.0.1");
  EXPECT_EQ(v4->port, 5432);
  Result<HostPort> name = parse_host_port("db-1.internal:65535");
  ASSERT_TRUE(name.has_value());
  EXPECT_EQ(name->to_string(), "db-1.internal:65535");
  Result<HostPort> v6 = parse_host_port("[::1]:5432");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->to_string(), "[::1]:5432");
  for (const char* bad : {"", "abc", ":5432", "host:", "host:0", "host:65536", "host:54x",
                          "::1:5432", "[::1]", "[::1]5432", "[nothex]:1", "a b:1", "h:+5"}) {
    EXPECT_FALSE(parse_host_port(bad).has_value()) << bad;
  }
}

TEST(ConfigLoad, PostgresListenerRequiresTls) {
  std::string e = load_error("threads: 1\nlisten: { postgres: 0.0.0.0:15432 }\n");
  EXPECT_THAT(e, StartsWith("test.yaml:2: listen.postgres: requires tls.cert and tls.key"));
  EXPECT_THAT(load_error("listen: { postgres: 0.0.0.0:15432 }\ntls: { cert: certs/gw.crt }\n"),
              HasSubstr("test.yaml:2: tls.key: required key is missing"));
}

TEST(ConfigLoad, PlaintextAuthAllowsListenerWithoutTls) {
  Result<Config> r = load("listen: { postgres: 127.0.0.1:15432, allow_plaintext_auth: true }\n");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_TRUE(r->listen.allow_plaintext_auth);
  EXPECT_THAT(load_error("listen: { allow_plaintext_auth: yes-please }\n"),
              StartsWith("test.yaml:1: listen.allow_plaintext_auth: expected true or false"));
}

TEST(ConfigLoad, TlsFilesMustExist) {
  std::string e = load_error(
      "listen: { postgres: 127.0.0.1:15432 }\n"
      "tls:\n"
      "  cert: certs/missing.crt\n"
      "  key: certs/gw.key\n");
  EXPECT_THAT(e, StartsWith("test.yaml:3: tls.cert: expected a readable file"));
  EXPECT_THAT(e, HasSubstr(kDataDir + "/certs/missing.crt"));
  EXPECT_THAT(e, HasSubstr("No such file"));
  EXPECT_THAT(load_error("tls: { cert: certs, key: certs/gw.key }\n"),
              StartsWith("test.yaml:1: tls.cert: expected a readable file, got directory"));
}

// ---------------------------------------------------------------------------------------------
// Names

TEST(ConfigLoad, DuplicateNamesAreRefused) {
  std::string e = load_error(
      "identities:\n"
      "  - name: ci\n"
      "  - name: bot\n"
      "  - name: ci\n");
  EXPECT_THAT(e, StartsWith("test.yaml:4: duplicate identity name \"ci\" (first declared at "
                            "line 2)"));
  std::string c = load_error(
      "connections:\n"
      "  - { name: db, type: postgres, address: h:1, database: d,\n"
      "      credentials: { username: u, password: env:P } }\n"
      "  - { name: db, type: postgres, address: h:2, database: d,\n"
      "      credentials: { username: u, password: env:P } }\n");
  EXPECT_THAT(c, StartsWith("test.yaml:4: duplicate connection name \"db\""));
  std::string p = load_error(
      "identities: [{ name: ci }]\n"
      "policies:\n"
      "  - { name: p, identities: [ci], connections: ['*'] }\n"
      "  - { name: p, identities: [ci], connections: ['*'] }\n");
  EXPECT_THAT(p, StartsWith("test.yaml:4: duplicate policy name \"p\""));
}

TEST(ConfigLoad, InvalidNamesAreRefused) {
  EXPECT_THAT(load_error("identities:\n  - name: -ci\n"),
              StartsWith("test.yaml:2: identities[0].name: expected a identity name matching"));
  EXPECT_THAT(load_error("identities:\n  - name: \"has space\"\n"),
              StartsWith("test.yaml:2: identities[0].name"));
  std::string too_long(64, 'a');
  EXPECT_THAT(load_error("identities:\n  - name: " + too_long + "\n"),
              StartsWith("test.yaml:2: identities[0].name"));
  EXPECT_TRUE(load("identities:\n  - name: " + std::string(63, 'a') + "\n").has_value());
  EXPECT_THAT(load_error("identities:\n  - name: ci\n    groups: [ok, \"bad/group\"]\n"),
              StartsWith("test.yaml:3: identities[0].groups[1]: expected a group name"));
  EXPECT_THAT(load_error("identities:\n  - groups: [ci]\n"),
              StartsWith("test.yaml:2: identities[0].name: required key is missing"));
}

// ---------------------------------------------------------------------------------------------
// API keys

TEST(ConfigLoad, ApiKeyDigestMustBe64Hex) {
  std::string e = load_error(
      "identities:\n"
      "  - name: ci\n"
      "    api_keys:\n"
      "      - sha256: my-raw-api-key-oops\n");
  EXPECT_THAT(e, StartsWith("test.yaml:4: identities[0].api_keys[0].sha256: expected 64 hex"));
  // A raw key pasted in by mistake must not be echoed into logs.
  EXPECT_THAT(e, Not(HasSubstr("my-raw-api-key-oops")));
  std::string not_hex(63, 'a');
  not_hex += 'g';
  EXPECT_THAT(load_error("identities: [{ name: ci, api_keys: [{ sha256: " + not_hex + " }] }]\n"),
              HasSubstr("api_keys[0].sha256: expected 64 hex"));
}

TEST(ConfigLoad, ApiKeyExpiryMustBeADate) {
  std::string key(64, 'a');
  EXPECT_THAT(
      load_error("identities:\n  - name: ci\n    api_keys:\n      - sha256: " + key +
                 "\n        expires: 2026-02-30\n"),
      StartsWith("test.yaml:5: identities[0].api_keys[0].expires: expected a date YYYY-MM-DD, "
                 "got \"2026-02-30\""));
  EXPECT_THAT(load_error("identities: [{ name: ci, api_keys: [{ sha256: " + key +
                         ", expires: 1/1/2027 }] }]\n"),
              HasSubstr("expires: expected a date YYYY-MM-DD"));
}

TEST(ConfigLoad, SameKeyTwiceForOneIdentityIsRefused) {
  std::string key(64, 'b');
  std::string e = load_error("identities:\n  - name: ci\n    api_keys:\n      - sha256: " + key +
                             "\n      - sha256: " + std::string(64, 'B') + "\n");
  EXPECT_THAT(e, StartsWith("test.yaml:5: identities[0].api_keys[1]: the same key is listed"));
}

// ---------------------------------------------------------------------------------------------
// Connections and secrets

std::string connection_with_password(std::string_view password) {
  return "connections:\n"
         "  - name: orders\n"
         "    type: postgres\n"
         "    address: db.internal:5432\n"
         "    database: orders\n"
         "    credentials:\n"
         "      username: app\n"
         "      password: " +
         std::string(password) + "\n";
}

TEST(ConfigLoad, LiteralPasswordIsRefusedWithoutEchoingIt) {
  std::string e = load_error(connection_with_password("S3cr3t-Value!"));
  EXPECT_EQ(e,
            "test.yaml:8: connections[0].credentials.password: literal secrets are refused; use "
            "env:NAME or file:PATH");
  EXPECT_THAT(e, Not(HasSubstr("S3cr3t")));
  // A quoted number is still a literal.
  EXPECT_THAT(load_error(connection_with_password("\"123456\"")), Not(HasSubstr("123456")));
  // The test-only scheme must be spelled exactly.
  std::string near = load_error(connection_with_password("literal:pw-xyz"));
  EXPECT_THAT(near, HasSubstr("literal secrets are refused"));
  EXPECT_THAT(near, Not(HasSubstr("pw-xyz")));
}

TEST(ConfigLoad, SecretReferencesAccepted) {
  for (const char* ref : {"env:ORDERS_PW", "file:/run/secrets/pw", "test-literal:pw"}) {
    Result<Config> r = load(connection_with_password(ref));
    ASSERT_TRUE(r.has_value()) << ref << ": " << r.error().message;
    EXPECT_EQ(r->connections[0].credentials.password.ref, ref);
  }
  EXPECT_THAT(load_error(connection_with_password("\"env:\"")),
              StartsWith("test.yaml:8: connections[0].credentials.password: env: must be "));
  EXPECT_THAT(load_error(connection_with_password("\"file:\"")),
              HasSubstr("file: must be followed by a path"));
}

TEST(ConfigLoad, ConnectionRequiredKeysAndEnums) {
  std::string e = load_error("connections:\n  - name: orders\n    type: mysql\n");
  EXPECT_THAT(e, HasSubstr("test.yaml:3: connections[0].type: expected one of postgres, got "
                           "\"mysql\""));
  EXPECT_THAT(e, HasSubstr("test.yaml:2: connections[0].address: required key is missing"));
  EXPECT_THAT(e, HasSubstr("connections[0].database: required key is missing"));
  EXPECT_THAT(e, HasSubstr("connections[0].credentials: required key is missing"));
  std::string t = load_error(connection_with_password("env:P") + "    tls: { mode: prefer }\n");
  EXPECT_THAT(t, StartsWith("test.yaml:9: connections[0].tls.mode: expected one of disable, "
                            "require, verify-full"));
  std::string ca = load_error(connection_with_password("env:P") +
                              "    tls: { mode: require, ca: certs/ca.pem }\n");
  EXPECT_THAT(ca, StartsWith("test.yaml:9: connections[0].tls.ca: is only used with mode: "
                             "verify-full"));
  std::string missing = load_error(connection_with_password("env:P") +
                                   "    tls: { mode: verify-full, ca: certs/nope.pem }\n");
  EXPECT_THAT(missing, StartsWith("test.yaml:9: connections[0].tls.ca: expected a readable file"));
}

// ---------------------------------------------------------------------------------------------
// Policies

constexpr std::string_view kPolicyBase =
    "identities:\n"
    "  - { name: ci-deploy, groups: [ci] }\n"
    "connections:\n"
    "  - { name: orders, type: postgres, address: db:5432, database: orders,\n"
    "      credentials: { username: u, password: env:P } }\n"
    "policies:\n";  // the first policy entry is on line 7

TEST(ConfigLoad, PolicyReferencesMustExist) {
  std::string base(kPolicyBase);
  EXPECT_TRUE(load(base + "  - { name: p, identities: [ci-deploy, group:ci], connections: "
                          "[orders, '*'] }\n")
                  .has_value());
  EXPECT_THAT(
      load_error(base + "  - name: p\n    identities: [nobody]\n    connections: [orders]\n"),
      StartsWith("test.yaml:8: policies[0].identities[0]: unknown identity \"nobody\""));
  EXPECT_THAT(
      load_error(base + "  - name: p\n    identities: [group:dba]\n    connections: ['*']\n"),
      StartsWith("test.yaml:8: policies[0].identities[0]: no identity is in group \"dba\""));
  EXPECT_THAT(
      load_error(base + "  - name: p\n    identities: [ci-deploy]\n    connections: [billing]\n"),
      StartsWith("test.yaml:9: policies[0].connections[0]: unknown connection "
                 "\"billing\""));
  EXPECT_THAT(load_error(base + "  - name: p\n    identities: []\n    connections: [orders]\n"),
              HasSubstr("policies[0].identities: expected at least one identity"));
}

TEST(ConfigLoad, OneBadConnectionDoesNotCascadeIntoPolicies) {
  std::string e = load_error(
      "identities: [{ name: ci }]\n"
      "connections:\n"
      "  - { name: orders, type: postgres, address: db:5432, database: orders,\n"
      "      credentials: { username: u, password: plaintext-pw } }\n"
      "policies:\n"
      "  - { name: p, identities: [ci], connections: [orders] }\n");
  EXPECT_EQ(e,
            "test.yaml:4: connections[0].credentials.password: literal secrets are refused; use "
            "env:NAME or file:PATH");
}

TEST(ConfigLoad, ErrorsAreListedInLineOrder) {
  // The unknown key (line 3) is found before the bad value (line 2) but listed after it.
  std::string e = load_error("listen:\n  admin: nope\n  admn: 127.0.0.1:1\n");
  EXPECT_THAT(e, StartsWith("test.yaml:2: listen.admin: expected host:port"));
  EXPECT_THAT(e, HasSubstr("\ntest.yaml:3: listen.admn: unknown key"));
}

constexpr std::string_view kApprovers =
    "approvers:\n"
    "  - { name: alice, groups: [dba], token_sha256: "
    "\"8A2F6B1C9D3E4F5061728394A5B6C7D8E9F00112233445566778899AABBCCDDE\" }\n"
    "  - { name: bob, groups: [dba], token_sha256: "
    "\"0000000000000000000000000000000000000000000000000000000000000001\" }\n";

TEST(ConfigLoad, HoldRulesLoadWithApproversAndTimeout) {
  Result<Config> c = load(std::string(kApprovers) + std::string(kPolicyBase) +
                          "  - name: p\n"
                          "    identities: [ci-deploy]\n"
                          "    connections: [orders]\n"
                          "    rules:\n"
                          "      - allow: { kinds: [select] }\n"
                          "      - hold: { kinds: [delete], tables: [orders], approvers: "
                          "[group:dba, alice], min_approvals: 2, timeout: 90s, preview: true, "
                          "message: ask a DBA }\n"
                          "      - hold: { kinds: [update], approvers: [bob] }\n"
                          "admin_url: https://custos.example.com/\n"
                          "webhooks:\n"
                          "  - { url: http://127.0.0.1:9/hook, secret: env:HOOK, "
                          "events: [created, approved] }\n");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  ASSERT_EQ(c->approvers.size(), 2u);
  EXPECT_EQ(c->approvers[0].name, "alice");
  EXPECT_EQ(c->approvers[0].groups, (std::vector<std::string>{"dba"}));
  // Stored lowercase.
  EXPECT_EQ(c->approvers[0].token_sha256,
            "8a2f6b1c9d3e4f5061728394a5b6c7d8e9f00112233445566778899aabbccdde");
  EXPECT_EQ(c->admin_url, "https://custos.example.com");
  ASSERT_EQ(c->webhooks.size(), 1u);
  EXPECT_EQ(c->webhooks[0].secret.ref, "env:HOOK");
  EXPECT_EQ(c->webhooks[0].events, (std::vector<std::string>{"created", "approved"}));
  const Rule& hold = c->policies[0].rules[1];
  EXPECT_EQ(hold.action, RuleAction::kHold);
  EXPECT_EQ(hold.approvers, (std::vector<std::string>{"group:dba", "alice"}));
  EXPECT_EQ(hold.min_approvals, 2);
  EXPECT_EQ(hold.hold_timeout, 90s);
  EXPECT_TRUE(hold.preview);
  EXPECT_EQ(hold.message, "ask a DBA");
  EXPECT_EQ(hold.tables, (std::vector<std::string>{"orders"}));
  const Rule& defaults = c->policies[0].rules[2];
  EXPECT_EQ(defaults.min_approvals, 1);
  EXPECT_EQ(defaults.hold_timeout, 600s);
  EXPECT_FALSE(defaults.preview);
}

TEST(ConfigLoad, HoldRulesAreRefusedAtTheirLineWhenTheyCannotBeEnforced) {
  const std::string base = std::string(kPolicyBase) +
                           "  - name: p\n"
                           "    identities: [ci-deploy]\n"
                           "    connections: [orders]\n"
                           "    rules:\n"
                           "      - allow: { kinds: [select] }\n";
  // No approvers: nobody could ever release the statement.
  std::string e = load_error(base + "      - hold: { kinds: [delete] }\n");
  EXPECT_THAT(e, StartsWith("test.yaml:12: policies[0].rules[1].hold.approvers: "));
  // An approver that does not exist, and a group nobody is in.
  e = load_error(std::string(kApprovers) + base +
                 "      - hold: { kinds: [delete], approvers: [carol] }\n");
  EXPECT_THAT(e, HasSubstr(":15: policy \"p\": hold rule approver \"carol\" is not in "
                           "approvers[]"));
  e = load_error(std::string(kApprovers) + base +
                 "      - hold: { kinds: [delete], approvers: [group:ops] }\n");
  EXPECT_THAT(e, HasSubstr("hold rule approver \"group:ops\" is a group no approver belongs to"));
  // More approvals required than people who may give them.
  e = load_error(std::string(kApprovers) + base +
                 "      - hold: { kinds: [delete], approvers: [alice], min_approvals: 2 }\n");
  EXPECT_THAT(e, HasSubstr("needs min_approvals 2 but only 1 approver(s) may approve it"));
  // Bad values, and allow-only keys.
  e = load_error(std::string(kApprovers) + base +
                 "      - hold: { kinds: [delete], approvers: [alice], timeout: 0 }\n");
  EXPECT_THAT(e, HasSubstr("hold.timeout: expected a whole number of seconds from 1s to 24h"));
  e = load_error(std::string(kApprovers) + base +
                 "      - hold: { kinds: [delete], approvers: [alice], min_approvals: 0 }\n");
  EXPECT_THAT(e, HasSubstr("expected a number of approvals from 1 to 10"));
  e = load_error(std::string(kApprovers) + base +
                 "      - hold: { kinds: [delete], approvers: [alice], max_rows: 5 }\n");
  EXPECT_THAT(e, HasSubstr("hold.max_rows: unknown key"));
  e = load_error(std::string(kApprovers) + base + "      - hold: { approvers: [alice] }\n");
  EXPECT_THAT(e, HasSubstr("a hold rule needs at least one of kinds, tables or functions"));
}

TEST(ConfigLoad, ApproverTokenHashIsValidatedWithoutQuotingIt) {
  std::string e = load_error("approvers:\n  - { name: alice, token_sha256: my-secret-token }\n");
  EXPECT_THAT(e, StartsWith("test.yaml:2: approvers[0].token_sha256: expected the SHA-256"));
  EXPECT_THAT(e, Not(HasSubstr("my-secret-token")));
}

TEST(ConfigLoad, PolicyDefaultAndRulesLoad) {
  Result<Config> c = load(std::string(kPolicyBase) +
                          "  - name: p\n"
                          "    identities: [ci-deploy]\n"
                          "    connections: [orders]\n"
                          "    default: allow\n"
                          "    rules:\n"
                          "      - deny: { kinds: [ddl], message: no ddl }\n");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  ASSERT_EQ(c->policies.size(), 1u);
  EXPECT_TRUE(c->policies[0].default_allow);
  ASSERT_EQ(c->policies[0].rules.size(), 1u);
  EXPECT_EQ(c->policies[0].rules[0].message, "no ddl");
}

// ---------------------------------------------------------------------------------------------
// limits, durations, sizes

TEST(ConfigLoad, MaxMessageBytesBounds) {
  EXPECT_THAT(load_error("limits:\n  max_message_bytes: 512\n"),
              StartsWith("test.yaml:2: limits.max_message_bytes: expected between 1KiB and "
                         "1GiB-1"));
  EXPECT_THAT(load_error("limits: { max_message_bytes: 1GiB }\n"),
              HasSubstr("limits.max_message_bytes: expected between"));
  EXPECT_THAT(load_error("limits: { max_message_bytes: 64MB }\n"),
              HasSubstr("limits.max_message_bytes: expected a size like"));
  Result<Config> low = load("limits: { max_message_bytes: 1KiB }\n");
  ASSERT_TRUE(low.has_value()) << low.error().message;
  EXPECT_EQ(low->limits.max_message_bytes, 1024u);
  Result<Config> high = load("limits: { max_message_bytes: 1073741823 }\n");
  ASSERT_TRUE(high.has_value()) << high.error().message;
  EXPECT_EQ(high->limits.max_message_bytes, 1073741823u);
}

TEST(ConfigLoad, TimeoutsNeedWholeSecondsAndUnits) {
  EXPECT_THAT(load_error("limits:\n  idle_timeout: 1500ms\n"),
              StartsWith("test.yaml:2: limits.idle_timeout: expected a whole number of seconds"));
  EXPECT_THAT(load_error("limits:\n  connect_timeout: 10\n"),
              StartsWith("test.yaml:2: limits.connect_timeout: expected a duration like"));
  EXPECT_THAT(load_error("limits: { auth_timeout: 0 }\n"),
              HasSubstr("limits.auth_timeout: expected at least 1s"));
  Result<Config> r = load(
      "limits: { idle_timeout: 0, shutdown_grace: 2d }\n"
      "recording: { fsync_interval: 0 }\n");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->limits.idle_timeout, 0s);
  EXPECT_EQ(r->limits.shutdown_grace, 48h);
  EXPECT_EQ(r->recording.fsync_interval, 0ms);
}

TEST(ValueParsers, DurationsAndSizes) {
  EXPECT_EQ(*parse_duration("250ms"), 250ms);
  EXPECT_EQ(*parse_duration("10s"), 10s);
  EXPECT_EQ(*parse_duration("5m"), 300s);
  EXPECT_EQ(*parse_duration("1h"), 3600s);
  EXPECT_EQ(*parse_duration("30d"), 30 * 24h);
  for (const char* bad : {"", "s", "10", "-5s", "1.5s", "10 s", "10sec", "99999999999999999d"}) {
    EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
  }
  EXPECT_EQ(*parse_size("65536"), 65536u);
  EXPECT_EQ(*parse_size("64KiB"), 65536u);
  EXPECT_EQ(*parse_size("1MiB"), 1u << 20);
  EXPECT_EQ(*parse_size("1GiB"), 1u << 30);
  for (const char* bad : {"", "KiB", "1KB", "1 MiB", "-1", "99999999999GiB", "1kib"}) {
    EXPECT_FALSE(parse_size(bad).has_value()) << bad;
  }
}

TEST(ConfigLoad, StoreMustBeSqlite) {
  EXPECT_THAT(load_error("store: postgres://db/custos\n"),
              StartsWith("test.yaml:1: store: expected sqlite://PATH"));
}

}  // namespace
}  // namespace custos::config

// =============================================================================================
// secrets::resolve

namespace custos::secrets {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string write_temp_file(const std::string& name, const std::string& contents) {
  std::string path = ::testing::TempDir() + "custos_secret_test_" + name;
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

TEST(SecretResolve, EnvSetAndUnset) {
  ::setenv("CUSTOS_TEST_SECRET_A", "pa55-from-env", 1);
  Result<core::SecretString> s = resolve(config::SecretRef{"env:CUSTOS_TEST_SECRET_A"});
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(s->reveal(), "pa55-from-env");

  ::unsetenv("CUSTOS_TEST_SECRET_UNSET");
  Result<core::SecretString> missing = resolve(config::SecretRef{"env:CUSTOS_TEST_SECRET_UNSET"});
  ASSERT_FALSE(missing.has_value());
  EXPECT_THAT(missing.error().message, HasSubstr("CUSTOS_TEST_SECRET_UNSET is not set"));

  ::setenv("CUSTOS_TEST_SECRET_EMPTY", "", 1);
  Result<core::SecretString> empty = resolve(config::SecretRef{"env:CUSTOS_TEST_SECRET_EMPTY"});
  ASSERT_FALSE(empty.has_value());
  EXPECT_THAT(empty.error().message, HasSubstr("CUSTOS_TEST_SECRET_EMPTY is empty"));
}

TEST(SecretResolve, FileStripsOneTrailingNewline) {
  std::string path = write_temp_file("newline", "line-one\n\n");
  Result<core::SecretString> s = resolve(config::SecretRef{"file:" + path});
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(s->reveal(), "line-one\n");

  std::string plain = write_temp_file("plain", "no-newline");
  Result<core::SecretString> p = resolve(config::SecretRef{"file:" + plain});
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_EQ(p->reveal(), "no-newline");

  Result<core::SecretString> fixture = resolve(config::SecretRef{
      "file:" + std::string(CUSTOS_TEST_DATA_DIR) + "/unit/data/config/secrets/orders_password"});
  ASSERT_TRUE(fixture.has_value()) << fixture.error().message;
  EXPECT_EQ(fixture->reveal(), "orders-password-from-file");
}

TEST(SecretResolve, MissingFileNamesThePath) {
  std::string path = ::testing::TempDir() + "custos_secret_test_does_not_exist";
  Result<core::SecretString> s = resolve(config::SecretRef{"file:" + path});
  ASSERT_FALSE(s.has_value());
  EXPECT_THAT(s.error().message, HasSubstr(path));
  EXPECT_THAT(s.error().message, HasSubstr("No such file"));
}

TEST(SecretResolve, TestLiteralAndRefusedLiteral) {
  Result<core::SecretString> s = resolve(config::SecretRef{"test-literal:abc"});
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->reveal(), "abc");
  Result<core::SecretString> bare = resolve(config::SecretRef{"plain-password-value"});
  ASSERT_FALSE(bare.has_value());
  EXPECT_THAT(bare.error().message, HasSubstr("literal secrets are refused"));
  EXPECT_THAT(bare.error().message, Not(HasSubstr("plain-password-value")));
}

}  // namespace
}  // namespace custos::secrets
