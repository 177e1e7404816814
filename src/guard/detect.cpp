// SIRA Guard detection: names, the noisy-OR anomaly score, the seed's action bands, the seven
// detectors (pure functions of window summaries) and Detector::evaluate that feeds them.
#include "guard/detect.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <limits>
#include <string>

#include "guard/internal/detectors.h"

namespace sira::guard {

namespace bj = boost::json;
using signals::PeriodPoint;
using signals::WindowSummary;

namespace {

constexpr std::array<std::string_view, 7> kTypeNames = {
    "brute_force",       "bot_pattern", "ip_rotation",         "traffic_spike",
    "endpoint_scanning", "error_burst", "latency_degradation",
};

double finite_or_zero(double x) {
  return std::isfinite(x) ? x : 0.0;
}
double clamp01(double x) {
  return std::clamp(finite_or_zero(x), 0.0, 1.0);
}

double round_to(double v, int decimals) {
  const double f = std::pow(10.0, decimals);
  return std::round(v * f) / f;
}

// A JSON number rounded to `decimals`, written as an integer when it has no fraction so that
// evidence reads like the seed ("p95Latency": 35, "ipDiversity": 16.02).
bj::value num(double v, int decimals) {
  v = round_to(finite_or_zero(v), decimals);
  if (std::fabs(v) < 9e15 && v == std::trunc(v)) return bj::value(static_cast<int64_t>(v));
  return bj::value(v);
}

// "78.5%" (decimals = 1) or "78%" (decimals = 0) from a fraction.
std::string percent(double fraction, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f%%", decimals, finite_or_zero(fraction) * 100.0);
  return buf;
}

std::string fixed(double v, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, finite_or_zero(v));
  return buf;
}

double ratio(int64_t a, int64_t b) {
  return b > 0 ? static_cast<double>(a) / b : 0.0;
}

bj::object status_distribution(const WindowSummary& w) {
  bj::object o;
  for (const auto& s : w.statuses) {
    if (s.count > 0) o[std::to_string(s.status)] = s.count;
  }
  return o;
}

// How far past a threshold a value is, as a fraction of the room it had, in [0, 1].
double margin_above_rate(double v, double thr) {  // for rates bounded by 1
  return thr < 1 ? clamp01((v - thr) / (1 - thr)) : 0.0;
}
double margin_above(double v, double thr, double saturate_at = 1.0) {  // unbounded values
  if (thr <= 0) return v > 0 ? 1.0 : 0.0;
  return clamp01((v - thr) / thr / saturate_at);
}
double margin_below(double v, double thr) {
  return thr > 0 ? clamp01((thr - v) / thr) : 0.0;
}

// 0.5 at the thresholds, 1 when every condition is far past its threshold.
double confidence(std::initializer_list<double> margins) {
  double sum = 0;
  for (double m : margins) sum += clamp01(m);
  const double mean = margins.size() ? sum / static_cast<double>(margins.size()) : 0.0;
  return round_to(0.5 + 0.5 * mean, 2);
}

Detection make_detection(DetectionType type, const WindowSummary& w) {
  Detection d;
  d.type = type;
  d.window_start_ms = w.start_ms;
  d.window_end_ms = w.end_ms;
  return d;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  double m = v[mid];
  if (v.size() % 2 == 0) {
    const double lower = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid));
    m = (m + lower) / 2;
  }
  return m;
}

int64_t hour_start(int64_t ms) {
  int64_t h = ms / internal::kHourMs;
  if (ms < 0 && ms % internal::kHourMs != 0) --h;
  return h * internal::kHourMs;
}

}  // namespace

std::string_view type_name(DetectionType t) {
  const auto i = static_cast<size_t>(t);
  return i < kTypeNames.size() ? kTypeNames[i] : std::string_view("unknown");
}

std::optional<DetectionType> parse_type(std::string_view name) {
  for (size_t i = 0; i < kTypeNames.size(); ++i) {
    if (kTypeNames[i] == name) return static_cast<DetectionType>(i);
  }
  return std::nullopt;
}

