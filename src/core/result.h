#pragma once
// Result<T>: the error channel of the data path (no exceptions there).
// std::expected where the standard library has it; a small compatible fallback otherwise, so
// the sans-I/O layers also build with clang-14 for the libFuzzer targets.

#include <string>
#include <utility>
#include <variant>

#if __has_include(<expected>)
#include <expected>
#endif

namespace custos {

enum class ErrorCode {
  kProtocol,        // malformed or unexpected bytes from a peer
  kTooLarge,        // a message exceeded the configured bound
  kAuth,            // authentication failed
  kDenied,          // policy refused
  kConfig,          // invalid configuration
  kIo,              // socket / file error
  kTimeout,         // deadline passed
  kUnavailable,     // a target could not be reached
  kRecording,       // the recorder could not write (fail closed)
  kNotFound,
  kInternal,
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

#if defined(__cpp_lib_expected)
template <class T>
using Result = std::expected<T, Error>;
using Unexpected = std::unexpected<Error>;
#else
class Unexpected {
 public:
  explicit Unexpected(Error e) : error_(std::move(e)) {}
  Error& error() & { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result() requires std::is_default_constructible_v<T> : v_(std::in_place_index<0>) {}
  template <class U = T>
    requires std::is_constructible_v<T, U&&> && (!std::is_same_v<std::decay_t<U>, Unexpected>) &&
             (!std::is_same_v<std::decay_t<U>, Result>)
  Result(U&& v) : v_(std::in_place_index<0>, std::forward<U>(v)) {}
  Result(Unexpected u) : v_(std::in_place_index<1>, std::move(u).error()) {}
  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  Error& error() & { return std::get<1>(v_); }
  const Error& error() const& { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Unexpected u) : err_(std::move(u).error()), ok_(false) {}
  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  void value() const {}
  const Error& error() const { return err_; }

 private:
  Error err_;
  bool ok_ = true;
};
#endif

inline Unexpected fail(ErrorCode code, std::string message) {
  return Unexpected(Error{code, std::move(message)});
}

}  // namespace custos
