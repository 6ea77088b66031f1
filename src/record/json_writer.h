#pragma once
// A small, allocation-free (after warm-up) JSON writer for the recording hot path.
//
// Strings are written as valid JSON whatever bytes they hold: quotes, backslashes and control
// characters are escaped; valid UTF-8 passes through unchanged; every byte that is not part of a
// valid UTF-8 sequence (stray continuation bytes, overlongs, surrogates, > U+10FFFF, truncated
// sequences) is escaped as \u00XX, i.e. it reads back as the code point U+00XX. The byte value is
// thus preserved for the evidence and the line always parses (nlohmann rejects invalid UTF-8).

#include <cstdint>
#include <string>
#include <string_view>

namespace custos::record {

// Appends `s` to `out` as a quoted JSON string.
void append_json_string(std::string& out, std::string_view s);
void append_json_int(std::string& out, int64_t v);
void append_json_uint(std::string& out, uint64_t v);

// Extra event fields, serialized as `,"key":value` fragments in insertion order. Reusable: call
// clear() and the capacity stays. Keys are written escaped too, but should be plain identifiers.
class Fields {
 public:
  Fields& str(std::string_view key, std::string_view value);
  Fields& i64(std::string_view key, int64_t value);
  Fields& u64(std::string_view key, uint64_t value);
  Fields& boolean(std::string_view key, bool value);
  // `json` must already be one valid JSON value (object, array, ...); written verbatim.
  Fields& raw_json(std::string_view key, std::string_view json);
  // Appends all of `other`'s fields after these.
  Fields& append(const Fields& other) {
    buf_.append(other.buf_);
    return *this;
  }
  void clear() { buf_.clear(); }
  bool empty() const { return buf_.empty(); }
  // The serialized fragments, each starting with a comma.
  std::string_view serialized() const { return buf_; }

 private:
  void key(std::string_view k);
  std::string buf_;
};

}  // namespace custos::record
