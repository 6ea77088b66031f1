// Statement policy inside a PostgreSQL session: every statement is analyzed by the real parser
// and judged by the connection's policy before anything reaches the target.
//
// A denied simple Query (or FunctionCall) is replaced by an empty query, so the target still
// answers in order with EmptyQueryResponse + ReadyForQuery: custos swaps that EmptyQueryResponse
// for its ErrorResponse, and the client's protocol state (including the transaction status in
// ReadyForQuery) stays exactly the target's. A denied Parse is dropped together with everything
// up to the next Sync — as PostgreSQL itself skips after an error — and the error is delivered
// just before that Sync's ReadyForQuery.

#include <spdlog/spdlog.h>

#include <asio/experimental/awaitable_operators.hpp>

#include "core/metrics.h"
#include "mask/lineage_check.h"
#include "protocol/postgres/column_catalog.h"
#include "protocol/postgres/message.h"
#include "protocol/postgres/session.h"
#include "session/command_judge.h"

namespace custos::postgres {

namespace {

// An empty simple Query: the target answers EmptyQueryResponse + ReadyForQuery.
constexpr uint8_t kEmptyQuery[] = {'Q', 0, 0, 0, 5, 0};

}  // namespace

Session::StatementDecision Session::decide(const sql::Analysis& analysis) {
  session::Judgement j;
  if (analysis.parse_error) {
    j = session::judge_parse_error(*policy_, *analysis.parse_error);
  } else {
    session::JudgeOptions options;
    options.prepared = &sql_prepared_;
    j = session::judge_commands(*policy_, masker_.get(), analysis.statements, options);
  }
  StatementDecision d;
  d.verdict = j.combined.verdict;
  d.barrier = j.barrier;
  d.decision_json = j.decision_json();
  switch (d.verdict.decision) {
    case policy::Decision::kAllow:
      d.max_rows = d.verdict.max_rows;
      break;
    case policy::Decision::kDeny:
      d.allowed = false;
      break;
    case policy::Decision::kHold:
      d.allowed = false;  // until approvers say otherwise
      d.held = true;
      d.hold_rule = &policy_->rules.at(size_t(d.verdict.rule) - 1);
      d.held_command = j.deciding;
      break;
  }
  return d;
}

void Session::remember_sql_prepares(const sql::Analysis& analysis) {
  for (const auto& cmd : analysis.statements) {
    if (cmd.has_kind(sql::Kind::kPrepare) && !cmd.prepared_name.empty()) {
      sql_prepared_[cmd.prepared_name] = cmd;
    } else if (cmd.has_kind(sql::Kind::kDeallocate)) {
      if (cmd.prepared_name.empty()) {
        sql_prepared_.clear();
      } else {
        sql_prepared_.erase(cmd.prepared_name);
      }
    }
  }
}

std::shared_ptr<core::Bytes> Session::denial_error(const policy::Verdict& v) {
  auto out = std::make_shared<core::Bytes>();
  encode_error(*out, "ERROR", v.sqlstate, policy::denial_message(v), policy::denial_hint(v));
  return out;
}

Result<void> Session::record_denial(std::string_view sql, record::StatementMode mode,
                                    std::string_view prepared, const StatementDecision& d) {
  core::inc(core::metrics().statements_refused_total);
  spdlog::info("session={} identity={} connection={} statement denied: {}", id_,
               principal_->identity, connection_->name, policy::denial_message(d.verdict));
  if (auto r =
          recorder_->on_statement(record::StatementEvent{sql, mode, prepared, d.decision_json});
      !r) {
    return fail(ErrorCode::kRecording, r.error().message);
  }
  ++statements_;
  const std::string message = policy::denial_message(d.verdict);
  recorder_->on_result(record::StatementResultEvent{"DENIED", 0, 0, "42501", message});
  return {};
}

Result<void> Session::record_forwarded(const record::StatementEvent& e) {
  if (auto r = recorder_->on_statement(e); !r) {
    return fail(ErrorCode::kRecording, r.error().message);
  }
  ++statements_;
  core::inc(core::metrics().statements_total);
  return {};
}

Result<void> Session::answer_denied_simple(std::string_view text, const StatementDecision& d,
                                           std::chrono::steady_clock::time_point now) {
  if (auto r = record_denial(text, record::StatementMode::kSimple, "", d); !r) {
    return r;
  }
  pending_.push_back(Pending{Pending::Kind::kStatement, true, now, denial_error(d.verdict), {}, 0});
  push_sync_marker(nullptr, false);
  core::append(out_up_, core::ByteView(kEmptyQuery, sizeof kEmptyQuery));
  return {};
}

Result<void> Session::refuse_after_barrier(const Frame& f, const StatementDecision& d) {
  const auto now = std::chrono::steady_clock::now();
  spdlog::info(
      "session={} identity={} statement refused: pipelined after a statement that may "
      "change how statements are read, before its Sync",
      id_, principal_->identity);
  if (f.type == 'P') {
    auto p = parse_parse(f.payload);
    if (!p) {
      return fail(ErrorCode::kProtocol, p.error().message);
    }
    if (auto r = record_denial(p->sql, record::StatementMode::kExtended, p->name, d); !r) {
      return r;
    }
    skip_until_sync_ = true;  // as PostgreSQL does after an error
    sync_inject_ = denial_error(d.verdict);
    return {};
  }
  std::string text = "<function call>";
  if (f.type == 'Q') {
    auto q = parse_query(f.payload);
    if (!q) {
      return fail(ErrorCode::kProtocol, q.error().message);
    }
    text = std::string(q->sql);
  }
  return answer_denied_simple(text, d, now);
}

const Session::PreparedStatement* Session::prepared_for_portal(std::string_view portal,
                                                               std::string* stmt_name) {
  auto p = portals_.find(std::string(portal));
  if (p == portals_.end()) {
    return nullptr;
  }
  if (stmt_name) {
    *stmt_name = p->second;
  }
  auto s = prepared_.find(p->second);
  return s == prepared_.end() ? nullptr : &s->second;
}

Result<void> Session::on_query(const Frame& f, core::ByteView raw,
                               std::optional<StatementDecision> decided) {
  auto q = parse_query(f.payload);
  if (!q) {
    return fail(ErrorCode::kProtocol, q.error().message);
  }
  const auto now = std::chrono::steady_clock::now();
  if (!decided) {
    // The pump decides every Query (with names resolved); this is only a fallback.
    auto resolved = with_lineage(resolve_loaded(shared_.analyzer.analyze(q->sql, parse_ctx_)));
    decided = decide(*resolved);
    decided->analysis = std::move(resolved);
  }
  StatementDecision d = std::move(*decided);
  const std::shared_ptr<const sql::Analysis> analysis = d.analysis;
  if (!d.allowed) {
    return answer_denied_simple(q->sql, d, now);
  }
  if (auto r = record_forwarded(
          record::StatementEvent{q->sql, record::StatementMode::kSimple, "", d.decision_json});
      !r) {
    return r;
  }
  remember_sql_prepares(*analysis);
  note_catalog_changes(*analysis);
  remember_cursors(*analysis);
  pending_.push_back(Pending{Pending::Kind::kStatement, true, now, nullptr, d.max_rows, 0,
                             masker_ ? analysis : nullptr});
  push_sync_marker(nullptr, d.barrier);
  core::append(out_up_, raw);
  return {};
}

Result<void> Session::on_parse(const Frame& f, core::ByteView raw,
                               std::shared_ptr<const sql::Analysis> analysis) {
  auto p = parse_parse(f.payload);
  if (!p) {
    return fail(ErrorCode::kProtocol, p.error().message);
  }
  PreparedStatement ps;
  ps.sql = std::string(p->sql);
  ps.analysis = analysis
                    ? std::move(analysis)
                    : with_lineage(resolve_loaded(shared_.analyzer.analyze(p->sql, parse_ctx_)));
  auto d = decide(*ps.analysis);
  ps.barrier = d.barrier;
  if (d.held) {
    // Decided at Execute: Parse itself runs nothing.
    ps.held = true;
    ps.hold_rule = d.hold_rule;
    ps.verdict = d.verdict;
    ps.decision_json = std::move(d.decision_json);
    prepared_[std::string(p->name)] = std::move(ps);
    core::append(out_up_, raw);
    return {};
  }
  if (!d.allowed) {
    if (auto r = record_denial(p->sql, record::StatementMode::kExtended, p->name, d); !r) {
      return r;
    }
    // As PostgreSQL does after an error: everything up to Sync is skipped.
    skip_until_sync_ = true;
    sync_inject_ = denial_error(d.verdict);
    return {};
  }
  ps.allowed = true;
  ps.max_rows = d.max_rows;
  ps.decision_json = std::move(d.decision_json);
  prepared_[std::string(p->name)] = std::move(ps);
  core::append(out_up_, raw);
  return {};
}

std::shared_ptr<core::Bytes> Session::rewrite_upstream_frame(const Frame& f, core::ByteView raw) {
  if (pending_.empty()) {
    return nullptr;
  }
  Pending& front = pending_.front();
  switch (f.type) {
    case 'T':
    case 'n':
      if (front.kind == Pending::Kind::kStatement && front.describe_injected) {
        // The answer to custos's own Describe: already planned from, not for the client.
        front.describe_injected = false;
        if (f.type == 'n') {
          plan_.reset();
        }
        return std::make_shared<core::Bytes>();
      }
      return nullptr;
    case 'I':
      if (front.kind == Pending::Kind::kStatement && front.inject) {
        return front.inject;
      }
      return nullptr;
    case 'D':
      if (front.kind == Pending::Kind::kStatement && front.max_rows) {
        if (++front.rows > *front.max_rows) {
          return std::make_shared<core::Bytes>();  // drop
        }
      }
      return nullptr;
    case 'C':
      if (front.kind == Pending::Kind::kStatement && front.max_rows &&
          front.rows > *front.max_rows) {
        auto out = std::make_shared<core::Bytes>();
        encode_error(*out, "ERROR", "54000",
                     fmt::format("custos: result exceeds the limit of {} rows set by policy '{}'",
                                 *front.max_rows, policy_->name),
                     "narrow the query (WHERE, LIMIT) or ask for a higher max_rows");
        return out;
      }
      return nullptr;
    case 'Z':
      for (auto& p : pending_) {
        if (p.kind == Pending::Kind::kSyncMarker) {
          if (p.inject) {
            auto out = std::make_shared<core::Bytes>(*p.inject);
            core::append(*out, raw);
            return out;
          }
          break;
        }
      }
      return nullptr;
    default:
      return nullptr;
  }
}

}  // namespace custos::postgres

