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
      auto readable = client_in_.readable();
      if (client_passthrough_ > 0) {
        size_t take = std::min(client_passthrough_, readable.size());
        if (!skip_until_sync_) {
          core::append(out_up_, readable.first(take));
        }
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
        if (readable.size() >= kHeaderSize &&
            streams_through(char(readable[0]), Direction::kFrontend)) {
          size_t wire = 1 + core::load_be32(readable.data() + 1);
          if (!skip_until_sync_) {
            core::append(out_up_, readable);
          }
          client_passthrough_ = wire - readable.size();
          client_in_.consume(readable.size());
        }
        break;
      }
      bool awaited = false;  // the buffer may move while a coroutine waits: frame again
      const bool statement_text =
          !skip_until_sync_ &&
          ((**decoded).type == 'Q' || (**decoded).type == 'P' || (**decoded).type == 'F');
      // The pipelining barrier: a statement that may change how the target reads the ones
      // after it must have been answered before they are analysed.
      bool after_barrier = false;
      if (statement_text && barrier_unsynced_) {
        after_barrier = true;  // same extended-protocol batch, before its Sync: refused
      } else if (statement_text && barriers_in_flight_ > 0) {
        if (!co_await flush_upstream()) {
          co_return;
        }
        co_await wait_until([this] { return barriers_in_flight_ == 0 || relay_stopping_; });
        if (relay_stopping_) {
          co_return;
        }
        awaited = true;
      }
      if (awaited) {
        readable = client_in_.readable();
        decoded = decode_frame(readable, Direction::kFrontend, max_message);
        if (!decoded || !*decoded) {
          set_close_reason(CloseReason::protocol_error);
          co_return;
        }
        awaited = false;
      }
      const Frame& frame = **decoded;
      if (!unreadable_setting_.empty() && statement_text) {
        // A statement changed a setting custos reads statements under (SET client_encoding
        // to SJIS in a policy that allows `other`): nothing it sends can be judged any more.
        core::inc(core::metrics().statements_refused_total);
        spdlog::warn("session={} identity={} target now runs with {}; closing", id_,
                     principal_->identity, unreadable_setting_);
        set_close_reason(CloseReason::policy_denied);
        co_return;
      }
      // Statement text is analysed and its names resolved against the target's catalog here,
      // where waiting for a catalog load is possible.
      std::shared_ptr<const sql::Analysis> analysis;
      if (statement_text && !after_barrier && frame.type != 'F') {
        std::optional<std::string_view> text;
        if (frame.type == 'Q') {
          if (auto q = parse_query(frame.payload)) {
            text = q->sql;
          }
        } else if (auto p = parse_parse(frame.payload)) {
          text = p->sql;
        }
        if (text) {
          analysis = shared_.analyzer.analyze(*text, parse_ctx_);
          if (needs_catalog_load(*analysis, nullptr)) {
            co_await load_catalog(*analysis);
            awaited = true;
          }
          analysis = with_lineage(resolve_loaded(std::move(analysis)));
        }
      }
      std::optional<StatementDecision> query_decision;
      bool hold_execute = false;
      if (after_barrier) {
        StatementDecision d;
        d.allowed = false;
        d.verdict = policy::evaluate_after_barrier(*policy_);
        d.decision_json = policy::decision_json(d.verdict);
        query_decision = std::move(d);
      } else if (analysis && frame.type == 'Q') {
        query_decision = decide(*analysis);
        query_decision->analysis = analysis;
        if (query_decision->held) {
          hold_execute = true;
          if (!co_await flush_upstream()) {
            co_return;
          }
          std::string sql;
          if (auto q = parse_query(frame.payload)) {
            sql = std::string(q->sql);
          }
          if (!co_await hold_for_approval(*query_decision, sql, analysis.get())) {
            co_return;
          }
        }
      } else if (!skip_until_sync_ && frame.type == 'E') {
        auto exec = parse_execute(frame.payload);
        std::string stmt_name;
        const PreparedStatement* ps =
            exec ? prepared_for_portal(exec->portal, &stmt_name) : nullptr;
        if (ps && ps->held) {
          hold_execute = true;
          StatementDecision d;
          d.held = true;
          d.hold_rule = ps->hold_rule;
          d.verdict = ps->verdict;
          d.held_command = ps->analysis && !ps->analysis->statements.empty()
                               ? &ps->analysis->statements[0]
                               : nullptr;
          std::string sql = ps->sql;
          auto held_analysis = ps->analysis;
          if (!co_await flush_upstream()) {
            co_return;
          }
          if (!co_await hold_for_approval(d, sql, held_analysis.get())) {
            co_return;
          }
          if (!d.allowed) {
            // As after an error: skip to Sync; the error goes out before its ReadyForQuery.
            if (auto r = record_denial(sql, record::StatementMode::kExtended, stmt_name, d); !r) {
              set_close_reason(CloseReason::recording_failed);
              co_return;
            }
            skip_until_sync_ = true;
            sync_inject_ = denial_error(d.verdict);
          } else {
            execute_approved_ = true;
          }
        }
      }
      if (hold_execute || awaited) {
        // The buffer may have moved while the statement was held: frame it again.
        readable = client_in_.readable();
        decoded = decode_frame(readable, Direction::kFrontend, max_message);
        if (!decoded || !*decoded) {
          set_close_reason(CloseReason::protocol_error);
          co_return;
        }
      }
      const Frame& current = **decoded;
      Result<void> handled = Result<void>{};
      if (after_barrier) {
        handled = refuse_after_barrier(current, *query_decision);
      } else if (query_decision && current.type == 'Q') {
        handled = on_query(current, readable.first(current.wire_size), std::move(query_decision));
      } else {
        handled = on_client_frame(current, readable.first(current.wire_size), terminate,
                                  std::move(analysis));
      }
      execute_approved_ = false;
      if (!handled) {
        core::inc(core::metrics().recording_failures_total);
        core::inc(core::metrics().statements_refused_total);
        spdlog::error("session={} identity={} recording failed, statement refused: {}", id_,
                      principal_->identity, handled.error().message);
        set_close_reason(handled.error().code == ErrorCode::kRecording
                             ? CloseReason::recording_failed
                             : CloseReason::protocol_error);
        co_return;
      }
      client_in_.consume(current.wire_size);
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

