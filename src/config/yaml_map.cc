#include "config/yaml_map.h"

#include <algorithm>

#include "config/value_parsers.h"

namespace custos::config {

std::string_view describe_node(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

std::optional<YamlMap> YamlMap::open(LoadContext& ctx, const YAML::Node& node, std::string path,
                                     std::vector<std::string_view> allowed_keys) {
  if (!node.IsMap()) {
    ctx.error(node.Mark(), path, "expected a mapping, got " + std::string(describe_node(node)));
    return std::nullopt;
  }
  YamlMap map(ctx, std::move(path), node.Mark());
  std::vector<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    // Copies: the iterator's -> returns a proxy whose members die with the full expression.
    const YAML::Node key_node = it->first;
    const YAML::Node value = it->second;
    if (!key_node.IsScalar()) {
      ctx.error(key_node.Mark(), map.path_,
                "expected a plain key, got " + std::string(describe_node(key_node)));
      continue;
    }
    const std::string& key = key_node.Scalar();
    if (std::find(allowed_keys.begin(), allowed_keys.end(), key) == allowed_keys.end()) {
      std::string allowed;
      for (std::string_view k : allowed_keys) {
        allowed += allowed.empty() ? "" : ", ";
        allowed += k;
      }
      // The key name is echoed, never its value (it could be a mistyped secret).
      ctx.error(key_node.Mark(), map.key_path(key), "unknown key; allowed keys: " + allowed);
      continue;
    }
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      ctx.error(key_node.Mark(), map.key_path(key), "duplicate key");
      continue;
    }
    seen.push_back(key);
    if (value.IsNull() || !value.IsDefined()) {
      map.null_keys_.emplace_back(key, key_node.Mark());  // counts as absent
      continue;
    }
    map.entries_.push_back(Entry{key, value});
  }
  return map;
}

std::string YamlMap::key_path(std::string_view key) const {
  if (path_.empty()) {
    return std::string(key);
  }
  return path_ + "." + std::string(key);
}

const YamlMap::Entry* YamlMap::find(std::string_view key) const {
  for (const Entry& e : entries_) {
    if (e.key == key) {
      return &e;
    }
  }
  return nullptr;
}

const YamlMap::Entry* YamlMap::lookup(std::string_view key, Presence presence) {
  const Entry* e = find(key);
  if (e == nullptr && presence == Presence::kRequired) {
    for (const auto& [k, mark] : null_keys_) {
      if (k == key) {
        // YAML reads `key:`, `key: ~` and an unquoted `key: null` as no value at all.
        ctx_->error(mark, key_path(key),
                    "has no value (to give the word null, quote it: \"null\")");
        return nullptr;
      }
    }
    ctx_->error(mark_, key_path(key), "required key is missing");
  }
  return e;
}

std::optional<ScalarValue> YamlMap::scalar(std::string_view key, Presence presence) {
  const Entry* e = lookup(key, presence);
  if (e == nullptr) {
    return std::nullopt;
  }
  if (!e->value.IsScalar()) {
    ctx_->error(e->value.Mark(), key_path(key),
                "expected a single value, got " + std::string(describe_node(e->value)));
    return std::nullopt;
  }
  return ScalarValue{e->value.Scalar(), e->value.Mark(), key_path(key)};
}

std::optional<bool> YamlMap::boolean(std::string_view key) {
  std::optional<ScalarValue> s = scalar(key);
  if (!s) {
    return std::nullopt;
  }
  if (s->text == "true") {
    return true;
  }
  if (s->text == "false") {
    return false;
  }
  ctx_->error(s->mark, s->path, "expected true or false, got " + quote_for_message(s->text));
  return std::nullopt;
}

std::optional<std::vector<SequenceElement>> YamlMap::sequence(std::string_view key,
                                                              Presence presence) {
  const Entry* e = lookup(key, presence);
  if (e == nullptr) {
    return std::nullopt;
  }
  if (!e->value.IsSequence()) {
    ctx_->error(e->value.Mark(), key_path(key),
                "expected a list, got " + std::string(describe_node(e->value)));
    return std::nullopt;
  }
  std::vector<SequenceElement> out;
  size_t i = 0;
  for (auto it = e->value.begin(); it != e->value.end(); ++it, ++i) {
    out.push_back(SequenceElement{*it, key_path(key) + "[" + std::to_string(i) + "]"});
  }
  return out;
}

std::optional<std::vector<ScalarValue>> YamlMap::scalar_list(std::string_view key,
                                                             Presence presence) {
  std::optional<std::vector<SequenceElement>> elements = sequence(key, presence);
  if (!elements) {
    return std::nullopt;
  }
  std::vector<ScalarValue> out;
  for (const SequenceElement& el : *elements) {
    if (!el.node.IsScalar()) {
      ctx_->error(el.node.Mark(), el.path,
                  "expected a single value, got " + std::string(describe_node(el.node)));
      continue;
    }
    out.push_back(ScalarValue{el.node.Scalar(), el.node.Mark(), el.path});
  }
  return out;
}

std::optional<YamlMap> YamlMap::map(std::string_view key,
                                    std::vector<std::string_view> allowed_keys, Presence presence) {
  const Entry* e = lookup(key, presence);
  if (e == nullptr) {
    return std::nullopt;
  }
  return open(*ctx_, e->value, key_path(key), std::move(allowed_keys));
}

std::vector<YamlMap> YamlMap::map_list(std::string_view key,
                                       std::vector<std::string_view> allowed_keys) {
  std::vector<YamlMap> out;
  std::optional<std::vector<SequenceElement>> elements = sequence(key);
  if (!elements) {
    return out;
  }
  for (const SequenceElement& el : *elements) {
    std::optional<YamlMap> m = open(*ctx_, el.node, el.path, allowed_keys);
    if (m) {
      out.push_back(std::move(*m));
    }
  }
  return out;
}

}  // namespace custos::config
