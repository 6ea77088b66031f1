// net::Stream over real loopback sockets: TLS handshakes both ways, bulk transfers that span many
// TLS records and fill the socket buffers, full duplex, end of stream, certificate checks.

#include <gtest/gtest.h>

#include <asio.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/error.hpp>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "net/stream.h"
#include "support/identity_test_pki.h"

namespace custos::net {
namespace {

using testpki::Cert;
using testpki::PKey;

struct Pki {
  PKey ca_key = testpki::ec_key();
  Cert ca = testpki::make_cert(ca_key.get(), "stream test CA", nullptr, nullptr,
                               {{NID_basic_constraints, "critical,CA:TRUE"}});
  PKey server_key = testpki::ec_key();
  Cert server = testpki::make_cert(server_key.get(), "localhost", ca.get(), ca_key.get(),
                                   {{NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"}}, 2);
};

const Pki& pki() {
  static Pki p;
  return p;
}

std::unique_ptr<asio::ssl::context> server_ctx() {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX_use_certificate(ctx->native_handle(), pki().server.get());
  SSL_CTX_use_PrivateKey(ctx->native_handle(), pki().server_key.get());
  return ctx;
}

std::unique_ptr<asio::ssl::context> client_ctx(X509* trust) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx->native_handle()), trust);
  SSL_CTX_set_verify(ctx->native_handle(), SSL_VERIFY_PEER, nullptr);
  return ctx;
}

std::vector<uint8_t> random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) {
    b = static_cast<uint8_t>(rng());
  }
  return v;
}

// Reads until `n` bytes have arrived, `chunk` bytes at most per read (the default is not a
// record size: reads end inside records). Fewer bytes come back only after a failed read.
asio::awaitable<std::vector<uint8_t>> read_exactly(Stream& s, size_t n, size_t chunk = 7000) {
  std::vector<uint8_t> got;
  std::vector<uint8_t> buf(chunk);
  while (got.size() < n) {
    auto [ec, k] = co_await s.read_some(asio::buffer(buf));
    if (ec) {
      ADD_FAILURE() << "read failed after " << got.size() << " bytes: " << ec.message();
      break;
    }
    got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(k));
  }
  co_return got;
}

// A connected pair of Streams on one io_context (server side, client side).
class StreamPair : public ::testing::Test {
 protected:
  void SetUp() override {
    tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    tcp::socket client(io_);
    client.connect(acceptor.local_endpoint());
    tcp::socket server = acceptor.accept();
    // Small socket buffers so bulk writes really wait for the peer to read.
    server.set_option(asio::socket_base::send_buffer_size(16 * 1024));
    client.set_option(asio::socket_base::send_buffer_size(16 * 1024));
    server_.emplace(std::move(server));
    client_.emplace(std::move(client));
  }

  // Runs both coroutines to completion (or fails the test after a deadline instead of hanging).
  void run(asio::awaitable<void> a, asio::awaitable<void> b) {
    int done = 0;
    io_.restart();  // a previous run() left the context stopped
    asio::co_spawn(io_, std::move(a), [&](std::exception_ptr e) {
      ++done;
      if (e) std::rethrow_exception(e);
    });
    asio::co_spawn(io_, std::move(b), [&](std::exception_ptr e) {
      ++done;
      if (e) std::rethrow_exception(e);
    });
    io_.run_for(std::chrono::seconds(20));
    ASSERT_EQ(done, 2) << "timed out";
  }

  // Coroutines below take what they use as parameters: a lambda's captures die with the
  // temporary closure, before the coroutine runs.
  static asio::awaitable<void> accept(Stream& s, asio::ssl::context& ctx, bool* ok) {
    auto r = co_await s.accept_tls(ctx);
    *ok = bool(r);
  }
  static asio::awaitable<void> connect(Stream& s, asio::ssl::context& ctx, std::string host,
                                       bool* ok, std::string* message) {
    auto r = co_await s.connect_tls(ctx, host, host);
    *ok = bool(r);
    if (!r) *message = r.error().message;
  }

