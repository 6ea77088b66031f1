// Response masking: data-driven detector/strategy cases (tests/mask/*.cases), plan resolution,
// DataRow / COPY / notice rewriting, hmac and fpe properties, and the mask config loader.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <hs/hs.h>

#include <array>
#include <bit>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "config/config_loader.h"
#include "mask/masker.h"
#include "protocol/postgres/row_rewriter.h"
#include "mask/shape_scan.h"
#include "mask/strategy.h"
#include "protocol/postgres/row_batch_masker.h"

namespace custos::mask {
namespace {

// The PostgreSQL wire side of masking, tested here with the plans it applies.
using postgres::check_copy_out;
using postgres::rewrite_copy_data;
using postgres::rewrite_data_row;
using postgres::rewrite_notice;

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Strategy = config::MaskRule::Strategy;
using Computed = config::MaskRule::Computed;

constexpr std::string_view kTestKey = "custos-test-mask-key";

std::shared_ptr<const Masker> compile_or_die(const std::vector<config::MaskRule>& rules,
                                             std::string_view key = kTestKey) {
  Result<std::shared_ptr<const Masker>> m =
      Masker::compile(rules, core::SecretString(std::string(key)));
  EXPECT_TRUE(m.has_value()) << m.error().message;
  return m.has_value() ? *m : nullptr;
}

config::MaskRule columns_rule(std::vector<std::string> cols, Strategy s) {
  config::MaskRule r;
  r.columns = std::move(cols);
  r.strategy = s;
  return r;
}

config::MaskRule detect_rule(std::vector<std::string> det, Strategy s) {
  config::MaskRule r;
  r.detect = std::move(det);
  r.strategy = s;
  return r;
}

ColumnSource src(std::optional<std::string> schema, std::optional<std::string> table,
                 std::optional<std::string> column, std::string name, uint32_t oid = 25,
                 int16_t format = 0) {
  return ColumnSource{std::move(schema), std::move(table), std::move(column), std::move(name), oid,
                      format};
}

ColumnSource computed(std::string name, uint32_t oid = 25, int16_t format = 0) {
  return ColumnSource{std::nullopt, std::nullopt, std::nullopt, std::move(name), oid, format};
}

// ---------------------------------------------------------------------------------------------
// Data-driven cases

std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      const char e = s[++i];
      out.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

// Splits on '|' not preceded by a backslash.
std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> fields;
  std::string cur;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size()) {
      cur.push_back(line[i]);
      cur.push_back(line[++i]);
    } else if (line[i] == '|') {
      fields.push_back(trim(cur));
      cur.clear();
    } else {
      cur.push_back(line[i]);
    }
  }
  fields.push_back(trim(cur));
  return fields;
}

// Expands {hmac:TEXT} and {fpe:TEXT} with the test key.
std::string expand(const std::string& expected, const StrategyKeys& keys) {
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t open = expected.find('{', pos);
    if (open == std::string::npos) {
      out += expected.substr(pos);
      return out;
    }
    const size_t close = expected.find('}', open);
    const std::string inner = expected.substr(open + 1, close - open - 1);
    out += expected.substr(pos, open - pos);
    if (inner.starts_with("hmac:")) {
      out += mask_hmac(keys, inner.substr(5));
    } else if (inner.starts_with("fpe:")) {
      out += mask_fpe(keys, inner.substr(4));
    } else {
      out += expected.substr(open, close - open + 1);
    }
    pos = close + 1;
  }
}

struct CaseOutcome {
  std::string error;  // empty = ok
};

std::string run_case(const std::vector<std::string>& f, const StrategyKeys& keys) {
  config::MaskRule rule;
  const std::string& det = f[0];
  const std::string& strat = f[1];
  if (det == "column") {
    rule.columns = {"c"};
  } else if (det.starts_with("custom=")) {
    rule.detect = {"custom"};
    rule.custom = config::MaskRule::Custom{"custom_test", det.substr(7)};
  } else {
    rule.detect = {det};
  }
  if (strat == "redact") {
    rule.strategy = Strategy::kRedact;
  } else if (strat.starts_with("partial")) {
    rule.strategy = Strategy::kPartial;
    if (strat.size() > 8) {
      rule.keep_last = static_cast<uint32_t>(std::stoul(strat.substr(8)));
    }
  } else if (strat == "hmac") {
    rule.strategy = Strategy::kHmac;
  } else if (strat == "fpe") {
    rule.strategy = Strategy::kFpe;
  } else if (strat == "null") {
    rule.strategy = Strategy::kNull;
  } else {
    return "unknown strategy " + strat;
  }
  Result<std::shared_ptr<const Masker>> m =
      Masker::compile({rule}, core::SecretString(std::string(kTestKey)));
  if (!m) {
    return "compile: " + m.error().message;
  }
  MaskPlan plan = (*m)->plan({src("public", "t", "c", "c")});
  if (plan.error) {
    return "plan: " + *plan.error;
  }
  const std::string input = unescape(f[2]);
  const std::string expected = expand(unescape(f[3]), keys);
  MaskCounts counts;
  std::string out;
  const CellAction a = (*m)->mask_cell(plan.columns[0], input, out, counts);
  const std::string got =
      a == CellAction::kNull ? "NULL" : a == CellAction::kUnchanged ? input : out;
  if (got != expected) {
    return "expected \"" + expected + "\", got \"" + got + "\"";
  }
  if ((a == CellAction::kUnchanged) != (counts.total == 0)) {
    return "counts do not match the outcome";
  }
  return "";
}

