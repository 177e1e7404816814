// Unit tests of src/guard detection: the anomaly score, the action bands, each detector at its
// thresholds (strictness), the seed evidence shapes, baselines and recommendations.
#include "guard/detect.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <limits>
#include <set>

#include "guard/internal/detectors.h"
#include "guard/recommend.h"

namespace sira::guard {
namespace {

namespace bj = boost::json;
using internal::kHourMs;
using internal::kMinuteMs;
using signals::PeriodPoint;
using signals::WindowSummary;

constexpr int64_t kNow = 1'762'865'400'000;  // 2025-11-11T12:50:00Z

WindowSummary summary(int64_t requests) {
  WindowSummary w;
  w.start_ms = kNow - kHourMs;
  w.end_ms = kNow;
  w.requests = requests;
  w.p50_ms = 80;
  w.p95_ms = 250;
  w.p99_ms = 600;
  w.unique_ips = 2;
  return w;
}

// A last-hour summary with `auth` 401s among `errors` errors (the rest 500s).
WindowSummary with_errors(int64_t requests, int64_t errors, int64_t auth) {
  WindowSummary w = summary(requests);
  w.errors = errors;
  w.auth_failures = auth;
  w.client_errors = auth;
  w.server_errors = errors - auth;
  if (requests - errors > 0) w.statuses.push_back({200, requests - errors});
  if (auth > 0) w.statuses.push_back({401, auth});
  if (errors - auth > 0) w.statuses.push_back({500, errors - auth});
  return w;
}

// ---- anomaly score ----

TEST(AnomalyScore, SeedExample) {
  EXPECT_NEAR(calculate_anomaly_score(0.35, 2.5, 0.15, 0.25), 0.74, 0.01);
  EXPECT_NEAR(calculate_anomaly_score(0.35, 2.5, 0.15, 0.25), 0.741, 0.001);
  Features f{0.35, 2.5, 0.15, 0.25};
  EXPECT_DOUBLE_EQ(calculate_anomaly_score(f), calculate_anomaly_score(0.35, 2.5, 0.15, 0.25));
}

TEST(AnomalyScore, BoundsAndClamping) {
  EXPECT_DOUBLE_EQ(calculate_anomaly_score(0, 1, 0, 0), 0.0);
  EXPECT_DOUBLE_EQ(calculate_anomaly_score(Features{}), 0.0);
  EXPECT_DOUBLE_EQ(calculate_anomaly_score(0, 0.2, 0, 0), 0.0);  // below-normal traffic
  EXPECT_DOUBLE_EQ(calculate_anomaly_score(-3, -1, -0.5, -2), 0.0);
  EXPECT_DOUBLE_EQ(calculate_anomaly_score(1, 1, 0, 0), 1.0);
  EXPECT_DOUBLE_EQ(calculate_anomaly_score(0, 5, 0, 0), 1.0);
  EXPECT_DOUBLE_EQ(calculate_anomaly_score(0, 50, 0, 0), 1.0);
  EXPECT_DOUBLE_EQ(calculate_anomaly_score(7, 9, 3, 4), 1.0);
  EXPECT_DOUBLE_EQ(calculate_anomaly_score(0, 1, 0, 3.5), 1.0);  // latency clamped to 1
  EXPECT_DOUBLE_EQ(calculate_anomaly_score(0, 3, 0, 0), 0.5);    // (3 - 1) / 4
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_DOUBLE_EQ(calculate_anomaly_score(nan, nan, nan, nan), 0.0);
  EXPECT_DOUBLE_EQ(calculate_anomaly_score(inf, 1, 0, 0), 0.0);  // non-finite -> 0
  EXPECT_NEAR(calculate_anomaly_score(0.35, nan, 0.15, 0.25), 1 - 0.65 * 0.85 * 0.75, 1e-12);
}

TEST(AnomalyScore, MonotonicInEachInput) {
  const double base[4] = {0.1, 1.5, 0.05, 0.1};
  for (int i = 0; i < 4; ++i) {
    double prev = -1;
    for (int step = 0; step <= 40; ++step) {
      double in[4] = {base[0], base[1], base[2], base[3]};
      in[i] = (i == 1 ? 1.0 : 0.0) + step * (i == 1 ? 0.15 : 0.03);
      const double s = calculate_anomaly_score(in[0], in[1], in[2], in[3]);
      EXPECT_GE(s, prev) << "input " << i << " step " << step;
      EXPECT_GE(s, 0.0);
      EXPECT_LE(s, 1.0);
      prev = s;
    }
  }
}

TEST(AnomalyScore, ActionBandsAtExactEdges) {
  EXPECT_EQ(action_for_score(0.0), ActionKind::kNone);
  EXPECT_EQ(action_for_score(0.29), ActionKind::kNone);
  EXPECT_EQ(action_for_score(0.3), ActionKind::kAlert);
  EXPECT_EQ(action_for_score(0.49), ActionKind::kAlert);
  EXPECT_EQ(action_for_score(0.5), ActionKind::kThrottle);
  EXPECT_EQ(action_for_score(0.69), ActionKind::kThrottle);
  EXPECT_EQ(action_for_score(0.7), ActionKind::kTempBan);
  EXPECT_EQ(action_for_score(0.89), ActionKind::kTempBan);
  EXPECT_EQ(action_for_score(0.9), ActionKind::kPermBan);
  EXPECT_EQ(action_for_score(1.0), ActionKind::kPermBan);
  EXPECT_EQ(action_for_score(std::numeric_limits<double>::quiet_NaN()), ActionKind::kNone);
  EXPECT_EQ(action_for_score(calculate_anomaly_score(0.35, 2.5, 0.15, 0.25)), ActionKind::kTempBan);

  EXPECT_EQ(severity_for_score(0.29), Severity::kLow);
  EXPECT_EQ(severity_for_score(0.3), Severity::kMedium);
  EXPECT_EQ(severity_for_score(0.49), Severity::kMedium);
  EXPECT_EQ(severity_for_score(0.5), Severity::kHigh);
  EXPECT_EQ(severity_for_score(0.89), Severity::kHigh);
  EXPECT_EQ(severity_for_score(0.9), Severity::kCritical);
}

TEST(Names, RoundTrip) {
  const DetectionType all[] = {DetectionType::kBruteForce,        DetectionType::kBotPattern,
                               DetectionType::kIpRotation,        DetectionType::kTrafficSpike,
                               DetectionType::kEndpointScanning,  DetectionType::kErrorBurst,
                               DetectionType::kLatencyDegradation};
  std::set<std::string_view> names;
  for (DetectionType t : all) {
    names.insert(type_name(t));
    ASSERT_TRUE(parse_type(type_name(t)).has_value()) << type_name(t);
    EXPECT_EQ(*parse_type(type_name(t)), t);
  }
  EXPECT_EQ(names.size(), 7u);
  EXPECT_EQ(type_name(DetectionType::kBruteForce), "brute_force");
  EXPECT_EQ(type_name(DetectionType::kLatencyDegradation), "latency_degradation");
  EXPECT_FALSE(parse_type("Brute_Force").has_value());
  EXPECT_FALSE(parse_type("").has_value());
  EXPECT_EQ(severity_name(Severity::kCritical), "critical");
  EXPECT_EQ(severity_name(Severity::kLow), "low");
  EXPECT_EQ(action_name(ActionKind::kTempBan), "tempban");
  EXPECT_EQ(action_name(ActionKind::kPermBan), "permban");
  EXPECT_EQ(action_name(ActionKind::kNone), "none");
}

// ---- brute_force ----

TEST(BruteForce, SeedEvidenceShape) {
  WindowSummary w = summary(2543);
  w.errors = 1996;
  w.client_errors = 1996;
  w.auth_failures = 1996;
  w.statuses = {{200, 547}, {401, 1850}, {403, 146}};
  auto d = internal::detect_brute_force(w, Thresholds{});
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->type, DetectionType::kBruteForce);
  EXPECT_EQ(d->severity, Severity::kCritical);
  EXPECT_EQ(d->suggested_action, ActionKind::kTempBan);
  EXPECT_EQ(d->summary, "High error rate (78%) with 2543 requests");
  EXPECT_EQ(bj::value(d->evidence), bj::parse(R"({
    "errorRate": "78.5%", "totalRequests": 2543, "errors": 1996,
    "statusDistribution": {"401": 1850, "403": 146, "200": 547}})"));
  EXPECT_EQ(d->recommendations,
            (std::vector<std::string>{"rotate_key", "review_auth_flow", "enable_mfa"}));
  EXPECT_GE(d->confidence, 0.5);
  EXPECT_LE(d->confidence, 1.0);
  EXPECT_TRUE(d->features.contains("errorRate"));
  EXPECT_TRUE(d->thresholds.contains("errorRate"));
  EXPECT_EQ(d->window_start_ms, w.start_ms);
  EXPECT_EQ(d->window_end_ms, w.end_ms);
}

TEST(BruteForce, ThresholdsAreStrict) {
  const Thresholds t;
  // Error rate exactly 50 % -> no; one more error -> yes.
  EXPECT_FALSE(internal::detect_brute_force(with_errors(200, 100, 100), t));
  EXPECT_TRUE(internal::detect_brute_force(with_errors(200, 101, 101), t));
  // Exactly 100 requests -> no; 101 -> yes.
  EXPECT_FALSE(internal::detect_brute_force(with_errors(100, 90, 90), t));
  EXPECT_TRUE(internal::detect_brute_force(with_errors(101, 90, 90), t));
  // 401/403 exactly half of the errors -> no (a 5xx storm is not brute force).
  EXPECT_FALSE(internal::detect_brute_force(with_errors(200, 160, 80), t));
  EXPECT_TRUE(internal::detect_brute_force(with_errors(200, 160, 81), t));
  EXPECT_FALSE(internal::detect_brute_force(with_errors(200, 160, 0), t));
}

TEST(BruteForce, ConfidenceGrowsWithMargin) {
  const Thresholds t;
  auto weak = internal::detect_brute_force(with_errors(200, 101, 101), t);
  auto strong = internal::detect_brute_force(with_errors(2000, 1900, 1900), t);
  ASSERT_TRUE(weak && strong);
  EXPECT_GE(weak->confidence, 0.5);
  EXPECT_LT(weak->confidence, strong->confidence);
  EXPECT_LE(strong->confidence, 1.0);
}

// ---- bot_pattern ----

TEST(BotPattern, SeedEvidenceShape) {
  WindowSummary w = summary(5420);
  w.p95_ms = 35;
  w.p99_ms = 42;
  auto d = internal::detect_bot_pattern(w, Thresholds{});
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->severity, Severity::kMedium);
  EXPECT_EQ(d->suggested_action, ActionKind::kThrottle);
  EXPECT_EQ(bj::value(d->evidence),
            bj::parse(R"({"p95Latency":35,"p99Latency":42,"totalRequests":5420,
                          "latencyVariance":7})"));
  EXPECT_EQ(d->recommendations,
            (std::vector<std::string>{"add_captcha", "implement_bot_detection"}));
}

