// KeyRollup windows, rings, late records and the Rollups map.
#include "signals/rollup.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace sira::signals {
namespace {

constexpr int64_t kMin = 60'000;
constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 86'400'000;
constexpr int64_t kT0 = 1760054400000;  // 2025-10-10T00:00:00Z, day-aligned

struct Rec {
  std::string ip = "192.0.2.1", path = "/v1/x";
  int64_t ts = kT0;
  int status = 200;
  double latency = 10;
  int64_t bytes = 100;

  RecordView view() const {
    RecordView v;
    v.ts_ms = ts;
    v.key_id = "k";
    v.ip = ip;
    v.method = "GET";
    v.path = path;
    v.status = status;
    v.latency_ms = latency;
    v.bytes = bytes;
    return v;
  }
};

void add(KeyRollup& k, int64_t ts, int status = 200, double latency = 10,
         const std::string& ip = "192.0.2.1", const std::string& path = "/v1/x") {
  Rec r;
  r.ts = ts;
  r.status = status;
  r.latency = latency;
  r.ip = ip;
  r.path = path;
  k.add(r.view());
}

double exact_quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(std::floor(q * static_cast<double>(v.size() - 1)))];
}

TEST(RollupWindow, CountsStatusMixPercentilesAndIps) {
  KeyRollup k;
  std::mt19937_64 rng(1);
  std::lognormal_distribution<double> lat(4, 0.8);
  std::vector<double> latencies;
  const int statuses[] = {200, 200, 200, 201, 401, 403, 404, 500, 503, 200};
  int64_t expected_bytes = 0, min_ts = INT64_MAX, max_ts = 0;
  for (int i = 0; i < 10000; ++i) {
    const int64_t ts = kT0 + (i % 10) * kMin + (i * 37) % kMin;  // 10 minutes, shuffled order
    min_ts = std::min(min_ts, ts);
    max_ts = std::max(max_ts, ts);
    const double l = lat(rng);
    latencies.push_back(l);
    const int status = statuses[i % 10];
    // 40 distinct IPs, one of them heavy.
    const std::string ip = i % 2 == 0 ? "198.51.100.7" : "10.0.0." + std::to_string(i % 39);
    Rec r;
    r.ts = ts;
    r.status = status;
    r.latency = l;
    r.ip = ip;
    r.path = "/p" + std::to_string(i % 50);
    r.bytes = i;
    expected_bytes += i;
    k.add(r.view());
  }
  const WindowSummary w = k.window(kT0 + 10 * kMin - 1, 10 * kMin);
  EXPECT_EQ(w.start_ms, kT0 - kMin);  // the bucket overlapping now - duration
  EXPECT_EQ(w.end_ms, kT0 + 10 * kMin);
  EXPECT_EQ(w.requests, 10000);
  EXPECT_EQ(w.client_errors, 3000);
  EXPECT_EQ(w.server_errors, 2000);
  EXPECT_EQ(w.errors, 5000);
  EXPECT_EQ(w.auth_failures, 2000);
  EXPECT_EQ(w.not_found, 1000);
  const std::vector<std::pair<int, int64_t>> mix = {
      {200, 4000}, {201, 1000}, {401, 1000}, {403, 1000}, {404, 1000}, {500, 1000}, {503, 1000}};
  ASSERT_EQ(w.statuses.size(), mix.size());
  for (size_t i = 0; i < mix.size(); ++i) {
    EXPECT_EQ(w.statuses[i].status, mix[i].first);
    EXPECT_EQ(w.statuses[i].count, mix[i].second);
  }
  for (auto [q, got] : {std::pair{0.5, w.p50_ms}, {0.95, w.p95_ms}, {0.99, w.p99_ms}}) {
    const double truth = exact_quantile(latencies, q);
    EXPECT_NEAR(got, truth, 0.01 * truth) << q;
  }
  double sum = 0;
  for (double l : latencies) sum += l;
  EXPECT_NEAR(w.latency_avg_ms, sum / 10000, 1e-6);
  EXPECT_EQ(w.latency_max_ms, *std::max_element(latencies.begin(), latencies.end()));
  EXPECT_EQ(w.unique_ips, 40);
  ASSERT_FALSE(w.top_ips.empty());
  EXPECT_LE(w.top_ips.size(), 5u);
  EXPECT_EQ(w.top_ips[0].first, "198.51.100.7");
  EXPECT_EQ(w.top_ips[0].second, 5000);
  EXPECT_EQ(w.unique_404_paths, 5);  // i % 10 == 6 -> paths p6, p16, ..., p46
  EXPECT_EQ(w.bytes, expected_bytes);
  EXPECT_EQ(w.first_ts_ms, min_ts);
  EXPECT_EQ(w.last_ts_ms, max_ts);

  // A 3-minute window sees only its minutes.
  const WindowSummary w3 = k.window(kT0 + 10 * kMin - 1, 3 * kMin - 1);
  EXPECT_EQ(w3.requests, 3000);
  // Empty window.
  const WindowSummary empty = k.window(kT0 - 2 * kHour, 5 * kMin);
  EXPECT_EQ(empty.requests, 0);
  EXPECT_EQ(empty.p99_ms, 0);
  EXPECT_TRUE(empty.statuses.empty());
}

