// Envoy JSON access-log parser and the key options of the nginx and Envoy parsers.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "signals/parse.h"

namespace sira::signals {
namespace {

struct Parsed {
  bool ok = false;
  ApiRecord record;
  std::string reason;
};

Parsed parse_with(Format f, const ParseOptions& options, std::string_view line) {
  auto parser = make_parser(f, options);
  RecordView v;
  Parsed p;
  p.ok = parser->parse(line, &v, &p.reason);
  if (p.ok) p.record = ApiRecord(v);
  return p;
}

Parsed envoy(std::string_view line, const ParseOptions& options = {}) {
  return parse_with(Format::kEnvoy, options, line);
}

Parsed nginx_keyed(std::string_view nginx_key, std::string_view line) {
  ParseOptions o;
  o.nginx_key = std::string(nginx_key);
  return parse_with(Format::kNginx, o, line);
}

// A line as Envoy writes it with json_format holding the fields of its default text format, an
// api_key field (%REQ(X-API-KEY)%) and a traceparent (%REQ(TRACEPARENT)%).
constexpr const char* kEnvoyLine =
    R"({"start_time":"2026-11-22T10:00:00.123Z","method":"POST",)"
    R"("path":"/v1/payments?limit=10&api_key=from_query","protocol":"HTTP/1.1",)"
    R"("response_code":201,"response_flags":"-","bytes_received":34,"bytes_sent":512,)"
    R"("duration":12,"upstream_service_time":"10","x_forwarded_for":"203.0.113.7, 10.0.0.1",)"
    R"("user_agent":"curl/8.4.0","request_id":"5b1c0a6e-3d9f-4c8e-9a51-2f0d1d7e8b11",)"
    R"("authority":"api.example.com","upstream_host":"10.1.2.3:8080",)"
    R"("downstream_remote_address":"10.0.0.9:51234","api_key":"key_live_1",)"
    R"("traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})";

// A valid Envoy line with one field replaced by a raw JSON value, or removed when it is empty.
std::string envoy_with(const std::string& field, const std::string& value,
                       const std::string& field2 = "", const std::string& value2 = "") {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"start_time", "\"2026-11-22T10:00:00.123Z\""},
      {"method", "\"GET\""},
      {"path", "\"/v1/x?a=1\""},
      {"protocol", "\"HTTP/2\""},
      {"response_code", "200"},
      {"response_flags", "\"-\""},
      {"bytes_received", "0"},
      {"bytes_sent", "100"},
      {"duration", "7"},
      {"upstream_service_time", "\"5\""},
      {"x_forwarded_for", "\"198.51.100.4\""},
      {"user_agent", "\"ua\""},
      {"request_id", "\"r1\""},
      {"authority", "\"api.example.com\""},
      {"upstream_host", "\"10.1.2.3:8080\""},
      {"api_key", "\"k1\""}};
  bool seen = false, seen2 = false;
  std::string out = "{";
  auto add = [&](const std::string& k, const std::string& v) {
    if (v.empty()) return;
    if (out.size() > 1) out += ",";
    out += "\"" + k + "\":" + v;
  };
  for (auto& [k, v] : fields) {
    if (k == field) {
      seen = true;
      add(k, value);
    } else if (k == field2) {
      seen2 = true;
      add(k, value2);
    } else {
      add(k, v);
    }
  }
  if (!seen && !field.empty()) add(field, value);
  if (!seen2 && !field2.empty()) add(field2, value2);
  return out + "}";
}

