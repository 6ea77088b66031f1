// The approvals component: held statements, decisions, waiting without blocking a thread,
// grants, persistence and webhooks.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <asio.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <future>
#include <thread>

#include "approval/approval_json.h"
#include "approval/approval_service.h"
#include "approval/webhook_notifier.h"
#include "core/hex.h"
#include "store/sqlite/sqlite_approval_store.h"

namespace custos::approval {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

config::Approver approver(std::string name, std::vector<std::string> groups) {
  return config::Approver{name, std::move(groups), core::sha256_hex("token-" + name), 1};
}

std::vector<config::Approver> team() {
  return {approver("alice", {"dba"}), approver("bob", {"dba"}), approver("carol", {"ops"}),
          approver("ci-deploy", {"dba"})};
}

HoldRequest request(std::string statement = "DELETE FROM orders WHERE id = 1") {
  HoldRequest r;
  r.session_id = "s1";
  r.identity = "ci-deploy";
  r.connection = "orders";
  r.statement = std::move(statement);
  r.kinds = {"delete"};
  r.tables = {"public.orders"};
  r.fingerprint = "fp-delete-orders-by-id";
  r.policy = "p";
  r.rule = 2;
  r.approvers = {"group:dba"};
  r.timeout = 10min;
  return r;
}

// Runs `wait` on an io_context driven by its own single thread; the future gets the outcome.
struct Waiter {
  asio::io_context io;
  std::promise<Outcome> promise;
  std::thread thread;

  explicit Waiter(std::shared_ptr<HeldStatement> held) {
    asio::co_spawn(
        io,
        [this, held]() -> asio::awaitable<void> {
          promise.set_value(co_await held->wait(io.get_executor()));
        },
        asio::detached);
    thread = std::thread([this] { io.run(); });
  }
  Outcome get() {
    std::future<Outcome> f = promise.get_future();
    EXPECT_EQ(f.wait_for(5s), std::future_status::ready) << "the waiter was never woken";
    Outcome o = f.get();
    thread.join();
    return o;
  }
};

class ApprovalServiceTest : public ::testing::Test {
 protected:
  std::vector<config::Approver> team_ = team();
  ApprovalService service_{team_, "https://custos.example.com"};
  const config::Approver& alice_ = team_[0];
  const config::Approver& bob_ = team_[1];
  const config::Approver& carol_ = team_[2];
  const config::Approver& self_ = team_[3];
};

TEST_F(ApprovalServiceTest, CreateGivesAnUnguessableUrlSafeIdAndAPendingRequest) {
  auto a = service_.create(request());
  auto b = service_.create(request());
  EXPECT_THAT(a->id(), ::testing::MatchesRegex("[a-z2-7]{10}"));
  EXPECT_NE(a->id(), b->id());
  Approval snap = a->snapshot();
  EXPECT_EQ(snap.status, Status::kPending);
  EXPECT_EQ(snap.expires_at - snap.requested_at, 10min);
  EXPECT_EQ(service_.url_for(a->id()), "https://custos.example.com/approvals/" + a->id());
  EXPECT_EQ(service_.pending_count(), 2u);
}

TEST_F(ApprovalServiceTest, AuthenticatesByTokenHash) {
  const config::Approver* who = service_.authenticate("token-bob");
  ASSERT_NE(who, nullptr);
  EXPECT_EQ(who->name, "bob");
  EXPECT_EQ(service_.authenticate("token-bo"), nullptr);
  EXPECT_EQ(service_.authenticate(""), nullptr);
  EXPECT_EQ(service_.authenticate(core::sha256_hex("token-bob")), nullptr);
}

TEST_F(ApprovalServiceTest, ApproveWakesTheWaiterWithTheApprover) {
  auto held = service_.create(request());
  Waiter waiter(held);
  std::this_thread::sleep_for(20ms);  // let the waiter park on its timer
  ApprovalResult<Approval> r = service_.approve(alice_, held->id(), "looks fine");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  Outcome o = waiter.get();
  EXPECT_EQ(o.status, Status::kApproved);
  EXPECT_EQ(o.approvers, std::vector<std::string>{"alice"});
  EXPECT_EQ(o.reason, "approved by alice: looks fine");
  EXPECT_EQ(held->status(), Status::kApproved);
}

TEST_F(ApprovalServiceTest, DecisionBeforeTheWaitStartsIsSeenImmediately) {
  auto held = service_.create(request());
  ASSERT_TRUE(service_.deny(bob_, held->id(), "").has_value());
  Waiter waiter(held);
  Outcome o = waiter.get();
  EXPECT_EQ(o.status, Status::kDenied);
  EXPECT_EQ(o.reason, "denied by bob");
}

TEST_F(ApprovalServiceTest, OneDenyFromAnAuthorisedApproverDenies) {
  HoldRequest req = request();
  req.min_approvals = 2;
  auto held = service_.create(req);
  Waiter waiter(held);
  ASSERT_TRUE(service_.approve(alice_, held->id(), "").has_value());
  ASSERT_TRUE(service_.deny(bob_, held->id(), "not during business hours").has_value());
  Outcome o = waiter.get();
  EXPECT_EQ(o.status, Status::kDenied);
  EXPECT_EQ(o.approvers, std::vector<std::string>{"bob"});
  EXPECT_EQ(o.reason, "denied by bob: not during business hours");
  // Decided: any further decision is a conflict.
  auto again = service_.approve(alice_, held->id(), "");
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ApprovalErrorCode::kConflict);
  EXPECT_EQ(http_status(again.error().code), 409);
}

