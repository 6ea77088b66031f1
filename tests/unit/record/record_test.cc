#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/hex.h"
#include "record/json_writer.h"
#include "record/recording_paths.h"
#include "record/recording_sink.h"
#include "record/session_recorder.h"
#include "record/timestamp.h"
#include "record/transcript.h"
#include "record/verifier.h"

namespace custos::record {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_all(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

std::vector<std::string> split_lines(const std::string& data) {
  std::vector<std::string> lines;
  std::istringstream in(data);
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
  }
  return lines;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) {
    out += l + "\n";
  }
  return out;
}

class RecordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/custos_record_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::unique_ptr<RecordingSink> make_sink(milliseconds interval = milliseconds(0),
                                           decltype(RecordingSinkOptions::write_fn) fn = {}) {
    auto sink = RecordingSink::open({dir_, interval, std::move(fn)});
    EXPECT_TRUE(sink.has_value());
    return std::move(*sink);
  }

  static SessionStartEvent start_event() {
    SessionStartEvent e;
    e.identity = "ci-deploy";
    e.auth_method = "api_key";
    e.key_id = "k1a2b3";
    e.client_addr = "10.0.0.5:51234";
    e.connection = "orders";
    e.target = "db.internal:5432/orders";
    e.tls_version = "TLSv1.3";
    return e;
  }

  // A complete session: start, n statements each with a result, end. Returns the file path.
  std::string write_session(RecordingSink& sink, const std::string& id, int n) {
    auto rec = SessionRecorder::create(sink, id, std::chrono::system_clock::now());
    EXPECT_TRUE(rec.has_value());
    EXPECT_TRUE((*rec)->on_session_start(start_event()).has_value());
    for (int i = 0; i < n; ++i) {
      std::string text = "SELECT " + std::to_string(i);
      EXPECT_TRUE((*rec)->on_statement({text, StatementMode::kSimple, ""}).has_value());
      (*rec)->on_result({"SELECT 1", 1, 120 + i, "", ""});
    }
    (*rec)->on_session_end({"client_eof", 1000, 2000});
    EXPECT_EQ((*rec)->events_written(), uint64_t(2 * n + 2));
    return (*rec)->path();
  }

  std::string dir_;
};

