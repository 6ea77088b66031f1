#include "identity/oidc_verifier.h"

#include <ctime>
#include <fstream>
#include <sstream>

#include "identity/https_fetch.h"
#include "identity/jwt.h"

namespace custos::identity {

using Clock = std::chrono::system_clock;

struct OidcVerifier::KeySource {
  enum class Kind { kFile, kUrl, kDiscovery };
  Kind kind = Kind::kFile;
  std::string location;  // path, JWKS URL or issuer
  std::string ca_file;

  std::mutex mu;  // guards the fields below
  std::shared_ptr<const Jwks> jwks;
  std::optional<Clock::time_point> last_attempt;
  std::string last_error;
  std::mutex fetch_mu;  // one fetch at a time per source
};

namespace {

// Untrusted text shown in a reason: printable ASCII only, at most 80 characters.
std::string shown(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 80)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  if (text.size() > 80) {
    out += "...";
  }
  return out;
}

std::string format_utc(int64_t epoch_seconds) {
  std::time_t t = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) {
    return std::to_string(epoch_seconds);
  }
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<std::string> claim_as_text(const nlohmann::json& v) {
  if (v.is_string()) {
    return v.get<std::string>();
  }
  if (v.is_boolean() || v.is_number_integer()) {
    return v.dump();
  }
  return std::nullopt;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
  size_t p = 0;
  size_t t = 0;
  size_t star = std::string_view::npos;
  size_t mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') {
    ++p;
  }
  return p == pattern.size();
}

OidcVerifier::OidcVerifier(const config::Config& cfg, OidcVerifierOptions options)
    : options_(std::move(options)) {
  if (!options_.fetch) {
    options_.fetch = [](const std::string& url, const std::string& ca_file) {
      return https_get(url, ca_file, kMaxJwksBytes);
    };
  }
  for (const config::Identity& identity : cfg.identities) {
    if (!identity.oidc) {
      continue;
    }
    const config::OidcConfig& o = *identity.oidc;
    KeySource::Kind kind = !o.jwks_file.empty()  ? KeySource::Kind::kFile
                           : !o.jwks_url.empty() ? KeySource::Kind::kUrl
                                                 : KeySource::Kind::kDiscovery;
    std::string location = kind == KeySource::Kind::kFile  ? o.jwks_file
                           : kind == KeySource::Kind::kUrl ? o.jwks_url
                                                           : o.issuer;
    std::string source_key = std::to_string(int(kind)) + "\n" + location + "\n" + o.ca_file;
    std::shared_ptr<KeySource>& source = sources_[source_key];
    if (!source) {
      source = std::make_shared<KeySource>();
      source->kind = kind;
      source->location = location;
      source->ca_file = o.ca_file;
    }
    entries_.push_back(Entry{identity.name, identity.groups, o, source});
  }
}

OidcVerifier::~OidcVerifier() = default;

bool OidcVerifier::accepts(std::string_view identity) const {
  for (const Entry& e : entries_) {
    if (e.name == identity) {
      return true;
    }
  }
  return false;
}

size_t OidcVerifier::fetch_count() const {
  std::lock_guard lock(count_mu_);
  return fetches_;
}

Result<std::string> OidcVerifier::load_document(KeySource& source) {
  {
    std::lock_guard lock(count_mu_);
    ++fetches_;
  }
  switch (source.kind) {
    case KeySource::Kind::kFile: {
      std::ifstream in(source.location, std::ios::binary);
      if (!in) {
        return fail(ErrorCode::kIo, "cannot read JWKS file " + source.location);
      }
      std::string text;
      text.resize(kMaxJwksBytes + 1);
      in.read(text.data(), std::streamsize(text.size()));
      text.resize(size_t(in.gcount()));
      return text;
    }
    case KeySource::Kind::kUrl:
      return options_.fetch(source.location, source.ca_file);
    case KeySource::Kind::kDiscovery: {
      std::string issuer = source.location;
      while (!issuer.empty() && issuer.back() == '/') {
        issuer.pop_back();
      }
      Result<std::string> doc =
          options_.fetch(issuer + "/.well-known/openid-configuration", source.ca_file);
      if (!doc) {
        return fail(doc.error().code, "discovery: " + doc.error().message);
      }
      std::optional<nlohmann::json> j = parse_json_object(*doc, kMaxJsonDepth);
      if (!j) {
        return fail(ErrorCode::kProtocol, "discovery document is not a JSON object");
      }
      auto uri = j->find("jwks_uri");
      if (uri == j->end() || !uri->is_string() ||
          !uri->get_ref<const std::string&>().starts_with("https://")) {
        return fail(ErrorCode::kProtocol, "discovery document has no https jwks_uri");
      }
      auto iss = j->find("issuer");
      if (iss != j->end() && (!iss->is_string() || iss->get<std::string>() != source.location)) {
        return fail(ErrorCode::kProtocol, "discovery document names another issuer");
      }
      return options_.fetch(uri->get<std::string>(), source.ca_file);
    }
  }
  return fail(ErrorCode::kInternal, "unknown JWKS source");
}

