#include "config/load_context.h"

#include <algorithm>

namespace custos::config {

LoadContext::LoadContext(std::string source_name, std::filesystem::path base_dir)
    : source_name_(std::move(source_name)), base_dir_(std::move(base_dir)) {}

void LoadContext::error(const YAML::Mark& mark, std::string_view key_path,
                        std::string_view message) {
  if (errors_.size() >= kMaxErrors) {
    ++suppressed_;
    return;
  }
  int line = mark.is_null() ? 1 : mark.line + 1;
  std::string text = source_name_ + ":" + std::to_string(line) + ": ";
  if (!key_path.empty()) {
    text += key_path;
    text += ": ";
  }
  text += message;
  errors_.push_back(Message{line, std::move(text)});
}

Error LoadContext::to_error() const {
  std::vector<Message> sorted = errors_;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Message& a, const Message& b) { return a.line < b.line; });
  std::string joined;
  for (const Message& e : sorted) {
    if (!joined.empty()) {
      joined += '\n';
    }
    joined += e.text;
  }
  if (suppressed_ > 0) {
    joined += "\n(" + std::to_string(suppressed_) + " more errors not shown)";
  }
  return Error{ErrorCode::kConfig, std::move(joined)};
}

std::string LoadContext::resolve_path(std::string_view path) const {
  std::filesystem::path p{std::string(path)};
  if (p.is_absolute()) {
    return p.lexically_normal().string();
  }
  return (base_dir_ / p).lexically_normal().string();
}

}  // namespace custos::config
