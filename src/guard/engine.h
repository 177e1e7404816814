// SIRA Guard engine: turns request logs of a tenant into per-key rollups, runs the detectors,
// decides and records the graded action, keeps recommendations and serves debug packs.
//
// ingest() is the whole pipeline for one batch: parse -> rollup -> detect -> act. Everything a
// detection produces (suspicious event, decisions, recommendations, audit entry) is written in one
// transaction. Rollups and the recent-records ring live in memory (bounded); events, decisions,
// recommendations and debug packs live in the store. Thread-safe: one mutex per tenant.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "audit/log.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/metrics.h"
#include "guard/decisions.h"
#include "guard/detect.h"
#include "guard/expr.h"
#include "signals/parse.h"
#include "signals/rollup.h"
#include "store/database.h"
#include "store/migrations.h"

namespace sira::guard {

struct GuardConfig {
  bool auto_action = true;  // false: record what would be done, act on nothing
  Thresholds thresholds;
  int64_t throttle_rate_per_minute = 10;
  int64_t throttle_seconds = 3600;
  int64_t tempban_seconds = 3600;
  // Ban length for repeat offenders; variables: base (tempban seconds), offences (earlier
  // decisions on the same key within offence_window_days).
  std::string ban_duration_expr = "base * 2 ^ offences";
  int64_t max_ban_seconds = 30 * 86400;
  int64_t offence_window_days = 30;
  int64_t key_rotation_days = 90;  // rotate_key is recommended past this age
  int64_t cooldown_seconds = 900;  // one event per key and type within this event-time span
  int64_t evaluate_every = 32;     // evaluate a key after this many new records (or a minute)
  int64_t recent_records = 100000; // per tenant, kept for debug packs
  int64_t debug_pack_ttl_seconds = 7 * 86400;
  // Rollups of a tenant may use this much memory; past it the least recently seen keys are
  // written to the store and dropped from memory (they come back when their key does).
  size_t memory_budget_bytes = size_t{1024} << 20;
  int64_t metrics_retention_days = 90;  // daily points and idle keys' snapshots
  int64_t traces_retention_days = 7;    // spans of traced requests
  signals::ParseOptions parse;          // where nginx and Envoy lines carry the API key
  std::string public_url = "http://127.0.0.1:8080";
};

struct SuspiciousEvent {
  std::string id, tenant_id, key_id, type, severity;
  double confidence = 0, anomaly_score = 0;
  std::string summary;
  std::string evidence_json, features_json, thresholds_json;
  int64_t window_start_ms = 0, window_end_ms = 0;
  std::string action_taken;  // none | alert | throttle | tempban | permban | recommended:<x> | allowlisted
  std::vector<std::string> decision_ids;
  std::vector<std::string> recommendations;
  int64_t detected_at = 0;  // wall clock
  int64_t event_time_ms = 0;
};

// Where committed detections go next in the flow (the alerts pipeline subscribes here). Called
// after the detection's transaction committed, on the ingesting thread, in detection order;
// implementations must be quick and must not call back into the Engine.
class DetectionSink {
 public:
  virtual ~DetectionSink() = default;
  virtual void on_detection(const SuspiciousEvent& event) = 0;
};

struct StoredRecommendation {
  std::string id, tenant_id, key_id, type, priority, title, description, triggered_by;
  std::vector<std::string> action_steps;
  std::string event_id, status;  // open | accepted | dismissed
  int64_t created_at = 0, updated_at = 0;
};

struct IngestReport {
  signals::ParseStats stats;
  std::vector<std::pair<int64_t, std::string>> rejects;  // first 100: line, reason
  int64_t detections = 0;
  int64_t actions = 0;
};

// A key's last 24 hours (seed view v_key_health_overview).
struct KeyHealth {
  std::string key_id;
  int64_t periods = 0;  // hours with traffic or an anomaly score
  int64_t requests = 0;
  double avg_requests_per_period = 0;
  double error_rate_pct = 0;
  double p95_ms = 0;  // highest hourly p95
  double max_anomaly_score = 0;
  int64_t suspicious_periods = 0;  // hours whose anomaly score reached the alert band (>= 0.3)
  int64_t last_activity_ms = 0;
  std::string status;  // healthy | degraded | suspicious
};

struct DebugPackRequest {
  std::string key_id, title;
  int64_t start_ms = 0, end_ms = 0;
  bool include_logs = true, include_traces = true, include_metrics = true;
};

struct CreatedDebugPack {
  std::string pack_id, access_token, share_url;
  int64_t expires_at = 0;
};

class Engine {
 public:
  Engine(store::Database& db, audit::AuditLog& audit, Decisions& decisions, const Clock& clock,
         MetricsRegistry& metrics, GuardConfig config);
  ~Engine();
  static std::vector<store::Migration> migrations();
  const GuardConfig& config() const { return config_; }
  // Adds a subscriber to committed detections. Call before the first ingest().
  void add_sink(DetectionSink* sink) { sinks_.push_back(sink); }

