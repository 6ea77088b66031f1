#include "protocol/postgres/upstream_connector.h"

#include <fmt/format.h>

#include "net/dialer.h"
#include "protocol/postgres/codec.h"
#include "protocol/postgres/md5_password.h"
#include "protocol/postgres/message.h"
#include "protocol/postgres/scram_client.h"
#include "secrets/secret_resolver.h"

namespace custos::postgres {

std::unique_ptr<asio::ssl::context> make_upstream_tls(const config::Connection& conn) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1);
  if (conn.tls.mode == config::UpstreamTlsMode::kVerifyFull) {
    std::error_code ec;
    if (conn.tls.ca.empty()) {
      ctx->set_default_verify_paths(ec);
    } else {
      ctx->load_verify_file(conn.tls.ca, ec);
    }
    if (ec) {
      throw std::runtime_error("connection " + conn.name + ": cannot load tls.ca: " + ec.message());
    }
    ctx->set_verify_mode(asio::ssl::verify_peer);
  } else {
    ctx->set_verify_mode(asio::ssl::verify_none);
  }
  return ctx;
}


namespace {


UpstreamLogin failed(LoginFailure kind, std::string detail, core::Bytes target_error = {}) {
  UpstreamLogin out;
  out.error = LoginError{kind, std::move(detail), std::move(target_error)};
  return out;
}

}  // namespace

asio::awaitable<Result<Frame>> read_message(net::Stream& stream, core::ReadBuffer& buf,
                                            Direction dir, size_t max_message) {
  while (true) {
    auto decoded = decode_frame(buf.readable(), dir, max_message);
    if (!decoded) {
      co_return fail(decoded.error().code, decoded.error().message);
    }
    if (*decoded) {
      co_return **decoded;
    }
    auto space = buf.prepare(kReadChunk);
    auto [ec, n] = co_await stream.read_some(asio::buffer(space.data(), space.size()));
    if (ec || n == 0) {
      co_return fail(ErrorCode::kIo, ec ? ec.message() : "end of stream");
    }
    buf.commit(n);
  }
}

asio::awaitable<UpstreamLogin> connect_and_login(
    const config::Connection& conn, asio::ssl::context* tls,
    const std::vector<std::pair<std::string, std::string>>& extra_params,
    std::chrono::milliseconds connect_timeout, size_t max_message) {
  auto password = secrets::resolve(conn.credentials.password);
  if (!password) {
    co_return failed(LoginFailure::kCredential, password.error().message);
  }
  auto sock = co_await net::dial(conn.address.host, conn.address.port, connect_timeout);
  if (!sock) {
    co_return failed(LoginFailure::kUnreachable, sock.error().message);
  }
  UpstreamLogin out;
  out.stream.emplace(std::move(*sock));
  net::Stream& stream = *out.stream;

  if (conn.tls.mode != config::UpstreamTlsMode::kDisable) {
    core::Bytes req;
    encode_ssl_request(req);
    auto [ec, n] = co_await stream.write_all(asio::buffer(req));
    char answer = 0;
    if (!ec) {
      auto r = co_await stream.read_some(asio::buffer(&answer, 1));
      ec = r.ec;
    }
    if (ec || answer != 'S' || tls == nullptr) {
      co_return failed(LoginFailure::kUnreachable,
                       ec ? ec.message() : "target does not support TLS");
    }
    // Named, not a temporary inside the co_await: GCC 12 destroys such temporaries twice.
    const std::string verify_host =
        conn.tls.mode == config::UpstreamTlsMode::kVerifyFull ? conn.address.host : std::string();
    auto ok = co_await stream.connect_tls(*tls, conn.address.host, verify_host);
    if (!ok) {
      co_return failed(LoginFailure::kUnreachable, ok.error().message);
    }
  }

  std::vector<std::pair<std::string, std::string>> params;
  params.emplace_back("user", conn.credentials.username);
  params.emplace_back("database", conn.database);
  for (const auto& p : extra_params) {
    params.push_back(p);
  }
  core::Bytes msg;
  encode_startup(msg, params);
  if (auto [ec, n] = co_await stream.write_all(asio::buffer(msg)); ec) {
    co_return failed(LoginFailure::kUnreachable, ec.message());
  }

  std::optional<ScramClient> scram;
  core::ReadBuffer& buf = out.buffered;
  while (true) {
    auto frame = co_await read_message(stream, buf, Direction::kBackend, max_message);
    if (!frame) {
      co_return failed(LoginFailure::kProtocol, "target closed the connection during login");
    }
    if (frame->type == 'E') {
      core::Bytes raw(buf.readable().begin(), buf.readable().begin() + frame->wire_size);
      auto fields = parse_error_notice(frame->payload);
      std::string why = fields ? std::string(fields->message()) : "malformed error";
      co_return failed(LoginFailure::kRefused, why, std::move(raw));
    }
    if (frame->type == 'v') {  // NegotiateProtocolVersion: we speak 3.0; go on
      buf.consume(frame->wire_size);
      continue;
    }
    if (frame->type != 'R') {
      co_return failed(LoginFailure::kProtocol, "unexpected message from target during login");
    }
    auto auth = parse_authentication(frame->payload);
    if (!auth) {
      co_return failed(LoginFailure::kProtocol, "malformed authentication request from target");
    }
    core::Bytes reply;
    std::string auth_error;
    switch (auth->code) {
      case 0:  // AuthenticationOk
        if (scram && !scram->server_verified()) {
          co_return failed(LoginFailure::kAuthFailed,
                           "target skipped the SCRAM server signature");
        }
        buf.consume(frame->wire_size);
        co_return out;
      case 3:  // cleartext
        encode_password(reply, password->reveal());
        break;
      case 5: {  // md5
        if (auth->data.size() != 4) {
          auth_error = "malformed md5 salt";
          break;
        }
        std::array<uint8_t, 4> salt{auth->data[0], auth->data[1], auth->data[2], auth->data[3]};
        encode_password(reply, md5_password_response(conn.credentials.username, *password, salt));
        break;
      }
      case 10:  // SASL
        if (!mechanisms_include(auth->data, "SCRAM-SHA-256")) {
          auth_error = "target offers no supported SASL mechanism";
          break;
        }
        scram.emplace(*password);
        encode_sasl_initial(reply, "SCRAM-SHA-256", core::as_bytes(scram->client_first_message()));
        break;
      case 11: {  // SASLContinue
        if (!scram) {
          auth_error = "unexpected SASLContinue";
          break;
        }
        auto final_msg = scram->handle_server_first(core::as_chars(auth->data));
        if (!final_msg) {
          auth_error = final_msg.error().message;
          break;
        }
        encode_sasl_response(reply, core::as_bytes(*final_msg));
        break;
      }
      case 12:  // SASLFinal
        if (!scram) {
          auth_error = "unexpected SASLFinal";
          break;
        }
        if (auto ok = scram->verify_server_final(core::as_chars(auth->data)); !ok) {
          auth_error = ok.error().message;
        }
        break;
      default:
        auth_error = fmt::format("target requested unsupported authentication method {}",
                                 auth->code);
    }
    buf.consume(frame->wire_size);
    if (!auth_error.empty()) {
      co_return failed(LoginFailure::kAuthFailed, auth_error);
    }
    if (!reply.empty()) {
      if (auto [ec, n] = co_await stream.write_all(asio::buffer(reply)); ec) {
        co_return failed(LoginFailure::kUnreachable, ec.message());
      }
    }
  }
}

}  // namespace custos::postgres
