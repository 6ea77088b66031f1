#include "protocol/postgres/row_rewriter.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace custos::postgres {

// The mask layer's plan, counts and strategies are this file's vocabulary.
using namespace custos::mask;
namespace {

constexpr size_t kMaxFrame = static_cast<size_t>(std::numeric_limits<int32_t>::max());

Result<bool> finish_frame(char type, const core::Bytes& payload, core::Bytes& out) {
  if (payload.size() + 4 > kMaxFrame) {
    return fail(ErrorCode::kTooLarge, "masked message exceeds the protocol size limit");
  }
  out.reserve(out.size() + payload.size() + 5);
  out.push_back(static_cast<uint8_t>(type));
  core::append_be32(out, static_cast<uint32_t>(payload.size() + 4));
  core::append(out, core::ByteView(payload));
  return true;
}

Result<void> plan_usable(const MaskPlan& plan) {
  if (plan.error) {
    return fail(ErrorCode::kDenied, *plan.error);
  }
  return {};
}

// ---- COPY text format ----------------------------------------------------------------------

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// Decodes one raw text-format field (escapes included). False on a dangling backslash.
bool decode_text_field(std::string_view raw, std::string& out) {
  out.clear();
  for (size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++i >= raw.size()) {
      return false;
    }
    const char e = raw[i];
    switch (e) {
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case 'x': {
        int v = 0;
        int n = 0;
        while (n < 2 && i + 1 < raw.size() && hex_value(raw[i + 1]) >= 0) {
          v = v * 16 + hex_value(raw[++i]);
          ++n;
        }
        if (n == 0) {
          out.push_back('x');
        } else {
          out.push_back(static_cast<char>(v));
        }
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          int v = e - '0';
          int n = 1;
          while (n < 3 && i + 1 < raw.size() && raw[i + 1] >= '0' && raw[i + 1] <= '7') {
            v = v * 8 + (raw[++i] - '0');
            ++n;
          }
          out.push_back(static_cast<char>(v & 0xff));
        } else {
          out.push_back(e);
        }
    }
  }
  return true;
}

void encode_text_field(std::string_view v, char delimiter, std::string& out) {
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\v':
        out += "\\v";
        break;
      default:
        if (c == delimiter) {
          out.push_back('\\');
        }
        out.push_back(c);
    }
  }
}

struct RawField {
  std::string_view raw;  // as on the wire (text: escaped; csv: with quotes)
  bool quoted = false;   // csv only
};

// Splits one text-format line (without its '\n') into raw fields.
void split_text_line(std::string_view line, char delimiter, std::vector<RawField>& fields) {
  fields.clear();
  size_t start = 0;
  size_t i = 0;
  while (true) {
    if (i >= line.size()) {
      fields.push_back(RawField{line.substr(start), false});
      return;
    }
    if (line[i] == delimiter) {
      fields.push_back(RawField{line.substr(start, i - start), false});
      start = ++i;
    } else {
      i += line[i] == '\\' ? 2 : 1;  // the escaped byte never delimits
    }
  }
}

// ---- COPY CSV format -----------------------------------------------------------------------

// Parses one CSV record starting at `pos`; on success `pos` is past its line end.
Result<void> split_csv_record(std::string_view text, size_t& pos, char delimiter,
                              std::vector<RawField>& fields) {
  fields.clear();
  while (true) {
    RawField f;
    const size_t start = pos;
    if (pos < text.size() && text[pos] == '"') {
      f.quoted = true;
      ++pos;
      while (true) {
        if (pos >= text.size()) {
          return fail(ErrorCode::kProtocol, "COPY CSV data ends inside a quoted field");
        }
        if (text[pos] == '"') {
          if (pos + 1 < text.size() && text[pos + 1] == '"') {
            pos += 2;
            continue;
          }
          ++pos;
          break;
        }
        ++pos;
      }
    } else {
      while (pos < text.size() && text[pos] != delimiter && text[pos] != '\n' &&
             text[pos] != '\r') {
        ++pos;
      }
    }
    f.raw = text.substr(start, pos - start);
    fields.push_back(f);
    if (pos >= text.size()) {
      return fail(ErrorCode::kProtocol, "COPY data ends with a partial line");
    }
    if (text[pos] == delimiter) {
      ++pos;
      continue;
    }
    if (text[pos] == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n') {
      pos += 2;
      return {};
    }
    if (text[pos] == '\n') {
      ++pos;
      return {};
    }
    return fail(ErrorCode::kProtocol, "COPY CSV field has data after its closing quote");
  }
}

std::string decode_csv_field(const RawField& f) {
  if (!f.quoted) {
    return std::string(f.raw);
  }
  std::string out;
  const std::string_view inner = f.raw.substr(1, f.raw.size() - 2);
  for (size_t i = 0; i < inner.size(); ++i) {
    out.push_back(inner[i]);
    if (inner[i] == '"') {
      ++i;  // doubled quote
    }
  }
  return out;
}

void encode_csv_field(std::string_view v, std::string& out) {
  out.push_back('"');
  for (char c : v) {
    if (c == '"') {
      out.push_back('"');
    }
    out.push_back(c);
  }
  out.push_back('"');
}

}  // namespace

