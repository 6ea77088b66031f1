// The relay half of a PostgreSQL session: one coroutine per direction plus an idle watch.
// Client → target: every statement-bearing message (Query, Execute, FunctionCall) is written to
// the recording before its bytes are forwarded (fail closed). Target → client: bytes are
// forwarded as they arrive (large DataRow/CopyData stream through without being buffered
// whole), while results are observed for the recording.

#include <spdlog/spdlog.h>

#include "core/metrics.h"
#include "protocol/postgres/message.h"
#include "protocol/postgres/session.h"
#include "protocol/postgres/upstream_connector.h"

namespace custos::postgres {

using core::CloseReason;

namespace {

constexpr size_t kHeaderSize = 5;

// Reads the NUL-terminated string at `pos`, advancing it; nullopt if unterminated. Used for
// Bind, where only the portal and statement names are needed: parse_bind would materialise
// every parameter on each execution of a prepared statement.
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

// Microseconds since a statement was sent, for its recorded result.
uint64_t elapsed_us(std::chrono::steady_clock::time_point started) {
  return uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count());
}

}  // namespace

asio::awaitable<void> Session::relay() {
  // The two pumps and the idle watch run as separate coroutines on this session's thread (no
  // per-operation cancellation plumbing on the hot path); the first to finish cancels the
  // others' I/O, and this frame waits for all three before telling the client why.
  auto ex = co_await asio::this_coro::executor;
  auto self = shared_from_this();
  relay_done_ =
      std::make_unique<asio::steady_timer>(ex, std::chrono::steady_clock::time_point::max());
  idle_timer_ = std::make_unique<asio::steady_timer>(ex);
  relay_running_ = 3;
  in_relay_ = true;
  auto on_exit = [self](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("session={} relay failed: {}", self->id_, ex.what());
      }
      self->set_close_reason(CloseReason::protocol_error);
    }
    self->pump_finished();
  };
  asio::co_spawn(ex, pump_client_to_upstream(), on_exit);
  asio::co_spawn(ex, pump_upstream_to_client(), on_exit);
  asio::co_spawn(ex, idle_watch(), on_exit);
  co_await relay_done_->async_wait(net::use_nothrow);
  in_relay_ = false;
  // Tell the client why, if it is still there and the cause was not its own doing.
  switch (close_reason_) {
    case CloseReason::upstream_eof:
    case CloseReason::upstream_error:
      if (!upstream_sent_fatal_) {
        co_await send_error(
            "FATAL", "08006",
            fmt::format("custos: connection to target \"{}\" was lost", connection_->name));
      }
      break;
    case CloseReason::idle_timeout:
      co_await send_error("FATAL", "57P05", "custos: terminating connection due to idle timeout");
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
    case CloseReason::policy_denied:
      if (!unreadable_setting_.empty()) {
        std::string message = fmt::format(
            "custos: the session now runs with {}, in which custos cannot check statements; "
            "closing connection",
            unreadable_setting_);
        co_await send_error("FATAL", "0A000", message);
      }
      break;
    case CloseReason::key_revoked:
      co_await send_error("FATAL", "28000",
                          "custos: the credential this session authenticated with was revoked");
      break;
    default:
      break;
  }
}

void Session::pump_finished() {
  if (!relay_stopping_) {
    relay_stopping_ = true;
    notify_client_idle();
    std::error_code ignored;
    client_.socket().cancel(ignored);
    if (upstream_) {
      upstream_->socket().cancel(ignored);
    }
    idle_timer_->cancel();
    on_relay_stop();
  }
  if (--relay_running_ == 0) {
    relay_done_->cancel();
  }
}