TEST(MaskCases, EveryCasesFilePasses) {
  const std::filesystem::path dir = std::filesystem::path(CUSTOS_TEST_DATA_DIR) / "mask";
  const StrategyKeys keys(kTestKey);
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".cases") {
      files.push_back(e.path());
    }
  }
  ASSERT_FALSE(files.empty()) << "no .cases files in " << dir;
  size_t total = 0;
  for (const auto& path : files) {
    std::ifstream in(path);
    ASSERT_TRUE(in) << path;
    std::string line;
    int lineno = 0;
    size_t cases = 0;
    while (std::getline(in, line)) {
      ++lineno;
      const std::string t = trim(line);
      if (t.empty() || t[0] == '#') {
        continue;
      }
      const std::string where = path.filename().string() + ":" + std::to_string(lineno);
      std::vector<std::string> f = split_fields(t);
      if (f.size() != 4) {
        ADD_FAILURE() << where << ": expected 4 fields separated by |, got " << f.size();
        continue;
      }
      ++cases;
      const std::string err = run_case(f, keys);
      EXPECT_EQ(err, "") << where << ": " << t;
    }
    EXPECT_GT(cases, 0u) << path.filename().string() << ": file has zero cases";
    total += cases;
  }
  EXPECT_GE(total, 100u);
}

// ---------------------------------------------------------------------------------------------
// Plan resolution

TEST(MaskPlan, ColumnPatternsMatchSchemaTableColumnForms) {
  auto m = compile_or_die({columns_rule({"public.customers.email"}, Strategy::kRedact),
                           columns_rule({"orders.card"}, Strategy::kPartial),
                           columns_rule({"ssn"}, Strategy::kNull)});
  MaskPlan p = m->plan({
      src("public", "customers", "email", "email"),  // 0: rule 0
      src("crm", "customers", "email", "email"),     // 1: other schema → no
      src("sales", "orders", "card", "card"),        // 2: rule 1 (any schema)
      src("sales", "refunds", "card", "card"),       // 3: other table → no
      src("x", "y", "ssn", "s"),                     // 4: rule 2 (any table)
      src("public", "customers", "name", "name"),    // 5: no
      src("PUBLIC", "Customers", "EMAIL", "e"),      // 6: case-insensitive → rule 0
      src(std::nullopt, "orders", "card", "c"),      // 7: unresolved schema → matches rule 1
  });
  ASSERT_FALSE(p.error);
  ASSERT_EQ(p.columns.size(), 8u);
  EXPECT_EQ(p.columns[0].whole_rule, 0);
  EXPECT_EQ(p.columns[1].whole_rule, -1);
  EXPECT_EQ(p.columns[2].whole_rule, 1);
  EXPECT_EQ(p.columns[3].whole_rule, -1);
  EXPECT_EQ(p.columns[4].whole_rule, 2);
  EXPECT_FALSE(p.columns[5].active());
  EXPECT_EQ(p.columns[6].whole_rule, 0);
  EXPECT_EQ(p.columns[7].whole_rule, 1);
  EXPECT_TRUE(p.any_active());
}

TEST(MaskPlan, FirstMatchingColumnRuleWins) {
  auto m = compile_or_die({columns_rule({"email"}, Strategy::kPartial),
                           columns_rule({"customers.email"}, Strategy::kRedact)});
  MaskPlan p = m->plan({src("public", "customers", "email", "email")});
  EXPECT_EQ(p.columns[0].whole_rule, 0);
}

TEST(MaskPlan, DetectRulesScanAllColumnsOrOnlyListedOnes) {
  config::MaskRule notes = detect_rule({"email"}, Strategy::kRedact);
  notes.columns = {"notes"};
  auto m = compile_or_die({detect_rule({"credit_card"}, Strategy::kRedact), notes});
  MaskPlan p = m->plan({src("public", "t", "notes", "notes"), src("public", "t", "other", "o"),
                        computed("?column?")});
  EXPECT_EQ(p.columns[0].content_rules, (std::vector<uint16_t>{0, 1}));
  EXPECT_EQ(p.columns[1].content_rules, (std::vector<uint16_t>{0}));
  EXPECT_EQ(p.columns[2].content_rules, (std::vector<uint16_t>{0}));  // computed: detect-only
  EXPECT_EQ(p.columns[0].whole_rule, -1);
}

TEST(MaskPlan, ComputedColumnsDetectRedactDeny) {
  config::MaskRule detect = columns_rule({"customers.ssn"}, Strategy::kPartial);
  auto m1 = compile_or_die({detect});
  MaskPlan p1 = m1->plan({computed("upper")});
  EXPECT_FALSE(p1.error);
  EXPECT_FALSE(p1.columns[0].active());

  config::MaskRule redact = detect;
  redact.computed = Computed::kRedact;
  auto m2 = compile_or_die({redact});
  MaskPlan p2 = m2->plan({computed("upper"), src("public", "t", "x", "x")});
  EXPECT_FALSE(p2.error);
  EXPECT_TRUE(p2.columns[0].computed_redact);
  EXPECT_FALSE(p2.columns[1].active());
  MaskCounts counts;
  std::string out;
  EXPECT_EQ(m2->mask_cell(p2.columns[0], "123-45-6789", out, counts), CellAction::kReplaced);
  EXPECT_EQ(out, "****");

  config::MaskRule deny = detect;
  deny.computed = Computed::kDeny;
  auto m3 = compile_or_die({deny});
  MaskPlan p3 = m3->plan({src("public", "customers", "ssn", "ssn"), computed("lower")});
  ASSERT_TRUE(p3.error);
  EXPECT_EQ(*p3.error, "computed column \"lower\" under mask rule mask[0] denied");
  MaskPlan p3ok = m3->plan({src("public", "customers", "ssn", "ssn")});
  EXPECT_FALSE(p3ok.error);
}

