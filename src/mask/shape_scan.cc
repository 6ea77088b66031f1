#include "mask/shape_scan.h"

#include <array>
#include <algorithm>
#include <cstring>

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

namespace custos::mask {
namespace {

// Character classes for the byte-wise checks (the windows use SIMD compares instead).
enum : uint8_t {
  kDigit = 1,
  kHexLetter = 2,  // a-f, A-F
  kAlnumDash = 4,  // [A-Za-z0-9\-] (email domain label)
  kBase64 = 8,     // [A-Za-z0-9/+]
};

constexpr std::array<uint8_t, 256> kClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c = '0'; c <= '9'; ++c) {
    t[c] |= kDigit | kAlnumDash | kBase64;
  }
  for (int c = 'A'; c <= 'Z'; ++c) {
    t[c] |= kAlnumDash | kBase64;
  }
  for (int c = 'a'; c <= 'z'; ++c) {
    t[c] |= kAlnumDash | kBase64;
  }
  for (int c : {'a', 'b', 'c', 'd', 'e', 'f', 'A', 'B', 'C', 'D', 'E', 'F'}) {
    t[c] |= kHexLetter;
  }
  t['-'] |= kAlnumDash;
  t['/'] |= kBase64;
  t['+'] |= kBase64;
  return t;
}();

uint8_t cls(std::string_view t, size_t i) { return kClass[static_cast<unsigned char>(t[i])]; }
bool hex(std::string_view t, size_t i) { return (cls(t, i) & (kDigit | kHexLetter)) != 0; }
constexpr uint32_t bit(Shape s) { return uint32_t{1} << static_cast<unsigned>(s); }

// From position j: a run of `min`..`max` bytes of class `want`, then `end`. Returns the position
// after `end`, or 0 when the text does not continue that way (0 is never a valid answer: the
// run starts after a trigger byte).
size_t run_then(std::string_view t, size_t j, uint8_t want, size_t min, size_t max, char end) {
  size_t n = 0;
  while (j + n < t.size() && (cls(t, j + n) & want) != 0) {
    if (++n > max) {
      return 0;
    }
  }
  if (n < min || j + n >= t.size() || t[j + n] != end) {
    return 0;
  }
  return j + n + 1;
}

// t[p] is ':' or '@': the variable-length shapes, checked where they begin.
uint32_t on_trigger(std::string_view t, size_t p) {
  switch (t[p]) {
    case ':': {  // ::|[0-9A-Fa-f]:([0-9A-Fa-f]{1,4}:){3}, anchored at its first colon
      if (p + 1 < t.size() && t[p + 1] == ':') {
        return bit(Shape::kIpv6);
      }
      if (p == 0 || !hex(t, p - 1)) {
        return 0;
      }
      size_t j = p + 1;
      for (int group = 0; group < 3 && j != 0; ++group) {
        j = run_then(t, j, kDigit | kHexLetter, 1, 4, ':');
      }
      return j != 0 ? bit(Shape::kIpv6) : 0;
    }
    case '@':  // @[A-Za-z0-9\-]+\.
      return run_then(t, p + 1, kAlnumDash, 1, t.size(), '.') != 0 ? bit(Shape::kEmail) : 0;
    default:
      return 0;
  }
}

// ---- 64-byte windows as bitmasks -----------------------------------------------------------
// Bit i of a mask is byte i of the window; (m >> k) has at bit i what m has at byte i + k, so a
// fixed-width shape is an AND of shifted class masks. Bytes past the text belong to no class.

struct WindowMasks {
  uint64_t digit = 0, upper = 0, dot = 0, colon = 0, dash = 0, space = 0, group_sep = 0, at = 0;
};