TEST(BotPattern, ThresholdsAreStrict) {
  const Thresholds t;
  auto bot = [&](int64_t n, double p95, double p99) {
    WindowSummary w = summary(n);
    w.p95_ms = p95;
    w.p99_ms = p99;
    return internal::detect_bot_pattern(w, t).has_value();
  };
  EXPECT_TRUE(bot(1001, 30, 40));
  EXPECT_FALSE(bot(1000, 30, 40));  // volume exactly 1000
  EXPECT_FALSE(bot(5000, 50, 55));  // p95 exactly 50
  EXPECT_TRUE(bot(5000, 49.9, 55));
  EXPECT_FALSE(bot(5000, 30, 50));  // p99 - p95 exactly 20
  EXPECT_TRUE(bot(5000, 30, 49.9));
  EXPECT_FALSE(bot(5000, 40, 260));  // fast but with a realistic tail: not a bot
}

// ---- ip_rotation ----

TEST(IpRotation, SeedEvidenceShape) {
  WindowSummary w = summary(543);
  w.unique_ips = 87;
  w.top_ips = {{"1.2.3.4", 50}, {"5.6.7.8", 45}};
  auto d = internal::detect_ip_rotation(w, Thresholds{});
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->severity, Severity::kHigh);
  EXPECT_EQ(d->suggested_action, ActionKind::kThrottle);
  EXPECT_EQ(bj::value(d->evidence), bj::parse(R"({
    "uniqueIps": 87, "totalRequests": 543, "ipDiversity": 16.02,
    "topIps": [{"ip": "1.2.3.4", "count": 50}, {"ip": "5.6.7.8", "count": 45}]})"));
  EXPECT_EQ(d->recommendations,
            (std::vector<std::string>{"split_keys", "whitelist_ips", "investigate_sharing"}));
}

