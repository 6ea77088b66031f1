// The approvals REST API and page on a real cpp-httplib server at 127.0.0.1:<free port>,
// driven with cpp-httplib's client.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include <thread>

#include "api/approval_routes.h"
#include "api/approvals_page.h"
#include "approval/approval_service.h"
#include "core/hex.h"

namespace custos::api {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;
using namespace std::chrono_literals;

config::Approver approver(std::string name, std::vector<std::string> groups) {
  return config::Approver{name, std::move(groups), core::sha256_hex("token-" + name), 1};
}

class ApprovalApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    register_approval_routes(server_, service_);
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
  }
  void TearDown() override {
    server_.stop();
    thread_.join();
  }

  std::shared_ptr<approval::HeldStatement> hold(std::string statement, int min_approvals = 1) {
    approval::HoldRequest r;
    r.session_id = "s1";
    r.identity = "ci-deploy";
    r.connection = "orders";
    r.statement = std::move(statement);
    r.kinds = {"delete"};
    r.tables = {"public.orders"};
    r.fingerprint = "fp1";
    r.policy = "p";
    r.rule = 2;
    r.approvers = {"group:dba"};
    r.min_approvals = min_approvals;
    r.preview_text = "would delete 3 rows";
    return service_.create(r);
  }

  httplib::Headers auth(const std::string& who) {
    return {{"Authorization", "Bearer token-" + who}};
  }

  httplib::Result post(const std::string& path, const std::string& who, const std::string& body) {
    return client_->Post(path, auth(who), body, "application/json");
  }

  std::vector<config::Approver> team_ = {approver("alice", {"dba"}), approver("bob", {"dba"}),
                                         approver("carol", {"ops"}),
                                         approver("ci-deploy", {"dba"})};
  approval::ApprovalService service_{team_, "http://gw.example:8009"};
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(ApprovalApiTest, EveryApiRouteNeedsAValidBearerToken) {
  auto held = hold("DELETE FROM orders");
  const std::string id = held->id();
  for (const std::string& path : {std::string("/api/approvals"), "/api/approvals/" + id,
                                  std::string("/api/grants"), std::string("/api/whoami")}) {
    auto none = client_->Get(path);
    ASSERT_TRUE(none);
    EXPECT_EQ(none->status, 401) << path;
    EXPECT_EQ(none->get_header_value("WWW-Authenticate"), "Bearer realm=\"custos approvals\"");
    auto wrong = client_->Get(path, httplib::Headers{{"Authorization", "Bearer nope"}});
    ASSERT_TRUE(wrong);
    EXPECT_EQ(wrong->status, 401) << path;
    EXPECT_EQ(json::parse(wrong->body)["error"], "invalid approver token");
  }
  auto basic = client_->Get("/api/approvals", httplib::Headers{{"Authorization", "token-alice"}});
  EXPECT_EQ(basic->status, 401);
  auto r = client_->Post("/api/approvals/" + id + "/approve", "", "application/json");
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(held->status(), approval::Status::kPending);
}