TEST_F(ApprovalServiceTest, MinApprovalsNeedsDistinctApprovers) {
  HoldRequest req = request();
  req.min_approvals = 2;
  req.approvers = {"group:dba", "carol"};
  auto held = service_.create(req);
  Waiter waiter(held);
  ASSERT_TRUE(service_.approve(alice_, held->id(), "").has_value());
  auto twice = service_.approve(alice_, held->id(), "");
  ASSERT_FALSE(twice.has_value());
  EXPECT_EQ(twice.error().code, ApprovalErrorCode::kConflict);
  EXPECT_EQ(held->status(), Status::kPending);  // the same approver twice counts once
  auto r = service_.approve(carol_, held->id(), "ok");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, Status::kApproved);
  Outcome o = waiter.get();
  EXPECT_EQ(o.status, Status::kApproved);
  EXPECT_EQ(o.approvers, (std::vector<std::string>{"alice", "carol"}));
}

TEST_F(ApprovalServiceTest, SelfApprovalAndUnlistedApproversAreRefused) {
  auto held = service_.create(request());  // identity ci-deploy, approvers group:dba
  auto self = service_.approve(self_, held->id(), "");  // ci-deploy is in dba, but it is its own
  ASSERT_FALSE(self.has_value());
  EXPECT_EQ(self.error().code, ApprovalErrorCode::kForbidden);
  EXPECT_EQ(http_status(self.error().code), 403);
  auto unlisted = service_.approve(carol_, held->id(), "");  // ops, not dba
  ASSERT_FALSE(unlisted.has_value());
  EXPECT_EQ(unlisted.error().code, ApprovalErrorCode::kForbidden);
  EXPECT_THAT(unlisted.error().message, HasSubstr("carol is not listed"));
  auto deny = service_.deny(carol_, held->id(), "");
  ASSERT_FALSE(deny.has_value());
  EXPECT_EQ(deny.error().code, ApprovalErrorCode::kForbidden);
  EXPECT_EQ(held->status(), Status::kPending);
  EXPECT_TRUE(held->snapshot().decisions.empty());
  auto unknown = service_.approve(alice_, "aaaaaaaaaa", "");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, ApprovalErrorCode::kNotFound);
}

TEST_F(ApprovalServiceTest, ExpiresAtTheDeadlineWithAReason) {
  HoldRequest req = request();
  req.timeout = 80ms;
  auto held = service_.create(req);
  Waiter waiter(held);
  Outcome o = waiter.get();
  EXPECT_EQ(o.status, Status::kExpired);
  EXPECT_EQ(o.reason, "approval timed out after 80ms");
  auto late = service_.approve(alice_, held->id(), "");
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().code, ApprovalErrorCode::kConflict);
  EXPECT_EQ(format_duration(10min), "10m");
  EXPECT_EQ(format_duration(90s), "90s");
  EXPECT_EQ(format_duration(2h), "2h");
}

TEST_F(ApprovalServiceTest, ExpiryIsAppliedEvenWithoutAWaiter) {
  HoldRequest req = request();
  req.timeout = 1ms;
  auto held = service_.create(req);
  std::this_thread::sleep_for(5ms);
  auto list = service_.list(Status::kExpired);
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].reason, "approval timed out after 1ms");
}