#if defined(__x86_64__)
// SSE2 (every x86-64): 16 bytes per compare. x - lo <= hi - lo, unsigned, per byte.
inline __m128i in_range(__m128i x, char lo, char hi) {
  const __m128i d = _mm_sub_epi8(x, _mm_set1_epi8(lo));
  return _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(static_cast<char>(hi - lo))), d);
}
inline uint64_t bits16(__m128i m, int chunk) {
  return static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(m))) << (16 * chunk);
}
WindowMasks classify_sse2(const char* w, int chunks) {
  WindowMasks m;
  for (int chunk = 0; chunk < chunks; ++chunk) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 16 * chunk));
    const auto eq = [&x](char c) { return _mm_cmpeq_epi8(x, _mm_set1_epi8(c)); };
    const __m128i dot = eq('.');
    const __m128i dash = eq('-');
    const __m128i space = eq(' ');
    m.digit |= bits16(in_range(x, '0', '9'), chunk);
    m.upper |= bits16(in_range(x, 'A', 'Z'), chunk);
    m.dot |= bits16(dot, chunk);
    m.colon |= bits16(eq(':'), chunk);
    m.dash |= bits16(dash, chunk);
    m.space |= bits16(space, chunk);
    m.at |= bits16(eq('@'), chunk);
    m.group_sep |= bits16(_mm_or_si128(_mm_or_si128(dot, dash), _mm_or_si128(space, eq(')'))),
                          chunk);
  }
  return m;
}

WindowMasks classify_all(const char* w, int chunks) { return classify_sse2(w, chunks); }
#else
WindowMasks classify_all(const char* w, int chunks) {
  WindowMasks m;
  for (int i = 0; i < 16 * chunks; ++i) {
    const uint64_t b = uint64_t{1} << i;
    const char c = w[i];
    m.digit |= (c >= '0' && c <= '9') ? b : 0;
    m.upper |= (c >= 'A' && c <= 'Z') ? b : 0;
    m.dot |= c == '.' ? b : 0;
    m.colon |= c == ':' ? b : 0;
    m.dash |= c == '-' ? b : 0;
    m.space |= c == ' ' ? b : 0;
    m.at |= c == '@' ? b : 0;
    m.group_sep |= (c == '.' || c == '-' || c == ' ' || c == ')') ? b : 0;
  }
  return m;
}
#endif

// Masks of the window's first `len` bytes (<= 64); the rest is past the text. Only the 16-byte
// chunks that hold text are classified (most cells are short).
WindowMasks classify(const char* w, size_t len) {
  const uint64_t valid = len >= 64 ? ~uint64_t{0} : (uint64_t{1} << len) - 1;
  // Whole 32-byte halves (the caller makes them readable).
  WindowMasks m = classify_all(w, len > 32 ? 4 : 2);
  m.digit &= valid;
  m.upper &= valid;
  m.dot &= valid;
  m.colon &= valid;
  m.dash &= valid;
  m.space &= valid;
  m.group_sep &= valid;
  m.at &= valid;
  return m;
}

// At least three bits set (std::popcount is a library call without -mpopcnt).
bool three_or_more(uint64_t m) {
  m &= m - 1;
  m &= m - 1;
  return m != 0;
}

// min(number of bits set, 4), without a loop or a library call.
unsigned bits_up_to_4(uint64_t m) {
  unsigned n = m != 0;
  m &= m - 1;
  n += m != 0;
  m &= m - 1;
  n += m != 0;
  m &= m - 1;
  return n + (m != 0);
}

// The fixed-width shapes (all at most 16 bytes long) that start in this window.
uint32_t window_shapes(const WindowMasks& m) {
  uint32_t found = 0;
  const uint64_t d = m.digit;
  const uint64_t r2 = d & (d >> 1);  // 2 digits start here
  const uint64_t r3 = r2 & (d >> 2);
  const uint64_t r4 = r2 & (r2 >> 2);
  if (r4 & (r4 >> 4)) {
    found |= bit(Shape::kDigits8);
  }
  if (r3 & (m.group_sep >> 3) & ((r3 >> 4) | ((m.space >> 4) & (r3 >> 5)))) {
    found |= bit(Shape::kDigitGroups);
  }
  if (r3 & (m.dash >> 3) & (r2 >> 4) & (m.dash >> 6) & (r4 >> 7)) {
    found |= bit(Shape::kSsnDashed);
  }
  if (m.upper & (m.upper >> 1) & (r2 >> 2)) {
    found |= bit(Shape::kIban);
  }
  if (m.colon & (m.colon >> 1)) {
    found |= bit(Shape::kIpv6);  // "::"
  }
  if (three_or_more(m.dot)) {
    // d . D{a} . D{b} . d with a, b in 1..3: exactly a digits, because a dot follows them.
    const uint64_t runs[4] = {0, d, r2, r3};
    const uint64_t head = d & (m.dot >> 1);
    for (int a = 1; a <= 3; ++a) {
      const uint64_t first = head & (runs[a] >> 2) & (m.dot >> (2 + a));
      for (int b = 1; first != 0 && b <= 3; ++b) {
        if (first & (runs[b] >> (3 + a)) & (m.dot >> (3 + a + b)) & (d >> (4 + a + b))) {
          found |= bit(Shape::kIpv4);
        }
      }
    }
  }
  return found;
}

