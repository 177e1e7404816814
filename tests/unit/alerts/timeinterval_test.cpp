// Time intervals: Alertmanager's range syntax, validation and ContainsTime semantics, including
// IANA locations (Europe/Paris with its DST).
#include "alerts/timeinterval.h"

#include <gtest/gtest.h>

#include "core/clock.h"

namespace sira::alerts {
namespace {

int64_t T(const char* rfc3339) {
  int64_t ms = 0;
  EXPECT_TRUE(parse_rfc3339(rfc3339, &ms)) << rfc3339;
  return ms;
}

TimeInterval business_hours() {
  TimeInterval ti;
  ti.times.push_back(parse_time_range("09:00", "17:00").value());
  ti.weekdays.push_back(parse_weekday_range("monday:friday").value());
  return ti;
}

TEST(AlertsTimeInterval, ParsesTimes) {
  auto r = parse_time_range("09:00", "17:30");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->start_minute, 540);
  EXPECT_EQ(r->end_minute, 1050);
  EXPECT_EQ(parse_time_range("00:00", "24:00")->end_minute, 1440);
  // Ranges across midnight are rejected, as Alertmanager: split them in two.
  auto midnight = parse_time_range("22:00", "06:00");
  ASSERT_FALSE(midnight);
  EXPECT_EQ(midnight.error().code, ErrorCode::kConfig);
  EXPECT_EQ(midnight.error().detail, "start time cannot be equal or greater than end time");
  EXPECT_FALSE(parse_time_range("10:00", "10:00"));
  EXPECT_FALSE(parse_time_range("9:00", "17:00"));  // two-digit hours required
  EXPECT_FALSE(parse_time_range("09:00", "24:01"));
  EXPECT_FALSE(parse_time_range("09:60", "10:00"));
  EXPECT_FALSE(parse_time_range("", "10:00"));
}

TEST(AlertsTimeInterval, ParsesWeekdayRanges) {
  auto r = parse_weekday_range("Monday:Friday");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->begin, 1);
  EXPECT_EQ(r->end, 5);
  auto sat = parse_weekday_range("saturday");
  EXPECT_EQ(sat->begin, 6);
  EXPECT_EQ(sat->end, 6);
  EXPECT_EQ(parse_weekday_range("sunday")->begin, 0);
  EXPECT_FALSE(parse_weekday_range("friday:monday"));  // no wrap-around
  EXPECT_FALSE(parse_weekday_range("funday"));
  EXPECT_FALSE(parse_weekday_range("monday:tuesday:friday"));
}

TEST(AlertsTimeInterval, ParsesDaysOfMonthIncludingNegatives) {
  auto last3 = parse_day_of_month_range("-3:-1");
  ASSERT_TRUE(last3.has_value());
  EXPECT_EQ(last3->begin, -3);
  EXPECT_EQ(last3->end, -1);
  EXPECT_TRUE(parse_day_of_month_range("1:-1").has_value());  // first to last
  EXPECT_TRUE(parse_day_of_month_range("15").has_value());
  EXPECT_FALSE(parse_day_of_month_range("-1:1"));  // negative start needs negative end
  EXPECT_FALSE(parse_day_of_month_range("0"));
  EXPECT_FALSE(parse_day_of_month_range("32"));
  EXPECT_FALSE(parse_day_of_month_range("-32"));
  EXPECT_FALSE(parse_day_of_month_range("28:-5"));  // empty in every month
  EXPECT_FALSE(parse_day_of_month_range("x"));
}

TEST(AlertsTimeInterval, ParsesMonthsAndYears) {
  auto q1 = parse_month_range("january:march");
  EXPECT_EQ(q1->begin, 1);
  EXPECT_EQ(q1->end, 3);
  EXPECT_EQ(parse_month_range("1:3")->end, 3);
  EXPECT_EQ(parse_month_range("May")->begin, 5);
  EXPECT_FALSE(parse_month_range("march:january"));
  EXPECT_FALSE(parse_month_range("13"));
  EXPECT_FALSE(parse_month_range("smarch"));
  EXPECT_EQ(parse_year_range("2024:2026")->end, 2026);
  EXPECT_FALSE(parse_year_range("2026:2024"));
}

