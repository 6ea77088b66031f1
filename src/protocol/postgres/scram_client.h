#pragma once
// Client side of SCRAM-SHA-256 (RFC 5802 / RFC 7677) as PostgreSQL speaks it, sans-I/O:
// custos uses it to log in to the real database with the injected credential. The caller
// frames the strings into SASLInitialResponse / SASLResponse and feeds back the payloads of
// AuthenticationSASLContinue / AuthenticationSASLFinal.
//
// Channel binding is not used: the GS2 header is always "n,," (the client does not support
// channel binding), so the mechanism to select is "SCRAM-SHA-256", never "-PLUS".

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/result.h"
#include "core/secret.h"

namespace custos::postgres {

inline constexpr std::string_view kScramSha256 = "SCRAM-SHA-256";

// True when `mech` is one of the names in an AuthenticationSASL payload (the bytes after the
// int32 auth code 10): a sequence of NUL-terminated names ended by an empty name. Parsing is
// bounded by the view; a name without its terminating NUL never matches.
bool mechanisms_include(core::ByteView sasl_mechanism_list, std::string_view mech);

class ScramClient {
 public:
  // password: the plain password. client_nonce: empty = 18 random bytes, base64 (24 chars);
  // a non-empty nonce must be printable ASCII without ',' (otherwise handle_server_first fails
  // with kInternal). user: sent in client-first "n=" (escaped per RFC 5802); PostgreSQL ignores
  // it and libpq sends it empty, so leave it empty except to reproduce RFC test vectors.
  explicit ScramClient(core::SecretString password, std::string client_nonce = {},
                       std::string user = {});

  // "n,,n=<user>,r=<nonce>" — the SASLInitialResponse data for mechanism SCRAM-SHA-256.
  std::string client_first_message() const;

  // Handles the server-first-message "r=...,s=...,i=..." and returns the client-final-message
  // "c=biws,r=...,p=...". Errors: kAuth when the server nonce does not extend the client nonce;
  // kProtocol for malformed input (missing or out-of-order attributes, bad base64 salt,
  // iteration count missing / not a number / < 1 / > 10,000,000, mandatory extension "m=",
  // called twice). The password is wiped from this object once used.
  [[nodiscard]] Result<std::string> handle_server_first(std::string_view server_first);

  // Verifies the server-final-message "v=<base64 ServerSignature>" in constant time.
  // "e=<text>" yields kAuth carrying the server's error text (sanitised). Must follow a
  // successful handle_server_first; can succeed once.
  [[nodiscard]] Result<void> verify_server_final(std::string_view server_final);

  // True once verify_server_final succeeded: the server proved it knows the password verifier.
  bool server_verified() const { return state_ == State::kDone; }

  static constexpr uint32_t kMaxIterations = 10'000'000;

 private:
  enum class State { kAwaitServerFirst, kAwaitServerFinal, kDone, kFailed };

  core::SecretString password_;
  std::string client_nonce_;
  std::string client_first_bare_;
  bool nonce_valid_ = false;
  State state_ = State::kAwaitServerFirst;
  // Expected ServerSignature (not secret: the server sends it in clear in server-final).
  std::array<uint8_t, 32> server_signature_{};
};

}  // namespace custos::postgres