  // `first_line` numbers the lines of `data` in rejection reports (for chunked files).
  Result<IngestReport> ingest(const std::string& tenant_id, std::string_view data,
                              signals::Format format, const std::string& actor,
                              int64_t first_line = 1);

  // period: 1h | 24h | 7d | 30d | 90d; step: 1m | 1h | 1d or "" for the period's default (1h:
  // minutes, 24h and 7d: hours, 30d and 90d: days). A step finer than the period's data allows
  // (minutes beyond 1h, hours beyond 7d) is refused.
  Result<std::vector<signals::PeriodPoint>> metrics(const std::string& tenant_id,
                                                    const std::string& key_id,
                                                    const std::string& period,
                                                    const std::string& step = "");
  Result<KeyHealth> key_health(const std::string& tenant_id, const std::string& key_id);
  // Keys in memory, most suspicious first (max anomaly score, then requests).
  Result<std::vector<KeyHealth>> keys_health(const std::string& tenant_id, int limit);
  // Events of the last 24 hours, severity first (critical to low), then most recent first (seed
  // view v_active_suspicious_events).
  Result<std::vector<SuspiciousEvent>> active_events(const std::string& tenant_id, int limit);
  Result<std::optional<signals::WindowSummary>> summary(const std::string& tenant_id,
                                                        const std::string& key_id);
  Result<std::vector<SuspiciousEvent>> events(const std::string& tenant_id,
                                              const std::optional<std::string>& key_id,
                                              int limit, const std::optional<std::string>& before_id);
  Result<std::vector<StoredRecommendation>> recommendations(const std::string& tenant_id,
                                                            const std::string& key_id,
                                                            const std::optional<std::string>& status);
  Result<StoredRecommendation> set_recommendation_status(const std::string& tenant_id,
                                                         const std::string& actor,
                                                         const std::string& id,
                                                         const std::string& status);

  Result<CreatedDebugPack> create_debug_pack(const std::string& tenant_id, const std::string& actor,
                                             const DebugPackRequest& req);
  // The anonymised bundle for a share token; kGone when expired, kNotFound when unknown.
  Result<std::string> open_debug_pack(std::string_view access_token, const std::string& remote);

  // Writes every changed key's rollup snapshot (and its current daily points) to the store. The
  // server calls it every guard.flush_interval_seconds and at shutdown; `sira ingest` at the end.
  Status flush();
  // Deletes daily points and idle keys' snapshots older than the retention; returns rows deleted.
  Result<int64_t> purge(int64_t now_ms);

  size_t tracked_keys() const;   // keys in memory
  size_t memory_bytes() const;   // rollup memory of the keys in memory

 private:
  struct TenantState;
  TenantState& tenant(const std::string& tenant_id);
  Status load(const std::string& tenant_id, TenantState& t);
  Status store_spans(const std::string& tenant_id, TenantState& t);
  static constexpr size_t kMaxSpansPerBatch = 1 << 20;
  bool may_be_stored(const TenantState& t, std::string_view key) const;
  void remember_stored(TenantState& t, std::string_view key);
  Result<std::optional<signals::KeyRollup>> read_snapshot(const std::string& tenant_id,
                                                         std::string_view key_id);
  const signals::KeyRollup* find_rollup(const std::string& tenant_id, TenantState& t,
                                        std::string_view key_id);
  Status write_snapshots(const std::string& tenant_id, TenantState& t,
                         const std::vector<std::string>& key_ids);
  void evict_over_budget(const std::string& tenant_id, TenantState& t, Status* error);
  static constexpr uint64_t kMemoryCheckMask = (uint64_t{1} << 16) - 1;

  Status act(const std::string& tenant_id, TenantState& t, const std::string& key_id,
             const Evaluation& eval, int64_t now_event_ms, const std::string& actor,
             IngestReport* report);

  store::Database& db_;
  audit::AuditLog& audit_;
  Decisions& decisions_;
  const Clock& clock_;
  MetricsRegistry& metrics_;
  GuardConfig config_;
  Detector detector_;
  int64_t min_volume_ = 0;  // at or below this many requests in an hour no detector can fire
  Expression ban_expr_;
  std::vector<DetectionSink*> sinks_;
  mutable std::mutex map_mu_;
  std::map<std::string, std::unique_ptr<TenantState>> tenants_;
};

}  // namespace sira::guard
