#pragma once
// Principal: who a caller was authenticated as. Safe to log and record (no secrets).

#include <string>
#include <vector>

namespace custos::identity {

struct Principal {
  std::string identity;             // config identities[].name
  std::vector<std::string> groups;  // that identity's groups
  std::string auth_method;          // "api_key" | "oidc" | "token" | "mtls"
  std::string key_id;               // first 12 hex of the key's SHA-256: safe to log
  std::string token_jti;            // oidc / token: the workload token's jti (may be empty)
  std::string token_sub;            // oidc / token: the workload token's sub
  std::string cert_fingerprint;     // mtls: SHA-256 hex of the client certificate's DER
};

}  // namespace custos::identity