TEST_F(RecordTest, WritesAVerifiableHashChainedSession) {
  auto sink = make_sink();
  auto start = std::chrono::system_clock::now();
  auto rec = SessionRecorder::create(*sink, "sess-1", start);
  ASSERT_TRUE(rec.has_value());
  std::string expected_path = dir_ + "/recordings/" + format_date(start) + "/sess-1.jsonl";
  EXPECT_EQ((*rec)->path(), expected_path);
  ASSERT_TRUE((*rec)->on_session_start(start_event()).has_value());
  ASSERT_TRUE((*rec)->on_statement({"SELECT 1", StatementMode::kSimple, ""}).has_value());
  (*rec)->on_result({"SELECT 1", 1, 250, "", ""});
  ASSERT_TRUE((*rec)->on_statement({"UPDATE t SET a=1", StatementMode::kExtended, "s1"}));
  (*rec)->on_result({"", 0, 90, "42P01", "relation \"t\" does not exist"});
  (*rec)->on_session_end({"client_eof", 321, 654});
  EXPECT_TRUE((*rec)->closed());
  EXPECT_EQ((*rec)->events_written(), 6u);

  auto data = read_all(expected_path);
  auto lines = split_lines(data);
  ASSERT_EQ(lines.size(), 6u);
  // Exact layout of the first line, and its hash recomputed here independently.
  const std::string& first = lines[0];
  EXPECT_TRUE(first.starts_with("{\"seq\":1,\"ts\":\"")) << first;
  EXPECT_NE(
      first.find("\"type\":\"session_start\",\"session\":\"sess-1\",\"identity\":\"ci-deploy\","
                 "\"auth_method\":\"api_key\",\"key_id\":\"k1a2b3\",\"client_addr\":"
                 "\"10.0.0.5:51234\",\"connection\":\"orders\",\"target\":"
                 "\"db.internal:5432/orders\",\"tls_version\":\"TLSv1.3\",\"protocol\":"
                 "\"postgres\",\"prev\":\"" +
                 std::string(64, '0') + "\",\"hash\":\""),
      std::string::npos)
      << first;
  size_t h = first.rfind(",\"hash\":\"");
  std::string body = first.substr(0, h) + "}";
  auto j1 = nlohmann::json::parse(first);
  EXPECT_EQ(j1["hash"], core::sha256_hex(body));
  auto j2 = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(j2["prev"], j1["hash"]);
  EXPECT_EQ(j2["type"], "statement");
  EXPECT_EQ(j2["mode"], "simple");
  EXPECT_EQ(j2["prepared"], "");
  auto j5 = nlohmann::json::parse(lines[4]);
  EXPECT_EQ(j5["type"], "statement_result");
  EXPECT_EQ(j5["sqlstate"], "42P01");
  auto j6 = nlohmann::json::parse(lines[5]);
  EXPECT_EQ(j6["type"], "session_end");
  EXPECT_EQ(j6["statements"], 2);
  EXPECT_EQ(j6["bytes_from_client"], 321);
  EXPECT_EQ(j6["bytes_from_target"], 654);
  EXPECT_TRUE(parse_timestamp_us(j6["ts"].get<std::string>()).has_value());

  auto rep = verify_recording(expected_path);
  EXPECT_TRUE(rep.ok) << rep.message;
  EXPECT_EQ(rep.events, 6u);
  EXPECT_FALSE(rep.torn_tail);
  EXPECT_TRUE(rep.complete);
  EXPECT_FALSE(rep.first_broken_seq.has_value());
  EXPECT_EQ(rep.session_id, "sess-1");
}

TEST_F(RecordTest, FlippedByteInTheMiddleIsDetectedAtItsSeq) {
  auto sink = make_sink();
  auto path = write_session(*sink, "flip", 5);
  auto lines = split_lines(read_all(path));
  ASSERT_EQ(lines.size(), 12u);
  // seq 4 is "SELECT 1": change the statement text, keeping the line valid JSON.
  size_t at = lines[3].find("SELECT 1");
  ASSERT_NE(at, std::string::npos);
  lines[3][at + 7] = '9';
  write_all(path, join_lines(lines));
  auto rep = verify_recording(path);
  EXPECT_FALSE(rep.ok);
  ASSERT_TRUE(rep.first_broken_seq.has_value());
  EXPECT_EQ(*rep.first_broken_seq, 4u);
  EXPECT_EQ(rep.events, 3u);

  // A flipped digit in a result's row count (seq 7) is caught the same way.
  auto path2 = write_session(*sink, "flip2", 5);
  auto data = read_all(path2);
  auto lines2 = split_lines(data);
  size_t rows = lines2[6].find("\"rows\":1");
  ASSERT_NE(rows, std::string::npos);
  lines2[6][rows + 7] = '7';
  write_all(path2, join_lines(lines2));
  auto rep2 = verify_recording(path2);
  EXPECT_FALSE(rep2.ok);
  EXPECT_EQ(rep2.first_broken_seq, std::optional<uint64_t>(7));
}

TEST_F(RecordTest, DeletedMiddleLineBreaksTheChain) {
  auto sink = make_sink();
  auto path = write_session(*sink, "del", 4);
  auto lines = split_lines(read_all(path));
  lines.erase(lines.begin() + 4);  // seq 5
  write_all(path, join_lines(lines));
  auto rep = verify_recording(path);
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.first_broken_seq, std::optional<uint64_t>(5));
}

TEST_F(RecordTest, SwappedLinesBreakTheChain) {
  auto sink = make_sink();
  auto path = write_session(*sink, "del2", 2);
  auto lines = split_lines(read_all(path));
  ASSERT_EQ(lines.size(), 6u);
  // Swap seq 3 and seq 4: the chain breaks at position 3.
  std::swap(lines[2], lines[3]);
  write_all(path, join_lines(lines));
  auto rep = verify_recording(path);
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.first_broken_seq, std::optional<uint64_t>(3));
}

