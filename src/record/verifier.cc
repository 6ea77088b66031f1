#include "record/verifier.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>

#include "core/hex.h"
#include "record/recording_paths.h"

namespace custos::record {
namespace {

constexpr std::string_view kHashKey = ",\"hash\":\"";
constexpr size_t kSuffixLen = kHashKey.size() + 64 + 2;  // ,"hash":"<64 hex>"}
const std::string kZeroHash(64, '0');

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

// Splits the line into its hashed body (with the closing brace restored) and its stored hash.
bool split_line(std::string_view line, std::string& body, std::string_view& hash) {
  if (line.size() < kSuffixLen + 2 || line.substr(line.size() - 2) != "\"}") {
    return false;
  }
  size_t at = line.size() - kSuffixLen;
  if (line.substr(at, kHashKey.size()) != kHashKey) {
    return false;
  }
  hash = line.substr(at + kHashKey.size(), 64);
  if (!is_lower_hex(hash)) {
    return false;
  }
  body.assign(line.substr(0, at));
  body.push_back('}');
  return true;
}

}  // namespace

VerifyReport verify_recording(const std::string& path) {
  VerifyReport rep;
  rep.path = path;
  rep.session_id = std::filesystem::path(path).stem().string();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    rep.message = "cannot open " + path;
    return rep;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    rep.message = "cannot read " + path;
    return rep;
  }
  const std::string data = ss.str();

  auto broken = [&](uint64_t seq, const std::string& why) {
    rep.ok = false;
    rep.first_broken_seq = seq;
    rep.message = "seq " + std::to_string(seq) + ": " + why + " (" + std::to_string(rep.events) +
                  " events verified before it)";
    return rep;
  };

  std::string prev = kZeroHash;
  std::string session;
  std::string last_type;
  std::string body;
  size_t pos = 0;
  uint64_t seq = 0;
  while (pos < data.size()) {
    ++seq;
    size_t nl = data.find('\n', pos);
    bool terminated = nl != std::string::npos;
    std::string_view line(data.data() + pos, (terminated ? nl : data.size()) - pos);
    pos = terminated ? nl + 1 : data.size();
    bool last = pos >= data.size();

    if (!terminated) {
      rep.torn_tail = true;
      break;
    }
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      if (last) {
        rep.torn_tail = true;
        break;
      }
      return broken(seq, "line is not a JSON object");
    }
    if (last_type == "session_end") {
      return broken(seq, "event after session_end");
    }
    std::string_view hash;
    if (!split_line(line, body, hash)) {
      return broken(seq, "line does not end with its hash");
    }
    if (core::sha256_hex(body) != hash) {
      return broken(seq, "hash mismatch (line altered)");
    }
    auto jseq = j.find("seq");
    if (jseq == j.end() || !jseq->is_number_unsigned() || jseq->get<uint64_t>() != seq) {
      return broken(seq, "sequence gap or reorder (expected seq " + std::to_string(seq) + ")");
    }
    auto jprev = j.find("prev");
    if (jprev == j.end() || !jprev->is_string() || jprev->get<std::string>() != prev) {
      return broken(seq,
                    "prev does not match the previous line's hash (line removed or "
                    "reordered)");
    }
    auto jsession = j.find("session");
    auto jtype = j.find("type");
    if (jsession == j.end() || !jsession->is_string() || jtype == j.end() || !jtype->is_string()) {
      return broken(seq, "missing session or type");
    }
    if (seq == 1) {
      session = jsession->get<std::string>();
      rep.session_id = session;
    } else if (jsession->get<std::string>() != session) {
      return broken(seq, "event of another session");
    }
    auto jhash = j.find("hash");
    if (jhash == j.end() || !jhash->is_string() || jhash->get<std::string>() != hash) {
      return broken(seq, "hash field mismatch");
    }
    prev.assign(hash);
    last_type = jtype->get<std::string>();
    ++rep.events;
  }
  rep.ok = true;
  rep.complete = last_type == "session_end";
  rep.message = std::to_string(rep.events) + " events verified";
  if (rep.torn_tail) {
    rep.message += "; torn final line after seq " + std::to_string(rep.events) +
                   " (incomplete write, not tampering)";
  }
  if (!rep.complete) {
    rep.message += "; no session_end (session active, or ended by a crash)";
  }
  return rep;
}

std::vector<VerifyReport> verify_all(const std::string& data_dir) {
  std::vector<VerifyReport> out;
  for (const auto& path : list_recordings(data_dir)) {
    out.push_back(verify_recording(path));
  }
  return out;
}

}  // namespace custos::record