TEST(RollupWindow, DistinctIpsExactAcrossTopIpOverflow) {
  // Up to 8 IPs a minute are tracked by the top-IP table alone; the 9th starts a HyperLogLog
  // seeded with them. Counts stay exact (sparse mode) either way.
  for (int n : {1, 8, 9, 20, 64}) {
    KeyRollup k;
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < n; ++i)
        add(k, kT0 + round * kMin + i, 200, 5, "10.9.0." + std::to_string(i));
    }
    EXPECT_EQ(k.window(kT0 + 3 * kMin - 1, 3 * kMin).unique_ips, n) << n;
    EXPECT_EQ(k.window(kT0 + 10, 0).unique_ips, n) << n;
  }
}

TEST(RollupWindow, ManyIpsUseHyperLogLog) {
  KeyRollup k;
  for (int i = 0; i < 5000; ++i) {
    add(k, kT0 + (i % 5) * kMin, 200, 5,
        "10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." +
            std::to_string(i % 256));
  }
  const WindowSummary w = k.window(kT0 + 5 * kMin - 1, 5 * kMin);
  EXPECT_NEAR(static_cast<double>(w.unique_ips), 5000, 5000 * 0.05);
}

// The bound: distinct IPs within 2 % at 100,000 uniques, over a key's hour (the minutes'
// HyperLogLogs merged), for several address sets.
TEST(RollupWindow, HundredThousandDistinctIpsWithinTwoPercent) {
  for (int set = 0; set < 4; ++set) {
    KeyRollup k;
    const int n = 100000;
    for (int i = 0; i < n; ++i) {
      const uint32_t a = static_cast<uint32_t>(i) * 2654435761u + static_cast<uint32_t>(set) * 7919u;
      add(k, kT0 + (i % 60) * kMin, 200, 5,
          std::to_string(a >> 24) + "." + std::to_string(a >> 16 & 255) + "." +
              std::to_string(a >> 8 & 255) + "." + std::to_string(a & 255));
    }
    const WindowSummary w = k.window(kT0 + 60 * kMin - 1, 60 * kMin);
    EXPECT_EQ(w.requests, n);
    EXPECT_NEAR(static_cast<double>(w.unique_ips), n, n * 0.02) << "set " << set;
  }
}

TEST(RollupRing, RecyclesAfterSixtyOneMinutes) {
  KeyRollup k;
  add(k, kT0, 500);
  add(k, kT0 + 30 * kMin);
  EXPECT_EQ(k.window(kT0 + 30 * kMin, 60 * kMin).requests, 2);
  add(k, kT0 + 61 * kMin, 200, 20);
  const WindowSummary w = k.window(kT0 + 61 * kMin, 60 * kMin);
  EXPECT_EQ(w.requests, 2);  // minute 0 was recycled
  EXPECT_EQ(w.server_errors, 0);
  auto minutes = k.minutes(0);
  ASSERT_EQ(minutes.size(), 2u);
  EXPECT_EQ(minutes[0].start_ms, kT0 + 30 * kMin);
  EXPECT_EQ(minutes[1].start_ms, kT0 + 61 * kMin);
  EXPECT_NEAR(minutes[1].p50_ms, 20, 0.2);
  // Hours keep everything: hour 0 has 2 requests (one error), hour 1 has 1.
  auto hours = k.hours(0);
  ASSERT_EQ(hours.size(), 2u);
  EXPECT_EQ(hours[0].start_ms, kT0);
  EXPECT_EQ(hours[0].requests, 2);
  EXPECT_EQ(hours[0].errors, 1);
  EXPECT_EQ(hours[1].requests, 1);
  EXPECT_EQ(k.total_requests(), 3);
  EXPECT_EQ(k.first_seen_ms(), kT0);
  EXPECT_EQ(k.last_seen_ms(), kT0 + 61 * kMin);
  // minutes(since) filters.
  EXPECT_EQ(k.minutes(kT0 + 31 * kMin).size(), 1u);
}