  void handshake() {
    bool server_ok = false, client_ok = false;
    std::string message;
    run(accept(*server_, *sctx_, &server_ok),
        connect(*client_, *cctx_, "localhost", &client_ok, &message));
    ASSERT_TRUE(server_ok);
    ASSERT_TRUE(client_ok) << message;
  }

  static asio::awaitable<void> write_pieces(Stream& s, const std::vector<uint8_t>& d,
                                            std::vector<size_t> lens) {
    size_t off = 0;
    for (size_t len : lens) {
      auto [ec, n] = co_await s.write_all(asio::buffer(d.data() + off, len));
      EXPECT_FALSE(ec) << ec.message();
      EXPECT_EQ(n, len);
      off += len;
    }
    EXPECT_EQ(off, d.size());
  }

  static asio::awaitable<void> write_gathered(Stream& s, std::vector<asio::const_buffer> bufs,
                                              size_t total) {
    auto [ec, n] = co_await s.write_all(bufs);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(n, total);
  }

  static asio::awaitable<void> expect_bytes(Stream& s, const std::vector<uint8_t>& want) {
    auto got = co_await read_exactly(s, want.size());
    size_t i = 0;
    while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
    EXPECT_EQ(i, want.size()) << "first difference at byte " << i << " of " << got.size();
  }

  static asio::awaitable<void> nothing() { co_return; }

  // The client sends its last bytes and closes (over TLS without a close_notify: a cut stream)
  // before the server looks: bytes and FIN arrive under one readiness edge, and the reactor
  // takes that edge here, before any read is queued. The server's first read then returns the
  // bytes (fewer than it asks for) and the second must still see the end of the stream; a
  // reader that took the short read for "drained" would wait for an edge that never comes (a
  // target's FATAL error followed by its close then hung the client's session).
  struct LastBytes {
    std::string bytes;
    std::error_code end;
    bool ended = false;
  };
  LastBytes send_close_then_read_twice(const std::string& last) {
    const std::vector<uint8_t> bytes(last.begin(), last.end());
    run(write_pieces(*client_, bytes, {bytes.size()}), nothing());
    client_->close();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    io_.restart();
    asio::steady_timer tick(io_, std::chrono::milliseconds(50));
    tick.async_wait([](std::error_code) {});
    io_.run();
    io_.restart();
    LastBytes got;
    auto read_two = [](Stream& s, LastBytes* got) -> asio::awaitable<void> {
      char buf[64];
      auto r = co_await s.read_some(asio::buffer(buf));
      got->bytes.assign(buf, r.n);
      auto end = co_await s.read_some(asio::buffer(buf));
      got->end = end.ec;
      got->ended = true;
    };
    asio::co_spawn(io_, read_two(*server_, &got), asio::detached);
    io_.run_for(std::chrono::seconds(5));
    return got;
  }

  asio::io_context io_;
  std::optional<Stream> server_;
  std::optional<Stream> client_;
  std::unique_ptr<asio::ssl::context> sctx_ = server_ctx();
  std::unique_ptr<asio::ssl::context> cctx_ = client_ctx(pki().ca.get());
};

TEST_F(StreamPair, TlsBulkTransferSpansRecordsAndFullSocketBuffers) {
  handshake();
  ASSERT_TRUE(server_->is_tls());
  EXPECT_EQ(server_->tls_version(), "TLSv1.3");
  const auto data = random_bytes(3 * 1024 * 1024 + 17, 1);
  // Uneven writes: smaller than a record, and far larger than the write chunk.
  std::vector<size_t> lens{1, 5000, 2 * 1024 * 1024};
  lens.push_back(data.size() - 1 - 5000 - 2 * 1024 * 1024);
  run(write_pieces(*client_, data, lens), expect_bytes(*server_, data));
}

