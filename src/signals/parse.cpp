// NDJSON and Envoy JSON (simdjson On-Demand) and nginx log parsers, line splitting, IP checks.
#include "signals/parse.h"

// Error codes only: no simdjson call in this file may throw (no implicit result conversions).
#define SIMDJSON_EXCEPTIONS 0
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <utility>

#include "core/clock.h"

namespace sira::signals {

namespace {

// Stable rejection reasons.
constexpr std::string_view kInvalidJson = "invalid json";
constexpr std::string_view kInvalidLine = "invalid line";
constexpr std::string_view kLineTooLong = "line too long";
constexpr std::string_view kInvalidTimestamp = "invalid timestamp";
constexpr std::string_view kInvalidIp = "invalid ip";
constexpr std::string_view kNegativeLatency = "negative latency";
constexpr std::string_view kInvalidLatency = "invalid latency";
constexpr std::string_view kInvalidStatus = "invalid status";
constexpr std::string_view kFieldTooLong = "field too long";
constexpr std::string_view kInvalidBytes = "invalid bytes";
constexpr std::string_view kInvalidRequestLine = "invalid request line";
constexpr std::string_view kInvalidUtf8 = "invalid utf-8";
constexpr std::string_view kInvalidCharacter = "invalid character";
constexpr std::string_view kInvalidMethod = "invalid method";
constexpr std::string_view kInvalidKeyOption = "invalid key option";

// A line longer than this cannot be a request record (field limits sum to ~7 KiB).
constexpr size_t kMaxLineBytes = 1 << 20;
// Unix ms bounds: 1970 .. 9999-12-31.
constexpr int64_t kMaxTimestampMs = 253402300799999;

// Small helpers shared by several parsers, which GCC then stops inlining. The JSON value helpers
// take simdjson iterators by reference: out of line, those go through memory and the NDJSON
// parser loses ~25% of its speed.
#define SIRA_HOT_INLINE [[gnu::always_inline]] inline

bool reject(std::string* reason, std::string_view why) {
  if (reason != nullptr) reason->assign(why.data(), why.size());
  return false;
}

// ---- text checks ------------------------------------------------------------------------------

// True when all 8 bytes are printable ASCII (0x20..0x7E).
inline bool printable_ascii8(uint64_t w) {
  constexpr uint64_t k01 = 0x0101010101010101ULL;
  constexpr uint64_t k80 = 0x8080808080808080ULL;
  const uint64_t high = w & k80;
  const uint64_t below_space = (w - k01 * 0x20) & ~w & k80;
  const uint64_t x = w ^ (k01 * 0x7F);
  const uint64_t del = (x - k01) & ~x & k80;
  return (high | below_space | del) == 0;
}

// nullptr when `s` is valid UTF-8 without control characters, else the reason.
const std::string_view* check_text(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i + 8 <= n) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (!printable_ascii8(w)) break;
    i += 8;
  }
  while (i < n) {
    const unsigned c = p[i];
    if (c >= 0x20 && c < 0x7F) {
      ++i;
      continue;
    }
    if (c < 0x80) return &kInvalidCharacter;
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07;
    } else {
      return &kInvalidUtf8;
    }
    if (i + len > n) return &kInvalidUtf8;
    for (size_t k = 1; k < len; ++k) {
      const unsigned cc = p[i + k];
      if ((cc & 0xC0) != 0x80) return &kInvalidUtf8;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return &kInvalidUtf8;
    i += len;
  }
  return nullptr;
}

inline bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool all_hex(std::string_view s) {
  for (char c : s) {
    if (hex_value(c) < 0) return false;
  }
  return true;
}

// Non-negative decimal integer of 1..18 digits.
bool parse_uint(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 18) return false;
  int64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// Decimal number with an optional leading '-' ("12", "0.123", "-1.5", "1e3"); no "nan", "inf",
// "+1" or ".5". The caller checks the sign and finiteness.
SIRA_HOT_INLINE bool parse_decimal(std::string_view s, double* out) {
  if (s.empty() || !(is_digit(s[0]) || (s[0] == '-' && s.size() > 1 && is_digit(s[1]))))
    return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

// HTTP method token characters (RFC 9110 tchar).
bool valid_method(std::string_view m) {
  for (char c : m) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) ||
                    std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
    if (!ok || c == '\0') return false;
  }
  return !m.empty();
}

// Common validation of the fields both formats produce. Returns the reason or nullptr.
const std::string_view* validate_common(RecordView* r) {
  if (r->key_id.size() > kMaxKeyId || r->method.size() > kMaxMethod || r->path.size() > kMaxPath ||
      r->query.size() > kMaxQuery || r->user_agent.size() > kMaxUserAgent)
    return &kFieldTooLong;
  for (std::string_view text : {r->key_id, r->path, r->query, r->user_agent}) {
    if (const auto* why = check_text(text)) return why;
  }
  if (!valid_ip(r->ip)) return &kInvalidIp;
  // Trace context is optional metadata: a malformed one is dropped rather than failing the line.
  if (!r->trace_id.empty() && (r->trace_id.size() != 32 || !all_hex(r->trace_id))) r->trace_id = {};
  if (!r->span_id.empty() && (r->span_id.size() != 16 || !all_hex(r->span_id))) r->span_id = {};
  if (!r->parent_span_id.empty() && (r->parent_span_id.size() != 16 || !all_hex(r->parent_span_id)))
    r->parent_span_id = {};
  if (r->service.size() > kMaxService || check_text(r->service) != nullptr) r->service = {};
  return nullptr;
}