std::string_view severity_name(Severity s) {
  switch (s) {
    case Severity::kLow:
      return "low";
    case Severity::kMedium:
      return "medium";
    case Severity::kHigh:
      return "high";
    case Severity::kCritical:
      return "critical";
  }
  return "low";
}

std::string_view action_name(ActionKind a) {
  switch (a) {
    case ActionKind::kNone:
      return "none";
    case ActionKind::kAlert:
      return "alert";
    case ActionKind::kThrottle:
      return "throttle";
    case ActionKind::kTempBan:
      return "tempban";
    case ActionKind::kPermBan:
      return "permban";
  }
  return "none";
}

double calculate_anomaly_score(double error_rate, double spike_ratio, double ip_diversity,
                               double latency_anomaly) {
  const double e = clamp01(error_rate);
  const double s = clamp01((finite_or_zero(spike_ratio) - 1.0) / 4.0);
  const double d = clamp01(ip_diversity);
  const double l = clamp01(latency_anomaly);
  return clamp01(1.0 - (1.0 - e) * (1.0 - s) * (1.0 - d) * (1.0 - l));
}

double calculate_anomaly_score(const Features& f) {
  return calculate_anomaly_score(f.error_rate, f.spike_ratio, f.ip_diversity, f.latency_anomaly);
}

ActionKind action_for_score(double score) {
  if (!std::isfinite(score) || score < 0.3) return ActionKind::kNone;
  if (score < 0.5) return ActionKind::kAlert;
  if (score < 0.7) return ActionKind::kThrottle;
  if (score < 0.9) return ActionKind::kTempBan;
  return ActionKind::kPermBan;
}

Severity severity_for_score(double score) {
  if (!std::isfinite(score) || score < 0.3) return Severity::kLow;
  if (score < 0.5) return Severity::kMedium;
  if (score < 0.9) return Severity::kHigh;
  return Severity::kCritical;
}