TEST_F(RecordTest, TruncatedLastLineIsATornTailNotTampering) {
  auto sink = make_sink();
  auto path = write_session(*sink, "torn", 3);
  auto data = read_all(path);
  ASSERT_EQ(data.back(), '\n');
  size_t last_start = data.rfind('\n', data.size() - 2) + 1;
  data.resize(last_start + (data.size() - last_start) / 2);  // half of the session_end line
  write_all(path, data);
  auto rep = verify_recording(path);
  EXPECT_TRUE(rep.ok) << rep.message;
  EXPECT_TRUE(rep.torn_tail);
  EXPECT_FALSE(rep.complete);
  EXPECT_EQ(rep.events, 7u);
  EXPECT_NE(rep.message.find("torn"), std::string::npos);

  // A terminated but unparseable final line (e.g. zero-filled after a crash) is torn as well.
  data.resize(last_start);
  data += std::string(40, '\0') + "\n";
  write_all(path, data);
  rep = verify_recording(path);
  EXPECT_TRUE(rep.ok) << rep.message;
  EXPECT_TRUE(rep.torn_tail);
  EXPECT_EQ(rep.events, 7u);
}

TEST_F(RecordTest, DamagedLineInTheMiddleIsTampering) {
  auto sink = make_sink();
  auto path = write_session(*sink, "mid", 3);
  auto lines = split_lines(read_all(path));
  lines[2] = lines[2].substr(0, lines[2].size() / 2);  // seq 3 cut short, later lines intact
  write_all(path, join_lines(lines));
  auto rep = verify_recording(path);
  EXPECT_FALSE(rep.ok);
  EXPECT_FALSE(rep.torn_tail);
  EXPECT_EQ(rep.first_broken_seq, std::optional<uint64_t>(3));
}

TEST_F(RecordTest, AppendedForgedLineAfterEndIsTampering) {
  auto sink = make_sink();
  auto path = write_session(*sink, "extra", 1);
  auto lines = split_lines(read_all(path));
  lines.push_back(lines[1]);
  write_all(path, join_lines(lines));
  auto rep = verify_recording(path);
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.first_broken_seq, std::optional<uint64_t>(5));
}

TEST_F(RecordTest, ChainIsContinuousAcrossManyEvents) {
  auto sink = make_sink(milliseconds(5));
  auto path = write_session(*sink, "many", 2000);
  auto lines = split_lines(read_all(path));
  ASSERT_EQ(lines.size(), 4002u);
  std::string prev(64, '0');
  for (size_t i = 0; i < lines.size(); ++i) {
    auto j = nlohmann::json::parse(lines[i]);
    ASSERT_EQ(j["seq"].get<uint64_t>(), i + 1);
    ASSERT_EQ(j["prev"].get<std::string>(), prev) << "line " << i + 1;
    prev = j["hash"].get<std::string>();
  }
  auto rep = verify_recording(path);
  EXPECT_TRUE(rep.ok) << rep.message;
  EXPECT_EQ(rep.events, 4002u);
}

TEST_F(RecordTest, ResultsAreBufferedUntilTheNextDurableEvent) {
  auto sink = make_sink();
  auto rec = SessionRecorder::create(*sink, "buf", std::chrono::system_clock::now());
  ASSERT_TRUE(rec.has_value());
  ASSERT_TRUE((*rec)->on_session_start(start_event()));
  ASSERT_TRUE((*rec)->on_statement({"SELECT 1", StatementMode::kSimple, ""}));
  (*rec)->on_result({"SELECT 1", 1, 10, "", ""});
  EXPECT_EQ((*rec)->events_written(), 2u);
  EXPECT_EQ(split_lines(read_all((*rec)->path())).size(), 2u);
  ASSERT_TRUE((*rec)->on_statement({"SELECT 2", StatementMode::kSimple, ""}));
  EXPECT_EQ((*rec)->events_written(), 4u);
  auto lines = split_lines(read_all((*rec)->path()));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_NE(lines[2].find("\"type\":\"statement_result\""), std::string::npos);
  EXPECT_NE(lines[3].find("SELECT 2"), std::string::npos);
  (*rec)->on_result({"SELECT 1", 1, 10, "", ""});
  ASSERT_TRUE((*rec)->flush());
  EXPECT_EQ(split_lines(read_all((*rec)->path())).size(), 5u);
}