void split_query(std::string_view target, std::string_view* path, std::string_view* query) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) {
    *path = target;
    *query = {};
  } else {
    *path = target.substr(0, q);
    *query = target.substr(q + 1);
  }
}

// The first non-empty value of parameter `name` in a raw query string ("a=1&key=k&b"), or empty.
std::string_view query_param(std::string_view query, std::string_view name) {
  size_t pos = 0;
  while (pos < query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    const std::string_view pair = query.substr(pos, amp - pos);
    if (pair.size() > name.size() + 1 && pair[name.size()] == '=' &&
        pair.compare(0, name.size(), name) == 0)
      return pair.substr(name.size() + 1);
    pos = amp + 1;
  }
  return {};
}

// A query parameter name usable in a "query:NAME" key option.
bool valid_query_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    if (c <= ' ' || c >= 0x7F || c == '&' || c == '=' || c == '#' || c == '?') return false;
  }
  return true;
}

// Where a parser finds the API key.
enum class KeySource { kField, kRemoteUser, kQuery };

// Days since 1970-01-01 of a proleptic Gregorian date (civil-from-days inverse).
int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t year_of_era = y - era * 400;
  const int64_t day_of_year = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

// ---- JSON values (NDJSON and Envoy) ----------------------------------------------------------

// simdjson reads up to SIMDJSON_PADDING bytes past the end of its input: each line is copied into
// this reusable buffer, which only grows.
class PaddedLine {
 public:
  const char* load(std::string_view line) {
    const size_t need = line.size() + simdjson::SIMDJSON_PADDING;
    if (need > capacity_) {
      size_t cap = std::max<size_t>(4096, capacity_);
      while (cap < need) cap *= 2;
      buf_ = std::make_unique<char[]>(cap);
      capacity_ = cap;
    }
    std::memcpy(buf_.get(), line.data(), line.size());
    std::memset(buf_.get() + line.size(), 0, simdjson::SIMDJSON_PADDING);
    return buf_.get();
  }
  size_t capacity() const { return capacity_; }

 private:
  std::unique_ptr<char[]> buf_;
  size_t capacity_ = 0;
};

// The kind of a field's value, and the text of a string (valid until the next iterate).
struct Scalar {
  enum Kind { kNull, kString, kNumber, kOther };
  Kind kind = kOther;
  std::string_view text;
};

// False when the value is malformed JSON.
SIRA_HOT_INLINE bool read_scalar(simdjson::ondemand::value& v, Scalar* out) {
  simdjson::ondemand::json_type type;
  if (v.type().get(type)) return false;
  switch (type) {
    case simdjson::ondemand::json_type::string:
      out->kind = Scalar::kString;
      return !v.get_string().get(out->text);
    case simdjson::ondemand::json_type::number:
      out->kind = Scalar::kNumber;
      return true;
    case simdjson::ondemand::json_type::null: {
      // type() only peeked at the first byte.
      out->kind = Scalar::kNull;
      bool really_null = false;
      return !v.is_null().get(really_null) && really_null;
    }
    default:
      out->kind = Scalar::kOther;
      return true;
  }
}

// Unix ms from a JSON integer or a string (digits or RFC 3339), within 1970..9999.
SIRA_HOT_INLINE bool json_timestamp(simdjson::ondemand::value& v, const Scalar& s, int64_t* ms) {
  if (s.kind == Scalar::kNumber) {
    if (v.get_int64().get(*ms)) return false;
  } else if (s.kind != Scalar::kString || (!parse_uint(s.text, ms) && !parse_rfc3339(s.text, ms))) {
    return false;
  }
  return *ms >= 0 && *ms <= kMaxTimestampMs;
}

// An integer from a JSON integer (any sign) or a digit string.
SIRA_HOT_INLINE bool json_int(simdjson::ondemand::value& v, const Scalar& s, int64_t* n) {
  if (s.kind == Scalar::kNumber) return !v.get_int64().get(*n);
  return s.kind == Scalar::kString && parse_uint(s.text, n);
}

// A finite number from a JSON number or a numeric string.
SIRA_HOT_INLINE bool json_double(simdjson::ondemand::value& v, const Scalar& s, double* d) {
  if (s.kind == Scalar::kNumber) {
    if (v.get_double().get(*d)) return false;
  } else if (s.kind != Scalar::kString || !parse_decimal(s.text, d)) {
    return false;
  }
  return std::isfinite(*d);
}

// The numeric fields both JSON formats share. Each returns the rejection reason, or nullptr
// when the value was taken (or is null: absent).
SIRA_HOT_INLINE const std::string_view* json_status(simdjson::ondemand::value& v, const Scalar& s,
                                                    RecordView* out) {
  if (s.kind == Scalar::kNull) return nullptr;
  int64_t status = 0;
  if (!json_int(v, s, &status) || status < 100 || status > 599) return &kInvalidStatus;
  out->status = static_cast<int>(status);
  return nullptr;
}

SIRA_HOT_INLINE const std::string_view* json_latency(simdjson::ondemand::value& v, const Scalar& s,
                                                     RecordView* out) {
  if (s.kind == Scalar::kNull) return nullptr;
  if (!json_double(v, s, &out->latency_ms)) return &kInvalidLatency;
  if (out->latency_ms < 0) return &kNegativeLatency;
  return nullptr;
}

