#include "core/base64.h"

#include <array>

namespace custos::core {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Reverse table: 0..63 for alphabet characters, -1 for everything else (including '=').
constexpr std::array<int8_t, 256> make_reverse_table() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) {
    v = -1;
  }
  for (int i = 0; i < 64; ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  }
  return table;
}

constexpr std::array<int8_t, 256> kReverse = make_reverse_table();

int sextet(char c) { return kReverse[static_cast<unsigned char>(c)]; }

}  // namespace

std::string base64_encode(ByteView data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = uint32_t(data[i]) << 16 | uint32_t(data[i + 1]) << 8 | uint32_t(data[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 0x3f]);
    out.push_back(kAlphabet[(v >> 12) & 0x3f]);
    out.push_back(kAlphabet[(v >> 6) & 0x3f]);
    out.push_back(kAlphabet[v & 0x3f]);
  }
  size_t rest = data.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t(data[i]) << 16;
    out.push_back(kAlphabet[(v >> 18) & 0x3f]);
    out.push_back(kAlphabet[(v >> 12) & 0x3f]);
    out.append("==");
  } else if (rest == 2) {
    uint32_t v = uint32_t(data[i]) << 16 | uint32_t(data[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 0x3f]);
    out.push_back(kAlphabet[(v >> 12) & 0x3f]);
    out.push_back(kAlphabet[(v >> 6) & 0x3f]);
    out.push_back('=');
  }
  return out;
}

std::optional<Bytes> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  Bytes out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int a = sextet(text[i]);
    int b = sextet(text[i + 1]);
    if (a < 0 || b < 0) {
      return std::nullopt;
    }
    const char c3 = text[i + 2];
    const char c4 = text[i + 3];
    if (last && c3 == '=' && c4 == '=') {
      if ((b & 0x0f) != 0) {  // non-canonical: dropped bits must be zero
        return std::nullopt;
      }
      out.push_back(uint8_t(a << 2 | b >> 4));
      break;
    }
    int c = sextet(c3);
    if (c < 0) {
      return std::nullopt;
    }
    if (last && c4 == '=') {
      if ((c & 0x03) != 0) {
        return std::nullopt;
      }
      out.push_back(uint8_t(a << 2 | b >> 4));
      out.push_back(uint8_t((b & 0x0f) << 4 | c >> 2));
      break;
    }
    int d = sextet(c4);
    if (d < 0) {
      return std::nullopt;
    }
    uint32_t v = uint32_t(a) << 18 | uint32_t(b) << 12 | uint32_t(c) << 6 | uint32_t(d);
    out.push_back(uint8_t(v >> 16));
    out.push_back(uint8_t(v >> 8));
    out.push_back(uint8_t(v));
  }
  return out;
}

}  // namespace custos::core