TEST_F(RecordTest, TranscriptShowsHeaderStatementsResultsAndEnd) {
  auto sink = make_sink();
  auto rec = SessionRecorder::create(*sink, "tx", std::chrono::system_clock::now());
  ASSERT_TRUE(rec.has_value());
  ASSERT_TRUE((*rec)->on_session_start(start_event()));
  ASSERT_TRUE((*rec)->on_statement({"SELECT * FROM customers", StatementMode::kSimple, ""}));
  (*rec)->on_result({"SELECT 3", 3, 1500, "", ""});
  Fields decision;
  decision.raw_json("decision", R"({"verdict":"allow","rule":"ci-on-orders#1"})");
  ASSERT_TRUE((*rec)->on_statement({"DELETE FROM x", StatementMode::kExtended, "s7"}, decision));
  (*rec)->on_result({"", 0, 200, "42501", "permission denied for table x"});
  (*rec)->on_session_end({"client_eof", 111, 222});
  std::string t = render_transcript((*rec)->path());
  for (const char* want :
       {"Session     tx", "Identity    ci-deploy", "api_key (key k1a2b3)", "10.0.0.5:51234",
        "Connection  orders", "db.internal:5432/orders", "TLSv1.3",
        "[simple] SELECT * FROM customers", "-> SELECT 3 (3 rows, 1.500 ms)",
        "[extended s7] DELETE FROM x", "\"verdict\":\"allow\"",
        "-> ERROR 42501 permission denied for table x (0.200 ms)",
        "END client_eof; 111 bytes from client, 222 bytes from target; 2 statements"}) {
    EXPECT_NE(t.find(want), std::string::npos) << "missing: " << want << "\n" << t;
  }
  EXPECT_TRUE(verify_recording((*rec)->path()).ok);
}

TEST_F(RecordTest, TranscriptShowsAuthFailures) {
  auto sink = make_sink();
  auto rec = SessionRecorder::create(*sink, "af", std::chrono::system_clock::now());
  ASSERT_TRUE(rec.has_value());
  (*rec)->on_auth_failed({"mallory", "10.9.9.9:4000", "orders", "unknown API key"});
  (*rec)->on_session_end({"auth_failed", 80, 0});
  std::string t = render_transcript((*rec)->path());
  EXPECT_NE(t.find("AUTH FAILED identity=mallory client=10.9.9.9:4000 connection=orders: "
                   "unknown API key"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("END auth_failed"), std::string::npos) << t;
  auto rep = verify_recording((*rec)->path());
  EXPECT_TRUE(rep.ok);
  EXPECT_EQ(rep.events, 2u);
}

TEST_F(RecordTest, TranscriptDoesNotPassTerminalControlSequencesThrough) {
  auto sink = make_sink();
  auto rec = SessionRecorder::create(*sink, "ansi", std::chrono::system_clock::now());
  ASSERT_TRUE(rec.has_value());
  ASSERT_TRUE((*rec)->on_session_start(start_event()));
  ASSERT_TRUE((*rec)->on_statement(
      {"SELECT '\x1b]0;owned\x07\x1b[2J' /* \xc2\x9b */", StatementMode::kSimple, ""}));
  (*rec)->on_session_end({"client_eof", 0, 0});
  std::string t = render_transcript((*rec)->path());
  EXPECT_EQ(t.find('\x1b'), std::string::npos) << t;
  EXPECT_EQ(t.find('\x07'), std::string::npos) << t;
  EXPECT_EQ(t.find("\xc2\x9b"), std::string::npos) << t;
  EXPECT_NE(t.find("SELECT '\\x1b]0;owned\\x07\\x1b[2J' /* \\u009b */"), std::string::npos) << t;
}

TEST(JsonWriterTest, EscapesQuotesBackslashesAndControlCharacters) {
  std::string out;
  append_json_string(out, std::string("a\"b\\c\n\r\t\b\f\x01\x1f\x7f", 13));
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\x7f\"");
  out.clear();
  append_json_string(out, std::string("nul\0x", 5));
  EXPECT_EQ(out, "\"nul\\u0000x\"");
}

TEST(JsonWriterTest, InvalidUtf8BytesAreEscapedAsU00XXAndValidUtf8PassesThrough) {
  std::string out;
  // é (2 bytes), € (3), 😀 (4) valid; then stray 0xff, truncated 0xc3, surrogate ED A0 80,
  // overlong C0 AF, and F5 (beyond U+10FFFF).
  append_json_string(out,
                     "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\xff|\xc3|\xed\xa0\x80|\xc0\xaf|\xf5");
  EXPECT_EQ(out,
            "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\\u00ff|\\u00c3|\\u00ed\\u00a0\\u0080|"
            "\\u00c0\\u00af|\\u00f5\"");
  EXPECT_NO_THROW(nlohmann::json::parse(out));
}

TEST_F(RecordTest, HostileStatementTextRoundTripsThroughTheVerifier) {
  auto sink = make_sink();
  auto rec = SessionRecorder::create(*sink, "esc", std::chrono::system_clock::now());
  ASSERT_TRUE(rec.has_value());
  ASSERT_TRUE((*rec)->on_session_start(start_event()));
  static const char kText[] =
      "SELECT '\"q\"', E'\\\\', '\n\t\x01', 'caf\xc3\xa9', '\xff\xfe', ',\"hash\":\"', '\x00'";
  const std::string text(kText, sizeof kText - 1);  // keeps the embedded NUL
  ASSERT_EQ(text.back(), '\'');
  ASSERT_TRUE((*rec)->on_statement({text, StatementMode::kSimple, ""}));
  (*rec)->on_session_end({"client_eof", 1, 1});
  auto rep = verify_recording((*rec)->path());
  EXPECT_TRUE(rep.ok) << rep.message;
  EXPECT_EQ(rep.events, 3u);
  auto lines = split_lines(read_all((*rec)->path()));
  ASSERT_EQ(lines.size(), 3u);  // the newline inside the text did not split the line
  auto j = nlohmann::json::parse(lines[1]);
  // Invalid bytes 0xff 0xfe read back as U+00FF U+00FE; everything else is unchanged.
  std::string expected = text;
  size_t at = expected.find("\xff\xfe");
  expected.replace(at, 2, "\xc3\xbf\xc3\xbe");
  EXPECT_EQ(j["text"].get<std::string>(), expected);
}

TEST_F(RecordTest, InlineFsyncWhenIntervalIsZero) {
  auto sink = make_sink(milliseconds(0));
  write_session(*sink, "f0", 3);
  // start + 3 statements + end are durable writes; results ride along with the next one.
  EXPECT_EQ(sink->fsyncs(), 5u);
  EXPECT_EQ(sink->fsync_passes(), 0u);
}

TEST_F(RecordTest, BatchedFsyncWhenIntervalIsPositive) {
  auto sink = make_sink(milliseconds(10));
  auto rec = SessionRecorder::create(*sink, "f10", std::chrono::system_clock::now());
  ASSERT_TRUE(rec.has_value());
  ASSERT_TRUE((*rec)->on_session_start(start_event()));
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE((*rec)->on_statement({"SELECT 1", StatementMode::kSimple, ""}));
  }
  EXPECT_LT(sink->fsyncs(), 51u);  // not one per write
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (sink->fsyncs() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(2));
  }
  EXPECT_GE(sink->fsyncs(), 1u);
  EXPECT_GE(sink->fsync_passes(), 1u);
  (*rec)->on_session_end({"shutdown", 0, 0});
  rec->reset();
  sink->stop();
  EXPECT_EQ(sink->fsync_failures(), 0u);
  auto reps = verify_all(dir_);
  ASSERT_EQ(reps.size(), 1u);
  EXPECT_TRUE(reps[0].ok);
  EXPECT_EQ(reps[0].events, 52u);
}