SIRA_HOT_INLINE const std::string_view* json_bytes(simdjson::ondemand::value& v, const Scalar& s,
                                                   RecordView* out) {
  int64_t bytes = 0;
  if (s.kind != Scalar::kNull && (!json_int(v, s, &bytes) || bytes < 0)) return &kInvalidBytes;
  out->bytes = bytes;
  return nullptr;
}

// ---- NDJSON ----------------------------------------------------------------------------------

enum class Field {
  kUnknown,
  kTs,
  kKey,
  kIp,
  kMethod,
  kPath,
  kQuery,
  kStatus,
  kLatency,
  kBytes,
  kUserAgent,
  kTrace,
  kSpan,
  kParentSpan,
  kService
};

struct FieldName {
  std::string_view name;
  Field field;
};

constexpr FieldName kFieldNames[] = {
    {"ts", Field::kTs},
    {"timestamp", Field::kTs},
    {"time", Field::kTs},
    {"key_id", Field::kKey},
    {"keyId", Field::kKey},
    {"api_key_id", Field::kKey},
    {"ip", Field::kIp},
    {"client_ip", Field::kIp},
    {"remote_addr", Field::kIp},
    {"method", Field::kMethod},
    {"path", Field::kPath},
    {"query", Field::kQuery},
    {"status", Field::kStatus},
    {"status_code", Field::kStatus},
    {"latency_ms", Field::kLatency},
    {"duration_ms", Field::kLatency},
    {"latency", Field::kLatency},
    {"bytes", Field::kBytes},
    {"response_bytes", Field::kBytes},
    {"user_agent", Field::kUserAgent},
    {"userAgent", Field::kUserAgent},
    {"ua", Field::kUserAgent},
    {"trace_id", Field::kTrace},
    {"traceId", Field::kTrace},
    {"span_id", Field::kSpan},
    {"spanId", Field::kSpan},
    {"parent_span_id", Field::kParentSpan},
    {"parentSpanId", Field::kParentSpan},
    {"service", Field::kService},
};

Field field_of(std::string_view k) {
  // Most keys differ in length or first byte, so this rarely compares more than a few bytes.
  for (const auto& f : kFieldNames) {
    if (f.name.size() == k.size() && f.name[0] == k[0] && f.name == k) return f.field;
  }
  return Field::kUnknown;
}

class NdjsonParser final : public LineParser {
 public:
  bool parse(std::string_view line, RecordView* out, std::string* reason) override;

 private:
  simdjson::ondemand::parser parser_;
  PaddedLine buf_;
};

bool NdjsonParser::parse(std::string_view line, RecordView* out, std::string* reason) {
  *out = RecordView{};
  if (line.size() > kMaxLineBytes) return reject(reason, kLineTooLong);
  const char* json = buf_.load(line);
  simdjson::ondemand::document doc;
  auto error = parser_.iterate(json, line.size(), buf_.capacity()).get(doc);
  if (error) return reject(reason, error == simdjson::UTF8_ERROR ? kInvalidUtf8 : kInvalidJson);
  simdjson::ondemand::object obj;
  if (doc.get_object().get(obj)) return reject(reason, kInvalidJson);

  bool have_ts = false, have_status = false, have_latency = false;
  std::string_view path_field, query_field;
  for (auto field_result : obj) {
    simdjson::ondemand::field field;
    if (std::move(field_result).get(field)) return reject(reason, kInvalidJson);
    std::string_view key;
    if (field.unescaped_key().get(key)) return reject(reason, kInvalidJson);
    const Field f = field_of(key);
    if (f == Field::kUnknown) continue;
    simdjson::ondemand::value v = field.value();
    Scalar s;
    if (!read_scalar(v, &s)) return reject(reason, kInvalidJson);
    // null reads as absent.
    const bool is_null = s.kind == Scalar::kNull;
    const std::string_view text = s.text;
    switch (f) {
      case Field::kTs: {
        have_ts = !is_null;
        if (!is_null && !json_timestamp(v, s, &out->ts_ms))
          return reject(reason, kInvalidTimestamp);
        break;
      }
      case Field::kStatus:
        have_status = !is_null;
        if (const auto* why = json_status(v, s, out)) return reject(reason, *why);
        break;
      case Field::kLatency:
        have_latency = !is_null;
        if (const auto* why = json_latency(v, s, out)) return reject(reason, *why);
        break;
      case Field::kBytes:
        if (const auto* why = json_bytes(v, s, out)) return reject(reason, *why);
        break;
      default: {
        if (s.kind != Scalar::kString && !is_null) {
          switch (f) {
            case Field::kKey:
              return reject(reason, "invalid key_id");
            case Field::kIp:
              return reject(reason, kInvalidIp);
            case Field::kMethod:
              return reject(reason, kInvalidMethod);
            case Field::kPath:
              return reject(reason, "invalid path");
            case Field::kQuery:
              return reject(reason, "invalid query");
            case Field::kUserAgent:
              return reject(reason, "invalid user_agent");
            case Field::kTrace:
              return reject(reason, "invalid trace_id");
            case Field::kParentSpan:
              return reject(reason, "invalid parent_span_id");
            case Field::kService:
              return reject(reason, "invalid service");
            default:
              return reject(reason, "invalid span_id");
          }
        }
        switch (f) {
          case Field::kKey:
            out->key_id = text;
            break;
          case Field::kIp:
            out->ip = text;
            break;
          case Field::kMethod:
            out->method = text;
            break;
          case Field::kPath:
            path_field = text;
            break;
          case Field::kQuery:
            query_field = text;
            break;
          case Field::kUserAgent:
            out->user_agent = text;
            break;
          case Field::kTrace:
            out->trace_id = text;
            break;
          case Field::kParentSpan:
            out->parent_span_id = text;
            break;
          case Field::kService:
            out->service = text;
            break;
          default:
            out->span_id = text;
            break;
        }
        break;
      }
    }
  }
  // Trailing content after the object: the iterator must be at the end of the input.
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS)
    return reject(reason, kInvalidJson);

  if (!have_ts) return reject(reason, "missing field ts");
  if (out->key_id.empty()) return reject(reason, "missing field key_id");
  if (out->ip.empty()) return reject(reason, "missing field ip");
  if (out->method.empty()) return reject(reason, "missing field method");
  if (path_field.empty()) return reject(reason, "missing field path");
  if (!have_status) return reject(reason, "missing field status");
  if (!have_latency) return reject(reason, "missing field latency_ms");

  split_query(path_field, &out->path, &out->query);
  if (!query_field.empty()) out->query = query_field;
  if (out->path.empty()) return reject(reason, "missing field path");
  if (const auto* why = validate_common(out)) return reject(reason, *why);
  if (!valid_method(out->method)) return reject(reason, kInvalidMethod);
  return true;
}

