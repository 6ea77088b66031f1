#pragma once
// Offline verification of a recording: needs nothing but the file.
//
// Each line's hash is recomputed over its bytes without the `,"hash":"…"` part; `prev` must equal
// the previous line's hash (64 zeros for the first), `seq` must be the line's 1-based position,
// and every line must name the same session. A final line without its trailing newline, or a
// final line that is not JSON, is a torn tail (a crash mid-write, not tampering): it is reported
// but does not make the report fail. Anything else that does not verify is tampering.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace custos::record {

struct VerifyReport {
  std::string path;
  std::string session_id;  // from the first line, else the file name
  uint64_t events = 0;     // lines that verified
  bool ok = false;
  bool torn_tail = false;
  bool complete = false;  // the last verified event is session_end
  // Position (= expected seq) of the first line that does not verify.
  std::optional<uint64_t> first_broken_seq;
  std::string message;
};

VerifyReport verify_recording(const std::string& path);
// One report per recording under data_dir (see list_recordings).
std::vector<VerifyReport> verify_all(const std::string& data_dir);

}  // namespace custos::record
