#pragma once
// Byte buffers and big-endian helpers shared by every wire codec.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace custos::core {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_chars(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

inline uint16_t load_be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t load_be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}
inline void append_be16(Bytes& out, uint16_t v) {
  out.push_back(uint8_t(v >> 8));
  out.push_back(uint8_t(v));
}
inline void store_be32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}
// The appends below run per field of every relayed or rewritten row: one size check and a
// memcpy rather than per-byte push_back or the generic iterator insert.
inline void append_be32(Bytes& out, uint32_t v) {
  const size_t at = out.size();
  out.resize(at + 4);
  store_be32(out.data() + at, v);
}
inline void append(Bytes& out, ByteView b) {
  if (b.empty()) {
    return;
  }
  const size_t at = out.size();
  out.resize(at + b.size());
  std::memcpy(out.data() + at, b.data(), b.size());
}
inline void append(Bytes& out, std::string_view s) {
  append(out, ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}
inline void append_cstr(Bytes& out, std::string_view s) {
  append(out, s);
  out.push_back(0);
}

// A growable read buffer: bytes arrive at the back, a codec consumes from the front.
// Compaction is amortised: the consumed prefix is dropped only when it dominates.
class ReadBuffer {
 public:
  explicit ReadBuffer(size_t initial = 16 * 1024) { data_.resize(initial); }

  ByteView readable() const { return {data_.data() + begin_, end_ - begin_}; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  void consume(size_t n) {
    begin_ += n;
    if (begin_ == end_) {
      begin_ = end_ = 0;
    }
  }
  // Returns writable space of at least `min` bytes (grows or compacts as needed).
  std::span<uint8_t> prepare(size_t min) {
    if (data_.size() - end_ < min) {
      if (begin_ > 0) {
        std::memmove(data_.data(), data_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
      }
      if (data_.size() - end_ < min) {
        data_.resize(end_ + min);
      }
    }
    return {data_.data() + end_, data_.size() - end_};
  }
  void commit(size_t n) { end_ += n; }
  void clear() { begin_ = end_ = 0; }
  size_t capacity() const { return data_.size(); }
  // Releases memory after a burst (e.g. one huge message) so idle sessions stay small.
  void shrink_to(size_t cap) {
    if (data_.size() > cap && size() <= cap) {
      Bytes fresh(cap);
      std::memcpy(fresh.data(), data_.data() + begin_, size());
      end_ = size();
      begin_ = 0;
      data_.swap(fresh);
    }
  }

 private:
  Bytes data_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace custos::core
