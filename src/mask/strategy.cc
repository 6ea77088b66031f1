#include "mask/strategy.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <new>
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


// The symbols of a value under fpe, in order: their characters (contiguous, so a half is one
// substring), the character of value 0 ('0', 'a' or 'A'), the radix (10 or 26) and the position
// in the value. Sized once per value with 16 bytes of slack (apply_shifts() works on whole
// 16-byte blocks) and filled without branches: hex values mix digits and letters at random.
struct Symbols {
  std::string chars;
  std::string zero;
  std::string radix;
  std::vector<uint32_t> pos;
  size_t n = 0;
};

constexpr auto kZeroOf = [] {
  std::array<char, 256> t{};
  for (int c = '0'; c <= '9'; ++c) {
    t[c] = '0';
  }
  for (int c = 'a'; c <= 'z'; ++c) {
    t[c] = 'a';
  }
  for (int c = 'A'; c <= 'Z'; ++c) {
    t[c] = 'A';
  }
  return t;
}();

void collect_symbols(std::string_view value, Symbols& out) {
  out.chars.resize(value.size() + 16);
  out.zero.resize(value.size() + 16);
  out.radix.resize(value.size() + 16);
  out.pos.resize(value.size() + 1);
  // Raw pointers: stores through a char* could alias the strings' own pointers, which would
  // make the compiler reload them for every byte.
  char* chars = out.chars.data();
  char* zeros = out.zero.data();
  char* radix = out.radix.data();
  uint32_t* pos = out.pos.data();
  size_t n = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    const char zero = kZeroOf[static_cast<unsigned char>(c)];
    chars[n] = c;
    zeros[n] = zero;
    radix[n] = zero == '0' ? 10 : 26;
    pos[n] = static_cast<uint32_t>(i);
    n += zero != 0;
  }
  out.n = n;
}

// Keyed pseudorandom bytes for `needed` symbols of one half, from the other half's characters:
// each 8-byte SipHash block gives 8 (input: round, symbol count (LE32), block counter, then the
// source characters). apply_shifts() reduces each mod its symbol's radix.
void fpe_shifts(const StrategyKeys& keys, int round, size_t count, std::string_view from,
                size_t needed, std::vector<uint8_t>& out) {
  thread_local std::string input;  // reused: this runs for every masked cell
  input.resize(6 + from.size());
  input[0] = static_cast<char>(round);
  for (int i = 0; i < 4; ++i) {
    input[1 + i] = static_cast<char>(static_cast<uint32_t>(count) >> (8 * i));
  }
  std::copy(from.begin(), from.end(), input.begin() + 6);
  // Whole 8-byte hashes, plus 16 bytes of slack for apply_shifts()'s block loads.
  out.resize((needed + crypto_shorthash_BYTES - 1) / crypto_shorthash_BYTES *
                 crypto_shorthash_BYTES +
             16);
  for (size_t block = 0; block * crypto_shorthash_BYTES < needed; ++block) {
    input[5] = static_cast<char>(block);
    crypto_shorthash(out.data() + block * crypto_shorthash_BYTES,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size(),
                     keys.fpe_key().data());
  }
}

// Adds (or, for the inverse, subtracts) the keyed bytes, each mod its symbol's radix, to the
// symbols [from, from + n). This runs for half the symbols in each of eight rounds of every
// masked value, so it works on 16 symbols at a time in byte lanes (GCC vector extensions; SSE2
// on x86-64) without a branch or a division:
//   raw mod radix  by binary long division: subtract radix * 16, 8, 4, 2, 1 where it fits
//                  (radix 26: 26 * 16 > 255, so that step repeats the * 8 one, a no-op);
//   the sum        (c - zero) + shift is below 2 * radix: one conditional subtraction.
using U8x16 = uint8_t __attribute__((vector_size(16)));

U8x16 mod_radix(U8x16 raw, U8x16 letter) {
  constexpr uint8_t kDigitSteps[] = {160, 80, 40, 20, 10};
  constexpr uint8_t kLetterSteps[] = {208, 208, 104, 52, 26};
  for (int i = 0; i < 5; ++i) {
    const U8x16 step = ((U8x16{} + kLetterSteps[i]) & letter) | ((U8x16{} + kDigitSteps[i]) & ~letter);
    raw -= step & reinterpret_cast<U8x16>(raw >= step);
  }
  return raw;
}

