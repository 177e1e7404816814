// Per-API-key rollups in bounded memory: 60 one-minute buckets (counts, exact status mix,
// latency DDSketch, distinct IPs, distinct 404 paths, top IPs), 7 x 24 hourly points and 30
// daily points (counts and latency percentiles). Old buckets are recycled as time moves on; a
// record older than the oldest minute bucket still counts in its hour and day.
//
// Not thread-safe: one ingest pipeline thread owns a Rollups; readers get copies (summaries).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "signals/record.h"
#include "signals/sketch.h"

namespace sira::signals {

struct StatusCount {
  int status = 0;
  int64_t count = 0;
};

// Aggregate of the minute buckets of one key over a window.
struct WindowSummary {
  int64_t start_ms = 0, end_ms = 0;
  int64_t requests = 0;
  int64_t errors = 0;                 // status >= 400
  int64_t client_errors = 0;          // 4xx
  int64_t server_errors = 0;          // 5xx
  int64_t auth_failures = 0;          // 401 + 403
  int64_t not_found = 0;              // 404
  std::vector<StatusCount> statuses;  // exact count per status code, ascending code
  double latency_avg_ms = 0, p50_ms = 0, p95_ms = 0, p99_ms = 0, latency_max_ms = 0;
  int64_t unique_ips = 0;
  std::vector<std::pair<std::string, int64_t>> top_ips;  // up to 5, most frequent first
  int64_t unique_404_paths = 0;
  int64_t bytes = 0;
  int64_t first_ts_ms = 0, last_ts_ms = 0;  // of the records seen in the window
};

struct PeriodPoint {
  int64_t start_ms = 0;
  int64_t requests = 0, errors = 0;
  double latency_avg_ms = 0, p50_ms = 0, p95_ms = 0, p99_ms = 0;
  double max_anomaly_score = 0;
};

class KeyRollup {
 public:
  KeyRollup();
  ~KeyRollup();
  KeyRollup(KeyRollup&&) noexcept;
  KeyRollup& operator=(KeyRollup&&) noexcept;

  // Rings advance with record time: a record of a newer minute (hour, day) recycles the slots
  // that fall out of the last 60 minutes (168 hours, 30 days). Hour and day percentiles come from
  // a sketch kept while the period is the current or the previous one; older periods keep only
  // their numbers (a very late record still updates their counts and average, not percentiles).
  void add(const RecordView& r);
  // Summary of [now - duration, now] (duration clamped to [0, 60 minutes]), minute-aligned: it
  // merges the minute buckets overlapping that range, i.e. minutes floor((now - duration) / 1 min)
  // .. floor(now / 1 min) still held; start_ms/end_ms are the first bucket's start and the last
  // bucket's end.
  // With with_latency false the latency sketches are not merged and the percentiles stay 0.
  WindowSummary window(int64_t now_ms, int64_t duration_ms, bool with_latency = true) const;
  // Only the counters of window() (requests and error classes), without merging any sketch:
  // cheap enough to call on every record.
  struct Counts {
    int64_t requests = 0, client_errors = 0, server_errors = 0, auth_failures = 0, not_found = 0;
  };
  Counts counts(int64_t now_ms, int64_t duration_ms) const;
  // Hourly points starting at or after since_ms (at most 7 days), oldest first. Periods with no
  // record and no anomaly score are omitted (no zero points).
  std::vector<PeriodPoint> hours(int64_t since_ms) const;
  // Daily points (UTC days) starting at or after since_ms (at most 30 days), oldest first; same
  // omission rule.
  std::vector<PeriodPoint> days(int64_t since_ms) const;
  // Minute points starting at or after since_ms (at most 60 minutes), oldest first; same rule.
  std::vector<PeriodPoint> minutes(int64_t since_ms) const;
  // Records the anomaly score computed at `ts_ms` into its minute, hour and day. It never
  // advances a ring: a period newer than the newest record's, or already recycled, is skipped.
  void note_anomaly_score(int64_t ts_ms, double score);
  // Moves the rings to now_ms as if time had passed without records, releasing minutes, hours
  // and days that fell out of them (keeps idle keys small). Never needed for correctness.
  void expire(int64_t now_ms);

  // A binary snapshot of every ring and sketch, and its inverse (nullopt for anything malformed
  // or of another format version). decode(encode()) answers every query as the original does.
  std::string encode() const;
  static std::optional<KeyRollup> decode(std::string_view data);

  int64_t first_seen_ms() const;
  int64_t last_seen_ms() const;
  int64_t total_requests() const;
  // Records older than the minute ring (counted in their hour/day only), and records older than
  // every ring (not counted at all).
  int64_t late_records() const;
  int64_t late_dropped() const;
  size_t memory_bytes() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// All keys of one tenant.
class Rollups {
 public:
  KeyRollup& key(std::string_view key_id);  // created on first use
  const KeyRollup* find(std::string_view key_id) const;
  size_t size() const { return keys_.size(); }
  // Drops keys not seen since idle_before_ms; returns how many.
  size_t evict_idle(int64_t idle_before_ms);
  // KeyRollup::expire on every key.
  void expire(int64_t now_ms);
  std::vector<std::string> key_ids() const;
  size_t memory_bytes() const;

 private:
  // Transparent hashing so key(string_view) does not allocate on the hot path.
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, KeyRollup, KeyHash, std::equal_to<>> keys_;
};

}  // namespace sira::signals
