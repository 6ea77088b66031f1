// YAML → typed, validated Config. Every key is declared once here, with its type and default
// (the defaults live in config.h). Errors carry "file:line: key: what was expected".

#include "config/config_loader.h"
#include "config/extension_loaders.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "config/load_context.h"
#include "config/rule_loader.h"
#include "config/value_parsers.h"
#include "config/yaml_map.h"

namespace custos::config {
namespace {

// The host name: one gateway per host needs no `instance` setting.
std::string default_instance_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') {
    return "custos";
  }
  return name;
}


constexpr uint64_t kMinMessageBytes = uint64_t(1) << 10;
constexpr uint64_t kMaxMessageBytes = (uint64_t(1) << 30) - 1;
constexpr unsigned kMaxThreads = 1024;
constexpr std::string_view kSqliteScheme = "sqlite://";

// A name together with the line that declared it, for duplicate / reference messages.
struct Declared {
  std::string name;
  YAML::Mark mark;
};

class ConfigLoader {
 public:
  explicit ConfigLoader(LoadContext& ctx) : ctx_(ctx) {}

  Config load(const YAML::Node& root);

 private:
  void load_listen(YamlMap& root, Config& cfg);
  void load_tls(YamlMap& root, Config& cfg);
  void load_storage(YamlMap& root, Config& cfg);
  void load_limits(YamlMap& root, Config& cfg);
  void load_recording(YamlMap& root, Config& cfg);
  void load_identities(YamlMap& root, Config& cfg);
  std::optional<ApiKey> load_api_key(YamlMap& m);
  void load_connections(YamlMap& root, Config& cfg);
  std::optional<Connection> load_connection(YamlMap& m);
  void load_policies(YamlMap& root, Config& cfg);
  void check_policy_references();
  static bool declared(const std::vector<Declared>& names, std::string_view name);

  std::optional<HostPort> host_port(const std::optional<ScalarValue>& s);
  std::optional<std::chrono::seconds> whole_seconds(YamlMap& m, std::string_view key,
                                                    std::chrono::seconds minimum);
  // The entry's "name", validated and remembered in registry for the uniqueness check.
  std::optional<std::string> name(YamlMap& m, std::string_view what,
                                  std::vector<Declared>& registry);
  std::optional<std::string> readable_file(const ScalarValue& s);
  void check_unique(const std::vector<Declared>& names, std::string_view what);

  LoadContext& ctx_;
  std::optional<ScalarValue> listen_postgres_;
  std::vector<Declared> identity_names_;
  std::vector<Declared> connection_names_;
  std::vector<Declared> policy_names_;
  std::set<std::string> groups_;
  // Policy references, checked once every identity and connection is known.
  struct PolicyRefs {
    std::vector<ScalarValue> identities;
    std::vector<ScalarValue> connections;
  };
  std::vector<PolicyRefs> policy_refs_;
};

Config ConfigLoader::load(const YAML::Node& root_node) {
  Config cfg;
  std::optional<YamlMap> root =
      YamlMap::open(ctx_, root_node, "",
                    {"listen", "tls", "data_dir", "store", "threads", "log_level", "limits",
                     "recording", "identities", "connections", "policies", "approvers",
                     "webhooks", "admin_url", "mask_key", "tokens", "instance"});
  if (!root) {
    return cfg;
  }
  load_listen(*root, cfg);
  load_tls(*root, cfg);
  load_storage(*root, cfg);
  load_limits(*root, cfg);
  load_recording(*root, cfg);
  load_identities(*root, cfg);
  load_connections(*root, cfg);
  load_policies(*root, cfg);
  load_approval_config(ctx_, *root, cfg);
  load_mask_config(ctx_, *root, cfg);
  load_token_config(ctx_, *root, cfg);
  check_unique(identity_names_, "identity");
  check_unique(connection_names_, "connection");
  check_unique(policy_names_, "policy");
  check_policy_references();
  check_extension_references(ctx_, cfg);
  return cfg;
}

