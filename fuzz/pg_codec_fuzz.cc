// libFuzzer target for the PostgreSQL protocol codec: startup decoding, framing in both
// directions and every typed parser. Re-encodes what the canonical encoders can express and
// traps if the bytes differ (catches parsers that accept something other than what they say).

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/bytes.h"
#include "protocol/postgres/codec.h"
#include "protocol/postgres/message.h"

namespace pg = custos::postgres;
using custos::core::Bytes;
using custos::core::ByteView;

namespace {

void check_same(const Bytes& encoded, ByteView wire) {
  if (encoded.size() != wire.size() || std::memcmp(encoded.data(), wire.data(), wire.size()) != 0) {
    __builtin_trap();
  }
}

// Touches every byte a view claims to cover, so ASan sees any out-of-bounds view.
volatile uint8_t g_sink;
void touch(ByteView v) {
  for (uint8_t b : v) {
    g_sink = b;
  }
}
void touch(std::string_view s) { touch(custos::core::as_bytes(s)); }

void parse_frontend(const pg::Frame& f, ByteView wire) {
  switch (f.type) {
    case 'Q':
      if (auto m = pg::parse_query(f.payload)) {
        Bytes out;
        pg::encode_query(out, m->sql);
        check_same(out, wire);
      }
      break;
    case 'P':
      if (auto m = pg::parse_parse(f.payload)) {
        touch(m->name);
        touch(m->sql);
      }
      break;
    case 'B':
      if (auto m = pg::parse_bind(f.payload)) {
        for (const auto& p : m->params) {
          if (p) {
            touch(*p);
          }
        }
      }
      break;
    case 'E':
      (void)pg::parse_execute(f.payload);
      break;
    case 'D':
      (void)pg::parse_describe(f.payload);
      break;
    case 'C':
      (void)pg::parse_close(f.payload);
      break;
    case 'p':
      if (auto m = pg::parse_password_message(f.payload)) {
        Bytes out;
        pg::encode_password(out, custos::core::as_chars(m->data));
        check_same(out, wire);
      }
      if (auto m = pg::parse_sasl_initial_response(f.payload)) {
        Bytes out;
        pg::encode_sasl_initial(out, m->mechanism, m->initial);
        check_same(out, wire);
      }
      if (auto m = pg::parse_sasl_response(f.payload)) {
        touch(m->data);
      }
      break;
    case 'f':
      (void)pg::parse_copy_fail(f.payload);
      break;
    case 'F':
      if (auto m = pg::parse_function_call(f.payload)) {
        for (const auto& a : m->args) {
          if (a) {
            touch(*a);
          }
        }
      }
      break;
    case 'd':
      touch(f.payload);
      break;
    default:  // H S X c
      (void)pg::parse_empty(f.payload);
      break;
  }
}

void parse_backend(const pg::Frame& f, ByteView wire) {
  switch (f.type) {
    case 'R':
      if (auto m = pg::parse_authentication(f.payload)) {
        touch(m->data);
        for (std::string_view mech : m->mechanisms) {
          touch(mech);
        }
      }
      break;
    case 'S':
      if (auto m = pg::parse_parameter_status(f.payload)) {
        Bytes out;
        pg::encode_parameter_status(out, m->name, m->value);
        check_same(out, wire);
      }
      break;
    case 'K':
      if (auto m = pg::parse_backend_key_data(f.payload)) {
        Bytes out;
        pg::encode_backend_key_data(out, m->pid, m->secret);
        check_same(out, wire);
      }
      break;
    case 'Z':
      if (auto m = pg::parse_ready_for_query(f.payload)) {
        Bytes out;
        pg::encode_ready_for_query(out, m->status);
        check_same(out, wire);
      }
      break;
    case 'T':
      if (auto m = pg::parse_row_description(f.payload)) {
        Bytes out;
        pg::encode_row_description(out, m->fields);
        check_same(out, wire);
      }
      break;
    case 'D': {
      auto count = pg::data_row_column_count(f.payload);
      if (auto m = pg::parse_data_row(f.payload)) {
        if (!count || *count != m->columns.size()) {
          __builtin_trap();
        }
        Bytes out;
        pg::encode_data_row(out, m->columns);
        check_same(out, wire);
      }
      break;
    }
    case 'C':
      if (auto m = pg::parse_command_complete(f.payload)) {
        (void)pg::rows_from_tag(m->tag);
        Bytes out;
        pg::encode_command_complete(out, m->tag);
        check_same(out, wire);
      }
      break;
    case 'E':
    case 'N':
      if (auto m = pg::parse_error_notice(f.payload)) {
        touch(m->severity());
        touch(m->sqlstate());
        touch(m->message());
      }
      break;
    case 'G':
    case 'H':
    case 'W':
      (void)pg::parse_copy_response(f.payload);
      break;
    case 'A':
      if (auto m = pg::parse_notification_response(f.payload)) {
        touch(m->channel);
        touch(m->payload);
      }
      break;
    case 'v':
      if (auto m = pg::parse_negotiate_protocol_version(f.payload)) {
        Bytes out;
        pg::encode_negotiate_protocol_version(out, m->newest_minor, m->unrecognized_options);
        check_same(out, wire);
      }
      break;
    case 't':
      (void)pg::parse_parameter_description(f.payload);
      break;
    case 'V':
      if (auto m = pg::parse_function_call_response(f.payload)) {
        if (m->result) {
          touch(*m->result);
        }
      }
      break;
    case 'd':
      touch(f.payload);
      break;
    default:  // I 1 2 3 n s c
      (void)pg::parse_empty(f.payload);
      break;
  }
}

void frame_all(ByteView input, pg::Direction dir, size_t max_message) {
  while (!input.empty()) {
    auto r = pg::decode_frame(input, dir, max_message);
    if (!r || !r->has_value()) {
      return;
    }
    const pg::Frame& f = **r;
    if (f.wire_size > input.size() || f.wire_size != f.payload.size() + 5 ||
        !pg::is_known_type(f.type, dir)) {
      __builtin_trap();
    }
    ByteView wire = input.first(f.wire_size);
    if (dir == pg::Direction::kFrontend) {
      parse_frontend(f, wire);
    } else {
      parse_backend(f, wire);
    }
    (void)pg::message_name(f.type, dir);
    input = input.subspan(f.wire_size);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView input(data, size);

  // Startup phase: e.g. SSLRequest then StartupMessage, then typed frontend messages.
  ByteView rest = input;
  for (int i = 0; i < 4 && !rest.empty(); ++i) {
    size_t consumed = 0;
    auto r = pg::decode_startup(rest, pg::kDefaultMaxStartupLength, &consumed);
    if (!r || !r->has_value()) {
      break;
    }
    if (consumed < 8 || consumed > rest.size()) {
      __builtin_trap();
    }
    const pg::StartupPacket& p = **r;
    if (p.kind == pg::StartupKind::kStartup) {
      Bytes out;
      pg::encode_startup(out, p.params, p.protocol);
      check_same(out, rest.first(consumed));
      (void)p.param("user");
    }
    rest = rest.subspan(consumed);
  }
  frame_all(rest, pg::Direction::kFrontend, 1 << 20);

  // The whole input as a typed stream in each direction, with a generous and a tight limit.
  frame_all(input, pg::Direction::kFrontend, 1 << 20);
  frame_all(input, pg::Direction::kBackend, 1 << 20);
  frame_all(input, pg::Direction::kBackend, 64);
  return 0;
}
