#include "config/rule_loader.h"

#include <charconv>

#include "config/value_parsers.h"
#include "core/ascii.h"
#include "sql/function_catalog.h"
#include "sql/kind.h"

namespace custos::config {
namespace {

std::string all_kind_names() {
  std::string out = "readonly";
  for (int i = 0; i < sql::kKindCount; ++i) {
    out += ", ";
    out += sql::kind_name(static_cast<sql::Kind>(i));
  }
  return out + ", function:NAME";
}

// approvers, min_approvals, timeout and preview of a hold rule. False when one is invalid.
bool load_hold_fields(LoadContext& ctx, YamlMap& body, Rule& rule) {
  bool ok = true;
  if (auto approvers = body.scalar_list("approvers", Presence::kRequired)) {
    for (const ScalarValue& a : *approvers) {
      std::string_view name = a.text;
      if (name.starts_with("group:")) {
        name.remove_prefix(6);
      }
      if (!is_valid_name(name)) {
        ctx.error(a.mark, a.path,
                  "expected an approver name or group:NAME, got " + quote_for_message(a.text));
        ok = false;
        continue;
      }
      rule.approvers.push_back(a.text);
    }
    if (approvers->empty()) {
      ctx.error(body.mark(), body.key_path("approvers"),
                "a hold rule needs at least one approver (NAME or group:NAME)");
      ok = false;
    }
  } else {
    ok = false;
  }
  if (auto m = body.scalar("min_approvals")) {
    int n = 0;
    const auto [p, ec] = std::from_chars(m->text.data(), m->text.data() + m->text.size(), n);
    if (ec != std::errc() || p != m->text.data() + m->text.size() || n < 1 || n > 10) {
      ctx.error(m->mark, m->path,
                "expected a number of approvals from 1 to 10, got " + quote_for_message(m->text));
      ok = false;
    } else {
      rule.min_approvals = n;
    }
  }
  if (auto t = body.scalar("timeout")) {
    Result<std::chrono::milliseconds> d = parse_duration(t->text);
    if (!d) {
      ctx.error(t->mark, t->path, d.error().message);
      ok = false;
    } else if (*d < std::chrono::seconds(1) || *d > std::chrono::hours(24) ||
               *d % std::chrono::seconds(1) != std::chrono::milliseconds(0)) {
      ctx.error(t->mark, t->path,
                "expected a whole number of seconds from 1s to 24h, got " +
                    quote_for_message(t->text));
      ok = false;
    } else {
      rule.hold_timeout = std::chrono::duration_cast<std::chrono::seconds>(*d);
    }
  }
  if (auto pv = body.boolean("preview")) {
    rule.preview = *pv;
  }
  return ok;
}

}  // namespace

std::optional<Rule> load_rule(LoadContext& ctx, const SequenceElement& element) {
  std::optional<YamlMap> outer = YamlMap::open(ctx, element.node, element.path,
                                               {"allow", "deny", "hold"});
  if (!outer) {
    return std::nullopt;
  }
  int present = 0;
  Rule rule;
  rule.line = element.node.Mark().line + 1;
  std::string_view action_key;
  for (std::string_view k : {"allow", "deny", "hold"}) {
    if (outer->has(k)) {
      ++present;
      action_key = k;
    }
  }
  if (present == 0) {
    ctx.error(element.node.Mark(), element.path,
              "empty rule: expected exactly one of allow, deny or hold");
    return std::nullopt;
  }
  if (present > 1) {
    ctx.error(element.node.Mark(), element.path,
              "a rule has exactly one of allow, deny or hold, not several");
    return std::nullopt;
  }
  rule.action = action_key == "allow"  ? RuleAction::kAllow
                : action_key == "hold" ? RuleAction::kHold
                                       : RuleAction::kDeny;
  const bool is_allow = rule.action == RuleAction::kAllow;
  const bool is_hold = rule.action == RuleAction::kHold;
  std::vector<std::string_view> keys = {"kinds",    "tables",   "functions",
                                        "require_where", "max_rows", "message"};
  if (is_hold) {
    keys = {"kinds",   "tables",        "functions", "approvers",
            "message", "min_approvals", "timeout",   "preview"};
  }
  std::optional<YamlMap> body = outer->map(action_key, keys, Presence::kRequired);
  if (!body) {
    return std::nullopt;
  }
  bool ok = true;
  if (auto kinds = body->scalar_list("kinds")) {
    for (const ScalarValue& k : *kinds) {
      rule.kinds.push_back(k.text);
      if (k.text == "readonly") {
        rule.kind_mask |= sql::readonly_kind_mask();
      } else if (k.text.starts_with("function:") && k.text.size() > 9) {
        rule.kind_functions.push_back(
            sql::canonical_function_name(core::ascii_lower(k.text.substr(9))));
      } else if (auto kind = sql::kind_from_name(k.text)) {
        rule.kind_mask |= sql::kind_bit(*kind);
      } else {
        ctx.error(k.mark, k.path, "unknown kind " + quote_for_message(k.text) +
                                      "; expected one of " + all_kind_names());
        ok = false;
      }
    }
  }
  if (auto tables = body->scalar_list("tables")) {
    for (const ScalarValue& t : *tables) {
      if (t.text.empty() || t.text.find("..") != std::string::npos || t.text.front() == '.' ||
          t.text.back() == '.') {
        ctx.error(t.mark, t.path,
                  "expected a table glob like \"orders\", \"public.*\" or \"*.audit_log\", got " +
                      quote_for_message(t.text));
        ok = false;
        continue;
      }
      rule.tables.push_back(t.text);
    }
  }
  if (auto functions = body->scalar_list("functions")) {
    for (const ScalarValue& f : *functions) {
      if (f.text.empty()) {
        ctx.error(f.mark, f.path, "expected a function name");
        ok = false;
        continue;
      }
      rule.functions.push_back(sql::canonical_function_name(core::ascii_lower(f.text)));
    }
  }
  if (auto rw = body->boolean("require_where")) {
    if (!is_allow) {
      ctx.error(body->mark(), body->key_path("require_where"), "require_where is only for allow rules");
      ok = false;
    }
    rule.require_where = *rw;
  }
  if (auto mr = body->scalar("max_rows")) {
    uint64_t n = 0;
    const auto [p, ec] = std::from_chars(mr->text.data(), mr->text.data() + mr->text.size(), n);
    if (ec != std::errc() || p != mr->text.data() + mr->text.size() || n == 0) {
      ctx.error(mr->mark, mr->path, "expected a positive number of rows, got " +
                                        quote_for_message(mr->text));
      ok = false;
    } else if (!is_allow) {
      ctx.error(mr->mark, mr->path, "max_rows is only for allow rules");
      ok = false;
    } else {
      rule.max_rows = n;
    }
  }
  if (is_hold && !load_hold_fields(ctx, *body, rule)) {
    ok = false;
  }
  if (auto msg = body->scalar("message")) {
    if (is_allow) {
      ctx.error(msg->mark, msg->path, "message is only for deny and hold rules");
      ok = false;
    }
    rule.message = msg->text;
  }
  const bool has_kinds = rule.kind_mask != 0 || !rule.kind_functions.empty();
  if (is_allow && rule.kind_mask == 0 && ok) {
    ctx.error(body->mark(), body->path(),
              "an allow rule needs kinds (tables and functions only narrow what it allows)");
    ok = false;
  }
  if (!is_allow && !has_kinds && rule.tables.empty() && rule.functions.empty() && ok) {
    ctx.error(body->mark(), body->path(),
              std::string("empty rule: a ") + (is_hold ? "hold" : "deny") +
                  " rule needs at least one of kinds, tables or functions");
    ok = false;
  }
  return ok ? std::optional<Rule>(std::move(rule)) : std::nullopt;
}

void load_policy_default(YamlMap& policy_map, Policy& p) {
  if (auto d = policy_map.scalar(kPolicyDefaultKey)) {
    if (d->text == "allow") {
      p.default_allow = true;
    } else if (d->text == "deny") {
      p.default_allow = false;
    } else {
      policy_map.context().error(d->mark, d->path,
                                 "expected allow or deny, got " + quote_for_message(d->text));
    }
  }
  if (auto t = policy_map.scalar(kPolicyTargetReadOnlyKey)) {
    if (t->text == "auto") {
      p.target_read_only = TargetReadOnly::kAuto;
    } else if (t->text == "true" || t->text == "on") {
      p.target_read_only = TargetReadOnly::kOn;
    } else if (t->text == "false" || t->text == "off") {
      p.target_read_only = TargetReadOnly::kOff;
    } else {
      policy_map.context().error(t->mark, t->path,
                                 "expected auto, true or false, got " + quote_for_message(t->text));
    }
  }
}

std::optional<Policy> load_policy_body(LoadContext& ctx, const YAML::Node& node,
                                       const std::string& path) {
  std::optional<YamlMap> m =
      YamlMap::open(ctx, node, path, {"name", "default", "target_read_only", "rules"});
  if (!m) {
    return std::nullopt;
  }
  Policy p;
  if (auto n = m->scalar("name")) {
    p.name = n->text;
  }
  load_policy_default(*m, p);
  if (auto rules = m->sequence("rules")) {
    for (const SequenceElement& el : *rules) {
      if (std::optional<Rule> rule = load_rule(ctx, el)) {
        p.rules.push_back(std::move(*rule));
      }
    }
  }
  if (ctx.has_errors()) {
    return std::nullopt;
  }
  return p;
}

}  // namespace custos::config
