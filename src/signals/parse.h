// Parsers for request logs: NDJSON (one JSON object per line) and nginx access logs in the
// `sira` log format. Each line either yields a RecordView or a reason it was rejected; a bad line
// never stops the stream. Parsers are not thread-safe; use one per thread.
//
// NDJSON fields (aliases in brackets): ts [timestamp, time] RFC 3339 or unix ms; key_id [keyId,
// api_key_id]; ip [client_ip, remote_addr]; method; path (a "?query" suffix is split off);
// query; status [status_code]; latency_ms [duration_ms, latency]; bytes [response_bytes];
// user_agent [userAgent, ua]; trace_id [traceId]; span_id [spanId]. Required: ts, key_id, ip,
// method, path, status, latency_ms. Unknown fields are ignored.
//
// nginx: log_format sira '$remote_addr - $remote_user [$time_local] "$request" $status
//   $body_bytes_sent "$http_referer" "$http_user_agent" $request_time "$http_x_api_key"'
//   ($request_time in seconds with millisecond resolution). A line in the plain "combined" format
//   followed by $request_time is accepted with key_id "-" when the key field is absent (an empty
//   or "-" key also reads as "-"); fields after the key are ignored. Quoted fields may carry \"
//   and \\ (escape=json) or \xHH (escape=default) escapes; they are decoded. A "-" user agent
//   reads as empty, a "-" $body_bytes_sent as 0.
//
// Values: null reads as absent; status and bytes may be JSON numbers or digit strings, latency a
// number or numeric string; ts an RFC 3339 string, an integer or a digit string (unix ms, >= 0).
// A trace_id / span_id that is not 32 / 16 hex digits is dropped (the line is still accepted).
// Reasons: "invalid json", "invalid line" (nginx structure), "line too long" (> 1 MiB),
// "missing field <ts|key_id|ip|method|path|status|latency_ms>", "invalid timestamp",
// "invalid ip", "negative latency", "invalid latency", "invalid status" (outside 100..599),
// "invalid bytes", "field too long" (record.h limits), "invalid request line" (nginx $request),
// "invalid method", "invalid utf-8", "invalid character" (control bytes in key, path, query or
// user agent), and "invalid <field>" for a JSON value of the wrong type.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "signals/record.h"

namespace sira::signals {

enum class Format { kNdjson, kNginx };
bool parse_format(std::string_view name, Format* out);

class LineParser {
 public:
  virtual ~LineParser() = default;
  // Parses one line (without its newline). On failure returns false and sets *reason to a
  // short stable text ("invalid json", "missing field ts", "invalid ip", "negative latency",
  // "field too long", "invalid status", "invalid timestamp", ...).
  virtual bool parse(std::string_view line, RecordView* out, std::string* reason) = 0;
};

std::unique_ptr<LineParser> make_parser(Format format);

// Per-stream accounting of parsed and rejected lines.
struct ParseStats {
  int64_t lines = 0;  // non-empty lines: records + rejected
  int64_t records = 0;
  int64_t rejected = 0;
  std::map<std::string, int64_t> reasons;  // reason -> count
};

// Splits `data` into lines and parses each. on_record gets each good record; on_reject gets the
// 1-based line number and reason of each bad one. Empty lines are skipped silently. A final
// line without a newline is parsed too. Lines end at \n; a trailing \r is dropped; lines of only
// spaces and tabs count as empty; a UTF-8 BOM is skipped when first_line is 1. Either callback
// and stats may be null.
void parse_lines(LineParser& parser, std::string_view data, int64_t first_line,
                 const std::function<void(const RecordView&)>& on_record,
                 const std::function<void(int64_t line, std::string_view reason)>& on_reject,
                 ParseStats* stats);

// Validation shared by parsers: textual IPv4/IPv6 check without allocation.
bool valid_ip(std::string_view ip);

}  // namespace sira::signals
