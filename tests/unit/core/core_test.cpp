// Unit tests of src/core: JSON parsing, config precedence and errors, RFC 3339, ids, metrics.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <unistd.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/crypto.h"
#include "core/ids.h"
#include "core/json.h"
#include "core/metrics.h"

namespace sira {
namespace {

TEST(Json, ParsesObjectsAndRejectsGarbage) {
  EXPECT_TRUE(json::parse_object(R"({"a":1})").has_value());
  auto arr = json::parse_object("[1,2]");
  ASSERT_FALSE(arr.has_value());
  EXPECT_EQ(arr.error().code, ErrorCode::kInvalidArgument);
  for (const char* bad : {"{", "{\"a\":1} trailing", "", "{'a':1}"}) {
    auto r = json::parse_object(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kMalformedJson) << bad;
  }
}

TEST(Json, RejectsInvalidUtf8AndDeepNesting) {
  EXPECT_FALSE(json::valid_utf8("\xc3\x28"));
  EXPECT_FALSE(json::valid_utf8("\xed\xa0\x80"));  // surrogate
  EXPECT_FALSE(json::valid_utf8("\xc0\xaf"));      // overlong
  EXPECT_TRUE(json::valid_utf8("h\xc3\xa9llo \xf0\x9f\x98\x80"));
  EXPECT_FALSE(json::parse_object("{\"a\":\"\xff\"}").has_value());
  std::string deep(40, '[');
  deep += std::string(40, ']');
  EXPECT_FALSE(json::parse(deep).has_value());
}

TEST(Json, FieldReadersNameTheField) {
  auto o = *json::parse_object(R"({"name":123,"n":1e400,"big":123456789012345678901234567890,"ok":5,"roles":["a",1]})");
  auto s = json::required_string(o, "name");
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().field, "name");
  EXPECT_FALSE(json::optional_int(o, "big").has_value());
  EXPECT_EQ(*json::optional_int(o, "ok").value(), 5);
  EXPECT_FALSE(json::optional_string_array(o, "roles").has_value());
  auto unknown = json::only_fields(o, {"name"});
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.error().detail.find("unknown field"), std::string::npos);
}

TEST(Json, HugeNumbersAreNotIntegers) {
  auto o = json::parse_object(R"({"n":1e400,"m":1.5,"k":-9223372036854775808})");
  ASSERT_TRUE(o.has_value());
  EXPECT_FALSE(json::optional_int(*o, "n").has_value());
  EXPECT_FALSE(json::optional_int(*o, "m").has_value());
  EXPECT_EQ(*json::optional_int(*o, "k").value(), INT64_MIN);
}

TEST(Clock, Rfc3339RoundTripAndOffsets) {
  int64_t ms = 0;
  ASSERT_TRUE(parse_rfc3339("2025-01-15T10:00:00Z", &ms));
  EXPECT_EQ(ms, 1736935200000);
  EXPECT_EQ(format_rfc3339_ms(ms), "2025-01-15T10:00:00.000Z");
  ASSERT_TRUE(parse_rfc3339("2025-01-15T12:00:00.250+02:00", &ms));
  EXPECT_EQ(ms, 1736935200250);
  for (const char* bad : {"2025-01-15", "2025-13-01T00:00:00Z", "2025-01-15T10:00:00", "x"})
    EXPECT_FALSE(parse_rfc3339(bad, &ms)) << bad;
}

TEST(Ids, PrefixedSortableAndValid) {
  ManualClock clock(TimePoint(std::chrono::milliseconds(1700000000000)));
  std::string a = new_id("inc", clock);
  clock.advance(std::chrono::milliseconds(1));
  std::string b = new_id("inc", clock);
  EXPECT_TRUE(is_valid_id(a, "inc"));
  EXPECT_FALSE(is_valid_id(a, "sug"));
  EXPECT_LT(a, b);
  EXPECT_NE(new_id("inc", clock), new_id("inc", clock));
}

