// NDJSON and nginx parsers (Envoy: parse_envoy_test.cpp): golden lines, every rejection reason,
// line splitting, IP checks.
#include "signals/parse.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace sira::signals {
namespace {

struct Parsed {
  bool ok = false;
  ApiRecord record;
  std::string reason;
};

Parsed parse_with(Format f, std::string_view line) {
  auto parser = make_parser(f);
  RecordView v;
  Parsed p;
  p.ok = parser->parse(line, &v, &p.reason);
  if (p.ok) p.record = ApiRecord(v);
  return p;
}

Parsed ndjson(std::string_view line) {
  return parse_with(Format::kNdjson, line);
}
Parsed nginx(std::string_view line) {
  return parse_with(Format::kNginx, line);
}

// A valid NDJSON record with one field replaced (or removed when value is empty).
std::string ndjson_with(const std::string& field, const std::string& value) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"ts", "1760104536123"}, {"key_id", "\"k1\""},  {"ip", "\"192.0.2.1\""},
      {"method", "\"GET\""},   {"path", "\"/v1/x\""}, {"status", "200"},
      {"latency_ms", "10"},    {"bytes", "100"},      {"user_agent", "\"ua\""}};
  std::string out = "{";
  for (auto& [k, v] : fields) {
    std::string val = k == field ? value : v;
    if (val.empty()) continue;
    if (out.size() > 1) out += ",";
    out += "\"" + k + "\":" + val;
  }
  return out + "}";
}

constexpr const char* kNginxTime = "[10/Oct/2025:13:55:36 +0200]";

// A valid nginx `sira` line with parts replaced.
std::string nginx_line(const std::string& ip = "203.0.113.7", const std::string& time = kNginxTime,
                       const std::string& request = "\"GET /v1/x?a=1 HTTP/1.1\"",
                       const std::string& status = "200", const std::string& bytes = "512",
                       const std::string& agent = "\"curl/8.0\"",
                       const std::string& seconds = "0.123",
                       const std::string& key = " \"key_1\"") {
  return ip + " - - " + time + " " + request + " " + status + " " + bytes + " \"-\" " + agent +
         " " + seconds + key;
}

TEST(ParseNdjson, GoldenCanonicalFields) {
  auto p = ndjson(
      R"({"ts":"2025-10-10T13:55:36.123Z","key_id":"key_live_1","ip":"203.0.113.7","method":"POST",)"
      R"("path":"/v1/payments?limit=10","status":201,"latency_ms":12.5,"bytes":512,)"
      R"("user_agent":"curl/8.0","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736",)"
      R"("span_id":"00f067aa0ba902b7"})");
  ASSERT_TRUE(p.ok) << p.reason;
  EXPECT_EQ(p.record.ts_ms, 1760104536123);
  EXPECT_EQ(p.record.key_id, "key_live_1");
  EXPECT_EQ(p.record.ip, "203.0.113.7");
  EXPECT_EQ(p.record.method, "POST");
  EXPECT_EQ(p.record.path, "/v1/payments");
  EXPECT_EQ(p.record.query, "limit=10");
  EXPECT_EQ(p.record.status, 201);
  EXPECT_DOUBLE_EQ(p.record.latency_ms, 12.5);
  EXPECT_EQ(p.record.bytes, 512);
  EXPECT_EQ(p.record.user_agent, "curl/8.0");
  EXPECT_EQ(p.record.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(p.record.span_id, "00f067aa0ba902b7");
}

TEST(ParseNdjson, GoldenAliasesEpochMs) {
  auto p =
      ndjson(R"({"timestamp":1760104536123,"keyId":"k2","client_ip":"2001:db8::1","method":"GET",)"
             R"("path":"/v1/x","query":"a=1","status_code":"404","duration_ms":"3.5",)"
             R"("response_bytes":0,"userAgent":"Mozilla \"quoted\" \u00e9","traceId":"not-hex",)"
             R"("spanId":null,"extra":{"nested":[1,2,{"x":"y"}]}})");
  ASSERT_TRUE(p.ok) << p.reason;
  EXPECT_EQ(p.record.ts_ms, 1760104536123);
  EXPECT_EQ(p.record.key_id, "k2");
  EXPECT_EQ(p.record.ip, "2001:db8::1");
  EXPECT_EQ(p.record.path, "/v1/x");
  EXPECT_EQ(p.record.query, "a=1");
  EXPECT_EQ(p.record.status, 404);
  EXPECT_DOUBLE_EQ(p.record.latency_ms, 3.5);
  EXPECT_EQ(p.record.user_agent, "Mozilla \"quoted\" \xC3\xA9");
  EXPECT_EQ(p.record.trace_id, "");  // malformed trace context is dropped, not fatal
  EXPECT_EQ(p.record.span_id, "");
}

