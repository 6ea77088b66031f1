// identities[].oidc, identities[].mtls, tls.client_ca and the top-level `tokens` section.

#include <unistd.h>

#include <algorithm>
#include <string>

#include "config/extension_loaders.h"
#include "config/value_parsers.h"

namespace custos::config {

void load_token_config(LoadContext& ctx, YamlMap& root, Config& cfg);

namespace {

// Claim names accepted under oidc.claims. YamlMap checks keys against a fixed list, which also
// catches typos ("repositry") that would otherwise refuse every token. Covers GitHub Actions,
// GitLab CI, Kubernetes service accounts and generic OIDC.
const std::vector<std::string_view> kKnownClaims = {
    // generic
    "sub", "azp", "client_id", "email", "email_verified", "act", "scope",
    // GitHub Actions
    "repository", "repository_id", "repository_owner", "repository_owner_id",
    "repository_visibility", "ref", "ref_type", "ref_protected", "environment",
    "environment_node_id", "workflow", "workflow_ref", "workflow_sha", "job_workflow_ref",
    "job_workflow_sha", "actor", "actor_id", "event_name", "head_ref", "base_ref", "sha", "run_id",
    "run_number", "run_attempt", "runner_environment", "enterprise", "enterprise_id",
    // GitLab CI
    "namespace_id", "namespace_path", "project_id", "project_path", "user_id", "user_login",
    "user_email", "pipeline_id", "pipeline_source", "job_id", "ref_path", "environment_protected",
    "deployment_tier", "ci_config_ref_uri", "ci_config_sha", "runner_id"};

bool readable(const std::string& path) { return ::access(path.c_str(), R_OK) == 0; }

std::optional<std::string> readable_file(LoadContext& ctx, const ScalarValue& s) {
  std::string path = ctx.resolve_path(s.text);
  if (!readable(path)) {
    ctx.error(s.mark, s.path, "cannot read file " + quote_for_message(path));
    return std::nullopt;
  }
  return path;
}

bool is_https_url(std::string_view url) {
  return url.starts_with("https://") && url.size() > 8 &&
         url.find_first_of(" \t\r\n") == std::string_view::npos;
}

std::optional<std::chrono::seconds> duration_seconds(LoadContext& ctx, const ScalarValue& s) {
  Result<std::chrono::milliseconds> d = parse_duration(s.text);
  if (!d) {
    ctx.error(s.mark, s.path, d.error().message);
    return std::nullopt;
  }
  if (*d < std::chrono::seconds(1)) {
    ctx.error(s.mark, s.path, "expected a duration of at least 1s");
    return std::nullopt;
  }
  return std::chrono::duration_cast<std::chrono::seconds>(*d);
}

void load_oidc(LoadContext& ctx, YamlMap& m, Identity& identity) {
  OidcConfig oidc;
  oidc.line = m.mark().line + 1;
  if (auto s = m.scalar("issuer", Presence::kRequired)) {
    if (!is_https_url(s->text)) {
      ctx.error(s->mark, s->path, "expected an https:// URL, got " + quote_for_message(s->text));
    }
    oidc.issuer = s->text;
  }
  if (auto s = m.scalar("audience", Presence::kRequired)) {
    if (s->text.empty()) {
      ctx.error(s->mark, s->path, "expected a non-empty audience");
    }
    oidc.audience = s->text;
  }
  int sources = 0;
  if (auto s = m.scalar("jwks_file")) {
    ++sources;
    oidc.jwks_file = readable_file(ctx, *s).value_or("");
  }
  if (auto s = m.scalar("jwks_url")) {
    ++sources;
    if (!is_https_url(s->text)) {
      ctx.error(s->mark, s->path, "expected an https:// URL, got " + quote_for_message(s->text));
    }
    oidc.jwks_url = s->text;
  }
  if (auto b = m.boolean("discover")) {
    oidc.discover = *b;
    if (*b) {
      ++sources;
    }
  }
  if (sources != 1) {
    ctx.error(m.mark(), m.path(),
              "expected exactly one of jwks_file, jwks_url or discover: true (where the "
              "issuer's signing keys come from)");
  }
  if (auto s = m.scalar("ca_file")) {
    oidc.ca_file = readable_file(ctx, *s).value_or("");
  }
  if (auto claims = m.map("claims", kKnownClaims)) {
    for (std::string_view name : kKnownClaims) {
      if (auto s = claims->scalar(name)) {
        if (s->text.empty()) {
          ctx.error(s->mark, s->path, "expected a value or glob pattern, got an empty string");
          continue;
        }
        oidc.claims.push_back(OidcClaim{std::string(name), s->text});
      }
    }
  }
  if (auto s = m.scalar("max_ttl")) {
    oidc.max_ttl = duration_seconds(ctx, *s);
  }
  if (auto s = m.scalar("replay")) {
    if (s->text == "reject") {
      oidc.replay = ReplayMode::kReject;
    } else if (s->text == "allow") {
      oidc.replay = ReplayMode::kAllow;
    } else {
      ctx.error(s->mark, s->path, "expected allow or reject, got " + quote_for_message(s->text));
    }
  }
  identity.oidc = std::move(oidc);
}

void load_mtls(LoadContext& ctx, YamlMap& m, Identity& identity) {
  MtlsConfig mtls;
  mtls.line = m.mark().line + 1;
  auto spiffe = m.scalar("spiffe_id");
  auto cn = m.scalar("subject_cn");
  if (spiffe.has_value() == cn.has_value()) {
    ctx.error(m.mark(), m.path(), "expected exactly one of spiffe_id or subject_cn");
  }
  if (spiffe) {
    // spiffe://trust-domain/path, no query or fragment (SPIFFE ID spec).
    std::string_view t = spiffe->text;
    bool ok = t.starts_with("spiffe://") && t.size() > 9 && t[9] != '/' &&
              t.find_first_of("?# \t") == std::string_view::npos;
    if (!ok) {
      ctx.error(spiffe->mark, spiffe->path,
                "expected spiffe://TRUST-DOMAIN/PATH, got " + quote_for_message(t));
    }
    mtls.spiffe_id = spiffe->text;
  }
  if (cn) {
    if (cn->text.empty()) {
      ctx.error(cn->mark, cn->path, "expected a non-empty common name");
    }
    mtls.subject_cn = cn->text;
  }
  identity.mtls = std::move(mtls);
}

}  // namespace

void load_identity_auth(LoadContext& ctx, YamlMap& identity_map, Identity& identity) {
  if (auto m = identity_map.map("oidc", {"issuer", "audience", "jwks_file", "jwks_url", "discover",
                                         "ca_file", "claims", "max_ttl", "replay"})) {
    load_oidc(ctx, *m, identity);
  }
  if (auto m = identity_map.map("mtls", {"spiffe_id", "subject_cn"})) {
    load_mtls(ctx, *m, identity);
  }
}

void load_client_ca(LoadContext& ctx, YamlMap& tls_map, TlsConfig& tls) {
  if (auto s = tls_map.scalar("client_ca")) {
    tls.client_ca = readable_file(ctx, *s).value_or("");
  }
}

// Top level: tokens { max_ttl }. To be declared in extension_loaders.h and called by the core
// loader at the root (next to load_approval_config).
void load_token_config(LoadContext& ctx, YamlMap& root, Config& cfg) {
  if (auto m = root.map("tokens", {"max_ttl"})) {
    if (auto s = m->scalar("max_ttl")) {
      if (auto d = duration_seconds(ctx, *s)) {
        if (*d > std::chrono::hours(1)) {
          ctx.error(s->mark, s->path, "expected at most 1h (custos tokens are short-lived)");
        } else {
          cfg.tokens.max_ttl = *d;
        }
      }
    }
  }
}

}  // namespace custos::config
