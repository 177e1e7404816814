// TZif reader (RFC 8536) and POSIX TZ rule evaluation for IANA time zones.
#include "core/tz.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

namespace sira {

namespace {

constexpr std::string_view kSystemZoneDir = "/usr/share/zoneinfo";
constexpr size_t kMaxTzifBytes = 1 << 20;
// Beyond ~28,000 years from 1970 the calendar helpers of <chrono> stop being exact; instants
// past that are evaluated as at the bound.
constexpr int64_t kMaxRuleSeconds = int64_t{900'000'000'000};

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t days_from_civil(int year, unsigned month, unsigned day) {
  using namespace std::chrono;
  return sys_days{
      year_month_day{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{day}}}
      .time_since_epoch()
      .count();
}

int year_of_day(int64_t day_count) {
  using namespace std::chrono;
  year_month_day ymd{sys_days{days{day_count}}};
  return static_cast<int>(ymd.year());
}

bool is_leap(int year) {
  return std::chrono::year{year}.is_leap();
}

unsigned days_in_month(int year, unsigned month) {
  using namespace std::chrono;
  year_month_day_last last{std::chrono::year{year}, month_day_last{std::chrono::month{month}}};
  return static_cast<unsigned>(last.day());
}

// Appends pieces to one string (no `const char* + std::string`: g++ 12 -O3 warns on it).
std::string join(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto p : parts) out += p;
  return out;
}

std::unexpected<Error> malformed(std::string_view name, std::string_view what) {
  return fail(ErrorCode::kConfig, join({"time zone ", name, ": malformed TZif data: ", what}));
}

// --- POSIX TZ strings (the TZif footer) -----------------------------------------------------

class TzStringParser {
 public:
  explicit TzStringParser(std::string_view s) : s_(s) {}

  bool done() const { return i_ >= s_.size(); }
  char peek() const { return done() ? '\0' : s_[i_]; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++i_;
    return true;
  }

  // "EST" (three or more letters) or "<+0530>" (three or more of [A-Za-z0-9+-]).
  bool name() {
    size_t begin = i_;
    if (eat('<')) {
      while (!done() && (is_alnum(s_[i_]) || s_[i_] == '+' || s_[i_] == '-')) ++i_;
      size_t len = i_ - begin - 1;
      return eat('>') && len >= 3;
    }
    while (!done() && is_alpha(s_[i_])) ++i_;
    return i_ - begin >= 3;
  }

  // [+|-]hh[:mm[:ss]] with hh <= max_hours, in seconds.
  bool hms(int max_hours, int32_t* out) {
    bool negative = false;
    if (peek() == '+' || peek() == '-') negative = s_[i_++] == '-';
    int hours = 0, minutes = 0, seconds = 0;
    if (!number(3, &hours) || hours > max_hours) return false;
    if (eat(':')) {
      if (!number(2, &minutes) || minutes > 59) return false;
      if (eat(':') && (!number(2, &seconds) || seconds > 59)) return false;
    }
    int32_t v = hours * 3600 + minutes * 60 + seconds;
    *out = negative ? -v : v;
    return true;
  }

  // A rule date and its optional "/time".
  template <class RuleDate>
  bool date(RuleDate* d) {
    using Kind = typename RuleDate::Kind;
    if (eat('J')) {
      d->kind = Kind::kJulian1;
      if (!number(3, &d->day) || d->day < 1 || d->day > 365) return false;
    } else if (eat('M')) {
      d->kind = Kind::kMonthWeekDay;
      if (!number(2, &d->month) || d->month < 1 || d->month > 12) return false;
      if (!eat('.') || !number(1, &d->week) || d->week < 1 || d->week > 5) return false;
      if (!eat('.') || !number(1, &d->weekday) || d->weekday > 6) return false;
    } else {
      d->kind = Kind::kJulian0;
      if (!number(3, &d->day) || d->day > 365) return false;
    }
    d->time_s = 7200;
    if (eat('/')) return hms(167, &d->time_s);
    return true;
  }

 private:
  static bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
  static bool is_alnum(char c) { return is_alpha(c) || (c >= '0' && c <= '9'); }

  bool number(int max_digits, int* out) {
    int v = 0, n = 0;
    while (!done() && n < max_digits && s_[i_] >= '0' && s_[i_] <= '9') {
      v = v * 10 + (s_[i_++] - '0');
      ++n;
    }
    *out = v;
    return n > 0;
  }

