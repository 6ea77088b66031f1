#pragma once
// PasswordAuthenticator: the one check a protocol session makes with (identity, password). The
// password's form picks the authenticator:
//   "cst_t_..."                      → TokenService (exchanged custos token)  auth_method "token"
//   a compact JWS ("eyJ...", 2 dots) → OidcVerifier, if the identity has oidc  auth_method "oidc"
//   anything else                    → StoredKeyAuthenticator (config, store)  auth_method
//   "api_key"
// Thread-safe if its parts are. Failures are kAuth with the precise reason (log it; tell the
// client only that authentication failed).

#include <chrono>
#include <string_view>

#include "core/result.h"
#include "identity/oidc_verifier.h"
#include "identity/principal.h"
#include "identity/stored_key_authenticator.h"
#include "identity/token_service.h"

namespace custos::identity {

class PasswordAuthenticator {
 public:
  PasswordAuthenticator(StoredKeyAuthenticator& keys, OidcVerifier& oidc, TokenService& tokens)
      : keys_(keys), oidc_(oidc), tokens_(tokens) {}

  [[nodiscard]] Result<Principal> authenticate(std::string_view identity, std::string_view password,
                                               std::chrono::system_clock::time_point now);

 private:
  StoredKeyAuthenticator& keys_;
  OidcVerifier& oidc_;
  TokenService& tokens_;
};

}  // namespace custos::identity
