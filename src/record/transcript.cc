#include "record/transcript.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "record/timestamp.h"

namespace custos::record {
namespace {

using nlohmann::json;

// Recorded strings come from untrusted callers: control characters (C0, DEL, C1) are shown as
// escapes so a statement cannot drive the reader's terminal. Newlines and tabs stay.
std::string printable(const std::string& s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(s[i + 1]) <= 0x9f) {
      auto c1 = static_cast<unsigned char>(s[++i]);
      out += "\\u00";
      out += kHex[c1 >> 4];
      out += kHex[c1 & 0xf];
    } else {
      out.push_back(char(c));
    }
  }
  return out;
}

std::string str_field(const json& j, const char* key, const std::string& dflt = "") {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) {
    return dflt;
  }
  return printable(it->get<std::string>());
}

int64_t int_field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) {
    return 0;
  }
  return it->get<int64_t>();
}

std::string seconds_text(int64_t us) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%lld.%03lld", us < 0 ? "-" : "",
                static_cast<long long>((us < 0 ? -us : us) / 1000000),
                static_cast<long long>(((us < 0 ? -us : us) % 1000000) / 1000));
  return buf;
}

std::string ms_text(int64_t us) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3f ms", static_cast<double>(us) / 1000.0);
  return buf;
}

// Indents continuation lines of multi-line statement text.
std::string indent_text(const std::string& text, size_t width) {
  std::string out;
  std::string pad(width, ' ');
  for (char c : text) {
    out.push_back(c);
    if (c == '\n') {
      out.append(pad);
    }
  }
  return out;
}

}  // namespace

std::string render_transcript(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return "cannot open recording " + path + "\n";
  }
  std::string out;
  std::optional<int64_t> t0;
  std::string line;
  uint64_t n = 0;
  bool header_done = false;
  while (std::getline(in, line)) {
    ++n;
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      out += "[unreadable line " + std::to_string(n) + "]\n";
      continue;
    }
    std::string type = str_field(j, "type");
    std::string ts = str_field(j, "ts");
    auto t = parse_timestamp_us(ts);
    if (t && !t0) {
      t0 = t;
    }
    std::string offset = "+" + (t && t0 ? seconds_text(*t - *t0) : std::string("?")) + "s";
    if (offset.size() < 10) {
      offset.resize(10, ' ');
    }
    if (type == "session_start") {
      std::string key_id = str_field(j, "key_id");
      out += "Session     " + str_field(j, "session") + "\n";
      out += "Identity    " + str_field(j, "identity") + "\n";
      out += "Auth        " + str_field(j, "auth_method") +
             (key_id.empty() ? "" : " (key " + key_id + ")") + "\n";
      out += "Client      " + str_field(j, "client_addr") + "\n";
      out += "Connection  " + str_field(j, "connection") + "\n";
      out += "Target      " + str_field(j, "target") + "\n";
      out += "TLS         " + str_field(j, "tls_version") + "\n";
      out += "Protocol    " + str_field(j, "protocol") + "\n";
      out += "Started     " + ts + "\n\n";
      header_done = true;
    } else if (type == "statement") {
      if (!header_done) {
        out += "Session     " + str_field(j, "session") + "\n\n";
        header_done = true;
      }
      std::string mode = str_field(j, "mode");
      std::string prepared = str_field(j, "prepared");
      std::string label = "[" + mode + (prepared.empty() ? "" : " " + prepared) + "] ";
      out +=
          offset + label + indent_text(str_field(j, "text"), offset.size() + label.size()) + "\n";
      if (auto d = j.find("decision"); d != j.end()) {
        out += std::string(offset.size(), ' ') + "decision: " + printable(d->dump()) + "\n";
      }
    } else if (type == "statement_result") {
      std::string pad(offset.size(), ' ');
      std::string sqlstate = str_field(j, "sqlstate");
      std::string message = str_field(j, "message");
      int64_t dur = int_field(j, "duration_us");
      if (!sqlstate.empty() || !message.empty()) {
        out += pad + "-> ERROR " + sqlstate + " " + message + " (" + ms_text(dur) + ")\n";
      } else {
        int64_t rows = int_field(j, "rows");
        out += pad + "-> " + str_field(j, "tag") + " (" + std::to_string(rows) +
               (rows == 1 ? " row, " : " rows, ") + ms_text(dur) + ")\n";
      }
      if (auto m = j.find("masked"); m != j.end() && m->is_object()) {
        std::string detail;
        if (auto d = m->find("by_detector"); d != m->end() && d->is_object()) {
          for (auto it = d->begin(); it != d->end(); ++it) {
            detail += (detail.empty() ? "" : ", ") + printable(it.key()) + " " +
                      (it->is_number() ? std::to_string(it->get<int64_t>()) : "?");
          }
        }
        int64_t total = m->value("total", int64_t(0));
        out += pad + "   masked " + std::to_string(total) + " value" + (total == 1 ? "" : "s") +
               (detail.empty() ? "" : " (" + detail + ")") + "\n";
      }
    } else if (type == "auth_failed") {
      if (!header_done) {
        out += "Session     " + str_field(j, "session") + "\n";
        out += "Started     " + ts + "\n\n";
        header_done = true;
      }
      out += offset + "AUTH FAILED identity=" + str_field(j, "identity") +
             " client=" + str_field(j, "client_addr") +
             " connection=" + str_field(j, "connection") + ": " + str_field(j, "reason") + "\n";
    } else if (type == "session_end") {
      int64_t dur = t && t0 ? *t - *t0 : 0;
      out += offset + "END " + str_field(j, "reason") + "; " +
             std::to_string(int_field(j, "bytes_from_client")) + " bytes from client, " +
             std::to_string(int_field(j, "bytes_from_target")) + " bytes from target; " +
             std::to_string(int_field(j, "statements")) + " statements; duration " +
             seconds_text(dur) + "s\n";
    } else {
      out += offset + printable(type) + " " + printable(j.dump()) + "\n";
    }
  }
  if (n == 0) {
    out += "empty recording " + path + "\n";
  }
  return out;
}

}  // namespace custos::record
