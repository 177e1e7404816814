// Private to src/guard: the seven detectors as pure functions of window summaries and baseline
// numbers, and the baseline computations, so they can be tested without a KeyRollup.
// Stateless and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "guard/detect.h"
#include "signals/rollup.h"

namespace sira::guard::internal {

inline constexpr int64_t kMinuteMs = 60'000;
inline constexpr int64_t kHourMs = 60 * kMinuteMs;
inline constexpr int64_t kDayMs = 24 * kHourMs;

// Window lengths of the detectors (see Thresholds).
inline constexpr int64_t kHourWindowMs = kHourMs;            // brute_force, bot, ip_rotation
inline constexpr int64_t kSpikeWindowMs = 5 * kMinuteMs;     // traffic_spike, error_burst
inline constexpr int64_t kScanWindowMs = 10 * kMinuteMs;     // endpoint_scanning
inline constexpr int64_t kLatencyWindowMs = 15 * kMinuteMs;  // latency_degradation

// Baseline numbers drawn from a key's hourly history.
struct Baseline {
  // Expected requests per 5 minutes; <= 0 when there is no history (no spike detection).
  double volume_5min = 0;
  bool volume_from_same_hour = false;  // true: same hour-of-day on previous days
  // Median p95 of previous hours with traffic; <= 0 when fewer than 3 such hours.
  double p95_ms = 0;
  int latency_hours = 0;
};

// `hours` as returned by KeyRollup::hours (oldest first); the hour containing now_ms is
// excluded. first_seen_ms lets a partial first hour count for the minutes it covered.
Baseline compute_volume_baseline(const std::vector<signals::PeriodPoint>& hours, int64_t now_ms,
                                 int64_t first_seen_ms);
double compute_latency_baseline(const std::vector<signals::PeriodPoint>& hours, int64_t now_ms,
                                int* hours_used);

// The smallest last-hour volume under which no detector can fire.
int64_t min_requests_for_any(const Thresholds& t);

std::optional<Detection> detect_brute_force(const signals::WindowSummary& hour,
                                            const Thresholds& t);
std::optional<Detection> detect_bot_pattern(const signals::WindowSummary& hour,
                                            const Thresholds& t);
std::optional<Detection> detect_ip_rotation(const signals::WindowSummary& hour,
                                            const Thresholds& t);
std::optional<Detection> detect_traffic_spike(const signals::WindowSummary& last5,
                                              double baseline_5min, const Thresholds& t);
std::optional<Detection> detect_endpoint_scanning(const signals::WindowSummary& last10,
                                                  const Thresholds& t);
std::optional<Detection> detect_error_burst(const signals::WindowSummary& last5,
                                            const Thresholds& t);
std::optional<Detection> detect_latency_degradation(const signals::WindowSummary& last15,
                                                    double baseline_p95_ms, const Thresholds& t);

}  // namespace sira::guard::internal