void ConfigLoader::load_listen(YamlMap& root, Config& cfg) {
  std::optional<YamlMap> listen = root.map("listen", {"postgres", "admin", "allow_plaintext_auth"});
  if (!listen) {
    return;
  }
  if (std::optional<ScalarValue> s = listen->scalar("postgres")) {
    listen_postgres_.emplace(*s);
    cfg.listen.postgres = host_port(s);
  }
  cfg.listen.admin = host_port(listen->scalar("admin"));
  if (std::optional<bool> b = listen->boolean("allow_plaintext_auth")) {
    cfg.listen.allow_plaintext_auth = *b;
  }
}

void ConfigLoader::load_tls(YamlMap& root, Config& cfg) {
  std::optional<YamlMap> tls = root.map("tls", {"cert", "key", "client_ca"});
  if (tls) {
    load_client_ca(ctx_, *tls, cfg.tls);
    if (std::optional<ScalarValue> s = tls->scalar("cert", Presence::kRequired)) {
      cfg.tls.cert = readable_file(*s).value_or("");
    }
    if (std::optional<ScalarValue> s = tls->scalar("key", Presence::kRequired)) {
      cfg.tls.key = readable_file(*s).value_or("");
    }
  }
  if (listen_postgres_ && !cfg.listen.allow_plaintext_auth &&
      (!tls || !tls->has("cert") || !tls->has("key"))) {
    ctx_.error(listen_postgres_->mark, listen_postgres_->path,
               "requires tls.cert and tls.key (API keys must not cross the network in clear "
               "text); set listen.allow_plaintext_auth: true only for local testing");
  }
}

void ConfigLoader::load_storage(YamlMap& root, Config& cfg) {
  cfg.data_dir = ctx_.resolve_path(cfg.data_dir);
  if (std::optional<ScalarValue> s = root.scalar("data_dir")) {
    if (s->text.empty()) {
      ctx_.error(s->mark, s->path, "expected a directory path, got \"\"");
    } else {
      cfg.data_dir = ctx_.resolve_path(s->text);
    }
  }
  cfg.store = std::string(kSqliteScheme) +
              (std::filesystem::path(cfg.data_dir) / "custos.db").lexically_normal().string();
  if (std::optional<ScalarValue> s = root.scalar("store")) {
    std::string_view text = s->text;
    if (!text.starts_with(kSqliteScheme) || text.size() == kSqliteScheme.size()) {
      ctx_.error(s->mark, s->path,
                 "expected sqlite://PATH (the only store this version supports), got " +
                     quote_for_message(text));
    } else {
      cfg.store = std::string(kSqliteScheme) + ctx_.resolve_path(text.substr(kSqliteScheme.size()));
    }
  }
  cfg.instance = default_instance_name();
  if (std::optional<ScalarValue> s = root.scalar("instance")) {
    if (s->text.empty() || s->text.size() > 128) {
      ctx_.error(s->mark, s->path, "expected a name of 1 to 128 characters, got " +
                                       quote_for_message(s->text));
    } else {
      cfg.instance = s->text;
    }
  }
  if (std::optional<ScalarValue> s = root.scalar("threads")) {
    unsigned n = 0;
    auto [ptr, ec] = std::from_chars(s->text.data(), s->text.data() + s->text.size(), n);
    if (s->text.empty() || ec != std::errc() || ptr != s->text.data() + s->text.size() ||
        n > kMaxThreads) {
      ctx_.error(s->mark, s->path,
                 "expected a number of threads 0.." + std::to_string(kMaxThreads) +
                     " (0 = one per core), got " + quote_for_message(s->text));
    } else {
      cfg.threads = n;
    }
  }
  if (std::optional<ScalarValue> s = root.scalar("log_level")) {
    static const std::set<std::string, std::less<>> kLevels = {"trace", "debug",    "info", "warn",
                                                               "error", "critical", "off"};
    if (!kLevels.contains(s->text)) {
      ctx_.error(s->mark, s->path,
                 "expected one of trace, debug, info, warn, error, critical, off, got " +
                     quote_for_message(s->text));
    } else {
      cfg.log_level = s->text;
    }
  }
}

