// Request-line helpers private to src/http/: percent-decoding, query splitting, W3C traceparent
// and request-id validation, random hex ids. Stateless and thread-safe.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace sira::http::internal {

// Decodes %XX escapes (and '+' as space when plus_as_space). Returns false on a truncated or
// non-hex escape, or when the decoded text contains NUL; *out is unspecified then.
bool percent_decode(std::string_view in, bool plus_as_space, std::string* out);

// Splits a raw request target into its path and query (without '?'). Absolute-form targets
// ("http://host/p?q") are reduced to their path. Returns false when the target is neither
// origin-form nor absolute-form.
bool split_target(std::string_view target, std::string_view* path, std::string_view* query);

// "a=1&b=x+y&c" -> {a:1, b:"x y", c:""}. Returns false on invalid percent-encoding or NUL.
bool parse_query(std::string_view query, std::multimap<std::string, std::string>* out);

struct TraceParent {
  std::string trace_id;   // 32 lower-case hex, not all zero
  std::string parent_id;  // 16 lower-case hex, not all zero
  std::string flags;      // 2 lower-case hex
};
// Parses a W3C trace-context `traceparent` value; nullopt when invalid.
std::optional<TraceParent> parse_traceparent(std::string_view value);

// An incoming X-Request-Id is echoed only when it is 1..128 visible ASCII characters.
bool valid_request_id(std::string_view value);

// `bytes` random bytes as lower-case hex, never all zero. Not for secrets: a per-thread PRNG
// seeded from the OS CSPRNG.
std::string random_hex(size_t bytes);

// Lower-cases ASCII letters.
std::string ascii_lower(std::string_view s);

}  // namespace sira::http::internal
