// PostgreSQL protocol 3.0 codec: framing, startup packets, typed parsers and encoders.

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/postgres/codec.h"
#include "protocol/postgres/message.h"

namespace custos::postgres {
namespace {

using core::Bytes;
using core::ByteView;
using namespace std::string_view_literals;

constexpr size_t kMax = 1 << 20;

// Hand-built message bodies, independent of the encoders under test.
struct Body {
  Bytes b;
  Body& u8(uint8_t v) {
    b.push_back(v);
    return *this;
  }
  Body& i16(int16_t v) {
    core::append_be16(b, uint16_t(v));
    return *this;
  }
  Body& i32(int32_t v) {
    core::append_be32(b, uint32_t(v));
    return *this;
  }
  Body& str(std::string_view s) {  // with NUL terminator
    core::append_cstr(b, s);
    return *this;
  }
  Body& raw(std::string_view s) {  // no terminator
    core::append(b, s);
    return *this;
  }
  // Parsed views point into the bytes, so they must outlive the parse result: the bytes are
  // copied into an arena that lives as long as the test binary.
  ByteView view() const {
    static std::deque<Bytes> arena;
    return arena.emplace_back(b);
  }
};

Bytes frame_bytes(char type, const Body& body) {
  Bytes out;
  out.push_back(uint8_t(type));
  core::append_be32(out, uint32_t(body.b.size() + 4));
  core::append(out, ByteView(body.b));
  return out;
}

std::string to_string(ByteView v) { return std::string(core::as_chars(v)); }

// Decodes exactly one frame spanning the whole buffer.
Frame single_frame(const Bytes& wire, Direction dir) {
  auto r = decode_frame(wire, dir, kMax);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  if (!r || !r->has_value()) {
    ADD_FAILURE() << "no frame";
    return Frame{};
  }
  EXPECT_EQ((*r)->wire_size, wire.size());
  return **r;
}

// ---------------------------------------------------------------------------------------------
// Framing
// ---------------------------------------------------------------------------------------------

TEST(PgFrame, ByteAtATimeNeedsMoreUntilLastByte) {
  Bytes wire;
  encode_query(wire, "SELECT 1");
  for (size_t n = 0; n < wire.size(); ++n) {
    auto r = decode_frame(ByteView(wire.data(), n), Direction::kFrontend, kMax);
    ASSERT_TRUE(r.has_value()) << "prefix " << n << ": " << r.error().message;
    EXPECT_FALSE(r->has_value()) << "frame produced from a " << n << "-byte prefix";
  }
  auto r = decode_frame(wire, Direction::kFrontend, kMax);
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->type, 'Q');
  EXPECT_EQ((*r)->wire_size, wire.size());
  EXPECT_EQ(to_string((*r)->payload), "SELECT 1\0"sv);
}

TEST(PgFrame, SeveralMessagesInOneBuffer) {
  Bytes wire = frame_bytes('P', Body().str("s1").str("SELECT $1").i16(1).i32(23));
  Bytes bind = frame_bytes('B', Body().str("").str("s1").i16(0).i16(1).i32(1).raw("7").i16(0));
  wire.insert(wire.end(), bind.begin(), bind.end());
  Bytes exec = frame_bytes('E', Body().str("").i32(0));
  wire.insert(wire.end(), exec.begin(), exec.end());
  encode_sync(wire);

  std::string types;
  size_t off = 0;
  for (;;) {
    auto r = decode_frame(ByteView(wire).subspan(off), Direction::kFrontend, kMax);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    if (!r->has_value()) {
      break;
    }
    types.push_back((*r)->type);
    off += (*r)->wire_size;
  }
  EXPECT_EQ(types, "PBES");
  EXPECT_EQ(off, wire.size());
}

TEST(PgFrame, TruncatedSecondMessageLeavesItBuffered) {
  Bytes wire;
  encode_query(wire, "SELECT 1");
  size_t first = wire.size();
  encode_query(wire, "SELECT 2");
  wire.erase(wire.end() - 3, wire.end());
  auto r1 = decode_frame(wire, Direction::kFrontend, kMax);
  ASSERT_TRUE(r1.has_value() && r1->has_value());
  EXPECT_EQ((*r1)->wire_size, first);
  auto r2 = decode_frame(ByteView(wire).subspan(first), Direction::kFrontend, kMax);
  ASSERT_TRUE(r2.has_value());
  EXPECT_FALSE(r2->has_value());
}

TEST(PgFrame, UnknownTypeRejectedFromFirstByte) {
  const uint8_t z[] = {'Z'};  // ReadyForQuery is backend-only
  auto r = decode_frame(z, Direction::kFrontend, kMax);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kProtocol);
  const uint8_t q[] = {'Q', 0, 0, 0, 4};  // Query is frontend-only
  EXPECT_FALSE(decode_frame(q, Direction::kBackend, kMax).has_value());
  const uint8_t junk[] = {0x00, 0, 0, 0, 4};
  EXPECT_FALSE(decode_frame(junk, Direction::kFrontend, kMax).has_value());
  EXPECT_FALSE(decode_frame(junk, Direction::kBackend, kMax).has_value());
}

TEST(PgFrame, LengthBelowFourRejected) {
  for (uint8_t len = 0; len < 4; ++len) {
    const uint8_t wire[] = {'S', 0, 0, 0, len};
    auto r = decode_frame(wire, Direction::kFrontend, kMax);
    ASSERT_FALSE(r.has_value()) << int(len);
    EXPECT_EQ(r.error().code, ErrorCode::kProtocol);
  }
}

