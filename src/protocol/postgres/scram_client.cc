#include "protocol/postgres/scram_client.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <climits>
#include <optional>
#include <utility>

#include "core/base64.h"

namespace custos::postgres {

namespace {

using Key = std::array<uint8_t, 32>;  // SHA-256 output size

constexpr size_t kRandomNonceBytes = 18;
constexpr size_t kMaxServerErrorChars = 200;
constexpr size_t kMaxSaltBytes = 1024;  // PostgreSQL uses 16; anything huge is not a real server

// Wipes a fixed-size secret when it leaves scope, on every return path.
class ScopedWipe {
 public:
  explicit ScopedWipe(Key& k) : k_(k) {}
  ScopedWipe(const ScopedWipe&) = delete;
  ScopedWipe& operator=(const ScopedWipe&) = delete;
  ~ScopedWipe() { OPENSSL_cleanse(k_.data(), k_.size()); }

 private:
  Key& k_;
};

bool hmac_sha256(const Key& key, std::string_view data, Key& out) {
  unsigned len = 0;
  const unsigned char* r =
      HMAC(EVP_sha256(), key.data(), int(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  return r != nullptr && len == out.size();
}

bool sha256(const Key& data, Key& out) {
  unsigned len = 0;
  return EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) == 1 &&
         len == out.size();
}

// RFC 5802 printable: %x21-2B / %x2D-7E (printable ASCII except ',').
bool is_printable_nonce(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x21 || c > 0x7e || c == ',') {
      return false;
    }
  }
  return true;
}

// RFC 5802 saslname: ',' -> "=2C", '=' -> "=3D".
std::string escape_saslname(std::string_view user) {
  std::string out;
  out.reserve(user.size());
  for (char c : user) {
    if (c == ',') {
      out += "=2C";
    } else if (c == '=') {
      out += "=3D";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// A SCRAM message split at ','. Every part must look like "x=value" with x an ASCII letter;
// empty parts (",," or a trailing ',') make the message malformed. Bounded: at most kMaxParts.
struct Attributes {
  static constexpr size_t kMaxParts = 16;
  std::array<std::string_view, kMaxParts> parts{};
  size_t count = 0;

  char name(size_t i) const { return parts[i][0]; }
  std::string_view value(size_t i) const { return parts[i].substr(2); }
};

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::optional<Attributes> split_attributes(std::string_view message) {
  Attributes out;
  while (true) {
    size_t comma = message.find(',');
    std::string_view part = message.substr(0, comma);
    if (part.size() < 2 || !is_alpha(part[0]) || part[1] != '=' ||
        out.count == Attributes::kMaxParts) {
      return std::nullopt;
    }
    out.parts[out.count++] = part;
    if (comma == std::string_view::npos) {
      return out;
    }
    message = message.substr(comma + 1);
  }
}

// RFC 5802 posit-number: %x31-39 *DIGIT, bounded.
std::optional<uint32_t> parse_iterations(std::string_view s) {
  if (s.empty() || s[0] < '1' || s[0] > '9') {
    return std::nullopt;
  }
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    v = v * 10 + uint64_t(c - '0');
    if (v > ScramClient::kMaxIterations) {
      return std::nullopt;
    }
  }
  return static_cast<uint32_t>(v);
}

// Server-supplied text is untrusted: keep it printable ASCII and short before it goes into an
// Error that may be logged.
std::string sanitize_server_text(std::string_view s) {
  std::string out;
  for (char ch : s.substr(0, kMaxServerErrorChars)) {
    auto c = static_cast<unsigned char>(ch);
    out.push_back(c >= 0x20 && c < 0x7f ? ch : '?');
  }
  return out;
}

}  // namespace

bool mechanisms_include(core::ByteView list, std::string_view mech) {
  size_t pos = 0;
  while (pos < list.size()) {
    size_t end = pos;
    while (end < list.size() && list[end] != 0) {
      ++end;
    }
    if (end == list.size()) {
      return false;  // unterminated name: malformed, never matches
    }
    if (end == pos) {
      return false;  // empty name ends the list
    }
    if (core::as_chars(list.subspan(pos, end - pos)) == mech) {
      return true;
    }
    pos = end + 1;
  }
  return false;
}

ScramClient::ScramClient(core::SecretString password, std::string client_nonce, std::string user)
    : password_(std::move(password)), client_nonce_(std::move(client_nonce)) {
  if (client_nonce_.empty()) {
    std::array<uint8_t, kRandomNonceBytes> raw{};
    if (RAND_bytes(raw.data(), int(raw.size())) == 1) {
      client_nonce_ = core::base64_encode(raw);
    }
  }
  nonce_valid_ = is_printable_nonce(client_nonce_);
  client_first_bare_ = "n=" + escape_saslname(user) + ",r=" + client_nonce_;
}

std::string ScramClient::client_first_message() const { return "n,," + client_first_bare_; }

Result<std::string> ScramClient::handle_server_first(std::string_view server_first) {
  if (state_ != State::kAwaitServerFirst) {
    state_ = State::kFailed;
    return fail(ErrorCode::kProtocol, "SCRAM: unexpected server-first-message");
  }
  state_ = State::kFailed;  // until proven otherwise
  if (!nonce_valid_) {
    return fail(ErrorCode::kInternal, "SCRAM: no valid client nonce (RNG failure or bad nonce)");
  }

  // server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count
  //                        ["," extensions]
  // Extensions after i= are ignored (they are covered by the AuthMessage all the same).
  auto attrs = split_attributes(server_first);
  if (attrs && attrs->name(0) == 'm') {
    return fail(ErrorCode::kProtocol, "SCRAM: server requires an unsupported extension (m=)");
  }
  if (!attrs || attrs->count < 3 || attrs->name(0) != 'r' || attrs->name(1) != 's' ||
      attrs->name(2) != 'i') {
    return fail(ErrorCode::kProtocol, "SCRAM: malformed server-first-message");
  }
  const std::string_view nonce = attrs->value(0);
  const std::string_view salt_b64 = attrs->value(1);
  const std::string_view iter_text = attrs->value(2);
  if (!is_printable_nonce(nonce)) {
    return fail(ErrorCode::kProtocol, "SCRAM: malformed server nonce");
  }
  // The combined nonce must extend ours with the server's own part.
  if (nonce.size() <= client_nonce_.size() || !nonce.starts_with(client_nonce_)) {
    return fail(ErrorCode::kAuth, "SCRAM: server nonce does not extend the client nonce");
  }
  auto salt = core::base64_decode(salt_b64);
  if (!salt || salt->empty() || salt->size() > kMaxSaltBytes) {
    return fail(ErrorCode::kProtocol, "SCRAM: invalid salt in server-first-message");
  }
  auto iterations = parse_iterations(iter_text);
  if (!iterations) {
    return fail(ErrorCode::kProtocol, "SCRAM: invalid iteration count in server-first-message");
  }

  // SASLprep: like libpq, a pure-ASCII password is used as is. libpq applies full SASLprep
  // (RFC 4013: NFKC, mapping, prohibited characters) to non-ASCII passwords and falls back to
  // the raw bytes when that fails; we do not implement SASLprep and always use the raw bytes.
  // The PostgreSQL server prepares the password the same way when it stores the verifier, so
  // this only differs from libpq for non-ASCII passwords that SASLprep would change (e.g. not
  // in NFKC form, or containing non-ASCII spaces / soft hyphens): the server rejects such
  // logins (a clean authentication failure, never a wrong success).
  const std::string_view password = password_.reveal();
  if (password.size() > static_cast<size_t>(INT_MAX)) {
    return fail(ErrorCode::kInternal, "SCRAM: password too long");
  }

  Key salted_password{};
  Key client_key{};
  Key stored_key{};
  Key client_signature{};
  Key server_key{};
  ScopedWipe wipe1(salted_password);
  ScopedWipe wipe2(client_key);
  ScopedWipe wipe3(stored_key);
  ScopedWipe wipe4(client_signature);
  ScopedWipe wipe5(server_key);

  if (PKCS5_PBKDF2_HMAC(password.data(), int(password.size()), salt->data(), int(salt->size()),
                        int(*iterations), EVP_sha256(), int(salted_password.size()),
                        salted_password.data()) != 1) {
    return fail(ErrorCode::kInternal, "SCRAM: PBKDF2 failed");
  }
  password_ = core::SecretString{};  // no longer needed; SecretString wipes it

  // "c=" carries base64 of the GS2 header "n,," = "biws".
  std::string final_without_proof = "c=biws,r=";
  final_without_proof.append(nonce);
  std::string auth_message = client_first_bare_;
  auth_message.push_back(',');
  auth_message.append(server_first);
  auth_message.push_back(',');
  auth_message.append(final_without_proof);

  if (!hmac_sha256(salted_password, "Client Key", client_key) || !sha256(client_key, stored_key) ||
      !hmac_sha256(stored_key, auth_message, client_signature) ||
      !hmac_sha256(salted_password, "Server Key", server_key) ||
      !hmac_sha256(server_key, auth_message, server_signature_)) {
    return fail(ErrorCode::kInternal, "SCRAM: HMAC failed");
  }
  Key proof{};
  for (size_t k = 0; k < proof.size(); ++k) {
    proof[k] = client_key[k] ^ client_signature[k];
  }
  std::string out = std::move(final_without_proof);
  out += ",p=";
  out += core::base64_encode(proof);
  state_ = State::kAwaitServerFinal;
  return out;
}

Result<void> ScramClient::verify_server_final(std::string_view server_final) {
  if (state_ != State::kAwaitServerFinal) {
    state_ = State::kFailed;
    return fail(ErrorCode::kProtocol, "SCRAM: unexpected server-final-message");
  }
  state_ = State::kFailed;
  // server-final-message = (server-error / verifier) ["," extensions]
  if (server_final.starts_with("e=")) {
    std::string_view text = server_final.substr(2);
    text = text.substr(0, text.find(','));
    return fail(ErrorCode::kAuth, "SCRAM: server error: " + sanitize_server_text(text));
  }
  auto attrs = split_attributes(server_final);
  if (!attrs || attrs->name(0) != 'v') {
    return fail(ErrorCode::kProtocol, "SCRAM: malformed server-final-message");
  }
  auto signature = core::base64_decode(attrs->value(0));
  if (!signature || signature->size() != server_signature_.size()) {
    return fail(ErrorCode::kProtocol, "SCRAM: malformed server signature");
  }
  if (CRYPTO_memcmp(signature->data(), server_signature_.data(), server_signature_.size()) != 0) {
    return fail(ErrorCode::kAuth, "SCRAM: server signature mismatch");
  }
  state_ = State::kDone;
  return {};
}

}  // namespace custos::postgres