TEST(RollupRing, HoursAndDays) {
  KeyRollup k;
  // 3 hours of day 0, then day 1 and day 2.
  for (int h = 0; h < 3; ++h) {
    for (int i = 0; i < 100; ++i)
      add(k, kT0 + h * kHour + i * 1000, i < 10 * (h + 1) ? 500 : 200, 1 + i);
  }
  add(k, kT0 + kDay + 5 * kHour, 200, 50);
  add(k, kT0 + 2 * kDay, 404, 70);
  auto hours = k.hours(kT0);
  ASSERT_EQ(hours.size(), 5u);  // hours with traffic only
  for (int h = 0; h < 3; ++h) {
    EXPECT_EQ(hours[h].start_ms, kT0 + h * kHour);
    EXPECT_EQ(hours[h].requests, 100);
    EXPECT_EQ(hours[h].errors, 10 * (h + 1));
    EXPECT_NEAR(hours[h].latency_avg_ms, 50.5, 1e-9);
    // Frozen percentiles of old hours survive the sketch being released.
    EXPECT_NEAR(hours[h].p50_ms, 50, 0.6);
    EXPECT_NEAR(hours[h].p95_ms, 95, 1);
    EXPECT_NEAR(hours[h].p99_ms, 99, 1);
  }
  EXPECT_EQ(hours[4].start_ms, kT0 + 2 * kDay);
  EXPECT_EQ(k.hours(kT0 + kDay).size(), 2u);
  auto days = k.days(0);
  ASSERT_EQ(days.size(), 3u);
  EXPECT_EQ(days[0].start_ms, kT0);
  EXPECT_EQ(days[0].requests, 300);
  EXPECT_EQ(days[0].errors, 60);
  EXPECT_EQ(days[1].requests, 1);
  EXPECT_EQ(days[2].errors, 1);
  EXPECT_NEAR(days[2].p99_ms, 70, 0.7);
  // 8 days later the hour ring (168 h) has dropped the first days; the day ring keeps them.
  add(k, kT0 + 8 * kDay);
  EXPECT_EQ(k.hours(0).size(), 3u);  // hours 29, 48 and 192 are within the last 168
  EXPECT_EQ(k.hours(0)[0].start_ms, kT0 + kDay + 5 * kHour);
  EXPECT_EQ(k.days(0).size(), 4u);
  // 31 days after day 0, day 0 is gone.
  add(k, kT0 + 30 * kDay);
  auto later = k.days(0);
  ASSERT_EQ(later.size(), 4u);
  EXPECT_EQ(later[0].start_ms, kT0 + kDay);
}

TEST(RollupLate, OldRecordsCountInHourAndDayOrAreDropped) {
  KeyRollup k;
  add(k, kT0 + 3 * kHour);
  // 2 hours late: older than the minute ring, its hour is still held.
  add(k, kT0 + 1 * kHour + 5 * kMin, 500, 42);
  EXPECT_EQ(k.late_records(), 1);
  EXPECT_EQ(k.late_dropped(), 0);
  EXPECT_EQ(k.window(kT0 + 3 * kHour, 60 * kMin).requests, 1);
  auto hours = k.hours(0);
  ASSERT_EQ(hours.size(), 2u);
  EXPECT_EQ(hours[0].start_ms, kT0 + kHour);
  EXPECT_EQ(hours[0].errors, 1);
  EXPECT_NEAR(hours[0].p50_ms, 42, 0.5);
  EXPECT_EQ(k.days(0)[0].requests, 2);
  // 10 days late: no hour slot, but its day is held.
  add(k, kT0 - 10 * kDay);
  EXPECT_EQ(k.late_records(), 2);
  EXPECT_EQ(k.days(0).size(), 2u);
  EXPECT_EQ(k.hours(0).size(), 2u);
  // 40 days late: dropped.
  add(k, kT0 - 40 * kDay);
  EXPECT_EQ(k.late_dropped(), 1);
  EXPECT_EQ(k.total_requests(), 3);
  EXPECT_EQ(k.first_seen_ms(), kT0 - 10 * kDay);
  // Slightly out of order within the minute ring is not late.
  add(k, kT0 + 3 * kHour - 10 * kMin);
  EXPECT_EQ(k.late_records(), 2);
  EXPECT_EQ(k.window(kT0 + 3 * kHour, 60 * kMin).requests, 2);
}

