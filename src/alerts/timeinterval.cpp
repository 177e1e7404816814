// Alertmanager time intervals: parsing of the YAML range syntax and ContainsTime.
#include "alerts/timeinterval.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <ctime>

namespace sira::alerts {

namespace {

struct Civil {
  int year = 1970;
  int month = 1;    // 1..12
  int day = 1;      // 1..31
  int weekday = 4;  // 0 = Sunday
  int minute_of_day = 0;
  int days_in_month = 31;
};

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

Civil civil_fixed(int64_t unix_ms, int32_t offset_s) {
  using namespace std::chrono;
  int64_t secs = floor_div(unix_ms, 1000) + offset_s;
  int64_t day_count = floor_div(secs, 86400);
  int64_t sod = secs - day_count * 86400;
  sys_days sd{days{day_count}};
  year_month_day ymd{sd};
  Civil c;
  c.year = static_cast<int>(ymd.year());
  c.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  c.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
  c.weekday = static_cast<int>(weekday{sd}.c_encoding());
  c.minute_of_day = static_cast<int>(sod / 60);
  year_month_day_last last{ymd.year(), month_day_last{ymd.month()}};
  c.days_in_month = static_cast<int>(static_cast<unsigned>(last.day()));
  return c;
}

// Alertmanager computes the month length as whole 24-hour spans between the first of the
// month and the first of the next one in the location (daysInMonth), so a month that loses an
// hour to DST counts one day short there: March in Europe/Paris is 743 hours long, 30 days, and
// "-1" is March 30th. Both zone-aware paths below reproduce that.

Civil civil_zone(int64_t unix_ms, const TimeZone& zone) {
  Civil c = civil_fixed(unix_ms, zone.offset_at(floor_div(unix_ms, 1000)));
  using namespace std::chrono;
  auto month_start = [&](int year, unsigned month) {
    sys_days first{year_month_day{std::chrono::year{year}, std::chrono::month{month}, day{1}}};
    return zone.local_to_utc(static_cast<int64_t>(first.time_since_epoch().count()) * 86400);
  };
  int64_t a = month_start(c.year, static_cast<unsigned>(c.month));
  int64_t b = c.month == 12 ? month_start(c.year + 1, 1)
                            : month_start(c.year, static_cast<unsigned>(c.month + 1));
  c.days_in_month = static_cast<int>((b - a) / 3600 / 24);
  return c;
}

Civil civil_local(int64_t unix_ms) {
  time_t t = static_cast<time_t>(floor_div(unix_ms, 1000));
  struct tm tm {};
  localtime_r(&t, &tm);
  Civil c;
  c.year = tm.tm_year + 1900;
  c.month = tm.tm_mon + 1;
  c.day = tm.tm_mday;
  c.weekday = tm.tm_wday;
  c.minute_of_day = tm.tm_hour * 60 + tm.tm_min;
  // Month length in whole 24-hour spans, as above.
  struct tm first {};
  first.tm_year = tm.tm_year;
  first.tm_mon = tm.tm_mon;
  first.tm_mday = 1;
  first.tm_isdst = -1;
  struct tm next = first;
  next.tm_mon += 1;
  time_t a = mktime(&first);
  time_t b = mktime(&next);
  c.days_in_month = static_cast<int>((b - a) / 3600 / 24);
  return c;
}

Status config_error(std::string msg) {
  return fail(ErrorCode::kConfig, std::move(msg));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Go's strconv.Atoi: optional sign, decimal digits.
bool atoi(std::string_view s, int* out) {
  if (s.empty()) return false;
  bool neg = false;
  if (s.front() == '+' || s.front() == '-') {
    neg = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return false;
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return false;
  *out = neg ? -v : v;
  return true;
}

constexpr const char* kWeekdays[] = {"sunday",   "monday", "tuesday", "wednesday",
                                     "thursday", "friday", "saturday"};
constexpr const char* kMonths[] = {"january",   "february", "march",    "april",
                                   "may",       "june",     "july",     "august",
                                   "september", "october",  "november", "december"};

enum class Kind { kWeekday, kMonth, kInt };

Result<int> member(std::string_view s, Kind kind) {
  if (kind == Kind::kWeekday) {
    for (int i = 0; i < 7; ++i) {
      if (s == kWeekdays[i]) return i;
    }
    return fail(ErrorCode::kConfig, std::string(s) + " is not a valid weekday");
  }
  if (kind == Kind::kMonth) {
    for (int i = 0; i < 12; ++i) {
      if (s == kMonths[i]) return i + 1;
    }
    int v = 0;
    if (!atoi(s, &v)) return fail(ErrorCode::kConfig, std::string(s) + " is not a valid month");
    return v;
  }
  int v = 0;
  if (!atoi(s, &v))
    return fail(ErrorCode::kConfig,
                "strconv.Atoi: parsing \"" + std::string(s) + "\": invalid syntax");
  return v;
}

Result<InclusiveRange> stringable_range(std::string_view text, Kind kind) {
  std::string in = lower(text);
  InclusiveRange r;
  auto colon = in.find(':');
  if (colon != std::string::npos) {
    if (in.find(':', colon + 1) != std::string::npos)
      return fail(ErrorCode::kConfig, "couldn't parse range " + in + ", invalid format");
    r.begin = SIRA_TRY(member(std::string_view(in).substr(0, colon), kind));
    r.end = SIRA_TRY(member(std::string_view(in).substr(colon + 1), kind));
    return r;
  }
  r.begin = r.end = SIRA_TRY(member(in, kind));
  return r;
}

// "HH:MM" per ^((([01][0-9])|(2[0-3])):[0-5][0-9])$|(^24:00$), in minutes.
Result<int> parse_hhmm(std::string_view s) {
  auto bad = [&] {
    return fail(ErrorCode::kConfig,
                "couldn't parse timestamp " + std::string(s) + ", invalid format");
  };
  if (s.size() != 5 || s[2] != ':') return bad();
  for (int i : {0, 1, 3, 4}) {
    if (s[i] < '0' || s[i] > '9') return bad();
  }
  int h = (s[0] - '0') * 10 + (s[1] - '0');
  int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h == 24 && m == 0) return 1440;
  if (h > 23 || m > 59) return bad();
  return h * 60 + m;
}

bool in_any(const std::vector<InclusiveRange>& ranges, int v) {
  for (const auto& r : ranges) {
    if (v >= r.begin && v <= r.end) return true;
  }
  return false;
}

}  // namespace

bool TimeInterval::contains(int64_t unix_ms) const {
  Civil c = location_local ? civil_local(unix_ms)
            : zone         ? civil_zone(unix_ms, *zone)
                           : civil_fixed(unix_ms, utc_offset_s);
  if (!times.empty()) {
    bool in = false;
    for (const auto& t : times) {
      if (c.minute_of_day >= t.start_minute && c.minute_of_day < t.end_minute) {
        in = true;
        break;
      }
    }
    if (!in) return false;
  }
  if (!days_of_month.empty()) {
    bool in = false;
    int dim = c.days_in_month;
    for (const auto& r : days_of_month) {
      int begin = r.begin < 0 ? dim + r.begin + 1 : r.begin;
      int end = r.end < 0 ? dim + r.end + 1 : r.end;
      if (begin > dim) continue;  // e.g. the 31st in a 30-day month
      begin = std::clamp(begin, -dim, dim);
      end = std::clamp(end, -dim, dim);
      if (c.day >= begin && c.day <= end) {
        in = true;
        break;
      }
    }
    if (!in) return false;
  }
  if (!months.empty() && !in_any(months, c.month)) return false;
  if (!weekdays.empty() && !in_any(weekdays, c.weekday)) return false;
  if (!years.empty() && !in_any(years, c.year)) return false;
  return true;
}

bool NamedTimeInterval::contains(int64_t unix_ms) const {
  for (const auto& ti : intervals) {
    if (ti.contains(unix_ms)) return true;
  }
  return false;
}

Result<TimeRange> parse_time_range(std::string_view start_time, std::string_view end_time) {
  if (start_time.empty() || end_time.empty())
    return fail(ErrorCode::kConfig, "both start and end times must be provided");
  TimeRange r;
  r.start_minute = SIRA_TRY(parse_hhmm(start_time));
  r.end_minute = SIRA_TRY(parse_hhmm(end_time));
  if (r.start_minute >= r.end_minute)
    return fail(ErrorCode::kConfig, "start time cannot be equal or greater than end time");
  return r;
}

Result<InclusiveRange> parse_weekday_range(std::string_view text) {
  InclusiveRange r = SIRA_TRY(stringable_range(text, Kind::kWeekday));
  if (r.begin > r.end) return fail(ErrorCode::kConfig, "start day cannot be before end day");
  return r;
}

Result<InclusiveRange> parse_day_of_month_range(std::string_view text) {
  InclusiveRange r = SIRA_TRY(stringable_range(text, Kind::kInt));
  for (int v : {r.begin, r.end}) {
    if (v == 0 || v < -31 || v > 31)
      return fail(ErrorCode::kConfig,
                  std::to_string(v) + " is not a valid day of the month: out of range");
  }
  if (r.begin < 0 && r.end > 0)
    return fail(ErrorCode::kConfig, "end day must be negative if start day is negative");
  // Reject ranges that are empty in every month (28 days is the shortest month).
  int check_begin = r.begin < 0 ? 28 + r.begin : r.begin;
  int check_end = r.end < 0 ? 28 + r.end : r.end;
  if (check_begin > check_end) {
    return fail(ErrorCode::kConfig, "end day " + std::to_string(r.end) +
                                        " is always before start day " + std::to_string(r.begin));
  }
  return r;
}

Result<InclusiveRange> parse_month_range(std::string_view text) {
  InclusiveRange r = SIRA_TRY(stringable_range(text, Kind::kMonth));
  for (int v : {r.begin, r.end}) {
    if (v < 1 || v > 12)
      return fail(ErrorCode::kConfig, std::to_string(v) + " is not a valid month: out of range");
  }
  if (r.begin > r.end) {
    return fail(ErrorCode::kConfig, std::string("end month ") + kMonths[r.end - 1] +
                                        " is before start month " + kMonths[r.begin - 1]);
  }
  return r;
}

Result<InclusiveRange> parse_year_range(std::string_view text) {
  InclusiveRange r = SIRA_TRY(stringable_range(text, Kind::kInt));
  if (r.begin > r.end) {
    return fail(ErrorCode::kConfig, "end year " + std::to_string(r.end) + " is before start year " +
                                        std::to_string(r.begin));
  }
  return r;
}

Status set_location(TimeInterval* ti, std::string_view name) {
  ti->location = std::string(name);
  ti->location_supported = true;
  ti->location_local = false;
  ti->utc_offset_s = 0;
  ti->zone = nullptr;
  static constexpr std::string_view kUtcNames[] = {
      "",          "UTC",      "Etc/UTC",   "GMT",          "Etc/GMT",
      "GMT0",      "Etc/GMT0", "GMT+0",     "Etc/GMT+0",    "GMT-0",
      "Etc/GMT-0", "UCT",      "Etc/UCT",   "Universal",    "Etc/Universal",
      "Zulu",      "Etc/Zulu", "Greenwich", "Etc/Greenwich"};
  for (auto n : kUtcNames) {
    if (name == n) return {};
  }
  if (name == "Local") {
    ti->location_local = true;
    return {};
  }
  // Etc/GMT+N is N hours *behind* UTC (POSIX sign convention).
  if (name.starts_with("Etc/GMT+") || name.starts_with("Etc/GMT-")) {
    int hours = 0;
    std::string_view digits = name.substr(8);
    if (!digits.empty() && digits.size() <= 2 && atoi(digits, &hours) && digits.front() != '+' &&
        digits.front() != '-') {
      bool behind = name[7] == '+';
      if ((behind && hours <= 12) || (!behind && hours <= 14)) {
        ti->utc_offset_s = (behind ? -hours : hours) * 3600;
        return {};
      }
    }
  }
  // Anything else must name a zone of the system database, as for Go's time.LoadLocation,
  // which refuses unknown names ("unknown time zone X").
  auto zone = load_time_zone(name);
  if (!zone) {
    if (zone.error().code == ErrorCode::kNotFound ||
        zone.error().code == ErrorCode::kInvalidArgument) {
      std::string msg = "unknown time zone ";
      msg += name;
      return config_error(std::move(msg));
    }
    return config_error(zone.error().detail);
  }
  ti->zone = std::move(*zone);
  return {};
}

}  // namespace sira::alerts