TEST(IpRotation, ThresholdsAreStrict) {
  const Thresholds t;
  auto rot = [&](int64_t n, int64_t ips) {
    WindowSummary w = summary(n);
    w.unique_ips = ips;
    return internal::detect_ip_rotation(w, t).has_value();
  };
  EXPECT_FALSE(rot(210, 21));  // exactly 10 per 100
  EXPECT_TRUE(rot(209, 21));
  EXPECT_FALSE(rot(100, 20));  // 20 per 100 but only 20 IPs in total
  EXPECT_TRUE(rot(100, 21));
  EXPECT_FALSE(rot(3000, 150));  // a busy NAT-free client base: 5 per 100
}

// ---- traffic_spike ----

TEST(TrafficSpike, SeedEvidenceShape) {
  WindowSummary w = summary(25340);
  auto d = internal::detect_traffic_spike(w, 5000, Thresholds{});
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->severity, Severity::kMedium);
  EXPECT_EQ(d->suggested_action, ActionKind::kAlert);
  EXPECT_EQ(bj::value(d->evidence),
            bj::parse(R"({"totalRequests":25340,"expectedMax":5000,"spikeRatio":5.07})"));
  EXPECT_EQ(d->recommendations, (std::vector<std::string>{"increase_quota", "review_ddos"}));
}

