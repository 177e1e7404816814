// Alertmanager label matchers: construction, RE2 matching and the classic matcher parser.
#include "alerts/matchers.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <tuple>

namespace sira::alerts {

namespace {

bool is_space(char c) {
  // Go's regexp \s: [\t\n\f\r ].
  return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

bool matcher_name_char(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
         (!first && c >= '0' && c <= '9');
}

bool valid_matcher_name(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!matcher_name_char(name[i], i == 0)) return false;
  }
  return true;
}

std::string open_metrics_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"')
      out += "\\\"";
    else
      out.push_back(c);
  }
  return out;
}

Result<Matcher> bad_format(std::string_view text) {
  return fail(ErrorCode::kInvalidArgument, "bad matcher format: " + std::string(text));
}

}  // namespace

const char* match_type_string(MatchType type) {
  switch (type) {
    case MatchType::kEqual:
      return "=";
    case MatchType::kNotEqual:
      return "!=";
    case MatchType::kRegex:
      return "=~";
    case MatchType::kNotRegex:
      return "!~";
  }
  return "?";
}

Result<Matcher> Matcher::make(std::string name, MatchType type, std::string value) {
  if (!valid_matcher_name(name))
    return fail(ErrorCode::kInvalidArgument, "invalid label name " + go_quote(name), "name");
  Matcher m;
  m.name_ = std::move(name);
  m.type_ = type;
  m.value_ = std::move(value);
  if (m.is_regex()) {
    RE2::Options opts;
    opts.set_log_errors(false);
    opts.set_encoding(RE2::Options::EncodingUTF8);
    auto re = std::make_shared<RE2>("^(?:" + m.value_ + ")$", opts);
    if (!re->ok()) {
      return fail(ErrorCode::kInvalidArgument,
                  "invalid regular expression " + go_quote(m.value_) + ": " + re->error(), "value");
    }
    m.re_ = std::move(re);
  }
  return m;
}

bool Matcher::matches(std::string_view value) const {
  switch (type_) {
    case MatchType::kEqual:
      return value == value_;
    case MatchType::kNotEqual:
      return value != value_;
    case MatchType::kRegex:
      return RE2::FullMatch(re2::StringPiece(value.data(), value.size()), *re_);
    case MatchType::kNotRegex:
      return !RE2::FullMatch(re2::StringPiece(value.data(), value.size()), *re_);
  }
  return false;
}

bool Matcher::matches(const LabelSet& labels) const {
  auto it = labels.find(name_);
  return matches(it == labels.end() ? std::string_view() : std::string_view(it->second));
}

std::string Matcher::to_string() const {
  return name_ + match_type_string(type_) + "\"" + open_metrics_escape(value_) + "\"";
}

bool matcher_less(const Matcher& a, const Matcher& b) {
  return std::tie(a.name(), a.value()) < std::tie(b.name(), b.value()) ||
         (a.name() == b.name() && a.value() == b.value() &&
          static_cast<int>(a.type()) < static_cast<int>(b.type()));
}

void sort_matchers(std::vector<Matcher>* matchers) {
  std::stable_sort(matchers->begin(), matchers->end(), matcher_less);
}

std::string matchers_string(const std::vector<Matcher>& matchers) {
  std::string out = "{";
  for (size_t i = 0; i < matchers.size(); ++i) {
    if (i > 0) out += ",";
    out += matchers[i].to_string();
  }
  out += "}";
  return out;
}