Result<std::shared_ptr<const Jwks>> OidcVerifier::keys(KeySource& source, Clock::time_point now,
                                                       bool refresh) {
  auto may_fetch = [&]() {
    return !source.last_attempt || now - *source.last_attempt >= options_.refresh_interval ||
           now < *source.last_attempt - options_.refresh_interval;  // clock stepped back
  };
  {
    std::lock_guard lock(source.mu);
    if (source.jwks && !refresh) {
      return source.jwks;
    }
    if (!may_fetch()) {
      if (source.jwks) {
        return source.jwks;
      }
      return fail(ErrorCode::kAuth, "JWKS unavailable: " + source.last_error);
    }
  }
  std::lock_guard fetch_lock(source.fetch_mu);
  {
    // Another thread may have fetched while this one waited.
    std::lock_guard lock(source.mu);
    if (!may_fetch()) {
      if (source.jwks) {
        return source.jwks;
      }
      return fail(ErrorCode::kAuth, "JWKS unavailable: " + source.last_error);
    }
    source.last_attempt = now;
  }
  Result<std::string> doc = load_document(source);
  Result<Jwks> parsed =
      doc ? parse_jwks(*doc) : Result<Jwks>(fail(doc.error().code, doc.error().message));
  std::lock_guard lock(source.mu);
  if (!parsed) {
    source.last_error = parsed.error().message;
    if (source.jwks) {
      return source.jwks;  // keep serving the last good set
    }
    return fail(ErrorCode::kAuth, "JWKS unavailable: " + source.last_error);
  }
  source.last_error.clear();
  source.jwks = std::make_shared<const Jwks>(std::move(*parsed));
  return source.jwks;
}

Result<void> OidcVerifier::check_claims(const Entry& entry, const nlohmann::json& payload,
                                        Clock::time_point now, VerifiedToken& out) {
  const config::OidcConfig& cfg = entry.cfg;
  auto iss = payload.find("iss");
  if (iss == payload.end() || !iss->is_string()) {
    return fail(ErrorCode::kAuth, "issuer missing");
  }
  if (iss->get_ref<const std::string&>() != cfg.issuer) {
    return fail(ErrorCode::kAuth, "issuer mismatch: expected " + cfg.issuer + ", got " +
                                      shown(iss->get_ref<const std::string&>()));
  }
  bool audience_ok = false;
  if (auto aud = payload.find("aud"); aud != payload.end()) {
    if (aud->is_string()) {
      audience_ok = aud->get_ref<const std::string&>() == cfg.audience;
    } else if (aud->is_array()) {
      for (const auto& a : *aud) {
        audience_ok =
            audience_ok || (a.is_string() && a.get_ref<const std::string&>() == cfg.audience);
      }
    }
  }
  if (!audience_ok) {
    return fail(ErrorCode::kAuth, "audience mismatch (expected " + cfg.audience + ")");
  }

  const int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const int64_t skew = options_.skew.count();
  std::optional<int64_t> exp = numeric_date(payload, "exp");
  if (!exp) {
    return fail(ErrorCode::kAuth, "exp missing or not a number");
  }
  if (*exp <= now_s - skew) {
    return fail(ErrorCode::kAuth, "token expired at " + format_utc(*exp));
  }
  if (payload.contains("nbf")) {
    std::optional<int64_t> nbf = numeric_date(payload, "nbf");
    if (!nbf) {
      return fail(ErrorCode::kAuth, "nbf not a number");
    }
    if (*nbf > now_s + skew) {
      return fail(ErrorCode::kAuth, "token not valid before " + format_utc(*nbf));
    }
  }
  std::optional<int64_t> iat = numeric_date(payload, "iat");
  if (payload.contains("iat") && !iat) {
    return fail(ErrorCode::kAuth, "iat not a number");
  }
  if (iat && *iat > now_s + skew) {
    return fail(ErrorCode::kAuth, "token issued in the future (" + format_utc(*iat) + ")");
  }
  if (cfg.max_ttl) {
    if (!iat) {
      return fail(ErrorCode::kAuth, "iat missing (required by max_ttl)");
    }
    if (*exp - *iat > cfg.max_ttl->count()) {
      return fail(ErrorCode::kAuth, "token lifetime " + std::to_string(*exp - *iat) +
                                        "s exceeds max_ttl " +
                                        std::to_string(cfg.max_ttl->count()) + "s");
    }
  }

  for (const config::OidcClaim& claim : cfg.claims) {
    auto it = payload.find(claim.name);
    if (it == payload.end()) {
      return fail(ErrorCode::kAuth, "claim " + claim.name + " missing");
    }
    std::optional<std::string> value = claim_as_text(*it);
    if (!value) {
      return fail(ErrorCode::kAuth, "claim " + claim.name + " is not a string");
    }
    if (!glob_match(claim.pattern, *value)) {
      return fail(ErrorCode::kAuth,
                  "claim " + claim.name + ": expected " + claim.pattern + ", got " + shown(*value));
    }
  }

  out.issuer = cfg.issuer;
  if (auto sub = payload.find("sub"); sub != payload.end() && sub->is_string()) {
    out.subject = sub->get<std::string>();
  }
  if (auto jti = payload.find("jti"); jti != payload.end() && jti->is_string()) {
    out.jti = jti->get<std::string>();
  }
  out.expires_at = Clock::time_point(std::chrono::seconds(*exp));

  if (cfg.replay == config::ReplayMode::kReject) {
    if (out.jti.empty()) {
      return fail(ErrorCode::kAuth, "jti missing (required by replay: reject)");
    }
    // Remembered until the token can no longer be accepted (exp + skew).
    Clock::time_point until = out.expires_at + options_.skew;
    switch (replay_.check_and_insert(entry.name + "\n" + out.jti, until, now)) {
      case ReplayCache::Outcome::kFirstUse:
        break;
      case ReplayCache::Outcome::kReplayed:
        return fail(ErrorCode::kAuth, "replayed jti " + shown(out.jti));
      case ReplayCache::Outcome::kFull:
        return fail(ErrorCode::kAuth, "replay cache full");
    }
  }
  return {};
}