TEST(ParseNdjson, GoldenOtherAliasesAndOffset) {
  auto p = ndjson(
      R"({"time":"2025-10-10T15:55:36+02:00","api_key_id":"k3","remote_addr":"::ffff:192.0.2.1",)"
      R"("method":"DELETE","path":"/a","status":500,"latency":0,"ua":"x"})");
  ASSERT_TRUE(p.ok) << p.reason;
  EXPECT_EQ(p.record.ts_ms, 1760104536000);
  EXPECT_EQ(p.record.key_id, "k3");
  EXPECT_EQ(p.record.ip, "::ffff:192.0.2.1");
  EXPECT_EQ(p.record.status, 500);
  EXPECT_EQ(p.record.latency_ms, 0);
  EXPECT_EQ(p.record.bytes, 0);
  EXPECT_EQ(p.record.user_agent, "x");
  // latency_ms as an alias target and remote_addr IPv6.
  auto q = ndjson(ndjson_with("ip", "\"fe80::1:2\""));
  ASSERT_TRUE(q.ok) << q.reason;
}

TEST(ParseNdjson, RejectionReasons) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"ts":)", "invalid json"},
      {"[1,2,3]", "invalid json"},
      {"not json", "invalid json"},
      {ndjson_with("bytes", "1") + " trailing", "invalid json"},
      {ndjson_with("key_id", std::string("\"a") + '\0' + "b\""), "invalid json"},  // raw NUL
      {ndjson_with("key_id", "\"a\tb\""), "invalid json"},     // raw control character
      {ndjson_with("key_id", "\"\\ud800\""), "invalid json"},  // lone surrogate escape
      {ndjson_with("path", "nul"), "invalid json"},            // looks like null (found by fuzzing)
      {ndjson_with("status", "nulL"), "invalid json"},
      {ndjson_with("key_id", "\"bad\xff\""), "invalid utf-8"},
      {ndjson_with("key_id", "\"a\\u0001b\""), "invalid character"},
      {ndjson_with("ts", ""), "missing field ts"},
      {ndjson_with("ts", "null"), "missing field ts"},
      {ndjson_with("key_id", ""), "missing field key_id"},
      {ndjson_with("key_id", "\"\""), "missing field key_id"},
      {ndjson_with("ip", ""), "missing field ip"},
      {ndjson_with("method", ""), "missing field method"},
      {ndjson_with("path", ""), "missing field path"},
      {ndjson_with("status", ""), "missing field status"},
      {ndjson_with("latency_ms", ""), "missing field latency_ms"},
      {ndjson_with("ts", "\"2025-13-01T00:00:00Z\""), "invalid timestamp"},
      {ndjson_with("ts", "\"yesterday\""), "invalid timestamp"},
      {ndjson_with("ts", "1.5"), "invalid timestamp"},
      {ndjson_with("ts", "-5"), "invalid timestamp"},
      {ndjson_with("ts", "true"), "invalid timestamp"},
      {ndjson_with("ip", "\"999.1.1.1\""), "invalid ip"},
      {ndjson_with("ip", "\"01.2.3.4\""), "invalid ip"},
      {ndjson_with("ip", "\"1.2.3.4:80\""), "invalid ip"},
      {ndjson_with("ip", "5"), "invalid ip"},
      {ndjson_with("latency_ms", "-1"), "negative latency"},
      {ndjson_with("latency_ms", "\"-0.5\""), "negative latency"},
      {ndjson_with("latency_ms", "\"fast\""), "invalid latency"},
      {ndjson_with("latency_ms", "true"), "invalid latency"},
      {ndjson_with("status", "99"), "invalid status"},
      {ndjson_with("status", "600"), "invalid status"},
      {ndjson_with("status", "200.5"), "invalid status"},
      {ndjson_with("status", "\"2x0\""), "invalid status"},
      {ndjson_with("key_id", "\"" + std::string(129, 'k') + "\""), "field too long"},
      {ndjson_with("path", "\"/" + std::string(2048, 'p') + "\""), "field too long"},
      {ndjson_with("path", "\"/p?" + std::string(4097, 'q') + "\""), "field too long"},
      {ndjson_with("user_agent", "\"" + std::string(1025, 'u') + "\""), "field too long"},
      {ndjson_with("method", "\"" + std::string(17, 'M') + "\""), "field too long"},
      {ndjson_with("bytes", "-1"), "invalid bytes"},
      {ndjson_with("bytes", "1.5"), "invalid bytes"},
      {ndjson_with("bytes", "\"x\""), "invalid bytes"},
      {ndjson_with("method", "\"GE T\""), "invalid method"},
      {ndjson_with("key_id", "42"), "invalid key_id"},
      {ndjson_with("user_agent", "[\"a\"]"), "invalid user_agent"},
      {ndjson_with("unknown", "") + std::string((1 << 20) + 1, ' '), "line too long"},
  };
  for (const auto& [line, reason] : cases) {
    auto p = ndjson(line);
    EXPECT_FALSE(p.ok) << line;
    EXPECT_EQ(p.reason, reason) << line;
  }
  // Limits are inclusive.
  EXPECT_TRUE(ndjson(ndjson_with("key_id", "\"" + std::string(128, 'k') + "\"")).ok);
  EXPECT_TRUE(ndjson(ndjson_with("user_agent", "\"" + std::string(1024, 'u') + "\"")).ok);
}