TEST_F(RecordTest, StopFsyncsWhatTheBatcherHasNotYet) {
  auto sink = make_sink(std::chrono::hours(1));
  auto rec = SessionRecorder::create(*sink, "stop", std::chrono::system_clock::now());
  ASSERT_TRUE(rec.has_value());
  ASSERT_TRUE((*rec)->on_session_start(start_event()));
  EXPECT_EQ(sink->fsyncs(), 0u);
  sink->stop();
  EXPECT_EQ(sink->fsyncs(), 1u);
  // After stop, durable writes fsync inline.
  ASSERT_TRUE((*rec)->on_statement({"SELECT 1", StatementMode::kSimple, ""}));
  EXPECT_EQ(sink->fsyncs(), 2u);
}

TEST_F(RecordTest, FailsClosedWhenAWriteFails) {
  std::atomic<bool> fail_writes{false};
  auto sink = make_sink(milliseconds(0), [&](int fd, const void* p, size_t n) -> ssize_t {
    if (fail_writes) {
      errno = ENOSPC;
      return -1;
    }
    return ::write(fd, p, n);
  });
  auto rec = SessionRecorder::create(*sink, "fc", std::chrono::system_clock::now());
  ASSERT_TRUE(rec.has_value());
  ASSERT_TRUE((*rec)->on_session_start(start_event()));
  ASSERT_TRUE((*rec)->on_statement({"SELECT 1", StatementMode::kSimple, ""}));
  fail_writes = true;
  auto r = (*rec)->on_statement({"DROP TABLE x", StatementMode::kSimple, ""});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kRecording);
  EXPECT_NE(r.error().message.find("No space left"), std::string::npos) << r.error().message;
  EXPECT_TRUE((*rec)->broken());
  // Broken for good, even once the disk is writable again.
  fail_writes = false;
  EXPECT_FALSE((*rec)->on_statement({"SELECT 2", StatementMode::kSimple, ""}).has_value());
  (*rec)->on_session_end({"recording_failed", 0, 0});
  auto data = read_all((*rec)->path());
  EXPECT_EQ(data.find("DROP TABLE"), std::string::npos);
  auto rep = verify_recording((*rec)->path());
  EXPECT_TRUE(rep.ok);
  EXPECT_EQ(rep.events, 2u);
}