// ---- Envoy ----------------------------------------------------------------------------------

enum class EnvoyField {
  kUnknown,
  kStartTime,
  kMethod,
  kPath,
  kStatus,
  kDuration,
  kBytesSent,
  kForwardedFor,
  kPeer,
  kUserAgent,
  kTraceparent,
  kTrace,
  kSpan,
  kKey
};

struct EnvoyFieldName {
  std::string_view name;
  EnvoyField field;
};

// Envoy's default format (json_format names); the other default fields are ignored.
constexpr EnvoyFieldName kEnvoyFieldNames[] = {
    {"start_time", EnvoyField::kStartTime},
    {"method", EnvoyField::kMethod},
    {"path", EnvoyField::kPath},
    {"response_code", EnvoyField::kStatus},
    {"duration", EnvoyField::kDuration},
    {"bytes_sent", EnvoyField::kBytesSent},
    {"x_forwarded_for", EnvoyField::kForwardedFor},
    {"downstream_remote_address", EnvoyField::kPeer},
    {"downstream_remote_address_without_port", EnvoyField::kPeer},
    {"user_agent", EnvoyField::kUserAgent},
    {"traceparent", EnvoyField::kTraceparent},
    {"trace_id", EnvoyField::kTrace},
    {"span_id", EnvoyField::kSpan},
};

EnvoyField envoy_field_of(std::string_view k) {
  for (const auto& f : kEnvoyFieldNames) {
    if (f.name.size() == k.size() && f.name[0] == k[0] && f.name == k) return f.field;
  }
  return EnvoyField::kUnknown;
}

// "1.2.3.4", "1.2.3.4:5678", "[2001:db8::1]" or "[2001:db8::1]:5678" -> the address. Anything
// else comes back unchanged (and fails valid_ip).
std::string_view address_of(std::string_view s) {
  const auto digits = [](std::string_view port) {
    return !port.empty() && port.size() <= 5 && std::all_of(port.begin(), port.end(), is_digit);
  };
  if (!s.empty() && s[0] == '[') {
    const size_t close = s.find(']');
    if (close == std::string_view::npos) return s;
    const std::string_view rest = s.substr(close + 1);
    if (!rest.empty() && (rest[0] != ':' || !digits(rest.substr(1)))) return s;
    return s.substr(1, close - 1);
  }
  const size_t colon = s.find(':');
  if (colon != std::string_view::npos && s.find(':', colon + 1) == std::string_view::npos &&
      digits(s.substr(colon + 1)))
    return s.substr(0, colon);
  return s;
}

// The first address of an X-Forwarded-For list, without surrounding spaces.
std::string_view first_forwarded(std::string_view xff) {
  std::string_view first = xff.substr(0, xff.find(','));
  while (!first.empty() && (first.front() == ' ' || first.front() == '\t')) first.remove_prefix(1);
  while (!first.empty() && (first.back() == ' ' || first.back() == '\t')) first.remove_suffix(1);
  return first;
}

// W3C traceparent "vv-<32 hex trace id>-<16 hex span id>-<2 hex flags>". False when malformed
// (version ff, all-zero ids, or extra fields after version 00).
bool parse_traceparent(std::string_view s, std::string_view* trace, std::string_view* span) {
  if (s.size() < 55 || s[2] != '-' || s[35] != '-' || s[52] != '-') return false;
  const std::string_view version = s.substr(0, 2);
  if (!all_hex(version) || version == "ff" || version == "FF") return false;
  if (s.size() > 55 && (version == "00" || s[55] != '-')) return false;
  const std::string_view t = s.substr(3, 32), sp = s.substr(36, 16);
  if (!all_hex(t) || !all_hex(sp) || !all_hex(s.substr(53, 2))) return false;
  if (t.find_first_not_of('0') == std::string_view::npos ||
      sp.find_first_not_of('0') == std::string_view::npos)
    return false;
  *trace = t;
  *span = sp;
  return true;
}