TEST(MaskPlan, BinaryNonTextColumnUnderMaskIsAnError) {
  auto m = compile_or_die({columns_rule({"amount"}, Strategy::kRedact),
                           columns_rule({"gone"}, Strategy::kNull),
                           detect_rule({"email"}, Strategy::kRedact)});
  // int8 in binary under a column rule → error.
  MaskPlan p = m->plan({src("public", "t", "amount", "amount", 20, 1)});
  ASSERT_TRUE(p.error);
  EXPECT_EQ(*p.error, "column amount is binary-encoded type 20 under a mask");
  // Binary text-like types are fine; binary int under a detect-only rule is an error too.
  EXPECT_FALSE(m->plan({src("public", "t", "amount", "amount", 1043, 1)}).error);
  EXPECT_TRUE(m->plan({src("public", "t", "n", "n", 23, 1)}).error);
  EXPECT_TRUE(m->plan({src("public", "t", "doc", "doc", 114, 1)}).error);  // json stays out
  // A null-only column may be binary: NULL is valid for every type.
  EXPECT_FALSE(m->plan({src("public", "t", "gone", "gone", 20, 1)}).error);
  // Text format of any type is fine.
  EXPECT_FALSE(m->plan({src("public", "t", "amount", "amount", 20, 0)}).error);
}

TEST(MaskPlan, EmptyMaskerPlansNothing) {
  auto m = compile_or_die({});
  EXPECT_TRUE(m->empty());
  MaskPlan p = m->plan({src("public", "t", "a", "a")});
  EXPECT_FALSE(p.any_active());
}

// ---------------------------------------------------------------------------------------------
// DataRow

core::Bytes data_row(const std::vector<std::optional<std::string>>& cells) {
  core::Bytes b;
  core::append_be16(b, static_cast<uint16_t>(cells.size()));
  for (const auto& c : cells) {
    if (!c) {
      core::append_be32(b, 0xffffffffu);
    } else {
      core::append_be32(b, static_cast<uint32_t>(c->size()));
      core::append(b, *c);
    }
  }
  return b;
}

// Parses a complete 'D' frame back into cells.
std::vector<std::optional<std::string>> parse_frame(const core::Bytes& f) {
  EXPECT_GE(f.size(), 7u);
  EXPECT_EQ(f[0], 'D');
  EXPECT_EQ(core::load_be32(f.data() + 1), f.size() - 1);
  std::vector<std::optional<std::string>> cells;
  const uint16_t n = core::load_be16(f.data() + 5);
  size_t pos = 7;
  for (uint16_t i = 0; i < n; ++i) {
    const int32_t len = static_cast<int32_t>(core::load_be32(f.data() + pos));
    pos += 4;
    if (len < 0) {
      cells.push_back(std::nullopt);
    } else {
      cells.push_back(std::string(reinterpret_cast<const char*>(f.data() + pos), len));
      pos += len;
    }
  }
  EXPECT_EQ(pos, f.size());
  return cells;
}

TEST(RewriteDataRow, MasksCellsAndRewritesLengths) {
  auto m = compile_or_die({columns_rule({"email"}, Strategy::kPartial),
                           columns_rule({"ssn"}, Strategy::kNull),
                           detect_rule({"credit_card"}, Strategy::kRedact)});
  MaskPlan plan = m->plan({src("public", "c", "id", "id", 23), src("public", "c", "email", "email"),
                           src("public", "c", "ssn", "ssn"), src("public", "c", "note", "note")});
  ASSERT_FALSE(plan.error);
  core::Bytes payload = data_row({"42", "alice@example.com", "123-45-6789",
                                  "paid with 4111 1111 1111 1111 yesterday"});
  core::Bytes out = {'x'};  // appends, never overwrites
  MaskCounts counts;
  Result<bool> r = rewrite_data_row(plan, payload, out, counts);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_TRUE(*r);
  ASSERT_EQ(out[0], 'x');
  core::Bytes frame(out.begin() + 1, out.end());
  auto cells = parse_frame(frame);
  ASSERT_EQ(cells.size(), 4u);
  EXPECT_EQ(cells[0], "42");
  EXPECT_EQ(cells[1], "*************.com");
  EXPECT_EQ(cells[2], std::nullopt);
  EXPECT_EQ(cells[3], "paid with **** yesterday");
  EXPECT_EQ(counts.total, 3u);
  EXPECT_EQ(counts.by_detector.at("credit_card"), 1u);
  EXPECT_EQ(counts.by_detector.at("column"), 2u);
  EXPECT_EQ(counts.by_rule.at("mask[2]"), 1u);
  EXPECT_THAT(counts.to_json(), HasSubstr("\"total\":3"));
}

// A batch of whole DataRow frames: row i has id i; every third row carries a card number.
struct RowBatch {
  core::Bytes buffer;
  std::vector<postgres::RowBatchMasker::Row> rows;
  void add(const core::Bytes& payload) {
    rows.push_back({buffer.size(), payload.size() + 5});
    buffer.push_back('D');
    core::append_be32(buffer, static_cast<uint32_t>(payload.size() + 4));
    core::append(buffer, core::ByteView(payload));
  }
};

TEST(RowBatchMasker, PiecesOnWorkersKeepRowOrderAndMaskEveryRow) {
  auto m = compile_or_die({detect_rule({"credit_card"}, Strategy::kRedact)});
  MaskPlan plan = m->plan({src("public", "c", "id", "id"), src("public", "c", "note", "note")});
  RowBatch batch;
  const size_t n = 5 * postgres::RowBatchMasker::kPieceRows + 7;  // six pieces
  for (size_t i = 0; i < n; ++i) {
    batch.add(data_row({std::to_string(i), i % 3 == 0 ? "card 4111 1111 1111 1111" : "none"}));
  }
  core::WorkerPool workers(2);
  postgres::RowBatchMasker masker;
  for (int round = 0; round < 2; ++round) {  // pieces are reused across batches
    core::Bytes out;
    MaskCounts counts;
    auto failure = masker.mask(plan, false, batch.buffer, batch.rows, &workers, out, counts);
    ASSERT_FALSE(failure) << failure->error;
    size_t pos = 0;
    for (size_t i = 0; i < n; ++i) {
      ASSERT_LT(pos, out.size());
      const size_t size = 1 + core::load_be32(out.data() + pos + 1);
      auto cells = parse_frame(core::Bytes(out.begin() + pos, out.begin() + pos + size));
      ASSERT_EQ(cells.size(), 2u);
      EXPECT_EQ(cells[0], std::to_string(i));
      EXPECT_EQ(cells[1], i % 3 == 0 ? "card ****" : "none");
      pos += size;
    }
    EXPECT_EQ(pos, out.size());
    EXPECT_EQ(counts.total, (n + 2) / 3);
  }
}