Result<bool> rewrite_data_row(const MaskPlan& plan, core::ByteView payload, core::Bytes& out,
                              MaskCounts& counts) {
  if (Result<void> ok = plan_usable(plan); !ok) {
    return fail(ok.error().code, ok.error().message);
  }
  if (payload.size() < 2) {
    return fail(ErrorCode::kProtocol, "DataRow too short");
  }
  const int16_t count = static_cast<int16_t>(core::load_be16(payload.data()));
  if (count < 0 || static_cast<size_t>(count) != plan.columns.size()) {
    return fail(ErrorCode::kProtocol, "DataRow has " + std::to_string(count) +
                                          " columns, RowDescription announced " +
                                          std::to_string(plan.columns.size()));
  }
  struct Cell {
    size_t offset;  // of the value bytes
    int32_t len;    // -1 = NULL
  };
  // Cell offsets: on the stack for ordinary rows, a per-thread vector for very wide ones.
  constexpr size_t kStackCells = 64;
  Cell stack_cells[kStackCells];
  thread_local std::vector<Cell> wide_cells;
  Cell* cells = stack_cells;
  if (static_cast<size_t>(count) > kStackCells) {
    wide_cells.resize(static_cast<size_t>(count));
    cells = wide_cells.data();
  }
  const size_t ncells = static_cast<size_t>(count);
  size_t pos = 2;
  for (size_t i = 0; i < ncells; ++i) {
    if (payload.size() - pos < 4) {
      return fail(ErrorCode::kProtocol, "DataRow truncated in a column length");
    }
    const int32_t len = static_cast<int32_t>(core::load_be32(payload.data() + pos));
    pos += 4;
    if (len < -1) {
      return fail(ErrorCode::kProtocol, "DataRow has a negative column length");
    }
    if (len > 0 && static_cast<size_t>(len) > payload.size() - pos) {
      return fail(ErrorCode::kProtocol, "DataRow truncated in a column value");
    }
    cells[i] = Cell{pos, len};
    if (len > 0) {
      pos += static_cast<size_t>(len);
    }
  }
  if (pos != payload.size()) {
    return fail(ErrorCode::kProtocol, "DataRow has trailing bytes");
  }
  if (plan.masker == nullptr) {
    return false;
  }
  // One prefilter pass over the payload for every content-scanned cell.
  thread_local std::vector<DetectorSet::Region> regions;
  thread_local std::vector<size_t> region_cell;
  thread_local std::vector<uint64_t> hits;
  regions.clear();
  region_cell.clear();
  for (size_t i = 0; i < ncells; ++i) {
    const ColumnPlan& cp = plan.columns[i];
    if (cp.whole_rule < 0 && cp.detectors != 0 && cells[i].len > 0) {
      regions.push_back({cells[i].offset, cells[i].offset + static_cast<size_t>(cells[i].len)});
      region_cell.push_back(i);
    }
  }
  const DetectorSet* detectors = plan.masker->detectors();
  if (!regions.empty() && detectors != nullptr) {
    detectors->prefilter_regions(core::as_chars(payload), regions, hits);
  } else {
    hits.assign(regions.size(), 0);
  }
  // The new frame is written straight into `out` once the first cell changes: the payload up
  // to that cell is copied, then every later cell as it is decided; the length is patched last.
  // Writes go through a cursor into pre-sized space (one resize per row, not one per field).
  const size_t frame_start = out.size();
  size_t at = frame_start;
  const auto put = [&out, &at](const void* p, size_t n) {
    if (at + n > out.size()) {
      out.resize(std::max(out.size() * 2, at + n));
    }
    std::memcpy(out.data() + at, p, n);
    at += n;
  };
  const auto put_be32 = [&put](uint32_t v) {
    uint8_t b[4];
    core::store_be32(b, v);
    put(b, 4);
  };
  size_t copied = 0;  // payload bytes already in out (unchanged prefix and cells)
  bool changed = false;
  thread_local std::string masked;
  size_t next_region = 0;
  for (size_t i = 0; i < ncells; ++i) {
    const ColumnPlan& cp = plan.columns[i];
    uint64_t cell_hits = 0;
    if (next_region < region_cell.size() && region_cell[next_region] == i) {
      cell_hits = hits[next_region++];
    }
    if (!cp.active() || cells[i].len < 0) {
      continue;  // NULL stays NULL
    }
    const std::string_view value(reinterpret_cast<const char*>(payload.data()) + cells[i].offset,
                                 static_cast<size_t>(cells[i].len));
    const CellAction a = plan.masker->mask_cell_prefiltered(cp, value, cell_hits, masked, counts);
    if (a == CellAction::kUnchanged) {
      continue;
    }
    if (!changed) {
      changed = true;
      out.resize(frame_start + 5 + payload.size() + 64);
      out[at++] = 'D';
      at += 4;  // length, patched below
    }
    const size_t length_at = cells[i].offset - 4;
    put(payload.data() + copied, length_at - copied);
    if (a == CellAction::kNull) {
      put_be32(0xffffffffu);
    } else {
      if (masked.size() > kMaxFrame) {
        out.resize(frame_start);
        return fail(ErrorCode::kTooLarge, "masked value exceeds the protocol size limit");
      }
      put_be32(static_cast<uint32_t>(masked.size()));
      put(masked.data(), masked.size());
    }
    copied = cells[i].offset + static_cast<size_t>(cells[i].len);
  }
  if (!changed) {
    return false;
  }
  put(payload.data() + copied, payload.size() - copied);
  out.resize(at);
  const size_t length = at - frame_start - 1;
  if (length > kMaxFrame) {
    out.resize(frame_start);
    return fail(ErrorCode::kTooLarge, "masked message exceeds the protocol size limit");
  }
  core::store_be32(out.data() + frame_start + 1, static_cast<uint32_t>(length));
  return true;
}