TEST(ParseEnvoy, GoldenDefaultFormat) {
  auto p = envoy(kEnvoyLine);
  ASSERT_TRUE(p.ok) << p.reason;
  EXPECT_EQ(p.record.ts_ms, 1795341600123);
  EXPECT_EQ(p.record.key_id, "key_live_1");
  EXPECT_EQ(p.record.ip, "203.0.113.7");  // first X-Forwarded-For hop, not the peer
  EXPECT_EQ(p.record.method, "POST");
  EXPECT_EQ(p.record.path, "/v1/payments");
  EXPECT_EQ(p.record.query, "limit=10&api_key=from_query");
  EXPECT_EQ(p.record.status, 201);
  EXPECT_DOUBLE_EQ(p.record.latency_ms, 12);
  EXPECT_EQ(p.record.bytes, 512);  // bytes_sent, not bytes_received
  EXPECT_EQ(p.record.user_agent, "curl/8.4.0");
  EXPECT_EQ(p.record.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(p.record.span_id, "00f067aa0ba902b7");
}

TEST(ParseEnvoy, DashAndNullReadAsAbsent) {
  // Envoy's text rendering of missing values, kept by json_format configs.
  auto p = envoy(
      envoy_with("x_forwarded_for", "\"-\"", "downstream_remote_address", "\"192.0.2.10:443\""));
  ASSERT_TRUE(p.ok) << p.reason;
  EXPECT_EQ(p.record.ip, "192.0.2.10");
  for (const char* absent : {"\"-\"", "null", "\"\"", ""}) {
    auto q = envoy(envoy_with("api_key", absent, "user_agent", absent));
    ASSERT_TRUE(q.ok) << absent << ": " << q.reason;
    EXPECT_EQ(q.record.key_id, "-") << absent;
    EXPECT_EQ(q.record.user_agent, "") << absent;
  }
  for (const char* absent : {"\"-\"", "null", ""}) {
    auto q = envoy(envoy_with("bytes_sent", absent, "upstream_service_time", absent));
    ASSERT_TRUE(q.ok) << absent << ": " << q.reason;
    EXPECT_EQ(q.record.bytes, 0) << absent;
  }
  // Required fields that Envoy rendered as missing.
  EXPECT_EQ(envoy(envoy_with("start_time", "\"-\"")).reason, "missing field ts");
  EXPECT_EQ(envoy(envoy_with("method", "null")).reason, "missing field method");
  EXPECT_EQ(envoy(envoy_with("path", "\"-\"")).reason, "missing field path");
  EXPECT_EQ(envoy(envoy_with("response_code", "\"-\"")).reason, "missing field status");
  EXPECT_EQ(envoy(envoy_with("duration", "null")).reason, "missing field latency_ms");
  EXPECT_EQ(envoy(envoy_with("x_forwarded_for", "\"-\"")).reason, "missing field ip");
}

TEST(ParseEnvoy, NumbersAsNumericStrings) {
  auto p = envoy(envoy_with("response_code", "\"404\"", "duration", "\"3.5\""));
  ASSERT_TRUE(p.ok) << p.reason;
  EXPECT_EQ(p.record.status, 404);
  EXPECT_DOUBLE_EQ(p.record.latency_ms, 3.5);
  auto q = envoy(envoy_with("bytes_sent", "\"2048\"", "start_time", "\"1795341600123\""));
  ASSERT_TRUE(q.ok) << q.reason;
  EXPECT_EQ(q.record.bytes, 2048);
  EXPECT_EQ(q.record.ts_ms, 1795341600123);
  auto r = envoy(envoy_with("start_time", "1795341600000", "duration", "0"));
  ASSERT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.record.ts_ms, 1795341600000);
  EXPECT_EQ(r.record.latency_ms, 0);
  auto s = envoy(envoy_with("start_time", "\"2026-11-22T11:00:00.5+01:00\""));
  ASSERT_TRUE(s.ok) << s.reason;
  EXPECT_EQ(s.record.ts_ms, 1795341600500);
}

TEST(ParseEnvoy, ClientAddress) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      // X-Forwarded-For: first hop, trimmed.
      {envoy_with("x_forwarded_for", "\"  198.51.100.2 , 10.0.0.1,10.0.0.2\""), "198.51.100.2"},
      {envoy_with("x_forwarded_for", "\"2001:db8::7, 10.0.0.1\""), "2001:db8::7"},
      {envoy_with("x_forwarded_for", "\"198.51.100.2:4711\""), "198.51.100.2"},
      {envoy_with("x_forwarded_for", "\"[2001:db8::8]:4711, 10.0.0.1\""), "2001:db8::8"},
      // The peer when X-Forwarded-For is absent, "-" or junk.
      {envoy_with("x_forwarded_for", "", "downstream_remote_address", "\"192.0.2.1:5678\""),
       "192.0.2.1"},
      {envoy_with("x_forwarded_for", "null", "downstream_remote_address", "\"[2001:db8::1]:443\""),
       "2001:db8::1"},
      {envoy_with("x_forwarded_for", "\"unknown\"", "downstream_remote_address",
                  "\"192.0.2.1:5678\""),
       "192.0.2.1"},
      {envoy_with("x_forwarded_for", "\", 10.0.0.1\"", "downstream_remote_address",
                  "\"192.0.2.1:5678\""),
       "192.0.2.1"},
      {envoy_with("x_forwarded_for", "", "downstream_remote_address_without_port",
                  "\"2001:db8::2\""),
       "2001:db8::2"},
      {envoy_with("x_forwarded_for", "", "downstream_remote_address", "\"::1\""), "::1"},
      {envoy_with("x_forwarded_for", "\"-\"", "downstream_remote_address", "\"[::1]\""), "::1"},
  };
  for (const auto& [line, ip] : cases) {
    auto p = envoy(line);
    ASSERT_TRUE(p.ok) << line << ": " << p.reason;
    EXPECT_EQ(p.record.ip, ip) << line;
  }
}