TEST(RowBatchMasker, StopsAtTheFirstRowThatCannotBeMasked) {
  auto m = compile_or_die({columns_rule({"note"}, Strategy::kRedact)});
  MaskPlan plan = m->plan({src("public", "c", "note", "note")});
  RowBatch batch;
  const size_t bad = postgres::RowBatchMasker::kPieceRows + 3;  // in the second piece
  for (size_t i = 0; i < 3 * postgres::RowBatchMasker::kPieceRows; ++i) {
    core::Bytes payload = data_row({"secret"});
    if (i == bad) {
      payload.resize(payload.size() - 2);  // the value runs past the row
    }
    batch.add(payload);
  }
  core::WorkerPool workers(1);
  postgres::RowBatchMasker masker;
  core::Bytes out;
  MaskCounts counts;
  auto failure = masker.mask(plan, false, batch.buffer, batch.rows, &workers, out, counts);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->row, bad);
  EXPECT_FALSE(failure->copy);
  EXPECT_THAT(failure->error, HasSubstr("truncated"));
  // Exactly the rows before it went out, each masked; nothing of it or after it.
  const core::Bytes one = [&] {
    core::Bytes f;
    MaskCounts c;
    EXPECT_TRUE(*rewrite_data_row(plan, data_row({"secret"}), f, c));
    return f;
  }();
  ASSERT_EQ(out.size(), bad * one.size());
  for (size_t i = 0; i < bad; ++i) {
    EXPECT_TRUE(std::equal(one.begin(), one.end(), out.begin() + i * one.size())) << i;
  }
  EXPECT_EQ(counts.total, bad);
}

TEST(RewriteDataRow, UnchangedRowReturnsFalseAndAppendsNothing) {
  auto m = compile_or_die({detect_rule({"credit_card", "email"}, Strategy::kRedact)});
  MaskPlan plan = m->plan({src("public", "t", "a", "a"), src("public", "t", "b", "b")});
  core::Bytes payload = data_row({"hello 4111111111111112", std::nullopt});
  core::Bytes out;
  MaskCounts counts;
  Result<bool> r = rewrite_data_row(plan, payload, out, counts);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(*r);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(counts.total, 0u);
}

TEST(RewriteDataRow, NullCellsStayNullEvenUnderColumnRules) {
  auto m = compile_or_die({columns_rule({"a"}, Strategy::kRedact)});
  MaskPlan plan = m->plan({src("public", "t", "a", "a"), src("public", "t", "b", "b")});
  core::Bytes payload = data_row({std::nullopt, "x"});
  core::Bytes out;
  MaskCounts counts;
  Result<bool> r = rewrite_data_row(plan, payload, out, counts);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(*r);
  payload = data_row({"", "x"});
  r = rewrite_data_row(plan, payload, out, counts);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(*r);
  EXPECT_EQ(parse_frame(out)[0], "****");
}

TEST(RewriteDataRow, MalformedPayloadsAreErrors) {
  auto m = compile_or_die({columns_rule({"a"}, Strategy::kRedact)});
  MaskPlan plan = m->plan({src("public", "t", "a", "a")});
  MaskCounts counts;
  core::Bytes out;
  const core::Bytes good = data_row({"abc"});
  for (size_t cut = 0; cut < good.size(); ++cut) {
    core::Bytes truncated(good.begin(), good.begin() + cut);
    EXPECT_FALSE(rewrite_data_row(plan, truncated, out, counts).has_value()) << cut;
  }
  core::Bytes trailing = good;
  trailing.push_back(0);
  EXPECT_FALSE(rewrite_data_row(plan, trailing, out, counts).has_value());
  core::Bytes wrong_count = data_row({"a", "b"});
  Result<bool> r = rewrite_data_row(plan, wrong_count, out, counts);
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message, HasSubstr("2 columns"));
  core::Bytes negative = {0, 1, 0xff, 0xff, 0xff, 0xfe};
  EXPECT_FALSE(rewrite_data_row(plan, negative, out, counts).has_value());
  EXPECT_TRUE(out.empty());
}

TEST(RewriteDataRow, PlanErrorFailsTheRow) {
  auto m = compile_or_die({columns_rule({"a"}, Strategy::kRedact)});
  MaskPlan plan = m->plan({src("public", "t", "a", "a", 20, 1)});
  core::Bytes out;
  MaskCounts counts;
  Result<bool> r = rewrite_data_row(plan, data_row({"12345678"}), out, counts);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kDenied);
  EXPECT_TRUE(out.empty());
}

TEST(RewriteDataRow, ValuesSplitAcrossCellsAreNotJoined) {
  // The row is prefiltered in one pass; a card split over two cells must not be masked, and a
  // card in a column the plan does not scan must stay as it is.
  config::MaskRule card = detect_rule({"credit_card"}, Strategy::kRedact);
  card.columns = {"a", "b", "c"};
  auto m = compile_or_die({card});
  MaskPlan plan = m->plan({src("public", "t", "a", "a"), src("public", "t", "b", "b"),
                           src("public", "t", "z", "z"), src("public", "t", "c", "c")});
  core::Bytes out;
  MaskCounts counts;
  Result<bool> r = rewrite_data_row(plan, data_row({"x 4111 1111", "1111 1111 y", "4111111111111111",
                                                    "end"}),
                                    out, counts);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(*r);
  r = rewrite_data_row(plan, data_row({"4111111111111111", "-", "4111111111111111",
                                       "5500000000000004"}),
                       out, counts);
  ASSERT_TRUE(r.has_value() && *r);
  auto cells = parse_frame(out);
  EXPECT_EQ(cells[0], "****");
  EXPECT_EQ(cells[1], "-");
  EXPECT_EQ(cells[2], "4111111111111111");
  EXPECT_EQ(cells[3], "****");
}

