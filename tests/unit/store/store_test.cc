#include "store/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite/sqlite_store.h"

namespace custos::store {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/custos_store_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    db_path_ = dir_ + "/nested/dir/custos.db";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static SessionRow row(const std::string& id, const std::string& identity,
                        Clock::time_point started) {
    SessionRow r;
    r.id = id;
    r.identity = identity;
    r.auth_method = "api_key";
    r.connection = "orders";
    r.client_addr = "10.0.0.5:51234";
    r.target = "db.internal:5432/orders";
    r.started_at = started;
    r.recording_path = "/data/recordings/2026-11-29/" + id + ".jsonl";
    return r;
  }

  std::string dir_;
  std::string db_path_;
};

TEST_F(StoreTest, StartEndGetRoundTrip) {
  auto st = SqliteStore::open(db_path_);
  ASSERT_TRUE(st.has_value()) << st.error().message;
  EXPECT_TRUE(fs::exists(db_path_));
  EXPECT_EQ((*st)->schema_version(), 1);

  auto t0 = Clock::time_point(std::chrono::microseconds(1'795'000'000'123'456));
  ASSERT_TRUE((*st)->record_session_start(row("s1", "ci-deploy", t0)));
  auto got = (*st)->get_session("s1");
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(got->identity, "ci-deploy");
  EXPECT_EQ(got->auth_method, "api_key");
  EXPECT_EQ(got->connection, "orders");
  EXPECT_EQ(got->client_addr, "10.0.0.5:51234");
  EXPECT_EQ(got->target, "db.internal:5432/orders");
  EXPECT_EQ(got->started_at, t0);
  EXPECT_FALSE(got->ended_at.has_value());
  EXPECT_EQ(got->status, "active");
  EXPECT_EQ(got->recording_path, "/data/recordings/2026-11-29/s1.jsonl");

  auto t1 = t0 + std::chrono::seconds(42);
  ASSERT_TRUE((*st)->record_session_end("s1", t1, "client_eof", 7, 1234, 56789));
  got = (*st)->get_session("s1");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->status, "closed");
  EXPECT_EQ(got->close_reason, "client_eof");
  ASSERT_TRUE(got->ended_at.has_value());
  EXPECT_EQ(*got->ended_at, t1);
  EXPECT_EQ(got->statements, 7u);
  EXPECT_EQ(got->bytes_from_client, 1234u);
  EXPECT_EQ(got->bytes_from_target, 56789u);
}

TEST_F(StoreTest, MissingSessionsAndDuplicateIds) {
  auto st = SqliteStore::open(db_path_);
  ASSERT_TRUE(st.has_value());
  auto missing = (*st)->get_session("nope");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  auto end = (*st)->record_session_end("nope", Clock::now(), "client_eof", 0, 0, 0);
  ASSERT_FALSE(end.has_value());
  EXPECT_EQ(end.error().code, ErrorCode::kNotFound);
  ASSERT_TRUE((*st)->record_session_start(row("dup", "a", Clock::now())));
  EXPECT_FALSE((*st)->record_session_start(row("dup", "b", Clock::now())).has_value());
  EXPECT_EQ((*st)->get_session("dup")->identity, "a");
}

TEST_F(StoreTest, AuthFailedSessionsKeepTheirStatus) {
  auto st = SqliteStore::open(db_path_);
  ASSERT_TRUE(st.has_value());
  auto r = row("af", "mallory", Clock::now());
  r.status = "auth_failed";
  ASSERT_TRUE((*st)->record_session_start(r));
  ASSERT_TRUE((*st)->record_session_end("af", Clock::now(), "auth_failed", 0, 80, 0));
  EXPECT_EQ((*st)->get_session("af")->status, "auth_failed");
  // A session that started normally but ends with reason auth_failed is auth_failed too.
  ASSERT_TRUE((*st)->record_session_start(row("af2", "x", Clock::now())));
  ASSERT_TRUE((*st)->record_session_end("af2", Clock::now(), "auth_failed", 0, 0, 0));
  EXPECT_EQ((*st)->get_session("af2")->status, "auth_failed");
}

TEST_F(StoreTest, ListIsNewestFirstWithLimitAndIdentityFilter) {
  auto st = SqliteStore::open(db_path_);
  ASSERT_TRUE(st.has_value());
  auto base = Clock::now();
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE((*st)->record_session_start(
        row("s" + std::to_string(i), i % 2 ? "bot" : "ci", base + std::chrono::seconds(i))));
  }
  auto all = (*st)->list_sessions(100);
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), 6u);
  EXPECT_EQ((*all)[0].id, "s5");
  EXPECT_EQ((*all)[5].id, "s0");
  auto two = (*st)->list_sessions(2);
  ASSERT_TRUE(two.has_value());
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[1].id, "s4");
  auto ci = (*st)->list_sessions(100, std::string("ci"));
  ASSERT_TRUE(ci.has_value());
  ASSERT_EQ(ci->size(), 3u);
  for (const auto& r : *ci) {
    EXPECT_EQ(r.identity, "ci");
  }
  EXPECT_EQ((*ci)[0].id, "s4");
  EXPECT_TRUE((*st)->list_sessions(10, std::string("nobody"))->empty());
}