class EnvoyParser final : public LineParser {
 public:
  // key_field: the JSON field holding the key, or empty when the key is query parameter query_key.
  EnvoyParser(std::string key_field, std::string query_key)
      : key_field_(std::move(key_field)), query_key_(std::move(query_key)) {}
  bool parse(std::string_view line, RecordView* out, std::string* reason) override;

 private:
  simdjson::ondemand::parser parser_;
  PaddedLine buf_;
  const std::string key_field_;
  const std::string query_key_;
};

bool EnvoyParser::parse(std::string_view line, RecordView* out, std::string* reason) {
  *out = RecordView{};
  if (line.size() > kMaxLineBytes) return reject(reason, kLineTooLong);
  const char* json = buf_.load(line);
  simdjson::ondemand::document doc;
  auto error = parser_.iterate(json, line.size(), buf_.capacity()).get(doc);
  if (error) return reject(reason, error == simdjson::UTF8_ERROR ? kInvalidUtf8 : kInvalidJson);
  simdjson::ondemand::object obj;
  if (doc.get_object().get(obj)) return reject(reason, kInvalidJson);

  bool have_ts = false, have_status = false, have_latency = false;
  std::string_view path_field, forwarded, peer, traceparent, key;
  for (auto field_result : obj) {
    simdjson::ondemand::field field;
    if (std::move(field_result).get(field)) return reject(reason, kInvalidJson);
    std::string_view name;
    if (field.unescaped_key().get(name)) return reject(reason, kInvalidJson);
    // valid_key_option keeps key_field_ apart from the mapped names.
    const EnvoyField f =
        !key_field_.empty() && name == key_field_ ? EnvoyField::kKey : envoy_field_of(name);
    if (f == EnvoyField::kUnknown) continue;
    simdjson::ondemand::value v = field.value();
    Scalar s;
    if (!read_scalar(v, &s)) return reject(reason, kInvalidJson);
    // Envoy renders a value it does not have as "-" (or null with json_format).
    if (s.kind == Scalar::kString && s.text == "-") s = Scalar{Scalar::kNull, {}};
    const bool is_null = s.kind == Scalar::kNull;
    switch (f) {
      case EnvoyField::kStartTime:
        have_ts = !is_null;
        if (!is_null && !json_timestamp(v, s, &out->ts_ms))
          return reject(reason, kInvalidTimestamp);
        break;
      case EnvoyField::kStatus:
        // 0: Envoy sent no response (downstream reset, timeout before upstream answered).
        have_status = !is_null;
        if (const auto* why = json_status(v, s, out)) return reject(reason, *why);
        break;
      case EnvoyField::kDuration:
        have_latency = !is_null;
        if (const auto* why = json_latency(v, s, out)) return reject(reason, *why);
        break;
      case EnvoyField::kBytesSent:
        if (const auto* why = json_bytes(v, s, out)) return reject(reason, *why);
        break;
      default: {
        if (s.kind != Scalar::kString && !is_null) {
          switch (f) {
            case EnvoyField::kKey:
              return reject(reason, "invalid key_id");
            case EnvoyField::kMethod:
              return reject(reason, kInvalidMethod);
            case EnvoyField::kPath:
              return reject(reason, "invalid path");
            case EnvoyField::kForwardedFor:
            case EnvoyField::kPeer:
              return reject(reason, kInvalidIp);
            case EnvoyField::kUserAgent:
              return reject(reason, "invalid user_agent");
            case EnvoyField::kTraceparent:
              return reject(reason, "invalid traceparent");
            case EnvoyField::kTrace:
              return reject(reason, "invalid trace_id");
            default:
              return reject(reason, "invalid span_id");
          }
        }
        switch (f) {
          case EnvoyField::kKey:
            key = s.text;
            break;
          case EnvoyField::kMethod:
            out->method = s.text;
            break;
          case EnvoyField::kPath:
            path_field = s.text;
            break;
          case EnvoyField::kForwardedFor:
            forwarded = s.text;
            break;
          case EnvoyField::kPeer:
            peer = s.text;
            break;
          case EnvoyField::kUserAgent:
            out->user_agent = s.text;
            break;
          case EnvoyField::kTraceparent:
            traceparent = s.text;
            break;
          case EnvoyField::kTrace:
            out->trace_id = s.text;
            break;
          default:
            out->span_id = s.text;
            break;
        }
        break;
      }
    }
  }
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS)
    return reject(reason, kInvalidJson);

  // The client is the first X-Forwarded-For hop when it is an address; otherwise the peer. A
  // junk X-Forwarded-For must not hide a request from the detectors when the peer is known.
  const std::string_view from_header = address_of(first_forwarded(forwarded));
  if (!from_header.empty() && valid_ip(from_header)) {
    out->ip = from_header;
  } else if (!peer.empty()) {
    out->ip = address_of(peer);
  } else {
    out->ip = from_header;
  }

  if (!have_ts) return reject(reason, "missing field ts");
  if (out->ip.empty()) return reject(reason, forwarded.empty() ? "missing field ip" : kInvalidIp);
  if (out->method.empty()) return reject(reason, "missing field method");
  if (path_field.empty()) return reject(reason, "missing field path");
  if (!have_status) return reject(reason, "missing field status");
  if (!have_latency) return reject(reason, "missing field latency_ms");

  split_query(path_field, &out->path, &out->query);
  if (out->path.empty()) return reject(reason, "missing field path");
  if (key_field_.empty()) key = query_param(out->query, query_key_);
  out->key_id = key.empty() ? std::string_view("-") : key;
  if (!traceparent.empty() && out->trace_id.empty() && out->span_id.empty())
    parse_traceparent(traceparent, &out->trace_id, &out->span_id);
  if (const auto* why = validate_common(out)) return reject(reason, *why);
  if (!valid_method(out->method)) return reject(reason, kInvalidMethod);
  return true;
}

