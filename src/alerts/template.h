// Notification templates: a subset of Go's text/template as Alertmanager 0.25 uses it (actions,
// pipelines, variables, if / else if / range / with / define / template / block, comments,
// {{- -}} trimming, Alertmanager's functions and data model), plus Alertmanager's default named
// templates ("slack.default.title", "__subject", ...) written for sira.
//
// A TemplateSet holds named templates ({{ define }} blocks of the built-ins and of the files an
// alertmanager.yml lists under `templates:`). Field templates (a Slack title, a PagerDuty
// description) are parsed against it; parse errors name `source:line:col`. Execution is bounded
// (output size, nesting of template calls, evaluation steps) and fails with an error, never a
// crash. A TemplateSet is immutable once built: execute() is thread-safe; add() is not.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "alerts/model.h"
#include "core/error.h"

namespace sira::alerts {

// A value as templates see it (Go's reflect.Value reduced to Alertmanager's data model). `type`
// names the Go type whose methods apply: "KV" (SortedPairs, Names, Values, Remove), "Pairs"
// (Names, Values), "Alerts" (Firing, Resolved), "Time" (Format, Unix, UTC, ...); objects (Data,
// Alert, Pair) expose their fields by name.
struct TmplValue {
  enum class Kind { kNil, kBool, kInt, kFloat, kString, kTime, kList, kMap, kObject };
  Kind kind = Kind::kNil;
  bool b = false;
  int64_t i = 0;  // kInt; kTime: Unix milliseconds
  double f = 0;
  std::string s;
  std::shared_ptr<const std::vector<TmplValue>> list;
  std::shared_ptr<const std::map<std::string, TmplValue>> map;  // kMap entries, kObject fields
  std::string type;

  static TmplValue nil() { return {}; }
  static TmplValue boolean(bool v);
  static TmplValue integer(int64_t v);
  static TmplValue real(double v);
  static TmplValue string(std::string v);
  static TmplValue time(int64_t unix_ms);
  static TmplValue list_of(std::vector<TmplValue> items, std::string type = "");
  static TmplValue map_of(std::map<std::string, TmplValue> entries, std::string type = "");
  static TmplValue object(std::map<std::string, TmplValue> fields, std::string type);
  static TmplValue kv(const LabelSet& labels);  // Alertmanager's template.KV
};

// Go's zero time.Time (0001-01-01T00:00:00Z) in Unix milliseconds: EndsAt of a firing alert.
inline constexpr int64_t kGoZeroTimeMs = -62135596800000;

// Alertmanager's template.Data and template.Alert.
struct TemplateAlert {
  std::string status;  // firing | resolved
  LabelSet labels, annotations;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = kGoZeroTimeMs;
  std::string generator_url, fingerprint;
};

struct TemplateData {
  std::string receiver, status;
  std::vector<TemplateAlert> alerts;
  LabelSet group_labels, common_labels, common_annotations;
  std::string external_url;
};

TmplValue template_value(const TemplateData& data);

struct TemplateLimits {
  size_t max_output_bytes = 1 << 20;
  int max_call_depth = 100;       // nested {{ template }} calls
  int64_t max_steps = 1'000'000;  // evaluated nodes and function calls
};

struct TemplateTree;  // a parsed template (template.cpp)

class TemplateSet {
 public:
  // The built-in named templates only.
  TemplateSet();
  // Parses `text` (named `source` in errors) and adds its {{ define }} / {{ block }} blocks; a
  // later definition of a name replaces the earlier one. Text outside definitions is ignored, as
  // Alertmanager ignores it. kInvalidArgument "template: source:line:col: message".
  Status add(std::string_view source, std::string_view text);
  // Parses a field template without running it (config validation).
  Status check(std::string_view source, std::string_view text) const;
  // Parses and runs `text` with `data` as dot and $. Errors name the source and position.
  Result<std::string> execute(std::string_view source, std::string_view text, const TmplValue& data,
                              const TemplateLimits& limits = {}) const;
  // Runs the named template.
  Result<std::string> execute_named(std::string_view name, const TmplValue& data,
                                    const TemplateLimits& limits = {}) const;
  bool defines(std::string_view name) const;

  // The built-ins, shared.
  static std::shared_ptr<const TemplateSet> defaults();

 private:
  std::map<std::string, std::shared_ptr<const TemplateTree>, std::less<>> defs_;
};

}  // namespace sira::alerts
