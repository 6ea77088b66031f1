#include "net/stream.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <asio/ssl/error.hpp>

#include <algorithm>
#include <cstring>

namespace custos::net {
namespace {

// Ciphertext read per socket read: two full TLS records, so a bulk upload (COPY FROM STDIN)
// decrypts a record while the next is already buffered.
constexpr size_t kTlsReadBuffer = 34 * 1024;
// Plaintext handed to OpenSSL per write before its output is sent: bounds `tx` for large writes.
constexpr size_t kTlsWriteChunk = 64 * 1024;
// Output buffers that grew past this after a rare huge write are released.
constexpr size_t kKeepCapacity = size_t{1} << 20;

}  // namespace

struct Stream::Tls {
  SSL* ssl = nullptr;
  std::vector<uint8_t> rx;  // ciphertext from the socket; [rx_begin, rx_end) not yet decrypted
  size_t rx_begin = 0;
  size_t rx_end = 0;
  std::vector<uint8_t> tx;       // ciphertext from OpenSSL, not yet handed to the socket
  std::vector<uint8_t> sending;  // ciphertext of the write in flight
  bool writing = false;

  Tls() = default;
  Tls(const Tls&) = delete;
  Tls& operator=(const Tls&) = delete;
  ~Tls() { SSL_free(ssl); }  // frees the BIO too
};

namespace {

Stream::Tls* tls_of(BIO* b) { return static_cast<Stream::Tls*>(BIO_get_data(b)); }

int bio_read(BIO* b, char* out, size_t len, size_t* got) {
  BIO_clear_retry_flags(b);
  Stream::Tls* t = tls_of(b);
  size_t avail = t->rx_end - t->rx_begin;
  if (avail == 0) {
    BIO_set_retry_read(b);  // "would block": the stream reads the socket and calls OpenSSL again
    *got = 0;
    return 0;
  }
  size_t n = std::min(len, avail);
  std::memcpy(out, t->rx.data() + t->rx_begin, n);
  t->rx_begin += n;
  *got = n;
  return 1;
}

int bio_write(BIO* b, const char* in, size_t len, size_t* put) {
  BIO_clear_retry_flags(b);
  Stream::Tls* t = tls_of(b);
  t->tx.insert(t->tx.end(), in, in + len);
  *put = len;
  return 1;
}

long bio_ctrl(BIO*, int cmd, long, void*) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;  // output is sent by the stream, never by OpenSSL
}

int bio_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

BIO_METHOD* stream_bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "custos-stream");
    BIO_meth_set_read_ex(m, bio_read);
    BIO_meth_set_write_ex(m, bio_write);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    return m;
  }();
  return method;
}

// The OpenSSL error behind a failed call, as an asio error code (its message is OpenSSL's).
std::error_code ssl_error(int ssl_err) {
  unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e != 0) {
    return {static_cast<int>(e), asio::error::get_ssl_category()};
  }
  if (ssl_err == SSL_ERROR_ZERO_RETURN) {
    return asio::error::eof;
  }
  return asio::ssl::error::stream_truncated;
}

// The reason an SSL I/O call returned `r` <= 0. SSL_get_error() also reports errors that other
// code on this thread left in OpenSSL's queue, so the queue is not cleared before every call
// (that costs more than the call on the hot path): when the answer is an error, the call is
// retried once with a clean queue and that answer counts. Retrying is harmless: a call that
// failed for want of input consumed nothing, and a failed session keeps failing.
template <class Op>
int ssl_call(SSL* ssl, Op op, int* err) {
  int r = op();
  if (r == 1) {
    *err = SSL_ERROR_NONE;
    return r;
  }
  *err = SSL_get_error(ssl, r);
  if (*err == SSL_ERROR_SSL || *err == SSL_ERROR_SYSCALL) {
    ERR_clear_error();
    r = op();
    *err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, r);
  }
  return r;
}

bool would_block(const std::error_code& ec) {
  return ec == asio::error::would_block || ec == asio::error::try_again;
}

}  // namespace

Stream::Stream(tcp::socket socket) : socket_(std::move(socket)) {
  if (socket_.is_open()) {
    std::error_code ignored;
    socket_.non_blocking(true, ignored);  // writes are tried synchronously first
  }
}

Stream::~Stream() = default;
Stream::Stream(Stream&&) noexcept = default;
Stream& Stream::operator=(Stream&&) noexcept = default;

asio::awaitable<Result<void>> Stream::accept_tls(asio::ssl::context& ctx,
                                                 std::span<const uint8_t> already_read) {
  const std::string none;  // named: no temporaries inside a co_await (GCC 12)
  co_return co_await handshake(ctx, true, none, none, already_read);
}

asio::awaitable<Result<void>> Stream::connect_tls(asio::ssl::context& ctx, const std::string& sni,
                                                  const std::string& verify_host) {
  const std::span<const uint8_t> nothing;
  co_return co_await handshake(ctx, false, sni, verify_host, nothing);
}

