// Top-level approval settings: approvers[], webhooks[], admin_url; and the cross-check that every
// hold rule can actually be approved by the configured approvers.
//
//   admin_url: https://custos.example.com      # links in notices and webhooks
//   approvers:
//     - { name: alice, groups: [dba], token_sha256: "<64 hex>" }
//   webhooks:
//     - { url: https://hooks.example.com/x, secret: env:HOOK_SECRET, events: [created] }

#include <algorithm>
#include <set>

#include "config/extension_loaders.h"
#include "config/value_parsers.h"

namespace custos::config {
namespace {

constexpr std::string_view kWebhookEvents[] = {"created", "approved", "denied", "expired",
                                               "withdrawn"};

bool is_lower_hex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'F') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return s;
}

void load_approvers(LoadContext& ctx, YamlMap& root, Config& cfg) {
  std::set<std::string> names;
  for (YamlMap& m : root.map_list("approvers", {"name", "groups", "token_sha256"})) {
    Approver a;
    a.line = m.mark().line + 1;
    bool ok = true;
    if (auto n = m.scalar("name", Presence::kRequired)) {
      if (!is_valid_name(n->text)) {
        ctx.error(n->mark, n->path, "expected a name ([A-Za-z0-9][A-Za-z0-9._-]*), got " +
                                        quote_for_message(n->text));
        ok = false;
      } else if (!names.insert(n->text).second) {
        ctx.error(n->mark, n->path, "duplicate approver " + quote_for_message(n->text));
        ok = false;
      }
      a.name = n->text;
    } else {
      ok = false;
    }
    if (auto groups = m.scalar_list("groups")) {
      for (const ScalarValue& g : *groups) {
        if (!is_valid_name(g.text)) {
          ctx.error(g.mark, g.path, "expected a group name, got " + quote_for_message(g.text));
          ok = false;
          continue;
        }
        a.groups.push_back(g.text);
      }
    }
    if (auto t = m.scalar("token_sha256", Presence::kRequired)) {
      std::string hex = lower(t->text);
      if (!is_lower_hex64(hex)) {
        // Do not quote the value: somebody may have pasted the token itself here.
        ctx.error(t->mark, t->path,
                  "expected the SHA-256 of the approver token as 64 hex characters "
                  "(e.g. printf %s \"$TOKEN\" | sha256sum)");
        ok = false;
      }
      a.token_sha256 = hex;
    } else {
      ok = false;
    }
    if (ok) {
      cfg.approvers.push_back(std::move(a));
    }
  }
}

void load_webhooks(LoadContext& ctx, YamlMap& root, Config& cfg) {
  for (YamlMap& m : root.map_list("webhooks", {"url", "secret", "events"})) {
    Webhook w;
    bool ok = true;
    if (auto u = m.scalar("url", Presence::kRequired)) {
      if (!(u->text.starts_with("http://") || u->text.starts_with("https://")) ||
          u->text.find_first_of(" \t\r\n") != std::string::npos) {
        ctx.error(u->mark, u->path,
                  "expected an http:// or https:// URL, got " + quote_for_message(u->text));
        ok = false;
      }
      w.url = u->text;
    } else {
      ok = false;
    }
    if (auto s = m.scalar("secret", Presence::kRequired)) {
      Result<SecretRefParts> parts = parse_secret_ref(s->text);
      if (!parts) {
        ctx.error(s->mark, s->path, parts.error().message);
        ok = false;
      }
      w.secret.ref = s->text;
    } else {
      ok = false;
    }
    if (auto events = m.scalar_list("events")) {
      for (const ScalarValue& e : *events) {
        if (std::find(std::begin(kWebhookEvents), std::end(kWebhookEvents), e.text) ==
            std::end(kWebhookEvents)) {
          ctx.error(e.mark, e.path,
                    "unknown event " + quote_for_message(e.text) +
                        "; expected created, approved, denied, expired or withdrawn");
          ok = false;
          continue;
        }
        w.events.push_back(e.text);
      }
    }
    if (ok) {
      cfg.webhooks.push_back(std::move(w));
    }
  }
}

}  // namespace

void load_approval_config(LoadContext& ctx, YamlMap& root, Config& cfg) {
  load_approvers(ctx, root, cfg);
  load_webhooks(ctx, root, cfg);
  if (auto u = root.scalar("admin_url")) {
    std::string url = u->text;
    while (url.ends_with('/')) {
      url.pop_back();
    }
    if (!(url.starts_with("http://") || url.starts_with("https://")) ||
        url.find_first_of(" \t\r\n\"'<>") != std::string::npos) {
      ctx.error(u->mark, u->path,
                "expected the admin listener's public base URL like https://custos.example.com, "
                "got " + quote_for_message(u->text));
    }
    cfg.admin_url = url;
  }
}

void check_extension_references(LoadContext& ctx, const Config& cfg) {
  // A hold rule nobody can approve would hold every matching statement until it times out.
  for (const Policy& p : cfg.policies) {
    for (const Rule& r : p.rules) {
      if (r.action != RuleAction::kHold) {
        continue;
      }
      std::set<std::string> eligible;
      for (const std::string& entry : r.approvers) {
        bool found = false;
        for (const Approver& a : cfg.approvers) {
          bool match = entry.starts_with("group:")
                           ? std::find(a.groups.begin(), a.groups.end(), entry.substr(6)) !=
                                 a.groups.end()
                           : a.name == entry;
          if (match) {
            found = true;
            eligible.insert(a.name);
          }
        }
        if (!found) {
          YAML::Mark mark;
          mark.line = r.line - 1;
          ctx.error(mark, "",
                    "policy " + quote_for_message(p.name) + ": hold rule approver " +
                        quote_for_message(entry) +
                        (entry.starts_with("group:") ? " is a group no approver belongs to"
                                                     : " is not in approvers[]"));
        }
      }
      if (!eligible.empty() && static_cast<int>(eligible.size()) < r.min_approvals) {
        YAML::Mark mark;
        mark.line = r.line - 1;
        ctx.error(mark, "",
                  "policy " + quote_for_message(p.name) + ": hold rule needs min_approvals " +
                      std::to_string(r.min_approvals) + " but only " +
                      std::to_string(eligible.size()) + " approver(s) may approve it");
      }
    }
  }
}

}  // namespace custos::config