TEST(TrafficSpike, ThresholdsAreStrict) {
  const Thresholds t;
  EXPECT_FALSE(internal::detect_traffic_spike(summary(100), 20, t));  // exactly 5x
  EXPECT_TRUE(internal::detect_traffic_spike(summary(101), 20, t));
  EXPECT_FALSE(internal::detect_traffic_spike(summary(50), 1, t));  // tiny absolute volume
  EXPECT_TRUE(internal::detect_traffic_spike(summary(51), 1, t));
  EXPECT_FALSE(internal::detect_traffic_spike(summary(100000), 0, t));  // no baseline
}

// ---- endpoint_scanning ----

TEST(EndpointScanning, EvidenceAndStrictness) {
  const Thresholds t;
  auto scan = [&](int64_t n, int64_t not_found, int64_t paths) {
    WindowSummary w = summary(n);
    w.not_found = not_found;
    w.errors = w.client_errors = not_found;
    w.unique_404_paths = paths;
    return internal::detect_endpoint_scanning(w, t);
  };
  auto d = scan(300, 200, 45);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->severity, Severity::kHigh);
  EXPECT_EQ(d->suggested_action, ActionKind::kThrottle);
  EXPECT_EQ(bj::value(d->evidence),
            bj::parse(R"({"distinct404Paths":45,"notFound":200,"totalRequests":300,
                          "notFoundRate":"66.7%"})"));
  EXPECT_EQ(d->recommendations,
            (std::vector<std::string>{"review_auth_flow", "implement_bot_detection"}));
  EXPECT_FALSE(scan(300, 200, 30));  // exactly 30 distinct paths
  EXPECT_TRUE(scan(300, 200, 31));
  EXPECT_FALSE(scan(300, 150, 60));  // 404 share exactly 50 %
  EXPECT_TRUE(scan(300, 151, 60));
}

// ---- error_burst ----

