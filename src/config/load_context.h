#pragma once
// LoadContext: what one configuration load shares — the source name used in messages, the
// directory relative paths resolve against, and the list of errors found so far. Loading keeps
// going after an error so `custos check-config` can report every problem in one run.

#include <yaml-cpp/mark.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace custos::config {

class LoadContext {
 public:
  LoadContext(std::string source_name, std::filesystem::path base_dir);

  // Records "<source>:<line>: <key_path>: <message>" (key_path may be empty).
  void error(const YAML::Mark& mark, std::string_view key_path, std::string_view message);
  bool has_errors() const { return !errors_.empty(); }
  // All recorded errors in line order, one per line, as a kConfig Error.
  Error to_error() const;

  // A path from the config made absolute against the config file's directory.
  std::string resolve_path(std::string_view path) const;

  const std::string& source_name() const { return source_name_; }

 private:
  static constexpr size_t kMaxErrors = 50;

  std::string source_name_;
  std::filesystem::path base_dir_;
  struct Message {
    int line;
    std::string text;
  };
  std::vector<Message> errors_;
  size_t suppressed_ = 0;
};

}  // namespace custos::config