TEST(Crypto, KnownVectorsAndEncodings) {
  EXPECT_EQ(hex_encode(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string out;
  ASSERT_TRUE(base64url_decode(base64url_encode("hello?>"), &out));
  EXPECT_EQ(out, "hello?>");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_FALSE(base64url_decode("a+b", &out));
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
}

class ConfigTest : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    // Unique per test and process: ctest runs tests of this binary in parallel.
    path_ = ::testing::TempDir() + "sira_config_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name() + "_" +
            std::to_string(::getpid()) + ".yaml";
    std::ofstream(path_) << text;
    return path_;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  std::string path_;
};

TEST_F(ConfigTest, FileThenEnvironmentThenFlags) {
  auto p = write("listen: 127.0.0.1:9000\nhttp:\n  max_body_bytes: 4096\n  threads: 3\n");
  auto c = load_config(p, {{"SIRA_HTTP_THREADS", "5"}, {"SIRA_UNRELATED", "x"}},
                       {{"listen", "127.0.0.1:9100"}});
  ASSERT_TRUE(c.has_value()) << c.error().detail;
  EXPECT_EQ(c->http.max_body_bytes, 4096);
  EXPECT_EQ(c->http.threads, 5);
  EXPECT_EQ(c->listen, "127.0.0.1:9100");
}

TEST_F(ConfigTest, SeedEnvironmentNamesAndKafkaProperties) {
  auto c = load_config("", {{"METRICS_RETENTION_DAYS", "30"}, {"TRACES_RETENTION_DAYS", "3"}}, {});
  ASSERT_TRUE(c.has_value()) << c.error().detail;
  EXPECT_EQ(c->signals.metrics_retention_days, 30);
  EXPECT_EQ(c->signals.traces_retention_days, 3);
  // The SIRA_ name wins over the seed's.
  c = load_config("", {{"METRICS_RETENTION_DAYS", "30"}, {"SIRA_SIGNALS_METRICS_RETENTION_DAYS", "60"}},
                  {});
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->signals.metrics_retention_days, 60);
  c = load_config("", {{"TRACES_RETENTION_DAYS", "0"}}, {});
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().field, "signals.traces_retention_days");

  c = load_config("", {{"SIRA_KAFKA_PROPERTIES", "security.protocol=SSL,session.timeout.ms=6000"}}, {});
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->kafka.properties, "security.protocol=SSL,session.timeout.ms=6000");
  for (const char* bad : {"novalue", "a=1,,b=2", "=x", "a=1,"}) {
    c = load_config("", {{"SIRA_KAFKA_PROPERTIES", bad}}, {});
    ASSERT_FALSE(c.has_value()) << bad;
    EXPECT_EQ(c.error().field, "kafka.properties");
  }
  c = load_config("", {}, {{"signals.nginx_key", "query:"}});
  ASSERT_FALSE(c.has_value());
  c = load_config("", {}, {{"kafka.format", "avro"}});
  ASSERT_FALSE(c.has_value());
}

TEST_F(ConfigTest, BadValuesNameTheKey) {
  auto c = load_config(write("http:\n  max_body_bytes: -5\n"), {}, {});
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().field, "http.max_body_bytes");
  EXPECT_NE(c.error().detail.find("http.max_body_bytes"), std::string::npos);

  c = load_config(write("htp:\n  threads: 2\n"), {}, {});
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().detail.find("unknown key \"htp.threads\""), std::string::npos);

  c = load_config("", {{"SIRA_LOG_FORMAT", "xml"}}, {});
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().detail.find("SIRA_LOG_FORMAT"), std::string::npos);

  c = load_config("", {}, {{"listen", "localhost"}});
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().field, "listen");

  c = load_config(write("listen: [a, b]\n"), {}, {});
  ASSERT_FALSE(c.has_value());
  c = load_config(write("a: b: c\n"), {}, {});
  ASSERT_FALSE(c.has_value());
  c = load_config("/nonexistent/sira.yaml", {}, {});
  ASSERT_FALSE(c.has_value());
}

TEST(Metrics, RendersPrometheusText) {
  MetricsRegistry m;
  m.counter("reqs_total", "Requests.", {{"route", "/a"}, {"status", "200"}}).inc();
  m.counter("reqs_total", "Requests.", {{"route", "/a"}, {"status", "200"}}).inc(2);
  m.gauge("temp", "T.").set(1.5);
  auto& h = m.histogram("lat_seconds", "L.", {0.1, 1}, {{"route", "/a\"b"}});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  std::string text = m.render();
  EXPECT_NE(text.find("# TYPE reqs_total counter\nreqs_total{route=\"/a\",status=\"200\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("temp 1.5\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{route=\"/a\\\"b\",le=\"0.1\"} 1\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("lat_seconds_bucket{route=\"/a\\\"b\",le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{route=\"/a\\\"b\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_count{route=\"/a\\\"b\"} 3\n"), std::string::npos);
}

}  // namespace
}  // namespace sira
