// Alertmanager time intervals (timeinterval.go): times of day, weekdays, days of the month
// (negative = from the end), months, years and a location, used by mute_time_intervals and
// active_time_intervals. Plain values; contains() is thread-safe.
//
// Locations, as Go's time.LoadLocation: "UTC" (also "", "Etc/UTC", "GMT", "Etc/GMT", "UCT",
// "Universal", "Zulu", ...) and the fixed zones "Etc/GMT+N" / "Etc/GMT-N" need no file; "Local"
// is the process's time zone (localtime_r); any other name must be a zone of the system's
// zoneinfo ("Europe/Paris", read by core/tz.h, DST included) and an unknown one is an error.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/tz.h"

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
  // Every location set_location() accepts is evaluated; kept for callers that report
  // unsupported fields.
  bool location_supported = true;
  bool location_local = false;           // "Local"
  int32_t utc_offset_s = 0;              // UTC and fixed zones
  std::shared_ptr<const TimeZone> zone;  // IANA zones of the system database

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
// Sets location, location_local, utc_offset_s and zone. Errors (kConfig): "unknown time zone
// NAME" for a name that is not in the system database (or is not a plain relative zone name),
// the reader's message for a zone file that cannot be used.
Status set_location(TimeInterval* interval, std::string_view name);

}  // namespace sira::alerts
