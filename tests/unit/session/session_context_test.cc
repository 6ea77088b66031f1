// The protocol-neutral session lifecycle: admission, the recording and index row, auth failures
// and the close, as every protocol's sessions go through them.
#include "session/session_context.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/config_loader.h"
#include "core/hex.h"
#include "store/store.h"

namespace custos::session {
namespace {

using ::testing::HasSubstr;

class SessionContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("custos-session-test-" + core::random_hex(6));
    std::filesystem::create_directories(dir_);
    auto cfg = config::load_config_from_string(
        "data_dir: " + dir_.string() + "\n"
        "identities: [{ name: ci }, { name: bot }]\n"
        "connections:\n"
        "  - { name: orders, type: postgres, address: 'db:5432', database: orders,\n"
        "      credentials: { username: u, password: env:P } }\n"
        "policies:\n"
        "  - { name: ci-reads, identities: [ci], connections: [orders],\n"
        "      rules: [ { allow: { kinds: [readonly] } } ] }\n",
        "test.yaml", dir_.string());
    ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
    services_.cfg = std::move(*cfg);
    auto backend = store::open_backend(services_.cfg.store_url());
    ASSERT_TRUE(backend.has_value()) << backend.error().message;
    services_.backend = std::move(*backend);
    auto sink = record::RecordingSink::open({services_.cfg.data_dir, std::chrono::milliseconds(0)});
    ASSERT_TRUE(sink.has_value());
    services_.sink = std::move(*sink);
  }
  void TearDown() override {
    services_.sink->stop();
    std::filesystem::remove_all(dir_);
  }

  static identity::Principal principal(std::string name) {
    identity::Principal p;
    p.identity = std::move(name);
    p.auth_method = "api_key";
    p.key_id = "k1";
    return p;
  }

  std::string recording_of(const SessionContext& s) {
    services_.sink->stop();
    std::ifstream in(s.recorder()->path());
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  std::filesystem::path dir_;
  server::Services services_;
};

TEST_F(SessionContextTest, AdmittedSessionIsRecordedIndexedAndClosedOnce) {
  SessionContext s(services_, "postgres", "127.0.0.1:5000");
  s.authenticated(principal("ci"));
  EXPECT_EQ(s.auth_key_id(), "k1");
  ASSERT_FALSE(s.admit("orders").has_value());
  ASSERT_NE(s.policy(), nullptr);
  EXPECT_EQ(s.policy()->name, "ci-reads");
  EXPECT_TRUE(s.target_read_only());  // default deny, only readonly kinds
  ASSERT_TRUE(s.open_recording("db:5432/orders", "TLSv1.3"));
  s.count_command();
  s.count_from_client(10);
  s.count_from_target(20);
  s.set_close_reason(core::CloseReason::client_eof);
  s.set_close_reason(core::CloseReason::shutdown);  // the first reason wins
  s.close();
  s.close();
  auto row = services_.store().get_session(s.id());
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->status, "closed");
  EXPECT_EQ(row->close_reason, "client_eof");
  EXPECT_EQ(row->statements, 1u);
  EXPECT_EQ(row->bytes_from_target, 20u);
  const std::string rec = recording_of(s);
  EXPECT_THAT(rec, HasSubstr("\"protocol\":\"postgres\""));
  EXPECT_THAT(rec, HasSubstr("\"target_read_only\":true"));
  size_t ends = 0;
  for (size_t at = rec.find("session_end"); at != std::string::npos;
       at = rec.find("session_end", at + 1)) {
    ++ends;
  }
  EXPECT_EQ(ends, 1u);
}

TEST_F(SessionContextTest, RefusedAdmissionIsAnAuthFailureWithItsOwnRecording) {
  SessionContext unknown(services_, "postgres", "127.0.0.1:5001");
  unknown.authenticated(principal("ci"));
  EXPECT_EQ(unknown.admit("payments"), "unknown connection");
  SessionContext unpermitted(services_, "postgres", "127.0.0.1:5002");
  unpermitted.authenticated(principal("bot"));
  EXPECT_EQ(unpermitted.admit("orders"), "no policy permits this identity on this connection");
  EXPECT_EQ(unpermitted.close_reason(), core::CloseReason::auth_failed);
  unpermitted.close();
  auto row = services_.store().get_session(unpermitted.id());
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->status, "auth_failed");
  EXPECT_EQ(row->identity, "bot");
  EXPECT_THAT(recording_of(unpermitted), HasSubstr("auth_failed"));
}

TEST_F(SessionContextTest, SessionIdsAreTimeOrderedAndUnique) {
  SessionContext a(services_, "postgres", "x");
  SessionContext b(services_, "postgres", "x");
  EXPECT_NE(a.id(), b.id());
  EXPECT_THAT(a.id(), ::testing::MatchesRegex("[0-9a-f]{8,}-[0-9a-f]{12}"));
}

}  // namespace
}  // namespace custos::session
