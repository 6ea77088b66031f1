#pragma once
// Typed, validated configuration. Every key is declared once in config_loader.cc with its type
// and default; errors carry file:line and what was expected.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace custos::config {

struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string to_string() const;  // "host:port", IPv6 hosts in brackets
};

// A reference to a secret: "env:NAME", "file:PATH", or (tests only) "test-literal:VALUE".
// Resolved at use time by secrets::resolve(); the config never stores the value.
struct SecretRef {
  std::string ref;
};

struct ListenConfig {
  std::optional<HostPort> postgres;
  std::optional<HostPort> admin;
  bool allow_plaintext_auth = false;
};

struct TlsConfig {
  std::string cert;  // PEM path; required when listen.postgres is set
  std::string key;   // PEM path
  std::string client_ca;  // PEM bundle: client certificates (mTLS) are verified against it
};

struct ApiKey {
  std::string sha256_hex;                       // lowercase hex, 64 chars
  std::optional<std::chrono::sys_days> expires;  // key invalid from this day (UTC) on
  int line = 0;                                  // where it was declared, for messages
};

// identities[].oidc: a workload OIDC token (GitHub Actions, GitLab, Kubernetes...) presented as
// the password. See src/identity/oidc_verifier.h for the checks.
struct OidcClaim {
  std::string name;
  std::string pattern;  // exact value, or a glob with '*'
};

enum class ReplayMode { kAllow, kReject };

struct OidcConfig {
  std::string issuer;    // compared exactly with the token's iss
  std::string audience;  // must be in the token's aud
  std::string jwks_file;  // local JWKS (absolute after loading), or
  std::string jwks_url;   // https:// JWKS endpoint, or
  bool discover = false;  // jwks_uri from issuer + /.well-known/openid-configuration
  std::string ca_file;    // optional PEM bundle for the HTTPS fetches (default: system store)
  std::vector<OidcClaim> claims;
  std::optional<std::chrono::seconds> max_ttl;  // exp - iat must not exceed it
  ReplayMode replay = ReplayMode::kAllow;
  int line = 0;
};

// identities[].mtls: a client certificate (chain verified against tls.client_ca) whose SPIFFE
// URI SAN or subject CN names the identity. Exactly one of the two is set.
struct MtlsConfig {
  std::string spiffe_id;
  std::string subject_cn;
  int line = 0;
};

struct Identity {
  std::string name;
  std::vector<std::string> groups;
  std::vector<ApiKey> api_keys;
  std::optional<OidcConfig> oidc;
  std::optional<MtlsConfig> mtls;
};

// tokens: short custos tokens issued by POST /api/token in exchange for a workload token.
struct TokenConfig {
  std::chrono::seconds max_ttl{900};
};

enum class UpstreamTlsMode { kDisable, kRequire, kVerifyFull };

struct UpstreamTls {
  UpstreamTlsMode mode = UpstreamTlsMode::kDisable;
  std::string ca;  // PEM bundle for verify-full
};

enum class ConnectionType { kPostgres };

struct Credentials {
  std::string username;
  SecretRef password;
};

struct Connection {
  std::string name;
  ConnectionType type = ConnectionType::kPostgres;
  HostPort address;
  std::string database;
  Credentials credentials;
  UpstreamTls tls;
};

// One entry of policies[].rules (see src/policy/statement_policy.h for the matching semantics).
// Only what the loader can enforce is accepted; anything else is refused at load time.
enum class RuleAction { kAllow, kDeny, kHold };

struct Rule {
  int line = 0;
  RuleAction action = RuleAction::kDeny;
  std::vector<std::string> kinds;           // as written (for messages), "readonly" included
  uint64_t kind_mask = 0;                   // bit (1 << sql::Kind) per kind, readonly expanded
  std::vector<std::string> kind_functions;  // "function:NAME" entries of kinds, NAME canonical
  std::vector<std::string> tables;          // globs: "orders.*", "*.audit_log", "line_items"
  std::vector<std::string> functions;       // function names, canonical (no "pg_catalog.")
  bool require_where = false;               // allow only
  std::optional<uint64_t> max_rows;         // allow only
  std::string message;                      // deny/hold: shown to the client
  // hold only: who may approve ("NAME" of an approver or "group:NAME"), how many distinct
  // approvers are needed, how long the statement waits, whether the session previews it.
  std::vector<std::string> approvers;
  int min_approvals = 1;
  std::chrono::seconds hold_timeout{600};
  bool preview = false;
};