namespace internal {

Baseline compute_volume_baseline(const std::vector<PeriodPoint>& hours, int64_t now_ms,
                                 int64_t first_seen_ms) {
  const int64_t current = hour_start(now_ms);
  const int64_t oldest = current - 7 * kDayMs;
  // Duration-weighted mean, so that the key's partial first hour counts for the minutes it
  // covered rather than dragging the mean down (a key seen since hh:50 has a 10-minute hour).
  auto accumulate = [&](bool same_hour_only, double* requests, double* covered_ms) {
    *requests = 0;
    *covered_ms = 0;
    for (const PeriodPoint& p : hours) {
      if (p.start_ms >= current || p.start_ms < oldest || p.requests <= 0) continue;
      if (same_hour_only && (current - p.start_ms) % kDayMs != 0) continue;
      int64_t covered = kHourMs;
      if (first_seen_ms > p.start_ms) covered = p.start_ms + kHourMs - first_seen_ms;
      covered = std::clamp<int64_t>(covered, 5 * kMinuteMs, kHourMs);
      *requests += static_cast<double>(p.requests);
      *covered_ms += static_cast<double>(covered);
    }
  };
  Baseline b;
  double requests = 0, covered = 0;
  accumulate(true, &requests, &covered);
  b.volume_from_same_hour = covered > 0;
  if (covered <= 0) accumulate(false, &requests, &covered);
  // A key needs an hour of history before "usual" means anything: a brand-new key's first
  // minutes are not a baseline for its next ones.
  if (covered >= static_cast<double>(kHourMs))
    b.volume_5min = requests / covered * static_cast<double>(kSpikeWindowMs);
  return b;
}

double compute_latency_baseline(const std::vector<PeriodPoint>& hours, int64_t now_ms,
                                int* hours_used) {
  const int64_t current = hour_start(now_ms);
  std::vector<double> p95s;
  p95s.reserve(hours.size());
  for (const PeriodPoint& p : hours) {
    if (p.start_ms >= current || p.requests <= 0 || !std::isfinite(p.p95_ms)) continue;
    p95s.push_back(p.p95_ms);
  }
  if (hours_used) *hours_used = static_cast<int>(p95s.size());
  if (p95s.size() < 3) return 0;
  return median(std::move(p95s));
}

int64_t min_requests_for_any(const Thresholds& t) {
  // Each detector needs strictly more than these many requests in the last hour (a distinct
  // IP or a distinct 404 path needs a request of its own).
  return std::min({t.brute_force_min_requests, t.bot_min_requests, t.ip_rotation_min_unique,
                   t.spike_min_requests, t.scan_distinct_404_paths, t.error_burst_min_requests,
                   t.latency_min_requests});
}

std::optional<Detection> detect_brute_force(const WindowSummary& hour, const Thresholds& t) {
  if (hour.requests <= t.brute_force_min_requests) return std::nullopt;
  const double error_rate = ratio(hour.errors, hour.requests);
  const double auth_share = ratio(hour.auth_failures, hour.errors);
  if (!(error_rate > t.brute_force_error_rate) || !(auth_share > t.brute_force_auth_share)) {
    return std::nullopt;
  }
  Detection d = make_detection(DetectionType::kBruteForce, hour);
  d.severity = Severity::kCritical;
  d.confidence = confidence({margin_above_rate(error_rate, t.brute_force_error_rate),
                             margin_above_rate(auth_share, t.brute_force_auth_share),
                             margin_above(static_cast<double>(hour.requests),
                                          static_cast<double>(t.brute_force_min_requests), 4)});
  d.summary = "High error rate (" + percent(error_rate, 0) + ") with " +
              std::to_string(hour.requests) + " requests";
  d.evidence = {{"errorRate", percent(error_rate, 1)},
                {"totalRequests", hour.requests},
                {"errors", hour.errors},
                {"statusDistribution", status_distribution(hour)}};
  d.features = {{"errorRate", num(error_rate, 4)},
                {"requests", hour.requests},
                {"errors", hour.errors},
                {"authFailures", hour.auth_failures},
                {"authShare", num(auth_share, 4)}};
  d.thresholds = {{"errorRate", t.brute_force_error_rate},
                  {"minRequests", t.brute_force_min_requests},
                  {"authShare", t.brute_force_auth_share}};
  d.suggested_action = ActionKind::kTempBan;
  d.recommendations = {"rotate_key", "review_auth_flow", "enable_mfa"};
  return d;
}

std::optional<Detection> detect_bot_pattern(const WindowSummary& hour, const Thresholds& t) {
  if (hour.requests <= t.bot_min_requests) return std::nullopt;
  const double p95 = finite_or_zero(hour.p95_ms), p99 = finite_or_zero(hour.p99_ms);
  const double spread = std::max(0.0, p99 - p95);
  if (!(p95 < t.bot_p95_ms) || !(spread < t.bot_p99_minus_p95_ms)) return std::nullopt;
  Detection d = make_detection(DetectionType::kBotPattern, hour);
  d.severity = Severity::kMedium;
  d.confidence =
      confidence({margin_below(p95, t.bot_p95_ms), margin_below(spread, t.bot_p99_minus_p95_ms),
                  margin_above(static_cast<double>(hour.requests),
                               static_cast<double>(t.bot_min_requests), 4)});
  d.summary = "Uniform low latency (p95 " + fixed(p95, 0) + " ms, p99 " + fixed(p99, 0) +
              " ms) with " + std::to_string(hour.requests) + " requests in an hour";
  d.evidence = {{"p95Latency", num(p95, 1)},
                {"p99Latency", num(p99, 1)},
                {"totalRequests", hour.requests},
                {"latencyVariance", num(spread, 1)}};
  d.features = {{"p95Ms", num(p95, 2)},
                {"p99Ms", num(p99, 2)},
                {"p99MinusP95Ms", num(spread, 2)},
                {"requests", hour.requests}};
  d.thresholds = {{"p95Ms", t.bot_p95_ms},
                  {"minRequests", t.bot_min_requests},
                  {"p99MinusP95Ms", t.bot_p99_minus_p95_ms}};
  d.suggested_action = ActionKind::kThrottle;
  d.recommendations = {"add_captcha", "implement_bot_detection"};
  return d;
}

std::optional<Detection> detect_ip_rotation(const WindowSummary& hour, const Thresholds& t) {
  // Distinct counts are sketch estimates: never more distinct IPs than requests.
  const int64_t unique = std::min(hour.unique_ips, hour.requests);
  if (hour.requests <= 0 || unique <= t.ip_rotation_min_unique) return std::nullopt;
  const double per_100 = static_cast<double>(unique) * 100.0 / static_cast<double>(hour.requests);
  if (!(per_100 > t.ip_rotation_per_100)) return std::nullopt;
  Detection d = make_detection(DetectionType::kIpRotation, hour);
  d.severity = Severity::kHigh;
  d.confidence = confidence({margin_above(per_100, t.ip_rotation_per_100, 2),
                             margin_above(static_cast<double>(unique),
                                          static_cast<double>(t.ip_rotation_min_unique), 4)});
  d.summary = std::to_string(unique) + " unique IPs over " + std::to_string(hour.requests) +
              " requests (" + fixed(per_100, 1) + " per 100 requests)";
  bj::array top;
  for (const auto& [ip, count] : hour.top_ips)
    top.push_back(bj::object{{"ip", ip}, {"count", count}});
  d.evidence = {{"uniqueIps", unique},
                {"totalRequests", hour.requests},
                {"ipDiversity", num(per_100, 2)},
                {"topIps", std::move(top)}};
  d.features = {
      {"uniqueIps", unique}, {"requests", hour.requests}, {"ipsPer100Requests", num(per_100, 2)}};
  d.thresholds = {{"ipsPer100Requests", t.ip_rotation_per_100},
                  {"minUniqueIps", t.ip_rotation_min_unique}};
  // Seed: alert + throttle; throttling implies the alert.
  d.suggested_action = ActionKind::kThrottle;
  d.recommendations = {"split_keys", "whitelist_ips", "investigate_sharing"};
  return d;
}

std::optional<Detection> detect_traffic_spike(const WindowSummary& last5, double baseline_5min,
                                              const Thresholds& t) {
  if (!(baseline_5min > 0) || last5.requests <= t.spike_min_requests) return std::nullopt;
  const double spike = static_cast<double>(last5.requests) / baseline_5min;
  if (!(spike > t.spike_ratio)) return std::nullopt;
  Detection d = make_detection(DetectionType::kTrafficSpike, last5);
  d.severity = Severity::kMedium;
  d.confidence = confidence({margin_above(spike, t.spike_ratio),
                             margin_above(static_cast<double>(last5.requests),
                                          static_cast<double>(t.spike_min_requests), 4)});
  d.summary = "Traffic spike: " + std::to_string(last5.requests) + " requests in 5 minutes, " +
              fixed(spike, 1) + "x the usual " + fixed(baseline_5min, 0);
  d.evidence = {{"totalRequests", last5.requests},
                {"expectedMax", num(baseline_5min, 0)},
                {"spikeRatio", num(spike, 2)}};
  d.features = {{"requests", last5.requests},
                {"baselineRequests", num(baseline_5min, 2)},
                {"spikeRatio", num(spike, 4)}};
  d.thresholds = {{"spikeRatio", t.spike_ratio}, {"minRequests", t.spike_min_requests}};
  d.suggested_action = ActionKind::kAlert;
  d.recommendations = {"increase_quota", "review_ddos"};
  return d;
}

std::optional<Detection> detect_endpoint_scanning(const WindowSummary& last10,
                                                  const Thresholds& t) {
  // Distinct counts are sketch estimates: never more distinct 404 paths than 404s.
  const int64_t paths = std::min(last10.unique_404_paths, last10.not_found);
  if (last10.requests <= 0 || paths <= t.scan_distinct_404_paths) {
    return std::nullopt;
  }
  const double share = ratio(last10.not_found, last10.requests);
  if (!(share > t.scan_404_share)) return std::nullopt;
  Detection d = make_detection(DetectionType::kEndpointScanning, last10);
  d.severity = Severity::kHigh;
  d.confidence = confidence({margin_above_rate(share, t.scan_404_share),
                             margin_above(static_cast<double>(paths),
                                          static_cast<double>(t.scan_distinct_404_paths), 2)});
  d.summary = std::to_string(paths) + " distinct 404 paths probed in 10 minutes (" +
              percent(share, 0) + " of " + std::to_string(last10.requests) + " requests)";
  d.evidence = {{"distinct404Paths", paths},
                {"notFound", last10.not_found},
                {"totalRequests", last10.requests},
                {"notFoundRate", percent(share, 1)}};
  d.features = {{"distinct404Paths", paths},
                {"notFound", last10.not_found},
                {"requests", last10.requests},
                {"notFoundShare", num(share, 4)}};
  d.thresholds = {{"distinct404Paths", t.scan_distinct_404_paths},
                  {"notFoundShare", t.scan_404_share}};
  d.suggested_action = ActionKind::kThrottle;
  d.recommendations = {"review_auth_flow", "implement_bot_detection"};
  return d;
}

std::optional<Detection> detect_error_burst(const WindowSummary& last5, const Thresholds& t) {
  if (last5.requests <= t.error_burst_min_requests) return std::nullopt;
  const double rate = ratio(last5.server_errors, last5.requests);
  if (!(rate > t.error_burst_5xx_rate)) return std::nullopt;
  Detection d = make_detection(DetectionType::kErrorBurst, last5);
  d.severity = Severity::kHigh;
  d.confidence = confidence({margin_above_rate(rate, t.error_burst_5xx_rate),
                             margin_above(static_cast<double>(last5.requests),
                                          static_cast<double>(t.error_burst_min_requests), 4)});
  d.summary = "Server error burst: " + percent(rate, 0) + " 5xx over " +
              std::to_string(last5.requests) + " requests in 5 minutes";
  d.evidence = {{"serverErrors", last5.server_errors},
                {"errorRate", percent(rate, 1)},
                {"totalRequests", last5.requests},
                {"statusDistribution", status_distribution(last5)}};
  d.features = {{"serverErrors", last5.server_errors},
                {"requests", last5.requests},
                {"serverErrorRate", num(rate, 4)}};
  d.thresholds = {{"serverErrorRate", t.error_burst_5xx_rate},
                  {"minRequests", t.error_burst_min_requests}};
  // A service problem, not abuse: never a ban.
  d.suggested_action = ActionKind::kAlert;
  return d;
}

std::optional<Detection> detect_latency_degradation(const WindowSummary& last15,
                                                    double baseline_p95_ms, const Thresholds& t) {
  if (!(baseline_p95_ms > 0) || last15.requests <= t.latency_min_requests) return std::nullopt;
  const double p95 = finite_or_zero(last15.p95_ms);
  if (!(p95 > t.latency_min_p95_ms)) return std::nullopt;
  const double r = p95 / baseline_p95_ms;
  if (!(r > t.latency_degradation_ratio)) return std::nullopt;
  Detection d = make_detection(DetectionType::kLatencyDegradation, last15);
  d.severity = Severity::kMedium;
  d.confidence = confidence({margin_above(r, t.latency_degradation_ratio, 2),
                             margin_above(p95, t.latency_min_p95_ms, 4)});
  d.summary = "p95 latency " + fixed(p95, 0) + " ms is " + fixed(r, 1) + "x the baseline " +
              fixed(baseline_p95_ms, 0) + " ms";
  d.evidence = {{"p95Latency", num(p95, 1)},
                {"baselineP95", num(baseline_p95_ms, 1)},
                {"ratio", num(r, 2)},
                {"totalRequests", last15.requests}};
  d.features = {{"p95Ms", num(p95, 2)},
                {"baselineP95Ms", num(baseline_p95_ms, 2)},
                {"ratio", num(r, 4)},
                {"requests", last15.requests}};
  d.thresholds = {{"ratio", t.latency_degradation_ratio},
                  {"minP95Ms", t.latency_min_p95_ms},
                  {"minRequests", t.latency_min_requests}};
  d.suggested_action = ActionKind::kAlert;
  return d;
}

}  // namespace internal