TEST(AlertsTimeInterval, ContainsWeekdaysAndTimes) {
  TimeInterval ti = business_hours();
  EXPECT_TRUE(ti.contains(T("2024-01-01T10:00:00Z")));   // Monday
  EXPECT_TRUE(ti.contains(T("2024-01-05T16:59:59Z")));   // Friday
  EXPECT_FALSE(ti.contains(T("2024-01-05T17:00:00Z")));  // end minute is exclusive
  EXPECT_FALSE(ti.contains(T("2024-01-01T08:59:00Z")));
  EXPECT_FALSE(ti.contains(T("2024-01-06T10:00:00Z")));  // Saturday
  EXPECT_FALSE(ti.contains(T("2024-01-07T10:00:00Z")));  // Sunday
  // An empty interval contains everything.
  EXPECT_TRUE(TimeInterval{}.contains(T("1999-12-31T23:59:59Z")));
  // Before the epoch.
  TimeInterval sunday;
  sunday.weekdays.push_back(parse_weekday_range("sunday").value());
  EXPECT_TRUE(sunday.contains(T("1969-12-28T12:00:00Z")));
}

TEST(AlertsTimeInterval, ContainsDaysOfMonthWithNegativesAndClamping) {
  TimeInterval last;
  last.days_of_month.push_back(parse_day_of_month_range("-1").value());
  EXPECT_TRUE(last.contains(T("2024-02-29T12:00:00Z")));  // leap year
  EXPECT_FALSE(last.contains(T("2024-02-28T12:00:00Z")));
  EXPECT_TRUE(last.contains(T("2023-02-28T12:00:00Z")));
  EXPECT_TRUE(last.contains(T("2024-04-30T00:00:00Z")));

  TimeInterval last_two;
  last_two.days_of_month.push_back(parse_day_of_month_range("-2:-1").value());
  EXPECT_TRUE(last_two.contains(T("2024-02-28T12:00:00Z")));
  EXPECT_FALSE(last_two.contains(T("2024-02-27T12:00:00Z")));

  TimeInterval thirty_first;
  thirty_first.days_of_month.push_back(parse_day_of_month_range("31").value());
  EXPECT_FALSE(thirty_first.contains(T("2024-04-30T12:00:00Z")));  // skipped in 30-day months
  EXPECT_TRUE(thirty_first.contains(T("2024-05-31T12:00:00Z")));

  TimeInterval end_clamped;
  end_clamped.days_of_month.push_back(parse_day_of_month_range("30:31").value());
  EXPECT_TRUE(end_clamped.contains(T("2024-04-30T12:00:00Z")));
  EXPECT_FALSE(end_clamped.contains(T("2024-05-01T12:00:00Z")));
}

TEST(AlertsTimeInterval, ContainsMonthsYearsAndAllFieldsMustHold) {
  TimeInterval ti;
  ti.months.push_back(parse_month_range("december").value());
  ti.years.push_back(parse_year_range("2024:2025").value());
  ti.times.push_back(parse_time_range("00:00", "08:00").value());
  EXPECT_TRUE(ti.contains(T("2024-12-24T07:59:00Z")));
  EXPECT_FALSE(ti.contains(T("2024-12-24T08:00:00Z")));  // time fails
  EXPECT_FALSE(ti.contains(T("2024-11-24T07:00:00Z")));  // month fails
  EXPECT_FALSE(ti.contains(T("2026-12-24T07:00:00Z")));  // year fails
  // Several ranges within a field: any may match.
  TimeInterval two;
  two.times.push_back(parse_time_range("00:00", "06:00").value());
  two.times.push_back(parse_time_range("22:00", "24:00").value());
  EXPECT_TRUE(two.contains(T("2024-03-01T23:30:00Z")));
  EXPECT_TRUE(two.contains(T("2024-03-01T01:00:00Z")));
  EXPECT_FALSE(two.contains(T("2024-03-01T12:00:00Z")));
}

TEST(AlertsTimeInterval, NamedIntervalIsUnionOfIntervals) {
  NamedTimeInterval n;
  n.name = "weekends-or-nights";
  TimeInterval weekend;
  // Alertmanager weeks run Sunday (0) to Saturday (6): "saturday:sunday" does not wrap.
  EXPECT_FALSE(parse_weekday_range("saturday:sunday"));
  weekend.weekdays.push_back(parse_weekday_range("saturday").value());
  weekend.weekdays.push_back(parse_weekday_range("sunday").value());
  TimeInterval night;
  night.times.push_back(parse_time_range("00:00", "07:00").value());
  n.intervals = {weekend, night};
  EXPECT_TRUE(n.contains(T("2024-01-06T12:00:00Z")));
  EXPECT_TRUE(n.contains(T("2024-01-03T03:00:00Z")));
  EXPECT_FALSE(n.contains(T("2024-01-03T12:00:00Z")));
  EXPECT_FALSE(NamedTimeInterval{}.contains(T("2024-01-03T12:00:00Z")));
}

