#include "identity/https_fetch.h"

// libcpp-httplib is built with OpenSSL support; the header must agree with it.
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#include <httplib.h>

#include <charconv>

namespace custos::identity {

Result<std::string> https_get(const std::string& url, const std::string& ca_file,
                              size_t max_bytes) {
  constexpr std::string_view kScheme = "https://";
  if (!url.starts_with(kScheme)) {
    return fail(ErrorCode::kConfig, "only https:// URLs are fetched");
  }
  std::string_view rest = std::string_view(url).substr(kScheme.size());
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  std::string host(authority);
  int port = 443;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return fail(ErrorCode::kConfig, "malformed URL host");
    }
    host = std::string(authority.substr(1, close - 1));
    authority = authority.substr(close + 1);
    if (!authority.empty() && authority.front() != ':') {
      return fail(ErrorCode::kConfig, "malformed URL host");
    }
    authority = authority.empty() ? authority : authority.substr(1);
    if (!authority.empty()) {
      auto [p, ec] = std::from_chars(authority.data(), authority.data() + authority.size(), port);
      if (ec != std::errc() || p != authority.data() + authority.size()) {
        return fail(ErrorCode::kConfig, "malformed URL port");
      }
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = std::string(authority.substr(0, colon));
    std::string_view p = authority.substr(colon + 1);
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
    if (ec != std::errc() || end != p.data() + p.size()) {
      return fail(ErrorCode::kConfig, "malformed URL port");
    }
  }
  if (host.empty() || port <= 0 || port > 65535) {
    return fail(ErrorCode::kConfig, "malformed URL host");
  }

  httplib::SSLClient client(host, port);
  client.enable_server_certificate_verification(true);
  if (!ca_file.empty()) {
    client.set_ca_cert_path(ca_file.c_str());
  }
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(5, 0);
  client.set_write_timeout(5, 0);
  client.set_follow_location(false);

  std::string body;
  bool too_large = false;
  httplib::Result res = client.Get(path.c_str(), httplib::Headers{{"Accept", "application/json"}},
                                   [&](const char* data, size_t len) {
                                     if (body.size() + len > max_bytes) {
                                       too_large = true;
                                       return false;
                                     }
                                     body.append(data, len);
                                     return true;
                                   });
  if (too_large) {
    return fail(ErrorCode::kTooLarge,
                "response larger than " + std::to_string(max_bytes) + " bytes from " + host);
  }
  if (!res) {
    std::string why = httplib::to_string(res.error());
    if (long v = client.get_openssl_verify_result(); v != 0) {
      why += std::string(" (") + X509_verify_cert_error_string(v) + ")";
    }
    return fail(ErrorCode::kUnavailable, "GET https://" + host + " failed: " + why);
  }
  if (res->status != 200) {
    return fail(ErrorCode::kUnavailable,
                "GET https://" + host + " returned HTTP " + std::to_string(res->status));
  }
  return body;
}

}  // namespace custos::identity
