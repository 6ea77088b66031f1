#include "protocol/postgres/tls_alpn.h"

#include <string>

#include "protocol/postgres/message.h"

namespace custos::postgres {
namespace {

int select_postgres_alpn(SSL*, const unsigned char** out, unsigned char* outlen,
                         const unsigned char* in, unsigned int inlen, void*) {
  // The server's list in wire form: one length byte, then the name.
  static const std::string offer = char(kPostgresAlpn.size()) + std::string(kPostgresAlpn);
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, reinterpret_cast<const unsigned char*>(offer.data()),
                            static_cast<unsigned int>(offer.size()), in,
                            inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

void agree_postgres_alpn(SSL_CTX* ctx) {
  SSL_CTX_set_alpn_select_cb(ctx, select_postgres_alpn, nullptr);
}

}  // namespace custos::postgres
