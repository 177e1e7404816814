// Label matchers as Alertmanager 0.25 defines them (pkg/labels): the four match types, RE2
// regexes anchored as `^(?:value)$`, and the matcher syntax of routes, silences and amtool.
//
// A Matcher is an immutable value; copies share the compiled regex. Matching is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "alerts/model.h"
#include "core/error.h"

namespace re2 {
class RE2;
}

namespace sira::alerts {

enum class MatchType { kEqual, kNotEqual, kRegex, kNotRegex };

// "=", "!=", "=~", "!~".
const char* match_type_string(MatchType type);

class Matcher {
 public:
  // Builds a matcher. The name must be non-empty and use the matcher-syntax characters
  // [a-zA-Z_:][a-zA-Z0-9_:]* (silences check the stricter label-name rule separately).
  // Regex types compile `^(?:value)$` with RE2; a bad regex is kInvalidArgument naming it.
  static Result<Matcher> make(std::string name, MatchType type, std::string value);

  bool matches(std::string_view value) const;
  // A missing label matches as the empty string, as in Alertmanager.
  bool matches(const LabelSet& labels) const;

  const std::string& name() const { return name_; }
  const std::string& value() const { return value_; }
  MatchType type() const { return type_; }
  bool is_regex() const { return type_ == MatchType::kRegex || type_ == MatchType::kNotRegex; }
  // True for = and =~ (the "isEqual" flag of the v2 API).
  bool is_equal() const { return type_ == MatchType::kEqual || type_ == MatchType::kRegex; }

  // Alertmanager's Matcher.String(): name, operator, then the value in double quotes with
  // OpenMetrics escaping (\\, \n, \"), e.g. `severity=~"crit.*"`.
  std::string to_string() const;

  // Equal when name, type and value are equal.
  bool operator==(const Matcher& other) const {
    return type_ == other.type_ && name_ == other.name_ && value_ == other.value_;
  }

 private:
  Matcher() = default;

  std::string name_;
  std::string value_;
  MatchType type_ = MatchType::kEqual;
  std::shared_ptr<const re2::RE2> re_;
};

// Alertmanager's Matchers ordering: by name, then value, then type.
bool matcher_less(const Matcher& a, const Matcher& b);
void sort_matchers(std::vector<Matcher>* matchers);

// Alertmanager's Matchers.String(): `{a="b",c=~"d"}` in the given order, no spaces.
std::string matchers_string(const std::vector<Matcher>& matchers);

// Parses one matcher: `name op value` with op one of = != =~ !~, optional whitespace around
// each token, the value optionally in double quotes with \" \n \\ escapes. Errors
// (kInvalidArgument) follow Alertmanager's texts: "bad matcher format: ...", "matcher value
// contains unescaped double quote: ...", "matcher value is not present: ...", and an invalid
// regex. One deliberate deviation: an unquoted value starting with '<' or '>' (`a=>b`) is
// rejected as an unknown operator; Alertmanager would read it as the value ">b".
Result<Matcher> parse_matcher(std::string_view text);

// Parses a comma-separated list, optionally in braces: `{a="b",c=~"d.*"}`, `a=b, c!=d`.
// Commas inside double quotes do not split; a trailing comma is allowed; `{}` and "" give an
// empty list.
Result<std::vector<Matcher>> parse_matchers(std::string_view text);

// True when every matcher matches (an empty list matches everything).
bool matches_all(const std::vector<Matcher>& matchers, const LabelSet& labels);

}  // namespace sira::alerts
