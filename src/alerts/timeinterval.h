// Alertmanager time intervals (timeinterval.go): times of day, weekdays, days of the month
// (negative = from the end), months, years and a location, used by mute_time_intervals and
// active_time_intervals. Plain values; contains() is thread-safe.
//
// Locations: g++ 12 has no <chrono> time-zone database and the project has no tz library, so
// only "UTC" (also "", "Etc/UTC", "GMT", "Etc/GMT", "UCT", "Universal", "Zulu", ...), "Local"
// (the process's time zone via localtime_r) and the fixed zones "Etc/GMT+N" / "Etc/GMT-N" are
// evaluated. Any other IANA name is kept in `location`, flagged `location_supported = false`,
// reported by the config parser as unsupported and evaluated as UTC.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace sira::alerts {

// Minutes of the day, [start_minute, end_minute): "09:00"-"17:00" is 540-1020, "24:00" = 1440.
struct TimeRange {
  int start_minute = 0;
  int end_minute = 0;
};

// Inclusive [begin, end]. Weekdays 0..6 with 0 = Sunday; months 1..12; days of the month
// 1..31 or -31..-1 (-1 = last day); years as written.
struct InclusiveRange {
  int begin = 0;
  int end = 0;
};

struct TimeInterval {
  std::vector<TimeRange> times;
  std::vector<InclusiveRange> weekdays;
  std::vector<InclusiveRange> days_of_month;
  std::vector<InclusiveRange> months;
  std::vector<InclusiveRange> years;
  std::string location;  // as written; "" = UTC
  bool location_supported = true;
  bool location_local = false;  // "Local"
  int32_t utc_offset_s = 0;     // fixed zones

  // Alertmanager's ContainsTime: every non-empty field must contain the instant (in the
  // interval's location); within a field any range may match.
  bool contains(int64_t unix_ms) const;
};

struct NamedTimeInterval {
  std::string name;
  std::vector<TimeInterval> intervals;

  // True when any of the intervals contains the instant.
  bool contains(int64_t unix_ms) const;
};

// Parsers with Alertmanager's validation and error texts (kConfig). Names are
// case-insensitive ("Monday:Friday"); a single member means begin == end.
// "HH:MM" pairs; start must be before end (ranges across midnight are rejected: split them).
Result<TimeRange> parse_time_range(std::string_view start_time, std::string_view end_time);
Result<InclusiveRange> parse_weekday_range(std::string_view text);       // "monday:friday"
Result<InclusiveRange> parse_day_of_month_range(std::string_view text);  // "1:5", "-3:-1"
Result<InclusiveRange> parse_month_range(std::string_view text);         // "january:march", "1:3"
Result<InclusiveRange> parse_year_range(std::string_view text);          // "2024:2026"
// Sets location, location_supported, location_local and utc_offset_s. Always succeeds for a
// syntactically plausible name; unknown names are flagged unsupported (see above).
Status set_location(TimeInterval* interval, std::string_view name);

}  // namespace sira::alerts