TEST(PgFrame, HugeLengthRejectedFromHeaderAlone) {
  const uint8_t wire[] = {'D', 0x7f, 0xff, 0xff, 0xff};
  auto r = decode_frame(wire, Direction::kBackend, kMax);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kTooLarge);
  const uint8_t max_u32[] = {'Q', 0xff, 0xff, 0xff, 0xff};
  auto r2 = decode_frame(max_u32, Direction::kFrontend, kMax);
  ASSERT_FALSE(r2.has_value());
  EXPECT_EQ(r2.error().code, ErrorCode::kTooLarge);
}

TEST(PgFrame, LimitIsInclusiveOfTypeByte) {
  Bytes wire;
  encode_query(wire, "SELECT 42");
  auto at_limit = decode_frame(wire, Direction::kFrontend, wire.size());
  ASSERT_TRUE(at_limit.has_value());
  EXPECT_TRUE(at_limit->has_value());
  auto over = decode_frame(wire, Direction::kFrontend, wire.size() - 1);
  ASSERT_FALSE(over.has_value());
  EXPECT_EQ(over.error().code, ErrorCode::kTooLarge);
}

TEST(PgFrame, EveryDocumentedTypeIsKnown) {
  for (char t : "QPBEDCHSXdcfFp"sv) {
    EXPECT_TRUE(is_known_type(t, Direction::kFrontend)) << t;
    const uint8_t wire[] = {uint8_t(t), 0, 0, 0, 4};
    auto r = decode_frame(wire, Direction::kFrontend, kMax);
    ASSERT_TRUE(r.has_value() && r->has_value()) << t;
    EXPECT_TRUE((*r)->payload.empty());
  }
  for (char t : "RSKZTDCENI123nstGHWcdAVv"sv) {
    EXPECT_TRUE(is_known_type(t, Direction::kBackend)) << t;
  }
  EXPECT_FALSE(is_known_type('R', Direction::kFrontend));
  EXPECT_FALSE(is_known_type('Q', Direction::kBackend));
  EXPECT_FALSE(is_known_type('x', Direction::kBackend));
}

TEST(PgFrame, MessageNames) {
  EXPECT_EQ(message_name('Q', Direction::kFrontend), "Query");
  EXPECT_EQ(message_name('D', Direction::kFrontend), "Describe");
  EXPECT_EQ(message_name('D', Direction::kBackend), "DataRow");
  EXPECT_EQ(message_name('S', Direction::kFrontend), "Sync");
  EXPECT_EQ(message_name('S', Direction::kBackend), "ParameterStatus");
  EXPECT_EQ(message_name('?', Direction::kBackend), "Unknown");
  EXPECT_EQ(message_name(char(0xff), Direction::kFrontend), "Unknown");
}

TEST(PgFrame, EmptyMessages) {
  Bytes wire;
  encode_sync(wire);
  Frame f = single_frame(wire, Direction::kFrontend);
  EXPECT_EQ(f.type, 'S');
  EXPECT_TRUE(parse_empty(f.payload).has_value());
  Bytes sync_with_body = frame_bytes('S', Body().u8(0));
  Frame g = single_frame(sync_with_body, Direction::kFrontend);
  EXPECT_FALSE(parse_empty(g.payload).has_value());
}

// ---------------------------------------------------------------------------------------------
// Startup packets
// ---------------------------------------------------------------------------------------------

Bytes startup_bytes(uint32_t code, const Body& rest) {
  Bytes out;
  core::append_be32(out, uint32_t(8 + rest.b.size()));
  core::append_be32(out, code);
  core::append(out, ByteView(rest.b));
  return out;
}

TEST(PgStartup, StartupMessageByteAtATime) {
  Bytes wire = startup_bytes(kProtocol30, Body()
                                              .str("user")
                                              .str("ci")
                                              .str("database")
                                              .str("orders")
                                              .str("application_name")
                                              .str("")
                                              .u8(0));
  size_t consumed = 0;
  for (size_t n = 0; n < wire.size(); ++n) {
    auto r = decode_startup(ByteView(wire.data(), n), kDefaultMaxStartupLength, &consumed);
    ASSERT_TRUE(r.has_value()) << n << ": " << r.error().message;
    EXPECT_FALSE(r->has_value()) << n;
  }
  wire.push_back('Q');  // the next packet's first byte must not be consumed
  auto r = decode_startup(wire, kDefaultMaxStartupLength, &consumed);
  ASSERT_TRUE(r.has_value() && r->has_value());
  const StartupPacket& p = **r;
  EXPECT_EQ(consumed, wire.size() - 1);
  EXPECT_EQ(p.kind, StartupKind::kStartup);
  EXPECT_EQ(p.protocol, 196608u);
  ASSERT_EQ(p.params.size(), 3u);
  EXPECT_EQ(p.params[0].first, "user");
  EXPECT_EQ(p.params[1].second, "orders");
  ASSERT_NE(p.param("user"), nullptr);
  EXPECT_EQ(*p.param("user"), "ci");
  ASSERT_NE(p.param("application_name"), nullptr);
  EXPECT_EQ(*p.param("application_name"), "");
  EXPECT_EQ(p.param("password"), nullptr);
}

TEST(PgStartup, EncryptionAndCancelRequests) {
  size_t consumed = 0;
  Bytes ssl = startup_bytes(kSslRequestCode, Body());
  auto a = decode_startup(ssl, kDefaultMaxStartupLength, &consumed);
  ASSERT_TRUE(a.has_value() && a->has_value());
  EXPECT_EQ((*a)->kind, StartupKind::kSslRequest);
  EXPECT_EQ(consumed, 8u);

  Bytes gss = startup_bytes(kGssEncRequestCode, Body());
  auto b = decode_startup(gss, kDefaultMaxStartupLength, &consumed);
  ASSERT_TRUE(b.has_value() && b->has_value());
  EXPECT_EQ((*b)->kind, StartupKind::kGssEncRequest);

  Bytes cancel = startup_bytes(kCancelRequestCode, Body().i32(4242).i32(int32_t(0xdeadbeef)));
  auto c = decode_startup(cancel, kDefaultMaxStartupLength, &consumed);
  ASSERT_TRUE(c.has_value() && c->has_value());
  EXPECT_EQ((*c)->kind, StartupKind::kCancel);
  EXPECT_EQ((*c)->cancel_pid, 4242u);
  EXPECT_EQ((*c)->cancel_secret, 0xdeadbeefu);
  EXPECT_EQ(consumed, 16u);
}

