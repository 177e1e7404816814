// Matchers: Alertmanager's parser (cases from pkg/labels/parse_test.go), RE2 anchoring,
// missing-label semantics, String() form and error cases.
#include "alerts/matchers.h"

#include <gtest/gtest.h>

namespace sira::alerts {
namespace {

Matcher M(const std::string& name, MatchType t, const std::string& value) {
  auto m = Matcher::make(name, t, value);
  EXPECT_TRUE(m.has_value()) << (m ? "" : m.error().detail);
  return m.value();  // throws (and fails the test) on error
}

std::vector<Matcher> parse_ok(std::string_view text) {
  auto ms = parse_matchers(text);
  EXPECT_TRUE(ms.has_value()) << text << ": " << (ms ? "" : ms.error().detail);
  return ms ? *ms : std::vector<Matcher>{};
}

std::string parse_err(std::string_view text) {
  auto ms = parse_matchers(text);
  EXPECT_FALSE(ms.has_value()) << text << " parsed";
  if (ms) return "";
  EXPECT_EQ(ms.error().code, ErrorCode::kInvalidArgument);
  return ms.error().detail;
}

TEST(AlertsMatchers, ParsesAllFourOperators) {
  EXPECT_EQ(parse_ok("{foo=\"bar\"}"), std::vector<Matcher>{M("foo", MatchType::kEqual, "bar")});
  EXPECT_EQ(parse_ok("{foo!=\"bar\"}"),
            std::vector<Matcher>{M("foo", MatchType::kNotEqual, "bar")});
  EXPECT_EQ(parse_ok("{foo=~\"bar.*\"}"),
            std::vector<Matcher>{M("foo", MatchType::kRegex, "bar.*")});
  EXPECT_EQ(parse_ok("{foo!~\"bar.*\"}"),
            std::vector<Matcher>{M("foo", MatchType::kNotRegex, "bar.*")});
}

TEST(AlertsMatchers, ParsesAlertmanagerSyntaxVariants) {
  EXPECT_EQ(parse_ok("{foo=\"bar\", baz!~\"quux.*\"}"),
            (std::vector<Matcher>{M("foo", MatchType::kEqual, "bar"),
                                  M("baz", MatchType::kNotRegex, "quux.*")}));
  // Unquoted values, no braces.
  EXPECT_EQ(parse_ok("foo=bar,dings!=bums"),
            (std::vector<Matcher>{M("foo", MatchType::kEqual, "bar"),
                                  M("dings", MatchType::kNotEqual, "bums")}));
  EXPECT_EQ(parse_ok("a=b, c!=d"), (std::vector<Matcher>{M("a", MatchType::kEqual, "b"),
                                                         M("c", MatchType::kNotEqual, "d")}));
  // Whitespace around tokens and a trailing comma.
  EXPECT_EQ(parse_ok("{foo = \"bar\", dings != \"bums\", }"),
            (std::vector<Matcher>{M("foo", MatchType::kEqual, "bar"),
                                  M("dings", MatchType::kNotEqual, "bums")}));
  // Commas inside quotes do not split.
  EXPECT_EQ(parse_ok("{foo=\"bar,quux\", job=\"job1\"}"),
            (std::vector<Matcher>{M("foo", MatchType::kEqual, "bar,quux"),
                                  M("job", MatchType::kEqual, "job1")}));
  EXPECT_EQ(parse_ok("alertname=\"X\""),
            std::vector<Matcher>{M("alertname", MatchType::kEqual, "X")});
  EXPECT_EQ(parse_ok("{foo=\"\"}"), std::vector<Matcher>{M("foo", MatchType::kEqual, "")});
  EXPECT_EQ(parse_ok("statuscode=~\"5..\""),
            std::vector<Matcher>{M("statuscode", MatchType::kRegex, "5..")});
  EXPECT_TRUE(parse_ok("{}").empty());
  EXPECT_TRUE(parse_ok("").empty());
  // Colons are allowed in matcher names (recording-rule style), as the parser's regex allows.
  EXPECT_EQ(parse_ok("job:rate5m=\"1\"")[0].name(), "job:rate5m");
}

TEST(AlertsMatchers, ParsesEscapesAsAlertmanager) {
  EXPECT_EQ(parse_ok(R"({quote="She said: \"Hi, ladies! That's gender-neutral…\""})"),
            std::vector<Matcher>{
                M("quote", MatchType::kEqual, "She said: \"Hi, ladies! That's gender-neutral…\"")});
  EXPECT_EQ(parse_ok("tricky=~~~"), std::vector<Matcher>{M("tricky", MatchType::kRegex, "~~")});
  EXPECT_EQ(parse_ok(R"(trickier==\\=\=\")"),
            std::vector<Matcher>{M("trickier", MatchType::kEqual, R"(=\=\=")")});
  EXPECT_EQ(parse_ok(R"(contains_quote != "\"" , contains_comma !~ "foo,bar" , )"),
            (std::vector<Matcher>{M("contains_quote", MatchType::kNotEqual, "\""),
                                  M("contains_comma", MatchType::kNotRegex, "foo,bar")}));
  EXPECT_EQ(parse_ok(R"(nl="a\nb")")[0].value(), "a\nb");
  EXPECT_EQ(parse_ok(R"(bs="a\\b")")[0].value(), "a\\b");
  EXPECT_EQ(parse_ok(R"(spurious="a\db")")[0].value(), "a\\db");  // unknown escape: literal
}

TEST(AlertsMatchers, ParseErrors) {
  EXPECT_EQ(parse_err("job="), "matcher value is not present: job=");
  EXPECT_EQ(parse_err("job=\"value"), "matcher value contains unescaped double quote: \"value");
  EXPECT_EQ(parse_err("job=value\""), "matcher value contains unescaped double quote: value\"");
  EXPECT_EQ(parse_err("contains_unescaped_quote = foo\"bar"),
            "matcher value contains unescaped double quote: foo\"bar");
  // Invalid label name.
  EXPECT_EQ(parse_err("{invalid-name = \"valid label\"}"),
            "bad matcher format: invalid-name = \"valid label\"");
  EXPECT_NE(parse_err("1abc=\"x\""), "");
  // Unknown operators.
  EXPECT_NE(parse_err("foo~=\"bar\"").find("bad matcher format"), std::string::npos);
  EXPECT_NE(parse_err("foo=>\"bar\"").find("unknown matcher operator \"=>\""), std::string::npos);
  EXPECT_NE(parse_err("foo=>bar").find("unknown matcher operator"), std::string::npos);
  EXPECT_NE(parse_err("foo<bar").find("bad matcher format"), std::string::npos);
  EXPECT_NE(parse_err("foo bar").find("bad matcher format"), std::string::npos);
  // Invalid regex names the regex.
  std::string re_err = parse_err("{foo=~\"invalid[regexp\"}");
  EXPECT_NE(re_err.find("invalid regular expression \"invalid[regexp\""), std::string::npos)
      << re_err;
  // Double-escaped input from shells.
  EXPECT_NE(parse_err(R"("foo=\"bar\"")").find("bad matcher format"), std::string::npos);
  // An empty token between commas.
  EXPECT_NE(parse_err("a=b,,c=d").find("bad matcher format"), std::string::npos);
}

TEST(AlertsMatchers, ParseSingleMatcher) {
  auto m = parse_matcher("severity=~\"crit.*\"");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->type(), MatchType::kRegex);
  EXPECT_TRUE(m->is_regex());
  EXPECT_TRUE(m->is_equal());
  EXPECT_FALSE(parse_matcher("severity").has_value());
}

TEST(AlertsMatchers, RegexIsFullyAnchored) {
  Matcher m = M("job", MatchType::kRegex, "api");
  EXPECT_TRUE(m.matches("api"));
  EXPECT_FALSE(m.matches("api-server"));
  EXPECT_FALSE(m.matches("my-api"));
  // The group keeps alternation inside the anchors: ^(?:a|b)$ rather than ^a|b$.
  Matcher alt = M("x", MatchType::kRegex, "a|b");
  EXPECT_TRUE(alt.matches("a"));
  EXPECT_TRUE(alt.matches("b"));
  EXPECT_FALSE(alt.matches("ab"));
  EXPECT_FALSE(alt.matches("xb"));
  Matcher neg = M("x", MatchType::kNotRegex, "a|b");
  EXPECT_FALSE(neg.matches("a"));
  EXPECT_TRUE(neg.matches("ab"));
  // Go/RE2 semantics: '.' does not match a newline.
  EXPECT_FALSE(M("x", MatchType::kRegex, ".*").matches("a\nb"));
  EXPECT_TRUE(M("x", MatchType::kRegex, "(?s).*").matches("a\nb"));
  // UTF-8 aware.
  EXPECT_TRUE(M("x", MatchType::kRegex, "caf.").matches("caf\xc3\xa9"));
}

TEST(AlertsMatchers, MissingLabelMatchesAsEmpty) {
  LabelSet ls = {{"alertname", "X"}};
  EXPECT_TRUE(M("team", MatchType::kEqual, "").matches(ls));
  EXPECT_FALSE(M("team", MatchType::kEqual, "a").matches(ls));
  EXPECT_TRUE(M("team", MatchType::kNotEqual, "a").matches(ls));
  EXPECT_TRUE(M("team", MatchType::kRegex, ".*").matches(ls));
  EXPECT_FALSE(M("team", MatchType::kRegex, ".+").matches(ls));
  EXPECT_TRUE(M("team", MatchType::kNotRegex, ".+").matches(ls));
  EXPECT_TRUE(M("alertname", MatchType::kEqual, "X").matches(ls));
}

TEST(AlertsMatchers, MatchesAll) {
  LabelSet ls = {{"alertname", "X"}, {"severity", "critical"}};
  EXPECT_TRUE(matches_all({}, ls));
  EXPECT_TRUE(matches_all(parse_ok("alertname=X, severity=~\"crit.*\""), ls));
  EXPECT_FALSE(matches_all(parse_ok("alertname=X, severity!=critical"), ls));
}

TEST(AlertsMatchers, MakeValidatesNameAndRegex) {
  auto bad_name = Matcher::make("a-b", MatchType::kEqual, "x");
  ASSERT_FALSE(bad_name);
  EXPECT_EQ(bad_name.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(Matcher::make("", MatchType::kEqual, "x"));
  auto bad_re = Matcher::make("a", MatchType::kNotRegex, "(");
  ASSERT_FALSE(bad_re);
  EXPECT_NE(bad_re.error().detail.find("\"(\""), std::string::npos);
  EXPECT_EQ(bad_re.error().field, "value");
  // Non-regex values are not compiled.
  EXPECT_TRUE(Matcher::make("a", MatchType::kEqual, "(").has_value());
}

TEST(AlertsMatchers, ToStringAsAlertmanager) {
  EXPECT_EQ(M("foo", MatchType::kEqual, "bar").to_string(), "foo=\"bar\"");
  EXPECT_EQ(M("foo", MatchType::kNotEqual, "bar").to_string(), "foo!=\"bar\"");
  EXPECT_EQ(M("foo", MatchType::kRegex, "b.*").to_string(), "foo=~\"b.*\"");
  EXPECT_EQ(M("foo", MatchType::kNotRegex, "b.*").to_string(), "foo!~\"b.*\"");
  EXPECT_EQ(M("foo", MatchType::kEqual, "a\"b\nc\\").to_string(), "foo=\"a\\\"b\\nc\\\\\"");
  std::vector<Matcher> ms = {M("b", MatchType::kEqual, "1"), M("a", MatchType::kRegex, "2")};
  EXPECT_EQ(matchers_string(ms), "{b=\"1\",a=~\"2\"}");
  sort_matchers(&ms);
  EXPECT_EQ(matchers_string(ms), "{a=~\"2\",b=\"1\"}");
  // String() output parses back to the same matcher.
  for (const auto& m : {M("q", MatchType::kNotEqual, "x\"y,z\n\\"),
                        M("r", MatchType::kRegex, "a\"b\\.c"), M("e", MatchType::kEqual, "")}) {
    auto back = parse_matcher(m.to_string());
    ASSERT_TRUE(back.has_value()) << m.to_string();
    EXPECT_EQ(*back, m);
  }
}

TEST(AlertsMatchers, SortOrderIsNameValueType) {
  std::vector<Matcher> ms = {M("b", MatchType::kEqual, "1"), M("a", MatchType::kNotEqual, "x"),
                             M("a", MatchType::kEqual, "x"), M("a", MatchType::kEqual, "w")};
  sort_matchers(&ms);
  EXPECT_EQ(matchers_string(ms), "{a=\"w\",a=\"x\",a!=\"x\",b=\"1\"}");
}

}  // namespace
}  // namespace sira::alerts
