#include "protocol/postgres/codec.h"

#include <array>
#include <cstring>
#include <string>

namespace custos::postgres {

namespace {

using core::ByteView;

struct TypeName {
  char type;
  std::string_view name;
};

// The only place the per-direction message types are listed.
constexpr TypeName kFrontendTypes[] = {
    {'Q', "Query"},        {'P', "Parse"},           {'B', "Bind"},     {'E', "Execute"},
    {'D', "Describe"},     {'C', "Close"},           {'H', "Flush"},    {'S', "Sync"},
    {'X', "Terminate"},    {'d', "CopyData"},        {'c', "CopyDone"}, {'f', "CopyFail"},
    {'F', "FunctionCall"}, {'p', "PasswordMessage"},
};
constexpr TypeName kBackendTypes[] = {
    {'R', "Authentication"},
    {'S', "ParameterStatus"},
    {'K', "BackendKeyData"},
    {'Z', "ReadyForQuery"},
    {'T', "RowDescription"},
    {'D', "DataRow"},
    {'C', "CommandComplete"},
    {'E', "ErrorResponse"},
    {'N', "NoticeResponse"},
    {'I', "EmptyQueryResponse"},
    {'1', "ParseComplete"},
    {'2', "BindComplete"},
    {'3', "CloseComplete"},
    {'n', "NoData"},
    {'s', "PortalSuspended"},
    {'t', "ParameterDescription"},
    {'G', "CopyInResponse"},
    {'H', "CopyOutResponse"},
    {'W', "CopyBothResponse"},
    {'c', "CopyDone"},
    {'d', "CopyData"},
    {'A', "NotificationResponse"},
    {'V', "FunctionCallResponse"},
    {'v', "NegotiateProtocolVersion"},
};

using TypeTable = std::array<std::string_view, 256>;

template <size_t N>
constexpr TypeTable make_table(const TypeName (&entries)[N]) {
  TypeTable t{};
  for (const TypeName& e : entries) {
    t[uint8_t(e.type)] = e.name;
  }
  return t;
}

constexpr TypeTable kFrontendTable = make_table(kFrontendTypes);
constexpr TypeTable kBackendTable = make_table(kBackendTypes);

inline const TypeTable& table_for(Direction dir) {
  return dir == Direction::kFrontend ? kFrontendTable : kBackendTable;
}

Unexpected unknown_type(Direction dir) {
  return fail(ErrorCode::kProtocol, dir == Direction::kFrontend ? "unknown frontend message type"
                                                                : "unknown backend message type");
}

}  // namespace

std::string_view message_name(char type, Direction dir) {
  std::string_view n = table_for(dir)[uint8_t(type)];
  return n.empty() ? std::string_view("Unknown") : n;
}

bool is_known_type(char type, Direction dir) { return !table_for(dir)[uint8_t(type)].empty(); }

Result<std::optional<Frame>> decode_frame(ByteView input, Direction dir, size_t max_message) {
  if (input.empty()) {
    return std::optional<Frame>();
  }
  const char type = char(input[0]);
  if (table_for(dir)[uint8_t(type)].empty()) {
    return unknown_type(dir);
  }
  if (input.size() < 5) {
    return std::optional<Frame>();
  }
  const uint32_t len = core::load_be32(input.data() + 1);
  if (len < 4) {
    return fail(ErrorCode::kProtocol, "message length below 4");
  }
  const size_t wire_size = size_t(len) + 1;
  if (wire_size > max_message) {
    return fail(ErrorCode::kTooLarge, "message exceeds the configured size limit");
  }
  if (input.size() < wire_size) {
    return std::optional<Frame>();
  }
  return std::optional<Frame>(Frame{type, input.subspan(5, len - 4), wire_size});
}

Result<std::optional<StartupPacket>> decode_startup(ByteView input, size_t max_len,
                                                    size_t* consumed) {
  if (input.size() < 4) {
    return std::optional<StartupPacket>();
  }
  const uint32_t len = core::load_be32(input.data());
  if (len < 8) {
    return fail(ErrorCode::kProtocol, "startup packet length below 8");
  }
  if (len > max_len) {
    return fail(ErrorCode::kTooLarge, "startup packet exceeds the size limit");
  }
  if (input.size() < 8) {
    return std::optional<StartupPacket>();
  }
  const uint32_t code = core::load_be32(input.data() + 4);
  StartupPacket pkt;
  switch (code) {
    case kSslRequestCode:
    case kGssEncRequestCode:
      if (len != 8) {
        return fail(ErrorCode::kProtocol, "encryption request must be 8 bytes");
      }
      pkt.kind = code == kSslRequestCode ? StartupKind::kSslRequest : StartupKind::kGssEncRequest;
      break;
    case kCancelRequestCode:
      if (len != 16) {
        return fail(ErrorCode::kProtocol, "cancel request must be 16 bytes");
      }
      pkt.kind = StartupKind::kCancel;
      break;
    default:
      if ((code >> 16) != 3) {
        return fail(ErrorCode::kProtocol, "unsupported frontend protocol version");
      }
      if (len < 9) {  // at least the terminating NUL of the parameter list
        return fail(ErrorCode::kProtocol, "startup packet missing parameter terminator");
      }
      pkt.kind = StartupKind::kStartup;
      pkt.protocol = code;
      break;
  }
  if (input.size() < len) {
    return std::optional<StartupPacket>();
  }
  if (pkt.kind == StartupKind::kCancel) {
    pkt.cancel_pid = core::load_be32(input.data() + 8);
    pkt.cancel_secret = core::load_be32(input.data() + 12);
  } else if (pkt.kind == StartupKind::kStartup) {
    const char* p = reinterpret_cast<const char*>(input.data()) + 8;
    const char* end = reinterpret_cast<const char*>(input.data()) + len;
    auto next_cstr = [&](std::string_view* out) {
      const void* nul = std::memchr(p, 0, size_t(end - p));
      if (nul == nullptr) {
        return false;
      }
      const char* n = static_cast<const char*>(nul);
      *out = std::string_view(p, size_t(n - p));
      p = n + 1;
      return true;
    };
    for (;;) {
      std::string_view key;
      std::string_view value;
      if (p == end || !next_cstr(&key)) {
        return fail(ErrorCode::kProtocol, "startup parameters not NUL-terminated");
      }
      if (key.empty()) {
        break;
      }
      if (p == end || !next_cstr(&value)) {
        return fail(ErrorCode::kProtocol, "startup parameter without value");
      }
      pkt.params.emplace_back(std::string(key), std::string(value));
    }
    if (p != end) {
      return fail(ErrorCode::kProtocol, "trailing bytes after startup parameters");
    }
  }
  if (consumed != nullptr) {
    *consumed = len;
  }
  return std::optional<StartupPacket>(std::move(pkt));
}

}  // namespace custos::postgres
