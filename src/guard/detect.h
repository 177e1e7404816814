// SIRA Guard detection (seed 002): seven detectors over a key's rollups, the anomaly score, and
// the graded action each score band calls for. Pure computation on values: no store, no clock
// (callers pass `now`), no I/O. Thread-safe (const after construction).
#pragma once

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "signals/rollup.h"

namespace sira::guard {

enum class DetectionType {
  kBruteForce,
  kBotPattern,
  kIpRotation,
  kTrafficSpike,
  kEndpointScanning,
  kErrorBurst,
  kLatencyDegradation,
};
std::string_view type_name(DetectionType t);  // "brute_force", "bot_pattern", ...
std::optional<DetectionType> parse_type(std::string_view name);

enum class Severity { kLow, kMedium, kHigh, kCritical };
std::string_view severity_name(Severity s);  // "low" … "critical"

enum class ActionKind { kNone, kAlert, kThrottle, kTempBan, kPermBan };
std::string_view action_name(ActionKind a);  // "none", "alert", "throttle", "tempban", "permban"

// Seed defaults; every field is configurable (guard.* config keys).
struct Thresholds {
  // brute_force: over the last hour
  double brute_force_error_rate = 0.5;       // > 50 %
  int64_t brute_force_min_requests = 100;    // > 100 req/h
  double brute_force_auth_share = 0.5;       // 401+403 are most of the errors
  // bot_pattern: over the last hour
  double bot_p95_ms = 50;                    // p95 < 50 ms
  int64_t bot_min_requests = 1000;           // > 1000 req/h
  double bot_p99_minus_p95_ms = 20;          // p99 - p95 < 20 ms
  // ip_rotation: over the last hour
  double ip_rotation_per_100 = 10;           // > 10 unique IPs per 100 requests
  int64_t ip_rotation_min_unique = 20;       // > 20 unique IPs in total
  // traffic_spike: last 5 minutes against the key's own baseline
  double spike_ratio = 5;                    // > 5x baseline
  int64_t spike_min_requests = 50;           // ignore tiny absolute volumes
  // endpoint_scanning: last 10 minutes
  int64_t scan_distinct_404_paths = 30;
  double scan_404_share = 0.5;
  // error_burst: last 5 minutes, 5xx (a service problem, not abuse)
  double error_burst_5xx_rate = 0.2;
  int64_t error_burst_min_requests = 50;
  // latency_degradation: p95 of the last 15 minutes against the baseline p95
  double latency_degradation_ratio = 2.0;
  double latency_min_p95_ms = 100;
  int64_t latency_min_requests = 50;
};

// The four inputs of the anomaly score, each a fraction (see calculate_anomaly_score).
struct Features {
  double error_rate = 0;       // errors / requests in the last hour
  double spike_ratio = 1;      // last-5-minute volume / baseline 5-minute volume
  double ip_diversity = 0;     // unique IPs per request in the last hour (0.15 = 15 per 100)
  double latency_anomaly = 0;  // (p95 now - baseline p95) / baseline p95, >= 0
};

// Noisy-OR of four risk probabilities:
//   score = 1 - (1 - e)(1 - (s - 1) / 4)(1 - d)(1 - l)
// with e = error_rate, s = spike_ratio (1x -> 0, 5x and more -> 1), d = ip_diversity and
// l = latency_anomaly, each clamped to [0, 1]. Seed 002's example (0.35, 2.5, 0.15, 0.25) -> 0.741.
double calculate_anomaly_score(double error_rate, double spike_ratio, double ip_diversity,
                               double latency_anomaly);
double calculate_anomaly_score(const Features& f);

// Seed table: < 0.3 none, [0.3, 0.5) alert, [0.5, 0.7) throttle 10 req/min,
// [0.7, 0.9) tempban 1 h, >= 0.9 permban.
ActionKind action_for_score(double score);
Severity severity_for_score(double score);

struct Detection {
  DetectionType type;
  Severity severity = Severity::kLow;
  double confidence = 0;          // 0..1, grows with how far past its thresholds the key is
  std::string summary;            // "High error rate (78%) with 2543 requests"
  boost::json::object evidence;   // seed 002 shape for the type (errorRate, statusDistribution…)
  boost::json::object features;   // measured values that triggered it
  boost::json::object thresholds; // the thresholds they crossed
  int64_t window_start_ms = 0, window_end_ms = 0;
  ActionKind suggested_action = ActionKind::kNone;  // the seed's per-type action
  std::vector<std::string> recommendations;         // seed recommendation types
};

struct Evaluation {
  Features features;
  double anomaly_score = 0;
  std::vector<Detection> detections;
};

class Detector {
 public:
  explicit Detector(Thresholds t = {}) : t_(t) {}
  const Thresholds& thresholds() const { return t_; }
  // Evaluates one key at `now_ms`. Baselines come from the key's hourly history (the same hour on
  // previous days when present, else the hours before the current one).
  Evaluation evaluate(const signals::KeyRollup& key, int64_t now_ms) const;

 private:
  Thresholds t_;
};

}  // namespace sira::guard