TEST_F(ApprovalServiceTest, WithdrawWakesTheWaiterAndALaterApproveConflicts) {
  auto held = service_.create(request());
  Waiter waiter(held);
  EXPECT_TRUE(service_.withdraw(held->id()));
  EXPECT_FALSE(service_.withdraw(held->id()));
  Outcome o = waiter.get();
  EXPECT_EQ(o.status, Status::kWithdrawn);
  auto r = service_.approve(alice_, held->id(), "");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ApprovalErrorCode::kConflict);
  EXPECT_THAT(r.error().message, HasSubstr("already withdrawn"));
}

TEST_F(ApprovalServiceTest, CancellingTheWaitingCoroutineWithdrawsTheRequest) {
  using namespace asio::experimental::awaitable_operators;
  auto held = service_.create(request());
  asio::io_context io;
  std::optional<Status> seen;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer give_up(io, 30ms);
        auto r = co_await (held->wait(io.get_executor()) ||
                           give_up.async_wait(asio::use_awaitable));
        seen = r.index() == 0 ? std::get<0>(r).status : Status::kPending;
      },
      asio::detached);
  io.run_for(2s);
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(*seen, Status::kPending);  // the timer won the race
  EXPECT_EQ(held->status(), Status::kWithdrawn);
  EXPECT_EQ(held->snapshot().reason, "the session stopped waiting");
}

TEST_F(ApprovalServiceTest, TwoHundredHoldsWaitOnOneThreadAndAreDecidedFromAnother) {
  constexpr int kHolds = 200;
  asio::io_context io;
  std::vector<std::shared_ptr<HeldStatement>> held;
  std::atomic<int> approved{0};
  std::atomic<int> denied{0};
  std::atomic<int> done{0};
  for (int i = 0; i < kHolds; ++i) {
    held.push_back(service_.create(request("DELETE FROM orders WHERE id = " + std::to_string(i))));
    asio::co_spawn(
        io,
        [&, h = held.back()]() -> asio::awaitable<void> {
          Outcome o = co_await h->wait(io.get_executor());
          (o.status == Status::kApproved ? approved : denied)++;
          done++;
        },
        asio::detached);
  }
  std::thread io_thread([&] { io.run(); });  // the only thread running the waiters
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(done.load(), 0);
  std::thread decider([&] {
    for (int i = 0; i < kHolds; ++i) {
      auto r = i % 4 == 0 ? service_.deny(bob_, held[i]->id(), "")
                          : service_.approve(alice_, held[i]->id(), "");
      EXPECT_TRUE(r.has_value());
    }
  });
  decider.join();
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (done.load() < kHolds && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  io_thread.join();  // run() returns once every waiter finished: no timer is left behind
  EXPECT_EQ(done.load(), kHolds);
  EXPECT_EQ(approved.load(), 150);
  EXPECT_EQ(denied.load(), 50);
  EXPECT_EQ(service_.pending_count(), 0u);
}

TEST_F(ApprovalServiceTest, GrantsMatchTheStatementShapeUntilTheyExpireOrAreRevoked) {
  auto held = service_.create(request());
  auto r = service_.approve(alice_, held->id(), "", 30min);
  ASSERT_TRUE(r.has_value());
  ASSERT_FALSE(r->grant_id.empty());
  const auto now = Clock::now();
  std::optional<Grant> g = service_.find_grant("ci-deploy", "orders", "fp-delete-orders-by-id", now);
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->id, r->grant_id);
  EXPECT_EQ(g->uses, 1u);
  EXPECT_EQ(g->granted_by, std::vector<std::string>{"alice"});
  EXPECT_EQ(service_.find_grant("ci-deploy", "orders", "fp-delete-orders-by-id", now)->uses, 2u);
  // Another shape, identity or connection: no grant.
  EXPECT_FALSE(service_.find_grant("ci-deploy", "orders", "fp-other", now));
  EXPECT_FALSE(service_.find_grant("someone", "orders", "fp-delete-orders-by-id", now));
  EXPECT_FALSE(service_.find_grant("ci-deploy", "billing", "fp-delete-orders-by-id", now));
  // Expired after 30 minutes.
  EXPECT_FALSE(service_.find_grant("ci-deploy", "orders", "fp-delete-orders-by-id", now + 31min));
  // Revocation: only by an approver listed for the rule.
  auto refused = service_.revoke_grant(carol_, g->id);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ApprovalErrorCode::kForbidden);
  ASSERT_TRUE(service_.revoke_grant(bob_, g->id).has_value());
  EXPECT_FALSE(service_.find_grant("ci-deploy", "orders", "fp-delete-orders-by-id", now));
  EXPECT_EQ(service_.revoke_grant(bob_, g->id).error().code, ApprovalErrorCode::kConflict);
  EXPECT_TRUE(service_.list_grants(Clock::now()).empty());
  ASSERT_EQ(service_.list_grants(Clock::now(), true).size(), 1u);
  // Grant length is bounded.
  auto held2 = service_.create(request());
  auto too_long = service_.approve(alice_, held2->id(), "", 48h);
  ASSERT_FALSE(too_long.has_value());
  EXPECT_EQ(too_long.error().code, ApprovalErrorCode::kInvalid);
  EXPECT_EQ(held2->status(), Status::kPending);
}