TEST(AlertsTimeInterval, Locations) {
  TimeInterval ti = business_hours();
  ASSERT_TRUE(set_location(&ti, "UTC"));
  EXPECT_TRUE(ti.location_supported);
  EXPECT_FALSE(ti.contains(T("2024-01-01T08:00:00Z")));
  // Etc/GMT-2 is UTC+2 (POSIX sign): 08:00Z is 10:00 there.
  ASSERT_TRUE(set_location(&ti, "Etc/GMT-2"));
  EXPECT_TRUE(ti.location_supported);
  EXPECT_EQ(ti.utc_offset_s, 7200);
  EXPECT_TRUE(ti.contains(T("2024-01-01T08:00:00Z")));
  EXPECT_FALSE(ti.contains(T("2024-01-01T15:30:00Z")));  // 17:30 local
  // Etc/GMT+10 is UTC-10: Monday 05:00Z is Sunday 19:00 there.
  ASSERT_TRUE(set_location(&ti, "Etc/GMT+10"));
  EXPECT_EQ(ti.utc_offset_s, -36000);
  EXPECT_FALSE(ti.contains(T("2024-01-01T05:00:00Z")));
  EXPECT_TRUE(ti.contains(T("2024-01-01T20:00:00Z")));  // Monday 10:00 local

  ASSERT_TRUE(set_location(&ti, "Local"));
  EXPECT_TRUE(ti.location_local);

  auto unknown = set_location(&ti, "Mars/Olympus_Mons");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().detail, "unknown time zone Mars/Olympus_Mons");
  EXPECT_FALSE(set_location(&ti, "../../etc/passwd"));
  EXPECT_FALSE(set_location(&ti, "Etc/GMT+99"));

  ASSERT_TRUE(set_location(&ti, "Europe/Paris")) << "tzdata is installed by scripts/setup";
  EXPECT_TRUE(ti.location_supported);
  ASSERT_NE(ti.zone, nullptr);
  EXPECT_EQ(ti.location, "Europe/Paris");
  // Setting another location drops the zone.
  ASSERT_TRUE(set_location(&ti, "Etc/GMT-2"));
  EXPECT_EQ(ti.zone, nullptr);
}

TimeInterval in_zone(TimeInterval ti, const char* location) {
  auto st = set_location(&ti, location);
  EXPECT_TRUE(st.has_value()) << location << ": " << st.error().detail;
  return ti;
}

TEST(AlertsTimeInterval, EuropeParisBusinessHoursFollowDst) {
  TimeInterval ti;
  ti.times.push_back(parse_time_range("09:00", "18:00").value());
  ti.weekdays.push_back(parse_weekday_range("monday:friday").value());
  ti = in_zone(ti, "Europe/Paris");
  // Thursday 2026-01-15, CET (+1).
  EXPECT_FALSE(ti.contains(T("2026-01-15T07:30:00Z")));  // 08:30 Paris
  EXPECT_TRUE(ti.contains(T("2026-01-15T08:30:00Z")));   // 09:30 Paris
  EXPECT_TRUE(ti.contains(T("2026-01-15T16:30:00Z")));   // 17:30 Paris
  EXPECT_FALSE(ti.contains(T("2026-01-15T17:00:00Z")));  // 18:00 Paris
  // Wednesday 2026-07-15, CEST (+2).
  EXPECT_TRUE(ti.contains(T("2026-07-15T07:30:00Z")));   // 09:30 Paris
  EXPECT_FALSE(ti.contains(T("2026-07-15T06:30:00Z")));  // 08:30 Paris
  EXPECT_FALSE(ti.contains(T("2026-07-15T16:30:00Z")));  // 18:30 Paris
  // Around the switch of Sunday 2026-03-29 (01:00Z) and on the next Monday.
  EXPECT_FALSE(ti.contains(T("2026-03-30T06:30:00Z")));  // 08:30 CEST
  EXPECT_TRUE(ti.contains(T("2026-03-30T07:00:00Z")));   // 09:00 CEST
  // Far beyond the file's transitions (footer rule): Monday 2040-07-02.
  EXPECT_TRUE(ti.contains(T("2040-07-02T07:00:00Z")));   // 09:00 CEST
  EXPECT_FALSE(ti.contains(T("2040-07-02T16:00:00Z")));  // 18:00 CEST
}