// ---- nginx -----------------------------------------------------------------------------------

class NginxParser final : public LineParser {
 public:
  NginxParser(KeySource key_source, std::string query_key)
      : key_source_(key_source), query_key_(std::move(query_key)) {
    request_buf_.reserve(256);
    agent_buf_.reserve(256);
    key_buf_.reserve(64);
  }
  bool parse(std::string_view line, RecordView* out, std::string* reason) override;

 private:
  bool parse_time_local(std::string_view s, int64_t* ms);

  const KeySource key_source_;
  const std::string query_key_;  // kQuery: the query parameter holding the key

  // Unescaped copies of quoted fields that contained backslash escapes.
  std::string request_buf_, agent_buf_, key_buf_;
  // $time_local has one-second resolution: consecutive lines usually share it.
  std::array<char, 26> cached_time_{};
  int64_t cached_ms_ = 0;
  bool cache_valid_ = false;
};

int month_of(const char* m) {
  static constexpr const char kMonths[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  for (int i = 0; i < 12; ++i) {
    if (std::memcmp(kMonths + 3 * i, m, 3) == 0) return i + 1;
  }
  return 0;
}

bool two_digits(const char* p, int* out) {
  if (!is_digit(p[0]) || !is_digit(p[1])) return false;
  *out = (p[0] - '0') * 10 + (p[1] - '0');
  return true;
}

// "10/Oct/2025:13:55:36 +0200"
bool NginxParser::parse_time_local(std::string_view s, int64_t* ms) {
  if (s.size() != 26) return false;
  if (cache_valid_ && std::memcmp(cached_time_.data(), s.data(), 26) == 0) {
    *ms = cached_ms_;
    return true;
  }
  const char* p = s.data();
  int day, hour, minute, second, off_h, off_m, y_hi, y_lo;
  if (!two_digits(p, &day) || p[2] != '/' || p[6] != '/' || !two_digits(p + 7, &y_hi) ||
      !two_digits(p + 9, &y_lo) || p[11] != ':' || !two_digits(p + 12, &hour) || p[14] != ':' ||
      !two_digits(p + 15, &minute) || p[17] != ':' || !two_digits(p + 18, &second) ||
      p[20] != ' ' || (p[21] != '+' && p[21] != '-') || !two_digits(p + 22, &off_h) ||
      !two_digits(p + 24, &off_m))
    return false;
  const int month = month_of(p + 3);
  const int year = y_hi * 100 + y_lo;
  if (month == 0 || day < 1 || hour > 23 || minute > 59 || second > 60 || off_h > 23 || off_m > 59)
    return false;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (day > kDays[month - 1] + (month == 2 && leap ? 1 : 0)) return false;
  const int64_t offset_s = (off_h * 3600 + off_m * 60) * (p[21] == '-' ? -1 : 1);
  const int64_t secs =
      days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  *ms = secs * 1000;
  std::memcpy(cached_time_.data(), s.data(), 26);
  cached_ms_ = *ms;
  cache_valid_ = true;
  return true;
}

// Undoes the escapes nginx (escape=default: \xHH; escape=json: \" and \\) puts in quoted fields.
std::string_view unescape(std::string_view raw, std::string& buf) {
  buf.clear();
  for (size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c != '\\' || i + 1 == raw.size()) {
      buf.push_back(c);
      continue;
    }
    const char next = raw[i + 1];
    if (next == '"' || next == '\\') {
      buf.push_back(next);
      ++i;
    } else if (next == 'x' && i + 3 < raw.size() && hex_value(raw[i + 2]) >= 0 &&
               hex_value(raw[i + 3]) >= 0) {
      buf.push_back(static_cast<char>(hex_value(raw[i + 2]) * 16 + hex_value(raw[i + 3])));
      i += 3;
    } else {
      buf.push_back(c);
    }
  }
  return buf;
}

// Cursor over one nginx line.
struct Cursor {
  std::string_view s;
  size_t i = 0;

  bool at_end() const { return i >= s.size(); }
  bool spaces() {
    const size_t start = i;
    while (i < s.size() && s[i] == ' ') ++i;
    return i > start;
  }
  std::string_view token() {
    const size_t start = i;
    while (i < s.size() && s[i] != ' ') ++i;
    return s.substr(start, i - start);
  }
  // At an opening quote: the raw content up to the closing quote (backslash escapes skipped).
  bool quoted(std::string_view* raw, bool* escaped) {
    if (i >= s.size() || s[i] != '"') return false;
    const size_t start = ++i;
    *escaped = false;
    while (i < s.size()) {
      const char c = s[i];
      if (c == '\\') {
        *escaped = true;
        i += 2;
        continue;
      }
      if (c == '"') {
        *raw = s.substr(start, i - start);
        ++i;
        return true;
      }
      ++i;
    }
    return false;
  }
};

