#pragma once
// Stream: a TCP connection that may be upgraded to TLS in place (PostgreSQL negotiates TLS
// inside the protocol, after an SSLRequest). Both directions of a session use it.
//
// TLS runs OpenSSL directly over a memory-backed BIO: ciphertext is read from the socket into
// `rx` by one asio read and encrypted output collects in `tx` until it is sent. Compared with
// asio::ssl::stream this keeps one socket operation per read, sends without a trip through the
// scheduler when the socket has room, and copies nothing twice.
//
// Contract (as for any asio stream): at most one read_some and one write_all in flight at a time,
// both on the stream's executor. A read may produce TLS output (e.g. a KeyUpdate reply); it is
// sent with the next write, or at once when no write is in flight.

#include <openssl/ssl.h>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ssl/context.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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
  explicit Stream(tcp::socket socket);
  ~Stream();
  Stream(Stream&&) noexcept;
  Stream& operator=(Stream&&) noexcept;

  // Server side of a TLS handshake (caller already answered 'S' to an SSLRequest, or saw the
  // client start TLS at once). `already_read`: handshake bytes the caller read from the socket
  // before it knew they were TLS; they are fed to TLS first.
  asio::awaitable<Result<void>> accept_tls(asio::ssl::context& ctx,
                                           std::span<const uint8_t> already_read = {});
  // Client side toward a target. `verify_host` empty = no hostname check.
  asio::awaitable<Result<void>> connect_tls(asio::ssl::context& ctx, const std::string& sni,
                                            const std::string& verify_host);

  // Reads at least one byte (plaintext under TLS). A clean end of stream (FIN, or TLS
  // close_notify) is asio::error::eof; a TLS stream cut without close_notify is
  // asio::ssl::error::stream_truncated.
  asio::awaitable<IoResult> read_some(asio::mutable_buffer buf);
  asio::awaitable<IoResult> write_all(asio::const_buffer buf);
  // Gathered write: one syscall for all buffers when the socket has room (one TLS record per
  // call, not per buffer).
  asio::awaitable<IoResult> write_all(const std::vector<asio::const_buffer>& bufs);

  bool is_tls() const { return tls_ != nullptr; }
  // The application protocol agreed by ALPN in the handshake ("" when none).
  std::string_view alpn() const;
  std::string tls_version() const;  // "TLSv1.3" or "none"
  // Client certificate presented in the handshake (nullptr when none). Not owned.
  X509* peer_certificate() const;
  // The OpenSSL handle of the TLS session (nullptr before TLS).
  SSL* ssl_handle() const;
  tcp::socket& socket() { return socket_; }
  std::string remote_address();
  void close();
  bool is_open() { return socket_.is_open(); }

  struct Tls;  // OpenSSL state; heap-held so its address survives a move of the Stream

 private:
  asio::awaitable<Result<void>> handshake(asio::ssl::context& ctx, bool server,
                                          const std::string& sni, const std::string& verify_host,
                                          std::span<const uint8_t> already_read);
  // Reads ciphertext from the socket into the TLS receive buffer.
  asio::awaitable<IoResult> fill_rx();
  // Sends plaintext bytes on the socket: synchronously while the socket has room, then by an
  // asio write for the rest.
  asio::awaitable<IoResult> send_raw(const uint8_t* p, size_t n);
  // Sends all pending TLS output.
  asio::awaitable<std::error_code> flush_tls();
  // Best effort, never blocks: sends TLS output produced by a read when no write is in flight.
  void try_flush_tls();

  tcp::socket socket_;
  std::unique_ptr<Tls> tls_;
  std::vector<uint8_t> joined_;  // gathered writes over TLS, reused
};

}  // namespace custos::net
