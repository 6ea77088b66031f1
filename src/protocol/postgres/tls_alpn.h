#pragma once
// ALPN for PostgreSQL over TLS, as PostgreSQL 17+ does it: the name "postgresql" is agreed when a
// client offers it (libpq 17+ does, and requires it for sslnegotiation=direct); a client that
// offers only other protocols fails the handshake, so a TLS connection meant for another service
// is never taken for a database session.

#include <openssl/ssl.h>

namespace custos::postgres {

// Installs the ALPN selection on the client-facing TLS context.
void agree_postgres_alpn(SSL_CTX* ctx);

}  // namespace custos::postgres