TEST(ParseNginx, GoldenSiraFormat) {
  auto p = nginx(
      R"(203.0.113.7 - - [10/Oct/2025:13:55:36 +0200] "GET /v1/payments?limit=10&x=%20 HTTP/1.1" )"
      R"(200 1234 "https://example.com/" "Mozilla/5.0 (X11) \"quoted\"" 0.123 "key_live_1")");
  ASSERT_TRUE(p.ok) << p.reason;
  EXPECT_EQ(p.record.ts_ms, 1760097336000);
  EXPECT_EQ(p.record.ip, "203.0.113.7");
  EXPECT_EQ(p.record.method, "GET");
  EXPECT_EQ(p.record.path, "/v1/payments");
  EXPECT_EQ(p.record.query, "limit=10&x=%20");
  EXPECT_EQ(p.record.status, 200);
  EXPECT_EQ(p.record.bytes, 1234);
  EXPECT_EQ(p.record.user_agent, "Mozilla/5.0 (X11) \"quoted\"");
  EXPECT_NEAR(p.record.latency_ms, 123, 1e-9);
  EXPECT_EQ(p.record.key_id, "key_live_1");
}

TEST(ParseNginx, GoldenCombinedWithoutKeyAndIpv6) {
  auto p = nginx(
      R"(2001:db8::1 - alice [10/Oct/2025:13:55:36 -0130] "POST /login HTTP/2.0" 401 0 "-" "-" 1.5)");
  ASSERT_TRUE(p.ok) << p.reason;
  EXPECT_EQ(p.record.ts_ms, 1760109936000);
  EXPECT_EQ(p.record.ip, "2001:db8::1");
  EXPECT_EQ(p.record.key_id, "-");
  EXPECT_EQ(p.record.user_agent, "");
  EXPECT_EQ(p.record.query, "");
  EXPECT_NEAR(p.record.latency_ms, 1500, 1e-9);
  // nginx escape=default hex escapes are decoded; "-" key stays "-".
  auto q = nginx(nginx_line("::ffff:10.0.0.1", kNginxTime, "\"GET /caf\\xC3\\xA9 HTTP/1.1\"", "304",
                            "-", "\"agent \\x22x\\x22\"", "0.000", " \"-\""));
  ASSERT_TRUE(q.ok) << q.reason;
  EXPECT_EQ(q.record.path, "/caf\xC3\xA9");
  EXPECT_EQ(q.record.user_agent, "agent \"x\"");
  EXPECT_EQ(q.record.bytes, 0);
  EXPECT_EQ(q.record.key_id, "-");
  // Cached time: a second line with the same $time_local.
  auto r = nginx(nginx_line());
  ASSERT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.record.ts_ms, 1760097336000);
  EXPECT_EQ(r.record.key_id, "key_1");
  // Absolute-form request target.
  auto s = nginx(nginx_line("1.2.3.4", kNginxTime, "\"GET http://example.com/p?q=1 HTTP/1.1\""));
  ASSERT_TRUE(s.ok) << s.reason;
  EXPECT_EQ(s.record.path, "/p");
  EXPECT_EQ(s.record.query, "q=1");
}

