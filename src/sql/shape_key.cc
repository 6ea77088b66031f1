#include "sql/shape_key.h"

#include <algorithm>

namespace custos::sql {
namespace {

bool is_ident_start(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}
bool is_ident_char(unsigned char c) {
  return is_ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) { out_.key.reserve(s.size()); }

  ShapeKey run() {
    size_t depth = 0;
    size_t seg_begin = 0;
    bool seg_has_token = false;
    while (i_ < s_.size()) {
      const unsigned char c = s_[i_];
      if (is_space(c)) {  // kept verbatim: a newline ends a -- comment
        out_.key.push_back(static_cast<char>(c));
        ++i_;
        continue;
      }
      if (c == '-' && peek(1) == '-') {
        const size_t start = i_;
        while (i_ < s_.size() && s_[i_] != '\n' && s_[i_] != '\r') {
          ++i_;
        }
        out_.key.append(s_.substr(start, i_ - start));
        continue;
      }
      if (c == '/' && peek(1) == '*') {
        if (!block_comment()) {
          return fail();
        }
        continue;
      }
      if (c == ';' && depth == 0) {
        if (seg_has_token) {
          add_statement(seg_begin, i_);
        }
        seg_has_token = false;
        out_.key.push_back(';');
        ++i_;
        seg_begin = i_;
        continue;
      }
      seg_has_token = true;
      if (c == '(') {
        ++depth;
      } else if (c == ')' && depth > 0) {
        --depth;
      }
      if (c == '\'') {
        if (!quoted_literal(false, i_, "'?'")) {
          return fail();
        }
        continue;
      }
      if (c == '"') {
        if (!quoted_identifier()) {
          return fail();
        }
        continue;
      }
      if (c == '$') {
        if (is_digit(peek(1))) {  // $n parameter: kept
          out_.key.push_back('$');
          ++i_;
          while (i_ < s_.size() && is_digit(s_[i_])) {
            out_.key.push_back(s_[i_++]);
          }
          continue;
        }
        if (!dollar_quoted(i_)) {
          return fail();
        }
        continue;
      }
      if (is_ident_start(c)) {
        const size_t start = i_;
        while (i_ < s_.size() && is_ident_char(s_[i_])) {
          out_.high_bit_identifier |= static_cast<unsigned char>(s_[i_]) >= 0x80;
          ++i_;
        }
        const std::string_view word = s_.substr(start, i_ - start);
        if (i_ < s_.size() && s_[i_] == '&' && (word == "u" || word == "U")) {
          return fail();  // U&'...' / U&"..." with UESCAPE: the escape literal changes meaning
        }
        if (i_ < s_.size() && s_[i_] == '\'' && word.size() == 1) {
          const char p = word[0];
          if (p == 'e' || p == 'E') {
            if (!quoted_literal(true, start, "'?'")) {
              return fail();
            }
            continue;
          }
          // Bit and hex strings are their own token types (BCONST, XCONST) and N'' is NCHAR:
          // the grammar accepts them in fewer places than a plain string.
          if (p == 'b' || p == 'B' || p == 'x' || p == 'X' || p == 'n' || p == 'N') {
            const char* placeholder = p == 'b' || p == 'B'   ? "B'?'"
                                      : p == 'x' || p == 'X' ? "X'?'"
                                                             : "N'?'";
            if (!quoted_literal(false, start, placeholder)) {
              return fail();
            }
            continue;
          }
        }
        out_.key.append(word);
        continue;
      }
      if (is_digit(c) || (c == '.' && is_digit(peek(1)))) {
        if (!number(i_)) {
          return fail();
        }
        continue;
      }
      out_.key.push_back(static_cast<char>(c));
      ++i_;
    }
    if (seg_has_token) {
      add_statement(seg_begin, s_.size());
    }
    out_.cacheable = true;
    return std::move(out_);
  }

 private:
  unsigned char peek(size_t ahead) const {
    return i_ + ahead < s_.size() ? static_cast<unsigned char>(s_[i_ + ahead]) : 0;
  }

  ShapeKey fail() {
    ShapeKey k;
    k.cacheable = false;
    return k;
  }

