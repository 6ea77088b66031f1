#include "cli/keys_command.h"

#include <cstdio>
#include <ctime>
#include <map>
#include <set>

#include "config/config.h"
#include "config/value_parsers.h"
#include "identity/key_issuer.h"
#include "store/sqlite/sqlite_key_store.h"
#include "store/store.h"

namespace custos::cli {
namespace {

using Clock = std::chrono::system_clock;

std::string format_time(Clock::time_point t) {
  std::time_t tt = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

std::string format_opt(const std::optional<Clock::time_point>& t, const char* none = "-") {
  return t ? format_time(*t) : none;
}

std::string format_age(Clock::duration d) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (s < 0) {
    s = 0;
  }
  if (s >= 86400) {
    return std::to_string(s / 86400) + "d";
  }
  if (s >= 3600) {
    return std::to_string(s / 3600) + "h";
  }
  return std::to_string(s / 60) + "m";
}

std::optional<config::Config> load(const std::string& path) {
  Result<config::Config> cfg = config::load_config(path);
  if (!cfg) {
    std::fprintf(stderr, "%s\n", cfg.error().message.c_str());
    return std::nullopt;
  }
  return std::move(*cfg);
}

// Says why a command failed; its exit code.
int failed(const Error& e) {
  std::fprintf(stderr, "custos: %s\n", e.message.c_str());
  return 1;
}

std::unique_ptr<store::KeyStore> open_keys(const config::Config& cfg) {
  Result<std::unique_ptr<store::KeyStore>> ks = store::open_key_store(cfg.store_url());
  if (!ks) {
    failed(ks.error());
    return nullptr;
  }
  return std::move(*ks);
}

std::optional<std::chrono::seconds> parse_seconds(const std::string& text, const char* what) {
  Result<std::chrono::milliseconds> d = config::parse_duration(text);
  if (!d || d->count() < 0) {
    std::fprintf(stderr, "custos: --%s: %s\n", what,
                 d ? "expected a positive duration" : d.error().message.c_str());
    return std::nullopt;
  }
  return std::chrono::duration_cast<std::chrono::seconds>(*d);
}

void print_issued(const identity::IssuedKey& k, const char* verb) {
  std::fprintf(stderr,
               "%s key %s for identity %s (expires %s). It is shown once, below; store it now.\n",
               verb, k.row.key_id.c_str(), k.row.identity.c_str(),
               format_opt(k.row.expires_at, "never").c_str());
  std::string_view text = k.text.reveal();
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

}  // namespace

int cmd_keys_create(const std::string& config_path, const std::string& identity,
                    const std::string& ttl) {
  std::optional<config::Config> cfg = load(config_path);
  if (!cfg) {
    return 2;
  }
  if (cfg->find_identity(identity) == nullptr) {
    std::fprintf(stderr, "custos: no identity named %s in %s\n", identity.c_str(),
                 config_path.c_str());
    return 2;
  }
  std::optional<std::chrono::seconds> lifetime;
  if (!ttl.empty()) {
    lifetime = parse_seconds(ttl, "ttl");
    if (!lifetime || lifetime->count() == 0) {
      return 2;
    }
  }
  auto ks = open_keys(*cfg);
  if (!ks) {
    return 1;
  }
  identity::KeyIssuer issuer(*ks);
  Result<identity::IssuedKey> k = issuer.create(identity, lifetime, Clock::now());
  if (!k) {
    return failed(k.error());
  }
  print_issued(*k, "created");
  return 0;
}

int cmd_keys_list(const std::string& config_path, const std::string& identity_filter) {
  std::optional<config::Config> cfg = load(config_path);
  if (!cfg) {
    return 2;
  }
  auto ks = open_keys(*cfg);
  if (!ks) {
    return 1;
  }
  Result<std::vector<store::StoredKey>> keys = ks->list_keys(identity_filter);
  if (!keys) {
    return failed(keys.error());
  }
  const Clock::time_point now = Clock::now();
  std::printf("%-12s  %-20s  %-16s  %-16s  %-16s  %-8s  %s\n", "KEY ID", "IDENTITY", "CREATED",
              "EXPIRES", "LAST USED", "STATE", "NOTE");
  for (const store::StoredKey& k : *keys) {
    std::string note;
    if (!k.rotated_from.empty()) {
      note = "replaces " + k.rotated_from;
    }
    if (k.grace_until) {
      note +=
          (note.empty() ? "" : "; ") + std::string("grace until ") + format_time(*k.grace_until);
    }
    std::printf("%-12s  %-20s  %-16s  %-16s  %-16s  %-8s  %s\n", k.key_id.c_str(),
                k.identity.c_str(), format_time(k.created_at).c_str(),
                format_opt(k.expires_at, "never").c_str(),
                format_opt(k.last_used_at, "never").c_str(), k.state_at(now).c_str(), note.c_str());
  }
  return 0;
}

int cmd_keys_rotate(const std::string& config_path, const std::string& key_id,
                    const std::string& grace) {
  std::optional<config::Config> cfg = load(config_path);
  if (!cfg) {
    return 2;
  }
  std::optional<std::chrono::seconds> g = parse_seconds(grace.empty() ? "1h" : grace, "grace");
  if (!g) {
    return 2;
  }
  auto ks = open_keys(*cfg);
  if (!ks) {
    return 1;
  }
  identity::KeyIssuer issuer(*ks);
  const Clock::time_point now = Clock::now();
  Result<identity::IssuedKey> k = issuer.rotate(key_id, *g, now);
  if (!k) {
    return failed(k.error());
  }
  std::fprintf(stderr, "key %s stays valid until %s UTC\n", key_id.c_str(),
               format_time(now + *g).c_str());
  print_issued(*k, "rotated: new");
  return 0;
}

int cmd_keys_revoke(const std::string& config_path, const std::string& key_id) {
  std::optional<config::Config> cfg = load(config_path);
  if (!cfg) {
    return 2;
  }
  auto ks = open_keys(*cfg);
  if (!ks) {
    return 1;
  }
  Result<void> r = ks->revoke(key_id, Clock::now());
  if (!r) {
    return failed(r.error());
  }
  std::fprintf(stderr, "revoked %s; live sessions using it are closed by the gateway\n",
               key_id.c_str());
  return 0;
}

int cmd_identities_list(const std::string& config_path) {
  std::optional<config::Config> cfg = load(config_path);
  if (!cfg) {
    return 2;
  }
  auto ks = open_keys(*cfg);
  if (!ks) {
    return 1;
  }
  const Clock::time_point now = Clock::now();
  Result<std::vector<store::StoredKey>> keys = ks->list_keys("");
  Result<std::vector<store::IdentityActivity>> activity = ks->identity_activity(now);
  if (!keys || !activity) {
    return failed(!keys ? keys.error() : activity.error());
  }
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const config::Identity& id : cfg->identities) {
    if (seen.insert(id.name).second) {
      names.push_back(id.name);
    }
  }
  for (const store::StoredKey& k : *keys) {
    if (seen.insert(k.identity).second) {
      names.push_back(k.identity);
    }
  }
  for (const store::IdentityActivity& a : *activity) {
    if (seen.insert(a.identity).second) {
      names.push_back(a.identity);
    }
  }
  std::printf("%-20s  %-14s  %-44s  %-14s  %-16s  %-24s  %8s  %8s\n", "IDENTITY", "GROUPS",
              "AUTH METHODS", "KEY AGES", "LAST SEEN", "CONNECTIONS", "SESS 30D", "STMTS 30D");
  for (const std::string& name : names) {
    const config::Identity* id = cfg->find_identity(name);
    std::string groups;
    std::vector<std::string> methods;
    std::string ages;
    if (id != nullptr) {
      for (const std::string& g : id->groups) {
        groups += (groups.empty() ? "" : ",") + g;
      }
      if (!id->api_keys.empty()) {
        methods.push_back("api_key(config:" + std::to_string(id->api_keys.size()) + ")");
      }
      if (id->oidc) {
        methods.push_back("oidc");
      }
      if (id->mtls) {
        methods.push_back("mtls");
      }
    } else {
      groups = "(not in config)";
    }
    size_t live = 0;
    std::optional<Clock::time_point> oldest, newest;
    for (const store::StoredKey& k : *keys) {
      if (k.identity != name || !k.valid_at(now)) {
        continue;
      }
      ++live;
      oldest = oldest ? std::min(*oldest, k.created_at) : k.created_at;
      newest = newest ? std::max(*newest, k.created_at) : k.created_at;
    }
    if (live > 0) {
      methods.insert(methods.begin() + (id && !id->api_keys.empty() ? 1 : 0),
                     "api_key(store:" + std::to_string(live) + ")");
      ages = format_age(now - *oldest) + (live > 1 ? ".." + format_age(now - *newest) : "");
    }
    std::string method_text;
    for (const std::string& m : methods) {
      method_text += (method_text.empty() ? "" : " ") + m;
    }
    const store::IdentityActivity* act = nullptr;
    for (const store::IdentityActivity& a : *activity) {
      if (a.identity == name) {
        act = &a;
      }
    }
    std::string conns;
    if (act != nullptr) {
      for (const std::string& c : act->connections) {
        conns += (conns.empty() ? "" : ",") + c;
      }
    }
    std::printf("%-20s  %-14s  %-44s  %-14s  %-16s  %-24s  %8llu  %8llu\n", name.c_str(),
                groups.c_str(), method_text.empty() ? "(none)" : method_text.c_str(),
                ages.empty() ? "-" : ages.c_str(),
                act ? format_opt(act->last_seen, "never").c_str() : "never",
                conns.empty() ? "-" : conns.c_str(),
                static_cast<unsigned long long>(act ? act->sessions_30d : 0),
                static_cast<unsigned long long>(act ? act->statements_30d : 0));
  }
  return 0;
}

}  // namespace custos::cli
