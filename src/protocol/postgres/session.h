#pragma once
// PostgreSQL session: glues the codec to identity, policy, secrets, recording and sockets.
// Lifecycle: startup (TLS, StartupMessage, password) → upstream connect with the injected
// credential → relay with record-before-forward → close with a reason.
// All of a session's coroutines run on one io_context thread: no locks inside.

#include <asio.hpp>

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/bytes.h"
#include "core/close_reason.h"
#include "identity/principal.h"
#include "net/stream.h"
#include "protocol/postgres/cancel_registry.h"
#include "protocol/postgres/codec.h"
#include "record/session_recorder.h"
#include "server/services.h"

namespace custos::postgres {

class Session : public server::LiveSession, public std::enable_shared_from_this<Session> {
 public:
  static void start(server::Services& services, net::tcp::socket socket);

  Session(server::Services& services, net::tcp::socket socket);
  ~Session() override;

  void request_close(std::string_view reason) override;
  const std::string& session_id() const override { return id_; }
  const identity::Principal* principal() const { return principal_ ? &*principal_ : nullptr; }

 private:
  // A statement sent upstream whose result has not arrived yet, or a Sync boundary.
  struct Pending {
    enum class Kind { kStatement, kSyncMarker } kind;
    bool simple = false;
    std::chrono::steady_clock::time_point started;
  };

  asio::awaitable<void> run();
  // Startup: returns the StartupMessage, or nullopt when the connection ended (SSL/GSS
  // negotiation, cancel request, error).
  asio::awaitable<std::optional<StartupPacket>> read_startup();
  asio::awaitable<bool> authenticate_client(const StartupPacket& startup);
  asio::awaitable<bool> connect_upstream(const StartupPacket& startup);
  asio::awaitable<bool> upstream_login(const StartupPacket& startup);
  asio::awaitable<bool> finish_upstream_startup();
  asio::awaitable<void> handle_cancel(const StartupPacket& cancel);
  asio::awaitable<void> relay();
  asio::awaitable<void> pump_client_to_upstream();
  asio::awaitable<void> pump_upstream_to_client();
  asio::awaitable<void> idle_watch();

  // Reads until one typed message is complete in `buf`; nullopt on EOF/error (reason set).
  asio::awaitable<std::optional<Frame>> read_frame(net::Stream& stream, core::ReadBuffer& buf,
                                                   Direction dir);
  asio::awaitable<void> send_to_client(const core::Bytes& bytes);
  asio::awaitable<void> send_error(std::string_view severity, std::string_view sqlstate,
                                   std::string_view message, std::string_view hint = {});

  // Client → upstream message handlers; each appends what must be forwarded to out_up_.
  Result<void> on_client_frame(const Frame& f, bool& terminate);
  // Upstream → client observer (results, errors, ReadyForQuery); forwarding is done by the pump.
  void on_upstream_frame(const Frame& f);
  void record_auth_failure(std::string_view claimed_identity, std::string_view connection,
                           std::string_view reason);
  void set_close_reason(core::CloseReason r);
  void finish();

  server::Services& services_;
  std::string id_;
  net::Stream client_;
  std::optional<net::Stream> upstream_;
  std::string client_addr_;
  core::ReadBuffer client_in_;
  core::ReadBuffer upstream_in_;
  core::Bytes out_up_;
  core::Bytes out_client_;

  std::optional<identity::Principal> principal_;
  const config::Connection* connection_ = nullptr;
  std::string claimed_identity_;
  std::unique_ptr<record::SessionRecorder> recorder_;
  bool recorded_start_ = false;

  std::optional<ClientKey> client_key_;
  core::CloseReason close_reason_ = core::CloseReason::client_eof;
  bool close_reason_set_ = false;
  bool closing_ = false;
  bool counted_handshake_ = false;
  bool counted_active_ = false;
  bool closing_requested_ = false;
  bool upstream_sent_fatal_ = false;

  // Extended protocol bookkeeping: prepared statement name → SQL, portal → statement name.
  std::unordered_map<std::string, std::string> prepared_;
  std::unordered_map<std::string, std::string> portals_;
  std::deque<Pending> pending_;
  uint64_t statements_ = 0;
  uint64_t bytes_from_client_ = 0;
  uint64_t bytes_from_target_ = 0;
  // Streaming pass-through of a large DataRow / CopyData: bytes still to forward unparsed.
  size_t client_passthrough_ = 0;
  size_t upstream_passthrough_ = 0;
  std::chrono::steady_clock::time_point last_activity_;
  std::chrono::steady_clock::time_point started_;
  std::unique_ptr<asio::steady_timer> deadline_;
};

}  // namespace custos::postgres