TEST(PgStartup, MinorVersionsOfProtocol3Accepted) {
  size_t consumed = 0;
  Bytes wire = startup_bytes((3u << 16) | 2, Body().str("user").str("u").u8(0));
  auto r = decode_startup(wire, kDefaultMaxStartupLength, &consumed);
  ASSERT_TRUE(r.has_value() && r->has_value());
  EXPECT_EQ((*r)->protocol, 196610u);
}

void expect_startup_error(const Bytes& wire, ErrorCode code, const char* what) {
  size_t consumed = 123;
  auto r = decode_startup(wire, kDefaultMaxStartupLength, &consumed);
  ASSERT_FALSE(r.has_value()) << what;
  EXPECT_EQ(r.error().code, code) << what;
  EXPECT_EQ(consumed, 123u) << what;
}

TEST(PgStartup, MalformedRejected) {
  expect_startup_error(startup_bytes(2u << 16, Body().str("user").str("u").u8(0)),
                       ErrorCode::kProtocol, "protocol 2.0");
  expect_startup_error(startup_bytes((1234u << 16) | 5681, Body()), ErrorCode::kProtocol,
                       "1234.5681");
  expect_startup_error(startup_bytes((1234u << 16) | 5679, Body().i32(0)), ErrorCode::kProtocol,
                       "SSLRequest with a body");
  expect_startup_error(startup_bytes(kCancelRequestCode, Body().i32(1)), ErrorCode::kProtocol,
                       "short CancelRequest");
  expect_startup_error(startup_bytes(kProtocol30, Body()), ErrorCode::kProtocol,
                       "no parameter terminator");
  expect_startup_error(startup_bytes(kProtocol30, Body().str("user").str("u")),
                       ErrorCode::kProtocol, "missing final NUL");
  expect_startup_error(startup_bytes(kProtocol30, Body().str("user").raw("u")),
                       ErrorCode::kProtocol, "value not NUL-terminated");
  expect_startup_error(startup_bytes(kProtocol30, Body().str("user").u8(0)), ErrorCode::kProtocol,
                       "key without value");
  expect_startup_error(startup_bytes(kProtocol30, Body().str("user").str("u").u8(0).raw("x")),
                       ErrorCode::kProtocol, "bytes after terminator");
  const uint8_t short_len[] = {0, 0, 0, 7};
  expect_startup_error(Bytes(std::begin(short_len), std::end(short_len)), ErrorCode::kProtocol,
                       "length 7");
}

TEST(PgStartup, OversizedAndFixedSizeErrorsFromHeaderAlone) {
  const uint8_t huge[] = {0x00, 0x10, 0x00, 0x00};  // 1 MiB declared, only 4 bytes present
  expect_startup_error(Bytes(std::begin(huge), std::end(huge)), ErrorCode::kTooLarge, "huge");
  // A 12-byte "SSLRequest": rejected once the code is visible, before the body arrives.
  Bytes ssl12;
  core::append_be32(ssl12, 12);
  core::append_be32(ssl12, kSslRequestCode);
  expect_startup_error(ssl12, ErrorCode::kProtocol, "SSLRequest length 12");
}

// ---------------------------------------------------------------------------------------------
// Frontend parsers
// ---------------------------------------------------------------------------------------------

TEST(PgFrontendParse, Query) {
  auto ok = parse_query(Body().str("SELECT 1").view());
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->sql, "SELECT 1");
  EXPECT_FALSE(parse_query(Body().raw("SELECT 1").view()).has_value());
  EXPECT_FALSE(parse_query(Body().str("SELECT 1").raw("x").view()).has_value());
  EXPECT_FALSE(parse_query(Body().view()).has_value());
  auto e = parse_query(Body().str("a").str("b").view());
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().code, ErrorCode::kProtocol);
}

TEST(PgFrontendParse, Parse) {
  auto ok = parse_parse(Body().str("s1").str("SELECT $1, $2").i16(2).i32(23).i32(25).view());
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->name, "s1");
  EXPECT_EQ(ok->sql, "SELECT $1, $2");
  EXPECT_EQ(ok->param_types, (std::vector<uint32_t>{23, 25}));
  EXPECT_FALSE(parse_parse(Body().str("s1").str("SELECT").i16(3).i32(23).view()).has_value());
  EXPECT_FALSE(parse_parse(Body().str("s1").raw("SELECT").view()).has_value());
  EXPECT_FALSE(parse_parse(Body().str("").str("SELECT").i16(0).u8(0).view()).has_value());
  EXPECT_FALSE(parse_parse(Body().str("").str("SELECT").view()).has_value());
}

