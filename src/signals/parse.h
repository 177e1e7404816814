// Parsers for request logs: NDJSON (one JSON object per line), nginx access logs in the `sira`
// (or `combined` + $request_time) log format, and Envoy access logs in JSON. Each line either
// yields a RecordView or a reason it was rejected; a bad line never stops the stream. Parsers are
// not thread-safe; use one per thread.
//
// NDJSON fields (aliases in brackets): ts [timestamp, time] RFC 3339 or unix ms; key_id [keyId,
// api_key_id]; ip [client_ip, remote_addr]; method; path (a "?query" suffix is split off);
// query; status [status_code]; latency_ms [duration_ms, latency]; bytes [response_bytes];
// user_agent [userAgent, ua]; trace_id [traceId]; span_id [spanId]; parent_span_id
// [parentSpanId]; service (dropped when longer than 128 bytes or not text). Required: ts, key_id, ip,
// method, path, status, latency_ms. Unknown fields are ignored.
//
// nginx: log_format sira '$remote_addr - $remote_user [$time_local] "$request" $status
//   $body_bytes_sent "$http_referer" "$http_user_agent" $request_time "$http_x_api_key"'
//   ($request_time in seconds with millisecond resolution), or the plain "combined" format
//   followed by $request_time. Where the API key is depends on ParseOptions::nginx_key:
//     "field"        the quoted field after $request_time (default); the fields after it are
//                    ignored;
//     "remote_user"  $remote_user (\xHH escapes decoded);
//     "query:NAME"   the first non-empty value of query parameter NAME in the request target,
//                    raw (percent escapes are kept).
//   A line whose key is absent, empty or "-" is accepted with key_id "-". With "remote_user" and
//   "query:NAME", everything after $request_time is ignored. Quoted fields may carry \" and
//   \\ (escape=json) or \xHH (escape=default) escapes; they are decoded. A "-" user agent reads
//   as empty, a "-" $body_bytes_sent as 0.
//
// Envoy: one JSON object per line, Envoy's default access-log format rendered by json_format:
//   start_time   ts: RFC 3339 ("2026-11-22T10:00:00.123Z"), or unix ms        required
//   method       method                                                       required
//   path         path + query (%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%)            required
//   response_code  status (0, no response, is "invalid status")               required
//   duration     latency_ms (%DURATION%, ms)                                  required
//   bytes_sent   bytes (absent: 0)
//   x_forwarded_for  ip: the first address of the comma-separated list, trimmed
//   downstream_remote_address [downstream_remote_address_without_port]  ip when
//                x_forwarded_for is absent, "-" or its first address is not a valid IP.
//                Both may be "1.2.3.4:5678", "[2001:db8::1]:5678" or a bare address (the port
//                is dropped). One of the two is required.
//   user_agent   user_agent
//   traceparent  W3C "00-<32 hex trace id>-<16 hex span id>-<2 hex flags>": trace_id and
//                span_id, unless trace_id or span_id fields are present (they win); a
//                malformed traceparent is dropped
//   trace_id, span_id  as in NDJSON
//   <envoy_key>  key_id: the JSON field named by ParseOptions::envoy_key (default "api_key",
//                e.g. "api_key": "%REQ(X-API-KEY)%"); "query:NAME" takes it from the path's
//                query as for nginx. Absent, empty or "-": key_id "-".
//   protocol, response_flags, bytes_received, upstream_service_time, request_id, authority,
//   upstream_host and unknown fields are ignored. Envoy renders a missing value as "-" or null:
//   both read as absent for every field above. Numbers may be JSON numbers or numeric strings.
//
// Values: null reads as absent; status and bytes may be JSON numbers or digit strings, latency a
// number or numeric string; ts an RFC 3339 string, an integer or a digit string (unix ms, >= 0).
// A trace_id / span_id that is not 32 / 16 hex digits is dropped (the line is still accepted).
// Reasons: "invalid json", "invalid line" (nginx structure), "line too long" (> 1 MiB),
// "missing field <ts|key_id|ip|method|path|status|latency_ms>", "invalid timestamp",
// "invalid ip", "negative latency", "invalid latency", "invalid status" (outside 100..599),
// "invalid bytes", "field too long" (record.h limits), "invalid request line" (nginx $request),
// "invalid method", "invalid utf-8", "invalid character" (control bytes in key, path, query or
// user agent), "invalid <field>" for a JSON value of the wrong type (Envoy: "invalid key_id",
// "invalid path", "invalid user_agent", "invalid traceparent", ...), and "invalid key option"
// for every line of a parser made with options that fail valid_key_option.
// Timestamps in the future are not checked here (the guard engine rejects them).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "signals/record.h"

namespace sira::signals {

enum class Format { kNdjson, kNginx, kEnvoy };
// "ndjson", "nginx" or "envoy".
bool parse_format(std::string_view name, Format* out);

// Where parsers find the API key (see the header comment).
struct ParseOptions {
  std::string nginx_key = "field";    // field | remote_user | query:NAME
  std::string envoy_key = "api_key";  // a JSON field name | query:NAME
};

// True when `option` is a valid key option for `format`:
//   kNginx  "field", "remote_user" or "query:NAME";
//   kEnvoy  "query:NAME" or a JSON field name of 1..128 printable ASCII bytes without spaces,
//           quotes or backslashes that is not one of the fields the Envoy parser maps;
//   kNdjson none (always false: NDJSON records name their key_id).
// NAME: 1..128 printable ASCII bytes other than space, '&', '=', '#' and '?'.
bool valid_key_option(Format format, std::string_view option);

class LineParser {
 public:
  virtual ~LineParser() = default;
  // Parses one line (without its newline). On failure returns false and sets *reason to a
  // short stable text ("invalid json", "missing field ts", "invalid ip", "negative latency",
  // "field too long", "invalid status", "invalid timestamp", ...).
  virtual bool parse(std::string_view line, RecordView* out, std::string* reason) = 0;
};

// Never null. make_parser(format) uses default ParseOptions. Only the option of `format` is read;
// when it fails valid_key_option the parser rejects every line with "invalid key option".
std::unique_ptr<LineParser> make_parser(Format format);
std::unique_ptr<LineParser> make_parser(Format format, const ParseOptions& options);

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