std::string_view Stream::alpn() const {
  if (!tls_) {
    return {};
  }
  const unsigned char* p = nullptr;
  unsigned int n = 0;
  SSL_get0_alpn_selected(tls_->ssl, &p, &n);
  return p ? std::string_view(reinterpret_cast<const char*>(p), n) : std::string_view();
}

asio::awaitable<Result<void>> Stream::handshake(asio::ssl::context& ctx, bool server,
                                                const std::string& sni,
                                                const std::string& verify_host,
                                                std::span<const uint8_t> already_read) {
  auto t = std::make_unique<Tls>();
  t->ssl = SSL_new(ctx.native_handle());
  BIO* bio = t->ssl ? BIO_new(stream_bio_method()) : nullptr;
  if (bio == nullptr) {
    co_return fail(ErrorCode::kInternal, "cannot create a TLS session");
  }
  BIO_set_data(bio, t.get());
  SSL_set_bio(t->ssl, bio, bio);
  SSL_set_options(t->ssl, SSL_OP_NO_RENEGOTIATION);
  if (server) {
    SSL_set_accept_state(t->ssl);
  } else {
    SSL_set_connect_state(t->ssl);
    if (!sni.empty()) {
      SSL_set_tlsext_host_name(t->ssl, sni.c_str());
    }
    if (!verify_host.empty()) {
      SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (SSL_set1_host(t->ssl, verify_host.c_str()) != 1) {
        co_return fail(ErrorCode::kInternal, "cannot set TLS host name check");
      }
    }
  }
  t->rx.resize(std::max(kTlsReadBuffer, already_read.size()));
  std::copy(already_read.begin(), already_read.end(), t->rx.begin());
  t->rx_end = already_read.size();
  tls_ = std::move(t);
  Tls& tls = *tls_;

  for (;;) {
    ERR_clear_error();
    int r = SSL_do_handshake(tls.ssl);
    int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(tls.ssl, r);
    std::error_code ec = err == SSL_ERROR_NONE || err == SSL_ERROR_WANT_READ
                             ? std::error_code{}
                             : ssl_error(err);
    // Send what the step produced (the next flight, or an alert explaining a failure).
    std::error_code sent = co_await flush_tls();
    if (!ec && sent) {
      ec = sent;
    }
    if (!ec && err == SSL_ERROR_WANT_READ) {
      auto [rec, n] = co_await fill_rx();
      if (!rec) {
        continue;
      }
      ec = rec == asio::error::eof ? asio::ssl::error::stream_truncated : rec;
    }
    if (!ec) {
      co_return Result<void>{};
    }
    std::string why = ec.message();
    if (!server) {
      long verify = SSL_get_verify_result(tls.ssl);
      if (verify != X509_V_OK) {
        why += std::string(" (certificate: ") + X509_verify_cert_error_string(verify) + ")";
      }
      co_return fail(ErrorCode::kUnavailable, "TLS to target failed: " + why);
    }
    co_return fail(ErrorCode::kProtocol, "TLS handshake failed: " + why);
  }
}

asio::awaitable<IoResult> Stream::fill_rx() {
  Tls& t = *tls_;
  if (t.rx_begin == t.rx_end) {
    t.rx_begin = t.rx_end = 0;
  } else if (t.rx_end == t.rx.size()) {
    std::memmove(t.rx.data(), t.rx.data() + t.rx_begin, t.rx_end - t.rx_begin);
    t.rx_end -= t.rx_begin;
    t.rx_begin = 0;
  }
  auto [ec, n] = co_await socket_.async_read_some(
      asio::buffer(t.rx.data() + t.rx_end, t.rx.size() - t.rx_end), use_nothrow);
  if (!ec) {
    t.rx_end += n;
  }
  co_return IoResult{ec, n};
}

asio::awaitable<IoResult> Stream::read_some(asio::mutable_buffer buf) {
  if (!tls_) {
    auto [ec, n] = co_await socket_.async_read_some(buf, use_nothrow);
    co_return IoResult{ec, n};
  }
  if (buf.size() == 0) {
    co_return IoResult{};
  }
  Tls& t = *tls_;
  // Nothing buffered anywhere: wait for ciphertext rather than ask OpenSSL to find none.
  bool need_input = t.rx_begin == t.rx_end && SSL_has_pending(t.ssl) == 0;
  for (;;) {
    if (need_input) {
      auto [ec, n] = co_await fill_rx();
      if (ec) {
        co_return IoResult{ec == asio::error::eof ? asio::ssl::error::stream_truncated : ec, 0};
      }
    }
    size_t got = 0;
    int err = SSL_ERROR_NONE;
    ssl_call(
        t.ssl, [&] { return SSL_read_ex(t.ssl, buf.data(), buf.size(), &got); }, &err);
    if (!t.tx.empty()) {
      try_flush_tls();  // e.g. the reply to a KeyUpdate
    }
    if (err == SSL_ERROR_NONE) {
      co_return IoResult{{}, got};
    }
    if (err == SSL_ERROR_WANT_READ) {
      // OpenSSL took all of rx and holds at most part of a record: more must come first.
      need_input = true;
      continue;
    }
    if (err == SSL_ERROR_ZERO_RETURN) {
      co_return IoResult{asio::error::eof, 0};  // close_notify
    }
    co_return IoResult{ssl_error(err), 0};
  }
}