Evaluation Detector::evaluate(const signals::KeyRollup& key, int64_t now_ms) const {
  using namespace internal;
  Evaluation ev;
  // Below every detector's minimum volume nothing can fire, and ratios over a handful of
  // requests are noise: the features stay neutral (score 0). Counters are cheap; sketches are
  // merged only for the windows and parts some detector can use.
  const int64_t hour_requests = key.counts(now_ms, kHourWindowMs).requests;
  if (hour_requests <= min_requests_for_any(t_)) return ev;
  const bool bot_possible = hour_requests > t_.bot_min_requests;
  const WindowSummary hour = key.window(now_ms, kHourWindowMs, bot_possible);

  ev.features.error_rate = ratio(hour.errors, hour.requests);
  ev.features.ip_diversity = ratio(std::min(hour.unique_ips, hour.requests), hour.requests);
  auto push = [&ev](std::optional<Detection> d) {
    if (d) ev.detections.push_back(std::move(*d));
  };
  push(detect_brute_force(hour, t_));
  push(detect_bot_pattern(hour, t_));
  push(detect_ip_rotation(hour, t_));

  // Shorter windows are subsets of the hour: skip those whose detectors cannot fire.
  std::optional<WindowSummary> last5, last10, last15;
  if (key.counts(now_ms, kSpikeWindowMs).requests >
      std::min(t_.spike_min_requests, t_.error_burst_min_requests)) {
    last5 = key.window(now_ms, kSpikeWindowMs);
  }
  if (key.counts(now_ms, kScanWindowMs).not_found > t_.scan_distinct_404_paths)
    last10 = key.window(now_ms, kScanWindowMs, false);
  if (key.counts(now_ms, kLatencyWindowMs).requests > t_.latency_min_requests)
    last15 = key.window(now_ms, kLatencyWindowMs);

  const bool spike_possible = last5 && last5->requests > t_.spike_min_requests;
  const bool latency_possible = last15 && last15->requests > t_.latency_min_requests &&
                                last15->p95_ms > t_.latency_min_p95_ms;
  double baseline_volume = 0, baseline_p95 = 0;
  if (spike_possible || latency_possible) {
    const std::vector<PeriodPoint> history = key.hours(hour_start(now_ms) - 7 * kDayMs);
    if (spike_possible) {
      baseline_volume = compute_volume_baseline(history, now_ms, key.first_seen_ms()).volume_5min;
    }
    if (latency_possible) baseline_p95 = compute_latency_baseline(history, now_ms, nullptr);
  }
  if (spike_possible && baseline_volume > 0) {
    ev.features.spike_ratio = static_cast<double>(last5->requests) / baseline_volume;
  }
  if (latency_possible && baseline_p95 > 0) {
    ev.features.latency_anomaly = std::max(0.0, last15->p95_ms / baseline_p95 - 1.0);
  }

  if (last5) push(detect_traffic_spike(*last5, baseline_volume, t_));
  if (last10) push(detect_endpoint_scanning(*last10, t_));
  if (last5) push(detect_error_burst(*last5, t_));
  if (last15) push(detect_latency_degradation(*last15, baseline_p95, t_));

  ev.anomaly_score = calculate_anomaly_score(ev.features);
  return ev;
}

}  // namespace sira::guard