TEST(ErrorBurst, EvidenceAndStrictness) {
  const Thresholds t;
  auto d = internal::detect_error_burst(with_errors(120, 42, 0), t);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->severity, Severity::kHigh);
  EXPECT_EQ(d->suggested_action, ActionKind::kAlert);  // never a ban
  EXPECT_TRUE(d->recommendations.empty());
  EXPECT_EQ(bj::value(d->evidence), bj::parse(R"({"serverErrors":42,"errorRate":"35.0%",
    "totalRequests":120,"statusDistribution":{"200":78,"500":42}})"));
  EXPECT_FALSE(internal::detect_error_burst(with_errors(100, 20, 0), t));  // exactly 20 %
  EXPECT_TRUE(internal::detect_error_burst(with_errors(100, 21, 0), t));
  EXPECT_FALSE(internal::detect_error_burst(with_errors(50, 40, 0), t));  // 50 requests
  EXPECT_TRUE(internal::detect_error_burst(with_errors(51, 40, 0), t));
  EXPECT_FALSE(internal::detect_error_burst(with_errors(100, 90, 90), t));  // 4xx only
}

// ---- latency_degradation ----

TEST(LatencyDegradation, EvidenceAndStrictness) {
  const Thresholds t;
  auto lat = [&](int64_t n, double p95, double baseline) {
    WindowSummary w = summary(n);
    w.p95_ms = p95;
    return internal::detect_latency_degradation(w, baseline, t);
  };
  auto d = lat(150, 540, 120);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->severity, Severity::kMedium);
  EXPECT_EQ(d->suggested_action, ActionKind::kAlert);
  EXPECT_EQ(bj::value(d->evidence), bj::parse(R"({"p95Latency":540,"baselineP95":120,
    "ratio":4.5,"totalRequests":150})"));
  EXPECT_EQ(d->summary, "p95 latency 540 ms is 4.5x the baseline 120 ms");
  EXPECT_FALSE(lat(150, 200, 100));  // exactly 2x
  EXPECT_TRUE(lat(150, 200.5, 100));
  EXPECT_FALSE(lat(150, 100, 40));  // 2.5x but p95 only 100 ms
  EXPECT_TRUE(lat(150, 101, 40));
  EXPECT_FALSE(lat(50, 900, 100));  // 50 requests
  EXPECT_TRUE(lat(51, 900, 100));
  EXPECT_FALSE(lat(150, 900, 0));  // no baseline
}

TEST(Detectors, CustomThresholdsApply) {
  Thresholds t;
  t.brute_force_error_rate = 0.9;
  EXPECT_FALSE(internal::detect_brute_force(with_errors(200, 170, 170), t));
  EXPECT_TRUE(internal::detect_brute_force(with_errors(200, 190, 190), t));
  t.brute_force_min_requests = 10;
  EXPECT_TRUE(internal::detect_brute_force(with_errors(20, 19, 19), t));
  EXPECT_EQ(internal::min_requests_for_any(Thresholds{}), 20);
  EXPECT_EQ(internal::min_requests_for_any(t), 10);
}

// ---- baselines ----

PeriodPoint point(int64_t start, int64_t requests, double p95 = 100) {
  PeriodPoint p;
  p.start_ms = start;
  p.requests = requests;
  p.p95_ms = p95;
  return p;
}

TEST(Baseline, SameHourOfDayFirst) {
  const int64_t hour = kNow - kNow % kHourMs;  // 12:00
  const int64_t day = internal::kDayMs;
  std::vector<PeriodPoint> h = {point(hour - 3 * day, 240),        point(hour - 2 * day, 360),
                                point(hour - day - kHourMs, 9000), point(hour - day, 120),
                                point(hour - kHourMs, 6000),       point(hour, 50000)};
  auto b = internal::compute_volume_baseline(h, kNow, 0);
  EXPECT_TRUE(b.volume_from_same_hour);
  EXPECT_NEAR(b.volume_5min, (240 + 360 + 120) / 3.0 / 12.0, 1e-9);
}