TEST(PgFrontendParse, Bind) {
  auto ok = parse_bind(Body()
                           .str("p1")
                           .str("s1")
                           .i16(1)
                           .i16(1)
                           .i16(3)
                           .i32(2)
                           .raw("ab")
                           .i32(-1)
                           .i32(0)
                           .i16(2)
                           .i16(0)
                           .i16(1)
                           .view());
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(ok->portal, "p1");
  EXPECT_EQ(ok->statement, "s1");
  EXPECT_EQ(ok->param_formats, (std::vector<int16_t>{1}));
  ASSERT_EQ(ok->params.size(), 3u);
  ASSERT_TRUE(ok->params[0].has_value());
  EXPECT_EQ(to_string(*ok->params[0]), "ab");
  EXPECT_FALSE(ok->params[1].has_value());
  ASSERT_TRUE(ok->params[2].has_value());
  EXPECT_TRUE(ok->params[2]->empty());
  EXPECT_EQ(ok->result_formats, (std::vector<int16_t>{0, 1}));

  // Negative length other than -1.
  EXPECT_FALSE(parse_bind(Body().str("").str("").i16(0).i16(1).i32(-2).i16(0).view()).has_value());
  // Value length beyond the payload.
  EXPECT_FALSE(parse_bind(Body().str("").str("").i16(0).i16(1).i32(100).raw("ab").i16(0).view())
                   .has_value());
  // Parameter count larger than the payload can hold.
  EXPECT_FALSE(parse_bind(Body().str("").str("").i16(0).i16(1000).i16(0).view()).has_value());
  // Format count larger than the payload.
  EXPECT_FALSE(parse_bind(Body().str("").str("").i16(50).i16(0).view()).has_value());
  // Unsupported format code.
  EXPECT_FALSE(parse_bind(Body().str("").str("").i16(1).i16(2).i16(0).i16(0).view()).has_value());
  // Two formats for three parameters.
  EXPECT_FALSE(
      parse_bind(
          Body().str("").str("").i16(2).i16(0).i16(0).i16(3).i32(-1).i32(-1).i32(-1).i16(0).view())
          .has_value());
  // Missing result-format count / trailing byte.
  EXPECT_FALSE(parse_bind(Body().str("").str("").i16(0).i16(0).view()).has_value());
  EXPECT_FALSE(parse_bind(Body().str("").str("").i16(0).i16(0).i16(0).u8(0).view()).has_value());
  // Portal name without NUL.
  EXPECT_FALSE(parse_bind(Body().raw("portal").view()).has_value());
}

TEST(PgFrontendParse, Execute) {
  auto ok = parse_execute(Body().str("p").i32(100).view());
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->portal, "p");
  EXPECT_EQ(ok->max_rows, 100u);
  EXPECT_FALSE(parse_execute(Body().str("p").i16(1).view()).has_value());
  EXPECT_FALSE(parse_execute(Body().str("p").i32(0).u8(1).view()).has_value());
}

TEST(PgFrontendParse, DescribeAndClose) {
  auto d = parse_describe(Body().u8('P').str("portal").view());
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->kind, 'P');
  EXPECT_EQ(d->name, "portal");
  auto c = parse_close(Body().u8('S').str("").view());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->kind, 'S');
  EXPECT_EQ(c->name, "");
  EXPECT_FALSE(parse_describe(Body().u8('X').str("a").view()).has_value());
  EXPECT_FALSE(parse_close(Body().u8('S').raw("a").view()).has_value());
  EXPECT_FALSE(parse_close(Body().u8('S').str("a").u8(0).view()).has_value());
  EXPECT_FALSE(parse_describe(Body().view()).has_value());
}

TEST(PgFrontendParse, PasswordAndSasl) {
  auto pw = parse_password_message(Body().str("md5abc").view());
  ASSERT_TRUE(pw.has_value());
  EXPECT_EQ(to_string(pw->data), "md5abc");
  EXPECT_FALSE(parse_password_message(Body().raw("secret").view()).has_value());
  EXPECT_FALSE(parse_password_message(Body().str("a").str("b").view()).has_value());

  auto init = parse_sasl_initial_response(Body().str("SCRAM-SHA-256").i32(3).raw("n,,").view());
  ASSERT_TRUE(init.has_value());
  EXPECT_EQ(init->mechanism, "SCRAM-SHA-256");
  ASSERT_TRUE(init->initial.has_value());
  EXPECT_EQ(to_string(*init->initial), "n,,");
  auto absent = parse_sasl_initial_response(Body().str("SCRAM-SHA-256").i32(-1).view());
  ASSERT_TRUE(absent.has_value());
  EXPECT_FALSE(absent->initial.has_value());
  EXPECT_FALSE(parse_sasl_initial_response(Body().str("M").i32(-5).view()).has_value());
  EXPECT_FALSE(parse_sasl_initial_response(Body().str("M").i32(10).raw("abc").view()).has_value());
  EXPECT_FALSE(parse_sasl_initial_response(Body().str("M").i32(1).raw("ab").view()).has_value());
  EXPECT_FALSE(parse_sasl_initial_response(Body().str("M").view()).has_value());

  auto resp = parse_sasl_response(Body().raw("c=biws,r=abc,p=xyz").view());
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(to_string(resp->data), "c=biws,r=abc,p=xyz");
}

TEST(PgFrontendParse, CopyFail) {
  auto ok = parse_copy_fail(Body().str("aborted by user").view());
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->message, "aborted by user");
  EXPECT_FALSE(parse_copy_fail(Body().raw("x").view()).has_value());
}

TEST(PgFrontendParse, FunctionCall) {
  auto ok = parse_function_call(
      Body().i32(1598).i16(1).i16(1).i16(2).i32(4).raw("\0\0\0\x01"sv).i32(-1).i16(1).view());
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(ok->oid, 1598u);
  EXPECT_EQ(ok->arg_formats, (std::vector<int16_t>{1}));
  ASSERT_EQ(ok->args.size(), 2u);
  EXPECT_EQ(ok->args[0]->size(), 4u);
  EXPECT_FALSE(ok->args[1].has_value());
  EXPECT_EQ(ok->result_format, 1);
  EXPECT_FALSE(parse_function_call(Body().i32(1).i16(0).i16(1).i32(-3).i16(0).view()).has_value());
  EXPECT_FALSE(parse_function_call(Body().i32(1).i16(0).i16(0).view()).has_value());
  EXPECT_FALSE(parse_function_call(Body().i32(1).i16(0).i16(0).i16(7).view()).has_value());
  EXPECT_FALSE(parse_function_call(Body().i32(1).i16(0).i16(0).i16(0).u8(0).view()).has_value());
}