void apply_shifts(Symbols& sym, size_t from, size_t n, const std::vector<uint8_t>& raw,
                  bool inverse) {
  static constexpr U8x16 kLane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  for (size_t k = 0; k < n; k += 16) {
    U8x16 c;
    U8x16 z;
    U8x16 r;
    U8x16 bytes;
    std::memcpy(&c, sym.chars.data() + from + k, 16);
    std::memcpy(&z, sym.zero.data() + from + k, 16);
    std::memcpy(&r, sym.radix.data() + from + k, 16);
    std::memcpy(&bytes, raw.data() + k, 16);
    const U8x16 sh = mod_radix(bytes, reinterpret_cast<U8x16>(r == 26));
    U8x16 x = (c - z) + (inverse ? r - sh : sh);  // in [0, 2r)
    x -= r & reinterpret_cast<U8x16>(x >= r);
    // Lanes past n (the other half, or slack) are written back unchanged.
    const U8x16 live =
        reinterpret_cast<U8x16>(kLane < static_cast<uint8_t>(std::min<size_t>(16, n - k)));
    const U8x16 result = ((z + x) & live) | (c & ~live);
    std::memcpy(sym.chars.data() + from + k, &result, 16);
  }
}

// Format-preserving, keyed and deterministic: a Feistel network over the value's symbols
// (digits and letters; separators stay where they are). The symbols are split into two halves;
// each round adds keyed shifts derived from one half to the other (mod each symbol's radix),
// alternating halves. Every round is invertible, so the whole map is a bijection on values of
// the same format. Eight rounds cost 8–16 SipHash calls for a typical identifier.
constexpr int kFpeRounds = 8;

void fpe(const StrategyKeys& keys, std::string_view value, bool inverse, std::string& out) {
  const size_t base = out.size();
  out.append(value);
  // Reused per thread: this runs for every masked cell.
  thread_local Symbols sym;
  thread_local std::vector<uint8_t> shifts;
  collect_symbols(value, sym);
  const size_t n = sym.n;
  if (n == 0) {
    return;
  }
  const size_t split = (n + 1) / 2;  // left = [0, split), right = [split, n)
  const std::string_view chars(sym.chars.data(), n);
  for (int step = 0; step < kFpeRounds; ++step) {
    const int round = inverse ? kFpeRounds - 1 - step : step;
    const bool even = round % 2 == 0;
    const size_t target = even ? 0 : split;
    const size_t target_n = even ? split : n - split;
    if (target_n == 0) {
      continue;
    }
    fpe_shifts(keys, round, n, even ? chars.substr(split) : chars.substr(0, split), target_n,
               shifts);
    apply_shifts(sym, target, target_n, shifts, inverse);
  }
  for (size_t k = 0; k < n; ++k) {
    out[base + sym.pos[k]] = sym.chars[k];
  }
}

// Per-thread scratch digest context for HmacSha256::mac().
struct ThreadDigest {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~ThreadDigest() { EVP_MD_CTX_free(ctx); }
};

}  // namespace

struct HmacSha256::Impl {
  EVP_MD_CTX* inner = EVP_MD_CTX_new();  // SHA-256 after absorbing key ^ ipad
  EVP_MD_CTX* outer = EVP_MD_CTX_new();  // SHA-256 after absorbing key ^ opad
  ~Impl() {
    EVP_MD_CTX_free(inner);  // the provider clears the digest state on free
    EVP_MD_CTX_free(outer);
  }
};

HmacSha256::HmacSha256(const std::array<uint8_t, 32>& key) : impl_(std::make_unique<Impl>()) {
  // RFC 2104 with a 64-byte block; the key is shorter than a block, so it is zero-padded.
  std::array<uint8_t, 64> ipad;
  std::array<uint8_t, 64> opad;
  ipad.fill(0x36);
  opad.fill(0x5c);
  for (size_t i = 0; i < key.size(); ++i) {
    ipad[i] ^= key[i];
    opad[i] ^= key[i];
  }
  const bool ok = impl_->inner != nullptr && impl_->outer != nullptr &&
                  EVP_DigestInit_ex(impl_->inner, EVP_sha256(), nullptr) == 1 &&
                  EVP_DigestUpdate(impl_->inner, ipad.data(), ipad.size()) == 1 &&
                  EVP_DigestInit_ex(impl_->outer, EVP_sha256(), nullptr) == 1 &&
                  EVP_DigestUpdate(impl_->outer, opad.data(), opad.size()) == 1;
  OPENSSL_cleanse(ipad.data(), ipad.size());
  OPENSSL_cleanse(opad.data(), opad.size());
  if (!ok) {
    throw std::bad_alloc();  // SHA-256 is always available; only allocation can fail
  }
}