void ConfigLoader::load_limits(YamlMap& root, Config& cfg) {
  std::optional<YamlMap> limits = root.map(
      "limits",
      {"max_message_bytes", "idle_timeout", "connect_timeout", "shutdown_grace", "auth_timeout",
       "catalog_ttl"});
  if (!limits) {
    return;
  }
  if (std::optional<ScalarValue> s = limits->scalar("max_message_bytes")) {
    Result<uint64_t> size = parse_size(s->text);
    if (!size) {
      ctx_.error(s->mark, s->path, size.error().message);
    } else if (*size < kMinMessageBytes || *size > kMaxMessageBytes) {
      ctx_.error(s->mark, s->path,
                 "expected between 1KiB and 1GiB-1 (" + std::to_string(kMaxMessageBytes) +
                     " bytes), got " + quote_for_message(s->text));
    } else {
      cfg.limits.max_message_bytes = uint32_t(*size);
    }
  }
  using std::chrono::seconds;
  if (auto v = whole_seconds(*limits, "idle_timeout", seconds(0))) {
    cfg.limits.idle_timeout = *v;
  }
  if (auto v = whole_seconds(*limits, "connect_timeout", seconds(1))) {
    cfg.limits.connect_timeout = *v;
  }
  if (auto v = whole_seconds(*limits, "shutdown_grace", seconds(0))) {
    cfg.limits.shutdown_grace = *v;
  }
  if (auto v = whole_seconds(*limits, "auth_timeout", seconds(1))) {
    cfg.limits.auth_timeout = *v;
  }
  if (auto v = whole_seconds(*limits, "catalog_ttl", seconds(1))) {
    cfg.limits.catalog_ttl = *v;
  }
}

void ConfigLoader::load_recording(YamlMap& root, Config& cfg) {
  std::optional<YamlMap> recording = root.map("recording", {"fsync_interval"});
  if (!recording) {
    return;
  }
  if (std::optional<ScalarValue> s = recording->scalar("fsync_interval")) {
    Result<std::chrono::milliseconds> d = parse_duration(s->text);
    if (!d) {
      ctx_.error(s->mark, s->path, d.error().message);
    } else {
      cfg.recording.fsync_interval = *d;
    }
  }
}

void ConfigLoader::load_identities(YamlMap& root, Config& cfg) {
  for (YamlMap& m : root.map_list("identities", {"name", "groups", "api_keys", "oidc", "mtls"})) {
    Identity identity;
    load_identity_auth(ctx_, m, identity);
    std::optional<std::string> n = name(m, "identity", identity_names_);
    if (std::optional<std::vector<ScalarValue>> groups = m.scalar_list("groups")) {
      for (const ScalarValue& g : *groups) {
        if (!is_valid_name(g.text)) {
          ctx_.error(g.mark, g.path,
                     "expected a group name matching [A-Za-z0-9][A-Za-z0-9._-]{0,62}, got " +
                         quote_for_message(g.text));
          continue;
        }
        identity.groups.push_back(g.text);
        groups_.insert(g.text);
      }
    }
    std::set<std::string> seen_keys;
    for (YamlMap& k : m.map_list("api_keys", {"sha256", "expires"})) {
      std::optional<ApiKey> key = load_api_key(k);
      if (!key) {
        continue;
      }
      if (!seen_keys.insert(key->sha256_hex).second) {
        ctx_.error(k.mark(), k.path(), "the same key is listed twice for this identity");
        continue;
      }
      identity.api_keys.push_back(std::move(*key));
    }
    if (n) {
      identity.name = *n;
      cfg.identities.push_back(std::move(identity));
    }
  }
}

