#pragma once
// OidcVerifier: accepts a workload OIDC token (GitHub Actions, GitLab CI, Kubernetes...) as the
// password of an identity that has `oidc:` configured. Thread-safe.
//
// A token is accepted only when all of these hold:
//   - compact JWS, at most 16 KiB, strict base64url, JSON nested at most 16 deep;
//   - header alg RS256 or ES256 (none, HS*, PS*, ... refused) and a kid present in the
//     identity's JWKS on a key of the matching type (RSA for RS256, EC P-256 for ES256);
//   - a valid signature;
//   - iss equal to the configured issuer, aud (string or array) containing the audience;
//   - exp present and exp > now - skew; nbf (if any) <= now + skew; iat (if any) <= now + skew;
//   - with max_ttl: iat present and exp - iat <= max_ttl;
//   - every configured claim present in the token and equal to (or glob-matching, `*` = any
//     run of characters) its pattern;
//   - with replay: reject, a jti that has not been presented before (remembered until exp).
// Every refusal is ErrorCode::kAuth with a precise reason for the log and the recording; the
// client must only ever be told that authentication failed.
//
// JWKS sources: jwks_file (read on first use), jwks_url, or discovery (issuer +
// /.well-known/openid-configuration → jwks_uri). An unknown kid triggers a re-read, at most once
// per refresh interval (30 s) per source, failures included.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/result.h"
#include "identity/jwks.h"
#include "identity/principal.h"
#include "identity/replay_cache.h"

namespace custos::identity {

// GET url over verified HTTPS (ca_file empty: system trust store) → body.
using JwksFetcher =
    std::function<Result<std::string>(const std::string& url, const std::string& ca_file)>;

struct OidcVerifierOptions {
  std::chrono::seconds skew{60};
  std::chrono::seconds refresh_interval{30};
  JwksFetcher fetch;  // empty: https_get with a 1 MiB bound
};

// What a verified token says about its caller (safe to log).
struct VerifiedToken {
  std::string identity;
  std::vector<std::string> groups;
  std::string issuer;
  std::string subject;  // sub, may be empty
  std::string jti;      // may be empty unless replay: reject
  std::chrono::system_clock::time_point expires_at;
};

class OidcVerifier {
 public:
  explicit OidcVerifier(const config::Config& cfg, OidcVerifierOptions options = {});
  ~OidcVerifier();
  OidcVerifier(const OidcVerifier&) = delete;
  OidcVerifier& operator=(const OidcVerifier&) = delete;

  // True when the identity exists and has oidc configured.
  bool accepts(std::string_view identity) const;

  [[nodiscard]] Result<VerifiedToken> verify(std::string_view identity, std::string_view token,
                                             std::chrono::system_clock::time_point now);

  // verify() as a Principal{identity, groups, "oidc", key_id = "", token_jti, token_sub}.
  [[nodiscard]] Result<Principal> authenticate_token(std::string_view identity,
                                                     std::string_view token,
                                                     std::chrono::system_clock::time_point now);

  // Number of JWKS/discovery fetch attempts made so far (all sources).
  size_t fetch_count() const;

 private:
  struct KeySource;
  struct Entry {
    std::string name;
    std::vector<std::string> groups;
    config::OidcConfig cfg;
    std::shared_ptr<KeySource> source;
  };

  [[nodiscard]] Result<std::shared_ptr<const Jwks>> keys(KeySource& source,
                                                         std::chrono::system_clock::time_point now,
                                                         bool refresh);
  [[nodiscard]] Result<std::string> load_document(KeySource& source);
  [[nodiscard]] Result<void> check_claims(const Entry& entry, const nlohmann::json& payload,
                                          std::chrono::system_clock::time_point now,
                                          VerifiedToken& out);

  OidcVerifierOptions options_;
  std::vector<Entry> entries_;
  std::map<std::string, std::shared_ptr<KeySource>> sources_;
  ReplayCache replay_;
  mutable std::mutex count_mu_;
  size_t fetches_ = 0;
};

// `*` matches any run of characters (including none and '/'); everything else literally.
bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace custos::identity