TEST(RewriteDataRow, BinaryTextColumnIsMaskedInPlace) {
  auto m = compile_or_die({detect_rule({"email"}, Strategy::kRedact)});
  MaskPlan plan = m->plan({src("public", "t", "a", "a", 1043, 1)});
  ASSERT_FALSE(plan.error);
  core::Bytes out;
  MaskCounts counts;
  Result<bool> r = rewrite_data_row(plan, data_row({"to: bob@example.org"}), out, counts);
  ASSERT_TRUE(r.has_value() && *r);
  EXPECT_EQ(parse_frame(out)[0], "to: ****");
}

// ---------------------------------------------------------------------------------------------
// COPY

std::string copy_rewrite(const MaskPlan& plan, bool csv, std::string_view in, bool* changed,
                         std::string* error = nullptr) {
  core::Bytes out;
  MaskCounts counts;
  Result<bool> r = rewrite_copy_data(plan, csv, csv ? ',' : '\t', core::as_bytes(in), out, counts);
  if (!r) {
    if (error != nullptr) {
      *error = r.error().message;
    }
    *changed = false;
    return "<error>";
  }
  *changed = *r;
  if (!*r) {
    EXPECT_TRUE(out.empty());
    return std::string(in);
  }
  EXPECT_EQ(out[0], 'd');
  EXPECT_EQ(core::load_be32(out.data() + 1), out.size() - 1);
  return std::string(reinterpret_cast<const char*>(out.data() + 5), out.size() - 5);
}

TEST(RewriteCopy, TextFormatEscapesAndNull) {
  auto m = compile_or_die({columns_rule({"email"}, Strategy::kPartial),
                           columns_rule({"ssn"}, Strategy::kNull),
                           detect_rule({"credit_card"}, Strategy::kHmac)});
  MaskPlan plan = m->plan({src("public", "c", "id", "id"), src("public", "c", "email", "email"),
                           src("public", "c", "ssn", "ssn"), src("public", "c", "note", "note")});
  bool changed = false;
  // note contains an escaped tab and newline; the card is found in the decoded value.
  std::string got = copy_rewrite(
      plan, false, "1\tab\\tcd@example.com\t123-45-6789\tline1\\ncard 4111111111111111\n", &changed);
  EXPECT_TRUE(changed);
  const StrategyKeys keys(kTestKey);
  // "ab<TAB>cd@example.com" is 17 characters → 13 stars + ".com".
  EXPECT_EQ(got, "1\t*************.com\t\\N\tline1\\ncard " + mask_hmac(keys, "4111111111111111") +
                     "\n");
  // \N stays NULL, unmasked rows unchanged.
  got = copy_rewrite(plan, false, "2\t\\N\t\\N\tnothing here\n", &changed);
  EXPECT_FALSE(changed);
  // Backslashes and delimiters inside a masked value are escaped on output.
  auto m2 = compile_or_die({columns_rule({"v"}, Strategy::kPartial)});
  MaskPlan p2 = m2->plan({src("public", "t", "v", "v")});
  p2.masker = m2;
  config::MaskRule keep_all = columns_rule({"v"}, Strategy::kPartial);
  keep_all.keep_last = 5;
  auto m3 = compile_or_die({keep_all});
  MaskPlan p3 = m3->plan({src("public", "t", "v", "v")});
  got = copy_rewrite(p3, false, "xx\\\\a\\tb\n", &changed);  // value: xx\a<TAB>b (6 chars)
  EXPECT_TRUE(changed);
  EXPECT_EQ(got, "*x\\\\a\\tb\n");
}

TEST(RewriteCopy, SeveralRowsInOnePayloadAndPartialLineError) {
  auto m = compile_or_die({detect_rule({"email"}, Strategy::kRedact)});
  MaskPlan plan = m->plan({src("public", "t", "a", "a"), src("public", "t", "b", "b")});
  bool changed = false;
  EXPECT_EQ(copy_rewrite(plan, false, "x@y.io\t1\nplain\t2\n", &changed), "****\t1\nplain\t2\n");
  EXPECT_TRUE(changed);
  std::string err;
  copy_rewrite(plan, false, "x@y.io\t1\nplain\t2", &changed, &err);
  EXPECT_THAT(err, HasSubstr("partial line"));
  copy_rewrite(plan, false, "only-one-field\n", &changed, &err);
  EXPECT_THAT(err, HasSubstr("1 fields, expected 2"));
  copy_rewrite(plan, false, "a\tb\\\n", &changed, &err);
  EXPECT_THAT(err, HasSubstr("backslash"));
}

TEST(RewriteCopy, CsvQuotingAndNull) {
  auto m = compile_or_die({columns_rule({"email"}, Strategy::kRedact),
                           columns_rule({"ssn"}, Strategy::kNull),
                           detect_rule({"us_ssn"}, Strategy::kPartial)});
  MaskPlan plan = m->plan({src("public", "c", "email", "email"), src("public", "c", "ssn", "ssn"),
                           src("public", "c", "note", "note")});
  bool changed = false;
  // Quoted field with a delimiter, a doubled quote and an embedded newline.
  std::string got = copy_rewrite(
      plan, true, "\"a,\"\"b\"\"@x.io\",123-45-6789,\"say \"\"hi\"\"\nssn 078-05-1120\"\n", &changed);
  EXPECT_TRUE(changed);
  EXPECT_EQ(got, "\"****\",,\"say \"\"hi\"\"\nssn *******1120\"\n");
  // Unquoted empty = NULL stays; quoted empty string is a value (masked whole).
  got = copy_rewrite(plan, true, ",,plain\n", &changed);
  EXPECT_FALSE(changed);
  got = copy_rewrite(plan, true, "\"\",,plain\n", &changed);
  EXPECT_TRUE(changed);
  EXPECT_EQ(got, "\"****\",,plain\n");
  std::string err;
  copy_rewrite(plan, true, "\"unterminated,1,2\n", &changed, &err);
  EXPECT_THAT(err, HasSubstr("quoted"));
  copy_rewrite(plan, true, "\"a\"x,1,2\n", &changed, &err);
  EXPECT_THAT(err, HasSubstr("closing quote"));
}