TEST_F(StoreTest, ReopenKeepsDataUsesWalAndDoesNotRemigrate) {
  {
    auto st = SqliteStore::open(db_path_);
    ASSERT_TRUE(st.has_value());
    ASSERT_TRUE((*st)->record_session_start(row("keep", "ci", Clock::now())));
  }
  auto st = SqliteStore::open(db_path_);
  ASSERT_TRUE(st.has_value()) << st.error().message;
  EXPECT_TRUE((*st)->get_session("keep").has_value());
  EXPECT_EQ((*st)->schema_version(), 1);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, 0))), "wal");
  sqlite3_finalize(s);
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT count(*) FROM schema_version", -1, &s, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(s, 0), 1);
  sqlite3_finalize(s);
  sqlite3_close(db);
}

TEST_F(StoreTest, ConcurrentWritersFromSeveralThreads) {
  auto st = SqliteStore::open(db_path_);
  ASSERT_TRUE(st.has_value());
  SqliteStore& store = **st;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (!store.record_session_start(row(id, "id" + std::to_string(t), Clock::now()))) {
          ++failures;
        }
        if (!store.get_session(id)) {
          ++failures;
        }
        if (!store.record_session_end(id, Clock::now(), "client_eof", uint64_t(i), 1, 2)) {
          ++failures;
        }
        if (!store.list_sessions(5)) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(failures.load(), 0);
  auto all = store.list_sessions(10000);
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), size_t(kThreads * kPerThread));
  std::set<std::string> ids;
  for (const auto& r : *all) {
    EXPECT_EQ(r.status, "closed");
    ids.insert(r.id);
  }
  EXPECT_EQ(ids.size(), size_t(kThreads * kPerThread));
  EXPECT_EQ(store.list_sessions(1000, std::string("id3"))->size(), size_t(kPerThread));
}

TEST_F(StoreTest, OpenStoreFactory) {
  auto st = open_store("sqlite://" + db_path_);
  ASSERT_TRUE(st.has_value()) << st.error().message;
  ASSERT_TRUE((*st)->record_session_start(row("f", "ci", Clock::now())));
  EXPECT_EQ((*st)->get_session("f")->identity, "ci");

  auto pg = open_store("postgres://custos@db/custos");
  ASSERT_FALSE(pg.has_value());
  EXPECT_EQ(pg.error().code, ErrorCode::kConfig);
  EXPECT_NE(pg.error().message.find("postgres"), std::string::npos);
  EXPECT_NE(pg.error().message.find("sqlite://"), std::string::npos);
  EXPECT_FALSE(open_store("sqlite://").has_value());
  EXPECT_FALSE(open_store("/just/a/path.db").has_value());
}

}  // namespace
}  // namespace custos::store