TEST_F(StreamPair, TlsFullDuplexDoesNotDeadlock) {
  handshake();
  const auto up = random_bytes(2 * 1024 * 1024, 2);
  const auto down = random_bytes(2 * 1024 * 1024, 3);
  ASSERT_NE(up, down);
  std::vector<size_t> lens(20, 100000);
  lens.push_back(up.size() - 20 * 100000);
  // Both sides write while the other writes; reads run concurrently on the same streams.
  std::vector<asio::awaitable<void>> jobs;
  jobs.push_back(write_pieces(*client_, up, lens));
  jobs.push_back(write_pieces(*server_, down, lens));
  jobs.push_back(expect_bytes(*server_, up));
  jobs.push_back(expect_bytes(*client_, down));
  int finished = 0;
  io_.restart();
  for (auto& job : jobs) {
    asio::co_spawn(io_, std::move(job), [&](std::exception_ptr e) {
      ++finished;
      if (e) std::rethrow_exception(e);
    });
  }
  io_.run_for(std::chrono::seconds(20));
  EXPECT_EQ(finished, 4) << "a direction stalled";
}

TEST_F(StreamPair, TlsGatheredWriteArrivesInOrder) {
  handshake();
  std::string a("Z\0\0\0\5I", 6), b(40000, 'x'), c = "tail";
  std::string joined = a + b + c;
  std::vector<uint8_t> want(joined.begin(), joined.end());
  run(write_gathered(*server_, {asio::buffer(a), asio::buffer(b), asio::buffer(c)}, want.size()),
      expect_bytes(*client_, want));
}

TEST_F(StreamPair, TlsPeerCloseEndsReadsWithAnError) {
  handshake();
  const std::vector<uint8_t> bye{'b', 'y', 'e'};
  run(write_pieces(*client_, bye, {3}), expect_bytes(*server_, bye));
  client_->close();  // no close_notify: a cut stream
  std::error_code ec;
  size_t n = 99;
  auto read_one = [](Stream& s, std::error_code* ec, size_t* n) -> asio::awaitable<void> {
    char c;
    auto r = co_await s.read_some(asio::buffer(&c, 1));
    *ec = r.ec;
    *n = r.n;
  };
  run(read_one(*server_, &ec, &n), nothing());
  EXPECT_EQ(ec, asio::ssl::error::stream_truncated) << ec.message();
  EXPECT_EQ(n, 0u);
}

TEST_F(StreamPair, ClientRefusesCertificateForAnotherHost) {
  bool server_ok = true, client_ok = true;
  std::string message;
  run(accept(*server_, *sctx_, &server_ok),
      connect(*client_, *cctx_, "db.example", &client_ok, &message));
  EXPECT_FALSE(client_ok);
  EXPECT_FALSE(server_ok);
  EXPECT_NE(message.find("TLS to target failed"), std::string::npos) << message;
  EXPECT_NE(message.find("certificate"), std::string::npos) << message;
}

TEST_F(StreamPair, ClientRefusesUntrustedIssuer) {
  PKey other_key = testpki::ec_key();
  Cert other = testpki::make_cert(other_key.get(), "other CA", nullptr, nullptr,
                                  {{NID_basic_constraints, "critical,CA:TRUE"}});
  cctx_ = client_ctx(other.get());
  bool server_ok = true, client_ok = true;
  std::string message;
  run(accept(*server_, *sctx_, &server_ok),
      connect(*client_, *cctx_, "localhost", &client_ok, &message));
  EXPECT_FALSE(client_ok);
  EXPECT_FALSE(server_ok);  // the client's alert ends the server's handshake too
  EXPECT_NE(message.find("certificate"), std::string::npos) << message;
}

TEST_F(StreamPair, PlainGatheredWriteAndBulkRead) {
  const auto data = random_bytes(1024 * 1024, 4);
  run(write_gathered(*client_,
                     {asio::buffer(data.data(), 10), asio::buffer(data.data() + 10, data.size() - 10)},
                     data.size()),
      expect_bytes(*server_, data));
  EXPECT_FALSE(client_->is_tls());
  EXPECT_EQ(client_->tls_version(), "none");
}

