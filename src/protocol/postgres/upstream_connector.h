#pragma once
// Connects to a PostgreSQL target and logs in with the injected credential: dial (with a
// deadline), TLS per the connection's mode, StartupMessage, then SCRAM-SHA-256 / md5 /
// cleartext / trust. Used by client sessions and by custos's own side connections (catalog
// lookups for masking, previews for approvals).

#include <asio.hpp>
#include <asio/ssl.hpp>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/bytes.h"
#include "net/stream.h"
#include "protocol/postgres/message.h"

namespace custos::postgres {

enum class LoginFailure {
  kUnreachable,  // dial / TLS failed
  kCredential,   // the secret reference could not be resolved
  kRefused,      // the target sent an ErrorResponse (kept in target_error, unchanged)
  kAuthFailed,   // the SASL/md5 exchange failed on our side (e.g. server signature wrong)
  kProtocol,     // the target spoke something unexpected
};

struct LoginError {
  LoginFailure kind;
  std::string detail;        // for logs; never contains a secret
  core::Bytes target_error;  // the target's ErrorResponse frame when kind == kRefused
};

struct UpstreamLogin {
  std::optional<net::Stream> stream;
  core::ReadBuffer buffered;  // bytes already read after AuthenticationOk
  std::optional<LoginError> error;
};

// The TLS context for dialing this connection's target (its tls.mode and tls.ca). Throws at
// start-up when the CA cannot be loaded.
std::unique_ptr<asio::ssl::context> make_upstream_tls(const config::Connection& conn);

// `params` are extra startup parameters (user and database come from the connection).
asio::awaitable<UpstreamLogin> connect_and_login(
    const config::Connection& conn, asio::ssl::context* tls,
    const std::vector<std::pair<std::string, std::string>>& params,
    std::chrono::milliseconds connect_timeout, size_t max_message);

// How much one socket read asks for (the relay reads twice as much under a mask).
inline constexpr size_t kReadChunk = 64 * 1024;

// Reads until one complete message from the `dir` side is in `buf`. Errors: kIo when the
// stream ended or failed, otherwise the codec's (malformed or oversized framing).
asio::awaitable<Result<struct Frame>> read_message(net::Stream& stream, core::ReadBuffer& buf,
                                                   Direction dir, size_t max_message);

}  // namespace custos::postgres
