// policies[].mask and the top-level mask_key (semantics: src/mask/masker.h).
#include <charconv>

#include "config/extension_loaders.h"
#include "config/value_parsers.h"
#include "mask/detector.h"

namespace custos::config {
namespace {

using Strategy = MaskRule::Strategy;
using Computed = MaskRule::Computed;

std::optional<Strategy> strategy_from_name(std::string_view s) {
  if (s == "redact") {
    return Strategy::kRedact;
  }
  if (s == "partial") {
    return Strategy::kPartial;
  }
  if (s == "hmac") {
    return Strategy::kHmac;
  }
  if (s == "fpe") {
    return Strategy::kFpe;
  }
  if (s == "null") {
    return Strategy::kNull;
  }
  return std::nullopt;
}

bool valid_column_pattern(std::string_view p) {
  int parts = 1;
  if (p.empty() || p.front() == '.' || p.back() == '.' || p.find("..") != p.npos) {
    return false;
  }
  for (char c : p) {
    parts += c == '.';
  }
  return parts <= 3;
}

std::optional<MaskRule> load_mask_rule(LoadContext& ctx, YamlMap& m) {
  MaskRule rule;
  rule.line = m.mark().line + 1;
  bool ok = true;
  if (auto cols = m.scalar_list("columns")) {
    for (const ScalarValue& c : *cols) {
      if (!valid_column_pattern(c.text)) {
        ctx.error(c.mark, c.path,
                  "expected a column like \"schema.table.column\", \"table.column\" or "
                  "\"column\", got " + quote_for_message(c.text));
        ok = false;
        continue;
      }
      rule.columns.push_back(c.text);
    }
  }
  bool wants_custom = false;
  if (auto det = m.scalar_list("detect")) {
    for (const ScalarValue& d : *det) {
      if (!mask::detector_from_name(d.text)) {
        ctx.error(d.mark, d.path, "unknown detector " + quote_for_message(d.text) +
                                      "; expected one of " + mask::known_detector_names());
        ok = false;
        continue;
      }
      wants_custom = wants_custom || d.text == "custom";
      rule.detect.push_back(d.text);
    }
  }
  if (std::optional<YamlMap> custom = m.map("custom", {"name", "regex"})) {
    MaskRule::Custom c;
    if (auto n = custom->scalar("name", Presence::kRequired)) {
      if (!is_valid_name(n->text)) {
        ctx.error(n->mark, n->path, "expected a detector name like order_ref, got " +
                                        quote_for_message(n->text));
        ok = false;
      }
      c.name = n->text;
    } else {
      ok = false;
    }
    if (auto r = custom->scalar("regex", Presence::kRequired)) {
      Result<void> check = mask::check_custom_regex(r->text);
      if (r->text.empty() || !check) {
        ctx.error(r->mark, r->path,
                  r->text.empty() ? std::string("expected a regular expression")
                                  : check.error().message);
        ok = false;
      }
      c.regex = r->text;
    } else {
      ok = false;
    }
    if (!wants_custom) {
      ctx.error(custom->mark(), custom->path(), "custom needs \"custom\" in detect");
      ok = false;
    }
    rule.custom = std::move(c);
  } else if (wants_custom && !m.has("custom")) {
    ctx.error(m.mark(), m.key_path("detect"),
              "detector custom needs custom: { name: ..., regex: ... }");
    ok = false;
  }
  if (auto s = m.scalar("strategy", Presence::kRequired)) {
    if (auto st = strategy_from_name(s->text)) {
      rule.strategy = *st;
    } else {
      ctx.error(s->mark, s->path, "unknown strategy " + quote_for_message(s->text) +
                                      "; expected one of redact, partial, hmac, fpe, null");
      ok = false;
    }
  } else {
    ok = false;
  }
  if (auto k = m.scalar("keep_last")) {
    uint32_t n = 0;
    const auto [p, ec] = std::from_chars(k->text.data(), k->text.data() + k->text.size(), n);
    if (ec != std::errc() || p != k->text.data() + k->text.size() || n > 1024) {
      ctx.error(k->mark, k->path, "expected a number of characters 0..1024, got " +
                                      quote_for_message(k->text));
      ok = false;
    } else if (rule.strategy != Strategy::kPartial) {
      ctx.error(k->mark, k->path, "keep_last is only for strategy partial");
      ok = false;
    }
    rule.keep_last = n;
  }
  if (auto c = m.scalar("computed")) {
    if (c->text == "detect") {
      rule.computed = Computed::kDetect;
    } else if (c->text == "redact") {
      rule.computed = Computed::kRedact;
    } else if (c->text == "deny") {
      rule.computed = Computed::kDeny;
    } else {
      ctx.error(c->mark, c->path, "expected detect, redact or deny, got " +
                                      quote_for_message(c->text));
      ok = false;
    }
    if (ok && m.has("columns") == false) {
      ctx.error(c->mark, c->path, "computed is only for rules with columns");
      ok = false;
    }
  }
  if (auto d = m.scalar("derived")) {
    if (d->text == "deny") {
      rule.derived_deny = true;
    } else if (auto st = strategy_from_name(d->text)) {
      rule.derived = *st;
    } else {
      ctx.error(d->mark, d->path, "unknown derived strategy " + quote_for_message(d->text) +
                                      "; expected one of redact, partial, hmac, fpe, null, deny");
      ok = false;
    }
    if (ok && !m.has("columns")) {
      ctx.error(d->mark, d->path, "derived is only for rules with columns");
      ok = false;
    }
  }
  if (!m.has("columns") && !m.has("detect")) {
    ctx.error(m.mark(), m.path(), "a mask rule needs columns, detect or both");
    ok = false;
  }
  if (!ok) {
    return std::nullopt;
  }
  return rule;
}

}  // namespace

void load_mask_rules(LoadContext& ctx, YamlMap& policy_map, Policy& policy) {
  static const std::vector<std::string_view> kRuleKeys = {
      "columns", "detect", "custom", "strategy", "keep_last", "computed", "derived"};
  // mask: [rules...] or mask: { rules: [...], deny_predicates: true }
  std::optional<YamlMap> options;
  YamlMap* rules_from = &policy_map;
  std::string_view rules_key = "mask";
  if (policy_map.has_mapping("mask")) {
    options = policy_map.map("mask", {"rules", "deny_predicates"});
    if (!options) {
      return;
    }
    if (auto b = options->boolean("deny_predicates")) {
      policy.mask_deny_predicates = *b;
    }
    rules_from = &*options;
    rules_key = "rules";
  }
  for (YamlMap& m : rules_from->map_list(rules_key, kRuleKeys)) {
    if (std::optional<MaskRule> r = load_mask_rule(ctx, m)) {
      policy.mask.push_back(std::move(*r));
    }
  }
}

void load_mask_config(LoadContext& ctx, YamlMap& root, Config& cfg) {
  if (std::optional<ScalarValue> key = root.scalar("mask_key")) {
    Result<SecretRefParts> parts = parse_secret_ref(key->text);
    if (!parts) {
      ctx.error(key->mark, key->path, parts.error().message);  // never quotes the value
    } else if (parts->scheme == SecretScheme::kFile) {
      cfg.mask_key = SecretRef{"file:" + ctx.resolve_path(parts->body)};
    } else {
      cfg.mask_key = SecretRef{key->text};
    }
  }
  if (cfg.mask_key.has_value()) {
    return;
  }
  for (size_t p = 0; p < cfg.policies.size(); ++p) {
    const std::vector<MaskRule>& rules = cfg.policies[p].mask;
    for (size_t i = 0; i < rules.size(); ++i) {
      if (rules[i].strategy == Strategy::kHmac || rules[i].strategy == Strategy::kFpe) {
        YAML::Mark mark;
        mark.line = rules[i].line - 1;
        ctx.error(mark,
                  "policies[" + std::to_string(p) + "].mask[" + std::to_string(i) + "].strategy",
                  "strategies hmac and fpe need a top-level mask_key (env:NAME or file:PATH)");
      }
    }
  }
}

}  // namespace custos::config
