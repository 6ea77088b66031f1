#include "approval/webhook_notifier.h"

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/hex.h"
#include "secrets/secret_resolver.h"

namespace custos::approval {
namespace {

// "https://host:port/path?q" → ("https://host:port", "/path?q").
std::pair<std::string, std::string> split_url(const std::string& url) {
  size_t scheme_end = url.find("://");
  size_t path_start = scheme_end == std::string::npos ? std::string::npos
                                                      : url.find('/', scheme_end + 3);
  if (path_start == std::string::npos) {
    return {url, "/"};
  }
  return {url.substr(0, path_start), url.substr(path_start)};
}

}  // namespace

WebhookNotifier::WebhookNotifier(std::vector<config::Webhook> hooks,
                                 std::chrono::milliseconds first_retry)
    : hooks_(std::move(hooks)), first_retry_(first_retry) {
  thread_ = std::thread([this] { run(); });
}

WebhookNotifier::~WebhookNotifier() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::string WebhookNotifier::signature(std::string_view secret, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  return "sha256=" + core::to_hex(core::ByteView(mac, len));
}

void WebhookNotifier::notify(const std::string& event, std::string body) {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < hooks_.size(); ++i) {
    const auto& events = hooks_[i].events;
    if (!events.empty() && std::find(events.begin(), events.end(), event) == events.end()) {
      continue;
    }
    if (queue_.size() >= kMaxQueued) {
      queue_.pop_front();
      ++failed_;
      spdlog::warn("webhook queue full: dropping the oldest delivery");
    }
    queue_.push_back(Delivery{i, body, 0, std::chrono::steady_clock::now()});
  }
  cv_.notify_all();
}

uint64_t WebhookNotifier::delivered() const {
  std::lock_guard lock(mu_);
  return delivered_;
}

uint64_t WebhookNotifier::failed() const {
  std::lock_guard lock(mu_);
  return failed_;
}

bool WebhookNotifier::send(const Delivery& d) {
  const config::Webhook& hook = hooks_[d.hook];
  Result<core::SecretString> secret = secrets::resolve(hook.secret);
  if (!secret) {
    spdlog::error("webhook {}: cannot resolve its secret: {}", hook.url, secret.error().message);
    return false;
  }
  auto [base, path] = split_url(hook.url);
  httplib::Client client(base);
  client.set_connection_timeout(std::chrono::seconds(5));
  client.set_read_timeout(std::chrono::seconds(10));
  client.set_write_timeout(std::chrono::seconds(10));
  httplib::Headers headers = {
      {"X-Custos-Signature", signature(secret->reveal(), d.body)},
      {"User-Agent", "custos-webhook"},
  };
  httplib::Result res = client.Post(path, headers, d.body, "application/json");
  if (!res) {
    spdlog::warn("webhook {}: attempt {} failed: {}", hook.url, d.attempts,
                 httplib::to_string(res.error()));
    return false;
  }
  if (res->status < 200 || res->status >= 300) {
    spdlog::warn("webhook {}: attempt {} got HTTP {}", hook.url, d.attempts, res->status);
    return false;
  }
  return true;
}

void WebhookNotifier::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (queue_.empty()) {
      cv_.wait(lock);
      continue;
    }
    // The delivery due first.
    auto next = std::min_element(queue_.begin(), queue_.end(),
                                 [](const Delivery& a, const Delivery& b) { return a.due < b.due; });
    if (next->due > std::chrono::steady_clock::now()) {
      cv_.wait_until(lock, next->due);
      continue;
    }
    Delivery d = std::move(*next);
    queue_.erase(next);
    ++d.attempts;
    lock.unlock();
    bool ok = send(d);
    lock.lock();
    if (ok) {
      ++delivered_;
    } else if (d.attempts >= kMaxAttempts) {
      ++failed_;
      spdlog::error("webhook {}: giving up after {} attempts", hooks_[d.hook].url, d.attempts);
    } else {
      d.due = std::chrono::steady_clock::now() + first_retry_ * (1 << (d.attempts - 1));
      queue_.push_back(std::move(d));
    }
  }
}

}  // namespace custos::approval