asio::awaitable<IoResult> Stream::send_raw(const uint8_t* p, size_t n) {
  size_t done = 0;
  while (done < n) {
    std::error_code ec;
    size_t w = socket_.write_some(asio::buffer(p + done, n - done), ec);  // non-blocking
    if (!ec) {
      done += w;
      continue;
    }
    if (ec == asio::error::interrupted) {
      continue;
    }
    if (!would_block(ec)) {
      co_return IoResult{ec, done};
    }
    auto [aec, an] =
        co_await asio::async_write(socket_, asio::buffer(p + done, n - done), use_nothrow);
    co_return IoResult{aec, done + an};
  }
  co_return IoResult{{}, done};
}

asio::awaitable<std::error_code> Stream::flush_tls() {
  Tls& t = *tls_;
  t.writing = true;
  std::error_code ec;
  while (!ec && !t.tx.empty()) {
    t.sending.swap(t.tx);  // a read may append to tx while this is in flight
    t.tx.clear();
    ec = (co_await send_raw(t.sending.data(), t.sending.size())).ec;
    t.sending.clear();
  }
  t.writing = false;
  if (t.sending.capacity() > kKeepCapacity) {
    std::vector<uint8_t>().swap(t.sending);
  }
  if (t.tx.capacity() > kKeepCapacity && t.tx.empty()) {
    std::vector<uint8_t>().swap(t.tx);
  }
  co_return ec;
}

void Stream::try_flush_tls() {
  Tls& t = *tls_;
  if (t.writing || t.tx.empty()) {
    return;  // the write in flight sends it when done
  }
  std::error_code ec;
  size_t w = socket_.write_some(asio::buffer(t.tx), ec);
  if (!ec) {
    t.tx.erase(t.tx.begin(), t.tx.begin() + static_cast<std::ptrdiff_t>(w));
  }
  // On "would block" the rest goes out with the next write; a broken socket shows on the next
  // read or write.
}

asio::awaitable<IoResult> Stream::write_all(asio::const_buffer buf) {
  auto p = static_cast<const uint8_t*>(buf.data());
  size_t n = buf.size();
  if (!tls_) {
    co_return co_await send_raw(p, n);
  }
  Tls& t = *tls_;
  size_t done = 0;
  while (done < n) {
    size_t chunk = std::min(n - done, kTlsWriteChunk);
    size_t put = 0;
    int err = SSL_ERROR_NONE;
    ssl_call(
        t.ssl, [&] { return SSL_write_ex(t.ssl, p + done, chunk, &put); }, &err);
    if (err != SSL_ERROR_NONE) {
      co_return IoResult{ssl_error(err), done};
    }
    done += put;
    if (std::error_code ec = co_await flush_tls(); ec) {
      co_return IoResult{ec, done};
    }
  }
  co_return IoResult{{}, done};
}

asio::awaitable<IoResult> Stream::write_all(const std::vector<asio::const_buffer>& bufs) {
  if (bufs.size() == 1) {
    co_return co_await write_all(bufs[0]);
  }
  size_t total = 0;
  for (const auto& b : bufs) {
    total += b.size();
  }
  size_t sent = 0;
  if (!tls_) {
    std::error_code ec;
    sent = socket_.write_some(bufs, ec);  // one sendmsg
    if (ec && !would_block(ec) && ec != asio::error::interrupted) {
      co_return IoResult{ec, 0};
    }
    if (ec) {
      sent = 0;
    }
    if (sent == total) {
      co_return IoResult{{}, total};
    }
  }
  // Join what is left: one TLS record instead of one per buffer, or one buffer to finish.
  joined_.clear();
  size_t skip = sent;
  for (const auto& b : bufs) {
    auto p = static_cast<const uint8_t*>(b.data());
    size_t len = b.size();
    size_t from = std::min(skip, len);
    skip -= from;
    joined_.insert(joined_.end(), p + from, p + len);
  }
  IoResult r = co_await write_all(asio::buffer(joined_));
  if (joined_.capacity() > kKeepCapacity) {
    std::vector<uint8_t>().swap(joined_);  // a rare huge batch must not stay resident
  }
  co_return IoResult{r.ec, sent + r.n};
}

std::string Stream::tls_version() const {
  return tls_ ? SSL_get_version(tls_->ssl) : "none";
}

X509* Stream::peer_certificate() const {
  return tls_ ? SSL_get0_peer_certificate(tls_->ssl) : nullptr;
}

SSL* Stream::ssl_handle() const { return tls_ ? tls_->ssl : nullptr; }

std::string Stream::remote_address() {
  std::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
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
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

}  // namespace custos::net
