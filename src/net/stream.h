#pragma once
// Stream: a TCP connection that may be upgraded to TLS in place (PostgreSQL negotiates TLS
// inside the protocol, after an SSLRequest). Both directions of a session use it.

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ssl.hpp>

#include <memory>
#include <optional>
#include <string>

#include "core/result.h"

namespace custos::net {

using tcp = asio::ip::tcp;
constexpr auto use_nothrow = asio::experimental::as_tuple(asio::use_awaitable);

struct IoResult {
  std::error_code ec;
  size_t n = 0;
};

class Stream {
 public:
  explicit Stream(tcp::socket socket) : plain_(std::move(socket)) {}

  // Server side of a TLS handshake (caller already answered 'S' to an SSLRequest).
  asio::awaitable<Result<void>> accept_tls(asio::ssl::context& ctx);
  // Client side toward a target. `verify_host` empty = no hostname check.
  asio::awaitable<Result<void>> connect_tls(asio::ssl::context& ctx, const std::string& sni,
                                            const std::string& verify_host);

  asio::awaitable<IoResult> read_some(asio::mutable_buffer buf);
  asio::awaitable<IoResult> write_all(asio::const_buffer buf);
  // Gathered write. Over TLS the buffers are first joined into one (one record per buffer would
  // cost a syscall each); like any asio stream, one write at a time.
  asio::awaitable<IoResult> write_all(const std::vector<asio::const_buffer>& bufs);

  bool is_tls() const { return tls_.has_value(); }
  std::string tls_version() const;  // "TLSv1.3" or "none"
  // Client certificate presented in the handshake (nullptr when none). Not owned.
  X509* peer_certificate() const;
  // The OpenSSL handle of the TLS session (nullptr before TLS).
  SSL* ssl_handle() { return tls_ ? tls_->native_handle() : nullptr; }
  tcp::socket& socket() { return tls_ ? tls_->next_layer() : plain_; }
  std::string remote_address();
  void close();
  bool is_open() { return socket().is_open(); }

 private:
  tcp::socket plain_;
  std::optional<asio::ssl::stream<tcp::socket>> tls_;
  std::vector<uint8_t> joined_;  // TLS gathered writes, reused
};

}  // namespace custos::net
