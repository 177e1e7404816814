// Percent-decoding, query splitting, traceparent and request-id validation.
#include "http/internal/parse.h"

#include <gtest/gtest.h>

namespace sira::http::internal {
namespace {

TEST(HttpPercentDecode, DecodesAndRejects) {
  std::string out;
  EXPECT_TRUE(percent_decode("/a%20b/%2Fc%c3%A9", false, &out));
  EXPECT_EQ(out, "/a b//c\xc3\xa9");
  EXPECT_TRUE(percent_decode("a+b", false, &out));
  EXPECT_EQ(out, "a+b");
  EXPECT_TRUE(percent_decode("a+b", true, &out));
  EXPECT_EQ(out, "a b");
  EXPECT_FALSE(percent_decode("%", false, &out));
  EXPECT_FALSE(percent_decode("%2", false, &out));
  EXPECT_FALSE(percent_decode("%zz", false, &out));
  EXPECT_FALSE(percent_decode("/a%00b", false, &out));
  EXPECT_FALSE(percent_decode(std::string_view("a\0b", 3), false, &out));
}

TEST(HttpSplitTarget, OriginAndAbsoluteForm) {
  std::string_view path, query;
  ASSERT_TRUE(split_target("/x/y?a=1&b", &path, &query));
  EXPECT_EQ(path, "/x/y");
  EXPECT_EQ(query, "a=1&b");
  ASSERT_TRUE(split_target("/x", &path, &query));
  EXPECT_EQ(path, "/x");
  EXPECT_EQ(query, "");
  ASSERT_TRUE(split_target("http://h:1/p?q=1", &path, &query));
  EXPECT_EQ(path, "/p");
  EXPECT_EQ(query, "q=1");
  ASSERT_TRUE(split_target("http://h", &path, &query));
  EXPECT_EQ(path, "/");
  EXPECT_FALSE(split_target("*", &path, &query));
  EXPECT_FALSE(split_target("x/y", &path, &query));
}

TEST(HttpParseQuery, MultimapWithPlusAsSpace) {
  std::multimap<std::string, std::string> q;
  ASSERT_TRUE(parse_query("a=1&b=x+y%21&a=2&&flag&e=", &q));
  EXPECT_EQ(q.count("a"), 2u);
  EXPECT_EQ(q.find("b")->second, "x y!");
  EXPECT_EQ(q.find("flag")->second, "");
  EXPECT_EQ(q.find("e")->second, "");
  std::multimap<std::string, std::string> bad;
  EXPECT_FALSE(parse_query("a=%G1", &bad));
  EXPECT_FALSE(parse_query("a=%00", &bad));
}

TEST(HttpTraceParent, ValidAndInvalid) {
  auto tp = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(tp);
  EXPECT_EQ(tp->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(tp->parent_id, "00f067aa0ba902b7");
  EXPECT_EQ(tp->flags, "01");
  // Future version with an extra field.
  EXPECT_TRUE(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz"));
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // v00 is exact
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",    // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    // zero parent id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // forbidden version
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",    // upper case
           "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",     // short trace id
           "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
       }) {
    EXPECT_FALSE(parse_traceparent(bad)) << bad;
  }
}

TEST(HttpRequestId, Validation) {
  EXPECT_TRUE(valid_request_id("abc-123"));
  EXPECT_FALSE(valid_request_id(""));
  EXPECT_FALSE(valid_request_id("a b"));
  EXPECT_FALSE(valid_request_id(std::string(129, 'a')));
}

TEST(HttpRandomHex, LengthAndVariety) {
  std::string a = random_hex(16);
  std::string b = random_hex(16);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(random_hex(8).size(), 16u);
  EXPECT_EQ(random_hex(3).size(), 6u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
}

}  // namespace
}  // namespace sira::http::internal