  std::string_view s_;
  size_t i_ = 0;
};

// --- TZif structure ---------------------------------------------------------------------

class ByteReader {
 public:
  explicit ByteReader(std::string_view data) : data_(data) {}
  size_t remaining() const { return data_.size() - pos_; }
  std::string_view take(size_t n) {
    std::string_view out = data_.substr(pos_, std::min(n, remaining()));
    pos_ += out.size();
    return out;
  }
  uint32_t be32() {
    uint32_t v = 0;
    for (char c : take(4)) v = (v << 8) | static_cast<unsigned char>(c);
    return v;
  }
  int64_t be64() {
    uint64_t v = 0;
    for (char c : take(8)) v = (v << 8) | static_cast<unsigned char>(c);
    return static_cast<int64_t>(v);
  }
  uint8_t u8() { return static_cast<uint8_t>(take(1)[0]); }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

struct TzifHeader {
  char version = 0;
  uint32_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;
};

struct TzifData {
  std::vector<int64_t> transitions;
  std::vector<uint8_t> types;
  std::vector<int32_t> offsets;
};

std::optional<std::string_view> read_header(ByteReader* in, TzifHeader* h) {
  if (in->remaining() < 44) return "truncated header";
  if (in->take(4) != "TZif") return "bad magic (not a TZif file)";
  h->version = in->take(1)[0];
  if (h->version != '\0' && (h->version < '2' || h->version > '4')) return "unknown version";
  in->take(15);
  h->isutcnt = in->be32();
  h->isstdcnt = in->be32();
  h->leapcnt = in->be32();
  h->timecnt = in->be32();
  h->typecnt = in->be32();
  h->charcnt = in->be32();
  return std::nullopt;
}

std::optional<std::string_view> check_counts(const TzifHeader& h) {
  if (h.typecnt == 0 || h.typecnt > 256) return "bad local time type count";
  if (h.charcnt == 0) return "no time zone designations";
  if (h.isutcnt != 0 && h.isutcnt != h.typecnt) return "bad UT/local indicator count";
  if (h.isstdcnt != 0 && h.isstdcnt != h.typecnt) return "bad standard/wall indicator count";
  return std::nullopt;
}

uint64_t block_size(const TzifHeader& h, uint64_t time_size) {
  return uint64_t{h.timecnt} * time_size + h.timecnt + uint64_t{h.typecnt} * 6 + h.charcnt +
         uint64_t{h.leapcnt} * (time_size + 4) + h.isstdcnt + h.isutcnt;
}

std::optional<std::string_view> read_block(ByteReader* in, const TzifHeader& h, bool wide,
                                           TzifData* out) {
  if (auto bad = check_counts(h)) return bad;
  if (in->remaining() < block_size(h, wide ? 8 : 4)) return "truncated data block";
  out->transitions.resize(h.timecnt);
  for (auto& t : out->transitions) t = wide ? in->be64() : static_cast<int32_t>(in->be32());
  for (size_t i = 1; i < out->transitions.size(); ++i) {
    if (out->transitions[i] <= out->transitions[i - 1]) return "transitions out of order";
  }
  out->types.resize(h.timecnt);
  for (auto& t : out->types) {
    t = in->u8();
    if (t >= h.typecnt) return "transition to an undefined local time type";
  }
  out->offsets.resize(h.typecnt);
  for (auto& o : out->offsets) {
    o = static_cast<int32_t>(in->be32());
    uint8_t isdst = in->u8();
    uint8_t desigidx = in->u8();
    // RFC 8536: -2^31 is forbidden and offsets should stay within -89999..93599.
    if (o < -89999 || o > 93599) return "UTC offset out of range";
    if (isdst > 1) return "bad DST indicator";
    if (desigidx >= h.charcnt) return "bad designation index";
  }
  in->take(h.charcnt);
  in->take(uint64_t{h.leapcnt} * (wide ? 12 : 8));  // leap seconds: not applied
  for (uint32_t i = 0; i < h.isstdcnt + h.isutcnt; ++i) {
    if (in->u8() > 1) return "bad standard/wall or UT/local indicator";
  }
  return std::nullopt;
}

// --- TimeZone -----------------------------------------------------------------------------

// Local seconds (since 1970-01-01T00:00 local) at which the rule date falls in `year`.
template <class RuleDate>
int64_t rule_local_seconds(int year, const RuleDate& d) {
  using Kind = typename RuleDate::Kind;
  int64_t day = days_from_civil(year, 1, 1);
  switch (d.kind) {
    case Kind::kJulian1:
      day += d.day - 1 + ((is_leap(year) && d.day >= 60) ? 1 : 0);
      break;
    case Kind::kJulian0:
      day += d.day;
      break;
    case Kind::kMonthWeekDay: {
      const auto month = static_cast<unsigned>(d.month);
      int64_t first = days_from_civil(year, month, 1);
      int first_weekday = static_cast<int>(((first % 7) + 11) % 7);  // 1970-01-01: Thursday
      int64_t offset = (d.weekday - first_weekday + 7) % 7 + (d.week - 1) * 7;
      if (offset >= static_cast<int64_t>(days_in_month(year, month)))
        offset -= 7;  // week 5 = the last one
      day = first + offset;
      break;
    }
  }
  return day * 86400 + d.time_s;
}

}  // namespace

int32_t TimeZone::rule_offset_at(int64_t unix_seconds) const {
  if (!rule_.has_dst) return rule_.std_offset;
  int64_t t = std::clamp(unix_seconds, -kMaxRuleSeconds, kMaxRuleSeconds);
  int year = year_of_day(floor_div(t + rule_.std_offset, 86400));
  // The start date is read in standard time, the end date in daylight time.
  int64_t start = rule_local_seconds(year, rule_.start) - rule_.std_offset;
  int64_t end = rule_local_seconds(year, rule_.end) - rule_.dst_offset;
  bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
  return dst ? rule_.dst_offset : rule_.std_offset;
}

int32_t TimeZone::offset_at(int64_t unix_seconds) const {
  if (transitions_.empty()) return has_rule_ ? rule_offset_at(unix_seconds) : type_offset_[0];
  if (unix_seconds < transitions_.front()) return type_offset_[0];
  if (has_rule_ && unix_seconds >= transitions_.back()) return rule_offset_at(unix_seconds);
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), unix_seconds);
  size_t index = static_cast<size_t>(it - transitions_.begin()) - 1;
  return type_offset_[transition_type_[index]];
}

