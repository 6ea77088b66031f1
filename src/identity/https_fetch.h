#pragma once
// https_get: a small HTTPS GET for JWKS and OpenID discovery documents. TLS is verified by
// OpenSSL (chain and host name) against `ca_file`, or the system trust store when it is empty.
// No redirects, 5 s connect/read timeouts, bodies over `max_bytes` refused.

#include <string>

#include "core/result.h"

namespace custos::identity {

[[nodiscard]] Result<std::string> https_get(const std::string& url, const std::string& ca_file,
                                            size_t max_bytes);

}  // namespace custos::identity