TEST_F(ApprovalApiTest, ListAndGetReturnTheDocumentedShape) {
  auto held = hold("DELETE FROM orders WHERE id = 7");
  auto r = client_->Get("/api/approvals?status=pending", auth("alice"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Cache-Control"), "no-store");
  json body = json::parse(r->body);
  ASSERT_EQ(body["approvals"].size(), 1u);
  json a = body["approvals"][0];
  EXPECT_EQ(a["id"], held->id());
  EXPECT_EQ(a["identity"], "ci-deploy");
  EXPECT_EQ(a["connection"], "orders");
  EXPECT_EQ(a["statement"], "DELETE FROM orders WHERE id = 7");
  EXPECT_EQ(a["kinds"], json::array({"delete"}));
  EXPECT_EQ(a["tables"], json::array({"public.orders"}));
  EXPECT_EQ(a["status"], "pending");
  EXPECT_EQ(a["decisions"], json::array());
  EXPECT_EQ(a["preview"], "would delete 3 rows");
  EXPECT_EQ(a["url"], "http://gw.example:8009/approvals/" + held->id());
  EXPECT_EQ(a["can_decide"], true);
  EXPECT_THAT(a["requested_at"].get<std::string>(),
              ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T.*Z"));
  EXPECT_TRUE(a.contains("expires_at"));
  // Carol may look, not decide; the requester itself may not decide.
  EXPECT_EQ(json::parse(client_->Get("/api/approvals/" + held->id(), auth("carol"))->body)
                ["can_decide"],
            false);
  EXPECT_EQ(json::parse(client_->Get("/api/approvals/" + held->id(), auth("ci-deploy"))->body)
                ["can_decide"],
            false);
  EXPECT_EQ(json::parse(client_->Get("/api/approvals?status=approved", auth("alice"))->body)
                ["approvals"]
                    .size(),
            0u);
  EXPECT_EQ(client_->Get("/api/approvals?status=bogus", auth("alice"))->status, 400);
  EXPECT_EQ(client_->Get("/api/approvals/abcdefghij", auth("alice"))->status, 404);
  EXPECT_EQ(client_->Get("/api/approvals/NOT-AN-ID", auth("alice"))->status, 404);
  auto who = client_->Get("/api/whoami", auth("bob"));
  EXPECT_EQ(json::parse(who->body)["name"], "bob");
}

TEST_F(ApprovalApiTest, ApproveAndDenyAnswerWithTheRightStatusCodes) {
  auto held = hold("DELETE FROM orders");
  const std::string base = "/api/approvals/" + held->id();
  auto self = post(base + "/approve", "ci-deploy", "");
  EXPECT_EQ(self->status, 403);
  EXPECT_THAT(json::parse(self->body)["error"].get<std::string>(), HasSubstr("your own"));
  EXPECT_EQ(post(base + "/approve", "carol", "")->status, 403);
  EXPECT_EQ(post(base + "/approve", "alice", "{not json")->status, 400);
  EXPECT_EQ(post(base + "/approve", "alice", R"({"reason": 5})")->status, 400);
  EXPECT_EQ(post(base + "/approve", "alice", R"({"grant_for": "forever"})")->status, 400);
  EXPECT_EQ(post(base + "/approve", "alice", R"({"rason": "typo"})")->status, 400);
  EXPECT_EQ(post(base + "/deny", "alice", R"({"grant_for": "30m"})")->status, 400);
  EXPECT_EQ(post("/api/approvals/abcdefghij/approve", "alice", "")->status, 404);
  EXPECT_EQ(held->status(), approval::Status::kPending);

  auto ok = post(base + "/approve", "alice", R"({"reason": "ticket OPS-1"})");
  ASSERT_EQ(ok->status, 200) << ok->body;
  json a = json::parse(ok->body);
  EXPECT_EQ(a["status"], "approved");
  EXPECT_EQ(a["reason"], "approved by alice: ticket OPS-1");
  ASSERT_EQ(a["decisions"].size(), 1u);
  EXPECT_EQ(a["decisions"][0]["approver"], "alice");
  EXPECT_EQ(a["decisions"][0]["decision"], "approve");
  EXPECT_EQ(a["decisions"][0]["reason"], "ticket OPS-1");
  EXPECT_EQ(held->status(), approval::Status::kApproved);
  auto again = post(base + "/deny", "bob", "");
  EXPECT_EQ(again->status, 409);
  EXPECT_THAT(json::parse(again->body)["error"].get<std::string>(), HasSubstr("already approved"));

  auto other = hold("DELETE FROM orders WHERE 1=1");
  auto denied = post("/api/approvals/" + other->id() + "/deny", "bob", R"({"reason": "no"})");
  ASSERT_EQ(denied->status, 200);
  EXPECT_EQ(json::parse(denied->body)["status"], "denied");
  EXPECT_EQ(other->status(), approval::Status::kDenied);

  auto withdrawn = hold("DELETE FROM orders WHERE 2=2");
  service_.withdraw(withdrawn->id());
  EXPECT_EQ(post("/api/approvals/" + withdrawn->id() + "/approve", "alice", "")->status, 409);
}

TEST_F(ApprovalApiTest, GrantsAreCreatedListedAndRevoked) {
  auto held = hold("DELETE FROM orders WHERE id = 1");
  auto ok = post("/api/approvals/" + held->id() + "/approve", "alice", R"({"grant_for": "30m"})");
  ASSERT_EQ(ok->status, 200) << ok->body;
  const std::string grant_id = json::parse(ok->body)["grant_id"];
  ASSERT_EQ(grant_id.size(), 10u);
  auto list = client_->Get("/api/grants", auth("bob"));
  ASSERT_EQ(list->status, 200);
  json grants = json::parse(list->body)["grants"];
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(grants[0]["id"], grant_id);
  EXPECT_EQ(grants[0]["identity"], "ci-deploy");
  EXPECT_EQ(grants[0]["fingerprint"], "fp1");
  EXPECT_EQ(grants[0]["active"], true);
  EXPECT_EQ(grants[0]["uses"], 0);
  EXPECT_TRUE(service_.find_grant("ci-deploy", "orders", "fp1", approval::Clock::now()));
  EXPECT_EQ(post("/api/grants/" + grant_id + "/revoke", "carol", "")->status, 403);
  auto revoked = post("/api/grants/" + grant_id + "/revoke", "bob", "");
  ASSERT_EQ(revoked->status, 200);
  EXPECT_EQ(json::parse(revoked->body)["revoked_by"], "bob");
  EXPECT_EQ(json::parse(revoked->body)["uses"], 1);
  EXPECT_EQ(post("/api/grants/" + grant_id + "/revoke", "bob", "")->status, 409);
  EXPECT_EQ(post("/api/grants/abcdefghij/revoke", "bob", "")->status, 404);
  EXPECT_FALSE(service_.find_grant("ci-deploy", "orders", "fp1", approval::Clock::now()));
  EXPECT_EQ(json::parse(client_->Get("/api/grants", auth("bob"))->body)["grants"].size(), 0u);
  EXPECT_EQ(json::parse(client_->Get("/api/grants?all=1", auth("bob"))->body)["grants"].size(),
            1u);
}

TEST_F(ApprovalApiTest, ThePageIsServedWithAStrictContentSecurityPolicy) {
  auto page = client_->Get("/approvals");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->get_header_value("Content-Type"), HasSubstr("text/html"));
  const std::string csp = page->get_header_value("Content-Security-Policy");
  EXPECT_THAT(csp, HasSubstr("script-src 'self'"));
  EXPECT_THAT(csp, HasSubstr("frame-ancestors 'none'"));
  EXPECT_THAT(page->body, HasSubstr("<script src=\"/approvals/app.js\"></script>"));
  EXPECT_THAT(page->body, Not(HasSubstr("<script>")));  // no inline script
  EXPECT_THAT(page->body, HasSubstr("<title>custos approvals</title>"));
  EXPECT_THAT(page->body, Not(HasSubstr("{{")));  // every placeholder of the template filled
  auto detail = client_->Get("/approvals/abcdefghij");
  EXPECT_EQ(detail->status, 200);
  EXPECT_THAT(detail->body, HasSubstr("data-approval-id=\"abcdefghij\""));
  EXPECT_THAT(detail->body, HasSubstr("<h1>custos approval abcdefghij</h1>"));
  EXPECT_THAT(detail->body, Not(HasSubstr("{{")));
  auto js = client_->Get("/approvals/app.js");
  EXPECT_EQ(js->status, 200);
  EXPECT_THAT(js->get_header_value("Content-Type"), HasSubstr("javascript"));
  EXPECT_THAT(js->body, Not(HasSubstr("innerHTML")));  // values are placed as text only
  auto css = client_->Get("/approvals/app.css");
  EXPECT_EQ(css->status, 200);
  EXPECT_THAT(css->get_header_value("Content-Type"), HasSubstr("text/css"));
}

TEST(ApprovalsPage, HtmlEscapeNeutralisesMarkup) {
  EXPECT_EQ(html_escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
  EXPECT_THAT(approvals_page_html("\"><script>"), Not(HasSubstr("\"><script>")));
  // A value that looks like a placeholder is text, not filled in turn.
  EXPECT_THAT(approvals_page_html("{{title}}"), HasSubstr("data-approval-id=\"{{title}}\""));
}

}  // namespace
}  // namespace custos::api