TEST(Baseline, PreviousHoursWhenNoSameHour) {
  const int64_t hour = kNow - kNow % kHourMs;
  std::vector<PeriodPoint> h = {point(hour - 2 * kHourMs, 1200), point(hour - kHourMs, 2400),
                                point(hour, 99999)};
  auto b = internal::compute_volume_baseline(h, kNow, 0);
  EXPECT_FALSE(b.volume_from_same_hour);
  EXPECT_NEAR(b.volume_5min, 1800 / 12.0, 1e-9);
  // A key seen for only 10 minutes has no "usual" volume yet: no baseline.
  std::vector<PeriodPoint> partial = {point(hour - kHourMs, 200), point(hour, 500)};
  EXPECT_LE(internal::compute_volume_baseline(partial, kNow, hour - 10 * kMinuteMs).volume_5min, 0);
  // With 70 minutes of history, the partial first hour counts for the minutes it covered.
  std::vector<PeriodPoint> longer = {point(hour - 2 * kHourMs, 100), point(hour - kHourMs, 600),
                                     point(hour, 500)};
  auto p = internal::compute_volume_baseline(longer, kNow, hour - 70 * kMinuteMs);
  EXPECT_NEAR(p.volume_5min, 700.0 / 70.0 * 5.0, 1e-9);
  // Nothing before the current hour: no baseline.
  EXPECT_LE(internal::compute_volume_baseline({point(hour, 500)}, kNow, hour).volume_5min, 0);
  EXPECT_LE(internal::compute_volume_baseline({}, kNow, 0).volume_5min, 0);
}

TEST(Baseline, LatencyMedianNeedsThreeHours) {
  const int64_t hour = kNow - kNow % kHourMs;
  int used = -1;
  std::vector<PeriodPoint> h = {point(hour - 2 * kHourMs, 10, 100), point(hour - kHourMs, 10, 140),
                                point(hour, 10, 900)};
  EXPECT_LE(internal::compute_latency_baseline(h, kNow, &used), 0);
  EXPECT_EQ(used, 2);
  h.insert(h.begin(), point(hour - 3 * kHourMs, 10, 5000));
  h.insert(h.begin(), point(hour - 4 * kHourMs, 0, 7000));  // no traffic: ignored
  EXPECT_DOUBLE_EQ(internal::compute_latency_baseline(h, kNow, &used), 140);
  EXPECT_EQ(used, 3);
  h.insert(h.begin(), point(hour - 5 * kHourMs, 10, 120));
  EXPECT_DOUBLE_EQ(internal::compute_latency_baseline(h, kNow, &used), 130);  // even count
}

// ---- Detector::evaluate over a real KeyRollup ----

void feed(signals::KeyRollup& key, int64_t from_ms, int n, int status, double latency) {
  for (int i = 0; i < n; ++i) {
    signals::RecordView r;
    r.ts_ms = from_ms + i * 1000;
    r.key_id = "key_unit";
    r.ip = "192.0.2.1";
    r.method = "POST";
    r.path = "/v1/auth/token";
    r.status = status;
    r.latency_ms = latency;
    key.add(r);
  }
}

TEST(Detector, QuietKeyExitsEarlyWithNeutralFeatures) {
  signals::KeyRollup key;
  feed(key, kNow - 10 * kMinuteMs, 20, 401, 80);  // 20 requests, all failing
  const Evaluation ev = Detector().evaluate(key, kNow);
  EXPECT_TRUE(ev.detections.empty());
  EXPECT_DOUBLE_EQ(ev.anomaly_score, 0.0);
  EXPECT_DOUBLE_EQ(ev.features.error_rate, 0.0);
}

TEST(Detector, EvaluateReportsBruteForceAndFeatures) {
  signals::KeyRollup key;
  feed(key, kNow - 20 * kMinuteMs, 50, 200, 80);
  feed(key, kNow - 15 * kMinuteMs, 150, 401, 80);
  const Evaluation ev = Detector().evaluate(key, kNow);
  ASSERT_EQ(ev.detections.size(), 1u);
  EXPECT_EQ(ev.detections[0].type, DetectionType::kBruteForce);
  EXPECT_NEAR(ev.features.error_rate, 0.75, 1e-9);
  EXPECT_NEAR(ev.features.ip_diversity, 1.0 / 200, 1e-9);
  EXPECT_DOUBLE_EQ(ev.features.spike_ratio, 1.0);  // no history before this hour
  EXPECT_GE(ev.anomaly_score, 0.75);
  EXPECT_DOUBLE_EQ(ev.anomaly_score, calculate_anomaly_score(ev.features));
}