Result<VerifiedToken> OidcVerifier::verify(std::string_view identity, std::string_view token,
                                           Clock::time_point now) {
  const Entry* entry = nullptr;
  for (const Entry& e : entries_) {
    if (e.name == identity) {
      entry = &e;
    }
  }
  if (entry == nullptr) {
    return fail(ErrorCode::kAuth, "identity has no oidc configured");
  }
  Result<Jwt> jwt = parse_jwt(token);
  if (!jwt) {
    return fail(ErrorCode::kAuth, jwt.error().message);
  }
  Result<JwsAlg> alg = parse_jws_alg(jwt->alg);
  if (!alg) {
    return fail(ErrorCode::kAuth, alg.error().message);
  }
  if (jwt->kid.empty()) {
    return fail(ErrorCode::kAuth, "token header has no kid");
  }
  Result<std::shared_ptr<const Jwks>> jwks = keys(*entry->source, now, false);
  if (!jwks) {
    return fail(ErrorCode::kAuth, jwks.error().message);
  }
  if (!(*jwks)->has_kid(jwt->kid)) {
    // The issuer may have rotated its keys: re-read (rate-limited) and look again.
    jwks = keys(*entry->source, now, true);
    if (!jwks) {
      return fail(ErrorCode::kAuth, jwks.error().message);
    }
    if (!(*jwks)->has_kid(jwt->kid)) {
      return fail(ErrorCode::kAuth, "unknown kid " + shown(jwt->kid));
    }
  }
  std::vector<const Jwk*> candidates = (*jwks)->find(jwt->kid, *alg);
  if (candidates.empty()) {
    return fail(ErrorCode::kAuth, "kid " + shown(jwt->kid) + " is not a " + jwt->alg +
                                      " key (alg/key type mismatch)");
  }
  bool signature_ok = false;
  for (const Jwk* key : candidates) {
    signature_ok = signature_ok || verify_jws_signature(*key, jwt->signing_input, jwt->signature);
  }
  if (!signature_ok) {
    return fail(ErrorCode::kAuth, "signature invalid");
  }
  VerifiedToken out;
  out.identity = entry->name;
  out.groups = entry->groups;
  if (Result<void> claims = check_claims(*entry, jwt->payload, now, out); !claims) {
    return fail(ErrorCode::kAuth, claims.error().message);
  }
  return out;
}

Result<Principal> OidcVerifier::authenticate_token(std::string_view identity,
                                                   std::string_view token, Clock::time_point now) {
  Result<VerifiedToken> v = verify(identity, token, now);
  if (!v) {
    return fail(v.error().code, v.error().message);
  }
  Principal p;
  p.identity = v->identity;
  p.groups = v->groups;
  p.auth_method = "oidc";
  p.token_jti = v->jti;
  p.token_sub = v->subject;
  return p;
}

}  // namespace custos::identity
