#pragma once
// SecretString: holds a credential, wipes it on destruction, and has no formatter, so it
// cannot end up in a log line by accident. Use reveal() only at the point of use.

#include <sodium.h>

#include <string>
#include <string_view>

namespace custos::core {

class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string v) : v_(std::move(v)) {}
  SecretString(const SecretString&) = default;
  SecretString& operator=(const SecretString&) = default;
  SecretString(SecretString&& o) noexcept : v_(std::move(o.v_)) { o.wipe(); }
  SecretString& operator=(SecretString&& o) noexcept {
    if (this != &o) {
      wipe();
      v_ = std::move(o.v_);
      o.wipe();
    }
    return *this;
  }
  ~SecretString() { wipe(); }

  std::string_view reveal() const { return v_; }
  bool empty() const { return v_.empty(); }
  size_t size() const { return v_.size(); }

 private:
  void wipe() {
    if (!v_.empty()) {
      sodium_memzero(v_.data(), v_.size());
    }
    v_.clear();
  }
  std::string v_;
};

}  // namespace custos::core