Result<void> Session::on_client_frame(const Frame& f, core::ByteView raw, bool& terminate,
                                      std::shared_ptr<const sql::Analysis> analysis) {
  // Read only where a statement starts (Bind, Parse and Describe need no time).
  const auto now = [] { return std::chrono::steady_clock::now(); };
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
    case 'B': {
      size_t pos = 0;
      auto portal = read_cstr(f.payload, pos);
      auto stmt = portal ? read_cstr(f.payload, pos) : std::nullopt;
      if (!stmt) {
        return fail(ErrorCode::kProtocol, "malformed Bind");
      }
      portals_[std::string(*portal)] = std::string(*stmt);
      break;
    }
    case 'E': {
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
      Pending pending{Pending::Kind::kStatement,
                      false,
                      now(),
                      nullptr,
                      ps ? ps->max_rows : std::nullopt,
                      0,
                      masker_ && ps ? ps->analysis : nullptr};
      if (masker_ && described_portal != exec->portal) {
        // Rows are masked from a plan made from their RowDescription, with the formats chosen
        // at Bind. A client that re-executes without describing (JDBC, pgx, Npgsql do) would
        // get rows with no plan, or with a stale one: describe the portal here instead.
        encode_describe(out_up_, 'P', exec->portal);
        pending.describe_injected = true;
      }
      pending_.push_back(std::move(pending));
      break;
    }
    case 'D': {
      auto describe = parse_describe(f.payload);
      if (!describe) {
        return fail(ErrorCode::kProtocol, describe.error().message);
      }
      if (describe->kind == 'P') {
        described_portal_ = std::string(describe->name);
      }
      break;
    }
    case 'F': {
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
        return answer_denied_simple(text, d, now());
      }
      if (auto r = record_forwarded(
              record::StatementEvent{text, record::StatementMode::kSimple, "", d.decision_json});
          !r) {
        return r;
      }
      pending_.push_back(Pending{Pending::Kind::kStatement, true, now(), nullptr, {}, 0});
      push_sync_marker(nullptr, true);  // user code: it may change how later text is read
      catalog_dirty_ = true;
      break;
    }
    case 'S':
      push_sync_marker(nullptr, false);
      break;
    case 'C': {
      auto close = parse_close(f.payload);
      if (!close) {
        return fail(ErrorCode::kProtocol, close.error().message);
      }
      if (close->kind == 'S') {
        prepared_.erase(std::string(close->name));
      } else {
        portals_.erase(std::string(close->name));
      }
      break;
    }
    case 'X':
      terminate = true;
      break;
    default:
      break;
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
    size_t forward = 0;    // bytes of the read buffer dealt with
    size_t run_start = 0;  // start of the current run of unchanged bytes
    segments_.clear();
    rewritten_.clear();
    row_batch_.clear();
    auto readable = upstream_in_.readable();
    auto end_run = [&](size_t at) {
      if (at > run_start) {
        segments_.push_back(Segment{false, run_start, at - run_start});
      }
    };
    auto add_rewritten = [&](size_t from) {  // what was appended to rewritten_ since `from`
      const size_t added = rewritten_.size() - from;
      if (added > 0 && !segments_.empty() && segments_.back().rewritten) {
        segments_.back().size += added;  // consecutive rewritten frames: one segment
      } else if (added > 0) {
        segments_.push_back(Segment{true, from, added});
      }
    };
    auto flush_rows = [&] {  // rows batched for masking go out before anything after them
      if (!row_batch_.empty()) {
        const size_t before = rewritten_.size();
        mask_rows(readable, rewritten_);
        add_rewritten(before);
        row_batch_.clear();
      }
    };
    while (forward < readable.size()) {
      auto rest = readable.subspan(forward);
      if (upstream_passthrough_ > 0) {
        size_t take = std::min(upstream_passthrough_, rest.size());
        if (upstream_passthrough_drop_) {
          end_run(forward);
          run_start = forward + take;
        }
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
            end_run(forward);
            run_start = forward + rest.size();
          }
          upstream_passthrough_ = wire - rest.size();
          forward += rest.size();
        }
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
          end_run(forward);
          row_batch_.push_back(RowBatchMasker::Row{forward, frame.wire_size});
          forward += frame.wire_size;
          run_start = forward;
          continue;
        }
      } else {
        replacement = rewrite_upstream_frame(frame, raw);
      }
      flush_rows();
      if (masker_ && frame.type == 'T') {
        co_await plan_for_row_description(frame);
      } else if (masker_ && frame.type == 'H') {
        co_await plan_for_copy_out(frame);
      }
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
        end_run(forward);
        add_rewritten(rewritten_before);
        run_start = forward + frame.wire_size;
      }
      forward += frame.wire_size;
    }
    flush_rows();
    end_run(forward);
    if (!segments_.empty()) {
      iov_.clear();
      for (const Segment& seg : segments_) {
        iov_.emplace_back((seg.rewritten ? rewritten_.data() : readable.data()) + seg.offset,
                          seg.size);
      }
      if (!co_await write_to_client(iov_)) {
        co_return;
      }
      last_activity_ = std::chrono::steady_clock::now();
    }
    upstream_in_.consume(forward);
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
      result.duration_us = int64_t(elapsed_us(*p));
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
      return;
    }
    case 'S':
      if (std::string why = unreadable_reported_setting(f); !why.empty()) {
        unreadable_setting_ = std::move(why);
      }
      return;
    case 'Z':
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
      if (catalog_dirty_ && target_catalog_ != nullptr && !f.payload.empty() &&
          f.payload[0] == 'I') {
        // Out of any transaction: what the statement changed is committed (or undone), and
        // other sessions must look again.
        target_catalog_->invalidate();
        catalog_dirty_ = false;
      }
      return;
    default:
      return;
  }
}

}  // namespace custos::postgres
