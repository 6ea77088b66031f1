// The relay half of a PostgreSQL session: one coroutine per direction plus an idle watch.
// Client → target: every statement-bearing message (Query, Execute, FunctionCall) is written to
// the recording before its bytes are forwarded (fail closed). Target → client: bytes are
// forwarded as they arrive (large DataRow/CopyData stream through without being buffered
// whole), while results are observed for the recording.

#include <asio/experimental/awaitable_operators.hpp>
#include <spdlog/spdlog.h>

#include "core/metrics.h"
#include "protocol/postgres/message.h"
#include "protocol/postgres/session.h"

namespace custos::postgres {

using namespace asio::experimental::awaitable_operators;
using core::CloseReason;

namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kHeaderSize = 5;

// Reads the NUL-terminated string at `pos`, advancing it; nullopt if unterminated.
std::optional<std::string_view> read_cstr(core::ByteView payload, size_t& pos) {
  auto chars = core::as_chars(payload);
  auto end = chars.find('\0', pos);
  if (end == std::string_view::npos) {
    return std::nullopt;
  }
  auto s = chars.substr(pos, end - pos);
  pos = end + 1;
  return s;
}

bool streams_through(char type, Direction dir) {
  // Row and copy payloads can be arbitrarily large; they are never needed whole.
  return type == 'd' || (dir == Direction::kBackend && type == 'D');
}

}  // namespace

asio::awaitable<void> Session::relay() {
  co_await (pump_client_to_upstream() || pump_upstream_to_client() || idle_watch());
  // Tell the client why, if it is still there and the cause was not its own doing.
  switch (close_reason_) {
    case CloseReason::upstream_eof:
    case CloseReason::upstream_error:
      if (!upstream_sent_fatal_) {
        co_await send_error("FATAL", "08006",
                            fmt::format("custos: connection to target \"{}\" was lost",
                                        connection_->name));
      }
      break;
    case CloseReason::idle_timeout:
      co_await send_error("FATAL", "57P05",
                          "custos: terminating connection due to idle timeout");
      break;
    case CloseReason::protocol_error:
      co_await send_error("FATAL", "08P01", "custos: protocol violation; closing connection");
      break;
    case CloseReason::recording_failed:
      co_await send_error("FATAL", "58030",
                          "custos: statement refused: the session recording could not be "
                          "written");
      break;
    case CloseReason::shutdown:
      co_await send_error("FATAL", "57P01", "custos: gateway is shutting down");
      break;
    default:
      break;
  }
}

asio::awaitable<void> Session::idle_watch() {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto idle = services_.cfg.limits.idle_timeout;
  while (true) {
    timer.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await timer.async_wait(net::use_nothrow);
    if (ec) {
      co_return;
    }
    if (closing_requested_) {
      co_return;
    }
    // Results are buffered and written with the next statement; write them now if the
    // session has gone quiet, so a transcript is never more than a second behind.
    if (auto r = recorder_->flush(); !r) {
      spdlog::error("session={} recording flush failed: {}", id_, r.error().message);
    }
    if (idle.count() > 0 && std::chrono::steady_clock::now() - last_activity_ > idle) {
      spdlog::info("session={} idle for {}s; closing", id_, idle.count());
      set_close_reason(CloseReason::idle_timeout);
      co_return;
    }
  }
}

asio::awaitable<void> Session::pump_client_to_upstream() {
  const size_t max_message = services_.cfg.limits.max_message_bytes;
  while (true) {
    auto space = client_in_.prepare(kReadChunk);
    auto [rec, n] = co_await client_.read_some(asio::buffer(space.data(), space.size()));
    if (rec || n == 0) {
      set_close_reason(CloseReason::client_eof);
      co_return;
    }
    client_in_.commit(n);
    bytes_from_client_ += n;
    core::inc(core::metrics().bytes_from_client_total, int64_t(n));
    last_activity_ = std::chrono::steady_clock::now();

    out_up_.clear();
    bool terminate = false;
    while (!client_in_.empty()) {
      auto readable = client_in_.readable();
      if (client_passthrough_ > 0) {
        size_t take = std::min(client_passthrough_, readable.size());
        core::append(out_up_, readable.first(take));
        client_in_.consume(take);
        client_passthrough_ -= take;
        continue;
      }
      auto decoded = decode_frame(readable, Direction::kFrontend, max_message);
      if (!decoded) {
        core::inc(core::metrics().protocol_errors_total);
        spdlog::warn("session={} identity={} protocol error from client: {}", id_,
                     principal_->identity, decoded.error().message);
        set_close_reason(CloseReason::protocol_error);
        co_return;
      }
      if (!*decoded) {
        if (readable.size() >= kHeaderSize && streams_through(char(readable[0]), Direction::kFrontend)) {
          size_t wire = 1 + core::load_be32(readable.data() + 1);
          core::append(out_up_, readable);
          client_passthrough_ = wire - readable.size();
          client_in_.consume(readable.size());
        }
        break;
      }
      const Frame& frame = **decoded;
      if (auto handled = on_client_frame(frame, terminate); !handled) {
        core::inc(core::metrics().recording_failures_total);
        core::inc(core::metrics().statements_refused_total);
        spdlog::error("session={} identity={} recording failed, statement refused: {}", id_,
                      principal_->identity, handled.error().message);
        set_close_reason(handled.error().code == ErrorCode::kRecording
                             ? CloseReason::recording_failed
                             : CloseReason::protocol_error);
        co_return;
      }
      core::append(out_up_, readable.first(frame.wire_size));
      client_in_.consume(frame.wire_size);
    }
    if (client_in_.capacity() > 4 * kReadChunk && client_in_.size() < kReadChunk) {
      client_in_.shrink_to(kReadChunk);
    }
    if (!out_up_.empty()) {
      auto [wec, wn] = co_await upstream_->write_all(asio::buffer(out_up_));
      if (wec) {
        set_close_reason(CloseReason::upstream_error);
        co_return;
      }
    }
    if (terminate) {
      set_close_reason(CloseReason::client_eof);
      co_return;
    }
  }
}