TEST(ParseNginx, RejectionReasons) {
  const std::string good_time = kNginxTime;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {nginx_line("1.2.3"), "invalid ip"},
      {nginx_line("256.1.1.1"), "invalid ip"},
      {"1.2.3.4 - -", "missing field ts"},
      {nginx_line("1.2.3.4", "[10/Foo/2025:13:55:36 +0200]"), "invalid timestamp"},
      {nginx_line("1.2.3.4", "[31/Nov/2025:13:55:36 +0200]"), "invalid timestamp"},
      {nginx_line("1.2.3.4", "[10/Oct/2025:13:55:36]"), "invalid timestamp"},
      {nginx_line("1.2.3.4", good_time, "\"-\""), "invalid request line"},
      {nginx_line("1.2.3.4", good_time, "\"GARBAGE\""), "invalid request line"},
      {nginx_line("1.2.3.4", good_time, "\"GET relative HTTP/1.1\""), "invalid request line"},
      {nginx_line("1.2.3.4", good_time, "\"GET / FTP/1.0\""), "invalid request line"},
      {nginx_line("1.2.3.4", good_time, "GET / HTTP/1.1"), "invalid request line"},
      {nginx_line("1.2.3.4", good_time, "\"" + std::string(17, 'M') + " / HTTP/1.1\""),
       "field too long"},
      {nginx_line("1.2.3.4", good_time, "\"GET /" + std::string(2048, 'p') + " HTTP/1.1\""),
       "field too long"},
      {nginx_line("1.2.3.4", good_time, "\"GET /a\\x01 HTTP/1.1\""), "invalid character"},
      {nginx_line("1.2.3.4", good_time, "\"GET /\\xff HTTP/1.1\""), "invalid utf-8"},
      {nginx_line("1.2.3.4", good_time, "\"GET / HTTP/1.1\"", "99"), "invalid status"},
      {nginx_line("1.2.3.4", good_time, "\"GET / HTTP/1.1\"", "600"), "invalid status"},
      {nginx_line("1.2.3.4", good_time, "\"GET / HTTP/1.1\"", "abc"), "invalid status"},
      {nginx_line("1.2.3.4", good_time, "\"GET / HTTP/1.1\"", "200", "12a"), "invalid bytes"},
      {nginx_line("1.2.3.4", good_time, "\"GET / HTTP/1.1\"", "200", "1", "\"unterminated", "", ""),
       "invalid line"},
      {nginx_line("1.2.3.4", good_time, "\"GET / HTTP/1.1\"", "200", "1", "\"bad \xC3(\""),
       "invalid utf-8"},
      {nginx_line("1.2.3.4", good_time, "\"GET / HTTP/1.1\"", "200", "1",
                  "\"" + std::string(1025, 'u') + "\""),
       "field too long"},
      {nginx_line("1.2.3.4", good_time, "\"GET / HTTP/1.1\"", "200", "1", "\"a\\x00b\""),
       "invalid character"},
      {nginx_line("1.2.3.4", good_time, "\"GET / HTTP/1.1\"", "200", "1", "\"ua\"", "-0.5"),
       "negative latency"},
      {nginx_line("1.2.3.4", good_time, "\"GET / HTTP/1.1\"", "200", "1", "\"ua\"", "abc"),
       "invalid latency"},
      {nginx_line("1.2.3.4", good_time, "\"GET / HTTP/1.1\"", "200", "1", "\"ua\"", "nan"),
       "invalid latency"},
      {nginx_line("1.2.3.4", good_time, "\"GET / HTTP/1.1\"", "200", "1", "\"ua\"", "", ""),
       "missing field latency_ms"},
      {nginx_line("1.2.3.4", good_time, "\"GET / HTTP/1.1\"", "200", "1", "\"ua\"", "0.1",
                  " \"" + std::string(129, 'k') + "\""),
       "field too long"},
      {nginx_line("1.2.3.4", good_time, "\"GET / HTTP/1.1\"", "200", "1", "\"ua\"", "0.1",
                  " \"unterminated"),
       "invalid line"},
      {nginx_line() + std::string((1 << 20) + 1, ' '), "line too long"},
  };
  for (const auto& [line, reason] : cases) {
    auto p = nginx(line);
    EXPECT_FALSE(p.ok) << line;
    EXPECT_EQ(p.reason, reason) << line;
  }
}