  void add_statement(size_t begin, size_t end) {
    while (begin < end && is_space(s_[begin])) {
      ++begin;
    }
    while (end > begin && is_space(s_[end - 1])) {
      --end;
    }
    if (begin < end) {
      out_.statements.emplace_back(begin, end);
    }
  }

  // After a literal, the next character must not glue onto it (PostgreSQL would lex the pair
  // differently from what a placeholder suggests).
  bool literal_end_ok() const {
    const unsigned char n = peek(0);
    return !(is_ident_char(n) || n == '\'' || n == '.' || n == '"');
  }

  bool block_comment() {
    const size_t start = i_;
    size_t nesting = 0;
    while (i_ < s_.size()) {
      if (s_[i_] == '/' && peek(1) == '*') {
        ++nesting;
        i_ += 2;
      } else if (s_[i_] == '*' && peek(1) == '/') {
        i_ += 2;
        if (--nesting == 0) {
          out_.key.append(s_.substr(start, i_ - start));
          return true;
        }
      } else {
        ++i_;
      }
    }
    return false;
  }

  bool quoted_literal(bool backslash_escapes, size_t begin, const char* placeholder) {
    ++i_;  // opening quote
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (backslash_escapes && c == '\\') {
        i_ += 2;
        continue;
      }
      if (c == '\'') {
        if (peek(1) == '\'') {
          i_ += 2;
          continue;
        }
        ++i_;
        out_.key.append(placeholder);
        out_.literals.emplace_back(begin, i_);
        return literal_end_ok();
      }
      ++i_;
    }
    return false;
  }

  bool quoted_identifier() {
    const size_t start = i_;
    ++i_;
    while (i_ < s_.size()) {
      if (s_[i_] == '"') {
        if (peek(1) == '"') {
          i_ += 2;
          continue;
        }
        ++i_;
        out_.key.append(s_.substr(start, i_ - start));
        return true;
      }
      ++i_;
    }
    return false;
  }

  bool dollar_quoted(size_t begin) {
    size_t j = i_ + 1;
    if (j < s_.size() && is_ident_start(s_[j])) {
      while (j < s_.size() && is_ident_char(s_[j]) && s_[j] != '$') {
        ++j;
      }
    }
    if (j >= s_.size() || s_[j] != '$') {
      return false;  // a lone '$' is not valid SQL outside identifiers
    }
    const std::string_view tag = s_.substr(i_, j - i_ + 1);
    const size_t close = s_.find(tag, j + 1);
    if (close == std::string_view::npos) {
      return false;
    }
    i_ = close + tag.size();
    out_.key.append("$?$");
    out_.literals.emplace_back(begin, i_);
    return literal_end_ok();
  }

  bool number(size_t begin) {
    while (is_digit(peek(0))) {
      ++i_;
    }
    bool integer = true;
    if (peek(0) == '.' && peek(1) != '.') {
      integer = false;
      ++i_;
      while (is_digit(peek(0))) {
        ++i_;
      }
    }
    if ((peek(0) == 'e' || peek(0) == 'E') &&
        (is_digit(peek(1)) || ((peek(1) == '+' || peek(1) == '-') && is_digit(peek(2))))) {
      integer = false;
      i_ += 2;
      while (is_digit(peek(0))) {
        ++i_;
      }
    }
    // PostgreSQL lexes an integer that fits in int32 as ICONST and anything else as FCONST;
    // some productions take only ICONST (varchar(3), FETCH 5).
    if (integer) {
      const std::string_view digits = s_.substr(begin, i_ - begin);
      const size_t first = std::min(digits.find_first_not_of('0'), digits.size());
      const std::string_view significant = digits.substr(first);
      integer = significant.size() < 10 ||
                (significant.size() == 10 && significant <= std::string_view("2147483647"));
    }
    out_.key.append(integer ? "0" : "0.0");
    out_.literals.emplace_back(begin, i_);
    return literal_end_ok();
  }

  std::string_view s_;
  size_t i_ = 0;
  ShapeKey out_;
};

}  // namespace

ShapeKey make_shape_key(std::string_view sql) {
  if (sql.find('\0') != std::string_view::npos) {
    return ShapeKey{};  // never valid SQL text; not cacheable
  }
  return Scanner(sql).run();
}

}  // namespace custos::sql
