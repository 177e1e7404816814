// One API request as sira sees it, whatever the source (NDJSON, nginx access log, HTTP batch).
// RecordView points into the parser's input and is valid until the next parse call; ApiRecord
// owns its strings. Plain values; not shared between threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sira::signals {

struct RecordView {
  int64_t ts_ms = 0;           // request start, unix ms
  std::string_view key_id;     // API key identifier (never the secret)
  std::string_view ip;         // client IP, textual, validated IPv4 or IPv6
  std::string_view method;     // GET, POST, ...
  std::string_view path;       // path without the query string
  std::string_view query;      // raw query string, may be empty
  int status = 0;              // 100..599
  double latency_ms = 0;       // >= 0
  int64_t bytes = 0;           // response bytes, >= 0
  std::string_view user_agent;
  std::string_view trace_id;   // W3C trace id (32 hex) when known
  std::string_view span_id;
  std::string_view parent_span_id;  // 16 hex when known
  std::string_view service;         // the service that answered, when the source names it
  int64_t line = 0;            // 1-based line number in its input, set by parse_lines
  std::string_view raw;        // the whole input line, set by parse_lines
};

struct ApiRecord {
  int64_t ts_ms = 0;
  std::string key_id, ip, method, path, query;
  int status = 0;
  double latency_ms = 0;
  int64_t bytes = 0;
  std::string user_agent, trace_id, span_id, parent_span_id, service;

  ApiRecord() = default;
  explicit ApiRecord(const RecordView& v);
  RecordView view() const;
};

// Field limits: longer values make the line invalid ("field too long").
inline constexpr size_t kMaxKeyId = 128;
inline constexpr size_t kMaxPath = 2048;
inline constexpr size_t kMaxQuery = 4096;
inline constexpr size_t kMaxUserAgent = 1024;
inline constexpr size_t kMaxMethod = 16;
inline constexpr size_t kMaxService = 128;

}  // namespace sira::signals