std::optional<ApiKey> ConfigLoader::load_api_key(YamlMap& m) {
  ApiKey key;
  key.line = m.mark().line + 1;
  bool ok = true;
  if (std::optional<ScalarValue> e = m.scalar("expires")) {
    Result<std::chrono::sys_days> day = parse_date(e->text);
    if (!day) {
      ctx_.error(e->mark, e->path, day.error().message);
      ok = false;
    } else {
      key.expires = *day;
    }
  }
  std::optional<ScalarValue> sha = m.scalar("sha256", Presence::kRequired);
  if (!sha) {
    return std::nullopt;
  }
  bool hex = sha->text.size() == 64;
  for (char c : sha->text) {
    hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'));
  }
  if (!hex) {
    // Not echoed: a key pasted here by mistake must not end up in a log.
    ctx_.error(sha->mark, sha->path,
               "expected 64 hex characters (the SHA-256 of the API key, not the key itself), "
               "got " +
                   std::to_string(sha->text.size()) + " characters");
    return std::nullopt;
  }
  key.sha256_hex = sha->text;
  for (char& c : key.sha256_hex) {
    if (c >= 'A' && c <= 'F') {
      c = char(c - 'A' + 'a');
    }
  }
  if (!ok) {
    return std::nullopt;
  }
  return key;
}

void ConfigLoader::load_connections(YamlMap& root, Config& cfg) {
  for (YamlMap& m : root.map_list("connections",
                                  {"name", "type", "address", "database", "credentials", "tls"})) {
    if (std::optional<Connection> c = load_connection(m)) {
      cfg.connections.push_back(std::move(*c));
    }
  }
}

std::optional<Connection> ConfigLoader::load_connection(YamlMap& m) {
  Connection c;
  bool ok = true;
  std::optional<std::string> n = name(m, "connection", connection_names_);
  ok = ok && n.has_value();
  if (std::optional<ScalarValue> t = m.scalar("type", Presence::kRequired)) {
    if (t->text == "postgres") {
      c.type = ConnectionType::kPostgres;
    } else {
      ctx_.error(t->mark, t->path, "expected one of postgres, got " + quote_for_message(t->text));
      ok = false;
    }
  } else {
    ok = false;
  }
  std::optional<HostPort> address = host_port(m.scalar("address", Presence::kRequired));
  ok = ok && address.has_value();
  if (std::optional<ScalarValue> db = m.scalar("database", Presence::kRequired)) {
    if (db->text.empty()) {
      ctx_.error(db->mark, db->path, "expected a database name, got \"\"");
      ok = false;
    }
    c.database = db->text;
  } else {
    ok = false;
  }
  if (std::optional<YamlMap> cred =
          m.map("credentials", {"username", "password"}, Presence::kRequired)) {
    if (std::optional<ScalarValue> u = cred->scalar("username", Presence::kRequired)) {
      if (u->text.empty()) {
        ctx_.error(u->mark, u->path, "expected a user name, got \"\"");
        ok = false;
      }
      c.credentials.username = u->text;
    } else {
      ok = false;
    }
    if (std::optional<ScalarValue> p = cred->scalar("password", Presence::kRequired)) {
      Result<SecretRefParts> parts = parse_secret_ref(p->text);
      if (!parts) {
        ctx_.error(p->mark, p->path, parts.error().message);  // never quotes the value
        ok = false;
      } else if (parts->scheme == SecretScheme::kFile) {
        c.credentials.password.ref = "file:" + ctx_.resolve_path(parts->body);
      } else {
        c.credentials.password.ref = p->text;
      }
    } else {
      ok = false;
    }
  } else {
    ok = false;
  }
  if (std::optional<YamlMap> tls = m.map("tls", {"mode", "ca"})) {
    if (std::optional<ScalarValue> mode = tls->scalar("mode", Presence::kRequired)) {
      if (mode->text == "disable") {
        c.tls.mode = UpstreamTlsMode::kDisable;
      } else if (mode->text == "require") {
        c.tls.mode = UpstreamTlsMode::kRequire;
      } else if (mode->text == "verify-full") {
        c.tls.mode = UpstreamTlsMode::kVerifyFull;
      } else {
        ctx_.error(
            mode->mark, mode->path,
            "expected one of disable, require, verify-full, got " + quote_for_message(mode->text));
        ok = false;
      }
    }
    if (std::optional<ScalarValue> ca = tls->scalar("ca")) {
      if (c.tls.mode != UpstreamTlsMode::kVerifyFull) {
        ctx_.error(ca->mark, ca->path, "is only used with mode: verify-full");
        ok = false;
      } else if (std::optional<std::string> path = readable_file(*ca)) {
        c.tls.ca = *path;
      } else {
        ok = false;
      }
    }
  }
  if (!ok) {
    return std::nullopt;
  }
  c.name = *n;
  c.address = *address;
  return c;
}