TEST_F(RecordTest, PartialWritesAreCompletedAndEintrIsRetried) {
  int calls = 0;
  auto sink = make_sink(milliseconds(0), [&](int fd, const void* p, size_t n) -> ssize_t {
    ++calls;
    if (calls % 3 == 0) {
      errno = EINTR;
      return -1;
    }
    return ::write(fd, p, std::min<size_t>(n, 7));  // at most 7 bytes per call
  });
  auto path = write_session(*sink, "short", 3);
  EXPECT_GT(calls, 50);
  auto rep = verify_recording(path);
  EXPECT_TRUE(rep.ok) << rep.message;
  EXPECT_EQ(rep.events, 8u);
}

TEST_F(RecordTest, FailureMidLineLeavesATornTailThatVerifies) {
  int budget = -1;  // bytes allowed before failing; -1 = unlimited
  auto sink = make_sink(milliseconds(0), [&](int fd, const void* p, size_t n) -> ssize_t {
    if (budget == 0) {
      errno = EIO;
      return -1;
    }
    size_t k = budget < 0 ? n : std::min<size_t>(n, size_t(budget));
    ssize_t w = ::write(fd, p, k);
    if (budget > 0 && w > 0) {
      budget -= int(w);
    }
    return w;
  });
  auto rec = SessionRecorder::create(*sink, "mid-fail", std::chrono::system_clock::now());
  ASSERT_TRUE(rec.has_value());
  ASSERT_TRUE((*rec)->on_session_start(start_event()));
  budget = 30;
  EXPECT_FALSE((*rec)->on_statement({"SELECT 1", StatementMode::kSimple, ""}).has_value());
  auto rep = verify_recording((*rec)->path());
  EXPECT_TRUE(rep.ok) << rep.message;
  EXPECT_TRUE(rep.torn_tail);
  EXPECT_EQ(rep.events, 1u);
}