TEST(ParseEnvoy, TraceContext) {
  const std::string tp = "\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\"";
  auto p = envoy(envoy_with("traceparent", tp));
  ASSERT_TRUE(p.ok) << p.reason;
  EXPECT_EQ(p.record.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(p.record.span_id, "00f067aa0ba902b7");
  // A later version may append fields.
  auto later = envoy(
      envoy_with("traceparent", "\"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x\""));
  ASSERT_TRUE(later.ok) << later.reason;
  EXPECT_EQ(later.record.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  // Explicit fields win over traceparent.
  auto q = envoy(envoy_with("traceparent", tp, "trace_id", "\"0af7651916cd43dd8448eb211c80319c\""));
  ASSERT_TRUE(q.ok) << q.reason;
  EXPECT_EQ(q.record.trace_id, "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(q.record.span_id, "");
  auto r = envoy(envoy_with("trace_id", "\"0af7651916cd43dd8448eb211c80319c\"", "span_id",
                            "\"b7ad6b7169203331\""));
  ASSERT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.record.trace_id, "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(r.record.span_id, "b7ad6b7169203331");
  // Malformed trace context is dropped; the line is still accepted.
  for (const char* bad :
       {"\"-\"", "null", "\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7\"",
        "\"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01\"",
        "\"00-00000000000000000000000000000000-00f067aa0ba902b7-01\"",
        "\"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01\"",
        "\"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\"",
        "\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra\"",
        "\"00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01\""}) {
    auto b = envoy(envoy_with("traceparent", bad));
    ASSERT_TRUE(b.ok) << bad << ": " << b.reason;
    EXPECT_EQ(b.record.trace_id, "") << bad;
    EXPECT_EQ(b.record.span_id, "") << bad;
  }
}

TEST(ParseEnvoy, KeyFromConfiguredFieldOrQuery) {
  ParseOptions header;
  header.envoy_key = "x_api_key";
  auto p = envoy(envoy_with("x_api_key", "\"key_hdr\""), header);
  ASSERT_TRUE(p.ok) << p.reason;
  EXPECT_EQ(p.record.key_id, "key_hdr");  // the default api_key field is now ignored
  auto missing = envoy(envoy_with("api_key", "\"k1\""), header);
  ASSERT_TRUE(missing.ok) << missing.reason;
  EXPECT_EQ(missing.record.key_id, "-");

  ParseOptions query;
  query.envoy_key = "query:api_key";
  auto q = envoy(kEnvoyLine, query);
  ASSERT_TRUE(q.ok) << q.reason;
  EXPECT_EQ(q.record.key_id, "from_query");
  EXPECT_EQ(q.record.query, "limit=10&api_key=from_query");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/v1/x", "-"},
      {"/v1/x?api_key=", "-"},
      {"/v1/x?api_key", "-"},
      {"/v1/x?xapi_key=no&api_key=yes", "yes"},
      {"/v1/x?api_key=&api_key=second", "second"},
      {"/v1/x?api_key=a%20b&api_key=c", "a%20b"},  // raw, first non-empty value
  };
  for (const auto& [path, key] : cases) {
    auto r = envoy(envoy_with("path", "\"" + path + "\""), query);
    ASSERT_TRUE(r.ok) << path << ": " << r.reason;
    EXPECT_EQ(r.record.key_id, key) << path;
  }
  auto long_key =
      envoy(envoy_with("path", "\"/v1/x?api_key=" + std::string(129, 'k') + "\""), query);
  EXPECT_EQ(long_key.reason, "field too long");
}

TEST(ParseEnvoy, RejectionReasons) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"start_time":)", "invalid json"},
      {"[1]", "invalid json"},
      {"198.51.100.4 - - [10/Oct/2025:13:55:36 +0200] \"GET / HTTP/1.1\" 200 1", "invalid json"},
      {envoy_with("bytes_sent", "1") + "x", "invalid json"},
      {envoy_with("user_agent", "\"bad\xff\""), "invalid utf-8"},
      {envoy_with("user_agent", "\"a\\u0007b\""), "invalid character"},
      {envoy_with("start_time", ""), "missing field ts"},
      {envoy_with("x_forwarded_for", ""), "missing field ip"},
      {envoy_with("method", ""), "missing field method"},
      {envoy_with("path", ""), "missing field path"},
      {envoy_with("path", "\"?a=1\""), "missing field path"},
      {envoy_with("response_code", ""), "missing field status"},
      {envoy_with("duration", ""), "missing field latency_ms"},
      {envoy_with("start_time", "\"22/Nov/2026:10:00:00 +0000\""), "invalid timestamp"},
      {envoy_with("start_time", "-1"), "invalid timestamp"},
      {envoy_with("x_forwarded_for", "\"999.1.1.1\""), "invalid ip"},
      {envoy_with("x_forwarded_for", "\"unknown\""), "invalid ip"},
      {envoy_with("x_forwarded_for", "\"-\"", "downstream_remote_address", "\"1.2.3:80\""),
       "invalid ip"},
      {envoy_with("x_forwarded_for", "\"-\"", "downstream_remote_address", "\"[::1]:http\""),
       "invalid ip"},
      {envoy_with("x_forwarded_for", "\"-\"", "downstream_remote_address",
                  "\"/var/run/envoy.sock\""),
       "invalid ip"},
      {envoy_with("x_forwarded_for", "42"), "invalid ip"},
      {envoy_with("response_code", "0"), "invalid status"},
      {envoy_with("response_code", "\"0\""), "invalid status"},
      {envoy_with("response_code", "600"), "invalid status"},
      {envoy_with("response_code", "200.5"), "invalid status"},
      {envoy_with("response_code", "true"), "invalid status"},
      {envoy_with("duration", "-1"), "negative latency"},
      {envoy_with("duration", "\"fast\""), "invalid latency"},
      {envoy_with("duration", "\"nan\""), "invalid latency"},
      {envoy_with("bytes_sent", "-1"), "invalid bytes"},
      {envoy_with("bytes_sent", "\"1k\""), "invalid bytes"},
      {envoy_with("method", "\"GE T\""), "invalid method"},
      {envoy_with("method", "7"), "invalid method"},
      {envoy_with("path", "{\"p\":1}"), "invalid path"},
      {envoy_with("api_key", "42"), "invalid key_id"},
      {envoy_with("user_agent", "[\"a\"]"), "invalid user_agent"},
      {envoy_with("traceparent", "1"), "invalid traceparent"},
      {envoy_with("api_key", "\"" + std::string(129, 'k') + "\""), "field too long"},
      {envoy_with("path", "\"/" + std::string(2048, 'p') + "\""), "field too long"},
      {envoy_with("path", "\"/p?" + std::string(4097, 'q') + "\""), "field too long"},
      {envoy_with("user_agent", "\"" + std::string(1025, 'u') + "\""), "field too long"},
      {envoy_with("method", "\"" + std::string(17, 'M') + "\""), "field too long"},
      {envoy_with("request_id", "\"" + std::string(1 << 20, 'r') + "\""), "line too long"},
  };
  for (const auto& [line, reason] : cases) {
    auto p = envoy(line);
    EXPECT_FALSE(p.ok) << line.substr(0, 300);
    EXPECT_EQ(p.reason, reason) << line.substr(0, 300);
  }
  // Limits are inclusive; unknown fields of any type are skipped.
  EXPECT_TRUE(envoy(envoy_with("api_key", "\"" + std::string(128, 'k') + "\"")).ok);
  EXPECT_TRUE(envoy(envoy_with("request_id", "{\"nested\":[1,{\"x\":null}]}")).ok);
}

