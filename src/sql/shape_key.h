#pragma once
// ShapeKey: a cheap, hand-written normalization of SQL text used as an analysis cache key:
// string, escape-string, bit-string and dollar-quoted literals and numbers are replaced by
// placeholders; identifiers, keywords, operators, comments and $n parameters are kept verbatim.
// Two texts with the same key differ only inside literals, so their parse trees differ only in
// constant values. Anything the scanner is not sure about (unterminated literal or comment,
// U&/UESCAPE, a literal glued to the next token) makes the text not shape-cacheable.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace custos::sql {

struct ShapeKey {
  bool cacheable = false;
  std::string key;
  // [begin, end) byte ranges of the statements between top-level semicolons that contain at
  // least one token (comments and blanks alone do not count), trimmed.
  std::vector<std::pair<size_t, size_t>> statements;
  // [begin, end) byte ranges of the literals replaced by placeholders, prefix (E, B, X, N)
  // included. The analyzer shape-caches a text only when each of them became a constant
  // (A_Const) of the parse tree, whose value it reads only through tracked accessors.
  std::vector<std::pair<size_t, size_t>> literals;
  // An unquoted identifier holds a byte >= 0x80: a server whose encoding is single-byte folds
  // its case by its locale, which custos cannot reproduce.
  bool high_bit_identifier = false;
};

ShapeKey make_shape_key(std::string_view sql);

}  // namespace custos::sql
