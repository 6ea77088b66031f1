#pragma once
// TokenService: POST /api/token's logic. A workload OIDC token, verified exactly as on the
// protocol listeners, is exchanged for a short opaque custos token ("cst_t_...", 49 chars) bound
// to the identity and to the workload token's jti/sub. Lifetime: at most tokens.max_ttl (15 min
// by default) and never beyond the workload token's own exp. Only the SHA-256 is stored.
// authenticate() accepts it as the password on every protocol. Thread-safe.

#include <chrono>
#include <map>
#include <string>
#include <string_view>

#include "config/config.h"
#include "core/result.h"
#include "core/secret.h"
#include "identity/oidc_verifier.h"
#include "identity/principal.h"
#include "store/key_store.h"

namespace custos::identity {

struct IssuedToken {
  core::SecretString token;  // show once to the caller, never log
  std::string token_id;      // safe to log
  std::string identity;
  std::chrono::system_clock::time_point expires_at;
  std::string token_jti;  // of the workload token
  std::string token_sub;
};

class TokenService {
 public:
  TokenService(const config::Config& cfg, OidcVerifier& verifier, store::KeyStore& store);

  // kAuth (with the precise reason) when the workload token is refused.
  [[nodiscard]] Result<IssuedToken> exchange(std::string_view identity,
                                             std::string_view workload_token,
                                             std::chrono::system_clock::time_point now);

  [[nodiscard]] Result<Principal> authenticate(std::string_view identity,
                                               std::string_view presented,
                                               std::chrono::system_clock::time_point now);

  // Revokes an issued token by id (KeyStore::revoke works too).
  [[nodiscard]] Result<void> revoke(const std::string& token_id,
                                    std::chrono::system_clock::time_point now);

 private:
  OidcVerifier& verifier_;
  store::KeyStore& store_;
  std::chrono::seconds max_ttl_;
  std::map<std::string, std::vector<std::string>, std::less<>> groups_;
};

}  // namespace custos::identity