// ---------------------------------------------------------------------------------------------
// Backend parsers
// ---------------------------------------------------------------------------------------------

TEST(PgBackendParse, Authentication) {
  auto ok = parse_authentication(Body().i32(0).view());
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->code, kAuthOk);
  EXPECT_FALSE(parse_authentication(Body().i32(0).u8(0).view()).has_value());
  EXPECT_TRUE(parse_authentication(Body().i32(3).view()).has_value());

  auto md5 = parse_authentication(Body().i32(5).raw("abcd").view());
  ASSERT_TRUE(md5.has_value());
  EXPECT_EQ(to_string(md5->data), "abcd");
  EXPECT_FALSE(parse_authentication(Body().i32(5).raw("abc").view()).has_value());
  EXPECT_FALSE(parse_authentication(Body().i32(5).raw("abcde").view()).has_value());

  auto sasl = parse_authentication(
      Body().i32(10).str("SCRAM-SHA-256-PLUS").str("SCRAM-SHA-256").u8(0).view());
  ASSERT_TRUE(sasl.has_value());
  EXPECT_EQ(sasl->mechanisms,
            (std::vector<std::string_view>{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}));
  EXPECT_FALSE(parse_authentication(Body().i32(10).str("SCRAM-SHA-256").view()).has_value());
  EXPECT_FALSE(parse_authentication(Body().i32(10).u8(0).view()).has_value());
  EXPECT_FALSE(
      parse_authentication(Body().i32(10).str("SCRAM-SHA-256").u8(0).u8(1).view()).has_value());

  auto cont = parse_authentication(Body().i32(11).raw("r=abc,s=xyz,i=4096").view());
  ASSERT_TRUE(cont.has_value());
  EXPECT_EQ(cont->code, kAuthSaslContinue);
  EXPECT_EQ(to_string(cont->data), "r=abc,s=xyz,i=4096");
  EXPECT_TRUE(parse_authentication(Body().i32(12).raw("v=abc").view()).has_value());

  EXPECT_FALSE(parse_authentication(Body().i32(99).view()).has_value());
  EXPECT_FALSE(parse_authentication(Body().i16(0).view()).has_value());
}

TEST(PgBackendParse, ParameterStatusKeyDataReady) {
  auto ps = parse_parameter_status(Body().str("server_version").str("16.2").view());
  ASSERT_TRUE(ps.has_value());
  EXPECT_EQ(ps->name, "server_version");
  EXPECT_EQ(ps->value, "16.2");
  EXPECT_FALSE(parse_parameter_status(Body().str("a").view()).has_value());
  EXPECT_FALSE(parse_parameter_status(Body().str("a").str("b").u8(0).view()).has_value());

  auto k = parse_backend_key_data(Body().i32(77).i32(-1).view());
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->pid, 77u);
  EXPECT_EQ(k->secret, 0xffffffffu);
  EXPECT_FALSE(parse_backend_key_data(Body().i32(77).view()).has_value());
  EXPECT_FALSE(parse_backend_key_data(Body().i32(77).i32(1).u8(0).view()).has_value());

  for (char s : "ITE"sv) {
    auto z = parse_ready_for_query(Body().u8(uint8_t(s)).view());
    ASSERT_TRUE(z.has_value());
    EXPECT_EQ(z->status, s);
  }
  EXPECT_FALSE(parse_ready_for_query(Body().u8('X').view()).has_value());
  EXPECT_FALSE(parse_ready_for_query(Body().view()).has_value());
  EXPECT_FALSE(parse_ready_for_query(Body().u8('I').u8('I').view()).has_value());
}

Body field_body(std::string_view name, int16_t format) {
  Body b;
  b.str(name).i32(16384).i16(2).i32(25).i16(-1).i32(-1).i16(format);
  return b;
}

TEST(PgBackendParse, RowDescription) {
  Body body;
  body.i16(2);
  core::append(body.b, field_body("id", 0).view());
  core::append(body.b, field_body("email", 1).view());
  auto ok = parse_row_description(body.view());
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  ASSERT_EQ(ok->fields.size(), 2u);
  EXPECT_EQ(ok->fields[0].name, "id");
  EXPECT_EQ(ok->fields[0].table_oid, 16384u);
  EXPECT_EQ(ok->fields[0].column_attr, 2);
  EXPECT_EQ(ok->fields[0].type_oid, 25u);
  EXPECT_EQ(ok->fields[0].type_size, -1);
  EXPECT_EQ(ok->fields[0].type_modifier, -1);
  EXPECT_EQ(ok->fields[1].name, "email");
  EXPECT_EQ(ok->fields[1].format, 1);

  Body too_many;
  too_many.i16(3);
  core::append(too_many.b, field_body("id", 0).view());
  EXPECT_FALSE(parse_row_description(too_many.view()).has_value());
  Body cut = body;
  cut.b.pop_back();
  EXPECT_FALSE(parse_row_description(cut.view()).has_value());
  Body extra = body;
  extra.u8(0);
  EXPECT_FALSE(parse_row_description(extra.view()).has_value());
  Body bad_format;
  bad_format.i16(1);
  core::append(bad_format.b, field_body("id", 5).view());
  EXPECT_FALSE(parse_row_description(bad_format.view()).has_value());
  Body no_nul;
  no_nul.i16(1).raw("nameeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
  EXPECT_FALSE(parse_row_description(no_nul.view()).has_value());
}

TEST(PgBackendParse, DataRow) {
  Body body;
  body.i16(3).i32(1).raw("1").i32(-1).i32(5).raw("a@b.c");
  auto ok = parse_data_row(body.view());
  ASSERT_TRUE(ok.has_value());
  ASSERT_EQ(ok->columns.size(), 3u);
  EXPECT_EQ(to_string(*ok->columns[0]), "1");
  EXPECT_FALSE(ok->columns[1].has_value());
  EXPECT_EQ(to_string(*ok->columns[2]), "a@b.c");
  auto n = data_row_column_count(body.view());
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 3);
  EXPECT_FALSE(data_row_column_count(Body().u8(0).view()).has_value());

  DataRow reuse;
  ASSERT_TRUE(parse_data_row_into(body.view(), &reuse).has_value());
  ASSERT_TRUE(parse_data_row_into(Body().i16(1).i32(2).raw("ok").view(), &reuse).has_value());
  ASSERT_EQ(reuse.columns.size(), 1u);
  EXPECT_EQ(to_string(*reuse.columns[0]), "ok");

  EXPECT_FALSE(parse_data_row(Body().i16(2).i32(1).raw("1").view()).has_value());
  EXPECT_FALSE(parse_data_row(Body().i16(1).i32(-7).view()).has_value());
  EXPECT_FALSE(parse_data_row(Body().i16(1).i32(10).raw("short").view()).has_value());
  EXPECT_FALSE(parse_data_row(Body().i16(1).i32(1).raw("12").view()).has_value());
  EXPECT_FALSE(parse_data_row(Body().i16(-1).view()).has_value());
  EXPECT_FALSE(parse_data_row(Body().i32(0x7fffffff).view()).has_value());
}

