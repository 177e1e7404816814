// Silence state and validation (Alertmanager 0.25 silence.go and API v2 rules).
#include "alerts/silence.h"

namespace sira::alerts {

namespace {

// Alertmanager's matchesEmpty: only equality with "" and regexes matching "" count.
bool matches_empty(const Matcher& m) {
  switch (m.type()) {
    case MatchType::kEqual:
      return m.value().empty();
    case MatchType::kRegex:
      return m.matches(std::string_view());
    default:
      return false;
  }
}

}  // namespace

Silence::State Silence::state(int64_t now_ms) const {
  if (now_ms < starts_at_ms) return State::kPending;
  if (now_ms > ends_at_ms) return State::kExpired;
  return State::kActive;
}

bool Silence::mutes(const LabelSet& labels, int64_t now_ms) const {
  return state(now_ms) == State::kActive && matches_all(matchers, labels);
}

const char* state_name(Silence::State state) {
  switch (state) {
    case Silence::State::kPending:
      return "pending";
    case Silence::State::kActive:
      return "active";
    case Silence::State::kExpired:
      return "expired";
  }
  return "unknown";
}

Status validate_silence(const Silence& s) {
  if (s.matchers.empty())
    return fail(ErrorCode::kInvalidArgument, "at least one matcher required", "matchers");
  bool all_match_empty = true;
  for (size_t i = 0; i < s.matchers.size(); ++i) {
    const Matcher& m = s.matchers[i];
    std::string field = "matchers[" + std::to_string(i) + "]";
    if (!valid_label_name(m.name())) {
      return fail(ErrorCode::kInvalidArgument,
                  "invalid label matcher " + std::to_string(i) + ": invalid label name " +
                      go_quote(m.name()),
                  field);
    }
    if (!m.is_regex() && !valid_utf8(m.value())) {
      return fail(ErrorCode::kInvalidArgument,
                  "invalid label matcher " + std::to_string(i) + ": invalid label value " +
                      go_quote(m.value()),
                  field);
    }
    all_match_empty = all_match_empty && matches_empty(m);
  }
  if (all_match_empty) {
    return fail(ErrorCode::kInvalidArgument, "at least one matcher must not match the empty string",
                "matchers");
  }
  if (s.starts_at_ms == 0)
    return fail(ErrorCode::kInvalidArgument, "invalid zero start timestamp", "startsAt");
  if (s.ends_at_ms == 0)
    return fail(ErrorCode::kInvalidArgument, "invalid zero end timestamp", "endsAt");
  if (s.ends_at_ms <= s.starts_at_ms)
    return fail(ErrorCode::kInvalidArgument, "start time must be before end time", "endsAt");
  if (s.created_by.empty())
    return fail(ErrorCode::kInvalidArgument, "createdBy must not be empty", "createdBy");
  if (s.comment.empty())
    return fail(ErrorCode::kInvalidArgument, "comment must not be empty", "comment");
  return {};
}

}  // namespace sira::alerts
