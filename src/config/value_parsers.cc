#include "config/value_parsers.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstdio>
#include <limits>

namespace custos::config {
namespace {

// Leading decimal digits of text as an unsigned integer; nullopt if none or on overflow.
struct LeadingNumber {
  uint64_t value = 0;
  size_t digits = 0;
};

bool parse_leading_number(std::string_view text, LeadingNumber& out) {
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, out.value, 10);
  if (ec != std::errc() || ptr == begin) {
    return false;
  }
  out.digits = size_t(ptr - begin);
  return true;
}

bool multiply_checked(uint64_t a, uint64_t b, uint64_t limit, uint64_t& out) {
  if (b != 0 && a > limit / b) {
    return false;
  }
  out = a * b;
  return true;
}

bool is_hostname(std::string_view host) {
  if (host.empty() || host.size() > 253) {
    return false;
  }
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_';
    if (!ok) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string quote_for_message(std::string_view text) {
  constexpr size_t kMaxShown = 60;
  std::string out = "\"";
  size_t shown = 0;
  for (char c : text) {
    if (shown == kMaxShown) {
      out += "...";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
    ++shown;
  }
  out += '"';
  return out;
}

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto bad = [&] {
    return fail(ErrorCode::kConfig, "expected a duration like 250ms, 10s, 5m, 1h or 30d, got " +
                                        quote_for_message(text));
  };
  LeadingNumber n;
  if (!parse_leading_number(text, n)) {
    return bad();
  }
  std::string_view unit = text.substr(n.digits);
  uint64_t factor_ms = 0;
  if (unit == "ms") {
    factor_ms = 1;
  } else if (unit == "s") {
    factor_ms = 1000;
  } else if (unit == "m") {
    factor_ms = 60'000;
  } else if (unit == "h") {
    factor_ms = 3'600'000;
  } else if (unit == "d") {
    factor_ms = 86'400'000;
  } else if (unit.empty() && n.value == 0) {
    return std::chrono::milliseconds(0);
  } else {
    return bad();
  }
  uint64_t ms = 0;
  if (!multiply_checked(n.value, factor_ms, uint64_t(std::numeric_limits<int64_t>::max()), ms)) {
    return fail(ErrorCode::kConfig, "duration " + quote_for_message(text) + " is too large");
  }
  return std::chrono::milliseconds(int64_t(ms));
}

Result<uint64_t> parse_size(std::string_view text) {
  LeadingNumber n;
  if (!parse_leading_number(text, n)) {
    return fail(ErrorCode::kConfig,
                "expected a size like 65536, 64KiB, 1MiB or 1GiB, got " + quote_for_message(text));
  }
  std::string_view unit = text.substr(n.digits);
  uint64_t factor = 0;
  if (unit.empty()) {
    factor = 1;
  } else if (unit == "KiB") {
    factor = uint64_t(1) << 10;
  } else if (unit == "MiB") {
    factor = uint64_t(1) << 20;
  } else if (unit == "GiB") {
    factor = uint64_t(1) << 30;
  } else {
    return fail(ErrorCode::kConfig,
                "expected a size like 65536, 64KiB, 1MiB or 1GiB, got " + quote_for_message(text));
  }
  uint64_t bytes = 0;
  if (!multiply_checked(n.value, factor, std::numeric_limits<uint64_t>::max(), bytes)) {
    return fail(ErrorCode::kConfig, "size " + quote_for_message(text) + " is too large");
  }
  return bytes;
}

Result<HostPort> parse_host_port(std::string_view text) {
  auto bad = [&](std::string_view why) {
    std::string msg = "expected host:port, got " + quote_for_message(text);
    if (!why.empty()) {
      msg += " (";
      msg += why;
      msg += ")";
    }
    return fail(ErrorCode::kConfig, std::move(msg));
  };
  HostPort out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return bad("missing ']'");
    }
    std::string host(text.substr(1, close - 1));
    in6_addr addr{};
    if (host.empty() || inet_pton(AF_INET6, host.c_str(), &addr) != 1) {
      return bad("not an IPv6 address inside [ ]");
    }
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return bad("missing :port after ]");
    }
    out.host = std::move(host);
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return bad("missing :port");
    }
    std::string_view host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
      return bad("write IPv6 addresses in brackets, e.g. [::1]:5432");
    }
    if (!is_hostname(host)) {
      return bad("invalid host");
    }
    out.host = std::string(host);
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || ptr != port_text.data() + port_text.size() ||
      port < 1 || port > 65535) {
    return bad("port must be 1..65535");
  }
  out.port = uint16_t(port);
  return out;
}

Result<std::chrono::sys_days> parse_date(std::string_view text) {
  auto bad = [&] {
    return fail(ErrorCode::kConfig, "expected a date YYYY-MM-DD, got " + quote_for_message(text));
  };
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') {
    return bad();
  }
  auto field = [&](size_t pos, size_t len, unsigned& out) {
    auto [ptr, ec] = std::from_chars(text.data() + pos, text.data() + pos + len, out);
    return ec == std::errc() && ptr == text.data() + pos + len;
  };
  unsigned y = 0, m = 0, d = 0;
  if (!field(0, 4, y) || !field(5, 2, m) || !field(8, 2, d)) {
    return bad();
  }
  std::chrono::year_month_day ymd{std::chrono::year(int(y)), std::chrono::month(m),
                                  std::chrono::day(d)};
  if (!ymd.ok()) {
    return bad();
  }
  return std::chrono::sys_days(ymd);
}

std::string format_date(std::chrono::sys_days day) {
  std::chrono::year_month_day ymd(day);
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02u", int(ymd.year()), unsigned(ymd.month()),
                unsigned(ymd.day()));
  return buf;
}

Result<SecretRefParts> parse_secret_ref(std::string_view ref) {
  constexpr std::string_view kEnv = "env:";
  constexpr std::string_view kFile = "file:";
  constexpr std::string_view kTestLiteral = "test-literal:";
  if (ref.starts_with(kEnv)) {
    std::string_view name = ref.substr(kEnv.size());
    bool ok = !name.empty() && !(name.front() >= '0' && name.front() <= '9');
    for (char c : name) {
      ok = ok &&
           ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
    }
    if (!ok) {
      return fail(ErrorCode::kConfig,
                  "env: must be followed by an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
    }
    return SecretRefParts{SecretScheme::kEnv, name};
  }
  if (ref.starts_with(kFile)) {
    std::string_view path = ref.substr(kFile.size());
    if (path.empty()) {
      return fail(ErrorCode::kConfig, "file: must be followed by a path");
    }
    return SecretRefParts{SecretScheme::kFile, path};
  }
  if (ref.starts_with(kTestLiteral)) {
    return SecretRefParts{SecretScheme::kTestLiteral, ref.substr(kTestLiteral.size())};
  }
  return fail(ErrorCode::kConfig, "literal secrets are refused; use env:NAME or file:PATH");
}

bool is_valid_name(std::string_view name) {
  if (name.empty() || name.size() > 63) {
    return false;
  }
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(name.front())) {
    return false;
  }
  for (char c : name) {
    if (!alnum(c) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

}  // namespace custos::config
