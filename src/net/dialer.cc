#include "net/dialer.h"

#include <asio/experimental/awaitable_operators.hpp>

#include "net/stream.h"

namespace custos::net {

using namespace asio::experimental::awaitable_operators;

static asio::awaitable<Result<tcp::socket>> resolve_and_connect(std::string host, uint16_t port) {
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  auto [rec, endpoints] = co_await resolver.async_resolve(host, std::to_string(port), use_nothrow);
  if (rec) {
    co_return fail(ErrorCode::kUnavailable, "cannot resolve " + host + ": " + rec.message());
  }
  tcp::socket socket(ex);
  auto [cec, ep] = co_await asio::async_connect(socket, endpoints, use_nothrow);
  if (cec) {
    co_return fail(ErrorCode::kUnavailable,
                   "cannot connect to " + host + ":" + std::to_string(port) + ": " + cec.message());
  }
  socket.set_option(tcp::no_delay(true));
  co_return std::move(socket);
}

static asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(use_nothrow);
}

asio::awaitable<Result<tcp::socket>> dial(const std::string& host, uint16_t port,
                                          std::chrono::milliseconds timeout) {
  auto outcome = co_await (resolve_and_connect(host, port) || sleep_for(timeout));
  if (outcome.index() == 1) {
    co_return fail(ErrorCode::kTimeout, "timed out connecting to " + host + ":" +
                                            std::to_string(port) + " after " +
                                            std::to_string(timeout.count()) + " ms");
  }
  co_return std::move(std::get<0>(outcome));
}

}  // namespace custos::net
