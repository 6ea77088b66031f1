#include "mask/strategy.h"

#include <sodium.h>

#include <algorithm>
#include <vector>

namespace custos::mask {
namespace {

void hmac_sha256(std::string_view key, std::string_view msg, uint8_t out[32]) {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(msg.data()),
                                msg.size());
  crypto_auth_hmacsha256_final(&st, out);
  sodium_memzero(&st, sizeof st);
}


int radix_of(char c) {
  if (c >= '0' && c <= '9') {
    return 10;
  }
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
    return 26;
  }
  return 0;
}
int symbol_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a';
  }
  return c - 'A';
}
char symbol_char(char like, int v) {
  if (like >= '0' && like <= '9') {
    return static_cast<char>('0' + v);
  }
  if (like >= 'a' && like <= 'z') {
    return static_cast<char>('a' + v);
  }
  return static_cast<char>('A' + v);
}

// Keyed pseudorandom shifts for the symbols of one half, from the other half's values.
// Each 8-byte SipHash block covers 8 symbols; `round` and `count` separate the uses.
void fpe_shifts(const StrategyKeys& keys, int round, size_t count, const std::string& s,
                const std::vector<size_t>& from, size_t needed, std::vector<uint8_t>& out) {
  thread_local std::string input;  // reused: this runs for every masked cell
  input.clear();
  input.push_back(static_cast<char>(round));
  for (int i = 0; i < 4; ++i) {
    input.push_back(static_cast<char>(static_cast<uint32_t>(count) >> (8 * i)));
  }
  input.push_back(0);  // block counter
  for (size_t p : from) {
    input.push_back(s[p]);
  }
  out.clear();
  for (uint8_t block = 0; out.size() < needed; ++block) {
    input[5] = static_cast<char>(block);
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, reinterpret_cast<const unsigned char*>(input.data()), input.size(),
                     keys.fpe_key().data());
    out.insert(out.end(), h, h + sizeof h);
  }
}

// Format-preserving, keyed and deterministic: a Feistel network over the value's symbols
// (digits and letters; separators stay where they are). The symbols are split into two halves;
// each round adds keyed shifts derived from one half to the other (mod each symbol's radix),
// alternating halves. Every round is invertible, so the whole map is a bijection on values of
// the same format. Eight rounds cost 8–16 SipHash calls for a typical identifier.
constexpr int kFpeRounds = 8;

std::string fpe(const StrategyKeys& keys, std::string_view value, bool inverse) {
  std::string s(value);
  // Reused per thread: this runs for every masked cell.
  thread_local std::vector<size_t> pos, left, right;
  thread_local std::vector<uint8_t> shifts;
  pos.clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (radix_of(s[i]) != 0) {
      pos.push_back(i);
    }
  }
  if (pos.empty()) {
    return s;
  }
  const size_t split = (pos.size() + 1) / 2;
  left.assign(pos.begin(), pos.begin() + static_cast<std::ptrdiff_t>(split));
  right.assign(pos.begin() + static_cast<std::ptrdiff_t>(split), pos.end());
  for (int step = 0; step < kFpeRounds; ++step) {
    const int round = inverse ? kFpeRounds - 1 - step : step;
    const std::vector<size_t>& target = (round % 2 == 0) ? left : right;
    const std::vector<size_t>& source = (round % 2 == 0) ? right : left;
    if (target.empty()) {
      continue;
    }
    fpe_shifts(keys, round, pos.size(), s, source, target.size(), shifts);
    for (size_t k = 0; k < target.size(); ++k) {
      char& c = s[target[k]];
      const int radix = radix_of(c);
      const int shift = shifts[k] % radix;
      const int v = (symbol_value(c) + (inverse ? radix - shift : shift)) % radix;
      c = symbol_char(c, v);
    }
  }
  return s;
}

}  // namespace

StrategyKeys::StrategyKeys(std::string_view mask_key) : present_(true) {
  hmac_sha256(mask_key, "custos mask hmac v1", hmac_.data());
  uint8_t f[32];
  hmac_sha256(mask_key, "custos mask fpe v1", f);
  std::copy(f, f + 16, fpe_.begin());
  sodium_memzero(f, sizeof f);
}

StrategyKeys::~StrategyKeys() {
  sodium_memzero(hmac_.data(), hmac_.size());
  sodium_memzero(fpe_.data(), fpe_.size());
}

std::string mask_partial(std::string_view value, uint32_t keep_last) {
  // Code point starts (bytes that are not UTF-8 continuation bytes).
  size_t points = 0;
  for (unsigned char c : value) {
    points += (c & 0xC0) != 0x80;
  }
  if (points <= keep_last) {
    return std::string(points, '*');
  }
  const size_t starred = points - keep_last;
  std::string out(starred, '*');
  size_t seen = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    if ((static_cast<unsigned char>(value[i]) & 0xC0) != 0x80) {
      if (seen++ == starred) {
        out.append(value.substr(i));
        break;
      }
    }
  }
  return out;
}

std::string mask_hmac(const StrategyKeys& keys, std::string_view value) {
  uint8_t mac[32];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, keys.hmac_key().data(), keys.hmac_key().size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(value.data()),
                                value.size());
  crypto_auth_hmacsha256_final(&st, mac);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "hmac:";
  for (int i = 0; i < 8; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 15]);
  }
  return out;
}

std::string mask_fpe(const StrategyKeys& keys, std::string_view value) {
  return fpe(keys, value, false);
}

std::string unmask_fpe(const StrategyKeys& keys, std::string_view masked) {
  return fpe(keys, masked, true);
}

}  // namespace custos::mask
