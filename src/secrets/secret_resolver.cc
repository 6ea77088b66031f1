#include "secrets/secret_resolver.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "config/value_parsers.h"

namespace custos::secrets {
namespace {

constexpr size_t kMaxSecretFileBytes = 64 * 1024;

Result<core::SecretString> resolve_env(std::string_view name_view) {
  std::string name(name_view);
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) {
    return fail(ErrorCode::kNotFound, "environment variable " + name + " is not set");
  }
  if (*value == '\0') {
    return fail(ErrorCode::kNotFound, "environment variable " + name + " is empty");
  }
  return core::SecretString(std::string(value));
}

Result<core::SecretString> resolve_file(std::string_view path_view) {
  std::string path(path_view);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return fail(ErrorCode::kIo, "cannot read secret file " + path + ": " + std::strerror(err));
  }
  // Read straight into the string that becomes the SecretString (no stream buffers holding
  // copies); the stack chunk is wiped after use.
  std::string contents;
  contents.reserve(4096);
  char chunk[4096];
  bool too_large = false;
  int read_errno = 0;
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      read_errno = errno;
      break;
    }
    if (n == 0) {
      break;
    }
    if (contents.size() + size_t(n) > kMaxSecretFileBytes) {
      too_large = true;
      break;
    }
    if (contents.capacity() < contents.size() + size_t(n)) {
      // Grow by hand so the old buffer is wiped instead of freed with the secret in it.
      std::string bigger;
      bigger.reserve(std::min(kMaxSecretFileBytes, 2 * (contents.size() + size_t(n))));
      bigger.append(contents);
      sodium_memzero(contents.data(), contents.size());
      contents.swap(bigger);
    }
    contents.append(chunk, size_t(n));
  }
  sodium_memzero(chunk, sizeof(chunk));
  ::close(fd);
  if (read_errno != 0 || too_large) {
    sodium_memzero(contents.data(), contents.size());
    if (too_large) {
      return fail(ErrorCode::kIo, "secret file " + path + " is larger than " +
                                      std::to_string(kMaxSecretFileBytes) + " bytes");
    }
    return fail(ErrorCode::kIo,
                "cannot read secret file " + path + ": " + std::strerror(read_errno));
  }
  if (!contents.empty() && contents.back() == '\n') {
    contents.pop_back();
    if (!contents.empty() && contents.back() == '\r') {
      contents.pop_back();
    }
  }
  if (contents.empty()) {
    return fail(ErrorCode::kNotFound, "secret file " + path + " is empty");
  }
  return core::SecretString(std::move(contents));
}

}  // namespace

Result<core::SecretString> resolve(const config::SecretRef& ref) {
  Result<config::SecretRefParts> parts = config::parse_secret_ref(ref.ref);
  if (!parts) {
    return fail(ErrorCode::kConfig, parts.error().message);  // never quotes the reference
  }
  switch (parts->scheme) {
    case config::SecretScheme::kEnv:
      return resolve_env(parts->body);
    case config::SecretScheme::kFile:
      return resolve_file(parts->body);
    case config::SecretScheme::kTestLiteral:
      return core::SecretString(std::string(parts->body));
  }
  return fail(ErrorCode::kInternal, "unknown secret reference scheme");
}

}  // namespace custos::secrets