TEST(ApprovalPersistence, HistoryAndGrantsSurviveARestartAndPendingRequestsAreOrphaned) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("custos-approval-test-" + core::random_hex(6));
  const std::string path = (dir / "custos.db").string();
  const auto approvers = team();
  std::string approved_id, pending_id, grant_id;
  {
    auto store = store::SqliteApprovalStore::open(path);
    ASSERT_TRUE(store.has_value()) << store.error().message;
    ApprovalService service(approvers, "http://gw", store->get());
    HoldRequest req = request("DELETE FROM orders WHERE note = 'it''s ✓'");
    req.min_approvals = 2;
    auto a = service.create(req);
    approved_id = a->id();
    ASSERT_TRUE(service.approve(approvers[0], a->id(), "first").has_value());
    auto r = service.approve(approvers[1], a->id(), "second", 1h);
    ASSERT_TRUE(r.has_value());
    grant_id = r->grant_id;
    pending_id = service.create(request())->id();
  }
  auto store = store::SqliteApprovalStore::open(path);
  ASSERT_TRUE(store.has_value());
  ApprovalService service(approvers, "http://gw", store->get());
  auto approved = service.get(approved_id);
  ASSERT_TRUE(approved.has_value());
  EXPECT_EQ(approved->status, Status::kApproved);
  EXPECT_EQ(approved->request.statement, "DELETE FROM orders WHERE note = 'it''s ✓'");
  EXPECT_EQ(approved->request.kinds, std::vector<std::string>{"delete"});
  EXPECT_EQ(approved->request.min_approvals, 2);
  ASSERT_EQ(approved->decisions.size(), 2u);
  EXPECT_EQ(approved->decisions[0].approver, "alice");
  EXPECT_EQ(approved->decisions[1].reason, "second");
  EXPECT_EQ(approved->grant_id, grant_id);
  auto pending = service.get(pending_id);
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->status, Status::kOrphaned);
  EXPECT_THAT(pending->reason, HasSubstr("restarted"));
  auto late = service.approve(approvers[0], pending_id, "");
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().code, ApprovalErrorCode::kConflict);
  auto all = service.list(std::nullopt);
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->size(), 2u);
  EXPECT_EQ(service.list(Status::kApproved)->size(), 1u);
  // The grant is back in force.
  auto g = service.find_grant("ci-deploy", "orders", "fp-delete-orders-by-id", Clock::now());
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->id, grant_id);
  std::filesystem::remove_all(dir);
}

// A local receiver that fails the first `failures` deliveries with 500.
struct Receiver {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> received;  // body, signature
  std::atomic<int> calls{0};
  int failures = 0;

  explicit Receiver(int fail_first) : failures(fail_first) {
    server.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      if (calls++ < failures) {
        res.status = 500;
        return;
      }
      std::lock_guard lock(mu);
      received.emplace_back(req.body, req.get_header_value("X-Custos-Signature"));
      res.status = 204;
    });
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
  }
  ~Receiver() {
    server.stop();
    thread.join();
  }
  size_t count() {
    std::lock_guard lock(mu);
    return received.size();
  }
};

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