// One entry of policies[].mask (see src/mask/masker.h for the exact semantics).
struct MaskRule {
  enum class Strategy { kRedact, kPartial, kHmac, kFpe, kNull };
  // What a rule with `columns` does to result columns that have no source (expressions).
  enum class Computed { kDetect, kRedact, kDeny };
  struct Custom {
    std::string name;   // reported in counts as the detector name
    std::string regex;  // Hyperscan syntax; checked at load
  };
  int line = 0;                      // where it was declared, for messages
  std::vector<std::string> columns;  // "schema.table.column", "table.column" or "column"
  std::vector<std::string> detect;   // detector names ("custom" = the rule's custom detector)
  std::optional<Custom> custom;
  Strategy strategy = Strategy::kRedact;
  uint32_t keep_last = 4;  // partial only
  Computed computed = Computed::kDetect;
  // A result value derived from a column of this rule (an expression over it, an aggregate, a
  // view or UNION that changes it): masked whole with this strategy, or, with derived_deny,
  // the statement fails. Bare references keep `strategy`.
  Strategy derived = Strategy::kRedact;
  bool derived_deny = false;
};

// policies[].target_read_only: log in to the target with default_transaction_read_only=on
// (and deny every statement that would turn it off). auto: when the policy allows no kind
// outside readonly (policy::guards_target_read_only).
enum class TargetReadOnly { kAuto, kOn, kOff };

struct Policy {
  std::string name;
  std::vector<std::string> identities;   // identity names or "group:NAME"
  std::vector<std::string> connections;  // connection names, "*" for all
  std::vector<Rule> rules;
  bool default_allow = false;            // `default: allow`; no rule matched → this
  TargetReadOnly target_read_only = TargetReadOnly::kAuto;
  std::vector<MaskRule> mask;            // policies[].mask, in order (or mask.rules)
  // mask: { deny_predicates: true }: deny statements that filter, join, group or sort on a
  // column a mask rule protects (a WHERE ssn LIKE '1%' oracle reveals it a bit at a time).
  bool mask_deny_predicates = false;
};

// approvers[]: people (or groups of them) who decide held statements, authenticated by a bearer
// token whose SHA-256 (lowercase hex) is configured here.
struct Approver {
  std::string name;
  std::vector<std::string> groups;
  std::string token_sha256;
  int line = 0;
};

// webhooks[]: POSTed on approval events, signed with HMAC-SHA256 of the body under `secret`.
struct Webhook {
  std::string url;
  SecretRef secret;
  std::vector<std::string> events;  // empty = all (created, approved, denied, expired, withdrawn)
};

struct Limits {
  uint32_t max_message_bytes = 64u << 20;       // largest single protocol message accepted
  std::chrono::seconds idle_timeout{3600};      // close a session idle this long (0 = never)
  std::chrono::seconds connect_timeout{10};     // dialing + authenticating to a target
  std::chrono::seconds shutdown_grace{30};      // SIGTERM: drain this long, then close
  std::chrono::seconds auth_timeout{30};        // client must finish startup+auth within this
  // How long what the target's catalog said about names (user functions, views, columns) is
  // reused before it is asked again; DDL seen on the connection drops it at once.
  std::chrono::seconds catalog_ttl{30};
};

struct RecordingConfig {
  std::chrono::milliseconds fsync_interval{200};  // 0 = fsync after every write
};

struct Config {
  std::string source_path;  // the file this came from
  ListenConfig listen;
  TlsConfig tls;
  std::string data_dir = "./data";
  std::string store = "";  // "sqlite://PATH"; default sqlite://<data_dir>/custos.db
  std::vector<Identity> identities;
  std::vector<Connection> connections;
  std::vector<Policy> policies;
  Limits limits;
  RecordingConfig recording;
  TokenConfig tokens;
  unsigned threads = 0;  // io threads; 0 = one per core
  std::string log_level = "info";
  std::optional<SecretRef> mask_key;  // key for hmac/fpe mask strategies
  std::vector<Approver> approvers;
  std::vector<Webhook> webhooks;
  std::string admin_url;  // public base URL of the admin listener, for links in notices
  // This gateway's name among replicas sharing a store (default: the host name); a restart
  // orphans the held requests of its own instance only.
  std::string instance;

  const Identity* find_identity(std::string_view name) const;
  const Connection* find_connection(std::string_view name) const;
  std::string sqlite_path() const;  // resolved path of the sqlite store
  std::string store_url() const;    // `store`, or sqlite://<sqlite_path()> when unset
};

// Loads and validates. Throws nothing: every problem is an Error whose message starts with
// "FILE:LINE: " and says what was expected.
Result<Config> load_config(const std::string& path);

}  // namespace custos::config