Result<void> Session::on_client_frame(const Frame& f, bool& terminate) {
  const auto now = std::chrono::steady_clock::now();
  switch (f.type) {
    case 'Q': {
      auto q = parse_query(f.payload);
      if (!q) {
        return fail(ErrorCode::kProtocol, q.error().message);
      }
      if (auto r = recorder_->on_statement(record::StatementEvent{q->sql, record::StatementMode::kSimple, ""});
          !r) {
        return fail(ErrorCode::kRecording, r.error().message);
      }
      ++statements_;
      core::inc(core::metrics().statements_total);
      pending_.push_back(Pending{Pending::Kind::kStatement, true, now});
      pending_.push_back(Pending{Pending::Kind::kSyncMarker, false, now});
      return {};
    }
    case 'P': {
      size_t pos = 0;
      auto name = read_cstr(f.payload, pos);
      auto sql = name ? read_cstr(f.payload, pos) : std::nullopt;
      if (!sql) {
        return fail(ErrorCode::kProtocol, "malformed Parse");
      }
      prepared_[std::string(*name)] = std::string(*sql);
      return {};
    }
    case 'B': {
      size_t pos = 0;
      auto portal = read_cstr(f.payload, pos);
      auto stmt = portal ? read_cstr(f.payload, pos) : std::nullopt;
      if (!stmt) {
        return fail(ErrorCode::kProtocol, "malformed Bind");
      }
      portals_[std::string(*portal)] = std::string(*stmt);
      return {};
    }
    case 'E': {
      size_t pos = 0;
      auto portal = read_cstr(f.payload, pos);
      if (!portal) {
        return fail(ErrorCode::kProtocol, "malformed Execute");
      }
      std::string stmt_name;
      std::string_view text = "<unknown portal>";
      if (auto p = portals_.find(std::string(*portal)); p != portals_.end()) {
        stmt_name = p->second;
        if (auto s = prepared_.find(stmt_name); s != prepared_.end()) {
          text = s->second;
        }
      }
      if (auto r = recorder_->on_statement(
              record::StatementEvent{text, record::StatementMode::kExtended, stmt_name});
          !r) {
        return fail(ErrorCode::kRecording, r.error().message);
      }
      ++statements_;
      core::inc(core::metrics().statements_total);
      pending_.push_back(Pending{Pending::Kind::kStatement, false, now});
      return {};
    }
    case 'F': {
      uint32_t oid = f.payload.size() >= 4 ? core::load_be32(f.payload.data()) : 0;
      const std::string text = fmt::format("<function call oid={}>", oid);
      if (auto r = recorder_->on_statement(
              record::StatementEvent{text, record::StatementMode::kSimple, ""});
          !r) {
        return fail(ErrorCode::kRecording, r.error().message);
      }
      ++statements_;
      core::inc(core::metrics().statements_total);
      pending_.push_back(Pending{Pending::Kind::kStatement, true, now});
      pending_.push_back(Pending{Pending::Kind::kSyncMarker, false, now});
      return {};
    }
    case 'S':
      pending_.push_back(Pending{Pending::Kind::kSyncMarker, false, now});
      return {};
    case 'C': {
      if (f.payload.size() < 2) {
        return fail(ErrorCode::kProtocol, "malformed Close");
      }
      size_t pos = 1;
      auto name = read_cstr(f.payload, pos);
      if (!name) {
        return fail(ErrorCode::kProtocol, "malformed Close");
      }
      if (f.payload[0] == 'S') {
        prepared_.erase(std::string(*name));
      } else {
        portals_.erase(std::string(*name));
      }
      return {};
    }
    case 'X':
      terminate = true;
      return {};
    default:
      return {};
  }
}