bool NginxParser::parse(std::string_view line, RecordView* out, std::string* reason) {
  *out = RecordView{};
  if (line.size() > kMaxLineBytes) return reject(reason, kLineTooLong);
  Cursor c{line};
  c.spaces();
  out->ip = c.token();
  if (out->ip.empty()) return reject(reason, "missing field ip");
  if (!valid_ip(out->ip)) return reject(reason, kInvalidIp);

  // " - $remote_user [" : skip ident and user up to the bracket.
  const size_t ident = c.i;
  const size_t bracket = line.find(" [", c.i);
  if (bracket == std::string_view::npos) return reject(reason, "missing field ts");
  const size_t close = line.find(']', bracket + 2);
  if (close == std::string_view::npos) return reject(reason, kInvalidTimestamp);
  if (!parse_time_local(line.substr(bracket + 2, close - bracket - 2), &out->ts_ms))
    return reject(reason, kInvalidTimestamp);
  if (out->ts_ms < 0) return reject(reason, kInvalidTimestamp);
  c.i = close + 1;

  // "$request"
  std::string_view raw;
  bool escaped = false;
  if (!c.spaces() || !c.quoted(&raw, &escaped)) return reject(reason, kInvalidRequestLine);
  std::string_view request = escaped ? unescape(raw, request_buf_) : raw;
  {
    const size_t sp1 = request.find(' ');
    if (sp1 == std::string_view::npos || sp1 == 0) return reject(reason, kInvalidRequestLine);
    out->method = request.substr(0, sp1);
    std::string_view rest = request.substr(sp1 + 1);
    const size_t sp2 = rest.rfind(' ');
    std::string_view target = rest;
    if (sp2 != std::string_view::npos) {
      if (rest.substr(sp2 + 1).substr(0, 5) != "HTTP/") return reject(reason, kInvalidRequestLine);
      target = rest.substr(0, sp2);
    }
    if (target.substr(0, 7) == "http://" || target.substr(0, 8) == "https://") {
      const size_t authority = target.find("//") + 2;
      const size_t slash = target.find('/', authority);
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
    if (target.empty() || (target[0] != '/' && target != "*") ||
        target.find(' ') != std::string_view::npos)
      return reject(reason, kInvalidRequestLine);
    if (out->method.size() > kMaxMethod) return reject(reason, kFieldTooLong);
    if (!valid_method(out->method)) return reject(reason, kInvalidRequestLine);
    split_query(target, &out->path, &out->query);
  }

  // $status $body_bytes_sent
  if (!c.spaces()) return reject(reason, "missing field status");
  int64_t status = 0;
  if (!parse_uint(c.token(), &status) || status < 100 || status > 599)
    return reject(reason, kInvalidStatus);
  out->status = static_cast<int>(status);
  if (!c.spaces()) return reject(reason, "missing field bytes");
  const std::string_view bytes = c.token();
  if (bytes != "-" && !parse_uint(bytes, &out->bytes)) return reject(reason, kInvalidBytes);

  // "$http_referer" "$http_user_agent"
  if (!c.spaces() || !c.quoted(&raw, &escaped)) return reject(reason, kInvalidLine);
  if (!c.spaces() || !c.quoted(&raw, &escaped)) return reject(reason, kInvalidLine);
  std::string_view agent = escaped ? unescape(raw, agent_buf_) : raw;
  out->user_agent = agent == "-" ? std::string_view() : agent;

  // $request_time (seconds, ms resolution)
  c.spaces();
  const std::string_view seconds = c.token();
  if (seconds.empty() || seconds == "-") return reject(reason, "missing field latency_ms");
  {
    double value = 0;
    auto [end, ec] = std::from_chars(seconds.data(), seconds.data() + seconds.size(), value);
    const bool numeric =
        is_digit(seconds[0]) || (seconds[0] == '-' && seconds.size() > 1 && is_digit(seconds[1]));
    if (!numeric || ec != std::errc() || end != seconds.data() + seconds.size() ||
        !std::isfinite(value))
      return reject(reason, kInvalidLatency);
    if (value < 0) return reject(reason, kNegativeLatency);
    out->latency_ms = value * 1000.0;
  }

  std::string_view key;
  switch (key_source_) {
    case KeySource::kField:
      // "$http_x_api_key": absent in the plain combined format; trailing fields are ignored.
      c.spaces();
      if (!c.at_end() && line[c.i] == '"') {
        if (!c.quoted(&raw, &escaped)) return reject(reason, kInvalidLine);
        key = escaped ? unescape(raw, key_buf_) : raw;
      }
      break;
    case KeySource::kRemoteUser: {
      // " $remote_ident $remote_user" before " [": the user is the rest after the ident.
      std::string_view names = line.substr(ident, bracket - ident);
      const size_t start = names.find_first_not_of(' ');
      const size_t space = start == std::string_view::npos ? start : names.find(' ', start);
      if (space != std::string_view::npos) {
        std::string_view user = names.substr(space + 1);
        user.remove_prefix(std::min(user.size(), user.find_first_not_of(' ')));
        key = user.find('\\') == std::string_view::npos ? user : unescape(user, key_buf_);
      }
      break;
    }
    case KeySource::kQuery:
      key = query_param(out->query, query_key_);
      break;
  }
  out->key_id = key.empty() ? std::string_view("-") : key;
  if (const auto* why = validate_common(out)) return reject(reason, *why);
  return true;
}

// Made for options that fail valid_key_option: every line is rejected with the same reason, so
// the problem shows in ingest reports instead of crashing or silently keying traffic wrong.
class RejectingParser final : public LineParser {
 public:
  explicit RejectingParser(std::string_view why) : why_(why) {}
  bool parse(std::string_view, RecordView* out, std::string* reason) override {
    *out = RecordView{};
    return reject(reason, why_);
  }

 private:
  std::string_view why_;
};

// ---- IP addresses ----------------------------------------------------------------------------

bool valid_ipv4(std::string_view s) {
  if (s.size() < 7 || s.size() > 15) return false;
  int parts = 0;
  size_t i = 0;
  while (true) {
    const size_t start = i;
    int value = 0;
    while (i < s.size() && is_digit(s[i]) && i - start < 3) value = value * 10 + (s[i++] - '0');
    const size_t len = i - start;
    if (len == 0 || value > 255 || (len > 1 && s[start] == '0')) return false;
    ++parts;
    if (i == s.size()) break;
    if (s[i] != '.' || parts == 4) return false;
    ++i;
  }
  return parts == 4;
}

bool valid_ipv6(std::string_view s) {
  if (s.size() < 2 || s.size() > 45) return false;
  const size_t n = s.size();
  size_t i = 0;
  int groups = 0;
  bool compressed = false;
  if (s[0] == ':') {
    if (s[1] != ':') return false;
    compressed = true;
    i = 2;
    if (i == n) return true;  // "::"
  }
  while (true) {
    const size_t start = i;
    while (i < n && hex_value(s[i]) >= 0 && i - start < 4) ++i;
    if (i < n && s[i] == '.') {
      // IPv4 tail takes the last 32 bits.
      if (groups > 6 || !valid_ipv4(s.substr(start))) return false;
      groups += 2;
      break;
    }
    if (i == start) return false;
    if (++groups > 8) return false;
    if (i == n) break;
    if (s[i] != ':') return false;
    ++i;
    if (i < n && s[i] == ':') {
      if (compressed) return false;
      compressed = true;
      ++i;
      if (i == n) break;
    } else if (i == n) {
      return false;
    }
  }
  return compressed ? groups <= 7 : groups == 8;
}

}  // namespace