// [A-Za-z0-9/+]{40}: probe the last byte of each candidate run and skip past any other byte.
bool has_base64_run40(std::string_view t) {
  size_t start = 0;
  while (start + 40 <= t.size()) {
    size_t j = start + 40;
    while (j > start && (cls(t, j - 1) & kBase64)) {
      --j;
    }
    if (j == start) {
      return true;
    }
    start = j;  // t[j - 1] is not base64: no run of 40 can include it
  }
  return false;
}

}  // namespace

std::string_view shape_regex(Shape shape) {
  switch (shape) {
    case Shape::kDigits8:
      return R"([0-9]{8})";
    case Shape::kDigitGroups:
      return R"([0-9]{3}[ \-.)] ?[0-9]{3})";
    case Shape::kSsnDashed:
      return R"([0-9]{3}-[0-9]{2}-[0-9]{4})";
    case Shape::kIban:
      return R"([A-Z]{2}[0-9]{2})";
    case Shape::kIpv4:
      return R"([0-9]\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9])";
    case Shape::kIpv6:
      return R"(::|[0-9A-Fa-f]:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:)";
    case Shape::kEmail:
      return R"(@[A-Za-z0-9\-]+\.)";
    case Shape::kBase64Run40:
      return R"([A-Za-z0-9/+]{40})";
  }
  return {};
}

uint32_t scan_shapes(std::string_view t, size_t readable) {
  // Windows of 64 bytes, 48 apart: every fixed-width shape (<= 16 bytes) lies wholly inside the
  // window where it starts. The variable-length ones are checked where they begin: the colon
  // groups of an IPv6 address (only when the text has the four colons they need) and "@label.".
  constexpr size_t kWindow = 64;
  constexpr size_t kStride = 48;
  readable = std::max(readable, t.size());
  uint32_t found = 0;
  unsigned colons = 0;  // counted up to 4 per window: only "four or more" matters
  bool at = false;
  alignas(16) char copy[kWindow] = {};
  for (size_t off = 0; off < t.size(); off += kStride) {
    const char* w = t.data() + off;
    const size_t left = t.size() - off;
    if (readable - off < (left > 32 ? 64 : 32)) {  // classify() would read past readable memory
      std::memcpy(copy, w, std::min(readable - off, kWindow));
      w = copy;
    }
    const WindowMasks m = classify(w, left);
    found |= window_shapes(m);
    const bool last = left <= kWindow;
    // Each colon counted once: a window owns its first 48 bytes, the last one all of its bytes.
    colons += bits_up_to_4(last ? m.colon : m.colon & ((uint64_t{1} << kStride) - 1));
    at = at || m.at != 0;
    if (last) {
      break;
    }
  }
  // The shape starting at some occurrence of `trigger`, checked occurrence by occurrence.
  const auto any_at = [t](char trigger) {
    for (size_t p = t.find(trigger); p != std::string_view::npos; p = t.find(trigger, p + 1)) {
      if (on_trigger(t, p) != 0) {
        return true;
      }
    }
    return false;
  };
  if (colons >= 4 && !(found & bit(Shape::kIpv6)) && any_at(':')) {
    found |= bit(Shape::kIpv6);
  }
  if (at && any_at('@')) {
    found |= bit(Shape::kEmail);
  }
  if (t.size() >= 40 && has_base64_run40(t)) {
    found |= bit(Shape::kBase64Run40);
  }
  return found;
}

}  // namespace custos::mask