TEST(RollupAnomaly, ScoreLandsInMinuteHourAndDay) {
  KeyRollup k;
  add(k, kT0 + 10 * kMin);
  k.note_anomaly_score(kT0 + 10 * kMin + 5, 0.4);
  k.note_anomaly_score(kT0 + 10 * kMin + 6, 0.2);
  k.note_anomaly_score(kT0 + 5 * kMin, 0.74);   // held minute without traffic: created
  k.note_anomaly_score(kT0 + 20 * kMin, 0.99);  // newer than the data: never advances the ring
  auto minutes = k.minutes(0);
  ASSERT_EQ(minutes.size(), 2u);
  EXPECT_EQ(minutes[0].requests, 0);
  EXPECT_DOUBLE_EQ(minutes[0].max_anomaly_score, 0.74);
  EXPECT_DOUBLE_EQ(minutes[1].max_anomaly_score, 0.4);
  EXPECT_DOUBLE_EQ(k.hours(0)[0].max_anomaly_score, 0.99);  // same hour as the data
  EXPECT_DOUBLE_EQ(k.days(0)[0].max_anomaly_score, 0.99);
  EXPECT_EQ(k.window(kT0 + 20 * kMin, 60 * kMin).requests, 1);
}

TEST(RollupMemory, SmallKeysStaySmallAndExpireReleases) {
  KeyRollup small;
  for (int i = 0; i < 10; ++i) add(small, kT0 + i * 1000, 200, 10 + i);
  EXPECT_LT(small.memory_bytes(), 4096u);
  KeyRollup busy;
  for (int i = 0; i < 10000; ++i) {
    add(busy, kT0 + static_cast<int64_t>(i) * 360, i % 10 == 0 ? 404 : 200, 5 + i % 300,
        "10.1." + std::to_string(i % 200) + ".1", "/p" + std::to_string(i % 100));
  }
  EXPECT_GT(busy.memory_bytes(), small.memory_bytes());
  EXPECT_LT(busy.memory_bytes(), 2u << 20);
  const size_t before = busy.memory_bytes();
  busy.expire(kT0 + 5 * kHour);
  EXPECT_LT(busy.memory_bytes(), before / 4);
  EXPECT_EQ(busy.window(kT0 + 5 * kHour, 60 * kMin).requests, 0);
  EXPECT_EQ(busy.hours(0).size(), 1u);
  EXPECT_EQ(busy.hours(0)[0].requests, 10000);
}

TEST(RollupMap, KeysEvictionAndMemory) {
  Rollups rollups;
  for (int i = 0; i < 100; ++i) {
    KeyRollup& k = rollups.key("key_" + std::to_string(i));
    add(k, kT0 + i * kMin);
  }
  EXPECT_EQ(rollups.size(), 100u);
  EXPECT_EQ(&rollups.key("key_5"), rollups.find("key_5"));
  EXPECT_EQ(rollups.find("nope"), nullptr);
  EXPECT_EQ(rollups.find("key_7")->total_requests(), 1);
  const size_t mem = rollups.memory_bytes();
  EXPECT_GT(mem, 100 * sizeof(KeyRollup));
  EXPECT_LT(mem, 100u * 8192);
  auto ids = rollups.key_ids();
  ASSERT_EQ(ids.size(), 100u);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  // Keys last seen before minute 50 go.
  EXPECT_EQ(rollups.evict_idle(kT0 + 50 * kMin), 50u);
  EXPECT_EQ(rollups.size(), 50u);
  EXPECT_EQ(rollups.find("key_49"), nullptr);
  EXPECT_NE(rollups.find("key_50"), nullptr);
  EXPECT_LT(rollups.memory_bytes(), mem);
  rollups.expire(kT0 + kDay);
  EXPECT_EQ(rollups.find("key_60")->window(kT0 + kDay, 60 * kMin).requests, 0);
}

TEST(RollupMap, MovedKeyRollupStaysUsable) {
  KeyRollup a;
  add(a, kT0);
  KeyRollup b = std::move(a);
  EXPECT_EQ(b.total_requests(), 1);
  EXPECT_EQ(a.total_requests(), 0);  // NOLINT(bugprone-use-after-move): moved-from is empty
  add(a, kT0);
  EXPECT_EQ(a.total_requests(), 1);
}

