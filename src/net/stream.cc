#include "net/stream.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace custos::net {

asio::awaitable<Result<void>> Stream::accept_tls(asio::ssl::context& ctx) {
  tls_.emplace(std::move(plain_), ctx);
  auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::server, use_nothrow);
  if (ec) {
    co_return fail(ErrorCode::kProtocol, "TLS handshake failed: " + ec.message());
  }
  co_return Result<void>{};
}

asio::awaitable<Result<void>> Stream::connect_tls(asio::ssl::context& ctx, const std::string& sni,
                                                  const std::string& verify_host) {
  tls_.emplace(std::move(plain_), ctx);
  SSL* ssl = tls_->native_handle();
  if (!sni.empty()) {
    SSL_set_tlsext_host_name(ssl, sni.c_str());
  }
  if (!verify_host.empty()) {
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl, verify_host.c_str()) != 1) {
      co_return fail(ErrorCode::kInternal, "cannot set TLS host name check");
    }
  }
  auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::client, use_nothrow);
  if (ec) {
    long verify = SSL_get_verify_result(ssl);
    std::string why = ec.message();
    if (verify != X509_V_OK) {
      why += std::string(" (certificate: ") + X509_verify_cert_error_string(verify) + ")";
    }
    co_return fail(ErrorCode::kUnavailable, "TLS to target failed: " + why);
  }
  co_return Result<void>{};
}

asio::awaitable<IoResult> Stream::read_some(asio::mutable_buffer buf) {
  if (tls_) {
    auto [ec, n] = co_await tls_->async_read_some(buf, use_nothrow);
    co_return IoResult{ec, n};
  }
  auto [ec, n] = co_await plain_.async_read_some(buf, use_nothrow);
  co_return IoResult{ec, n};
}

asio::awaitable<IoResult> Stream::write_all(asio::const_buffer buf) {
  if (tls_) {
    auto [ec, n] = co_await asio::async_write(*tls_, buf, use_nothrow);
    co_return IoResult{ec, n};
  }
  auto [ec, n] = co_await asio::async_write(plain_, buf, use_nothrow);
  co_return IoResult{ec, n};
}

asio::awaitable<IoResult> Stream::write_all(const std::vector<asio::const_buffer>& bufs) {
  if (bufs.size() == 1) {
    co_return co_await write_all(bufs[0]);
  }
  if (tls_) {
    // One TLS record per buffer would cost a syscall each: coalesce first.
    joined_.clear();
    for (const auto& b : bufs) {
      auto p = static_cast<const uint8_t*>(b.data());
      joined_.insert(joined_.end(), p, p + b.size());
    }
    auto [ec, n] = co_await asio::async_write(*tls_, asio::buffer(joined_), use_nothrow);
    if (joined_.capacity() > (size_t{1} << 20)) {
      std::vector<uint8_t>().swap(joined_);  // a rare huge batch must not stay resident
    }
    co_return IoResult{ec, n};
  }
  auto [ec, n] = co_await asio::async_write(plain_, bufs, use_nothrow);
  co_return IoResult{ec, n};
}

std::string Stream::tls_version() const {
  if (!tls_) {
    return "none";
  }
  return SSL_get_version(const_cast<asio::ssl::stream<tcp::socket>&>(*tls_).native_handle());
}

X509* Stream::peer_certificate() const {
  if (!tls_) {
    return nullptr;
  }
  return SSL_get0_peer_certificate(
      const_cast<asio::ssl::stream<tcp::socket>&>(*tls_).native_handle());
}

std::string Stream::remote_address() {
  std::error_code ec;
  auto ep = socket().remote_endpoint(ec);
  if (ec) {
    return "unknown";
  }
  if (ep.address().is_v6()) {
    return "[" + ep.address().to_string() + "]:" + std::to_string(ep.port());
  }
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

void Stream::close() {
  std::error_code ec;
  socket().shutdown(tcp::socket::shutdown_both, ec);
  socket().close(ec);
}

}  // namespace custos::net