TEST(PgBackendParse, CommandCompleteAndRows) {
  auto ok = parse_command_complete(Body().str("INSERT 0 3").view());
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->tag, "INSERT 0 3");
  EXPECT_FALSE(parse_command_complete(Body().raw("SELECT 1").view()).has_value());

  EXPECT_EQ(rows_from_tag("SELECT 5"), 5u);
  EXPECT_EQ(rows_from_tag("INSERT 0 3"), 3u);
  EXPECT_EQ(rows_from_tag("UPDATE 2"), 2u);
  EXPECT_EQ(rows_from_tag("DELETE 0"), 0u);
  EXPECT_EQ(rows_from_tag("COPY 10"), 10u);
  EXPECT_EQ(rows_from_tag("MERGE 1"), 1u);
  EXPECT_EQ(rows_from_tag("FETCH 4"), 4u);
  EXPECT_EQ(rows_from_tag("MOVE 1"), 1u);
  EXPECT_EQ(rows_from_tag("SELECT 18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(rows_from_tag("SELECT 18446744073709551616"), std::nullopt);
  EXPECT_EQ(rows_from_tag("CREATE TABLE"), std::nullopt);
  EXPECT_EQ(rows_from_tag("BEGIN"), std::nullopt);
  EXPECT_EQ(rows_from_tag("INSERT 3"), std::nullopt);
  EXPECT_EQ(rows_from_tag("SELECT"), std::nullopt);
  EXPECT_EQ(rows_from_tag("SELECT x"), std::nullopt);
  EXPECT_EQ(rows_from_tag("SELECT -1"), std::nullopt);
  EXPECT_EQ(rows_from_tag(""), std::nullopt);
}

TEST(PgBackendParse, ErrorNotice) {
  auto ok = parse_error_notice(Body()
                                   .u8('S')
                                   .str("ERREUR")
                                   .u8('V')
                                   .str("ERROR")
                                   .u8('C')
                                   .str("42P01")
                                   .u8('M')
                                   .str("relation \"x\" does not exist")
                                   .u8(0)
                                   .view());
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->fields.size(), 4u);
  EXPECT_EQ(ok->severity(), "ERROR");
  EXPECT_EQ(ok->sqlstate(), "42P01");
  EXPECT_EQ(ok->message(), "relation \"x\" does not exist");
  EXPECT_EQ(ok->field('H'), "");
  auto legacy = parse_error_notice(Body().u8('S').str("FATAL").u8(0).view());
  ASSERT_TRUE(legacy.has_value());
  EXPECT_EQ(legacy->severity(), "FATAL");

  EXPECT_FALSE(parse_error_notice(Body().u8('S').str("ERROR").view()).has_value());
  EXPECT_FALSE(parse_error_notice(Body().u8('S').raw("ERROR").view()).has_value());
  EXPECT_FALSE(parse_error_notice(Body().u8(0).u8(0).view()).has_value());
  EXPECT_FALSE(parse_error_notice(Body().view()).has_value());
}

TEST(PgBackendParse, CopyResponses) {
  auto ok = parse_copy_response(Body().u8(1).i16(2).i16(1).i16(1).view());
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->overall_format, 1);
  EXPECT_EQ(ok->column_formats, (std::vector<int16_t>{1, 1}));
  EXPECT_FALSE(parse_copy_response(Body().u8(0).i16(3).i16(0).view()).has_value());
  EXPECT_FALSE(parse_copy_response(Body().u8(2).i16(0).view()).has_value());
  EXPECT_FALSE(parse_copy_response(Body().u8(0).i16(1).i16(9).view()).has_value());
  EXPECT_FALSE(parse_copy_response(Body().u8(0).i16(0).u8(0).view()).has_value());
}

