#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "core/base64.h"
#include "core/bytes.h"
#include "core/secret.h"
#include "protocol/postgres/md5_password.h"
#include "protocol/postgres/scram_client.h"

namespace custos::postgres {
namespace {

using core::SecretString;
using namespace std::string_literals;

// RFC 7677 section 3.
constexpr std::string_view kRfcNonce = "rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kRfcServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view kRfcClientFinal =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr std::string_view kRfcServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

constexpr std::string_view kPassword = "pencil";

ScramClient rfc_client(std::string user = "user") {
  return ScramClient(SecretString(std::string(kPassword)), std::string(kRfcNonce), std::move(user));
}

TEST(ScramClient, Rfc7677TestVector) {
  ScramClient client = rfc_client();
  EXPECT_EQ(client.client_first_message(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  auto final_message = client.handle_server_first(kRfcServerFirst);
  ASSERT_TRUE(final_message.has_value()) << final_message.error().message;
  EXPECT_EQ(*final_message, kRfcClientFinal);
  EXPECT_FALSE(client.server_verified());
  auto verified = client.verify_server_final(kRfcServerFinal);
  EXPECT_TRUE(verified.has_value()) << verified.error().message;
  EXPECT_TRUE(client.server_verified());
}

// With the empty user PostgreSQL expects, the AuthMessage covers "n=,r=..." and so the proof
// differs from the RFC one. Expected values computed independently with Python:
//   sp = hashlib.pbkdf2_hmac('sha256', pw, base64.b64decode(salt), 4096)
//   ck = hmac.new(sp, b'Client Key', 'sha256').digest(); sk = hashlib.sha256(ck).digest()
//   am = b'n=,r=' + nonce + b',' + server_first + b',c=biws,r=' + server_nonce
//   proof = xor(ck, hmac.new(sk, am, 'sha256').digest())
// Here with the UTF-8 password "pässwörd", used as raw bytes (no SASLprep, see scram_client.cc).
TEST(ScramClient, EmptyUserAndNonAsciiPasswordUseRawBytes) {
  ScramClient client(SecretString("p\xc3\xa4ssw\xc3\xb6rd"), std::string(kRfcNonce));
  EXPECT_EQ(client.client_first_message(), "n,,n=,r=rOprNGfwEbeRWgbNEkqO");
  auto final_message = client.handle_server_first(kRfcServerFirst);
  ASSERT_TRUE(final_message.has_value()) << final_message.error().message;
  EXPECT_EQ(*final_message,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
            "p=p45sT3IzJIZAhH3e3k7+nQUG8s3REE6aihsNfY6YJLo=");
  EXPECT_TRUE(
      client.verify_server_final("v=7bwUnxUP/0Wubee9uoSnLD0AtGIEil5oazFs1iPboJc=").has_value());
}

TEST(ScramClient, RandomNonceIs18BytesBase64AndUnique) {
  ScramClient a(SecretString("x"));
  ScramClient b(SecretString("x"));
  const std::string first_a = a.client_first_message();
  const std::string first_b = b.client_first_message();
  ASSERT_TRUE(first_a.starts_with("n,,n=,r="));
  const std::string nonce = first_a.substr(8);
  EXPECT_EQ(nonce.size(), 24u);
  auto raw = core::base64_decode(nonce);
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(raw->size(), 18u);
  EXPECT_EQ(nonce.find(','), std::string::npos);
  EXPECT_NE(first_a, first_b);
}

TEST(ScramClient, UserNameIsEscaped) {
  ScramClient client = rfc_client("a,b=c");
  EXPECT_EQ(client.client_first_message(), "n,,n=a=2Cb=3Dc,r=rOprNGfwEbeRWgbNEkqO");
}

TEST(ScramClient, WrongServerSignatureRejected) {
  // One of them is the (incorrect) value that circulated for this vector; the other is a
  // well-formed 32-byte signature of zeros.
  for (std::string_view bad : {"v=6rriTRBi23WpRR/wanUfFUCMhTnqbbJrp8ndZKHMfTs=",
                               "v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}) {
    ScramClient client = rfc_client();
    ASSERT_TRUE(client.handle_server_first(kRfcServerFirst).has_value());
    auto r = client.verify_server_final(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kAuth);
    EXPECT_FALSE(client.server_verified());
    // A failed exchange stays failed: the right answer afterwards does not rescue it.
    EXPECT_FALSE(client.verify_server_final(kRfcServerFinal).has_value());
  }
}

TEST(ScramClient, MalformedServerFinalRejected) {
  for (std::string_view bad : {"", "v=", "v=not base64!", "v=AAAA", "x=abc",
                               "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,"}) {
    ScramClient client = rfc_client();
    ASSERT_TRUE(client.handle_server_first(kRfcServerFirst).has_value());
    auto r = client.verify_server_final(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kProtocol) << bad;
  }
}

TEST(ScramClient, ServerErrorIsReportedWithItsText) {
  ScramClient client = rfc_client();
  ASSERT_TRUE(client.handle_server_first(kRfcServerFirst).has_value());
  auto r = client.verify_server_final("e=invalid-proof");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kAuth);
  EXPECT_NE(r.error().message.find("invalid-proof"), std::string::npos);
  EXPECT_FALSE(client.server_verified());
}

TEST(ScramClient, ServerErrorTextIsSanitised) {
  ScramClient client = rfc_client();
  ASSERT_TRUE(client.handle_server_first(kRfcServerFirst).has_value());
  auto r = client.verify_server_final(std::string("e=bad\n\x01") + std::string(1000, 'x'));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  EXPECT_LT(r.error().message.size(), 300u);
}

TEST(ScramClient, ServerNonceMustExtendClientNonce) {
  for (std::string_view bad : {
           // different prefix
           "r=XOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
           // server nonce equal to the client nonce (no server part)
           "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
           // shorter than the client nonce
           "r=rOprNGfw,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
       }) {
    ScramClient client = rfc_client();
    auto r = client.handle_server_first(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kAuth) << bad;
  }
}

TEST(ScramClient, MalformedServerFirstRejected) {
  const std::string n = "r=rOprNGfwEbeRWgbNEkqOsrv";
  const std::vector<std::string> cases = {
      "",
      ",",
      "garbage",
      n,                                                            // missing s and i
      n + ",i=4096",                                                // missing s
      n + ",s=W22ZaJ0SNY7soEsUEjb6gQ==",                            // missing i
      n + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=",                         // empty i
      n + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",                        // i < 1
      n + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=abc",                      // not a number
      n + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1",                       // negative
      n + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=+4096",                    // sign
      n + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=04096",                    // leading zero
      n + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=10000001",                 // absurdly large
      n + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999999999999999",  // overflow
      n + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096x",
      n + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,",  // trailing comma
      n + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,garbage",
      n + ",s=W22ZaJ0SNY7so!EsUEjb6gQ==,i=4096",                          // bad base64 character
      n + ",s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096",                            // bad base64 length
      n + ",s=,i=4096",                                                   // empty salt
      n + ",s=" + core::base64_encode(core::Bytes(1025, 7)) + ",i=4096",  // absurd salt
      n + ",i=4096,s=W22ZaJ0SNY7soEsUEjb6gQ==",                           // wrong order
      "s=W22ZaJ0SNY7soEsUEjb6gQ==," + n + ",i=4096",
      "m=ext," + n + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",                // mandatory extension
      "r=rOprNGfwEbeRWgbNEkqO\x01srv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",  // unprintable nonce
      "r=rOprNGfwEbeRWgbNEkqOsrv\0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"s,   // embedded NUL
  };
  for (const std::string& bad : cases) {
    ScramClient client = rfc_client();
    auto r = client.handle_server_first(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kProtocol) << bad;
    EXPECT_EQ(r.error().message.find(kPassword), std::string::npos);
    // A client whose exchange failed does not go on to accept a server-final.
    EXPECT_FALSE(client.verify_server_final(kRfcServerFinal).has_value());
  }
}

TEST(ScramClient, OptionalExtensionsAfterIterationCountAreAccepted) {
  ScramClient client = rfc_client();
  auto r = client.handle_server_first(std::string(kRfcServerFirst) + ",x=ext");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  // The extension is part of the AuthMessage, so the RFC server signature no longer matches.
  EXPECT_FALSE(client.verify_server_final(kRfcServerFinal).has_value());
}

TEST(ScramClient, OutOfOrderCallsRejected) {
  {
    ScramClient client = rfc_client();
    auto r = client.verify_server_final(kRfcServerFinal);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kProtocol);
  }
  {
    ScramClient client = rfc_client();
    ASSERT_TRUE(client.handle_server_first(kRfcServerFirst).has_value());
    auto again = client.handle_server_first(kRfcServerFirst);
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().code, ErrorCode::kProtocol);
  }
  {
    ScramClient client = rfc_client();
    ASSERT_TRUE(client.handle_server_first(kRfcServerFirst).has_value());
    ASSERT_TRUE(client.verify_server_final(kRfcServerFinal).has_value());
    EXPECT_FALSE(client.verify_server_final(kRfcServerFinal).has_value());
  }
}

TEST(ScramClient, InvalidCallerNonceFailsCleanly) {
  ScramClient client(SecretString("pencil"), "bad,nonce");
  auto r = client.handle_server_first("r=bad,noncesrv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
}

TEST(MechanismList, ParsesNulTerminatedNames) {
  const std::string list = "SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0"s;
  auto v = core::as_bytes(list);
  EXPECT_TRUE(mechanisms_include(v, "SCRAM-SHA-256"));
  EXPECT_TRUE(mechanisms_include(v, "SCRAM-SHA-256-PLUS"));
  EXPECT_FALSE(mechanisms_include(v, "SCRAM-SHA"));
  EXPECT_FALSE(mechanisms_include(v, "SCRAM-SHA-256-PLUSX"));
  EXPECT_FALSE(mechanisms_include(v, ""));

  const std::string only_plus = "SCRAM-SHA-256-PLUS\0\0"s;
  EXPECT_FALSE(mechanisms_include(core::as_bytes(only_plus), kScramSha256));
}

TEST(MechanismList, MalformedListsNeverMatch) {
  EXPECT_FALSE(mechanisms_include({}, kScramSha256));
  // Unterminated name: bounded by the view, not by a NUL that is not there.
  const std::string unterminated = "SCRAM-SHA-256";
  EXPECT_FALSE(mechanisms_include(core::as_bytes(unterminated), kScramSha256));
  // Names after the empty terminator are not part of the list.
  const std::string after_end = "\0SCRAM-SHA-256\0\0"s;
  EXPECT_FALSE(mechanisms_include(core::as_bytes(after_end), kScramSha256));
  // Missing final empty name is tolerated for names that are themselves complete.
  const std::string no_final = "SCRAM-SHA-256\0"s;
  EXPECT_TRUE(mechanisms_include(core::as_bytes(no_final), kScramSha256));
}

TEST(Md5Password, KnownAnswer) {
  // python3 -c "import hashlib; i=hashlib.md5(b'secret'+b'postgres').hexdigest();
  //   print('md5'+hashlib.md5(i.encode()+bytes([1,2,3,4])).hexdigest())"
  // -> md5bb41a296aab6baccb36ff243a562abff
  const std::array<uint8_t, 4> salt = {1, 2, 3, 4};
  EXPECT_EQ(md5_password_response("postgres", SecretString("secret"), salt),
            "md5bb41a296aab6baccb36ff243a562abff");
  const std::array<uint8_t, 4> other_salt = {1, 2, 3, 5};
  EXPECT_NE(md5_password_response("postgres", SecretString("secret"), other_salt),
            "md5bb41a296aab6baccb36ff243a562abff");
}

TEST(Base64, Rfc4648Vectors) {
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(core::base64_encode(core::as_bytes(plain)), encoded);
    auto decoded = core::base64_decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(core::as_chars(*decoded), plain);
  }
  EXPECT_EQ(core::base64_encode(std::array<uint8_t, 3>{0xfb, 0xff, 0xbf}), "+/+/");
}

TEST(Base64, RoundTripsAllLengthsAndByteValues) {
  for (size_t len = 0; len < 70; ++len) {
    core::Bytes data(len);
    for (size_t i = 0; i < len; ++i) {
      data[i] = uint8_t(i * 37 + len * 11 + 255);
    }
    std::string text = core::base64_encode(data);
    EXPECT_EQ(text.size() % 4, 0u);
    auto back = core::base64_decode(text);
    ASSERT_TRUE(back.has_value()) << text;
    EXPECT_EQ(*back, data);
  }
  core::Bytes all(256);
  for (size_t i = 0; i < 256; ++i) {
    all[i] = uint8_t(i);
  }
  auto back = core::base64_decode(core::base64_encode(all));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, all);
}

TEST(Base64, InvalidInputsRejected) {
  for (std::string_view bad : {
           "Z", "Zg", "Zg=", "Zm9vY",                   // length not a multiple of 4
           "Zg=a", "Z===", "====", "=Zg=", "Zg==Zg==",  // misplaced padding
           "Zh==", "Zm9=",                              // non-canonical: unused bits set
           "Zm9v\n", "Zm 9v", "Zm$v",                   // characters outside the alphabet
           "Zm-_",                                      // URL-safe alphabet
       }) {
    EXPECT_FALSE(core::base64_decode(bad).has_value()) << bad;
  }
  EXPECT_FALSE(core::base64_decode(std::string_view("Zm9\0", 4)).has_value());
  EXPECT_FALSE(core::base64_decode("Zm9\xff").has_value());
}

}  // namespace
}  // namespace custos::postgres