namespace custos::postgres {

asio::awaitable<void> Session::wait_until(const std::function<bool()>& ready) {
  if (!client_idle_) {
    client_idle_ = std::make_unique<asio::steady_timer>(co_await asio::this_coro::executor);
  }
  while (!ready()) {
    // Woken by notify_client_idle(); the bound only guards against a missed notification.
    client_idle_->expires_after(std::chrono::milliseconds(50));
    co_await client_idle_->async_wait(net::use_nothrow);
  }
}

void Session::notify_client_idle() {
  if (client_idle_) {
    client_idle_->cancel();
  }
}

asio::awaitable<void> Session::wait_for_quiet_client_stream() {
  // A held statement's notice must reach the client after every earlier response: wait until
  // the target has answered everything already forwarded and no write is in flight.
  co_await wait_until([this] { return relay_stopping_ || (!client_writing_ && pending_.empty()); });
}

asio::awaitable<bool> Session::write_to_client(const std::vector<asio::const_buffer>& bufs) {
  co_await wait_until([this] { return !client_writing_; });
  client_writing_ = true;
  auto [ec, n] = co_await client_.write_all(bufs);
  client_writing_ = false;
  notify_client_idle();
  if (ec) {
    set_close_reason(core::CloseReason::client_eof);
  }
  co_return !ec;
}

asio::awaitable<void> Session::watch_client_while_held() {
  // Keeps reading (pipelined messages wait in order in the buffer) so a disconnect is seen.
  while (true) {
    if (client_in_.size() > (1u << 20)) {
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
      co_await t.async_wait(net::use_nothrow);
      continue;
    }
    auto space = client_in_.prepare(16 * 1024);
    auto [ec, n] = co_await client_.read_some(asio::buffer(space.data(), space.size()));
    if (ec || n == 0) {
      co_return;
    }
    client_in_.commit(n);
    bytes_from_client_ += n;
  }
}

asio::awaitable<bool> Session::hold_for_approval(StatementDecision& d, std::string_view sql,
                                                 const sql::Analysis* analysis) {
  using namespace asio::experimental::awaitable_operators;
  const config::Rule& rule = *d.hold_rule;
  std::string fingerprint =
      d.held_command ? fmt::format("{:016x}", d.held_command->fingerprint) : std::string(sql);
  auto now = std::chrono::system_clock::now();
  auto allow = [&] {
    d.allowed = true;
    d.held = false;
    d.verdict.decision = policy::Decision::kAllow;
  };
  // A time-bound grant for this statement shape lets it through without a new hold.
  if (auto grant = services_.approvals->find_grant(principal_->identity, connection_->name,
                                                   fingerprint, now)) {
    record::Fields f;
    f.str("grant_id", grant->id)
        .str("approval_id", grant->approval_id)
        .str("fingerprint", fingerprint);
    if (auto r = recorder_->append_durable("grant_used", f); !r) {
      co_return false;
    }
    allow();
    co_return true;
  }

  approval::HoldRequest req;
  req.session_id = id_;
  req.identity = principal_->identity;
  req.connection = connection_->name;
  req.statement = std::string(sql);
  if (d.held_command) {
    for (auto k : d.held_command->kinds) {
      req.kinds.emplace_back(sql::kind_name(k));
    }
    req.tables = d.held_command->tables_written;
    for (const auto& t : d.held_command->tables_read) {
      req.tables.push_back(t);
    }
  }
  req.fingerprint = fingerprint;
  req.policy = policy_->name;
  req.rule = d.verdict.rule;
  req.approvers = rule.approvers;
  req.min_approvals = rule.min_approvals;
  req.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(rule.hold_timeout);
  req.message = rule.message;
  if (rule.preview && d.held_command && analysis && analysis->statements.size() == 1 &&
      (d.held_command->has_kind(sql::Kind::kUpdate) ||
       d.held_command->has_kind(sql::Kind::kDelete) ||
       d.held_command->has_kind(sql::Kind::kInsert))) {
    // Dry run inside a transaction on a side connection, rolled back.
    auto tag = co_await side_connection().preview(std::string(sql));
    req.preview_text = tag ? *tag : "preview unavailable: " + tag.error().message;
    side_->close();  // holds are rare: do not keep a second target connection per session
  }
  auto held = services_.approvals->create(std::move(req));
  const std::string url = services_.approvals->url_for(held->id());
  {
    record::Fields f;
    f.str("approval_id", held->id()).str("policy", policy_->name).i64("rule", d.verdict.rule);
    f.str("url", url);
    if (auto r = recorder_->append_durable("hold_requested", f); !r) {
      services_.approvals->withdraw(held->id(), "recording failed");
      co_return false;
    }
  }
  spdlog::info("session={} identity={} statement held for approval {}", id_, principal_->identity,
               held->id());
  co_await wait_for_quiet_client_stream();
  core::Bytes notice;
  encode_notice(
      notice, "NOTICE", "00000",
      fmt::format("custos: statement held for approval {}; approve at {}", held->id(), url));
  std::vector<asio::const_buffer> notice_bufs;
  notice_bufs.push_back(asio::buffer(notice));
  co_await write_to_client(notice_bufs);

  auto ex = co_await asio::this_coro::executor;
  auto outcome = co_await (held->wait(ex) || watch_client_while_held());
  if (outcome.index() == 1) {
    services_.approvals->withdraw(held->id(), "the client disconnected");
    record::Fields f;
    f.str("approval_id", held->id()).str("status", "withdrawn");
    (void)recorder_->append_durable("approval_decided", f);
    set_close_reason(core::CloseReason::client_eof);
    co_return false;
  }
  const approval::Outcome& o = std::get<0>(outcome);
  {
    record::Fields f;
    std::string approvers;
    for (const auto& a : o.approvers) {
      approvers += (approvers.empty() ? "" : ",") + a;
    }
    f.str("approval_id", held->id())
        .str("status", std::string(approval::status_name(o.status)))
        .str("approvers", approvers)
        .str("reason", o.reason);
    if (!o.grant_id.empty()) {
      f.str("grant_id", o.grant_id);
    }
    if (auto r = recorder_->append_durable("approval_decided", f); !r) {
      co_return false;
    }
  }
  if (o.status == approval::Status::kApproved) {
    allow();
    co_return true;
  }
  d.allowed = false;
  d.held = false;
  d.verdict.decision = policy::Decision::kDeny;
  if (o.status == approval::Status::kExpired) {
    d.verdict.message = o.reason.empty() ? "approval timed out" : o.reason;
  } else {
    d.verdict.message = "denied by approver" + (o.reason.empty() ? std::string() : ": " + o.reason);
  }
  d.decision_json = policy::decision_json(d.verdict);
  co_return true;
}

}  // namespace custos::postgres
