// Silences as Alertmanager 0.25 defines them: matchers plus a time window, with the
// pending/active/expired state machine and the validation Alertmanager applies on creation.
// Storage, ids and expiry live in the store, not here. Plain values: thread-safe to read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "alerts/matchers.h"
#include "alerts/model.h"
#include "alerts/timeinterval.h"
#include "core/error.h"

namespace sira::alerts {

struct Silence {
  std::string id;
  std::vector<Matcher> matchers;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;
  int64_t updated_at_ms = 0;
  std::string created_by;
  std::string comment;
  // Recurring silences (Alertmanager #214, a sira extension): when set, the silence only mutes
  // while one of these intervals contains the time, between startsAt and endsAt ("every night
  // 22:00-23:00 for the next month"). `recurrence_json` is the interval list as given.
  std::vector<TimeInterval> recurrence;
  std::string recurrence_json;

  enum class State { kPending, kActive, kExpired };

  // Alertmanager's getState: pending before startsAt, expired strictly after endsAt, active
  // in between (both bounds inclusive). Note: an expiry that sets endsAt = now leaves the
  // silence active until the clock moves past it.
  State state(int64_t now_ms) const;
  // Active at `now_ms`, inside its recurrence if it has one, and every matcher matches.
  bool mutes(const LabelSet& labels, int64_t now_ms) const;
};

// "pending", "active", "expired" (the v2 API's status.state).
const char* state_name(Silence::State state);

// Validation of a silence submitted through the API, as Alertmanager (API v2 + silence.go):
// at least one matcher ("matchers"); each matcher name a valid label name and each = / !=
// value valid UTF-8 ("matchers[i]"); not every matcher matching the empty string — with
// Alertmanager's rule that only = "" and =~ regexes matching "" count, != and !~ never do
// ("matchers"); startsAt set ("startsAt"); endsAt set and strictly after startsAt ("endsAt");
// createdBy and comment non-empty ("createdBy", "comment"). The "endsAt in the past" check
// needs the clock and stays with the caller. kInvalidArgument with the field.
Status validate_silence(const Silence& silence);

// Parses a recurrence: a JSON array of Alertmanager time intervals, each an object with
// `times` ([{start_time, end_time}]), `weekdays`, `days_of_month`, `months`, `years` (arrays of
// range strings) and `location`. kInvalidArgument naming the part ("recurrence[0].weekdays[1]").
Result<std::vector<TimeInterval>> parse_recurrence(std::string_view json);

}  // namespace sira::alerts
