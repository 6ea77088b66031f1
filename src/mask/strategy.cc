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

constexpr int kFpePasses = 4;
constexpr size_t kFpeWindow = 16;

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

// PRF value for updating symbol k in `pass`; reads only the other symbols.
uint64_t fpe_round(const StrategyKeys& keys, const std::string& s, const std::vector<size_t>& pos,
                   int pass, size_t k) {
  unsigned char buf[16 + 2 * kFpeWindow];
  size_t n = 0;
  const uint32_t count = static_cast<uint32_t>(pos.size());
  const uint32_t kk = static_cast<uint32_t>(k);
  buf[n++] = static_cast<unsigned char>(pass);
  for (int i = 0; i < 4; ++i) {
    buf[n++] = static_cast<unsigned char>(kk >> (8 * i));
  }
  for (int i = 0; i < 4; ++i) {
    buf[n++] = static_cast<unsigned char>(count >> (8 * i));
  }
  const size_t lo = k > kFpeWindow ? k - kFpeWindow : 0;
  const size_t hi = std::min(pos.size(), k + kFpeWindow + 1);
  for (size_t j = lo; j < hi; ++j) {
    if (j != k) {
      buf[n++] = static_cast<unsigned char>(s[pos[j]]);
    }
  }
  unsigned char h[crypto_shorthash_BYTES];
  crypto_shorthash(h, buf, n, keys.fpe_key().data());
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v |= uint64_t{h[i]} << (8 * i);
  }
  return v;
}

std::string fpe(const StrategyKeys& keys, std::string_view value, bool inverse) {
  std::string s(value);
  std::vector<size_t> pos;
  for (size_t i = 0; i < s.size(); ++i) {
    if (radix_of(s[i]) != 0) {
      pos.push_back(i);
    }
  }
  for (int step = 0; step < kFpePasses; ++step) {
    const int pass = inverse ? kFpePasses - 1 - step : step;
    for (size_t t = 0; t < pos.size(); ++t) {
      const size_t k = inverse ? pos.size() - 1 - t : t;
      char& c = s[pos[k]];
      const int radix = radix_of(c);
      const int shift = static_cast<int>(fpe_round(keys, s, pos, pass, k) % radix);
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