Result<bool> rewrite_copy_data(const MaskPlan& plan, bool csv, char delimiter,
                               core::ByteView payload, core::Bytes& out, MaskCounts& counts) {
  if (Result<void> ok = plan_usable(plan); !ok) {
    return fail(ok.error().code, ok.error().message);
  }
  const std::string_view text = core::as_chars(payload);
  if (!text.empty() && text.back() != '\n') {
    return fail(ErrorCode::kProtocol, "COPY data ends with a partial line");
  }
  if (delimiter == '\n' || delimiter == '\r' || delimiter == '\\' || (csv && delimiter == '"')) {
    return fail(ErrorCode::kProtocol, "unsupported COPY delimiter");
  }
  std::string result;
  bool changed = false;
  std::vector<RawField> fields;
  std::string decoded;
  std::string masked;
  size_t pos = 0;
  while (pos < text.size()) {
    if (csv) {
      if (Result<void> r = split_csv_record(text, pos, delimiter, fields); !r) {
        return fail(r.error().code, r.error().message);
      }
    } else {
      const size_t nl = text.find('\n', pos);  // exists: text ends with '\n'
      split_text_line(text.substr(pos, nl - pos), delimiter, fields);
      pos = nl + 1;
    }
    if (fields.size() != plan.columns.size()) {
      return fail(ErrorCode::kProtocol, "COPY row has " + std::to_string(fields.size()) +
                                            " fields, expected " +
                                            std::to_string(plan.columns.size()));
    }
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i > 0) {
        result.push_back(delimiter);
      }
      const RawField& f = fields[i];
      const bool is_null = csv ? (!f.quoted && f.raw.empty()) : f.raw == "\\N";
      if (!csv && !is_null && !decode_text_field(f.raw, decoded)) {
        return fail(ErrorCode::kProtocol, "COPY text field ends with a lone backslash");
      }
      if (plan.masker == nullptr || !plan.columns[i].active() || is_null) {
        result.append(f.raw);
        continue;
      }
      if (csv) {
        decoded = decode_csv_field(f);
      }
      const CellAction a = plan.masker->mask_cell(plan.columns[i], decoded, masked, counts);
      if (a == CellAction::kUnchanged) {
        result.append(f.raw);
        continue;
      }
      changed = true;
      if (a == CellAction::kNull) {
        result.append(csv ? "" : "\\N");
      } else if (csv) {
        encode_csv_field(masked, result);
      } else {
        encode_text_field(masked, delimiter, result);
      }
    }
    result.push_back('\n');
  }
  if (!changed) {
    return false;
  }
  core::Bytes body(result.begin(), result.end());
  return finish_frame('d', body, out);
}

Result<void> check_copy_out(const MaskPlan& plan, bool binary_format) {
  if (Result<void> ok = plan_usable(plan); !ok) {
    return ok;
  }
  if (binary_format && plan.any_active()) {
    return fail(ErrorCode::kDenied, "binary COPY is not allowed under a mask; use text or CSV");
  }
  return {};
}

Result<bool> rewrite_notice(const Masker& masker, char type, core::ByteView payload,
                            core::Bytes& out, MaskCounts& counts) {
  const std::string_view text = core::as_chars(payload);
  core::Bytes body;
  bool changed = false;
  size_t pos = 0;
  while (true) {
    if (pos >= text.size()) {
      return fail(ErrorCode::kProtocol, "notice has no terminator");
    }
    const char field = text[pos++];
    if (field == '\0') {
      if (pos != text.size()) {
        return fail(ErrorCode::kProtocol, "notice has trailing bytes");
      }
      break;
    }
    const size_t nul = text.find('\0', pos);
    if (nul == std::string_view::npos) {
      return fail(ErrorCode::kProtocol, "notice field is not terminated");
    }
    const std::string_view value = text.substr(pos, nul - pos);
    pos = nul + 1;
    body.push_back(static_cast<uint8_t>(field));
    if (field == 'M' || field == 'D' || field == 'H' || field == 'W') {
      std::string masked = mask_text(masker, value, counts);
      if (masked != value) {
        changed = true;
        core::append_cstr(body, masked);
        continue;
      }
    }
    core::append_cstr(body, value);
  }
  body.push_back(0);
  if (!changed) {
    return false;
  }
  return finish_frame(type, body, out);
}

}  // namespace custos::postgres
