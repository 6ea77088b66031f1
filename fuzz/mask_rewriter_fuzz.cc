// libFuzzer target for the masking rewriters. The input chooses a result shape (columns, their
// sources, types and formats) and supplies DataRow / CopyData / notice payloads. Invariants:
//   - a rewrite either fails, returns false with `out` untouched, or appends exactly one valid
//     frame (type, int32 length = frame size - 1, payload that re-parses completely);
//   - a DataRow frame has the same column count, and every cell of a column the plan does not
//     mask is byte-identical to the input cell;
//   - scan_shapes() (the hand-written prefilter) finds exactly what each shape's regex finds
//     under Hyperscan, for the input as text;
//   - nothing crashes, reads out of bounds or trips UBSan.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <hs/hs.h>

#include "mask/masker.h"
#include "protocol/postgres/row_rewriter.h"
#include "mask/shape_scan.h"

namespace {

using custos::config::MaskRule;
using custos::mask::ColumnSource;
using custos::mask::Masker;
using custos::mask::MaskCounts;
using custos::mask::MaskPlan;

#define CHECK(cond)                                               \
  do {                                                            \
    if (!(cond)) {                                                \
      __builtin_printf("invariant failed: %s (line %d)\n", #cond, __LINE__); \
      std::abort();                                               \
    }                                                             \
  } while (0)

std::shared_ptr<const Masker> build_masker() {
  std::vector<MaskRule> rules(7);
  rules[0].columns = {"public.customers.email"};
  rules[0].strategy = MaskRule::Strategy::kPartial;
  rules[1].columns = {"ssn"};
  rules[1].strategy = MaskRule::Strategy::kNull;
  rules[2].columns = {"orders.card"};
  rules[2].strategy = MaskRule::Strategy::kFpe;
  rules[3].detect = {"credit_card", "us_ssn", "iban", "phone"};
  rules[3].strategy = MaskRule::Strategy::kHmac;
  rules[4].detect = {"email", "ipv4", "ipv6", "jwt", "private_key", "api_token",
                     "aws_access_key", "aws_secret_key"};
  rules[4].strategy = MaskRule::Strategy::kRedact;
  rules[5].detect = {"custom"};
  rules[5].custom = MaskRule::Custom{"order_ref", "ORD-[0-9]{4}"};
  rules[5].columns = {"notes"};
  rules[5].strategy = MaskRule::Strategy::kNull;
  rules[6].columns = {"token"};
  rules[6].strategy = MaskRule::Strategy::kRedact;
  rules[6].computed = MaskRule::Computed::kRedact;
  auto m = Masker::compile(rules, custos::core::SecretString("fuzz-key"));
  if (!m) {
    std::abort();
  }
  return *m;
}

const Masker& masker() {
  static const std::shared_ptr<const Masker> m = build_masker();
  return *m;
}

ColumnSource column_from_byte(uint8_t b) {
  static const char* const kNames[] = {"email", "ssn", "card", "notes", "id", "token", "x", ""};
  static const char* const kTables[] = {"customers", "orders", "t"};
  ColumnSource c;
  const int name = b & 7;
  if (name == 7) {
    c.name = "?column?";  // computed
  } else {
    c.schema = "public";
    c.table = kTables[(b >> 3) % 3];
    c.column = kNames[name];
    c.name = kNames[name];
  }
  c.format = (b & 0x40) ? 1 : 0;
  c.type_oid = (b & 0x80) ? 25 : 23;
  return c;
}

void check_data_row(const MaskPlan& plan, const uint8_t* data, size_t size) {
  custos::core::Bytes out = {0xAA};
  MaskCounts counts;
  auto r = custos::postgres::rewrite_data_row(plan, custos::core::ByteView(data, size), out, counts);
  if (!r || !*r) {
    CHECK(out.size() == 1);
    return;
  }
  CHECK(!plan.error);
  CHECK(out.size() >= 1 + 7);
  CHECK(out[1] == 'D');
  const uint8_t* f = out.data() + 1;
  const size_t flen = out.size() - 1;
  CHECK(custos::core::load_be32(f + 1) == flen - 1);
  const uint16_t n = custos::core::load_be16(f + 5);
  CHECK(n == plan.columns.size());
  CHECK(custos::core::load_be16(data) == n);
  size_t pos = 7;
  size_t in_pos = 2;
  for (uint16_t i = 0; i < n; ++i) {
    CHECK(pos + 4 <= flen);
    const int32_t len = static_cast<int32_t>(custos::core::load_be32(f + pos));
    pos += 4;
    CHECK(len >= -1);
    const int32_t in_len = static_cast<int32_t>(custos::core::load_be32(data + in_pos));
    in_pos += 4;
    if (len > 0) {
      CHECK(pos + static_cast<size_t>(len) <= flen);
    }
    if (!plan.columns[i].active() || in_len < 0) {
      // Unmasked columns (and NULLs) are byte-identical.
      CHECK(len == in_len);
      if (len > 0) {
        CHECK(std::memcmp(f + pos, data + in_pos, static_cast<size_t>(len)) == 0);
      }
    }
    if (len > 0) {
      pos += static_cast<size_t>(len);
    }
    if (in_len > 0) {
      in_pos += static_cast<size_t>(in_len);
    }
  }
  CHECK(pos == flen);
  CHECK(in_pos == size);
  CHECK(counts.total > 0);
}

// The one-pass (region) prefilter must give the same cells as masking each cell on its own.
void check_against_per_cell(const Masker& m, const MaskPlan& plan,
                            const custos::core::Bytes& row) {
  if (plan.error) {
    return;
  }
  custos::core::Bytes out;
  MaskCounts counts;
  auto r = custos::postgres::rewrite_data_row(plan, row, out, counts);
  CHECK(r.has_value());
  size_t in_pos = 2;
  size_t out_pos = 7;
  bool any_change = false;
  for (size_t i = 0; i < plan.columns.size(); ++i) {
    const int32_t in_len = static_cast<int32_t>(custos::core::load_be32(row.data() + in_pos));
    in_pos += 4;
    std::optional<std::string> expected;
    if (in_len >= 0) {
      const std::string value(reinterpret_cast<const char*>(row.data() + in_pos),
                              static_cast<size_t>(in_len));
      in_pos += static_cast<size_t>(in_len);
      expected = value;
      if (plan.columns[i].active()) {
        std::string masked;
        MaskCounts c2;
        const auto a = m.mask_cell(plan.columns[i], value, masked, c2);
        if (a == custos::mask::CellAction::kNull) {
          expected.reset();
        } else if (a == custos::mask::CellAction::kReplaced) {
          expected = masked;
        }
        any_change = any_change || a != custos::mask::CellAction::kUnchanged;
      }
    }
    if (!*r) {
      continue;
    }
    const int32_t len = static_cast<int32_t>(custos::core::load_be32(out.data() + out_pos));
    out_pos += 4;
    std::optional<std::string> got;
    if (len >= 0) {
      got = std::string(reinterpret_cast<const char*>(out.data() + out_pos),
                        static_cast<size_t>(len));
      out_pos += static_cast<size_t>(len);
    }
    CHECK(got == expected);
  }
  CHECK(*r == any_change);
}

void check_frame(const custos::core::Bytes& out, size_t before, char type) {
  CHECK(out.size() >= before + 5);
  CHECK(out[before] == static_cast<uint8_t>(type));
  CHECK(custos::core::load_be32(out.data() + before + 1) == out.size() - before - 1);
}

}  // namespace

// The oracle for scan_shapes(): each shape's regex alone, under Hyperscan.
struct ShapeOracle {
  hs_database_t* dbs[custos::mask::kShapeCount] = {};
  hs_scratch_t* scratch = nullptr;
  ShapeOracle() {
    for (size_t s = 0; s < custos::mask::kShapeCount; ++s) {
      const std::string re(custos::mask::shape_regex(static_cast<custos::mask::Shape>(s)));
      hs_compile_error_t* err = nullptr;
      if (hs_compile(re.c_str(), HS_FLAG_SINGLEMATCH, HS_MODE_BLOCK, nullptr, &dbs[s], &err) !=
              HS_SUCCESS ||
          hs_alloc_scratch(dbs[s], &scratch) != HS_SUCCESS) {
        std::abort();
      }
    }
  }
  uint32_t scan(const char* text, size_t n) const {
    uint32_t found = 0;
    for (size_t s = 0; s < custos::mask::kShapeCount; ++s) {
      bool hit = false;
      hs_scan(dbs[s], text, static_cast<unsigned>(n), 0, scratch,
              [](unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) {
                *static_cast<bool*>(ctx) = true;
                return 1;
              },
              &hit);
      found |= hit ? uint32_t{1} << s : 0;
    }
    return found;
  }
};

void check_shapes(const uint8_t* data, size_t size) {
  static const ShapeOracle oracle;
  const char* text = reinterpret_cast<const char*>(data);
  CHECK(custos::mask::scan_shapes(std::string_view(text, size)) == oracle.scan(text, size));
  // The same text inside a larger readable buffer (the DataRow case).
  const std::string padded = std::string(text, size) + std::string(64, '7');
  CHECK(custos::mask::scan_shapes(std::string_view(padded.data(), size), padded.size()) ==
        oracle.scan(text, size));
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check_shapes(data, size);
  if (size < 2) {
    return 0;
  }
  const Masker& m = masker();
  const size_t ncols = (data[0] % 8) + 1;
  const uint8_t mode = data[1];
  data += 2;
  size -= 2;
  if (size < ncols) {
    return 0;
  }
  std::vector<ColumnSource> cols;
  for (size_t i = 0; i < ncols; ++i) {
    cols.push_back(column_from_byte(data[i]));
  }
  data += ncols;
  size -= ncols;
  const MaskPlan plan = m.plan(cols);

  // 1. The rest as a raw DataRow payload (mostly malformed).
  check_data_row(plan, data, size);

  // 2. A well-formed DataRow built from the rest: cells split on 0xFF, 0xFE = NULL.
  custos::core::Bytes row;
  custos::core::append_be16(row, static_cast<uint16_t>(ncols));
  size_t pos = 0;
  for (size_t i = 0; i < ncols; ++i) {
    size_t end = pos;
    while (end < size && data[end] != 0xFF) {
      ++end;
    }
    if (end - pos == 1 && data[pos] == 0xFE) {
      custos::core::append_be32(row, 0xffffffffu);
    } else {
      custos::core::append_be32(row, static_cast<uint32_t>(end - pos));
      row.insert(row.end(), data + pos, data + end);
    }
    pos = end < size ? end + 1 : end;
  }
  check_data_row(plan, row.data(), row.size());
  check_against_per_cell(m, plan, row);

  // 3. The rest as COPY text / CSV data.
  const custos::core::ByteView rest(data, size);
  MaskCounts counts;
  custos::core::Bytes out = {0x55};
  const bool csv = mode & 1;
  const char delim = (mode & 2) ? ',' : '\t';
  auto c = custos::postgres::rewrite_copy_data(plan, csv, delim, rest, out, counts);
  if (c && *c) {
    check_frame(out, 1, 'd');
    CHECK(out.back() == '\n');
  } else {
    CHECK(out.size() == 1);
  }

  // 4. As a notice payload and as free text.
  out.clear();
  auto n = custos::postgres::rewrite_notice(m, 'N', rest, out, counts);
  if (n && *n) {
    check_frame(out, 0, 'N');
    CHECK(out.back() == 0);
  } else {
    CHECK(out.empty());
  }
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)custos::mask::mask_text(m, text, counts);
  return 0;
}