TEST(PgBackendParse, NotificationNegotiateParamDescFunctionResult) {
  auto n = parse_notification_response(Body().i32(9).str("jobs").str("{\"id\":1}").view());
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->pid, 9u);
  EXPECT_EQ(n->channel, "jobs");
  EXPECT_EQ(n->payload, "{\"id\":1}");
  EXPECT_FALSE(parse_notification_response(Body().i32(9).str("jobs").view()).has_value());

  auto v = parse_negotiate_protocol_version(Body().i32(0).i32(1).str("_pq_.x").view());
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->newest_minor, 0u);
  EXPECT_EQ(v->unrecognized_options, (std::vector<std::string_view>{"_pq_.x"}));
  EXPECT_FALSE(parse_negotiate_protocol_version(Body().i32(0).i32(-1).view()).has_value());
  EXPECT_FALSE(parse_negotiate_protocol_version(Body().i32(0).i32(2).str("a").view()).has_value());

  auto t = parse_parameter_description(Body().i16(2).i32(23).i32(25).view());
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->type_oids, (std::vector<uint32_t>{23, 25}));
  EXPECT_FALSE(parse_parameter_description(Body().i16(2).i32(23).view()).has_value());
  EXPECT_FALSE(parse_parameter_description(Body().i16(1).i32(23).u8(0).view()).has_value());

  auto f = parse_function_call_response(Body().i32(2).raw("hi").view());
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(to_string(*f->result), "hi");
  auto null = parse_function_call_response(Body().i32(-1).view());
  ASSERT_TRUE(null.has_value());
  EXPECT_FALSE(null->result.has_value());
  EXPECT_FALSE(parse_function_call_response(Body().i32(-2).view()).has_value());
  EXPECT_FALSE(parse_function_call_response(Body().i32(3).raw("hi").view()).has_value());
}

// ---------------------------------------------------------------------------------------------
// Encoders round-trip through the framer and the parsers
// ---------------------------------------------------------------------------------------------

TEST(PgEncode, ErrorAndNotice) {
  Bytes wire;
  encode_error(wire, "FATAL", "28P01", "authentication failed", "check the key", "expired");
  Frame f = single_frame(wire, Direction::kBackend);
  EXPECT_EQ(f.type, 'E');
  auto e = parse_error_notice(f.payload);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->field('S'), "FATAL");
  EXPECT_EQ(e->severity(), "FATAL");
  EXPECT_EQ(e->sqlstate(), "28P01");
  EXPECT_EQ(e->message(), "authentication failed");
  EXPECT_EQ(e->field('H'), "check the key");
  EXPECT_EQ(e->field('D'), "expired");
  std::string order;
  for (const NoticeField& nf : e->fields) {
    order.push_back(nf.code);
  }
  EXPECT_EQ(order, "SVCMDH");

  Bytes notice;
  encode_notice(notice, "WARNING", "01000", "held for approval");
  Frame g = single_frame(notice, Direction::kBackend);
  EXPECT_EQ(g.type, 'N');
  auto n = parse_error_notice(g.payload);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->fields.size(), 4u);  // no D, no H when empty
  EXPECT_EQ(n->message(), "held for approval");
}

TEST(PgEncode, EmbeddedNulIsTruncatedNotFramingBreaking) {
  Bytes wire;
  encode_error(wire, "ERROR", "42000", "bad\0tail"sv);
  auto e = parse_error_notice(single_frame(wire, Direction::kBackend).payload);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->message(), "bad");
}

TEST(PgEncode, AuthenticationFamily) {
  Bytes wire;
  encode_auth_ok(wire);
  auto ok = parse_authentication(single_frame(wire, Direction::kBackend).payload);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->code, kAuthOk);

  wire.clear();
  encode_auth_cleartext(wire);
  EXPECT_EQ(parse_authentication(single_frame(wire, Direction::kBackend).payload)->code,
            kAuthCleartext);

  wire.clear();
  const uint8_t salt[4] = {1, 2, 3, 0xff};
  encode_auth_md5(wire, salt);
  auto md5 = parse_authentication(single_frame(wire, Direction::kBackend).payload);
  ASSERT_TRUE(md5.has_value());
  EXPECT_EQ(md5->code, kAuthMd5);
  EXPECT_EQ(Bytes(md5->data.begin(), md5->data.end()), Bytes(std::begin(salt), std::end(salt)));

  wire.clear();
  std::vector<std::string_view> mechs = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"};
  encode_auth_sasl(wire, mechs);
  auto sasl = parse_authentication(single_frame(wire, Direction::kBackend).payload);
  ASSERT_TRUE(sasl.has_value());
  EXPECT_EQ(sasl->mechanisms, mechs);

  wire.clear();
  encode_auth_sasl_continue(wire, core::as_bytes("r=nonce,s=salt,i=4096"));
  auto cont = parse_authentication(single_frame(wire, Direction::kBackend).payload);
  ASSERT_TRUE(cont.has_value());
  EXPECT_EQ(cont->code, kAuthSaslContinue);
  EXPECT_EQ(to_string(cont->data), "r=nonce,s=salt,i=4096");

  wire.clear();
  encode_auth_sasl_final(wire, core::as_bytes("v=sig"));
  auto fin = parse_authentication(single_frame(wire, Direction::kBackend).payload);
  ASSERT_TRUE(fin.has_value());
  EXPECT_EQ(fin->code, kAuthSaslFinal);
  EXPECT_EQ(to_string(fin->data), "v=sig");
}

TEST(PgEncode, SessionStartMessages) {
  Bytes wire;
  encode_parameter_status(wire, "client_encoding", "UTF8");
  auto ps = parse_parameter_status(single_frame(wire, Direction::kBackend).payload);
  ASSERT_TRUE(ps.has_value());
  EXPECT_EQ(ps->name, "client_encoding");
  EXPECT_EQ(ps->value, "UTF8");

  wire.clear();
  encode_backend_key_data(wire, 1234, 0xcafef00d);
  auto k = parse_backend_key_data(single_frame(wire, Direction::kBackend).payload);
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->pid, 1234u);
  EXPECT_EQ(k->secret, 0xcafef00du);

  wire.clear();
  encode_ready_for_query(wire, 'T');
  auto z = parse_ready_for_query(single_frame(wire, Direction::kBackend).payload);
  ASSERT_TRUE(z.has_value());
  EXPECT_EQ(z->status, 'T');

  wire.clear();
  std::vector<std::string_view> opts = {"_pq_.compression"};
  encode_negotiate_protocol_version(wire, 0, opts);
  auto v = parse_negotiate_protocol_version(single_frame(wire, Direction::kBackend).payload);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->unrecognized_options, opts);

  wire.clear();
  encode_empty_query_response(wire);
  Frame i = single_frame(wire, Direction::kBackend);
  EXPECT_EQ(i.type, 'I');
  EXPECT_TRUE(parse_empty(i.payload).has_value());
}