asio::awaitable<void> Session::pump_upstream_to_client() {
  const size_t max_message = services_.cfg.limits.max_message_bytes;
  while (true) {
    auto space = upstream_in_.prepare(kReadChunk);
    auto [rec, n] = co_await upstream_->read_some(asio::buffer(space.data(), space.size()));
    if (rec || n == 0) {
      set_close_reason(CloseReason::upstream_eof);
      co_return;
    }
    upstream_in_.commit(n);
    bytes_from_target_ += n;
    core::inc(core::metrics().bytes_from_target_total, int64_t(n));
    last_activity_ = std::chrono::steady_clock::now();

    // Forward the prefix made of complete messages (and of streamed row/copy bytes) straight
    // from the read buffer: no copy.
    size_t forward = 0;
    auto readable = upstream_in_.readable();
    while (forward < readable.size()) {
      auto rest = readable.subspan(forward);
      if (upstream_passthrough_ > 0) {
        size_t take = std::min(upstream_passthrough_, rest.size());
        forward += take;
        upstream_passthrough_ -= take;
        continue;
      }
      auto decoded = decode_frame(rest, Direction::kBackend, max_message);
      if (!decoded) {
        core::inc(core::metrics().protocol_errors_total);
        spdlog::warn("session={} protocol error from target: {}", id_, decoded.error().message);
        set_close_reason(CloseReason::upstream_error);
        co_return;
      }
      if (!*decoded) {
        if (rest.size() >= kHeaderSize && streams_through(char(rest[0]), Direction::kBackend)) {
          size_t wire = 1 + core::load_be32(rest.data() + 1);
          upstream_passthrough_ = wire - rest.size();
          forward += rest.size();
        }
        break;
      }
      on_upstream_frame(**decoded);
      forward += (*decoded)->wire_size;
    }
    if (forward > 0) {
      auto [wec, wn] = co_await client_.write_all(asio::buffer(readable.data(), forward));
      if (wec) {
        set_close_reason(CloseReason::client_eof);
        co_return;
      }
      upstream_in_.consume(forward);
      last_activity_ = std::chrono::steady_clock::now();
    }
    if (upstream_in_.capacity() > 4 * kReadChunk && upstream_in_.size() < kReadChunk) {
      upstream_in_.shrink_to(kReadChunk);
    }
  }
}

void Session::on_upstream_frame(const Frame& f) {
  auto front_statement = [this]() -> Pending* {
    if (!pending_.empty() && pending_.front().kind == Pending::Kind::kStatement) {
      return &pending_.front();
    }
    return nullptr;
  };
  auto elapsed_us = [](const Pending& p) {
    return uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - p.started)
                        .count());
  };
  switch (f.type) {
    case 'C':
    case 'I':
    case 's':
    case 'V': {
      Pending* p = front_statement();
      if (!p) {
        return;
      }
      record::StatementResultEvent result;
      if (f.type == 'C') {
        auto tag = parse_command_complete(f.payload);
        result.tag = tag ? tag->tag : std::string_view();
        result.rows = tag ? int64_t(rows_from_tag(tag->tag).value_or(0)) : 0;
      } else {
        result.tag = f.type == 'I' ? "EMPTY" : f.type == 's' ? "SUSPENDED" : "FUNCTION";
      }
      result.duration_us = int64_t(elapsed_us(*p));
      recorder_->on_result(result);
      if (!p->simple) {
        pending_.pop_front();
      }
      return;
    }
    case 'E': {
      auto fields = parse_error_notice(f.payload);
      std::string_view severity = fields ? fields->severity() : std::string_view();
      if (severity == "FATAL" || severity == "PANIC") {
        upstream_sent_fatal_ = true;
      }
      Pending* p = front_statement();
      if (!p) {
        return;
      }
      record::StatementResultEvent result;
      result.tag = "ERROR";
      result.duration_us = int64_t(elapsed_us(*p));
      if (fields) {
        result.sqlstate = fields->sqlstate();
        result.message = fields->message();
      }
      recorder_->on_result(result);
      // After an error in the extended protocol the target skips to Sync: everything queued
      // before the next marker will get no result of its own.
      while (!pending_.empty() && pending_.front().kind == Pending::Kind::kStatement &&
             !pending_.front().simple) {
        pending_.pop_front();
      }
      return;
    }
    case 'Z':
      while (!pending_.empty()) {
        bool marker = pending_.front().kind == Pending::Kind::kSyncMarker;
        pending_.pop_front();
        if (marker) {
          break;
        }
      }
      return;
    default:
      return;
  }
}

}  // namespace custos::postgres
