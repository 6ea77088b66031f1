#include "record/json_writer.h"

#include <charconv>

namespace custos::record {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Length of the valid UTF-8 sequence starting at s[i] (RFC 3629), or 0 when invalid.
size_t utf8_sequence_length(const unsigned char* p, size_t avail) {
  unsigned char c = p[0];
  auto cont = [&](size_t k) { return k < avail && (p[k] & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) {
    return cont(1) ? 2 : 0;
  }
  if (c == 0xE0) {
    return (avail > 1 && p[1] >= 0xA0 && p[1] <= 0xBF && cont(2)) ? 3 : 0;
  }
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
    return (cont(1) && cont(2)) ? 3 : 0;
  }
  if (c == 0xED) {  // excludes UTF-16 surrogates
    return (avail > 1 && p[1] >= 0x80 && p[1] <= 0x9F && cont(2)) ? 3 : 0;
  }
  if (c == 0xF0) {
    return (avail > 1 && p[1] >= 0x90 && p[1] <= 0xBF && cont(2) && cont(3)) ? 4 : 0;
  }
  if (c >= 0xF1 && c <= 0xF3) {
    return (cont(1) && cont(2) && cont(3)) ? 4 : 0;
  }
  if (c == 0xF4) {
    return (avail > 1 && p[1] >= 0x80 && p[1] <= 0x8F && cont(2) && cont(3)) ? 4 : 0;
  }
  return 0;
}

void append_u00(std::string& out, unsigned char c) {
  char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
  out.append(esc, 6);
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    // Copy the longest run of bytes that need no escaping in one go.
    size_t run = i;
    while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\') {
      ++run;
    }
    if (run > i) {
      out.append(s.data() + i, run - i);
      i = run;
      continue;
    }
    unsigned char c = p[i];
    if (c < 0x80) {
      switch (c) {
        case '"':
          out.append("\\\"", 2);
          break;
        case '\\':
          out.append("\\\\", 2);
          break;
        case '\n':
          out.append("\\n", 2);
          break;
        case '\r':
          out.append("\\r", 2);
          break;
        case '\t':
          out.append("\\t", 2);
          break;
        case '\b':
          out.append("\\b", 2);
          break;
        case '\f':
          out.append("\\f", 2);
          break;
        default:
          append_u00(out, c);
          break;
      }
      ++i;
      continue;
    }
    size_t len = utf8_sequence_length(p + i, n - i);
    if (len == 0) {
      append_u00(out, c);
      ++i;
    } else {
      out.append(s.data() + i, len);
      i += len;
    }
  }
  out.push_back('"');
}

void append_json_int(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_json_uint(std::string& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void Fields::key(std::string_view k) {
  buf_.push_back(',');
  append_json_string(buf_, k);
  buf_.push_back(':');
}

Fields& Fields::str(std::string_view k, std::string_view value) {
  key(k);
  append_json_string(buf_, value);
  return *this;
}

Fields& Fields::i64(std::string_view k, int64_t value) {
  key(k);
  append_json_int(buf_, value);
  return *this;
}

Fields& Fields::u64(std::string_view k, uint64_t value) {
  key(k);
  append_json_uint(buf_, value);
  return *this;
}

Fields& Fields::boolean(std::string_view k, bool value) {
  key(k);
  buf_.append(value ? "true" : "false");
  return *this;
}

Fields& Fields::raw_json(std::string_view k, std::string_view json) {
  key(k);
  buf_.append(json);
  return *this;
}

}  // namespace custos::record