int64_t TimeZone::local_to_utc(int64_t local_seconds) const {
  int32_t guess = offset_at(local_seconds);
  int64_t utc = local_seconds - guess;
  int32_t actual = offset_at(utc);
  return actual == guess ? utc : local_seconds - actual;
}

Result<std::shared_ptr<const TimeZone>> parse_time_zone(std::string_view name,
                                                        std::string_view tzif) {
  ByteReader in(tzif);
  TzifHeader header;
  if (auto bad = read_header(&in, &header)) return malformed(name, *bad);
  TzifData data;
  std::string_view footer;
  bool has_footer = false;
  if (header.version == '\0') {
    if (auto bad = read_block(&in, header, false, &data)) return malformed(name, *bad);
  } else {
    // Version 2+: readers skip the 32-bit block (zic -b slim leaves it nearly empty) and use
    // the same data again with 64-bit times, then "\n<TZ string>\n".
    if (in.remaining() < block_size(header, 4)) return malformed(name, "truncated data block");
    in.take(block_size(header, 4));
    TzifHeader wide;
    if (auto bad = read_header(&in, &wide)) return malformed(name, *bad);
    if (wide.version < '2') return malformed(name, "second header is not version 2+");
    if (auto bad = read_block(&in, wide, true, &data)) return malformed(name, *bad);
    std::string_view rest = in.take(in.remaining());
    size_t close = rest.empty() ? std::string_view::npos : rest.find('\n', 1);
    if (rest.empty() || rest.front() != '\n' || close == std::string_view::npos)
      return malformed(name, "missing footer");
    footer = rest.substr(1, close - 1);
    has_footer = !footer.empty();
  }

  auto zone = std::shared_ptr<TimeZone>(new TimeZone());
  zone->name_ = std::string(name);
  zone->transitions_ = std::move(data.transitions);
  zone->transition_type_ = std::move(data.types);
  zone->type_offset_ = std::move(data.offsets);
  if (has_footer) {
    TzStringParser p(footer);
    TimeZone::PosixRule& rule = zone->rule_;
    int32_t std_west = 0;
    if (!p.name() || !p.hms(24, &std_west)) return malformed(name, "bad TZ string in footer");
    rule.std_offset = -std_west;
    rule.dst_offset = rule.std_offset;
    if (!p.done()) {
      if (!p.name()) return malformed(name, "bad TZ string in footer");
      rule.has_dst = true;
      rule.dst_offset = rule.std_offset + 3600;
      if (!p.done() && p.peek() != ',') {
        int32_t dst_west = 0;
        if (!p.hms(24, &dst_west)) return malformed(name, "bad TZ string in footer");
        rule.dst_offset = -dst_west;
      }
      if (p.eat(',')) {
        if (!p.date(&rule.start) || !p.eat(',') || !p.date(&rule.end))
          return malformed(name, "bad rule in footer TZ string");
      } else {
        // POSIX leaves the rule to the implementation; tzcode and Go use the US one.
        rule.start = {TimeZone::RuleDate::Kind::kMonthWeekDay, 0, 3, 2, 0, 7200};
        rule.end = {TimeZone::RuleDate::Kind::kMonthWeekDay, 0, 11, 1, 0, 7200};
      }
    }
    if (!p.done()) return malformed(name, "bad TZ string in footer");
    zone->has_rule_ = true;
  }
  return std::shared_ptr<const TimeZone>(std::move(zone));
}

