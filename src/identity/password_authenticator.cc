#include "identity/password_authenticator.h"

#include <algorithm>

#include "identity/credential_text.h"

namespace custos::identity {

Result<Principal> PasswordAuthenticator::authenticate(std::string_view identity,
                                                      std::string_view password,
                                                      std::chrono::system_clock::time_point now) {
  if (looks_like_exchange_token(password)) {
    return tokens_.authenticate(identity, password, now);
  }
  bool jws_shape =
      password.starts_with("eyJ") && std::count(password.begin(), password.end(), '.') == 2;
  if (jws_shape && oidc_.accepts(identity)) {
    return oidc_.authenticate_token(identity, password, now);
  }
  return keys_.authenticate(identity, password, now);
}

}  // namespace custos::identity