HmacSha256::~HmacSha256() = default;

void HmacSha256::mac(std::string_view msg, uint8_t out[32]) const {
  thread_local ThreadDigest work;
  uint8_t inner[32];
  unsigned int n = 0;
  const bool ok = work.ctx != nullptr && EVP_MD_CTX_copy_ex(work.ctx, impl_->inner) == 1 &&
                  EVP_DigestUpdate(work.ctx, msg.data(), msg.size()) == 1 &&
                  EVP_DigestFinal_ex(work.ctx, inner, &n) == 1 &&
                  EVP_MD_CTX_copy_ex(work.ctx, impl_->outer) == 1 &&
                  EVP_DigestUpdate(work.ctx, inner, sizeof inner) == 1 &&
                  EVP_DigestFinal_ex(work.ctx, out, &n) == 1;
  if (!ok) {
    throw std::bad_alloc();
  }
}

StrategyKeys::StrategyKeys() : hmac_(std::make_shared<const HmacSha256>(std::array<uint8_t, 32>{})) {}

StrategyKeys::StrategyKeys(std::string_view mask_key) : present_(true) {
  std::array<uint8_t, 32> k_h;
  hmac_sha256(mask_key, "custos mask hmac v1", k_h.data());
  hmac_ = std::make_shared<const HmacSha256>(k_h);
  sodium_memzero(k_h.data(), k_h.size());
  uint8_t f[32];
  hmac_sha256(mask_key, "custos mask fpe v1", f);
  std::copy(f, f + 16, fpe_.begin());
  sodium_memzero(f, sizeof f);
}

StrategyKeys::~StrategyKeys() {
  sodium_memzero(fpe_.data(), fpe_.size());
}

void mask_partial_into(std::string_view value, uint32_t keep_last, std::string& out) {
  unsigned char high = 0;
  for (unsigned char c : value) {
    high |= c;
  }
  if (high < 0x80) {  // ASCII: one byte per character
    const size_t keep = std::min<size_t>(keep_last, value.size());
    const size_t starred = value.size() == keep ? value.size() : value.size() - keep;
    out.append(starred, '*');
    out.append(value.substr(starred));
    return;
  }
  // Code point starts (bytes that are not UTF-8 continuation bytes).
  size_t points = 0;
  for (unsigned char c : value) {
    points += (c & 0xC0) != 0x80;
  }
  if (points <= keep_last) {
    out.append(points, '*');
    return;
  }
  const size_t starred = points - keep_last;
  out.append(starred, '*');
  size_t seen = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    if ((static_cast<unsigned char>(value[i]) & 0xC0) != 0x80) {
      if (seen++ == starred) {
        out.append(value.substr(i));
        break;
      }
    }
  }
}

void mask_hmac_into(const StrategyKeys& keys, std::string_view value, std::string& out) {
  uint8_t mac[32];
  keys.hmac().mac(value, mac);
  static constexpr char kHex[] = "0123456789abcdef";
  out.append("hmac:");
  for (int i = 0; i < 8; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 15]);
  }
}

void mask_fpe_into(const StrategyKeys& keys, std::string_view value, std::string& out) {
  fpe(keys, value, false, out);
}

std::string mask_partial(std::string_view value, uint32_t keep_last) {
  std::string out;
  mask_partial_into(value, keep_last, out);
  return out;
}

std::string mask_hmac(const StrategyKeys& keys, std::string_view value) {
  std::string out;
  mask_hmac_into(keys, value, out);
  return out;
}

std::string mask_fpe(const StrategyKeys& keys, std::string_view value) {
  std::string out;
  fpe(keys, value, false, out);
  return out;
}

std::string unmask_fpe(const StrategyKeys& keys, std::string_view masked) {
  std::string out;
  fpe(keys, masked, true, out);
  return out;
}

}  // namespace custos::mask