TEST(PgEncode, ResultMessages) {
  Bytes wire;
  std::vector<FieldDescription> fields = {
      {"id", 16384, 1, 23, 4, -1, 0},
      {"email", 16384, 2, 25, -1, -1, 1},
  };
  encode_row_description(wire, fields);
  auto t = parse_row_description(single_frame(wire, Direction::kBackend).payload);
  ASSERT_TRUE(t.has_value());
  ASSERT_EQ(t->fields.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(t->fields[i].name, fields[i].name);
    EXPECT_EQ(t->fields[i].table_oid, fields[i].table_oid);
    EXPECT_EQ(t->fields[i].column_attr, fields[i].column_attr);
    EXPECT_EQ(t->fields[i].type_oid, fields[i].type_oid);
    EXPECT_EQ(t->fields[i].type_size, fields[i].type_size);
    EXPECT_EQ(t->fields[i].type_modifier, fields[i].type_modifier);
    EXPECT_EQ(t->fields[i].format, fields[i].format);
  }

  wire.clear();
  std::vector<std::optional<ByteView>> cols = {core::as_bytes("42"), std::nullopt,
                                               core::as_bytes("")};
  encode_data_row(wire, cols);
  auto d = parse_data_row(single_frame(wire, Direction::kBackend).payload);
  ASSERT_TRUE(d.has_value());
  ASSERT_EQ(d->columns.size(), 3u);
  EXPECT_EQ(to_string(*d->columns[0]), "42");
  EXPECT_FALSE(d->columns[1].has_value());
  ASSERT_TRUE(d->columns[2].has_value());
  EXPECT_TRUE(d->columns[2]->empty());

  wire.clear();
  encode_command_complete(wire, "SELECT 3");
  auto c = parse_command_complete(single_frame(wire, Direction::kBackend).payload);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->tag, "SELECT 3");
  EXPECT_EQ(rows_from_tag(c->tag), 3u);
}

TEST(PgEncode, FrontendMessages) {
  Bytes wire;
  encode_query(wire, "SELECT now()");
  Frame q = single_frame(wire, Direction::kFrontend);
  EXPECT_EQ(q.type, 'Q');
  EXPECT_EQ(parse_query(q.payload)->sql, "SELECT now()");

  wire.clear();
  encode_password(wire, "hunter2");
  Frame p = single_frame(wire, Direction::kFrontend);
  EXPECT_EQ(p.type, 'p');
  EXPECT_EQ(to_string(parse_password_message(p.payload)->data), "hunter2");

  wire.clear();
  encode_sasl_initial(wire, "SCRAM-SHA-256", core::as_bytes("n,,n=,r=abc"));
  auto init = parse_sasl_initial_response(single_frame(wire, Direction::kFrontend).payload);
  ASSERT_TRUE(init.has_value());
  EXPECT_EQ(init->mechanism, "SCRAM-SHA-256");
  EXPECT_EQ(to_string(*init->initial), "n,,n=,r=abc");

  wire.clear();
  encode_sasl_initial(wire, "SCRAM-SHA-256", std::nullopt);
  auto none = parse_sasl_initial_response(single_frame(wire, Direction::kFrontend).payload);
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->initial.has_value());

  wire.clear();
  encode_sasl_response(wire, core::as_bytes("c=biws,r=abc,p=proof"));
  auto resp = parse_sasl_response(single_frame(wire, Direction::kFrontend).payload);
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(to_string(resp->data), "c=biws,r=abc,p=proof");

  wire.clear();
  encode_sync(wire);
  EXPECT_EQ(single_frame(wire, Direction::kFrontend).type, 'S');
  wire.clear();
  encode_terminate(wire);
  Frame x = single_frame(wire, Direction::kFrontend);
  EXPECT_EQ(x.type, 'X');
  EXPECT_TRUE(parse_empty(x.payload).has_value());
}

TEST(PgEncode, StartupSslAndCancel) {
  Bytes wire;
  encode_startup(wire, {{"user", "app_rw"}, {"database", "orders"}, {"", "skipped"}});
  size_t consumed = 0;
  auto s = decode_startup(wire, kDefaultMaxStartupLength, &consumed);
  ASSERT_TRUE(s.has_value() && s->has_value());
  EXPECT_EQ(consumed, wire.size());
  EXPECT_EQ((*s)->kind, StartupKind::kStartup);
  EXPECT_EQ((*s)->protocol, kProtocol30);
  ASSERT_EQ((*s)->params.size(), 2u);
  EXPECT_EQ(*(*s)->param("database"), "orders");

  wire.clear();
  encode_ssl_request(wire);
  auto ssl = decode_startup(wire, kDefaultMaxStartupLength, &consumed);
  ASSERT_TRUE(ssl.has_value() && ssl->has_value());
  EXPECT_EQ((*ssl)->kind, StartupKind::kSslRequest);

  wire.clear();
  encode_cancel_request(wire, 31337, 0x01020304);
  auto c = decode_startup(wire, kDefaultMaxStartupLength, &consumed);
  ASSERT_TRUE(c.has_value() && c->has_value());
  EXPECT_EQ((*c)->kind, StartupKind::kCancel);
  EXPECT_EQ((*c)->cancel_pid, 31337u);
  EXPECT_EQ((*c)->cancel_secret, 0x01020304u);
}

}  // namespace
}  // namespace custos::postgres
