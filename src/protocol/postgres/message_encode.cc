// PostgreSQL wire encoders: each appends one complete message to a core::Bytes.

#include "protocol/postgres/message.h"

namespace custos::postgres {

namespace {

using core::Bytes;
using core::ByteView;

// ---- encoder helpers ----

size_t begin_message(Bytes& out, char type) {
  out.push_back(uint8_t(type));
  size_t at = out.size();
  out.resize(at + 4);
  return at;
}
void finish_message(Bytes& out, size_t at) {
  core::store_be32(out.data() + at, uint32_t(out.size() - at));
}
// Protocol strings cannot hold a NUL: write up to the first one.
void put_cstr(Bytes& out, std::string_view s) { core::append_cstr(out, s.substr(0, s.find('\0'))); }
void put_value(Bytes& out, const std::optional<ByteView>& v) {
  if (!v) {
    core::append_be32(out, uint32_t(-1));
    return;
  }
  core::append_be32(out, uint32_t(v->size()));
  core::append(out, *v);
}

void encode_error_notice(Bytes& out, char type, std::string_view severity,
                         std::string_view sqlstate, std::string_view message, std::string_view hint,
                         std::string_view detail) {
  size_t at = begin_message(out, type);
  out.push_back('S');
  put_cstr(out, severity);
  out.push_back('V');
  put_cstr(out, severity);
  out.push_back('C');
  put_cstr(out, sqlstate);
  out.push_back('M');
  put_cstr(out, message);
  if (!detail.empty()) {
    out.push_back('D');
    put_cstr(out, detail);
  }
  if (!hint.empty()) {
    out.push_back('H');
    put_cstr(out, hint);
  }
  out.push_back(0);
  finish_message(out, at);
}

void encode_auth(Bytes& out, uint32_t code, ByteView data) {
  size_t at = begin_message(out, 'R');
  core::append_be32(out, code);
  core::append(out, data);
  finish_message(out, at);
}

void encode_empty(Bytes& out, char type) {
  out.push_back(uint8_t(type));
  core::append_be32(out, 4);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Encoders
// ---------------------------------------------------------------------------------------------

void encode_error(Bytes& out, std::string_view severity, std::string_view sqlstate,
                  std::string_view message, std::string_view hint, std::string_view detail) {
  encode_error_notice(out, 'E', severity, sqlstate, message, hint, detail);
}

void encode_notice(Bytes& out, std::string_view severity, std::string_view sqlstate,
                   std::string_view message, std::string_view hint, std::string_view detail) {
  encode_error_notice(out, 'N', severity, sqlstate, message, hint, detail);
}

void encode_auth_ok(Bytes& out) { encode_auth(out, kAuthOk, {}); }
void encode_auth_cleartext(Bytes& out) { encode_auth(out, kAuthCleartext, {}); }
void encode_auth_md5(Bytes& out, std::span<const uint8_t, 4> salt) {
  encode_auth(out, kAuthMd5, salt);
}
void encode_auth_sasl(Bytes& out, std::span<const std::string_view> mechanisms) {
  size_t at = begin_message(out, 'R');
  core::append_be32(out, kAuthSasl);
  for (std::string_view m : mechanisms) {
    if (!m.empty()) {  // an empty name would terminate the list
      put_cstr(out, m);
    }
  }
  out.push_back(0);
  finish_message(out, at);
}
void encode_auth_sasl_continue(Bytes& out, ByteView data) {
  encode_auth(out, kAuthSaslContinue, data);
}
void encode_auth_sasl_final(Bytes& out, ByteView data) { encode_auth(out, kAuthSaslFinal, data); }

void encode_parameter_status(Bytes& out, std::string_view name, std::string_view value) {
  size_t at = begin_message(out, 'S');
  put_cstr(out, name);
  put_cstr(out, value);
  finish_message(out, at);
}

void encode_notification(Bytes& out, uint32_t pid, std::string_view channel,
                         std::string_view payload) {
  size_t at = begin_message(out, 'A');
  core::append_be32(out, pid);
  put_cstr(out, channel);
  put_cstr(out, payload);
  finish_message(out, at);
}

void encode_backend_key_data(Bytes& out, uint32_t pid, uint32_t secret) {
  out.push_back('K');
  core::append_be32(out, 12);
  core::append_be32(out, pid);
  core::append_be32(out, secret);
}

void encode_ready_for_query(Bytes& out, char status) {
  out.push_back('Z');
  core::append_be32(out, 5);
  out.push_back(uint8_t(status));
}

void encode_command_complete(Bytes& out, std::string_view tag) {
  size_t at = begin_message(out, 'C');
  put_cstr(out, tag);
  finish_message(out, at);
}

void encode_data_row(Bytes& out, std::span<const std::optional<ByteView>> columns) {
  size_t body = 2;
  for (const auto& c : columns) {
    body += 4 + (c ? c->size() : 0);
  }
  out.reserve(out.size() + 5 + body);
  out.push_back('D');
  core::append_be32(out, uint32_t(4 + body));
  core::append_be16(out, uint16_t(columns.size()));
  for (const auto& c : columns) {
    put_value(out, c);
  }
}

void encode_row_description(Bytes& out, std::span<const FieldDescription> fields) {
  size_t at = begin_message(out, 'T');
  core::append_be16(out, uint16_t(fields.size()));
  for (const FieldDescription& f : fields) {
    put_cstr(out, f.name);
    core::append_be32(out, f.table_oid);
    core::append_be16(out, uint16_t(f.column_attr));
    core::append_be32(out, f.type_oid);
    core::append_be16(out, uint16_t(f.type_size));
    core::append_be32(out, uint32_t(f.type_modifier));
    core::append_be16(out, uint16_t(f.format));
  }
  finish_message(out, at);
}

void encode_negotiate_protocol_version(Bytes& out, uint32_t newest_minor,
                                       std::span<const std::string_view> unrecognized) {
  size_t at = begin_message(out, 'v');
  core::append_be32(out, newest_minor);
  core::append_be32(out, uint32_t(unrecognized.size()));
  for (std::string_view opt : unrecognized) {
    put_cstr(out, opt);
  }
  finish_message(out, at);
}

void encode_empty_query_response(Bytes& out) { encode_empty(out, 'I'); }

void encode_startup(Bytes& out, const std::vector<std::pair<std::string, std::string>>& params,
                    uint32_t protocol) {
  size_t at = out.size();
  out.resize(at + 4);
  core::append_be32(out, protocol);
  for (const auto& [k, v] : params) {
    if (k.empty() || k.find('\0') == 0) {  // an empty name would terminate the list
      continue;
    }
    put_cstr(out, k);
    put_cstr(out, v);
  }
  out.push_back(0);
  core::store_be32(out.data() + at, uint32_t(out.size() - at));
}

void encode_ssl_request(Bytes& out) {
  core::append_be32(out, 8);
  core::append_be32(out, kSslRequestCode);
}

void encode_cancel_request(Bytes& out, uint32_t pid, uint32_t secret) {
  core::append_be32(out, 16);
  core::append_be32(out, kCancelRequestCode);
  core::append_be32(out, pid);
  core::append_be32(out, secret);
}

void encode_password(Bytes& out, std::string_view password) {
  size_t at = begin_message(out, 'p');
  put_cstr(out, password);
  finish_message(out, at);
}

void encode_sasl_initial(Bytes& out, std::string_view mechanism, std::optional<ByteView> data) {
  size_t at = begin_message(out, 'p');
  put_cstr(out, mechanism);
  put_value(out, data);
  finish_message(out, at);
}

void encode_sasl_response(Bytes& out, ByteView data) {
  size_t at = begin_message(out, 'p');
  core::append(out, data);
  finish_message(out, at);
}

void encode_query(Bytes& out, std::string_view sql) {
  size_t at = begin_message(out, 'Q');
  put_cstr(out, sql);
  finish_message(out, at);
}

void encode_describe(Bytes& out, char kind, std::string_view name) {
  size_t at = begin_message(out, 'D');
  out.push_back(static_cast<uint8_t>(kind));
  put_cstr(out, name);
  finish_message(out, at);
}

void encode_sync(Bytes& out) { encode_empty(out, 'S'); }
void encode_terminate(Bytes& out) { encode_empty(out, 'X'); }

}  // namespace custos::postgres