TEST(Webhook, SignedEventsAreDeliveredAndRetriedAfterA500) {
  Receiver receiver(2);
  config::Webhook hook{"http://127.0.0.1:" + std::to_string(receiver.port) + "/hook",
                       config::SecretRef{"test-literal:hook-secret"},
                       {"created", "approved"}};
  WebhookNotifier notifier({hook}, 20ms);
  const auto approvers = team();
  ApprovalService service(approvers, "https://gw.example", nullptr, &notifier);
  auto held = service.create(request("DELETE FROM orders WHERE x = '<!channel>'"));
  ASSERT_TRUE(wait_until([&] { return receiver.count() == 1; }));
  EXPECT_EQ(receiver.calls.load(), 3);  // two 500s, then delivered
  ASSERT_TRUE(service.approve(approvers[0], held->id(), "").has_value());
  ASSERT_TRUE(wait_until([&] { return receiver.count() == 2; }));
  std::lock_guard lock(receiver.mu);
  for (const auto& [body, sig] : receiver.received) {
    EXPECT_EQ(sig, WebhookNotifier::signature("hook-secret", body));
    EXPECT_THAT(sig, ::testing::MatchesRegex("sha256=[0-9a-f]{64}"));
  }
  auto created = nlohmann::json::parse(receiver.received[0].first);
  EXPECT_EQ(created["event"], "created");
  EXPECT_EQ(created["approval"]["id"], held->id());
  EXPECT_EQ(created["approval"]["statement"], "DELETE FROM orders WHERE x = '<!channel>'");
  std::string text = created["text"];
  EXPECT_THAT(text, HasSubstr("https://gw.example/approvals/" + held->id()));
  EXPECT_THAT(text, HasSubstr("&lt;!channel&gt;"));  // no Slack mention from SQL text
  EXPECT_EQ(nlohmann::json::parse(receiver.received[1].first)["event"], "approved");
  EXPECT_EQ(notifier.delivered(), 2u);
  // A known HMAC-SHA256 vector (RFC 4231 test case 2).
  EXPECT_EQ(WebhookNotifier::signature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Webhook, AFailingReceiverNeverBlocksOrLosesTheRequest) {
  Receiver receiver(1000);  // always 500
  config::Webhook hook{"http://127.0.0.1:" + std::to_string(receiver.port) + "/hook",
                       config::SecretRef{"test-literal:s"},
                       {}};
  WebhookNotifier notifier({hook}, 10ms);
  const auto approvers = team();
  ApprovalService service(approvers, "https://gw.example", nullptr, &notifier);
  auto start = std::chrono::steady_clock::now();
  auto held = service.create(request());
  ASSERT_TRUE(service.approve(approvers[0], held->id(), "").has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 100ms);
  EXPECT_EQ(held->status(), Status::kApproved);
  ASSERT_TRUE(wait_until([&] { return notifier.failed() == 2; }));
  EXPECT_EQ(receiver.calls.load(), 2 * WebhookNotifier::kMaxAttempts);
  EXPECT_EQ(notifier.delivered(), 0u);
}

TEST(ApprovalPersistence, ARestartOrphansOnlyItsOwnInstancesRequests) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("custos-approval-test-" + core::random_hex(6));
  const std::string path = (dir / "custos.db").string();
  const auto approvers = team();
  std::string mine, theirs;
  {
    auto store = store::SqliteApprovalStore::open(path);
    ASSERT_TRUE(store.has_value()) << store.error().message;
    ApprovalService a(approvers, "http://gw", store->get(), nullptr, "gw-a");
    ApprovalService b(approvers, "http://gw", store->get(), nullptr, "gw-b");
    mine = a.create(request())->id();
    theirs = b.create(request())->id();
  }
  auto store = store::SqliteApprovalStore::open(path);
  ASSERT_TRUE(store.has_value());
  ApprovalService restarted(approvers, "http://gw", store->get(), nullptr, "gw-a");
  auto orphaned = restarted.list(Status::kOrphaned);
  ASSERT_TRUE(orphaned.has_value());
  ASSERT_EQ(orphaned->size(), 1u);
  EXPECT_EQ(orphaned->front().id, mine);
  EXPECT_EQ(orphaned->front().owner, "gw-a");
  auto other = (*store)->get_approval(theirs);
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->status, Status::kPending);  // replica gw-b still holds it
  EXPECT_EQ(other->owner, "gw-b");
  auto late = restarted.approve(approvers[0], mine, "");
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().code, ApprovalErrorCode::kConflict);
  EXPECT_THAT(late.error().message, HasSubstr("orphaned"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace custos::approval
