// IANA time zones read from the system's compiled zoneinfo (TZif files, RFC 8536 versions 1-4).
//
// A TimeZone answers "what is the UTC offset at this instant": the transitions of the file's
// 64-bit data block (the 32-bit one for version 1 files) and, after the last transition, the
// POSIX TZ rule of the footer, which is what current years rely on in most files. Leap second
// records are ignored (as Go's time package does). Times before the first transition use time
// type 0 (RFC 8536 section 3.2).
//
// load_time_zone() reads `$ZONEINFO/<name>` when the variable is set, then
// `/usr/share/zoneinfo/<name>`, as Go's time.LoadLocation does. Loaded zones are cached for the
// life of the process (an update of tzdata is seen after a restart). TimeZone is immutable:
// every method is thread-safe, and so are load_time_zone() and parse_time_zone().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace sira {

class TimeZone {
 public:
  const std::string& name() const { return name_; }

  // UTC offset in seconds (east positive) in effect at the instant.
  int32_t offset_at(int64_t unix_seconds) const;

  // The instant at which the zone's wall clock reads `local_seconds` (a civil time counted as
  // seconds since 1970-01-01T00:00 local), with Go's time.Date rule for wall times that occur
  // twice or never around a transition: the offset in effect at `local_seconds` read as UTC is
  // tried first, and the offset in effect at the result is used when that one does not hold.
  int64_t local_to_utc(int64_t local_seconds) const;

 private:
  friend Result<std::shared_ptr<const TimeZone>> parse_time_zone(std::string_view name,
                                                                 std::string_view tzif);
  friend std::shared_ptr<const TimeZone> utc_time_zone();

  // One date of a POSIX TZ rule: "Jn" (1..365, February 29 never counted), "n" (0..365) or
  // "Mm.w.d" (day d of week w of month m, w = 5 meaning the last), at `time_s` local seconds
  // (02:00 by default; version 3 allows -167..167 hours).
  struct RuleDate {
    enum class Kind { kJulian1, kJulian0, kMonthWeekDay };
    Kind kind = Kind::kMonthWeekDay;
    int day = 0;  // Jn / n
    int month = 0;
    int week = 0;
    int weekday = 0;  // 0 = Sunday
    int32_t time_s = 7200;
  };
  // The footer: standard time only, or standard and daylight time switching on `start`
  // (read in standard time) and `end` (read in daylight time) every year.
  struct PosixRule {
    int32_t std_offset = 0;  // UTC offsets, east positive
    int32_t dst_offset = 0;
    bool has_dst = false;
    RuleDate start;
    RuleDate end;
  };

  TimeZone() = default;
  int32_t rule_offset_at(int64_t unix_seconds) const;

  std::string name_;
  std::vector<int64_t> transitions_;      // ascending instants
  std::vector<uint8_t> transition_type_;  // index into type_offset_, one per transition
  std::vector<int32_t> type_offset_;      // UTC offset of each local time type
  bool has_rule_ = false;
  PosixRule rule_;
};

// Validates and parses the bytes of a TZif file. Errors: kConfig naming what is malformed.
Result<std::shared_ptr<const TimeZone>> parse_time_zone(std::string_view name,
                                                        std::string_view tzif);

// UTC, without any file.
std::shared_ptr<const TimeZone> utc_time_zone();

// The zone `name` ("Europe/Paris") of the system database; "UTC" needs no file. Names must be
// relative paths without empty, "." or ".." parts. Errors: kInvalidArgument (bad name),
// kNotFound (no such zone), kIo (unreadable file), kConfig (malformed file).
Result<std::shared_ptr<const TimeZone>> load_time_zone(std::string_view name);

}  // namespace sira
