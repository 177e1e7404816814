// IANA time zones: system zoneinfo offsets (DST switches, footer rules for far years, odd zones),
// POSIX TZ footer forms, name checks, malformed TZif data, and agreement with the C library.
#include "core/tz.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "../test_util.h"
#include "core/clock.h"

namespace sira {
namespace {

constexpr char kZoneDir[] = "/usr/share/zoneinfo";

int64_t S(const char* rfc3339) {
  int64_t ms = 0;
  EXPECT_TRUE(parse_rfc3339(rfc3339, &ms)) << rfc3339;
  return ms / 1000;
}

std::shared_ptr<const TimeZone> zone(const char* name) {
  auto z = load_time_zone(name);
  EXPECT_TRUE(z.has_value()) << name << ": " << z.error().detail
                             << " (tzdata is installed by scripts/setup)";
  return z ? *z : utc_time_zone();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

// --- a TZif writer for hand-made zones ---------------------------------------------------

std::string be(uint64_t v, int bytes) {
  std::string out;
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

struct TzifSpec {
  char version = '2';
  std::vector<int64_t> times;
  std::vector<uint8_t> types;
  std::vector<int32_t> offsets = {0};
  std::string footer;
};

std::string tzif(const TzifSpec& spec) {
  auto header = [](char version, size_t timecnt, size_t typecnt) {
    std::string h = "TZif";
    h += version;
    h += std::string(15, '\0');
    for (size_t n : {typecnt, typecnt, size_t{0}, timecnt, typecnt, size_t{4}}) h += be(n, 4);
    return h;
  };
  auto block = [&](int time_bytes) {
    std::string b;
    for (int64_t t : spec.times) b += be(static_cast<uint64_t>(t), time_bytes);
    for (uint8_t t : spec.types) b += static_cast<char>(t);
    for (int32_t o : spec.offsets) b += be(static_cast<uint32_t>(o), 4) + std::string(2, '\0');
    b += std::string("ZZZ\0", 4);
    b += std::string(2 * spec.offsets.size(), '\0');  // standard/wall and UT/local indicators
    return b;
  };
  if (spec.version == '\0')
    return header(spec.version, spec.times.size(), spec.offsets.size()) + block(4);
  // Version 2+: a minimal 32-bit block (as zic -b slim writes), then the 64-bit one.
  std::string out = header(spec.version, 0, 1) + be(0, 4) + std::string(2, '\0') +
                    std::string("ZZZ\0", 4) + std::string(2, '\0');
  out += header(spec.version, spec.times.size(), spec.offsets.size()) + block(8);
  return out + "\n" + spec.footer + "\n";
}

std::shared_ptr<const TimeZone> footer_zone(const std::string& footer) {
  TzifSpec spec;
  spec.footer = footer;
  auto z = parse_time_zone("Test/Footer", tzif(spec));
  EXPECT_TRUE(z.has_value()) << footer << ": " << z.error().detail;
  return z ? *z : utc_time_zone();
}

// --- system zones -------------------------------------------------------------------------

TEST(Tz, EuropeParisWinterSummerAndTheExact2026Switches) {
  auto paris = zone("Europe/Paris");
  EXPECT_EQ(paris->name(), "Europe/Paris");
  EXPECT_EQ(paris->offset_at(S("2026-01-15T12:00:00Z")), 3600);
  EXPECT_EQ(paris->offset_at(S("2026-07-15T12:00:00Z")), 7200);
  // Last Sunday of March (the 29th) and of October (the 25th), 01:00 UTC.
  EXPECT_EQ(paris->offset_at(S("2026-03-29T00:59:59Z")), 3600);
  EXPECT_EQ(paris->offset_at(S("2026-03-29T01:00:00Z")), 7200);
  EXPECT_EQ(paris->offset_at(S("2026-10-25T00:59:59Z")), 7200);
  EXPECT_EQ(paris->offset_at(S("2026-10-25T01:00:00Z")), 3600);
  EXPECT_EQ(paris->offset_at(S("1999-12-31T23:00:00Z")), 3600);
}

TEST(Tz, EuropeParisFarFutureUsesTheFooterRule) {
  auto paris = zone("Europe/Paris");
  // 2040 lies beyond the transitions stored in the file: March 25th and October 28th.
  EXPECT_EQ(paris->offset_at(S("2040-01-10T12:00:00Z")), 3600);
  EXPECT_EQ(paris->offset_at(S("2040-03-25T00:59:59Z")), 3600);
  EXPECT_EQ(paris->offset_at(S("2040-03-25T01:00:00Z")), 7200);
  EXPECT_EQ(paris->offset_at(S("2040-07-01T00:00:00Z")), 7200);
  EXPECT_EQ(paris->offset_at(S("2040-10-28T00:59:59Z")), 7200);
  EXPECT_EQ(paris->offset_at(S("2040-10-28T01:00:00Z")), 3600);
  EXPECT_EQ(paris->offset_at(S("2400-08-01T00:00:00Z")), 7200);
}

TEST(Tz, AmericaNewYork) {
  auto ny = zone("America/New_York");
  EXPECT_EQ(ny->offset_at(S("2026-01-15T12:00:00Z")), -18000);
  EXPECT_EQ(ny->offset_at(S("2026-07-15T12:00:00Z")), -14400);
  // Second Sunday of March, first Sunday of November, 02:00 local.
  EXPECT_EQ(ny->offset_at(S("2026-03-08T06:59:59Z")), -18000);
  EXPECT_EQ(ny->offset_at(S("2026-03-08T07:00:00Z")), -14400);
  EXPECT_EQ(ny->offset_at(S("2026-11-01T05:59:59Z")), -14400);
  EXPECT_EQ(ny->offset_at(S("2026-11-01T06:00:00Z")), -18000);
  EXPECT_EQ(ny->offset_at(S("2040-03-11T06:59:59Z")), -18000);
  EXPECT_EQ(ny->offset_at(S("2040-03-11T07:00:00Z")), -14400);
  EXPECT_EQ(ny->offset_at(S("2040-11-04T06:00:00Z")), -18000);
}

TEST(Tz, AsiaKolkataHasAHalfHourOffsetAndNoDst) {
  auto kolkata = zone("Asia/Kolkata");
  for (const char* t : {"1990-06-01T00:00:00Z", "2026-01-15T12:00:00Z", "2026-07-15T12:00:00Z",
                        "2040-07-15T12:00:00Z"}) {
    EXPECT_EQ(kolkata->offset_at(S(t)), 19800) << t;
  }
}

TEST(Tz, AustraliaLordHoweHasAThirtyMinuteDst) {
  auto lh = zone("Australia/Lord_Howe");
  EXPECT_EQ(lh->offset_at(S("2026-01-15T00:00:00Z")), 39600);  // +11:00, southern summer
  EXPECT_EQ(lh->offset_at(S("2026-07-15T00:00:00Z")), 37800);  // +10:30
  // Ends first Sunday of April 02:00 (+11), starts first Sunday of October 02:00 (+10:30).
  EXPECT_EQ(lh->offset_at(S("2026-04-04T14:59:59Z")), 39600);
  EXPECT_EQ(lh->offset_at(S("2026-04-04T15:00:00Z")), 37800);
  EXPECT_EQ(lh->offset_at(S("2026-10-03T15:29:59Z")), 37800);
  EXPECT_EQ(lh->offset_at(S("2026-10-03T15:30:00Z")), 39600);
  EXPECT_EQ(lh->offset_at(S("2040-03-31T14:59:59Z")), 39600);
  EXPECT_EQ(lh->offset_at(S("2040-03-31T15:00:00Z")), 37800);
  EXPECT_EQ(lh->offset_at(S("2040-10-06T15:30:00Z")), 39600);
  EXPECT_EQ(lh->offset_at(S("2040-12-31T23:59:59Z")), 39600);
}

TEST(Tz, UtcNeedsNoFileAndEtcUtcIsRead) {
  auto utc = load_time_zone("UTC");
  ASSERT_TRUE(utc.has_value());
  EXPECT_EQ((*utc)->offset_at(S("2026-07-15T12:00:00Z")), 0);
  auto etc = zone("Etc/UTC");
  EXPECT_EQ(etc->offset_at(S("2026-07-15T12:00:00Z")), 0);
  EXPECT_EQ(etc->offset_at(S("2040-01-01T00:00:00Z")), 0);
}

TEST(Tz, LoadedZonesAreCached) {
  auto a = zone("Europe/Paris");
  auto b = zone("Europe/Paris");
  EXPECT_EQ(a.get(), b.get());
}

TEST(Tz, LocalToUtcFollowsGoForGapsAndOverlaps) {
  auto paris = zone("Europe/Paris");
  auto local = [](const char* wall) { return S(wall); };  // a wall time written as if UTC
  EXPECT_EQ(paris->local_to_utc(local("2026-01-01T00:00:00Z")), S("2025-12-31T23:00:00Z"));
  EXPECT_EQ(paris->local_to_utc(local("2026-07-01T00:00:00Z")), S("2026-06-30T22:00:00Z"));
  // 02:30 does not exist on March 29th: Go's time.Date gives 03:30 CEST = 01:30Z.
  EXPECT_EQ(paris->local_to_utc(local("2026-03-29T02:30:00Z")), S("2026-03-29T01:30:00Z"));
  // 02:30 happens twice on October 25th: Go picks the second one (CET).
  EXPECT_EQ(paris->local_to_utc(local("2026-10-25T02:30:00Z")), S("2026-10-25T01:30:00Z"));
}

TEST(Tz, BadNamesAreRefused) {
  for (const char* bad : {"../etc/passwd", "/etc/passwd", "Europe/../../etc/passwd", "",
                          "Europe//Paris", "Europe/Paris/", "./Europe/Paris", "Europe\\Paris"}) {
    auto z = load_time_zone(bad);
    ASSERT_FALSE(z.has_value()) << bad;
    EXPECT_EQ(z.error().code, ErrorCode::kInvalidArgument) << bad;
  }
  for (const char* missing : {"Nowhere/City", "Europe", "Europe/Atlantis"}) {
    auto z = load_time_zone(missing);
    ASSERT_FALSE(z.has_value()) << missing;
    EXPECT_EQ(z.error().code, ErrorCode::kNotFound) << missing;
    EXPECT_EQ(z.error().detail, std::string("unknown time zone ") + missing);
  }
}

// --- TZif data ----------------------------------------------------------------------------

TEST(Tz, EveryTruncationOfARealFileIsRefused) {
  std::string bytes = read_file(std::string(kZoneDir) + "/Europe/Paris");
  ASSERT_GT(bytes.size(), 100u) << "tzdata is installed by scripts/setup";
  ASSERT_TRUE(parse_time_zone("Europe/Paris", bytes).has_value());
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto z = parse_time_zone("Europe/Paris", bytes.substr(0, n));
    ASSERT_FALSE(z.has_value()) << "prefix of " << n << " bytes";
    EXPECT_EQ(z.error().code, ErrorCode::kConfig);
    EXPECT_NE(z.error().detail.find("time zone Europe/Paris: malformed TZif data"),
              std::string::npos)
        << z.error().detail;
  }
}

TEST(Tz, GarbledDataIsRefusedWithAClearError) {
  auto error_of = [](const std::string& bytes) {
    auto z = parse_time_zone("Test/Zone", bytes);
    EXPECT_FALSE(z.has_value());
    return z ? std::string() : z.error().detail;
  };
  EXPECT_NE(error_of(std::string(60, 'x')).find("not a TZif file"), std::string::npos);

  TzifSpec spec;
  spec.times = {100, 200};
  spec.types = {0, 1};
  spec.offsets = {0, 3600};
  spec.footer = "ZZZ-1";
  ASSERT_TRUE(parse_time_zone("Test/Zone", tzif(spec)).has_value());

  TzifSpec bad_type = spec;
  bad_type.types = {0, 2};
  EXPECT_NE(error_of(tzif(bad_type)).find("undefined local time type"), std::string::npos);
  TzifSpec unordered = spec;
  unordered.times = {200, 100};
  EXPECT_NE(error_of(tzif(unordered)).find("out of order"), std::string::npos);
  TzifSpec big_offset = spec;
  big_offset.offsets = {0, 100000};
  EXPECT_NE(error_of(tzif(big_offset)).find("UTC offset out of range"), std::string::npos);
  TzifSpec bad_version = spec;
  bad_version.version = '9';
  EXPECT_NE(error_of(tzif(bad_version)).find("unknown version"), std::string::npos);
  for (const char* footer :
       {"CET", "CET-1CEST,M13.5.0,M10.5.0", "CET-1CEST,M3.5.0", "CET-1CEST,M3.5.0/3,M10.6.0",
        "1CET", "CET-1CEST;", "<AB>-1", "CET-25"}) {
    TzifSpec bad_footer = spec;
    bad_footer.footer = footer;
    EXPECT_NE(error_of(tzif(bad_footer)).find("footer"), std::string::npos) << footer;
  }
  std::string no_footer = tzif(spec);
  no_footer.pop_back();
  EXPECT_NE(error_of(no_footer).find("missing footer"), std::string::npos);
}

TEST(Tz, ZoneinfoVariableIsReadFirstAndBadFilesAreRefused) {
  testing_util::TempDir dir;
  TzifSpec plus_five;
  plus_five.footer = "<+05>-5";
  write_file(dir.file("Test/Plus_Five"), tzif(plus_five));
  write_file(dir.file("Test/Garbled"), "TZif2" + std::string(30, '\x7f'));
  std::optional<std::string> saved;
  if (const char* v = std::getenv("ZONEINFO")) saved = v;
  ::setenv("ZONEINFO", dir.path().c_str(), 1);

  auto good = load_time_zone("Test/Plus_Five");
  auto garbled = load_time_zone("Test/Garbled");
  auto system = load_time_zone("Asia/Kolkata");  // not under $ZONEINFO: the system's

  if (saved)
    ::setenv("ZONEINFO", saved->c_str(), 1);
  else
    ::unsetenv("ZONEINFO");
  ASSERT_TRUE(good.has_value()) << good.error().detail;
  EXPECT_EQ((*good)->offset_at(S("2026-07-01T00:00:00Z")), 18000);
  ASSERT_FALSE(garbled.has_value());
  EXPECT_EQ(garbled.error().code, ErrorCode::kConfig);
  EXPECT_EQ(garbled.error().detail,
            "time zone Test/Garbled: malformed TZif data: truncated header");
  ASSERT_TRUE(system.has_value()) << system.error().detail;
  EXPECT_EQ((*system)->offset_at(S("2026-07-01T00:00:00Z")), 19800);
}

TEST(Tz, TransitionsBeforeAndAfterWithoutFooter) {
  TzifSpec spec;
  spec.version = '\0';  // version 1: 32-bit data, no footer
  spec.times = {1000, 2000};
  spec.types = {1, 2};
  spec.offsets = {-100, 3600, 7200};
  auto z = parse_time_zone("Test/V1", tzif(spec));
  ASSERT_TRUE(z.has_value()) << z.error().detail;
  EXPECT_EQ((*z)->offset_at(-5'000'000'000), -100);  // before the first: type 0
  EXPECT_EQ((*z)->offset_at(999), -100);
  EXPECT_EQ((*z)->offset_at(1000), 3600);
  EXPECT_EQ((*z)->offset_at(1999), 3600);
  EXPECT_EQ((*z)->offset_at(2000), 7200);
  EXPECT_EQ((*z)->offset_at(5'000'000'000), 7200);  // after the last, no rule: last type

  spec.version = '3';
  spec.footer = "";  // empty footer: no rule either
  z = parse_time_zone("Test/V3", tzif(spec));
  ASSERT_TRUE(z.has_value()) << z.error().detail;
  EXPECT_EQ((*z)->offset_at(5'000'000'000), 7200);
}

// --- POSIX TZ footer forms ----------------------------------------------------------------

TEST(Tz, FooterMonthWeekDayRuleWithExplicitTime) {
  auto z = footer_zone("CET-1CEST,M3.5.0,M10.5.0/3");
  EXPECT_EQ(z->offset_at(S("2026-03-29T00:59:59Z")), 3600);
  EXPECT_EQ(z->offset_at(S("2026-03-29T01:00:00Z")), 7200);
  EXPECT_EQ(z->offset_at(S("2026-10-25T00:59:59Z")), 7200);
  EXPECT_EQ(z->offset_at(S("2026-10-25T01:00:00Z")), 3600);
  EXPECT_EQ(z->offset_at(S("1975-07-01T00:00:00Z")), 7200);  // no transitions: rule everywhere
}

TEST(Tz, FooterJulianAndZeroBasedDays) {
  // Jn never counts February 29th; n does.
  auto julian = footer_zone("AAA0BBB,J60/0,J300/0");
  EXPECT_EQ(julian->offset_at(S("2024-02-29T23:59:59Z")), 0);
  EXPECT_EQ(julian->offset_at(S("2024-03-01T00:00:00Z")), 3600);
  EXPECT_EQ(julian->offset_at(S("2025-03-01T00:00:00Z")), 3600);
  auto zero_based = footer_zone("AAA0BBB,59/0,300/0");
  EXPECT_EQ(zero_based->offset_at(S("2024-02-28T23:59:59Z")), 0);
  EXPECT_EQ(zero_based->offset_at(S("2024-02-29T00:00:00Z")), 3600);
  EXPECT_EQ(zero_based->offset_at(S("2025-02-28T23:59:59Z")), 0);
  EXPECT_EQ(zero_based->offset_at(S("2025-03-01T00:00:00Z")), 3600);
}

TEST(Tz, FooterDefaultsNegativeTimesAndAllYearDst) {
  // No rule: the US one (second Sunday of March, first of November, 02:00); DST one hour ahead.
  auto us = footer_zone("EST5EDT");
  EXPECT_EQ(us->offset_at(S("2026-03-08T06:59:59Z")), -18000);
  EXPECT_EQ(us->offset_at(S("2026-03-08T07:00:00Z")), -14400);
  EXPECT_EQ(us->offset_at(S("2026-11-01T06:00:00Z")), -18000);
  // Version 3: negative switch times (America/Nuuk).
  auto nuuk = footer_zone("<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
  EXPECT_EQ(nuuk->offset_at(S("2026-03-29T00:59:59Z")), -7200);
  EXPECT_EQ(nuuk->offset_at(S("2026-03-29T01:00:00Z")), -3600);
  EXPECT_EQ(nuuk->offset_at(S("2026-10-25T00:59:59Z")), -3600);
  EXPECT_EQ(nuuk->offset_at(S("2026-10-25T01:00:00Z")), -7200);
  // DST all year round.
  auto always = footer_zone("EST5EDT,0/0,J365/25");
  for (const char* t : {"2026-01-01T04:00:00Z", "2026-07-01T00:00:00Z", "2026-12-31T23:59:59Z"})
    EXPECT_EQ(always->offset_at(S(t)), -14400) << t;
  // Explicit DST offset with minutes and a southern-hemisphere rule.
  auto chatham = footer_zone("<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45");
  EXPECT_EQ(chatham->offset_at(S("2026-01-15T00:00:00Z")), 49500);
  EXPECT_EQ(chatham->offset_at(S("2026-07-15T00:00:00Z")), 45900);
}

// --- agreement with the C library, which reads the same files -----------------------------

TEST(Tz, AgreesWithLocaltimeFrom1970To2100) {
  std::optional<std::string> saved;
  if (const char* v = std::getenv("TZ")) saved = v;
  for (const char* name :
       {"Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "Europe/Dublin",
        "America/Sao_Paulo", "Africa/Casablanca", "Pacific/Chatham", "America/Nuuk", "Asia/Tehran",
        "America/Santiago", "Antarctica/Troll"}) {
    auto z = zone(name);
    ::setenv("TZ", (std::string(":") + kZoneDir + "/" + name).c_str(), 1);
    ::tzset();
    int mismatches = 0;
    for (int64_t t = 0; t < S("2100-01-01T00:00:00Z") && mismatches < 5; t += 5 * 86400 + 3607) {
      time_t tt = static_cast<time_t>(t);
      struct tm tm {};
      ASSERT_NE(localtime_r(&tt, &tm), nullptr);
      if (z->offset_at(t) != tm.tm_gmtoff) {
        ++mismatches;
        ADD_FAILURE() << name << " at " << t << ": " << z->offset_at(t) << " vs libc "
                      << tm.tm_gmtoff;
      }
    }
  }
  if (saved)
    ::setenv("TZ", saved->c_str(), 1);
  else
    ::unsetenv("TZ");
  ::tzset();
}

}  // namespace
}  // namespace sira