TEST(AlertsTimeInterval, EuropeParisWeekdayAndMonthBoundaries) {
  TimeInterval weekdays;
  weekdays.weekdays.push_back(parse_weekday_range("monday:friday").value());
  TimeInterval utc = weekdays;
  weekdays = in_zone(weekdays, "Europe/Paris");
  // Friday 23:30 UTC is Saturday 00:30 in Paris; Sunday 23:30 UTC is Monday 00:30.
  EXPECT_TRUE(utc.contains(T("2026-01-16T23:30:00Z")));
  EXPECT_FALSE(weekdays.contains(T("2026-01-16T23:30:00Z")));
  EXPECT_FALSE(utc.contains(T("2026-01-18T23:30:00Z")));
  EXPECT_TRUE(weekdays.contains(T("2026-01-18T23:30:00Z")));
  // In summer the day starts at 22:00 UTC.
  EXPECT_TRUE(weekdays.contains(T("2026-07-17T21:59:00Z")));   // Friday 23:59
  EXPECT_FALSE(weekdays.contains(T("2026-07-17T22:00:00Z")));  // Saturday 00:00

  TimeInterval april;
  april.months.push_back(parse_month_range("april").value());
  april = in_zone(april, "Europe/Paris");
  EXPECT_FALSE(april.contains(T("2026-03-31T21:59:00Z")));
  EXPECT_TRUE(april.contains(T("2026-03-31T22:00:00Z")));  // April 1st, 00:00 CEST
}

TEST(AlertsTimeInterval, EuropeParisMonthLengthCountsWholeDaysAsAlertmanager) {
  // March loses an hour to DST: 743 hours, 30 whole days in Alertmanager's daysInMonth, so
  // "-1" is March 30th there; October gains one: 745 hours, 31 days.
  TimeInterval last;
  last.days_of_month.push_back(parse_day_of_month_range("-1").value());
  last = in_zone(last, "Europe/Paris");
  EXPECT_TRUE(last.contains(T("2026-03-30T12:00:00Z")));
  EXPECT_FALSE(last.contains(T("2026-03-31T12:00:00Z")));
  EXPECT_TRUE(last.contains(T("2026-10-31T12:00:00Z")));
  EXPECT_FALSE(last.contains(T("2026-10-30T12:00:00Z")));
  EXPECT_TRUE(last.contains(T("2026-06-30T12:00:00Z")));
  // In UTC March has its 31 days.
  TimeInterval utc_last;
  utc_last.days_of_month.push_back(parse_day_of_month_range("-1").value());
  EXPECT_TRUE(utc_last.contains(T("2026-03-31T12:00:00Z")));
}

TEST(AlertsTimeInterval, OtherZonesUseTheirOffsets) {
  TimeInterval ti = business_hours();  // 09:00-17:00 Monday to Friday
  TimeInterval ny = in_zone(ti, "America/New_York");
  EXPECT_TRUE(ny.contains(T("2026-01-15T14:00:00Z")));   // 09:00 EST
  EXPECT_FALSE(ny.contains(T("2026-01-15T13:30:00Z")));  // 08:30 EST
  EXPECT_TRUE(ny.contains(T("2026-07-15T13:30:00Z")));   // 09:30 EDT
  TimeInterval kolkata = in_zone(ti, "Asia/Kolkata");
  EXPECT_TRUE(kolkata.contains(T("2026-07-15T03:30:00Z")));   // 09:00 IST
  EXPECT_FALSE(kolkata.contains(T("2026-07-15T03:29:00Z")));  // 08:59 IST
}

TEST(AlertsTimeInterval, UnknownZonesAreErrors) {
  TimeInterval ti;
  for (const char* bad : {"Nowhere/City", "../etc/passwd", "/etc/passwd", "Europe", "paris"}) {
    auto st = set_location(&ti, bad);
    ASSERT_FALSE(st.has_value()) << bad;
    EXPECT_EQ(st.error().code, ErrorCode::kConfig);
    EXPECT_EQ(st.error().detail, std::string("unknown time zone ") + bad);
  }
}

}  // namespace
}  // namespace sira::alerts
