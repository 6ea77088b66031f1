#pragma once
// POST /api/token on the admin listener: exchange a workload OIDC token for a short custos token.
//   request:  {"identity": "gha-release", "token": "<JWT>"}  (JSON, or the same two fields
//             as application/x-www-form-urlencoded)
//   200:      {"token": "cst_t_...", "expires_at": "2027-01-01T00:15:00Z", "identity": "...",
//              "token_id": "..."}
//   400:      malformed request (what is wrong is said: it contains no secret)
//   401:      {"error": "authentication failed"}; the precise reason is logged with the identity
//   503:      the token could not be stored

#include "identity/token_service.h"

namespace httplib {
class Server;
}

namespace custos::api {

void register_token_routes(httplib::Server& server, identity::TokenService& tokens);

}  // namespace custos::api
