#pragma once
// Dials a target with a deadline: resolve + connect must finish within `timeout`, never hang.

#include <asio.hpp>

#include <chrono>
#include <string>

#include "core/result.h"

namespace custos::net {

asio::awaitable<Result<asio::ip::tcp::socket>> dial(const std::string& host, uint16_t port,
                                                    std::chrono::milliseconds timeout);

}  // namespace custos::net