TEST(ParseEnvoy, StreamThroughParseLines) {
  auto parser = make_parser(Format::kEnvoy);
  std::string data = std::string("\xEF\xBB\xBF") + kEnvoyLine + "\r\n\n" +
                     envoy_with("response_code", "0") + "\n" + envoy_with("api_key", "\"k2\"");
  std::vector<ApiRecord> records;
  std::vector<std::pair<int64_t, std::string>> rejects;
  ParseStats stats;
  parse_lines(
      *parser, data, 1, [&](const RecordView& r) { records.emplace_back(r); },
      [&](int64_t line, std::string_view why) { rejects.emplace_back(line, std::string(why)); },
      &stats);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].key_id, "key_live_1");
  EXPECT_EQ(records[1].key_id, "k2");
  ASSERT_EQ(rejects.size(), 1u);
  EXPECT_EQ(rejects[0], (std::pair<int64_t, std::string>{3, "invalid status"}));
  EXPECT_EQ(stats.lines, 3);
  EXPECT_EQ(stats.reasons["invalid status"], 1);
}

TEST(ParseKeyOptions, Validation) {
  EXPECT_TRUE(valid_key_option(Format::kNginx, "field"));
  EXPECT_TRUE(valid_key_option(Format::kNginx, "remote_user"));
  EXPECT_TRUE(valid_key_option(Format::kNginx, "query:api_key"));
  EXPECT_FALSE(valid_key_option(Format::kNginx, "api_key"));
  EXPECT_FALSE(valid_key_option(Format::kNginx, "query:"));
  EXPECT_FALSE(valid_key_option(Format::kNginx, "query:a=b"));
  EXPECT_FALSE(valid_key_option(Format::kNginx, "query:a b"));
  EXPECT_FALSE(valid_key_option(Format::kNginx, "query:" + std::string(129, 'q')));
  EXPECT_TRUE(valid_key_option(Format::kEnvoy, "api_key"));
  EXPECT_TRUE(valid_key_option(Format::kEnvoy, "x-api-key"));
  EXPECT_TRUE(valid_key_option(Format::kEnvoy, "query:key"));
  EXPECT_FALSE(valid_key_option(Format::kEnvoy, ""));
  EXPECT_FALSE(valid_key_option(Format::kEnvoy, "api key"));
  EXPECT_FALSE(valid_key_option(Format::kEnvoy, "path"));  // a field the parser maps
  EXPECT_FALSE(valid_key_option(Format::kEnvoy, "user_agent"));
  EXPECT_FALSE(valid_key_option(Format::kNdjson, "field"));

  // A parser made with a bad option rejects every line, visibly.
  ParseOptions bad;
  bad.envoy_key = "";
  bad.nginx_key = "header";
  auto e = envoy(kEnvoyLine, bad);
  EXPECT_FALSE(e.ok);
  EXPECT_EQ(e.reason, "invalid key option");
  auto n =
      parse_with(Format::kNginx, bad,
                 R"(1.2.3.4 - - [10/Oct/2025:13:55:36 +0200] "GET / HTTP/1.1" 200 1 "-" "-" 0.1)");
  EXPECT_EQ(n.reason, "invalid key option");
  // NDJSON ignores both options.
  auto j = parse_with(Format::kNdjson, bad,
                      R"({"ts":1,"key_id":"k","ip":"1.2.3.4","method":"GET","path":"/",)"
                      R"("status":200,"latency_ms":1})");
  EXPECT_TRUE(j.ok) << j.reason;
}