// One side of `rounds` short exchanges: the opener sends "ping i" and waits for "pong i", the
// other side answers. Every read is short (fewer bytes than the read asks for) and the next one
// finds the socket empty, so each message must wake its reader through the reactor.
asio::awaitable<void> ping_pong(Stream& s, int rounds, bool opener, int* done) {
  for (int i = 0; i < rounds; ++i) {
    const std::string ping = "ping " + std::to_string(i);
    const std::string pong = "pong " + std::to_string(i);
    const std::string& mine = opener ? ping : pong;
    const std::string& theirs = opener ? pong : ping;
    if (opener) {
      auto [ec, n] = co_await s.write_all(asio::buffer(mine));
      EXPECT_FALSE(ec) << ec.message();
    }
    auto got = co_await read_exactly(s, theirs.size());
    EXPECT_EQ(std::string(got.begin(), got.end()), theirs);
    if (got.size() != theirs.size()) {
      co_return;  // the read failed (reported): later rounds would only repeat it
    }
    if (!opener) {
      auto [ec, n] = co_await s.write_all(asio::buffer(mine));
      EXPECT_FALSE(ec) << ec.message();
    }
    ++*done;
  }
}

TEST_F(StreamPair, TlsShortRoundTripsKeepWaking) {
  handshake();
  int opened = 0, answered = 0;
  run(ping_pong(*client_, 2000, true, &opened), ping_pong(*server_, 2000, false, &answered));
  EXPECT_EQ(opened, 2000);
  EXPECT_EQ(answered, 2000);
}

TEST_F(StreamPair, PlainShortRoundTripsKeepWaking) {
  int opened = 0, answered = 0;
  run(ping_pong(*client_, 2000, true, &opened), ping_pong(*server_, 2000, false, &answered));
  EXPECT_EQ(opened, 2000);
  EXPECT_EQ(answered, 2000);
}

// Bytes written by another thread race with the reader's bookkeeping between a short read and
// its next wait; none may be left unread.
TEST(StreamRace, BytesFromAnotherThreadAfterAShortReadAreRead) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket writer_socket(io);
  writer_socket.connect(acceptor.local_endpoint());
  writer_socket.set_option(tcp::no_delay(true));
  Stream reader(acceptor.accept());
  const auto data = random_bytes(20000, 5);
  std::thread writer([&] {
    std::mt19937 rng(6);
    size_t off = 0;
    while (off < data.size()) {
      size_t len = std::min<size_t>(1 + rng() % 40, data.size() - off);
      asio::write(writer_socket, asio::buffer(data.data() + off, len));
      off += len;
      if (rng() % 4 == 0) {
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200));
      }
    }
  });
  std::vector<uint8_t> got;
  // 7-byte reads are often filled: a full read must not be taken for a drained socket.
  auto read_all = [](Stream& s, std::vector<uint8_t>* out, size_t n) -> asio::awaitable<void> {
    *out = co_await read_exactly(s, n, 7);
  };
  asio::co_spawn(io, read_all(reader, &got, data.size()), asio::detached);
  io.run_for(std::chrono::seconds(20));
  writer.join();
  ASSERT_EQ(got.size(), data.size()) << "the reader stopped waking";
  EXPECT_EQ(got, data);
}

TEST_F(StreamPair, PlainCloseRightAfterTheLastBytesIsSeenAfterAShortRead) {
  LastBytes got = send_close_then_read_twice("bye");
  EXPECT_EQ(got.bytes, "bye");
  ASSERT_TRUE(got.ended) << "the end of the stream never woke the reader";
  EXPECT_EQ(got.end, asio::error::eof);
}

TEST_F(StreamPair, TlsCloseRightAfterTheLastBytesIsSeenAfterAShortRead) {
  handshake();
  LastBytes got = send_close_then_read_twice("bye");
  EXPECT_EQ(got.bytes, "bye");
  ASSERT_TRUE(got.ended) << "the end of the stream never woke the reader";
  EXPECT_EQ(got.end, asio::ssl::error::stream_truncated);
}

}  // namespace
}  // namespace custos::net
