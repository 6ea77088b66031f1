#pragma once
// PostgreSQL protocol 3.0 framing (sans-I/O): bytes in, one decoded packet / "need more data" /
// error out. Nothing here touches a socket, a clock or the configuration; unconsumed bytes stay
// with the caller, who consumes `*consumed` (startup) or `Frame::wire_size` (typed messages).

#include <cstddef>
#include <optional>

#include "core/bytes.h"
#include "core/result.h"
#include "protocol/postgres/message.h"

namespace custos::postgres {

// PostgreSQL's own bound on startup packets (MAX_STARTUP_PACKET_LENGTH).
inline constexpr size_t kDefaultMaxStartupLength = 10000;

// Decodes one startup packet (StartupMessage with protocol major 3, SSLRequest, GSSENCRequest,
// CancelRequest) from the front of `input`. Returns nullopt if more bytes are needed; an Error
// (ErrorCode::kProtocol, or kTooLarge when the declared length exceeds max_len) if malformed.
// Fixed-size requests and oversized lengths are rejected from the header alone. On success
// *consumed is set to the packet length.
[[nodiscard]] Result<std::optional<StartupPacket>> decode_startup(core::ByteView input,
                                                                  size_t max_len, size_t* consumed);

// Frames one typed message from the front of `input`. Validates that the type byte is a known
// message type for `dir`, that length >= 4 and that 1 + length <= max_message (kTooLarge).
// Returns nullopt while incomplete; an unknown type or bad length is rejected as soon as the
// header bytes are present, before the body is buffered. No allocation on success.
[[nodiscard]] Result<std::optional<Frame>> decode_frame(core::ByteView input, Direction dir,
                                                        size_t max_message);

}  // namespace custos::postgres