// ---- nginx key options -----------------------------------------------------------------------

// combined + $request_time, with an optional trailing "$http_x_api_key".
std::string combined(const std::string& user, const std::string& target,
                     const std::string& tail = "") {
  return "203.0.113.7 - " + user + " [10/Oct/2025:13:55:36 +0200] \"GET " + target +
         " HTTP/1.1\" 200 512 \"-\" \"curl/8.0\" 0.042" + tail;
}

TEST(ParseNginxKey, FieldIsTheDefault) {
  auto p = nginx_keyed("field", combined("alice", "/v1/x?api_key=q", " \"key_hdr\""));
  ASSERT_TRUE(p.ok) << p.reason;
  EXPECT_EQ(p.record.key_id, "key_hdr");
  EXPECT_EQ(p.record.ts_ms, 1760097336000);
  EXPECT_NEAR(p.record.latency_ms, 42, 1e-9);
  auto absent = nginx_keyed("field", combined("alice", "/v1/x?api_key=q"));
  ASSERT_TRUE(absent.ok) << absent.reason;
  EXPECT_EQ(absent.record.key_id, "-");
  auto empty = nginx_keyed("field", combined("alice", "/v1/x", " \"\""));
  ASSERT_TRUE(empty.ok) << empty.reason;
  EXPECT_EQ(empty.record.key_id, "-");
  // make_parser(format) is make_parser(format, {}).
  auto parser = make_parser(Format::kNginx);
  RecordView v;
  std::string why;
  const std::string line = combined("alice", "/", " \"key_hdr\"");
  ASSERT_TRUE(parser->parse(line, &v, &why)) << why;
  EXPECT_EQ(v.key_id, "key_hdr");
}

