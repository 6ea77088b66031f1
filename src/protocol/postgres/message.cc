#include "protocol/postgres/message.h"

#include <cstring>

namespace custos::postgres {

namespace {

using core::ByteView;

// Bounds-checked reader over one message payload. Every accessor returns false (and leaves the
// output untouched) when the payload does not hold the requested field.
class PayloadReader {
 public:
  explicit PayloadReader(ByteView payload)
      : p_(payload.data()), end_(payload.data() + payload.size()) {}

  size_t remaining() const { return size_t(end_ - p_); }
  bool at_end() const { return p_ == end_; }

  bool u8(uint8_t* v) {
    if (remaining() < 1) {
      return false;
    }
    *v = *p_++;
    return true;
  }
  bool u16(uint16_t* v) {
    if (remaining() < 2) {
      return false;
    }
    *v = core::load_be16(p_);
    p_ += 2;
    return true;
  }
  bool i16(int16_t* v) {
    uint16_t u = 0;
    if (!u16(&u)) {
      return false;
    }
    *v = int16_t(u);
    return true;
  }
  bool u32(uint32_t* v) {
    if (remaining() < 4) {
      return false;
    }
    *v = core::load_be32(p_);
    p_ += 4;
    return true;
  }
  bool i32(int32_t* v) {
    uint32_t u = 0;
    if (!u32(&u)) {
      return false;
    }
    *v = int32_t(u);
    return true;
  }
  // A NUL-terminated string; the view excludes the NUL.
  bool cstr(std::string_view* s) {
    if (at_end()) {
      return false;
    }
    const void* nul = std::memchr(p_, 0, remaining());
    if (nul == nullptr) {
      return false;
    }
    const auto* n = static_cast<const uint8_t*>(nul);
    *s = std::string_view(reinterpret_cast<const char*>(p_), size_t(n - p_));
    p_ = n + 1;
    return true;
  }
  bool bytes(size_t n, ByteView* out) {
    if (remaining() < n) {
      return false;
    }
    *out = ByteView(p_, n);
    p_ += n;
    return true;
  }
  ByteView rest() {
    ByteView out(p_, remaining());
    p_ = end_;
    return out;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

enum class ValueStatus { kOk, kTruncated, kBadLength };

// Int32 length (-1 = NULL) followed by that many bytes.
ValueStatus read_value(PayloadReader& r, std::optional<ByteView>* out) {
  int32_t len = 0;
  if (!r.i32(&len)) {
    return ValueStatus::kTruncated;
  }
  if (len == -1) {
    *out = std::nullopt;
    return ValueStatus::kOk;
  }
  if (len < 0) {
    return ValueStatus::kBadLength;
  }
  ByteView v;
  if (!r.bytes(size_t(len), &v)) {
    return ValueStatus::kTruncated;
  }
  *out = v;
  return ValueStatus::kOk;
}

Unexpected truncated(const char* what) {
  return fail(ErrorCode::kProtocol, std::string(what) + ": truncated or missing terminator");
}
Unexpected trailing(const char* what) {
  return fail(ErrorCode::kProtocol, std::string(what) + ": trailing bytes");
}
Unexpected invalid(const char* what, const char* why) {
  return fail(ErrorCode::kProtocol, std::string(what) + ": " + why);
}
Unexpected value_error(const char* what, ValueStatus s) {
  return s == ValueStatus::kBadLength ? invalid(what, "negative value length") : truncated(what);
}

bool valid_format(int16_t f) { return f == kFormatText || f == kFormatBinary; }

// Uint16 count followed by that many Int16 format codes (each 0 or 1).
bool read_formats(PayloadReader& r, std::vector<int16_t>* out, bool* bad_code) {
  uint16_t n = 0;
  if (!r.u16(&n) || size_t(n) * 2 > r.remaining()) {
    return false;
  }
  out->resize(n);
  for (uint16_t i = 0; i < n; ++i) {
    r.i16(&(*out)[i]);
    if (!valid_format((*out)[i])) {
      *bad_code = true;
    }
  }
  return true;
}

// Uint16 count followed by that many length-prefixed values (each >= 4 bytes on the wire).
ValueStatus read_values(PayloadReader& r, std::vector<std::optional<ByteView>>* out) {
  uint16_t n = 0;
  if (!r.u16(&n) || size_t(n) * 4 > r.remaining()) {
    return ValueStatus::kTruncated;
  }
  out->resize(n);
  for (uint16_t i = 0; i < n; ++i) {
    ValueStatus s = read_value(r, &(*out)[i]);
    if (s != ValueStatus::kOk) {
      return s;
    }
  }
  return ValueStatus::kOk;
}

// Parser for a payload that is exactly one NUL-terminated string.
Result<std::string_view> single_string(ByteView payload, const char* what) {
  PayloadReader r(payload);
  std::string_view s;
  if (!r.cstr(&s)) {
    return truncated(what);
  }
  if (!r.at_end()) {
    return trailing(what);
  }
  return s;
}

}  // namespace

const std::string* StartupPacket::param(std::string_view key) const {
  for (const auto& [k, v] : params) {
    if (k == key) {
      return &v;
    }
  }
  return nullptr;
}

Result<void> parse_empty(ByteView payload) {
  if (!payload.empty()) {
    return trailing("empty message");
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Frontend parsers
// ---------------------------------------------------------------------------------------------

Result<Query> parse_query(ByteView payload) {
  auto s = single_string(payload, "Query");
  if (!s) {
    return Unexpected(std::move(s.error()));
  }
  return Query{*s};
}

Result<Parse> parse_parse(ByteView payload) {
  static constexpr const char* kWhat = "Parse";
  PayloadReader r(payload);
  Parse m;
  uint16_t n = 0;
  if (!r.cstr(&m.name) || !r.cstr(&m.sql) || !r.u16(&n) || size_t(n) * 4 > r.remaining()) {
    return truncated(kWhat);
  }
  m.param_types.resize(n);
  for (uint16_t i = 0; i < n; ++i) {
    r.u32(&m.param_types[i]);
  }
  if (!r.at_end()) {
    return trailing(kWhat);
  }
  return m;
}

Result<Bind> parse_bind(ByteView payload) {
  static constexpr const char* kWhat = "Bind";
  PayloadReader r(payload);
  Bind m;
  bool bad_format = false;
  if (!r.cstr(&m.portal) || !r.cstr(&m.statement) ||
      !read_formats(r, &m.param_formats, &bad_format)) {
    return truncated(kWhat);
  }
  if (ValueStatus s = read_values(r, &m.params); s != ValueStatus::kOk) {
    return value_error(kWhat, s);
  }
  if (!read_formats(r, &m.result_formats, &bad_format)) {
    return truncated(kWhat);
  }
  if (!r.at_end()) {
    return trailing(kWhat);
  }
  if (bad_format) {
    return invalid(kWhat, "unsupported format code");
  }
  if (m.param_formats.size() > 1 && m.param_formats.size() != m.params.size()) {
    return invalid(kWhat, "parameter format count does not match parameter count");
  }
  return m;
}

Result<Execute> parse_execute(ByteView payload) {
  static constexpr const char* kWhat = "Execute";
  PayloadReader r(payload);
  Execute m;
  if (!r.cstr(&m.portal) || !r.u32(&m.max_rows)) {
    return truncated(kWhat);
  }
  if (!r.at_end()) {
    return trailing(kWhat);
  }
  return m;
}

namespace {
template <class T>
Result<T> parse_kind_and_name(ByteView payload, const char* what) {
  PayloadReader r(payload);
  T m;
  uint8_t kind = 0;
  if (!r.u8(&kind) || !r.cstr(&m.name)) {
    return truncated(what);
  }
  if (kind != 'S' && kind != 'P') {
    return invalid(what, "kind must be 'S' or 'P'");
  }
  if (!r.at_end()) {
    return trailing(what);
  }
  m.kind = char(kind);
  return m;
}
}  // namespace

Result<Describe> parse_describe(ByteView payload) {
  return parse_kind_and_name<Describe>(payload, "Describe");
}

Result<Close> parse_close(ByteView payload) { return parse_kind_and_name<Close>(payload, "Close"); }

Result<PasswordMessage> parse_password_message(ByteView payload) {
  auto s = single_string(payload, "PasswordMessage");
  if (!s) {
    return Unexpected(std::move(s.error()));
  }
  return PasswordMessage{core::as_bytes(*s)};
}

Result<SaslInitialResponse> parse_sasl_initial_response(ByteView payload) {
  static constexpr const char* kWhat = "SASLInitialResponse";
  PayloadReader r(payload);
  SaslInitialResponse m;
  if (!r.cstr(&m.mechanism)) {
    return truncated(kWhat);
  }
  if (ValueStatus s = read_value(r, &m.initial); s != ValueStatus::kOk) {
    return value_error(kWhat, s);
  }
  if (!r.at_end()) {
    return trailing(kWhat);
  }
  return m;
}

Result<SaslResponse> parse_sasl_response(ByteView payload) { return SaslResponse{payload}; }

Result<CopyFail> parse_copy_fail(ByteView payload) {
  auto s = single_string(payload, "CopyFail");
  if (!s) {
    return Unexpected(std::move(s.error()));
  }
  return CopyFail{*s};
}

Result<FunctionCall> parse_function_call(ByteView payload) {
  static constexpr const char* kWhat = "FunctionCall";
  PayloadReader r(payload);
  FunctionCall m;
  bool bad_format = false;
  if (!r.u32(&m.oid) || !read_formats(r, &m.arg_formats, &bad_format)) {
    return truncated(kWhat);
  }
  if (ValueStatus s = read_values(r, &m.args); s != ValueStatus::kOk) {
    return value_error(kWhat, s);
  }
  if (!r.i16(&m.result_format)) {
    return truncated(kWhat);
  }
  if (!r.at_end()) {
    return trailing(kWhat);
  }
  if (bad_format || !valid_format(m.result_format)) {
    return invalid(kWhat, "unsupported format code");
  }
  if (m.arg_formats.size() > 1 && m.arg_formats.size() != m.args.size()) {
    return invalid(kWhat, "argument format count does not match argument count");
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// Backend parsers
// ---------------------------------------------------------------------------------------------

Result<Authentication> parse_authentication(ByteView payload) {
  static constexpr const char* kWhat = "Authentication";
  PayloadReader r(payload);
  Authentication m;
  if (!r.u32(&m.code)) {
    return truncated(kWhat);
  }
  m.data = r.rest();
  switch (m.code) {
    case kAuthOk:
    case kAuthKerberosV5:
    case kAuthCleartext:
    case kAuthGss:
    case kAuthSspi:
      if (!m.data.empty()) {
        return trailing(kWhat);
      }
      return m;
    case kAuthMd5:
      if (m.data.size() != 4) {
        return invalid(kWhat, "md5 salt must be 4 bytes");
      }
      return m;
    case kAuthGssContinue:
    case kAuthSaslContinue:
    case kAuthSaslFinal:
      return m;
    case kAuthSasl: {
      PayloadReader list(m.data);
      for (;;) {
        std::string_view mech;
        if (!list.cstr(&mech)) {
          return truncated(kWhat);
        }
        if (mech.empty()) {
          break;
        }
        m.mechanisms.push_back(mech);
      }
      if (!list.at_end()) {
        return trailing(kWhat);
      }
      if (m.mechanisms.empty()) {
        return invalid(kWhat, "empty SASL mechanism list");
      }
      return m;
    }
    default:
      return invalid(kWhat, "unsupported authentication code");
  }
}

Result<ParameterStatus> parse_parameter_status(ByteView payload) {
  static constexpr const char* kWhat = "ParameterStatus";
  PayloadReader r(payload);
  ParameterStatus m;
  if (!r.cstr(&m.name) || !r.cstr(&m.value)) {
    return truncated(kWhat);
  }
  if (!r.at_end()) {
    return trailing(kWhat);
  }
  return m;
}

Result<BackendKeyData> parse_backend_key_data(ByteView payload) {
  static constexpr const char* kWhat = "BackendKeyData";
  PayloadReader r(payload);
  BackendKeyData m;
  if (!r.u32(&m.pid) || !r.u32(&m.secret)) {
    return truncated(kWhat);
  }
  if (!r.at_end()) {
    return trailing(kWhat);
  }
  return m;
}

Result<ReadyForQuery> parse_ready_for_query(ByteView payload) {
  static constexpr const char* kWhat = "ReadyForQuery";
  PayloadReader r(payload);
  uint8_t status = 0;
  if (!r.u8(&status)) {
    return truncated(kWhat);
  }
  if (!r.at_end()) {
    return trailing(kWhat);
  }
  if (status != 'I' && status != 'T' && status != 'E') {
    return invalid(kWhat, "status must be 'I', 'T' or 'E'");
  }
  return ReadyForQuery{char(status)};
}

Result<RowDescription> parse_row_description(ByteView payload) {
  static constexpr const char* kWhat = "RowDescription";
  // Smallest field on the wire: empty name (1) + 4 + 2 + 4 + 2 + 4 + 2.
  static constexpr size_t kMinField = 19;
  PayloadReader r(payload);
  RowDescription m;
  uint16_t n = 0;
  if (!r.u16(&n) || size_t(n) * kMinField > r.remaining()) {
    return truncated(kWhat);
  }
  m.fields.resize(n);
  for (FieldDescription& f : m.fields) {
    if (!r.cstr(&f.name) || !r.u32(&f.table_oid) || !r.i16(&f.column_attr) || !r.u32(&f.type_oid) ||
        !r.i16(&f.type_size) || !r.i32(&f.type_modifier) || !r.i16(&f.format)) {
      return truncated(kWhat);
    }
    if (!valid_format(f.format)) {
      return invalid(kWhat, "unsupported format code");
    }
  }
  if (!r.at_end()) {
    return trailing(kWhat);
  }
  return m;
}

Result<void> parse_data_row_into(ByteView payload, DataRow* out) {
  static constexpr const char* kWhat = "DataRow";
  PayloadReader r(payload);
  if (ValueStatus s = read_values(r, &out->columns); s != ValueStatus::kOk) {
    return value_error(kWhat, s);
  }
  if (!r.at_end()) {
    return trailing(kWhat);
  }
  return {};
}

Result<DataRow> parse_data_row(ByteView payload) {
  DataRow m;
  if (auto ok = parse_data_row_into(payload, &m); !ok) {
    return Unexpected(ok.error());
  }
  return m;
}

Result<uint16_t> data_row_column_count(ByteView payload) {
  if (payload.size() < 2) {
    return truncated("DataRow");
  }
  return core::load_be16(payload.data());
}

Result<CommandComplete> parse_command_complete(ByteView payload) {
  auto s = single_string(payload, "CommandComplete");
  if (!s) {
    return Unexpected(std::move(s.error()));
  }
  return CommandComplete{*s};
}

std::string_view ErrorNotice::field(char code) const {
  for (const NoticeField& f : fields) {
    if (f.code == code) {
      return f.value;
    }
  }
  return {};
}

std::string_view ErrorNotice::severity() const {
  std::string_view v = field('V');
  return v.empty() ? field('S') : v;
}

Result<ErrorNotice> parse_error_notice(ByteView payload) {
  static constexpr const char* kWhat = "ErrorResponse/NoticeResponse";
  PayloadReader r(payload);
  ErrorNotice m;
  for (;;) {
    uint8_t code = 0;
    if (!r.u8(&code)) {
      return truncated(kWhat);
    }
    if (code == 0) {
      break;
    }
    std::string_view value;
    if (!r.cstr(&value)) {
      return truncated(kWhat);
    }
    m.fields.push_back(NoticeField{char(code), value});
  }
  if (!r.at_end()) {
    return trailing(kWhat);
  }
  return m;
}

Result<CopyResponse> parse_copy_response(ByteView payload) {
  static constexpr const char* kWhat = "CopyResponse";
  PayloadReader r(payload);
  CopyResponse m;
  bool bad_format = false;
  if (!r.u8(&m.overall_format) || !read_formats(r, &m.column_formats, &bad_format)) {
    return truncated(kWhat);
  }
  if (!r.at_end()) {
    return trailing(kWhat);
  }
  if (bad_format || m.overall_format > 1) {
    return invalid(kWhat, "unsupported format code");
  }
  return m;
}

Result<NotificationResponse> parse_notification_response(ByteView payload) {
  static constexpr const char* kWhat = "NotificationResponse";
  PayloadReader r(payload);
  NotificationResponse m;
  if (!r.u32(&m.pid) || !r.cstr(&m.channel) || !r.cstr(&m.payload)) {
    return truncated(kWhat);
  }
  if (!r.at_end()) {
    return trailing(kWhat);
  }
  return m;
}

Result<NegotiateProtocolVersion> parse_negotiate_protocol_version(ByteView payload) {
  static constexpr const char* kWhat = "NegotiateProtocolVersion";
  PayloadReader r(payload);
  NegotiateProtocolVersion m;
  uint32_t n = 0;
  // Each option takes at least its NUL byte.
  if (!r.u32(&m.newest_minor) || !r.u32(&n) || n > r.remaining()) {
    return truncated(kWhat);
  }
  m.unrecognized_options.resize(n);
  for (std::string_view& opt : m.unrecognized_options) {
    if (!r.cstr(&opt)) {
      return truncated(kWhat);
    }
  }
  if (!r.at_end()) {
    return trailing(kWhat);
  }
  return m;
}

Result<ParameterDescription> parse_parameter_description(ByteView payload) {
  static constexpr const char* kWhat = "ParameterDescription";
  PayloadReader r(payload);
  ParameterDescription m;
  uint16_t n = 0;
  if (!r.u16(&n) || size_t(n) * 4 > r.remaining()) {
    return truncated(kWhat);
  }
  m.type_oids.resize(n);
  for (uint32_t& oid : m.type_oids) {
    r.u32(&oid);
  }
  if (!r.at_end()) {
    return trailing(kWhat);
  }
  return m;
}

Result<FunctionCallResponse> parse_function_call_response(ByteView payload) {
  static constexpr const char* kWhat = "FunctionCallResponse";
  PayloadReader r(payload);
  FunctionCallResponse m;
  if (ValueStatus s = read_value(r, &m.result); s != ValueStatus::kOk) {
    return value_error(kWhat, s);
  }
  if (!r.at_end()) {
    return trailing(kWhat);
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// CommandComplete tags
// ---------------------------------------------------------------------------------------------

namespace {
std::optional<uint64_t> parse_count(std::string_view s) {
  if (s.empty() || s.size() > 20) {
    return std::nullopt;
  }
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    uint64_t d = uint64_t(c - '0');
    if (v > (UINT64_MAX - d) / 10) {
      return std::nullopt;
    }
    v = v * 10 + d;
  }
  return v;
}
}  // namespace

std::optional<uint64_t> rows_from_tag(std::string_view tag) {
  size_t sp = tag.find(' ');
  if (sp == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view verb = tag.substr(0, sp);
  std::string_view rest = tag.substr(sp + 1);
  if (verb == "INSERT") {
    // "INSERT oid rows": the oid is always present (0 since PostgreSQL 12).
    size_t sp2 = rest.find(' ');
    if (sp2 == std::string_view::npos || !parse_count(rest.substr(0, sp2))) {
      return std::nullopt;
    }
    return parse_count(rest.substr(sp2 + 1));
  }
  if (verb == "SELECT" || verb == "UPDATE" || verb == "DELETE" || verb == "COPY" ||
      verb == "MERGE" || verb == "FETCH" || verb == "MOVE") {
    return parse_count(rest);
  }
  return std::nullopt;
}

}  // namespace custos::postgres
