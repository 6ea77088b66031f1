#pragma once
// Masking strategies applied to one value (a whole cell or a detected span of it).
//
//   redact  → the fixed marker "****", whatever the value (length is not revealed).
//   partial → every character but the last keep_last replaced by '*', character count kept
//             (UTF-8 aware: one '*' per code point). A value with keep_last characters or fewer
//             is fully starred (keeping it all would reveal it).
//   hmac    → "hmac:" + the first 16 lowercase hex digits of HMAC-SHA256(k_h, value): equal
//             inputs give equal tokens, so joins and GROUP BY still work on masked results.
//   fpe     → format-preserving, keyed, deterministic: ASCII digits stay digits, letters stay
//             letters of the same case, every other byte (separators, non-ASCII) stays in place,
//             length unchanged. Construction: a Feistel network over the alphanumeric
//             symbols split into two halves; 8 rounds, each adding to every symbol of one half
//             (mod its radix) a keyed shift from SipHash-2-4_{k_f}(round, n, other half),
//             alternating halves. Each round is invertible (subtract the same shifts), so the
//             whole map is a bijection on strings of the same format. It is NOT NIST FF1/FF3-1; short values
//             have small domains (a 4-digit value has 10^4 images) — it hides, it does not
//             encrypt.
//   null   → SQL NULL (handled by the row rewriters, not here).
// k_h and k_f are derived from mask_key with HMAC-SHA256 under distinct labels, so the two
// strategies never share key material.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace custos::mask {

inline constexpr std::string_view kRedactMarker = "****";

// HMAC-SHA256 under one key with the key's inner and outer SHA-256 states computed once, so a
// MAC costs two compressions of the message blocks (OpenSSL, SHA extensions where the CPU has
// them) instead of re-keying per value. Immutable; mac() is thread-safe.
class HmacSha256 {
 public:
  explicit HmacSha256(const std::array<uint8_t, 32>& key);
  ~HmacSha256();
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;
  void mac(std::string_view msg, uint8_t out[32]) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class StrategyKeys {
 public:
  // No mask key: all-zero keys (the config loader refuses hmac and fpe without one).
  StrategyKeys();
  explicit StrategyKeys(std::string_view mask_key);
  StrategyKeys(const StrategyKeys&) = default;
  StrategyKeys& operator=(const StrategyKeys&) = default;
  ~StrategyKeys();

  bool present() const { return present_; }
  const std::array<uint8_t, 16>& fpe_key() const { return fpe_; }
  // HMAC under k_h, pre-keyed.
  const HmacSha256& hmac() const { return *hmac_; }

 private:
  std::shared_ptr<const HmacSha256> hmac_;
  std::array<uint8_t, 16> fpe_{};
  bool present_ = false;
};

// The *_into forms append the masked value to `out` (the data path reuses one buffer per row).
void mask_partial_into(std::string_view value, uint32_t keep_last, std::string& out);
void mask_hmac_into(const StrategyKeys& keys, std::string_view value, std::string& out);
void mask_fpe_into(const StrategyKeys& keys, std::string_view value, std::string& out);

std::string mask_partial(std::string_view value, uint32_t keep_last);
std::string mask_hmac(const StrategyKeys& keys, std::string_view value);
std::string mask_fpe(const StrategyKeys& keys, std::string_view value);
// The inverse of mask_fpe (tests prove bijectivity with it; never used on the data path).
std::string unmask_fpe(const StrategyKeys& keys, std::string_view masked);

}  // namespace custos::mask