// ---- recommendations ----

TEST(Recommendations, FromDetectionCiteEvidence) {
  WindowSummary w = summary(543);
  w.unique_ips = 87;
  w.top_ips = {{"1.2.3.4", 50}};
  auto d = internal::detect_ip_rotation(w, Thresholds{});
  ASSERT_TRUE(d.has_value());
  auto recs = recommendations_for(*d);
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].type, "split_keys");
  EXPECT_EQ(recs[0].priority, "medium");
  EXPECT_EQ(recs[0].title, "Use Separate Keys");
  EXPECT_EQ(recs[0].description, "87 unique IPs detected - consider separate keys per environment");
  EXPECT_EQ(recs[0].action_steps, (std::vector<std::string>{"Create test key for staging",
                                                            "Create live key for production",
                                                            "Configure IP whitelisting"}));
  EXPECT_EQ(recs[0].triggered_by, "suspicious_event");
  EXPECT_EQ(recs[0].detection_type, "ip_rotation");
  EXPECT_EQ(recs[1].type, "whitelist_ips");
  EXPECT_EQ(recs[2].type, "investigate_sharing");
  EXPECT_NE(recs[2].description.find("16.02"), std::string::npos) << recs[2].description;
}

TEST(Recommendations, BruteForceIsHighPriority) {
  auto d = internal::detect_brute_force(with_errors(2543, 1996, 1996), Thresholds{});
  ASSERT_TRUE(d.has_value());
  auto recs = recommendations_for(*d);
  ASSERT_EQ(recs.size(), 3u);
  for (const auto& r : recs) EXPECT_EQ(r.priority, "high") << r.type;
  EXPECT_EQ(recs[0].title, "Rotate API Key");
  EXPECT_NE(recs[0].description.find("1996"), std::string::npos);
  EXPECT_NE(recs[1].description.find("78.5%"), std::string::npos) << recs[1].description;
}

TEST(Recommendations, AllTenTypesHaveTexts) {
  EXPECT_EQ(recommendation_types().size(), 10u);
  Detection d;
  d.type = DetectionType::kTrafficSpike;
  d.severity = Severity::kMedium;
  d.summary = "something odd";
  for (auto t : recommendation_types()) d.recommendations.emplace_back(t);
  d.recommendations.push_back("contact_support");  // not one of the ten: skipped
  auto recs = recommendations_for(d);
  ASSERT_EQ(recs.size(), 10u);
  std::set<std::string> seen;
  for (const auto& r : recs) {
    seen.insert(r.type);
    EXPECT_TRUE(is_recommendation_type(r.type));
    EXPECT_FALSE(r.title.empty()) << r.type;
    EXPECT_FALSE(r.description.empty()) << r.type;
    EXPECT_GE(r.action_steps.size(), 2u) << r.type;
    EXPECT_TRUE(r.priority == "high" || r.priority == "medium" || r.priority == "low");
    EXPECT_EQ(r.triggered_by, "suspicious_event");
    EXPECT_EQ(r.detection_type, "traffic_spike");
  }
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_FALSE(is_recommendation_type("contact_support"));
}

TEST(Recommendations, RotateKeyByAge) {
  auto r = rotate_key_recommendation(287, 90);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->type, "rotate_key");
  EXPECT_EQ(r->priority, "high");
  EXPECT_EQ(r->title, "Rotate API Key");
  EXPECT_EQ(r->description, "Your key was last rotated 287 days ago");
  EXPECT_EQ(r->action_steps, (std::vector<std::string>{"Create new key in Dev Console",
                                                       "Update key in your application",
                                                       "Revoke old key after migration"}));
  EXPECT_EQ(r->triggered_by, "age_check");
  EXPECT_TRUE(r->detection_type.empty());
  EXPECT_EQ(rotate_key_recommendation(100, 90)->priority, "medium");
  EXPECT_FALSE(rotate_key_recommendation(90, 90).has_value());
  EXPECT_FALSE(rotate_key_recommendation(10, 90).has_value());
  EXPECT_FALSE(rotate_key_recommendation(1000, 0).has_value());
}

}  // namespace
}  // namespace sira::guard