TEST_F(RecordTest, CreateFailsWhenTheDirectoryCannotBeMade) {
  auto sink = make_sink();
  auto start = std::chrono::system_clock::now();
  // A regular file where the date directory should be (works even when running as root).
  write_all(dir_ + "/recordings/" + format_date(start), "not a directory");
  auto rec = SessionRecorder::create(*sink, "nodir", start);
  ASSERT_FALSE(rec.has_value());
  EXPECT_EQ(rec.error().code, ErrorCode::kRecording);
}

TEST_F(RecordTest, RejectsUnsafeSessionIdsAndSecondWriters) {
  auto sink = make_sink();
  auto now = std::chrono::system_clock::now();
  EXPECT_FALSE(SessionRecorder::create(*sink, "../escape", now).has_value());
  EXPECT_FALSE(SessionRecorder::create(*sink, "", now).has_value());
  EXPECT_FALSE(SessionRecorder::create(*sink, "a/b", now).has_value());
  auto first = SessionRecorder::create(*sink, "dup", now);
  ASSERT_TRUE(first.has_value());
  auto second = SessionRecorder::create(*sink, "dup", now);
  EXPECT_FALSE(second.has_value());
}

TEST_F(RecordTest, FindRecordingAndVerifyAll) {
  auto sink = make_sink();
  auto p1 = write_session(*sink, "alpha", 1);
  auto p2 = write_session(*sink, "beta", 2);
  auto lines = split_lines(read_all(p2));
  lines[1][lines[1].find("SELECT 0") + 7] = 'X';
  write_all(p2, join_lines(lines));

  EXPECT_EQ(find_recording(dir_, "alpha"), std::optional<std::string>(p1));
  EXPECT_EQ(find_recording(dir_, "beta"), std::optional<std::string>(p2));
  EXPECT_FALSE(find_recording(dir_, "gamma").has_value());
  EXPECT_FALSE(find_recording(dir_, "../alpha").has_value());

  auto reps = verify_all(dir_);
  ASSERT_EQ(reps.size(), 2u);
  EXPECT_EQ(reps[0].session_id, "alpha");
  EXPECT_EQ(reps[0].path, p1);
  EXPECT_TRUE(reps[0].ok);
  EXPECT_EQ(reps[1].session_id, "beta");
  EXPECT_FALSE(reps[1].ok);
  EXPECT_EQ(reps[1].first_broken_seq, std::optional<uint64_t>(2));
  EXPECT_FALSE(verify_recording(dir_ + "/missing.jsonl").ok);
}

TEST(TimestampTest, FormatsUtcWithMicrosecondsAndParsesBack) {
  using namespace std::chrono;
  sys_days day = year(2026) / November / 29;
  auto t = day + hours(6) + minutes(3) + seconds(15) + microseconds(123456);
  EXPECT_EQ(format_timestamp(t), "2026-11-29T06:03:15.123456Z");
  EXPECT_EQ(format_date(t), "2026-11-29");
  auto us = parse_timestamp_us("2026-11-29T06:03:15.123456Z");
  ASSERT_TRUE(us.has_value());
  EXPECT_EQ(*us, duration_cast<microseconds>(t.time_since_epoch()).count());
  EXPECT_FALSE(parse_timestamp_us("2026-13-29T06:03:15.123456Z").has_value());
  EXPECT_FALSE(parse_timestamp_us("garbage").has_value());
}

}  // namespace
}  // namespace custos::record