asio::awaitable<void> Session::idle_watch() {
  const auto idle = services_.cfg.limits.idle_timeout;
  while (!relay_stopping_) {
    idle_timer_->expires_after(std::chrono::seconds(1));
    auto [ec] = co_await idle_timer_->async_wait(net::use_nothrow);
    if (ec || relay_stopping_) {
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

asio::awaitable<bool> Session::flush_upstream() {
  if (out_up_.empty()) {
    co_return true;
  }
  auto [ec, n] = co_await upstream_->write_all(asio::buffer(out_up_));
  out_up_.clear();
  if (ec) {
    set_close_reason(CloseReason::upstream_error);
    co_return false;
  }
  co_return true;
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
      if (client_passthrough_ > 0) {
        forward_client_passthrough();
        continue;
      }
      const ClientStep step = co_await relay_client_frame(max_message, terminate);
      if (step == ClientStep::kStop) {
        co_return;
      }
      if (step == ClientStep::kNeedMore) {
        break;
      }
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

void Session::forward_client_passthrough() {
  auto readable = client_in_.readable();
  size_t take = std::min(client_passthrough_, readable.size());
  if (!skip_until_sync_) {
    core::append(out_up_, readable.first(take));
  }
  client_in_.consume(take);
  client_passthrough_ -= take;
}

void Session::start_client_passthrough(core::ByteView readable) {
  if (readable.size() >= kHeaderSize && streams_through(char(readable[0]), Direction::kFrontend)) {
    size_t wire = 1 + core::load_be32(readable.data() + 1);
    if (!skip_until_sync_) {
      core::append(out_up_, readable);
    }
    client_passthrough_ = wire - readable.size();
    client_in_.consume(readable.size());
  }
}

asio::awaitable<Session::ClientStep> Session::relay_client_frame(size_t max_message,
                                                                 bool& terminate) {
  auto readable = client_in_.readable();
  auto decoded = decode_frame(readable, Direction::kFrontend, max_message);
  if (!decoded) {
    core::inc(core::metrics().protocol_errors_total);
    spdlog::warn("session={} identity={} protocol error from client: {}", id_, principal_->identity,
                 decoded.error().message);
    set_close_reason(CloseReason::protocol_error);
    co_return ClientStep::kStop;
  }
  if (!*decoded) {
    start_client_passthrough(readable);
    co_return ClientStep::kNeedMore;
  }
  bool awaited = false;  // a catalog load waited: the buffer may have moved
  const bool statement_text =
      !skip_until_sync_ &&
      ((**decoded).type == 'Q' || (**decoded).type == 'P' || (**decoded).type == 'F');
  // The pipelining barrier: a statement that may change how the target reads the ones
  // after it must have been answered before they are analysed.
  bool after_barrier = false;
  if (statement_text && barrier_unsynced_) {
    after_barrier = true;  // same extended-protocol batch, before its Sync: refused
  } else if (statement_text && barriers_in_flight_ > 0) {
    if (!co_await wait_for_barriers()) {
      co_return ClientStep::kStop;
    }
    if (!reframe_client(max_message, readable, decoded)) {
      co_return ClientStep::kStop;
    }
  }
  const Frame& frame = **decoded;
  if (!unreadable_setting_.empty() && statement_text) {
    // A statement changed a setting custos reads statements under (SET client_encoding
    // to SJIS in a policy that allows `other`): nothing it sends can be judged any more.
    core::inc(core::metrics().statements_refused_total);
    spdlog::warn("session={} identity={} target now runs with {}; closing", id_,
                 principal_->identity, unreadable_setting_);
    set_close_reason(CloseReason::policy_denied);
    co_return ClientStep::kStop;
  }
  // Statement text is analysed and its names resolved against the target's catalog here,
  // where waiting for a catalog load is possible.
  std::shared_ptr<const sql::Analysis> analysis;
  if (statement_text && !after_barrier && frame.type != 'F') {
    analysis = co_await analyze_client_statement(frame, awaited);
  }
  std::optional<StatementDecision> query_decision;
  bool hold_execute = false;
  if (after_barrier) {
    query_decision = after_barrier_decision();
  } else if (analysis && frame.type == 'Q') {
    query_decision = decide(*analysis);
    query_decision->analysis = analysis;
    if (query_decision->held) {
      hold_execute = true;
      if (!co_await hold_query(*query_decision, frame, analysis.get())) {
        co_return ClientStep::kStop;
      }
    }
  } else if (!skip_until_sync_ && frame.type == 'E') {
    if (!co_await hold_execute_for_approval(frame, hold_execute)) {
      co_return ClientStep::kStop;
    }
  }
  // The buffer may have moved while the statement was held: frame it again.
  if ((hold_execute || awaited) && !reframe_client(max_message, readable, decoded)) {
    co_return ClientStep::kStop;
  }
  const Frame& current = **decoded;
  if (!dispatch_client_frame(current, readable.first(current.wire_size), after_barrier,
                             std::move(query_decision), terminate, std::move(analysis))) {
    co_return ClientStep::kStop;
  }
  client_in_.consume(current.wire_size);
  co_return ClientStep::kNext;
}

Session::StatementDecision Session::after_barrier_decision() const {
  StatementDecision d;
  d.allowed = false;
  d.verdict = policy::evaluate_after_barrier(*policy_);
  d.decision_json = policy::decision_json(d.verdict);
  return d;
}

bool Session::reframe_client(size_t max_message, core::ByteView& readable,
                             Result<std::optional<Frame>>& decoded) {
  readable = client_in_.readable();
  decoded = decode_frame(readable, Direction::kFrontend, max_message);
  if (!decoded || !*decoded) {
    set_close_reason(CloseReason::protocol_error);
    return false;
  }
  return true;
}

asio::awaitable<bool> Session::wait_for_barriers() {
  if (!co_await flush_upstream()) {
    co_return false;
  }
  co_await wait_until([this] { return barriers_in_flight_ == 0 || relay_stopping_; });
  if (relay_stopping_) {
    co_return false;
  }
  co_return true;
}

asio::awaitable<std::shared_ptr<const sql::Analysis>> Session::analyze_client_statement(
    const Frame& frame, bool& awaited) {
  std::optional<std::string_view> text;
  if (frame.type == 'Q') {
    if (auto q = parse_query(frame.payload)) {
      text = q->sql;
    }
  } else if (auto p = parse_parse(frame.payload)) {
    text = p->sql;
  }
  std::shared_ptr<const sql::Analysis> analysis;
  if (text) {
    analysis = shared_.analyzer.analyze(*text, parse_ctx_);
    if (needs_catalog_load(*analysis, nullptr)) {
      co_await load_catalog(*analysis);
      awaited = true;
    }
    analysis = with_lineage(resolve_loaded(std::move(analysis)));
  }
  co_return analysis;
}

asio::awaitable<bool> Session::hold_query(StatementDecision& d, const Frame& frame,
                                          const sql::Analysis* analysis) {
  if (!co_await flush_upstream()) {
    co_return false;
  }
  std::string sql;
  if (auto q = parse_query(frame.payload)) {
    sql = std::string(q->sql);
  }
  if (!co_await hold_for_approval(d, sql, analysis)) {
    co_return false;
  }
  co_return true;
}

asio::awaitable<bool> Session::hold_execute_for_approval(const Frame& frame, bool& held) {
  auto exec = parse_execute(frame.payload);
  std::string stmt_name;
  const PreparedStatement* ps = exec ? prepared_for_portal(exec->portal, &stmt_name) : nullptr;
  if (!ps || !ps->held) {
    co_return true;
  }
  held = true;
  StatementDecision d;
  d.held = true;
  d.hold_rule = ps->hold_rule;
  d.verdict = ps->verdict;
  d.held_command =
      ps->analysis && !ps->analysis->statements.empty() ? &ps->analysis->statements[0] : nullptr;
  std::string sql = ps->sql;
  auto held_analysis = ps->analysis;
  if (!co_await flush_upstream()) {
    co_return false;
  }
  if (!co_await hold_for_approval(d, sql, held_analysis.get())) {
    co_return false;
  }
  if (!d.allowed) {
    // As after an error: skip to Sync; the error goes out before its ReadyForQuery.
    if (auto r = record_denial(sql, record::StatementMode::kExtended, stmt_name, d); !r) {
      set_close_reason(CloseReason::recording_failed);
      co_return false;
    }
    skip_until_sync_ = true;
    sync_inject_ = denial_error(d.verdict);
  } else {
    execute_approved_ = true;
  }
  co_return true;
}

bool Session::dispatch_client_frame(const Frame& current, core::ByteView raw, bool after_barrier,
                                    std::optional<StatementDecision>&& query_decision,
                                    bool& terminate,
                                    std::shared_ptr<const sql::Analysis>&& analysis) {
  Result<void> handled = Result<void>{};
  if (after_barrier) {
    handled = refuse_after_barrier(current, *query_decision);
  } else if (query_decision && current.type == 'Q') {
    handled = on_query(current, raw, std::move(query_decision));
  } else {
    handled = on_client_frame(current, raw, terminate, std::move(analysis));
  }
  execute_approved_ = false;
  if (!handled) {
    core::inc(core::metrics().recording_failures_total);
    core::inc(core::metrics().statements_refused_total);
    spdlog::error("session={} identity={} recording failed, statement refused: {}", id_,
                  principal_->identity, handled.error().message);
    set_close_reason(handled.error().code == ErrorCode::kRecording ? CloseReason::recording_failed
                                                                   : CloseReason::protocol_error);
    return false;
  }
  return true;
}

Result<void> Session::on_client_frame(const Frame& f, core::ByteView raw, bool& terminate,
                                      std::shared_ptr<const sql::Analysis> analysis) {
  if (skip_until_sync_) {
    // After a denied extended-protocol message everything up to Sync is dropped, as the target
    // itself would after an error; the error goes out before the Sync's ReadyForQuery.
    if (f.type == 'S') {
      skip_until_sync_ = false;
      push_sync_marker(std::move(sync_inject_), false);
      sync_inject_.reset();
      core::append(out_up_, raw);
    } else if (f.type == 'X') {
      terminate = true;
      core::append(out_up_, raw);
    }
    return {};
  }
  // A Describe of a portal counts only for an Execute right after it.
  std::optional<std::string> described_portal = std::move(described_portal_);
  described_portal_.reset();
  switch (f.type) {
    case 'Q':
      return on_query(f, raw);
    case 'P':
      return on_parse(f, raw, std::move(analysis));
    case 'B':
      return on_bind(f, raw);
    case 'E':
      return on_execute(f, raw, described_portal);
    case 'D':
      return on_describe(f, raw);
    case 'F':
      return on_function_call(f, raw);
    case 'S':
      push_sync_marker(nullptr, false);
      break;
    case 'C':
      return on_close_message(f, raw);
    case 'X':
      terminate = true;
      break;
    default:
      break;
  }
  core::append(out_up_, raw);
  return {};
}

Result<void> Session::on_bind(const Frame& f, core::ByteView raw) {
  size_t pos = 0;
  auto portal = read_cstr(f.payload, pos);
  auto stmt = portal ? read_cstr(f.payload, pos) : std::nullopt;
  if (!stmt) {
    return fail(ErrorCode::kProtocol, "malformed Bind");
  }
  portals_[std::string(*portal)] = std::string(*stmt);
  core::append(out_up_, raw);
  return {};
}

Result<void> Session::on_execute(const Frame& f, core::ByteView raw,
                                 const std::optional<std::string>& described_portal) {
  auto exec = parse_execute(f.payload);
  if (!exec) {
    return fail(ErrorCode::kProtocol, exec.error().message);
  }
  std::string stmt_name;
  const PreparedStatement* ps = prepared_for_portal(exec->portal, &stmt_name);
  if (ps && ps->held && !execute_approved_) {
    return fail(ErrorCode::kDenied, "held statement executed without approval");
  }
  if (ps != nullptr) {
    barrier_unsynced_ = barrier_unsynced_ || ps->barrier;
    note_catalog_changes(*ps->analysis);
    remember_cursors(*ps->analysis);
  }
  // A portal custos never saw bound (or a statement it never saw parsed): the target will
  // answer with its own error; it runs nothing custos has not judged.
  const std::string_view text = ps ? std::string_view(ps->sql) : "<unknown portal>";
  const std::string_view decision = ps ? std::string_view(ps->decision_json) : "";
  if (auto r = record_forwarded(
          record::StatementEvent{text, record::StatementMode::kExtended, stmt_name, decision});
      !r) {
    return r;
  }
  // The clock is read only where a statement starts (Bind, Parse and Describe need no time).
  Pending pending{
      Pending::Kind::kStatement,        false, std::chrono::steady_clock::now(),      nullptr,
      ps ? ps->max_rows : std::nullopt, 0,     masker_ && ps ? ps->analysis : nullptr};
  if (masker_ && described_portal != exec->portal) {
    // Rows are masked from a plan made from their RowDescription, with the formats chosen
    // at Bind. A client that re-executes without describing (JDBC, pgx, Npgsql do) would
    // get rows with no plan, or with a stale one: describe the portal here instead.
    encode_describe(out_up_, 'P', exec->portal);
    pending.describe_injected = true;
  }
  pending_.push_back(std::move(pending));
  core::append(out_up_, raw);
  return {};
}

Result<void> Session::on_describe(const Frame& f, core::ByteView raw) {
  auto describe = parse_describe(f.payload);
  if (!describe) {
    return fail(ErrorCode::kProtocol, describe.error().message);
  }
  if (describe->kind == 'P') {
    described_portal_ = std::string(describe->name);
  }
  core::append(out_up_, raw);
  return {};
}

Result<void> Session::on_function_call(const Frame& f, core::ByteView raw) {
  // FunctionCall names a function by OID only: judged as a call of an unknown function.
  uint32_t oid = f.payload.size() >= 4 ? core::load_be32(f.payload.data()) : 0;
  const std::string text = fmt::format("<function call oid={}>", oid);
  sql::Command cmd;
  cmd.kinds = {sql::Kind::kCall};
  cmd.functions = {fmt::format("oid:{}", oid)};
  cmd.text = text;
  StatementDecision d;
  d.verdict = policy::evaluate(*policy_, cmd);
  d.allowed = d.verdict.decision == policy::Decision::kAllow;
  d.decision_json = policy::decision_json(d.verdict);
  if (!d.allowed) {
    return answer_denied_simple(text, d, std::chrono::steady_clock::now());
  }
  if (auto r = record_forwarded(
          record::StatementEvent{text, record::StatementMode::kSimple, "", d.decision_json});
      !r) {
    return r;
  }
  pending_.push_back(
      Pending{Pending::Kind::kStatement, true, std::chrono::steady_clock::now(), nullptr, {}, 0});
  push_sync_marker(nullptr, true);  // user code: it may change how later text is read
  catalog_dirty_ = true;
  core::append(out_up_, raw);
  return {};
}

Result<void> Session::on_close_message(const Frame& f, core::ByteView raw) {
  auto close = parse_close(f.payload);
  if (!close) {
    return fail(ErrorCode::kProtocol, close.error().message);
  }
  if (close->kind == 'S') {
    prepared_.erase(std::string(close->name));
  } else {
    portals_.erase(std::string(close->name));
  }
  core::append(out_up_, raw);
  return {};
}

asio::awaitable<void> Session::pump_upstream_to_client() {
  const size_t max_message = services_.cfg.limits.max_message_bytes;
  while (true) {
    auto space = upstream_in_.prepare(masker_ ? 2 * kReadChunk : kReadChunk);
    auto [rec, n] = co_await upstream_->read_some(asio::buffer(space.data(), space.size()));
    if (rec || n == 0) {
      set_close_reason(CloseReason::upstream_eof);
      co_return;
    }
    upstream_in_.commit(n);
    bytes_from_target_ += n;
    core::inc(core::metrics().bytes_from_target_total, int64_t(n));
    last_activity_ = std::chrono::steady_clock::now();

    // Forward complete messages (and streamed row/copy bytes) straight from the read buffer;
    // only frames custos rewrites (denials, row limits) are copied.
    segments_.clear();
    rewritten_.clear();
    row_batch_.clear();
    UpstreamRead read{upstream_in_.readable()};
    while (read.forward < read.readable.size()) {
      auto rest = read.readable.subspan(read.forward);
      if (upstream_passthrough_ > 0) {
        skip_upstream_passthrough(read, rest.size());
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
        start_upstream_passthrough(read, rest);
        break;
      }
      const Frame& frame = **decoded;
      auto raw = rest.first(frame.wire_size);
      // Rows to mask wait in a batch; only the row limit is decided for each as it comes.
      std::shared_ptr<core::Bytes> replacement;
      if (batches_row(frame)) {
        if (frame.type == 'D') {
          replacement = rewrite_upstream_frame(frame, raw);
        }
        if (!replacement) {
          add_to_row_batch(read, frame.wire_size);
          continue;
        }
      } else {
        replacement = rewrite_upstream_frame(frame, raw);
      }
      flush_row_batch(read.readable);
      if (masker_ && frame.type == 'T') {
        co_await plan_for_row_description(frame);
      } else if (masker_ && frame.type == 'H') {
        co_await plan_for_copy_out(frame);
      }
      forward_upstream_frame(read, frame, replacement);
    }
    flush_row_batch(read.readable);
    end_unchanged_run(read, read.forward);
    if (!co_await send_segments(read.readable)) {
      co_return;
    }
    upstream_in_.consume(read.forward);
    if (pending_.empty()) {
      notify_client_idle();  // a held statement's notice may go out now
    }
    if (upstream_in_.capacity() > 4 * kReadChunk && upstream_in_.size() < kReadChunk) {
      upstream_in_.shrink_to(kReadChunk);
    }
    if (rewritten_.capacity() > 4 * kReadChunk) {
      core::Bytes().swap(rewritten_);  // one huge rewritten row must not stay resident
    }
  }
}

void Session::end_unchanged_run(const UpstreamRead& read, size_t at) {
  if (at > read.run_start) {
    segments_.push_back(Segment{false, read.run_start, at - read.run_start});
  }
}

void Session::add_rewritten_segment(size_t from) {
  const size_t added = rewritten_.size() - from;
  if (added > 0 && !segments_.empty() && segments_.back().rewritten) {
    segments_.back().size += added;  // consecutive rewritten frames: one segment
  } else if (added > 0) {
    segments_.push_back(Segment{true, from, added});
  }
}

void Session::flush_row_batch(core::ByteView readable) {
  if (!row_batch_.empty()) {
    const size_t before = rewritten_.size();
    mask_rows(readable, rewritten_);
    add_rewritten_segment(before);
    row_batch_.clear();
  }
}

void Session::skip_upstream_passthrough(UpstreamRead& read, size_t available) {
  size_t take = std::min(upstream_passthrough_, available);
  if (upstream_passthrough_drop_) {
    end_unchanged_run(read, read.forward);
    read.run_start = read.forward + take;
  }
  read.forward += take;
  upstream_passthrough_ -= take;
}

void Session::start_upstream_passthrough(UpstreamRead& read, core::ByteView rest) {
  // Under a mask, a row is streamed through only when its plan masks nothing; a row
  // with no plan goes to mask_frame(), which withholds it.
  const bool masking_rows =
      masker_ && ((rest[0] == 'D' && (plan_error_ || !plan_ || plan_->any_active())) ||
                  (rest[0] == 'd' && copy_masking_));
  if (!masking_rows && rest.size() >= kHeaderSize &&
      streams_through(char(rest[0]), Direction::kBackend)) {
    size_t wire = 1 + core::load_be32(rest.data() + 1);
    upstream_passthrough_drop_ = false;
    if (rest[0] == 'D') {
      // Judge the row by its header: it counts against max_rows like a whole one.
      Frame head{'D', rest.subspan(kHeaderSize, 0), wire};
      auto replacement = rewrite_upstream_frame(head, rest.first(0));
      upstream_passthrough_drop_ = replacement != nullptr;
    }
    if (upstream_passthrough_drop_) {
      end_unchanged_run(read, read.forward);
      read.run_start = read.forward + rest.size();
    }
    upstream_passthrough_ = wire - rest.size();
    read.forward += rest.size();
  }
}

void Session::add_to_row_batch(UpstreamRead& read, size_t wire_size) {
  end_unchanged_run(read, read.forward);
  row_batch_.push_back(RowBatchMasker::Row{read.forward, wire_size});
  read.forward += wire_size;
  read.run_start = read.forward;
}

void Session::forward_upstream_frame(UpstreamRead& read, const Frame& frame,
                                     const std::shared_ptr<core::Bytes>& replacement) {
  const size_t rewritten_before = rewritten_.size();
  bool replaced = false;
  if (replacement) {
    core::append(rewritten_, core::ByteView(*replacement));
    replaced = true;
  } else if (masker_) {
    replaced = mask_frame(frame, rewritten_);
  }
  on_upstream_frame(frame);
  if (replaced) {
    end_unchanged_run(read, read.forward);
    add_rewritten_segment(rewritten_before);
    read.run_start = read.forward + frame.wire_size;
  }
  read.forward += frame.wire_size;
}

asio::awaitable<bool> Session::send_segments(core::ByteView readable) {
  if (segments_.empty()) {
    co_return true;
  }
  iov_.clear();
  for (const Segment& seg : segments_) {
    iov_.emplace_back((seg.rewritten ? rewritten_.data() : readable.data()) + seg.offset, seg.size);
  }
  if (!co_await write_to_client(iov_)) {
    co_return false;
  }
  last_activity_ = std::chrono::steady_clock::now();
  co_return true;
}

void Session::on_upstream_frame(const Frame& f) {
  switch (f.type) {
    case 'C':
    case 'I':
    case 's':
    case 'V':
      on_statement_result(f);
      return;
    case 'E':
      on_upstream_error(f);
      return;
    case 'S':
      if (std::string why = unreadable_reported_setting(f); !why.empty()) {
        unreadable_setting_ = std::move(why);
      }
      return;
    case 'Z':
      on_ready_for_query(f);
      return;
    default:
      return;
  }
}

Session::Pending* Session::front_statement() {
  if (!pending_.empty() && pending_.front().kind == Pending::Kind::kStatement) {
    return &pending_.front();
  }
  return nullptr;
}

void Session::on_statement_result(const Frame& f) {
  Pending* p = front_statement();
  if (!p) {
    return;
  }
  if (f.type == 'I' && p->inject) {
    return;  // custos answered this one (the denial is already recorded)
  }
  record::StatementResultEvent result;
  std::string limit_message;
  std::string masked_json;
  if (f.type == 'C' && plan_error_) {
    limit_message = *plan_error_;
    result.tag = "ERROR";
    result.sqlstate = "0A000";
    result.message = limit_message;
  } else if (f.type == 'C' && p->max_rows && p->rows > *p->max_rows) {
    limit_message = fmt::format("custos: result exceeds the limit of {} rows", *p->max_rows);
    result.tag = "ERROR";
    result.rows = int64_t(*p->max_rows);
    result.sqlstate = "54000";
    result.message = limit_message;
  } else if (f.type == 'C') {
    auto tag = parse_command_complete(f.payload);
    result.tag = tag ? tag->tag : std::string_view();
    result.rows = tag ? int64_t(rows_from_tag(tag->tag).value_or(0)) : 0;
  } else {
    result.tag = f.type == 'I' ? "EMPTY" : f.type == 's' ? "SUSPENDED" : "FUNCTION";
  }
  result.duration_us = int64_t(elapsed_us(p->started));
  if (mask_counts_.total > 0) {
    masked_json = mask_counts_.to_json();
    result.masked_json = masked_json;
  }
  recorder_->on_result(result);
  mask_counts_ = mask::MaskCounts{};
  plan_.reset();
  plan_error_.reset();
  copy_masking_ = false;
  p->rows = 0;  // a multi-statement Query: the limit applies per statement
  ++p->statement;
  if (!p->simple) {
    pending_.pop_front();
  }
}

void Session::on_upstream_error(const Frame& f) {
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
  result.duration_us = int64_t(elapsed_us(p->started));
  std::string masked_message;
  if (fields) {
    result.sqlstate = fields->sqlstate();
    result.message = fields->message();
    if (masker_ && scrub_current_errors()) {
      result.message = kWithheldErrorText;
    } else if (masker_) {
      // The recording keeps only what the client saw: masked.
      mask::MaskCounts ignored;
      masked_message = mask::mask_text(*masker_, fields->message(), ignored);
      result.message = masked_message;
    }
  }
  recorder_->on_result(result);
  // After an error in the extended protocol the target skips to Sync: everything queued
  // before the next marker will get no result of its own.
  while (!pending_.empty() && pending_.front().kind == Pending::Kind::kStatement &&
         !pending_.front().simple) {
    pending_.pop_front();
  }
}

void Session::on_ready_for_query(const Frame& f) {
  while (!pending_.empty()) {
    const bool marker = pending_.front().kind == Pending::Kind::kSyncMarker;
    const bool barrier = marker && pending_.front().barrier;
    pending_.pop_front();
    if (barrier && --barriers_in_flight_ == 0) {
      notify_client_idle();  // pipelined statements waiting behind it may be analysed now
    }
    if (marker) {
      break;
    }
  }
  if (catalog_dirty_ && target_catalog_ != nullptr && !f.payload.empty() && f.payload[0] == 'I') {
    // Out of any transaction: what the statement changed is committed (or undone), and
    // other sessions must look again.
    target_catalog_->invalidate();
    catalog_dirty_ = false;
  }
}

}  // namespace custos::postgres