bool valid_ip(std::string_view ip) {
  if (ip.find(':') != std::string_view::npos) return valid_ipv6(ip);
  return valid_ipv4(ip);
}

bool parse_format(std::string_view name, Format* out) {
  if (name == "ndjson") {
    *out = Format::kNdjson;
    return true;
  }
  if (name == "nginx") {
    *out = Format::kNginx;
    return true;
  }
  if (name == "envoy") {
    *out = Format::kEnvoy;
    return true;
  }
  return false;
}

bool valid_key_option(Format format, std::string_view option) {
  if (option.starts_with("query:")) {
    return format != Format::kNdjson && valid_query_name(option.substr(6));
  }
  switch (format) {
    case Format::kNginx:
      return option == "field" || option == "remote_user";
    case Format::kEnvoy:
      if (option.empty() || option.size() > 128) return false;
      for (char c : option) {
        if (c <= ' ' || c >= 0x7F || c == '"' || c == '\\') return false;
      }
      return envoy_field_of(option) == EnvoyField::kUnknown;
    default:
      return false;
  }
}

std::unique_ptr<LineParser> make_parser(Format format) {
  static const ParseOptions kDefaults;
  return make_parser(format, kDefaults);
}

std::unique_ptr<LineParser> make_parser(Format format, const ParseOptions& options) {
  const std::string& option = format == Format::kNginx ? options.nginx_key : options.envoy_key;
  if (format != Format::kNdjson && !valid_key_option(format, option))
    return std::make_unique<RejectingParser>(kInvalidKeyOption);
  const bool query = option.starts_with("query:");
  const std::string query_key = query ? option.substr(6) : std::string();
  switch (format) {
    case Format::kNginx:
      return std::make_unique<NginxParser>(query                     ? KeySource::kQuery
                                           : option == "remote_user" ? KeySource::kRemoteUser
                                                                     : KeySource::kField,
                                           query_key);
    case Format::kEnvoy:
      return std::make_unique<EnvoyParser>(query ? std::string() : option, query_key);
    default:
      return std::make_unique<NdjsonParser>();
  }
}

void parse_lines(LineParser& parser, std::string_view data, int64_t first_line,
                 const std::function<void(const RecordView&)>& on_record,
                 const std::function<void(int64_t line, std::string_view reason)>& on_reject,
                 ParseStats* stats) {
  RecordView record;
  std::string reason;
  int64_t line_no = first_line;
  size_t pos = 0;
  if (first_line == 1 && data.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;  // UTF-8 BOM
  while (pos < data.size()) {
    const char* start = data.data() + pos;
    const void* nl = std::memchr(start, '\n', data.size() - pos);
    const size_t end = nl != nullptr
                           ? static_cast<size_t>(static_cast<const char*>(nl) - data.data())
                           : data.size();
    std::string_view line = data.substr(pos, end - pos);
    pos = end + 1;
    const int64_t this_line = line_no++;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    if (stats != nullptr) ++stats->lines;
    if (parser.parse(line, &record, &reason)) {
      record.line = this_line;
      record.raw = line;
      if (stats != nullptr) ++stats->records;
      if (on_record) on_record(record);
    } else {
      if (stats != nullptr) {
        ++stats->rejected;
        ++stats->reasons[reason];
      }
      if (on_reject) on_reject(this_line, reason);
    }
  }
}

}  // namespace sira::signals
