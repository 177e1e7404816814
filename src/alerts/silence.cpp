// Silence state and validation (Alertmanager 0.25 silence.go and API v2 rules).
#include "alerts/silence.h"

#include <boost/json.hpp>

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
  if (state(now_ms) != State::kActive) return false;
  if (!recurrence.empty()) {
    bool inside = false;
    for (const auto& ti : recurrence) inside = inside || ti.contains(now_ms);
    if (!inside) return false;
  }
  return matches_all(matchers, labels);
}

Result<std::vector<TimeInterval>> parse_recurrence(std::string_view json) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(json, ec);
  if (ec || !v.is_array())
    return fail(ErrorCode::kInvalidArgument, "recurrence must be an array of time intervals",
                "recurrence");
  std::vector<TimeInterval> out;
  size_t i = 0;
  for (const auto& e : v.as_array()) {
    const std::string at = "recurrence[" + std::to_string(i++) + "]";
    if (!e.is_object()) return fail(ErrorCode::kInvalidArgument, at + " must be an object", at);
    TimeInterval ti;
    for (const auto& [k, val] : e.as_object()) {
      const std::string key(k);
      const std::string path = at + "." + key;
      if (key == "location") {
        if (!val.is_string()) return fail(ErrorCode::kInvalidArgument, path + " must be a string", path);
        if (auto st = set_location(&ti, std::string(val.as_string())); !st)
          return fail(ErrorCode::kInvalidArgument, path + ": " + st.error().detail, path);
        continue;
      }
      if (!val.is_array()) return fail(ErrorCode::kInvalidArgument, path + " must be an array", path);
      size_t j = 0;
      for (const auto& item : val.as_array()) {
        const std::string ip = path + "[" + std::to_string(j++) + "]";
        if (key == "times") {
          if (!item.is_object())
            return fail(ErrorCode::kInvalidArgument, ip + " must be {start_time, end_time}", ip);
          const auto& o = item.as_object();
          auto s = o.find("start_time"), en = o.find("end_time");
          if (s == o.end() || en == o.end() || !s->value().is_string() || !en->value().is_string())
            return fail(ErrorCode::kInvalidArgument, ip + " must be {start_time, end_time}", ip);
          auto r = parse_time_range(std::string(s->value().as_string()),
                                    std::string(en->value().as_string()));
          if (!r) return fail(ErrorCode::kInvalidArgument, ip + ": " + r.error().detail, ip);
          ti.times.push_back(*r);
          continue;
        }
        if (!item.is_string()) return fail(ErrorCode::kInvalidArgument, ip + " must be a string", ip);
        const std::string text(item.as_string());
        Result<InclusiveRange> r = fail(ErrorCode::kInvalidArgument, "unknown field", path);
        if (key == "weekdays") r = parse_weekday_range(text);
        else if (key == "days_of_month") r = parse_day_of_month_range(text);
        else if (key == "months") r = parse_month_range(text);
        else if (key == "years") r = parse_year_range(text);
        else return fail(ErrorCode::kInvalidArgument, path + " is not a time interval field", path);
        if (!r) return fail(ErrorCode::kInvalidArgument, ip + ": " + r.error().detail, ip);
        (key == "weekdays" ? ti.weekdays
         : key == "days_of_month" ? ti.days_of_month
         : key == "months" ? ti.months
                           : ti.years)
            .push_back(*r);
      }
    }
    out.push_back(std::move(ti));
  }
  return out;
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