TEST(ParseLines, CrlfEmptyFinalNulAndUtf8) {
  auto parser = make_parser(Format::kNdjson);
  const std::string good = ndjson_with("bytes", "1");
  std::string data;
  data += good + "\r\n";                                 // line 10: CRLF
  data += "\r\n";                                        // line 11: empty
  data += "   \n";                                       // line 12: blank
  data += "{\"broken\n";                                 // line 13: invalid json
  data += std::string("{\"ts\":1,\0}", 10) + "\n";       // line 14: NUL byte
  data += ndjson_with("key_id", "\"\xC3\x28\"") + "\n";  // line 15: invalid UTF-8
  data += "\n";                                          // line 16: empty
  data += good;                                          // line 17: no final newline
  std::vector<ApiRecord> records;
  std::vector<std::pair<int64_t, std::string>> rejects;
  ParseStats stats;
  parse_lines(
      *parser, data, 10, [&](const RecordView& r) { records.emplace_back(r); },
      [&](int64_t line, std::string_view reason) {
        rejects.emplace_back(line, std::string(reason));
      },
      &stats);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].key_id, "k1");
  EXPECT_EQ(records[1].user_agent, "ua");
  ASSERT_EQ(rejects.size(), 3u);
  EXPECT_EQ(rejects[0], (std::pair<int64_t, std::string>{13, "invalid json"}));
  EXPECT_EQ(rejects[1], (std::pair<int64_t, std::string>{14, "invalid json"}));
  EXPECT_EQ(rejects[2], (std::pair<int64_t, std::string>{15, "invalid utf-8"}));
  EXPECT_EQ(stats.lines, 5);
  EXPECT_EQ(stats.records, 2);
  EXPECT_EQ(stats.rejected, 3);
  EXPECT_EQ(stats.reasons["invalid json"], 2);
  EXPECT_EQ(stats.reasons["invalid utf-8"], 1);
}