// Everything a query can see survives encode/decode: raw-sample minutes, sketch minutes with a
// HyperLogLog, 404 paths, late records, hours with and without sketches, days, anomaly scores.
TEST(RollupSnapshot, RoundTripAnswersEveryQueryAlike) {
  KeyRollup k;
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> lat(1, 900);
  for (int h = 0; h < 30; ++h) add(k, kT0 + h * kHour + 5 * kMin, 200, lat(rng));  // days, hours
  const int64_t now = kT0 + 30 * kHour;
  add(k, now - 50 * kMin, 200, 12.5);  // a one-record minute (raw samples)
  for (int i = 0; i < 200; ++i)        // a busy minute: sketches, HyperLogLog of IPs
    add(k, now - 20 * kMin + i, i % 7 == 0 ? 404 : (i % 11 == 0 ? 503 : 200), lat(rng),
        "10.0." + std::to_string(i % 50) + "." + std::to_string(i), "/p/" + std::to_string(i));
  add(k, now - 3 * kHour, 401, 33);  // late: hour and day only
  add(k, now, 200, 5, "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1");  // long IPv6: sketches at once
  k.note_anomaly_score(now - 20 * kMin, 0.61);

  auto copy = KeyRollup::decode(k.encode());
  ASSERT_TRUE(copy.has_value());
  for (int64_t d : {5 * kMin, 15 * kMin, 60 * kMin}) {
    WindowSummary a = k.window(now, d), b = copy->window(now, d);
    EXPECT_EQ(a.requests, b.requests);
    EXPECT_EQ(a.client_errors, b.client_errors);
    EXPECT_EQ(a.server_errors, b.server_errors);
    EXPECT_EQ(a.not_found, b.not_found);
    EXPECT_EQ(a.unique_ips, b.unique_ips);
    EXPECT_EQ(a.unique_404_paths, b.unique_404_paths);
    EXPECT_EQ(a.top_ips, b.top_ips);
    EXPECT_DOUBLE_EQ(a.p95_ms, b.p95_ms);
    EXPECT_DOUBLE_EQ(a.p99_ms, b.p99_ms);
    EXPECT_EQ(a.first_ts_ms, b.first_ts_ms);
    ASSERT_EQ(a.statuses.size(), b.statuses.size());
  }
  EXPECT_GT(k.window(now, 60 * kMin).requests, 200);
  auto ha = k.hours(now - 7 * kDay), hb = copy->hours(now - 7 * kDay);
  ASSERT_EQ(ha.size(), hb.size());
  for (size_t i = 0; i < ha.size(); ++i) {
    EXPECT_EQ(ha[i].start_ms, hb[i].start_ms);
    EXPECT_EQ(ha[i].requests, hb[i].requests);
    EXPECT_DOUBLE_EQ(ha[i].p95_ms, hb[i].p95_ms);
    EXPECT_DOUBLE_EQ(ha[i].max_anomaly_score, hb[i].max_anomaly_score);
  }
  auto da = k.days(now - 30 * kDay), db = copy->days(now - 30 * kDay);
  ASSERT_EQ(da.size(), db.size());
  for (size_t i = 0; i < da.size(); ++i) EXPECT_EQ(da[i].requests, db[i].requests);
  EXPECT_EQ(k.total_requests(), copy->total_requests());
  EXPECT_EQ(k.late_records(), copy->late_records());
  EXPECT_EQ(k.first_seen_ms(), copy->first_seen_ms());
  EXPECT_EQ(k.last_seen_ms(), copy->last_seen_ms());
  // It keeps going as the original would.
  add(k, now + kMin, 500);
  add(*copy, now + kMin, 500);
  EXPECT_EQ(k.window(now + kMin, kHour).server_errors, copy->window(now + kMin, kHour).server_errors);
  EXPECT_EQ(k.encode(), copy->encode());
}

TEST(RollupSnapshot, MalformedInputIsRefused) {
  KeyRollup k;
  for (int i = 0; i < 50; ++i) add(k, kT0 + i * kMin, 200, 10 + i);
  const std::string good = k.encode();
  EXPECT_TRUE(KeyRollup::decode(good).has_value());
  EXPECT_TRUE(KeyRollup::decode(KeyRollup().encode()).has_value());
  EXPECT_FALSE(KeyRollup::decode("").has_value());
  EXPECT_FALSE(KeyRollup::decode("garbage that is not a snapshot").has_value());
  for (size_t cut : {size_t{4}, size_t{5}, good.size() / 2, good.size() - 1})
    EXPECT_FALSE(KeyRollup::decode(good.substr(0, cut)).has_value()) << cut;
  EXPECT_FALSE(KeyRollup::decode(good + "x").has_value());
  std::string bad_version = good;
  bad_version[0] ^= 1;
  EXPECT_FALSE(KeyRollup::decode(bad_version).has_value());
}

}  // namespace
}  // namespace sira::signals
