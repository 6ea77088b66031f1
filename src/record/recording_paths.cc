#include "record/recording_paths.h"

#include <algorithm>
#include <filesystem>

namespace custos::record {

namespace fs = std::filesystem;

std::optional<std::string> find_recording(const std::string& data_dir,
                                          const std::string& session_id) {
  if (session_id.empty() || session_id[0] == '.' ||
      session_id.find_first_of("/\\") != std::string::npos) {
    return std::nullopt;
  }
  std::error_code ec;
  fs::path root = fs::path(data_dir) / "recordings";
  std::vector<fs::path> hits;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code ec2;
    if (!it->is_directory(ec2)) {
      continue;
    }
    fs::path candidate = it->path() / (session_id + ".jsonl");
    if (fs::is_regular_file(candidate, ec2)) {
      hits.push_back(candidate);
    }
  }
  if (hits.empty()) {
    return std::nullopt;
  }
  std::sort(hits.begin(), hits.end());
  return hits.front().string();
}

std::vector<std::string> list_recordings(const std::string& data_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  fs::path root = fs::path(data_dir) / "recordings";
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code ec2;
    if (it->is_regular_file(ec2) && it->path().extension() == ".jsonl") {
      out.push_back(it->path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace custos::record