TEST(ParseLines, NginxStreamWithBomAndNullCallbacks) {
  auto parser = make_parser(Format::kNginx);
  std::string data = "\xEF\xBB\xBF" + nginx_line() + "\n" + nginx_line("bad-ip") + "\r\n" +
                     nginx_line("::1") + "\n";
  data += std::string("1.2.3.4 - - ") + kNginxTime + " \"GET /" + '\0' +
          " HTTP/1.1\" 200 1 \"-\" \"-\" 0.1\n";
  ParseStats stats;
  parse_lines(*parser, data, 1, nullptr, nullptr, &stats);
  EXPECT_EQ(stats.lines, 4);
  EXPECT_EQ(stats.records, 2);
  EXPECT_EQ(stats.reasons["invalid ip"], 1);
  EXPECT_EQ(stats.reasons["invalid character"], 1);
  parse_lines(*parser, "", 1, nullptr, nullptr, nullptr);  // no stats: no crash
}

TEST(ParseIp, StrictIpv4AndIpv6) {
  for (const char* ok :
       {"0.0.0.0", "1.2.3.4", "255.255.255.255", "10.0.0.10", "::", "::1", "1::", "2001:db8::1",
        "2001:0db8:0000:0000:0000:ff00:0042:8329", "fe80::1:2:3:4:5:6", "::ffff:192.0.2.1",
        "64:ff9b::192.0.2.33", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4", "ABCD:ef01::"}) {
    EXPECT_TRUE(valid_ip(ok)) << ok;
  }
  for (const char* bad : {"",
                          "1.2.3",
                          "1.2.3.4.5",
                          "256.1.1.1",
                          "01.2.3.4",
                          "1.2.3.04",
                          "1..2.3",
                          "1.2.3.4 ",
                          " 1.2.3.4",
                          "1.2.3.-4",
                          "a.b.c.d",
                          "1.2.3.4/24",
                          ":",
                          ":::",
                          "1:2:3:4:5:6:7:8:9",
                          "1:2:3:4:5:6:7",
                          "1::2::3",
                          "12345::",
                          ":1::",
                          "1:",
                          "::g",
                          "fe80::1%eth0",
                          "[::1]",
                          "1:2:3:4:5:6:7:1.2.3.4",
                          "::1.2.3",
                          "::ffff:256.0.0.1",
                          "1.2.3.4:80"}) {
    EXPECT_FALSE(valid_ip(bad)) << bad;
  }
}

TEST(ParseFormat, Names) {
  Format f = Format::kNginx;
  EXPECT_TRUE(parse_format("ndjson", &f));
  EXPECT_EQ(f, Format::kNdjson);
  EXPECT_TRUE(parse_format("nginx", &f));
  EXPECT_EQ(f, Format::kNginx);
  EXPECT_TRUE(parse_format("envoy", &f));
  EXPECT_EQ(f, Format::kEnvoy);
  EXPECT_FALSE(parse_format("csv", &f));
  EXPECT_FALSE(parse_format("Envoy", &f));
  EXPECT_EQ(f, Format::kEnvoy);  // unchanged on failure
}

TEST(SignalsRecord, RoundTrip) {
  RecordView v;
  v.ts_ms = 5;
  v.key_id = "k";
  v.ip = "::1";
  v.method = "GET";
  v.path = "/p";
  v.query = "q";
  v.status = 204;
  v.latency_ms = 1.5;
  v.bytes = 7;
  v.user_agent = "ua";
  v.trace_id = "t";
  v.span_id = "s";
  ApiRecord r(v);
  RecordView back = r.view();
  EXPECT_EQ(back.ts_ms, 5);
  EXPECT_EQ(back.key_id, "k");
  EXPECT_EQ(back.ip, "::1");
  EXPECT_EQ(back.query, "q");
  EXPECT_EQ(back.status, 204);
  EXPECT_EQ(back.bytes, 7);
  EXPECT_EQ(back.span_id, "s");
  EXPECT_EQ(back.key_id.data(), r.key_id.data());
}

}  // namespace
}  // namespace sira::signals