void ConfigLoader::load_policies(YamlMap& root, Config& cfg) {
  for (YamlMap& m :
       root.map_list("policies",
                     {"name", "identities", "connections", "default", "target_read_only",
                      "rules", "mask"})) {
    Policy p;
    load_policy_default(m, p);
    load_mask_rules(ctx_, m, p);
    std::optional<std::string> n = name(m, "policy", policy_names_);
    PolicyRefs refs;
    if (auto ids = m.scalar_list("identities", Presence::kRequired)) {
      if (ids->empty()) {
        ctx_.error(m.mark(), m.key_path("identities"), "expected at least one identity");
      }
      for (const ScalarValue& s : *ids) {
        p.identities.push_back(s.text);
      }
      refs.identities = std::move(*ids);
    }
    if (auto conns = m.scalar_list("connections", Presence::kRequired)) {
      if (conns->empty()) {
        ctx_.error(m.mark(), m.key_path("connections"),
                   "expected at least one connection (or \"*\")");
      }
      for (const ScalarValue& s : *conns) {
        p.connections.push_back(s.text);
      }
      refs.connections = std::move(*conns);
    }
    if (auto rules = m.sequence("rules")) {
      for (const SequenceElement& el : *rules) {
        if (std::optional<Rule> rule = load_rule(ctx_, el)) {
          p.rules.push_back(*rule);
        }
      }
    }
    policy_refs_.push_back(std::move(refs));
    if (n) {
      p.name = *n;
      cfg.policies.push_back(std::move(p));
    }
  }
}

// Checks against every *declared* name, including entries dropped for another error, so one
// mistake in a connection does not also show up as "unknown connection" in each policy.
void ConfigLoader::check_policy_references() {
  constexpr std::string_view kGroupPrefix = "group:";
  for (const PolicyRefs& refs : policy_refs_) {
    for (const ScalarValue& s : refs.identities) {
      std::string_view text = s.text;
      if (text.starts_with(kGroupPrefix)) {
        std::string group(text.substr(kGroupPrefix.size()));
        if (!groups_.contains(group)) {
          ctx_.error(s.mark, s.path,
                     "no identity is in group " + quote_for_message(group) +
                         " (expected an identity name or group:NAME of a declared group)");
        }
      } else if (!declared(identity_names_, text)) {
        ctx_.error(s.mark, s.path,
                   "unknown identity " + quote_for_message(text) +
                       " (expected an identity name or group:NAME)");
      }
    }
    for (const ScalarValue& s : refs.connections) {
      if (s.text != "*" && !declared(connection_names_, s.text)) {
        ctx_.error(s.mark, s.path,
                   "unknown connection " + quote_for_message(s.text) +
                       " (expected a connection name or \"*\")");
      }
    }
  }
}

std::optional<HostPort> ConfigLoader::host_port(const std::optional<ScalarValue>& s) {
  if (!s) {
    return std::nullopt;
  }
  Result<HostPort> hp = parse_host_port(s->text);
  if (!hp) {
    ctx_.error(s->mark, s->path, hp.error().message);
    return std::nullopt;
  }
  return *hp;
}

std::optional<std::chrono::seconds> ConfigLoader::whole_seconds(YamlMap& m, std::string_view key,
                                                                std::chrono::seconds minimum) {
  std::optional<ScalarValue> s = m.scalar(key);
  if (!s) {
    return std::nullopt;
  }
  Result<std::chrono::milliseconds> d = parse_duration(s->text);
  if (!d) {
    ctx_.error(s->mark, s->path, d.error().message);
    return std::nullopt;
  }
  if (d->count() % 1000 != 0) {
    ctx_.error(
        s->mark, s->path,
        "expected a whole number of seconds (e.g. 10s, 5m), got " + quote_for_message(s->text));
    return std::nullopt;
  }
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(*d);
  if (secs < minimum) {
    ctx_.error(s->mark, s->path,
               "expected at least " + std::to_string(minimum.count()) + "s, got " +
                   quote_for_message(s->text));
    return std::nullopt;
  }
  return secs;
}

