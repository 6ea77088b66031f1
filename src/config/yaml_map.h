#pragma once
// YamlMap: one YAML mapping of the configuration, checked against the keys it may contain.
// Unknown and duplicate keys are reported when it is opened (typos must not be silently
// ignored); typed getters report a wrong shape at the value's line. An explicit null value
// (`key:` with nothing after it) counts as absent.

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/load_context.h"

namespace custos::config {

enum class Presence { kOptional, kRequired };

// A scalar with where it came from, for messages about its value.
struct ScalarValue {
  std::string text;
  YAML::Mark mark;
  std::string path;  // e.g. "connections[0].address"
};

// One element of a YAML sequence.
struct SequenceElement {
  YAML::Node node;
  std::string path;  // e.g. "policies[1].rules[0]"
};

class YamlMap {
 public:
  // nullopt (and an error recorded) when node is not a mapping.
  static std::optional<YamlMap> open(LoadContext& ctx, const YAML::Node& node, std::string path,
                                     std::vector<std::string_view> allowed_keys);

  std::optional<ScalarValue> scalar(std::string_view key, Presence presence = Presence::kOptional);
  std::optional<bool> boolean(std::string_view key);
  std::optional<std::vector<SequenceElement>> sequence(std::string_view key,
                                                       Presence presence = Presence::kOptional);
  std::optional<std::vector<ScalarValue>> scalar_list(std::string_view key,
                                                      Presence presence = Presence::kOptional);
  std::optional<YamlMap> map(std::string_view key, std::vector<std::string_view> allowed_keys,
                             Presence presence = Presence::kOptional);
  // Each element must itself be a mapping; elements that are not are reported and skipped.
  std::vector<YamlMap> map_list(std::string_view key, std::vector<std::string_view> allowed_keys);

  bool has(std::string_view key) const { return find(key) != nullptr; }
  // The key is present and its value is a mapping (some keys take either a list or a mapping).
  bool has_mapping(std::string_view key) const {
    const Entry* e = find(key);
    return e != nullptr && e->value.IsMap();
  }
  std::string key_path(std::string_view key) const;
  const std::string& path() const { return path_; }
  const YAML::Mark& mark() const { return mark_; }
  LoadContext& context() const { return *ctx_; }

 private:
  struct Entry {
    std::string key;
    YAML::Node value;
  };

  YamlMap(LoadContext& ctx, std::string path, YAML::Mark mark)
      : ctx_(&ctx), path_(std::move(path)), mark_(mark) {}
  const Entry* find(std::string_view key) const;
  // The entry for key, or nullptr; reports a missing required key.
  const Entry* lookup(std::string_view key, Presence presence);

  LoadContext* ctx_;
  std::string path_;
  YAML::Mark mark_;
  std::vector<Entry> entries_;  // allowed, non-null, first occurrence only
  std::vector<std::pair<std::string, YAML::Mark>> null_keys_;  // `key:`, `key: ~`, `key: null`
};

// "a mapping", "a list", "a string", "nothing": for "expected X, got Y" messages.
std::string_view describe_node(const YAML::Node& node);

}  // namespace custos::config