std::shared_ptr<const TimeZone> utc_time_zone() {
  static const std::shared_ptr<const TimeZone> utc = [] {
    auto zone = std::shared_ptr<TimeZone>(new TimeZone());
    zone->name_ = "UTC";
    zone->type_offset_ = {0};
    return std::shared_ptr<const TimeZone>(std::move(zone));
  }();
  return utc;
}

// --- loading ------------------------------------------------------------------------------

namespace {

bool valid_zone_name(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  if (name.find("..") != std::string_view::npos) return false;
  size_t begin = 0;
  while (true) {
    size_t slash = name.find('/', begin);
    std::string_view part = name.substr(begin, slash - begin);
    if (part.empty() || part == ".") return false;
    for (char c : part) {
      if (c == '\\' || c == '\0') return false;
    }
    if (slash == std::string_view::npos) return true;
    begin = slash + 1;
  }
}

struct ZoneCache {
  std::mutex mu;
  std::unordered_map<std::string, std::shared_ptr<const TimeZone>> by_path;
};

ZoneCache& zone_cache() {
  static ZoneCache cache;
  return cache;
}

Result<std::shared_ptr<const TimeZone>> load_from(const std::string& path, std::string_view name) {
  ZoneCache& cache = zone_cache();
  {
    std::lock_guard lock(cache.mu);
    auto it = cache.by_path.find(path);
    if (it != cache.by_path.end()) return it->second;
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return fail(ErrorCode::kNotFound, join({"unknown time zone ", name}));
  std::ifstream file(path, std::ios::binary);
  std::string bytes;
  if (file) {
    bytes.resize(kMaxTzifBytes + 1);
    file.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    bytes.resize(static_cast<size_t>(file.gcount()));
  }
  if (!file && !file.eof()) {
    return fail(ErrorCode::kIo, join({"time zone ", name, ": cannot read ", path}));
  }
  if (bytes.size() > kMaxTzifBytes) return malformed(name, "file too large");
  auto zone = SIRA_TRY(parse_time_zone(name, bytes));
  std::lock_guard lock(cache.mu);
  return cache.by_path.emplace(path, std::move(zone)).first->second;
}

}  // namespace

Result<std::shared_ptr<const TimeZone>> load_time_zone(std::string_view name) {
  if (name == "UTC") return utc_time_zone();
  if (!valid_zone_name(name)) {
    return fail(ErrorCode::kInvalidArgument, join({"invalid time zone name ", name}));
  }
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("ZONEINFO"); env != nullptr && *env != '\0')
    dirs.emplace_back(env);
  dirs.emplace_back(kSystemZoneDir);
  // As Go: a zone found but unusable under $ZONEINFO is looked for in the system directory
  // too, and the first real failure is the one reported.
  std::optional<Error> first;
  for (const auto& dir : dirs) {
    std::string path = dir;
    path += '/';
    path += name;
    auto zone = load_from(path, name);
    if (zone) return zone;
    if (!first || first->code == ErrorCode::kNotFound) first = zone.error();
  }
  return std::unexpected(*first);
}

}  // namespace sira