TEST(RewriteCopy, BinaryCopyUnderMaskIsRefused) {
  auto m = compile_or_die({columns_rule({"a"}, Strategy::kRedact)});
  MaskPlan active = m->plan({src("public", "t", "a", "a")});
  MaskPlan idle = m->plan({src("public", "t", "b", "b")});
  EXPECT_FALSE(check_copy_out(active, true).has_value());
  EXPECT_TRUE(check_copy_out(active, false).has_value());
  EXPECT_TRUE(check_copy_out(idle, true).has_value());
}

// ---------------------------------------------------------------------------------------------
// Notices and free text

TEST(RewriteNotice, MasksMessageDetailHintWhereOnly) {
  auto m = compile_or_die({detect_rule({"email"}, Strategy::kRedact)});
  core::Bytes payload;
  auto field = [&payload](char t, std::string_view v) {
    payload.push_back(static_cast<uint8_t>(t));
    core::append_cstr(payload, v);
  };
  field('S', "ERROR");
  field('C', "23505");
  field('M', "duplicate key value violates unique constraint");
  field('D', "Key (email)=(alice@example.com) already exists.");
  field('n', "users_email_key a@b.io");  // constraint name: not a value field, left as is
  payload.push_back(0);
  core::Bytes out;
  MaskCounts counts;
  Result<bool> r = rewrite_notice(*m, 'E', payload, out, counts);
  ASSERT_TRUE(r.has_value() && *r);
  EXPECT_EQ(out[0], 'E');
  EXPECT_EQ(core::load_be32(out.data() + 1), out.size() - 1);
  const std::string body(reinterpret_cast<const char*>(out.data() + 5), out.size() - 5);
  EXPECT_THAT(body, HasSubstr("Key (email)=(****) already exists."));
  EXPECT_THAT(body, HasSubstr("users_email_key a@b.io"));
  EXPECT_EQ(body.back(), '\0');
  EXPECT_EQ(counts.total, 1u);

  core::Bytes no_term(payload.begin(), payload.end() - 1);
  EXPECT_FALSE(rewrite_notice(*m, 'E', no_term, out, counts).has_value());
}

TEST(MaskText, NullStrategyBecomesMarkerInFreeText) {
  auto m = compile_or_die({detect_rule({"us_ssn"}, Strategy::kNull)});
  MaskCounts counts;
  EXPECT_EQ(mask_text(*m, "ssn 123-45-6789 here", counts), "ssn **** here");
  EXPECT_EQ(mask_text(*m, "nothing", counts), "nothing");
}

// ---------------------------------------------------------------------------------------------
// hmac / fpe

TEST(Strategies, HmacIsStableAndKeyed) {
  const StrategyKeys a(kTestKey);
  const StrategyKeys a2(kTestKey);
  const StrategyKeys b("another-key");
  const std::string t = mask_hmac(a, "4111111111111111");
  EXPECT_THAT(t, StartsWith("hmac:"));
  EXPECT_EQ(t.size(), 21u);
  EXPECT_EQ(t, mask_hmac(a2, "4111111111111111"));
  EXPECT_NE(t, mask_hmac(b, "4111111111111111"));
  EXPECT_NE(t, mask_hmac(a, "4111111111111112"));
  // Equal values in different rows give equal tokens through the whole pipeline.
  auto m = compile_or_die({columns_rule({"email"}, Strategy::kHmac)});
  MaskPlan plan = m->plan({src("public", "t", "email", "email")});
  MaskCounts counts;
  std::string o1, o2;
  m->mask_cell(plan.columns[0], "x@y.io", o1, counts);
  m->mask_cell(plan.columns[0], "x@y.io", o2, counts);
  EXPECT_EQ(o1, o2);
  EXPECT_EQ(o1, mask_hmac(a, "x@y.io"));
}

TEST(Strategies, HmacTokensAreRfc2104UnderTheDerivedKey) {
  // Tokens stay comparable across versions and with other tools: "hmac:" + the first 8 bytes of
  // HMAC-SHA256(k_h, value), k_h = HMAC-SHA256(mask_key, "custos mask hmac v1"). Expected
  // values computed with Python's hmac module.
  const StrategyKeys k(kTestKey);
  EXPECT_EQ(mask_hmac(k, "4111111111111111"), "hmac:939d6fc058f0111e");
  EXPECT_EQ(mask_hmac(k, ""), "hmac:3939e04078086ceb");
  EXPECT_EQ(mask_hmac(k, std::string(200, 'x')), "hmac:1ce92ee0414cb745");  // several blocks
}

TEST(Strategies, FpeKeepsFormatIsDeterministicAndKeyed) {
  const StrategyKeys k(kTestKey);
  const StrategyKeys other("another-key");
  const std::string in = "Card 4111-1111-1111-1111 (exp 12/27), Ref aB9";
  const std::string out = mask_fpe(k, in);
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char a = in[i];
    const char b = out[i];
    if (std::isdigit(static_cast<unsigned char>(a))) {
      EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(b))) << i;
    } else if (std::islower(static_cast<unsigned char>(a))) {
      EXPECT_TRUE(std::islower(static_cast<unsigned char>(b))) << i;
    } else if (std::isupper(static_cast<unsigned char>(a))) {
      EXPECT_TRUE(std::isupper(static_cast<unsigned char>(b))) << i;
    } else {
      EXPECT_EQ(a, b) << i;
    }
  }
  EXPECT_NE(out, in);
  EXPECT_EQ(out, mask_fpe(StrategyKeys(kTestKey), in));
  EXPECT_NE(out, mask_fpe(other, in));
  EXPECT_EQ(unmask_fpe(k, out), in);
}

