#pragma once
// Locating recordings under <data_dir>/recordings/<YYYY-MM-DD>/<session_id>.jsonl.

#include <optional>
#include <string>
#include <vector>

namespace custos::record {

// The recording of `session_id`, if one exists. Ids that are not valid file names find nothing.
std::optional<std::string> find_recording(const std::string& data_dir,
                                          const std::string& session_id);
// Every recording under data_dir, sorted by path (so by date, then session id).
std::vector<std::string> list_recordings(const std::string& data_dir);

}  // namespace custos::record