Result<Matcher> parse_matcher(std::string_view text) {
  // Alertmanager: ^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*((?s).*?)\s*$
  size_t i = 0;
  while (i < text.size() && is_space(text[i])) ++i;
  size_t name_begin = i;
  while (i < text.size() && matcher_name_char(text[i], i == name_begin)) ++i;
  if (i == name_begin) return bad_format(text);
  std::string name(text.substr(name_begin, i - name_begin));
  while (i < text.size() && is_space(text[i])) ++i;
  MatchType type;
  if (text.substr(i, 2) == "=~") {
    type = MatchType::kRegex;
    i += 2;
  } else if (text.substr(i, 2) == "!=") {
    type = MatchType::kNotEqual;
    i += 2;
  } else if (text.substr(i, 2) == "!~") {
    type = MatchType::kNotRegex;
    i += 2;
  } else if (text.substr(i, 1) == "=") {
    type = MatchType::kEqual;
    i += 1;
  } else {
    return bad_format(text);
  }
  while (i < text.size() && is_space(text[i])) ++i;
  size_t end = text.size();
  while (end > i && is_space(text[end - 1])) --end;
  std::string_view raw = text.substr(i, end - i);

  if (raw.empty())
    return fail(ErrorCode::kInvalidArgument, "matcher value is not present: " + std::string(text));
  if (raw.front() == '<' || raw.front() == '>') {
    return fail(ErrorCode::kInvalidArgument, "unknown matcher operator \"" +
                                                 std::string(match_type_string(type)) +
                                                 raw.front() + "\": " + std::string(text));
  }
  const std::string_view original_raw = raw;
  bool expect_trailing_quote = false;
  if (raw.front() == '"') {
    raw.remove_prefix(1);
    expect_trailing_quote = true;
  }
  if (!valid_utf8(raw)) {
    return fail(ErrorCode::kInvalidArgument,
                "matcher value not valid UTF-8: " + std::string(original_raw));
  }
  std::string value;
  value.reserve(raw.size());
  bool escaped = false;
  for (size_t k = 0; k < raw.size(); ++k) {
    char c = raw[k];
    if (escaped) {
      escaped = false;
      if (c == 'n')
        value.push_back('\n');
      else if (c == '"' || c == '\\')
        value.push_back(c);
      else {
        // A spurious escape: the backslash is literal.
        value.push_back('\\');
        value.push_back(c);
      }
      continue;
    }
    if (c == '\\') {
      if (k + 1 < raw.size()) {
        escaped = true;
        continue;
      }
      value.push_back('\\');  // a trailing backslash is literal
    } else if (c == '"') {
      if (!expect_trailing_quote || k + 1 < raw.size()) {
        return fail(ErrorCode::kInvalidArgument,
                    "matcher value contains unescaped double quote: " + std::string(original_raw));
      }
      expect_trailing_quote = false;
    } else {
      value.push_back(c);
    }
  }
  if (expect_trailing_quote) {
    return fail(ErrorCode::kInvalidArgument,
                "matcher value contains unescaped double quote: " + std::string(original_raw));
  }
  return Matcher::make(std::move(name), type, std::move(value));
}

Result<std::vector<Matcher>> parse_matchers(std::string_view text) {
  if (!text.empty() && text.front() == '{') text.remove_prefix(1);
  if (!text.empty() && text.back() == '}') text.remove_suffix(1);

  std::vector<std::string> tokens;
  std::string token;
  bool inside_quotes = false;
  bool escaped = false;
  for (char c : text) {
    switch (c) {
      case ',':
        if (!inside_quotes) {
          tokens.push_back(std::move(token));
          token.clear();
          continue;
        }
        break;
      case '"':
        if (!escaped)
          inside_quotes = !inside_quotes;
        else
          escaped = false;
        break;
      case '\\':
        escaped = !escaped;
        break;
      default:
        escaped = false;
    }
    token.push_back(c);
  }
  // Only the last token is trimmed and dropped when blank (a trailing comma), as Alertmanager.
  size_t b = 0, e = token.size();
  while (b < e && is_space(token[b])) ++b;
  while (e > b && is_space(token[e - 1])) --e;
  if (e > b) tokens.push_back(token.substr(b, e - b));

  std::vector<Matcher> out;
  out.reserve(tokens.size());
  for (const auto& t : tokens) out.push_back(SIRA_TRY(parse_matcher(t)));
  return out;
}

bool matches_all(const std::vector<Matcher>& matchers, const LabelSet& labels) {
  for (const auto& m : matchers) {
    if (!m.matches(labels)) return false;
  }
  return true;
}

}  // namespace sira::alerts