TEST(Strategies, FpeIsBijectiveOnFourDigitStrings) {
  const StrategyKeys k(kTestKey);
  std::set<std::string> images;
  for (int i = 0; i < 10000; ++i) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04d", i);
    const std::string img = mask_fpe(k, buf);
    ASSERT_EQ(img.size(), 4u);
    ASSERT_TRUE(std::all_of(img.begin(), img.end(), [](char c) { return c >= '0' && c <= '9'; }));
    images.insert(img);
  }
  EXPECT_EQ(images.size(), 10000u);  // a permutation of 0000..9999
  // And on a sample of 16-digit numbers, decryption recovers every input.
  for (uint64_t i = 0; i < 2000; ++i) {
    const std::string v = std::to_string(4000000000000000ull + i * 7919ull);
    EXPECT_EQ(unmask_fpe(k, mask_fpe(k, v)), v);
  }
}

// ---------------------------------------------------------------------------------------------
// Loader

const std::string kBase =
    "identities:\n"                                               // 1
    "  - { name: ci }\n"                                          // 2
    "connections:\n"                                              // 3
    "  - { name: o, type: postgres, address: db:5432, database: d,\n"  // 4
    "      credentials: { username: u, password: env:P } }\n"    // 5
    "policies:\n"                                                 // 6
    "  - name: p\n"                                               // 7
    "    identities: [ci]\n"                                      // 8
    "    connections: [o]\n"                                      // 9
    "    mask:\n";                                                // 10

Result<config::Config> load(const std::string& mask_lines, const std::string& top = "") {
  return config::load_config_from_string(top + kBase + mask_lines, "test.yaml", "/tmp");
}

std::string load_error(const std::string& mask_lines, const std::string& top = "") {
  Result<config::Config> r = load(mask_lines, top);
  EXPECT_FALSE(r.has_value()) << "expected the configuration to be refused";
  return r.has_value() ? std::string() : r.error().message;
}

TEST(MaskLoader, LoadsRulesAndKey) {
  Result<config::Config> r = load(
      "      - { columns: [public.customers.email, customers.ssn, card], strategy: partial, "
      "keep_last: 2 }\n"
      "      - { detect: [credit_card, us_ssn], strategy: hmac }\n"
      "      - { detect: [email], columns: [notes], strategy: redact }\n"
      "      - { columns: [customers.ssn], strategy: redact, computed: deny }\n"
      "      - { detect: [custom], custom: { name: order_ref, regex: \"ORD-[0-9]{8}\" }, "
      "strategy: fpe }\n",
      "mask_key: test-literal:k\n");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ASSERT_EQ(r->policies.size(), 1u);
  const auto& mask = r->policies[0].mask;
  ASSERT_EQ(mask.size(), 5u);
  EXPECT_EQ(mask[0].columns.size(), 3u);
  EXPECT_EQ(mask[0].keep_last, 2u);
  EXPECT_EQ(mask[0].strategy, Strategy::kPartial);
  EXPECT_EQ(mask[0].line, 12);
  EXPECT_EQ(mask[1].strategy, Strategy::kHmac);
  EXPECT_EQ(mask[3].computed, Computed::kDeny);
  ASSERT_TRUE(mask[4].custom.has_value());
  EXPECT_EQ(mask[4].custom->name, "order_ref");
  ASSERT_TRUE(r->mask_key.has_value());
  EXPECT_EQ(r->mask_key->ref, "test-literal:k");
  // The loaded rules compile into a working masker.
  auto m = compile_or_die(mask, "k");
  MaskCounts counts;
  EXPECT_EQ(mask_text(*m, "ssn 123-45-6789", counts).substr(0, 9), "ssn hmac:");
}

TEST(MaskLoader, ErrorsCarryFileAndLine) {
  EXPECT_THAT(load_error("      - { detect: [credit_cards], strategy: redact }\n"),
              HasSubstr("test.yaml:11: policies[0].mask[0].detect[0]: unknown detector "
                        "\"credit_cards\"; expected one of email, credit_card"));
  EXPECT_THAT(load_error("      - { columns: [a], strategy: shred }\n"),
              HasSubstr("test.yaml:11: policies[0].mask[0].strategy: unknown strategy \"shred\""));
  EXPECT_THAT(load_error("      - { columns: [a], strategy: redact }\n"
                         "      - { columns: [a], strategy: redact, keep_last: 4 }\n"),
              HasSubstr("test.yaml:12: policies[0].mask[1].keep_last: keep_last is only for "
                        "strategy partial"));
  EXPECT_THAT(load_error("      - { strategy: redact }\n"),
              HasSubstr("test.yaml:11: policies[0].mask[0]: a mask rule needs columns, detect"));
  EXPECT_THAT(load_error("      - { columns: [a], strategy: redact }\n"
                         "      - { detect: [email], strategy: hmac }\n"),
              HasSubstr("test.yaml:12: policies[0].mask[1].strategy: strategies hmac and fpe "
                        "need a top-level mask_key"));
  EXPECT_THAT(load_error("      - { detect: [custom], custom: { name: r, regex: \"ORD-[0-9\" }, "
                         "strategy: redact }\n"),
              HasSubstr("test.yaml:11: policies[0].mask[0].custom.regex: invalid regex"));
  EXPECT_THAT(load_error("      - { detect: [custom], strategy: redact }\n"),
              HasSubstr("test.yaml:11: "));
  EXPECT_THAT(load_error("      - { columns: [a..b], strategy: redact }\n"),
              HasSubstr("test.yaml:11: policies[0].mask[0].columns[0]: expected a column"));
  EXPECT_THAT(load_error("      - { columns: [a], strategy: redact, computed: allow }\n"),
              HasSubstr("test.yaml:11: policies[0].mask[0].computed: expected detect, redact or "
                        "deny"));
  EXPECT_THAT(load_error("      - { columns: [a], strategy: redact, colums: [b] }\n"),
              HasSubstr("test.yaml:11: policies[0].mask[0].colums: unknown key"));
  // YAML reads an unquoted null as no value; the error says how to write the strategy.
  EXPECT_THAT(load_error("      - { columns: [a], strategy: null }\n"),
              HasSubstr("test.yaml:11: policies[0].mask[0].strategy: has no value (to give the "
                        "word null, quote it: \"null\")"));
  Result<config::Config> quoted = load("      - { columns: [a], strategy: \"null\" }\n");
  ASSERT_TRUE(quoted.has_value()) << quoted.error().message;
  EXPECT_EQ(quoted->policies[0].mask[0].strategy, Strategy::kNull);
}

