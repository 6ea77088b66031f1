#pragma once
// PostgreSQL protocol 3.0 wire messages: field types, typed parsers and encoders.
//
// Parsers take the payload of one framed message (the bytes after the 4-byte length, see
// codec.h) and either return a typed view or an ErrorCode::kProtocol error. They are bounds
// checked, require every string to be NUL-terminated inside the payload, reject counts that
// cannot fit in the remaining bytes, and reject trailing bytes. string_views and ByteViews in
// the results point into the payload: they are valid as long as the caller's buffer is.
//
// Encoders append one complete message (type byte, length, body) to a core::Bytes. Strings
// passed to encoders are written up to their first NUL byte (a NUL cannot be represented in a
// protocol string; truncating keeps the framing intact).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"

namespace custos::postgres {

// ---------------------------------------------------------------------------------------------
// Framing-level types
// ---------------------------------------------------------------------------------------------

enum class Direction { kFrontend /* client->server */, kBackend /* server->client */ };

inline constexpr uint32_t kProtocol30 = 196608;        // 3 << 16
// First byte of a TLS handshake record: a client starting TLS without an SSLRequest.
inline constexpr uint8_t kTlsHandshakeRecord = 0x16;
// The ALPN protocol name PostgreSQL clients and servers agree on.
inline constexpr std::string_view kPostgresAlpn = "postgresql";
inline constexpr uint32_t kSslRequestCode = 80877103;  // 1234 << 16 | 5679
inline constexpr uint32_t kGssEncRequestCode = 80877104;
inline constexpr uint32_t kCancelRequestCode = 80877102;

// Startup phase packets (no type byte).
enum class StartupKind { kStartup, kSslRequest, kGssEncRequest, kCancel };

struct StartupPacket {
  StartupKind kind = StartupKind::kStartup;
  uint32_t protocol = 0;                                    // for kStartup
  std::vector<std::pair<std::string, std::string>> params;  // for kStartup, in order
  uint32_t cancel_pid = 0, cancel_secret = 0;               // for kCancel
  // The value of the first parameter named `key`, or nullptr if absent.
  const std::string* param(std::string_view key) const;
};

// A typed message framed from the byte stream. payload = bytes after the 4-byte length.
// wire_size = 1 + length (bytes to consume). Views point into the caller's buffer.
struct Frame {
  char type = 0;
  core::ByteView payload;
  size_t wire_size = 0;
};

// Human-readable name of a message type ("Query", "DataRow", ...), "Unknown" otherwise.
std::string_view message_name(char type, Direction dir);

// True if `type` is a message type the given side may send.
bool is_known_type(char type, Direction dir);

// Messages with an empty body (Sync, Flush, Terminate, CopyDone, ParseComplete, BindComplete,
// CloseComplete, NoData, PortalSuspended, EmptyQueryResponse): checks the body is empty.
[[nodiscard]] Result<void> parse_empty(core::ByteView payload);

// Format codes.
inline constexpr int16_t kFormatText = 0;
inline constexpr int16_t kFormatBinary = 1;

// ---------------------------------------------------------------------------------------------
// Frontend (client -> server) messages
// ---------------------------------------------------------------------------------------------

struct Query {  // 'Q'
  std::string_view sql;
};

struct Parse {            // 'P'
  std::string_view name;  // "" = unnamed statement
  std::string_view sql;
  std::vector<uint32_t> param_types;
};

struct Bind {  // 'B'
  std::string_view portal;
  std::string_view statement;
  std::vector<int16_t> param_formats;                 // 0, 1 or params.size() entries, each 0|1
  std::vector<std::optional<core::ByteView>> params;  // nullopt = SQL NULL (length -1)
  std::vector<int16_t> result_formats;                // each 0|1
};

struct Execute {  // 'E'
  std::string_view portal;
  uint32_t max_rows = 0;  // 0 = no limit
};

struct Describe {   // 'D' (frontend)
  char kind = 'S';  // 'S' statement, 'P' portal
  std::string_view name;
};

struct Close {      // 'C' (frontend)
  char kind = 'S';  // 'S' statement, 'P' portal
  std::string_view name;
};

// 'p' is overloaded: its meaning depends on the authentication exchange in progress.
struct PasswordMessage {  // cleartext or md5 password (NUL excluded)
  core::ByteView data;
};
struct SaslInitialResponse {
  std::string_view mechanism;
  std::optional<core::ByteView> initial;  // nullopt when absent (length -1)
};
struct SaslResponse {
  core::ByteView data;
};

struct CopyFail {  // 'f'
  std::string_view message;
};

struct FunctionCall {  // 'F'
  uint32_t oid = 0;
  std::vector<int16_t> arg_formats;
  std::vector<std::optional<core::ByteView>> args;
  int16_t result_format = 0;
};

[[nodiscard]] Result<Query> parse_query(core::ByteView payload);
[[nodiscard]] Result<Parse> parse_parse(core::ByteView payload);
[[nodiscard]] Result<Bind> parse_bind(core::ByteView payload);
[[nodiscard]] Result<Execute> parse_execute(core::ByteView payload);
[[nodiscard]] Result<Describe> parse_describe(core::ByteView payload);
[[nodiscard]] Result<Close> parse_close(core::ByteView payload);
[[nodiscard]] Result<PasswordMessage> parse_password_message(core::ByteView payload);
[[nodiscard]] Result<SaslInitialResponse> parse_sasl_initial_response(core::ByteView payload);
[[nodiscard]] Result<SaslResponse> parse_sasl_response(core::ByteView payload);
[[nodiscard]] Result<CopyFail> parse_copy_fail(core::ByteView payload);
[[nodiscard]] Result<FunctionCall> parse_function_call(core::ByteView payload);

// ---------------------------------------------------------------------------------------------
// Backend (server -> client) messages
// ---------------------------------------------------------------------------------------------

enum AuthCode : uint32_t {
  kAuthOk = 0,
  kAuthKerberosV5 = 2,
  kAuthCleartext = 3,
  kAuthMd5 = 5,
  kAuthGss = 7,
  kAuthGssContinue = 8,
  kAuthSspi = 9,
  kAuthSasl = 10,
  kAuthSaslContinue = 11,
  kAuthSaslFinal = 12,
};

struct Authentication {  // 'R'
  uint32_t code = kAuthOk;
  core::ByteView data;                       // bytes after the code (md5: the 4-byte salt)
  std::vector<std::string_view> mechanisms;  // code 10 only, in server order
};

struct ParameterStatus {  // 'S' (backend)
  std::string_view name;
  std::string_view value;
};

struct BackendKeyData {  // 'K'
  uint32_t pid = 0;
  uint32_t secret = 0;
};

struct ReadyForQuery {  // 'Z'
  char status = 'I';    // 'I' idle, 'T' in transaction, 'E' failed transaction
};

struct FieldDescription {
  std::string_view name;
  uint32_t table_oid = 0;
  int16_t column_attr = 0;
  uint32_t type_oid = 0;
  int16_t type_size = 0;
  int32_t type_modifier = -1;
  int16_t format = 0;
};

struct RowDescription {  // 'T'
  std::vector<FieldDescription> fields;
};

struct DataRow {                                       // 'D' (backend)
  std::vector<std::optional<core::ByteView>> columns;  // nullopt = SQL NULL
};

struct CommandComplete {  // 'C' (backend)
  std::string_view tag;
};

struct NoticeField {
  char code = 0;  // 'S', 'V', 'C', 'M', 'D', 'H', ...
  std::string_view value;
};

// ErrorResponse ('E') and NoticeResponse ('N') share this body.
struct ErrorNotice {
  std::vector<NoticeField> fields;
  // The first value of field `code`, or "" if absent.
  std::string_view field(char code) const;
  // Non-localized severity ('V') when present, otherwise the localized one ('S').
  std::string_view severity() const;
  std::string_view sqlstate() const { return field('C'); }
  std::string_view message() const { return field('M'); }
};
using ErrorResponse = ErrorNotice;
using NoticeResponse = ErrorNotice;

// CopyInResponse ('G'), CopyOutResponse ('H'), CopyBothResponse ('W').
struct CopyResponse {
  uint8_t overall_format = 0;  // 0 text, 1 binary
  std::vector<int16_t> column_formats;
};

struct NotificationResponse {  // 'A'
  uint32_t pid = 0;
  std::string_view channel;
  std::string_view payload;
};

struct NegotiateProtocolVersion {  // 'v'
  uint32_t newest_minor = 0;
  std::vector<std::string_view> unrecognized_options;
};

struct ParameterDescription {  // 't'
  std::vector<uint32_t> type_oids;
};

struct FunctionCallResponse {            // 'V'
  std::optional<core::ByteView> result;  // nullopt = NULL
};

[[nodiscard]] Result<Authentication> parse_authentication(core::ByteView payload);
[[nodiscard]] Result<ParameterStatus> parse_parameter_status(core::ByteView payload);
[[nodiscard]] Result<BackendKeyData> parse_backend_key_data(core::ByteView payload);
[[nodiscard]] Result<ReadyForQuery> parse_ready_for_query(core::ByteView payload);
[[nodiscard]] Result<RowDescription> parse_row_description(core::ByteView payload);
[[nodiscard]] Result<DataRow> parse_data_row(core::ByteView payload);
// Same as parse_data_row, reusing out->columns' capacity (no allocation in steady state).
// On error *out is left in an unspecified but valid state.
[[nodiscard]] Result<void> parse_data_row_into(core::ByteView payload, DataRow* out);
// Cheap: reads only the column count (no validation of the columns).
[[nodiscard]] Result<uint16_t> data_row_column_count(core::ByteView payload);
[[nodiscard]] Result<CommandComplete> parse_command_complete(core::ByteView payload);
[[nodiscard]] Result<ErrorNotice> parse_error_notice(core::ByteView payload);
[[nodiscard]] Result<CopyResponse> parse_copy_response(core::ByteView payload);
[[nodiscard]] Result<NotificationResponse> parse_notification_response(core::ByteView payload);
[[nodiscard]] Result<NegotiateProtocolVersion> parse_negotiate_protocol_version(
    core::ByteView payload);
[[nodiscard]] Result<ParameterDescription> parse_parameter_description(core::ByteView payload);
[[nodiscard]] Result<FunctionCallResponse> parse_function_call_response(core::ByteView payload);

// Rows affected/returned according to a CommandComplete tag: "SELECT 5" -> 5, "INSERT 0 3" -> 3,
// UPDATE/DELETE/COPY/MERGE/FETCH/MOVE n -> n. nullopt for other tags or malformed counts.
std::optional<uint64_t> rows_from_tag(std::string_view tag);

// ---------------------------------------------------------------------------------------------
// Encoders (append one complete message to `out`)
// ---------------------------------------------------------------------------------------------

// Backend side (what the gateway says to its callers).
void encode_error(core::Bytes& out, std::string_view severity, std::string_view sqlstate,
                  std::string_view message, std::string_view hint = {},
                  std::string_view detail = {});
void encode_notice(core::Bytes& out, std::string_view severity, std::string_view sqlstate,
                   std::string_view message, std::string_view hint = {},
                   std::string_view detail = {});
void encode_auth_ok(core::Bytes& out);
void encode_auth_cleartext(core::Bytes& out);
void encode_auth_md5(core::Bytes& out, std::span<const uint8_t, 4> salt);
void encode_auth_sasl(core::Bytes& out, std::span<const std::string_view> mechanisms);
void encode_auth_sasl_continue(core::Bytes& out, core::ByteView data);
void encode_auth_sasl_final(core::Bytes& out, core::ByteView data);
void encode_parameter_status(core::Bytes& out, std::string_view name, std::string_view value);
void encode_notification(core::Bytes& out, uint32_t pid, std::string_view channel,
                         std::string_view payload);
void encode_backend_key_data(core::Bytes& out, uint32_t pid, uint32_t secret);
void encode_ready_for_query(core::Bytes& out, char status);
void encode_command_complete(core::Bytes& out, std::string_view tag);
void encode_data_row(core::Bytes& out, std::span<const std::optional<core::ByteView>> columns);
void encode_row_description(core::Bytes& out, std::span<const FieldDescription> fields);
void encode_negotiate_protocol_version(core::Bytes& out, uint32_t newest_minor,
                                       std::span<const std::string_view> unrecognized);
void encode_empty_query_response(core::Bytes& out);

// Frontend side (what the gateway says to the upstream server).
void encode_startup(core::Bytes& out,
                    const std::vector<std::pair<std::string, std::string>>& params,
                    uint32_t protocol = kProtocol30);
void encode_ssl_request(core::Bytes& out);
void encode_cancel_request(core::Bytes& out, uint32_t pid, uint32_t secret);
void encode_password(core::Bytes& out, std::string_view password);
void encode_sasl_initial(core::Bytes& out, std::string_view mechanism,
                         std::optional<core::ByteView> data);
void encode_sasl_response(core::Bytes& out, core::ByteView data);
void encode_query(core::Bytes& out, std::string_view sql);
void encode_describe(core::Bytes& out, char kind, std::string_view name);  // 'S' or 'P'
void encode_sync(core::Bytes& out);
void encode_terminate(core::Bytes& out);

}  // namespace custos::postgres