std::optional<std::string> ConfigLoader::name(YamlMap& m, std::string_view what,
                                              std::vector<Declared>& registry) {
  std::optional<ScalarValue> s = m.scalar("name", Presence::kRequired);
  if (!s) {
    return std::nullopt;
  }
  if (!is_valid_name(s->text)) {
    ctx_.error(s->mark, s->path,
               "expected a " + std::string(what) +
                   " name matching [A-Za-z0-9][A-Za-z0-9._-]{0,62}, got " +
                   quote_for_message(s->text));
    return std::nullopt;
  }
  registry.push_back(Declared{s->text, s->mark});
  return s->text;
}

std::optional<std::string> ConfigLoader::readable_file(const ScalarValue& s) {
  if (s.text.empty()) {
    ctx_.error(s.mark, s.path, "expected a file path, got \"\"");
    return std::nullopt;
  }
  std::string path = ctx_.resolve_path(s.text);
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    ctx_.error(s.mark, s.path,
               "expected a readable file, got directory " + quote_for_message(path));
    return std::nullopt;
  }
  if (::access(path.c_str(), R_OK) != 0) {
    int err = errno;
    ctx_.error(s.mark, s.path,
               "expected a readable file, cannot read " + quote_for_message(path) + ": " +
                   std::strerror(err));
    return std::nullopt;
  }
  return path;
}

bool ConfigLoader::declared(const std::vector<Declared>& names, std::string_view name) {
  return std::any_of(names.begin(), names.end(), [&](const Declared& d) { return d.name == name; });
}

void ConfigLoader::check_unique(const std::vector<Declared>& names, std::string_view what) {
  std::map<std::string, const Declared*, std::less<>> first;
  for (const Declared& d : names) {
    auto [it, inserted] = first.emplace(d.name, &d);
    if (!inserted) {
      ctx_.error(d.mark, "",
                 "duplicate " + std::string(what) + " name " + quote_for_message(d.name) +
                     " (first declared at line " + std::to_string(it->second->mark.line + 1) + ")");
    }
  }
}

Result<Config> load_from_string(std::string_view yaml, std::string source_name,
                                std::filesystem::path base_dir) {
  LoadContext ctx(std::move(source_name), std::move(base_dir));
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsDefined() || root.IsNull()) {
      ctx.error(root.Mark(), "", "the configuration is empty; expected a mapping of settings");
      return Unexpected(ctx.to_error());
    }
    ConfigLoader loader(ctx);
    Config cfg = loader.load(root);
    if (ctx.has_errors()) {
      return Unexpected(ctx.to_error());
    }
    cfg.source_path = ctx.source_name();
    return cfg;
  } catch (const YAML::Exception& e) {
    // yaml-cpp messages describe the syntax problem without quoting document content.
    ctx.error(e.mark, "", "YAML syntax error: " + e.msg);
    return Unexpected(ctx.to_error());
  }
}

}  // namespace

Result<Config> load_config_from_string(std::string_view yaml, std::string source_name,
                                       std::string base_dir) {
  std::filesystem::path base =
      base_dir.empty() ? std::filesystem::path(".") : std::filesystem::path(base_dir);
  return load_from_string(yaml, std::move(source_name), std::move(base));
}

Result<Config> load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    return fail(ErrorCode::kConfig,
                path + ": cannot read configuration file: " + std::strerror(err));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return fail(ErrorCode::kConfig, path + ": error reading configuration file");
  }
  std::error_code ec;
  std::filesystem::path base = std::filesystem::absolute(path, ec).parent_path();
  if (ec) {
    base = std::filesystem::path(path).parent_path();
  }
  return load_from_string(text.str(), path, base);
}

}  // namespace custos::config