TEST(MaskLoader, MaskKeyErrorNeverQuotesTheValue) {
  std::string e = load_error("      - { columns: [a], strategy: redact }\n",
                             "mask_key: hunter2-not-a-ref\n");
  EXPECT_THAT(e, StartsWith("test.yaml:1: mask_key"));
  EXPECT_THAT(e, ::testing::Not(HasSubstr("hunter2")));
}

// ---- scan_shapes: the hand-written prefilter is exactly its regexes -------------------------

// Every shape's regex compiled alone; the oracle for scan_shapes().
class ShapeOracle {
 public:
  ShapeOracle() {
    for (size_t s = 0; s < kShapeCount; ++s) {
      const std::string re(shape_regex(static_cast<Shape>(s)));
      hs_compile_error_t* err = nullptr;
      EXPECT_EQ(hs_compile(re.c_str(), HS_FLAG_SINGLEMATCH, HS_MODE_BLOCK, nullptr, &dbs_[s], &err),
                HS_SUCCESS);
      EXPECT_EQ(hs_alloc_scratch(dbs_[s], &scratch_), HS_SUCCESS);
    }
  }
  ~ShapeOracle() {
    for (hs_database_t* db : dbs_) {
      hs_free_database(db);
    }
    hs_free_scratch(scratch_);
  }
  uint32_t scan(std::string_view text) {
    uint32_t found = 0;
    for (size_t s = 0; s < kShapeCount; ++s) {
      bool hit = false;
      hs_scan(dbs_[s], text.data(), static_cast<unsigned>(text.size()), 0, scratch_,
              [](unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) {
                *static_cast<bool*>(ctx) = true;
                return 1;
              },
              &hit);
      found |= hit ? uint32_t{1} << s : 0;
    }
    return found;
  }

 private:
  std::array<hs_database_t*, kShapeCount> dbs_{};
  hs_scratch_t* scratch_ = nullptr;
};

TEST(ScanShapes, KnownTexts) {
  const auto bits = [](std::initializer_list<Shape> shapes) {
    uint32_t b = 0;
    for (Shape s : shapes) {
      b |= uint32_t{1} << static_cast<unsigned>(s);
    }
    return b;
  };
  EXPECT_EQ(scan_shapes(""), 0u);
  EXPECT_EQ(scan_shapes("The quick brown fox"), 0u);
  EXPECT_EQ(scan_shapes("2026-11-29 08:40:55.123456+00"), 0u);
  EXPECT_EQ(scan_shapes("ssn 123-45-6789"), bits({Shape::kSsnDashed}));
  EXPECT_EQ(scan_shapes("4111 1111 1111 1111"), bits({Shape::kDigitGroups}));
  EXPECT_EQ(scan_shapes("id 12345678"), bits({Shape::kDigits8}));
  EXPECT_EQ(scan_shapes("(555) 123-4567"), bits({Shape::kDigitGroups}));
  EXPECT_EQ(scan_shapes("DE89370400440532013000"), bits({Shape::kIban, Shape::kDigits8}));
  EXPECT_EQ(scan_shapes("host 10.1.22.3"), bits({Shape::kIpv4}));
  EXPECT_EQ(scan_shapes("1.2345.6.7"), 0u);
  EXPECT_EQ(scan_shapes("fe80::1"), bits({Shape::kIpv6}));
  EXPECT_EQ(scan_shapes("2001:db8:0:1:2:3:4:5"), bits({Shape::kIpv6}));
  EXPECT_EQ(scan_shapes("12:34:56"), 0u);
  EXPECT_EQ(scan_shapes("mail alice@example.com"), bits({Shape::kEmail}));
  EXPECT_EQ(scan_shapes("root@localhost"), 0u);
  EXPECT_EQ(scan_shapes("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), bits({Shape::kBase64Run40}));
  // A shape straddling two 64-byte windows, and one far into a long text.
  EXPECT_EQ(scan_shapes(std::string(44, '#') + " 123-45-6789"), bits({Shape::kSsnDashed}));
  EXPECT_EQ(scan_shapes(std::string(1000, ' ') + "a::"), bits({Shape::kIpv6}));
  EXPECT_EQ(scan_shapes(std::string(300, '#') + "a@b."), bits({Shape::kEmail}));
}

TEST(ScanShapes, AgreesWithHyperscanOnRandomText) {
  ShapeOracle oracle;
  // An alphabet biased toward the bytes the shapes are made of.
  const std::string alphabet = "0123456789012345678901234567890123456789....:::--- )@AZDEfab/+xq\n";
  std::mt19937 rng(20261129);
  int disagreements = 0;
  size_t shapes_seen = 0;
  for (int i = 0; i < 200000 && disagreements < 5; ++i) {
    const size_t len = rng() % (i % 10 == 0 ? 300 : 70);
    std::string text;
    for (size_t k = 0; k < len; ++k) {
      text.push_back(alphabet[rng() % alphabet.size()]);
    }
    const uint32_t want = oracle.scan(text);
    const uint32_t got = scan_shapes(text);
    shapes_seen += std::popcount(want);
    if (got != want) {
      ++disagreements;
      ADD_FAILURE() << "text \"" << text << "\": scan_shapes " << got << ", Hyperscan " << want;
    }
  }
  EXPECT_GT(shapes_seen, 10000u);  // the texts do exercise the shapes
}

}  // namespace
}  // namespace custos::mask