TEST(ParseNginxKey, RemoteUser) {
  auto p = nginx_keyed("remote_user", combined("key_user_1", "/v1/x", " \"key_hdr\""));
  ASSERT_TRUE(p.ok) << p.reason;
  EXPECT_EQ(p.record.key_id, "key_user_1");  // the trailing field is ignored
  EXPECT_EQ(p.record.path, "/v1/x");
  EXPECT_EQ(p.record.status, 200);
  EXPECT_EQ(p.record.bytes, 512);
  auto absent = nginx_keyed("remote_user", combined("-", "/v1/x", " \"key_hdr\""));
  ASSERT_TRUE(absent.ok) << absent.reason;
  EXPECT_EQ(absent.record.key_id, "-");
  auto escaped = nginx_keyed("remote_user", combined("caf\\xC3\\xA9", "/"));
  ASSERT_TRUE(escaped.ok) << escaped.reason;
  EXPECT_EQ(escaped.record.key_id, "caf\xC3\xA9");
  auto spaced = nginx_keyed("remote_user", combined("two words", "/"));
  ASSERT_TRUE(spaced.ok) << spaced.reason;
  EXPECT_EQ(spaced.record.key_id, "two words");
  // Trailing garbage after $request_time no longer matters.
  auto junk = nginx_keyed("remote_user", combined("u1", "/", " \"unterminated"));
  ASSERT_TRUE(junk.ok) << junk.reason;
  EXPECT_EQ(junk.record.key_id, "u1");
  EXPECT_EQ(nginx_keyed("remote_user", combined(std::string(129, 'u'), "/")).reason,
            "field too long");
  EXPECT_EQ(nginx_keyed("remote_user", combined("a\\x01b", "/")).reason, "invalid character");
  // The line is still checked.
  EXPECT_EQ(nginx_keyed("remote_user", "1.2.3 - u [10/Oct/2025:13:55:36 +0200]").reason,
            "invalid ip");
}

TEST(ParseNginxKey, QueryParameter) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/v1/x?limit=1&api_key=key_q", "key_q"},
      {"/v1/x?api_key=key_q", "key_q"},
      {"/v1/x?xapi_key=no&api_key=yes", "yes"},
      {"/v1/x?api_key=&api_key=second", "second"},
      {"/v1/x?api_key=a%2Fb", "a%2Fb"},
      {"/v1/x", "-"},
      {"/v1/x?", "-"},
      {"/v1/x?api_key", "-"},
      {"/v1/x?api_key=", "-"},
      {"/v1/x?other=api_key=1", "-"},
  };
  for (const auto& [target, key] : cases) {
    auto p = nginx_keyed("query:api_key", combined("alice", target, " \"key_hdr\""));
    ASSERT_TRUE(p.ok) << target << ": " << p.reason;
    EXPECT_EQ(p.record.key_id, key) << target;
  }
  auto full = nginx_keyed("query:api_key", combined("-", "/v1/x?limit=1&api_key=key_q"));
  ASSERT_TRUE(full.ok) << full.reason;
  EXPECT_EQ(full.record.path, "/v1/x");
  EXPECT_EQ(full.record.query, "limit=1&api_key=key_q");
  // Escaped request lines are decoded before the query is read.
  auto esc = nginx_keyed("query:api_key", combined("-", "/p?api_key=k\\x41"));
  ASSERT_TRUE(esc.ok) << esc.reason;
  EXPECT_EQ(esc.record.key_id, "kA");
  EXPECT_EQ(
      nginx_keyed("query:api_key", combined("-", "/p?api_key=" + std::string(129, 'k'))).reason,
      "field too long");
  EXPECT_EQ(nginx_keyed("query:api_key", combined("-", "/p?api_key=a\\x01")).reason,
            "invalid character");
}

}  // namespace
}  // namespace sira::signals
