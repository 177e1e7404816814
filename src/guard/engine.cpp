// SIRA Guard pipeline: parse -> rollup -> detect -> act, plus recommendations and debug packs.
#include "guard/engine.h"

#include <absl/container/flat_hash_map.h>

#include <boost/json.hpp>
#include <deque>
#include <unordered_map>

#include "core/crypto.h"
#include "core/ids.h"
#include "core/json.h"
#include "core/log.h"
#include "guard/anonymize.h"
#include "guard/recommend.h"

namespace sira::guard {

namespace bj = boost::json;

namespace {

std::vector<std::string> parse_string_array(const std::string& text) {
  std::vector<std::string> out;
  auto v = json::parse(text);
  if (!v || !v->is_array()) return out;
  for (const auto& e : v->as_array())
    if (e.is_string()) out.emplace_back(e.as_string());
  return out;
}

constexpr const char* kEventCols =
    "id, tenant_id, key_id, type, severity, confidence, anomaly_score, summary, evidence, "
    "features, thresholds, window_start, window_end, action_taken, decision_ids, "
    "recommendations, detected_at, event_time";

SuspiciousEvent event_from(const store::Row& r) {
  SuspiciousEvent e;
  e.id = r.str(0);
  e.tenant_id = r.str(1);
  e.key_id = r.str(2);
  e.type = r.str(3);
  e.severity = r.str(4);
  e.confidence = r.f64(5);
  e.anomaly_score = r.f64(6);
  e.summary = r.str(7);
  e.evidence_json = r.str(8);
  e.features_json = r.str(9);
  e.thresholds_json = r.str(10);
  e.window_start_ms = r.i64(11);
  e.window_end_ms = r.i64(12);
  e.action_taken = r.str(13);
  e.decision_ids = parse_string_array(r.str(14));
  e.recommendations = parse_string_array(r.str(15));
  e.detected_at = r.i64(16);
  e.event_time_ms = r.i64(17);
  return e;
}

constexpr const char* kRecCols =
    "id, tenant_id, key_id, type, priority, title, description, action_steps, triggered_by, "
    "event_id, status, created_at, updated_at";

StoredRecommendation rec_from(const store::Row& r) {
  StoredRecommendation s;
  s.id = r.str(0);
  s.tenant_id = r.str(1);
  s.key_id = r.str(2);
  s.type = r.str(3);
  s.priority = r.str(4);
  s.title = r.str(5);
  s.description = r.str(6);
  s.action_steps = parse_string_array(r.str(7));
  s.triggered_by = r.str(8);
  s.event_id = r.str(9);
  s.status = r.str(10);
  s.created_at = r.i64(11);
  s.updated_at = r.i64(12);
  return s;
}

bool service_problem(DetectionType t) {
  return t == DetectionType::kErrorBurst || t == DetectionType::kLatencyDegradation;
}

}  // namespace

struct Engine::TenantState {
  struct KeyState {
    signals::KeyRollup rollup;
    uint64_t touched = 0;   // ingest sequence of the last record (least recently seen evict first)
    bool dirty = false;     // changed since its snapshot was last written
    int64_t pending = 0;
    int64_t threshold = 0;  // pending records that make the key due
    int64_t last_hour = 0;  // requests in the hour before the last evaluation
    int64_t last_eval_ts = 0;
    int64_t last_ts = 0;
    bool due = false;
    std::map<DetectionType, int64_t> last_event;  // event time of the last event per type
  };
  std::mutex mu;
  // Keys are short: the flat map keeps them inline, one cache miss per record at most.
  absl::flat_hash_map<std::string, KeyState> keys;
  uint64_t sequence = 0;        // records ingested, for least-recently-seen order
  std::vector<signals::ApiRecord> spans;  // traced records of the batch, stored at its end
  bool loaded = false;          // snapshots of the store read into memory
  // Keys whose snapshot is in the store but not in memory (evicted, or not loaded for lack of
  // room): a fixed-size Bloom filter, so a flood of new keys costs no store lookup.
  std::vector<uint64_t> stored_bloom;
  int64_t evicted = 0;
  size_t memory_estimate = 0;   // last measured rollup memory
  size_t keys_at_measure = 0;   // keys in memory then
  uint64_t measured_at_sequence = 0;
  // The last records as their raw lines (one copy per record; parsed again only when a debug
  // pack is built).
  struct RawLine {
    signals::Format format = signals::Format::kNdjson;
    std::string text;
  };
  std::vector<RawLine> recent;  // ring
  size_t recent_next = 0;
  bool recent_full = false;
};

Engine::Engine(store::Database& db, audit::AuditLog& audit, Decisions& decisions,
               const Clock& clock, MetricsRegistry& metrics, GuardConfig config)
    : db_(db),
      audit_(audit),
      decisions_(decisions),
      clock_(clock),
      metrics_(metrics),
      config_(std::move(config)),
      detector_(config_.thresholds) {
  const Thresholds& th = config_.thresholds;
  min_volume_ = std::min({th.brute_force_min_requests, th.bot_min_requests,
                          th.ip_rotation_min_unique, th.spike_min_requests,
                          th.scan_distinct_404_paths, th.error_burst_min_requests,
                          th.latency_min_requests});
  auto e = Expression::parse(config_.ban_duration_expr, {"base", "offences"});
  if (!e) e = Expression::parse("base * 2 ^ offences", {"base", "offences"});
  ban_expr_ = std::move(*e);
}

Engine::~Engine() = default;

std::vector<store::Migration> Engine::migrations() {
  return {{"guard", 1, "suspicious events, recommendations, keys, debug packs",
           "CREATE TABLE guard_events ("
           " id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, key_id TEXT NOT NULL, type TEXT NOT NULL,"
           " severity TEXT NOT NULL, confidence REAL NOT NULL, anomaly_score REAL NOT NULL,"
           " summary TEXT NOT NULL, evidence TEXT NOT NULL, features TEXT NOT NULL,"
           " thresholds TEXT NOT NULL, window_start INTEGER NOT NULL, window_end INTEGER NOT NULL,"
           " action_taken TEXT NOT NULL, decision_ids TEXT NOT NULL, recommendations TEXT NOT NULL,"
           " detected_at INTEGER NOT NULL, event_time INTEGER NOT NULL);"
           "CREATE INDEX guard_events_key ON guard_events (tenant_id, key_id, id);"
           "CREATE TABLE guard_recommendations ("
           " id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, key_id TEXT NOT NULL, type TEXT NOT NULL,"
           " priority TEXT NOT NULL, title TEXT NOT NULL, description TEXT NOT NULL,"
           " action_steps TEXT NOT NULL, triggered_by TEXT NOT NULL, event_id TEXT NOT NULL,"
           " status TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
           "CREATE INDEX guard_recommendations_key ON guard_recommendations (tenant_id, key_id, type);"
           "CREATE TABLE guard_keys ("
           " tenant_id TEXT NOT NULL, key_id TEXT NOT NULL, first_seen INTEGER NOT NULL,"
           " PRIMARY KEY (tenant_id, key_id));"
           "CREATE TABLE guard_debug_packs ("
           " id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, key_id TEXT NOT NULL, title TEXT NOT NULL,"
           " window_start INTEGER NOT NULL, window_end INTEGER NOT NULL, token_hash BLOB NOT NULL UNIQUE,"
           " bundle TEXT NOT NULL, created_by TEXT NOT NULL, created_at INTEGER NOT NULL,"
           " expires_at INTEGER NOT NULL, accesses INTEGER NOT NULL DEFAULT 0);"},
          {"guard", 2, "persisted rollups and daily metrics",
           "CREATE TABLE guard_rollups ("
           " tenant_id TEXT NOT NULL, key_id TEXT NOT NULL, state BLOB NOT NULL,"
           " last_seen INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
           " PRIMARY KEY (tenant_id, key_id));"
           "CREATE INDEX guard_rollups_seen ON guard_rollups (tenant_id, last_seen);"
           "CREATE TABLE guard_metrics_daily ("
           " tenant_id TEXT NOT NULL, key_id TEXT NOT NULL, day_start INTEGER NOT NULL,"
           " requests INTEGER NOT NULL, errors INTEGER NOT NULL, latency_avg REAL NOT NULL,"
           " p50 REAL NOT NULL, p95 REAL NOT NULL, p99 REAL NOT NULL, anomaly_score REAL NOT NULL,"
           " PRIMARY KEY (tenant_id, key_id, day_start));"
           "CREATE INDEX guard_metrics_daily_day ON guard_metrics_daily (day_start);"},
          {"guard", 3, "spans of traced requests",
           "CREATE TABLE guard_spans ("
           " tenant_id TEXT NOT NULL, key_id TEXT NOT NULL, ts INTEGER NOT NULL,"
           " trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_span_id TEXT NOT NULL,"
           " service TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,"
           " status INTEGER NOT NULL, latency_ms REAL NOT NULL);"
           "CREATE INDEX guard_spans_key ON guard_spans (tenant_id, key_id, ts);"
           "CREATE INDEX guard_spans_ts ON guard_spans (ts);"}};
}

Engine::TenantState& Engine::tenant(const std::string& tenant_id) {
  std::lock_guard lock(map_mu_);
  auto& slot = tenants_[tenant_id];
  if (!slot) slot = std::make_unique<TenantState>();
  return *slot;
}

Result<IngestReport> Engine::ingest(const std::string& tenant_id, std::string_view data,
                                    signals::Format format, const std::string& actor,
                                    int64_t first_line) {
  IngestReport report;
  TenantState& t = tenant(tenant_id);
  std::lock_guard lock(t.mu);
  SIRA_CHECK(load(tenant_id, t));
  auto parser = signals::make_parser(format, config_.parse);
  std::vector<std::string> due;
  Status load_error;
  std::vector<std::pair<std::string, int64_t>> new_keys;
  size_t ring = static_cast<size_t>(std::max<int64_t>(0, config_.recent_records));
  if (t.recent.size() != ring && !t.recent_full) t.recent.resize(ring);

  // Records stamped far in the future would drag a key's windows forward and make its real
  // traffic look late: they are rejected like malformed lines.
  const int64_t future_limit = clock_.now_ms() + 5 * 60 * 1000;
  int64_t future = 0;
  signals::parse_lines(
      *parser, data, first_line,
      [&](const signals::RecordView& r) {
        if (r.ts_ms > future_limit) {
          ++future;
          if (report.rejects.size() < 100)
            report.rejects.emplace_back(r.line, "timestamp in the future");
          return;
        }
        auto it = t.keys.find(absl::string_view(r.key_id.data(), r.key_id.size()));
        if (it == t.keys.end()) {
          std::optional<signals::KeyRollup> stored;
          if (may_be_stored(t, r.key_id)) {
            auto got = read_snapshot(tenant_id, r.key_id);
            if (!got) {
              if (load_error) load_error = std::unexpected(got.error());
            } else {
              stored = std::move(*got);
            }
          }
          it = t.keys.try_emplace(std::string(r.key_id)).first;
          if (stored) {
            it->second.rollup = std::move(*stored);
          } else {
            new_keys.emplace_back(it->first, r.ts_ms);
          }
          it->second.last_eval_ts = r.ts_ms;
          it->second.threshold = config_.evaluate_every;
        }
        auto& ks = it->second;
        ks.rollup.add(r);
        if (!r.trace_id.empty() && t.spans.size() < kMaxSpansPerBatch) t.spans.emplace_back(r);
        ks.touched = ++t.sequence;
        ks.dirty = true;
        ++ks.pending;
        ks.last_ts = std::max(ks.last_ts, r.ts_ms);
        // Due after enough new records, or, for a key that was busy, after a minute of event time.
        if (!ks.due && (ks.pending >= ks.threshold ||
                        (ks.last_hour > min_volume_ && ks.pending >= 8 &&
                         r.ts_ms - ks.last_eval_ts >= 60000))) {
          ks.due = true;
          due.push_back(it->first);
        }
        if ((t.sequence & kMemoryCheckMask) == 0) evict_over_budget(tenant_id, t, &load_error);
        if (ring > 0) {
          TenantState::RawLine& slot = t.recent[t.recent_next];
          slot.format = format;
          slot.text.assign(r.raw);
          if (++t.recent_next == ring) {
            t.recent_next = 0;
            t.recent_full = true;
          }
        }
      },
      [&](int64_t line, std::string_view reason) {
        if (report.rejects.size() < 100) report.rejects.emplace_back(line, std::string(reason));
      },
      &report.stats);
  SIRA_CHECK(load_error);
  SIRA_CHECK(store_spans(tenant_id, t));
  if (future > 0) {
    report.stats.records -= future;
    report.stats.rejected += future;
    report.stats.reasons["timestamp in the future"] += future;
  }

  metrics_.counter("sira_guard_records_total", "Request records ingested.", {{"tenant", tenant_id}})
      .inc(static_cast<double>(report.stats.records));
  if (report.stats.rejected > 0)
    metrics_.counter("sira_guard_records_rejected_total", "Request records rejected.",
                     {{"tenant", tenant_id}})
        .inc(static_cast<double>(report.stats.rejected));

  if (!new_keys.empty()) {
    auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
    for (const auto& [key, ts] : new_keys)
      SIRA_CHECK(tx->exec("INSERT INTO guard_keys (tenant_id, key_id, first_seen) VALUES (?, ?, ?) "
                          "ON CONFLICT (tenant_id, key_id) DO NOTHING",
                          {tenant_id, key, ts}));
    SIRA_CHECK(tx->commit());
  }

  for (const auto& key_id : due) {
    auto found = t.keys.find(key_id);
    if (found == t.keys.end()) continue;
    auto& ks = found->second;
    ks.due = false;
    ks.pending = 0;
    ks.last_eval_ts = ks.last_ts;
    // No detector can fire on a key this quiet: skip the sketch merges of a full evaluation.
    int64_t hour = ks.rollup.counts(ks.last_ts, 3600 * 1000).requests;
    ks.last_hour = hour;
    // Busy keys are re-evaluated after ~6 % more traffic rather than every few records.
    ks.threshold = std::max<int64_t>(config_.evaluate_every, hour / 16);
    if (hour <= min_volume_) continue;
    Evaluation eval = detector_.evaluate(ks.rollup, ks.last_ts);
    ks.rollup.note_anomaly_score(ks.last_ts, eval.anomaly_score);
    if (!eval.detections.empty()) SIRA_CHECK(act(tenant_id, t, key_id, eval, ks.last_ts, actor, &report));
  }
  Status evicted;
  evict_over_budget(tenant_id, t, &evicted);
  SIRA_CHECK(evicted);
  return report;
}

// ---------------------------------------------------------------------------------------------
// Rollup snapshots: memory budget, eviction, flush, reload.

namespace {

constexpr size_t kBloomBits = size_t{1} << 23;  // 1 MiB: ~1 % false positives at 800k keys

void bloom_positions(std::string_view key, size_t out[3]) {
  const uint64_t h = signals::hash64(key);
  const uint64_t h2 = (h >> 32) | (h << 32);
  for (size_t i = 0; i < 3; ++i) out[i] = static_cast<size_t>((h + i * h2) % kBloomBits);
}

// Per-entry cost of the key map beyond the rollup itself.
size_t entry_overhead(const std::string& key) {
  return 96 + (key.capacity() > 15 ? key.capacity() + 1 : 0);
}

}  // namespace

Status Engine::store_spans(const std::string& tenant_id, TenantState& t) {
  if (t.spans.empty()) return {};
  std::vector<signals::ApiRecord> spans;
  spans.swap(t.spans);
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  for (const auto& r : spans)
    SIRA_CHECK(tx->exec(
        "INSERT INTO guard_spans (tenant_id, key_id, ts, trace_id, span_id, parent_span_id, "
        "service, method, path, status, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {tenant_id, r.key_id, r.ts_ms, r.trace_id, r.span_id, r.parent_span_id, r.service,
         r.method, r.path, int64_t{r.status}, r.latency_ms}));
  return tx->commit();
}

bool Engine::may_be_stored(const TenantState& t, std::string_view key) const {
  if (t.stored_bloom.empty()) return false;
  size_t pos[3];
  bloom_positions(key, pos);
  for (size_t p : pos)
    if (!(t.stored_bloom[p / 64] >> (p % 64) & 1)) return false;
  return true;
}

void Engine::remember_stored(TenantState& t, std::string_view key) {
  if (t.stored_bloom.empty()) t.stored_bloom.assign(kBloomBits / 64, 0);
  size_t pos[3];
  bloom_positions(key, pos);
  for (size_t p : pos) t.stored_bloom[p / 64] |= uint64_t{1} << (p % 64);
}

Result<std::optional<signals::KeyRollup>> Engine::read_snapshot(const std::string& tenant_id,
                                                                std::string_view key_id) {
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
  auto row = SIRA_TRY(tx->query_one(
      "SELECT state FROM guard_rollups WHERE tenant_id = ? AND key_id = ?",
      {tenant_id, std::string(key_id)}));
  if (!row) return std::optional<signals::KeyRollup>();
  auto rollup = signals::KeyRollup::decode(row->str(0));
  if (!rollup) {
    log_warn("guard: unreadable rollup snapshot ignored",
             {{"tenant", tenant_id}, {"key", std::string(key_id)}});
    return std::optional<signals::KeyRollup>();
  }
  return rollup;
}

Status Engine::load(const std::string& tenant_id, TenantState& t) {
  if (t.loaded) return {};
  t.loaded = true;
  // Most recently seen first, until 3/4 of the budget; the rest stay in the store until their
  // key shows up again.
  const size_t room = config_.memory_budget_bytes / 4 * 3;
  size_t used = 0;
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
  int64_t unreadable = 0;
  SIRA_CHECK(tx->each(
      "SELECT key_id, state FROM guard_rollups WHERE tenant_id = ? ORDER BY last_seen DESC",
      {tenant_id}, [&](const store::Row& row) {
        const std::string& key = row.str(0);
        if (used >= room) {
          remember_stored(t, key);
          return true;
        }
        auto rollup = signals::KeyRollup::decode(row.str(1));
        if (!rollup) {
          ++unreadable;
          return true;
        }
        auto& ks = t.keys[key];
        ks.rollup = std::move(*rollup);
        ks.last_ts = ks.rollup.last_seen_ms();
        ks.last_eval_ts = ks.last_ts;
        ks.threshold = config_.evaluate_every;
        used += ks.rollup.memory_bytes() + entry_overhead(key);
        return true;
      }));
  if (unreadable > 0)
    log_warn("guard: unreadable rollup snapshots ignored",
             {{"tenant", tenant_id}, {"count", std::to_string(unreadable)}});
  t.memory_estimate = used;
  return {};
}

Status Engine::write_snapshots(const std::string& tenant_id, TenantState& t,
                               const std::vector<std::string>& key_ids) {
  if (key_ids.empty()) return {};
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  const int64_t now = clock_.now_ms();
  for (const auto& key : key_ids) {
    auto it = t.keys.find(key);
    if (it == t.keys.end()) continue;
    const signals::KeyRollup& r = it->second.rollup;
    SIRA_CHECK(tx->exec(
        "INSERT INTO guard_rollups (tenant_id, key_id, state, last_seen, updated_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, key_id) DO UPDATE SET "
        "state = excluded.state, last_seen = excluded.last_seen, updated_at = excluded.updated_at",
        {tenant_id, key, store::Blob{r.encode()}, r.last_seen_ms(), now}));
    // Daily points outlive the 30-day ring (signals.metrics_retention_days): the current and the
    // previous day are the only ones still changing.
    for (const auto& p : r.days(r.last_seen_ms() - 2 * 86400 * 1000LL)) {
      SIRA_CHECK(tx->exec(
          "INSERT INTO guard_metrics_daily (tenant_id, key_id, day_start, requests, errors, "
          "latency_avg, p50, p95, p99, anomaly_score) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
          "ON CONFLICT (tenant_id, key_id, day_start) DO UPDATE SET requests = excluded.requests, "
          "errors = excluded.errors, latency_avg = excluded.latency_avg, p50 = excluded.p50, "
          "p95 = excluded.p95, p99 = excluded.p99, anomaly_score = excluded.anomaly_score",
          {tenant_id, key, p.start_ms, p.requests, p.errors, p.latency_avg_ms, p.p50_ms, p.p95_ms,
           p.p99_ms, p.max_anomaly_score}));
    }
  }
  SIRA_CHECK(tx->commit());
  for (const auto& key : key_ids) {
    auto it = t.keys.find(key);
    if (it != t.keys.end()) it->second.dirty = false;
  }
  return {};
}

void Engine::evict_over_budget(const std::string& tenant_id, TenantState& t, Status* error) {
  // Measuring walks every key: only when the last measure, scaled to today's key count, comes
  // near the budget, or once every 4M records (keys also grow without new keys arriving).
  const size_t keys = t.keys.size();
  const size_t estimate = t.keys_at_measure > 0 ? t.memory_estimate / t.keys_at_measure * keys
                                                : keys * 4096;
  if (estimate < config_.memory_budget_bytes / 10 * 9 &&
      t.sequence - t.measured_at_sequence < (uint64_t{1} << 22))
    return;
  size_t total = 0;
  for (const auto& [key, ks] : t.keys) total += ks.rollup.memory_bytes() + entry_overhead(key);
  t.memory_estimate = total;
  t.keys_at_measure = std::max<size_t>(keys, 1);
  t.measured_at_sequence = t.sequence;
  if (total <= config_.memory_budget_bytes) return;
  // Least recently seen first, down to 3/4 of the budget; keys waiting for evaluation stay.
  std::vector<std::pair<uint64_t, const std::string*>> order;
  order.reserve(t.keys.size());
  for (const auto& [key, ks] : t.keys)
    if (!ks.due) order.emplace_back(ks.touched, &key);
  std::sort(order.begin(), order.end());
  const size_t target = config_.memory_budget_bytes / 4 * 3;
  std::vector<std::string> victims, dirty;
  for (const auto& [touched, key] : order) {
    if (total <= target) break;
    const auto& ks = t.keys.find(*key)->second;
    total -= std::min(total, ks.rollup.memory_bytes() + entry_overhead(*key));
    victims.push_back(*key);
    if (ks.dirty) dirty.push_back(*key);
  }
  Status st = write_snapshots(tenant_id, t, dirty);
  if (!st) {
    // Nothing is dropped that is not in the store.
    if (error && *error) *error = st;
    return;
  }
  for (const auto& key : victims) {
    remember_stored(t, key);
    t.keys.erase(key);
  }
  t.evicted += static_cast<int64_t>(victims.size());
  t.memory_estimate = total;
  t.keys_at_measure = std::max<size_t>(t.keys.size(), 1);
  metrics_.counter("sira_guard_rollups_evicted_total",
                   "Key rollups written to the store and dropped from memory (memory budget).",
                   {{"tenant", tenant_id}})
      .inc(static_cast<double>(victims.size()));
}

Status Engine::flush() {
  std::vector<std::pair<std::string, TenantState*>> all;
  {
    std::lock_guard lock(map_mu_);
    for (auto& [id, t] : tenants_) all.emplace_back(id, t.get());
  }
  for (auto& [id, t] : all) {
    std::lock_guard lock(t->mu);
    std::vector<std::string> dirty;
    for (const auto& [key, ks] : t->keys)
      if (ks.dirty) dirty.push_back(key);
    SIRA_CHECK(write_snapshots(id, *t, dirty));
  }
  return {};
}

Result<int64_t> Engine::purge(int64_t now_ms) {
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  const int64_t metrics_cutoff = now_ms - config_.metrics_retention_days * 86400 * 1000LL;
  int64_t n = SIRA_TRY(tx->exec("DELETE FROM guard_metrics_daily WHERE day_start < ?",
                                {metrics_cutoff}));
  n += SIRA_TRY(tx->exec("DELETE FROM guard_rollups WHERE last_seen < ?", {metrics_cutoff}));
  n += SIRA_TRY(tx->exec("DELETE FROM guard_spans WHERE ts < ?",
                         {now_ms - config_.traces_retention_days * 86400 * 1000LL}));
  SIRA_CHECK(tx->commit());
  return n;
}

Status Engine::act(const std::string& tenant_id, TenantState& t, const std::string& key_id,
                   const Evaluation& eval, int64_t now_event_ms, const std::string& actor,
                   IngestReport* report) {
  auto& ks = t.keys[key_id];
  std::vector<const Detection*> fresh;
  for (const auto& d : eval.detections) {
    auto it = ks.last_event.find(d.type);
    if (it != ks.last_event.end() && now_event_ms - it->second < config_.cooldown_seconds * 1000)
      continue;
    fresh.push_back(&d);
  }
  if (fresh.empty()) return {};
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  int64_t now = clock_.now_ms();
  // Strongest detections first, so one key gets one decision per scope in a batch: later,
  // weaker findings point to it instead of stacking decisions the memory index has not seen.
  // The graded action: the seed's per-type action, raised by the anomaly score band; service
  // problems (5xx bursts, slowness) only ever alert; a permanent ban needs a critical finding,
  // not just a high score driven by features that are not abuse on their own.
  auto graded = [&eval](const Detection& d) {
    ActionKind action = std::max(d.suggested_action, action_for_score(eval.anomaly_score));
    if (service_problem(d.type)) action = std::min(action, ActionKind::kAlert);
    if (action == ActionKind::kPermBan && d.severity != Severity::kCritical)
      action = ActionKind::kTempBan;
    return action;
  };
  std::stable_sort(fresh.begin(), fresh.end(), [&graded](const Detection* a, const Detection* b) {
    return graded(*a) > graded(*b);
  });
  std::map<std::string, std::string> decided;  // "scope:value" -> decision id made in this tx
  std::vector<SuspiciousEvent> committed;
  for (const Detection* d : fresh) {
    SuspiciousEvent ev;
    ev.id = new_id("evt", clock_);
    ev.tenant_id = tenant_id;
    ev.key_id = key_id;
    ev.type = std::string(type_name(d->type));
    ev.severity = std::string(severity_name(d->severity));
    ev.confidence = d->confidence;
    ev.anomaly_score = eval.anomaly_score;
    ev.summary = d->summary;
    ev.evidence_json = bj::serialize(d->evidence);
    ev.features_json = bj::serialize(d->features);
    ev.thresholds_json = bj::serialize(d->thresholds);
    ev.window_start_ms = d->window_start_ms;
    ev.window_end_ms = d->window_end_ms;
    ev.recommendations = d->recommendations;
    ev.detected_at = now;
    ev.event_time_ms = now_event_ms;

    ActionKind action = graded(*d);
    std::string scenario = "sira/" + ev.type;
    if (decisions_.allowlisted(tenant_id, key_id, {})) {
      ev.action_taken = "allowlisted";
    } else if (!config_.auto_action) {
      ev.action_taken = "recommended:" + std::string(action_name(action));
    } else {
      ev.action_taken = std::string(action_name(action));
      std::optional<NewDecision> nd;
      if (action == ActionKind::kThrottle) {
        nd = NewDecision{Scope::kKey, key_id, "throttle", config_.throttle_rate_per_minute, "sira",
                         scenario, ev.summary, ev.id, config_.throttle_seconds * 1000};
      } else if (action == ActionKind::kTempBan || action == ActionKind::kPermBan) {
        std::optional<int64_t> duration;
        if (action == ActionKind::kTempBan) {
          int64_t since = now - config_.offence_window_days * 86400 * 1000;
          int64_t offences = decisions_.prior_count(tenant_id, Scope::kKey, key_id, since).value_or(0);
          double secs = ban_expr_.eval({{"base", static_cast<double>(config_.tempban_seconds)},
                                        {"offences", static_cast<double>(offences)}});
          secs = std::clamp(secs, 1.0, static_cast<double>(config_.max_ban_seconds));
          duration = static_cast<int64_t>(secs * 1000);
        }
        nd = NewDecision{Scope::kKey, key_id, "ban", 0, "sira", scenario, ev.summary, ev.id, duration};
        // A ban driven mostly from one address also bans that address for gateways that
        // enforce IPs (CrowdSec bouncers).
        std::string top_ip;
        if (const signals::KeyRollup* key = find_rollup(tenant_id, t, key_id)) {
          auto w = key->window(now_event_ms, 3600 * 1000);
          if (!w.top_ips.empty() && w.requests > 0 && w.top_ips[0].second * 2 >= w.requests)
            top_ip = w.top_ips[0].first;
        }
        if (!top_ip.empty() && !decisions_.allowlisted(tenant_id, {}, top_ip)) {
          NewDecision ipd{Scope::kIp, top_ip, "ban", 0, "sira", scenario, ev.summary, ev.id,
                          duration};
          if (!decided.count("ip:" + top_ip)) {
            auto ipdec = decisions_.add_in(*tx, tenant_id, actor, ipd);
            if (ipdec) {
              ev.decision_ids.push_back(ipdec->id);
              decided["ip:" + top_ip] = ipdec->id;
            }
          }
        }
      }
      if (nd && decided.count("key:" + key_id)) {
        ev.action_taken += " (covered by " + decided["key:" + key_id] + ")";
      } else if (nd) {
        auto dec = decisions_.add_in(*tx, tenant_id, actor, *nd);
        if (dec) {
          ev.decision_ids.push_back(dec->id);
          decided["key:" + key_id] = dec->id;
        } else if (dec.error().code != ErrorCode::kConflict) {
          return std::unexpected(dec.error());
        } else {
          ev.action_taken += " (kept stronger existing decision)";
        }
      }
      ++report->actions;
    }
    SIRA_CHECK(tx->exec(std::string("INSERT INTO guard_events (") + kEventCols +
                            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        {ev.id, tenant_id, key_id, ev.type, ev.severity, ev.confidence,
                         ev.anomaly_score, ev.summary, ev.evidence_json, ev.features_json,
                         ev.thresholds_json, ev.window_start_ms, ev.window_end_ms, ev.action_taken,
                         bj::serialize(json::string_array(ev.decision_ids)),
                         bj::serialize(json::string_array(ev.recommendations)), now, now_event_ms}));
    for (const auto& rec : recommendations_for(*d)) {
      auto existing = SIRA_TRY(tx->query_one(
          "SELECT id FROM guard_recommendations WHERE tenant_id = ? AND key_id = ? AND type = ? "
          "AND status = 'open'",
          {tenant_id, key_id, rec.type}));
      if (existing) {
        SIRA_CHECK(tx->exec("UPDATE guard_recommendations SET description = ?, event_id = ?, "
                            "updated_at = ? WHERE id = ?",
                            {rec.description, ev.id, now, existing->str(0)}));
      } else {
        SIRA_CHECK(tx->exec(std::string("INSERT INTO guard_recommendations (") + kRecCols +
                                ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)",
                            {new_id("rec", clock_), tenant_id, key_id, rec.type, rec.priority,
                             rec.title, rec.description,
                             bj::serialize(json::string_array(rec.action_steps)), rec.triggered_by, ev.id,
                             now, now}));
      }
    }
    bj::object details{{"key_id", key_id},
                       {"type", ev.type},
                       {"severity", ev.severity},
                       {"confidence", ev.confidence},
                       {"anomaly_score", ev.anomaly_score},
                       {"action_taken", ev.action_taken},
                       {"decision_ids", json::string_array(ev.decision_ids)},
                       {"summary", ev.summary}};
    SIRA_CHECK(audit_.append(*tx, tenant_id,
                             {"sira-guard", "guard.detection", "suspicious_event", ev.id,
                              bj::serialize(details)}));
    ks.last_event[d->type] = now_event_ms;
    committed.push_back(ev);
    ++report->detections;
    metrics_.counter("sira_guard_detections_total", "Suspicious events detected.",
                     {{"tenant", tenant_id}, {"type", ev.type}})
        .inc();
  }
  SIRA_CHECK(tx->commit());
  for (const auto& ev : committed)
    for (DetectionSink* sink : sinks_) sink->on_detection(ev);
  return {};
}

Result<std::vector<signals::PeriodPoint>> Engine::metrics(const std::string& tenant_id,
                                                          const std::string& key_id,
                                                          const std::string& period,
                                                          const std::string& step) {
  static const std::map<std::string, int64_t> kPeriods = {
      {"1h", 3600 * 1000LL}, {"24h", 86400 * 1000LL}, {"7d", 7 * 86400 * 1000LL},
      {"30d", 30 * 86400 * 1000LL}, {"90d", 90 * 86400 * 1000LL}};
  auto pit = kPeriods.find(period);
  if (pit == kPeriods.end())
    return fail(ErrorCode::kInvalidArgument, "period must be 1h, 24h, 7d, 30d or 90d", "period");
  std::string grain = step;
  if (grain.empty()) grain = period == "1h" ? "1m" : (period == "24h" || period == "7d") ? "1h" : "1d";
  if (grain != "1m" && grain != "1h" && grain != "1d")
    return fail(ErrorCode::kInvalidArgument, "step must be 1m, 1h or 1d", "step");
  if ((grain == "1m" && period != "1h") || (grain == "1h" && pit->second > 7 * 86400 * 1000LL))
    return fail(ErrorCode::kInvalidArgument,
                "step " + grain + " is finer than what is kept for period " + period +
                    " (minutes: 1h, hours: 7d)",
                "step");
  TenantState& t = tenant(tenant_id);
  std::lock_guard lock(t.mu);
  SIRA_CHECK(load(tenant_id, t));
  const signals::KeyRollup* key = find_rollup(tenant_id, t, key_id);
  if (!key) return fail(ErrorCode::kNotFound, "no traffic seen for key " + key_id);
  const int64_t now = key->last_seen_ms();
  const int64_t since = now - pit->second;
  if (grain == "1m") return key->minutes(since);
  if (grain == "1h") return key->hours(since);
  if (period != "90d") return key->days(since);
  // 90d: stored daily points, then the days still in memory (which are newer or fresher).
  std::vector<signals::PeriodPoint> mem = key->days(now - 30 * 24 * 3600 * 1000LL);
  const int64_t mem_start = mem.empty() ? INT64_MAX : mem.front().start_ms;
  std::vector<signals::PeriodPoint> out;
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
  auto rows = SIRA_TRY(tx->query(
      "SELECT day_start, requests, errors, latency_avg, p50, p95, p99, anomaly_score "
      "FROM guard_metrics_daily WHERE tenant_id = ? AND key_id = ? AND day_start >= ? "
      "AND day_start < ? ORDER BY day_start",
      {tenant_id, key_id,
       std::max<int64_t>(since, now - config_.metrics_retention_days * 86400 * 1000LL),
       mem_start}));
  for (const auto& r : rows) {
    signals::PeriodPoint p;
    p.start_ms = r.i64(0);
    p.requests = r.i64(1);
    p.errors = r.i64(2);
    p.latency_avg_ms = r.f64(3);
    p.p50_ms = r.f64(4);
    p.p95_ms = r.f64(5);
    p.p99_ms = r.f64(6);
    p.max_anomaly_score = r.f64(7);
    out.push_back(p);
  }
  out.insert(out.end(), mem.begin(), mem.end());
  return out;
}

Result<std::optional<signals::WindowSummary>> Engine::summary(const std::string& tenant_id,
                                                              const std::string& key_id) {
  TenantState& t = tenant(tenant_id);
  std::lock_guard lock(t.mu);
  SIRA_CHECK(load(tenant_id, t));
  const signals::KeyRollup* key = find_rollup(tenant_id, t, key_id);
  if (!key) return std::optional<signals::WindowSummary>();
  return std::optional<signals::WindowSummary>(key->window(key->last_seen_ms(), 3600 * 1000));
}

Result<std::vector<SuspiciousEvent>> Engine::events(const std::string& tenant_id,
                                                    const std::optional<std::string>& key_id,
                                                    int limit,
                                                    const std::optional<std::string>& before_id) {
  std::string sql = std::string("SELECT ") + kEventCols + " FROM guard_events WHERE tenant_id = ?";
  store::Params p{tenant_id};
  if (key_id) {
    sql += " AND key_id = ?";
    p.push_back(*key_id);
  }
  if (before_id) {
    sql += " AND id < ?";
    p.push_back(*before_id);
  }
  sql += " ORDER BY id DESC LIMIT ?";
  p.push_back(int64_t{limit});
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
  auto rows = SIRA_TRY(tx->query(sql, p));
  std::vector<SuspiciousEvent> out;
  for (const auto& r : rows) out.push_back(event_from(r));
  return out;
}

Result<std::vector<StoredRecommendation>> Engine::recommendations(
    const std::string& tenant_id, const std::string& key_id,
    const std::optional<std::string>& status) {
  int64_t now = clock_.now_ms();
  {
    // Age check: a key seen for longer than the rotation period should be rotated.
    auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
    auto first = SIRA_TRY(tx->query_one(
        "SELECT first_seen FROM guard_keys WHERE tenant_id = ? AND key_id = ?", {tenant_id, key_id}));
    if (first) {
      int64_t age_days = (now - first->i64(0)) / (86400 * 1000);
      if (auto rec = rotate_key_recommendation(age_days, config_.key_rotation_days)) {
        auto existing = SIRA_TRY(tx->query_one(
            "SELECT id FROM guard_recommendations WHERE tenant_id = ? AND key_id = ? AND type = ? "
            "AND (status = 'open' OR updated_at > ?)",
            {tenant_id, key_id, rec->type, now - config_.key_rotation_days * 86400 * 1000}));
        if (!existing) {
          SIRA_CHECK(tx->exec(std::string("INSERT INTO guard_recommendations (") + kRecCols +
                                  ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', 'open', ?, ?)",
                              {new_id("rec", clock_), tenant_id, key_id, rec->type, rec->priority,
                               rec->title, rec->description,
                               bj::serialize(json::string_array(rec->action_steps)), rec->triggered_by,
                               now, now}));
          SIRA_CHECK(tx->commit());
        }
      }
    }
  }
  std::string sql = std::string("SELECT ") + kRecCols +
                    " FROM guard_recommendations WHERE tenant_id = ? AND key_id = ?";
  store::Params p{tenant_id, key_id};
  if (status) {
    sql += " AND status = ?";
    p.push_back(*status);
  }
  sql += " ORDER BY CASE priority WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, id";
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
  auto rows = SIRA_TRY(tx->query(sql, p));
  std::vector<StoredRecommendation> out;
  for (const auto& r : rows) out.push_back(rec_from(r));
  return out;
}

Result<StoredRecommendation> Engine::set_recommendation_status(const std::string& tenant_id,
                                                               const std::string& actor,
                                                               const std::string& id,
                                                               const std::string& status) {
  if (status != "open" && status != "accepted" && status != "dismissed")
    return fail(ErrorCode::kInvalidArgument, "status must be open, accepted or dismissed", "status");
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  auto row = SIRA_TRY(tx->query_one(std::string("SELECT ") + kRecCols +
                                        " FROM guard_recommendations WHERE tenant_id = ? AND id = ?",
                                    {tenant_id, id}));
  if (!row) return fail(ErrorCode::kNotFound, "no recommendation " + id);
  StoredRecommendation rec = rec_from(*row);
  int64_t now = clock_.now_ms();
  SIRA_CHECK(tx->exec("UPDATE guard_recommendations SET status = ?, updated_at = ? WHERE id = ?",
                      {status, now, id}));
  SIRA_CHECK(audit_.append(*tx, tenant_id,
                           {actor, "recommendation." + status, "recommendation", id,
                            bj::serialize(bj::object{{"key_id", rec.key_id},
                                                     {"type", rec.type},
                                                     {"previous_status", rec.status}})}));
  SIRA_CHECK(tx->commit());
  rec.status = status;
  rec.updated_at = now;
  return rec;
}

Result<CreatedDebugPack> Engine::create_debug_pack(const std::string& tenant_id,
                                                   const std::string& actor,
                                                   const DebugPackRequest& req) {
  if (req.key_id.empty() || req.key_id.size() > signals::kMaxKeyId)
    return fail(ErrorCode::kInvalidArgument, "keyId is required", "keyId");
  if (req.end_ms <= req.start_ms)
    return fail(ErrorCode::kInvalidArgument, "endTime must be after startTime", "endTime");
  if (req.end_ms - req.start_ms > 7LL * 86400 * 1000)
    return fail(ErrorCode::kInvalidArgument, "a debug pack covers at most 7 days", "endTime");
  int64_t now = clock_.now_ms();
  CreatedDebugPack out;
  out.pack_id = new_id("dbg", clock_);
  out.access_token = "debug_" + base64url_encode(random_bytes(24));
  out.expires_at = now + config_.debug_pack_ttl_seconds * 1000;
  out.share_url = config_.public_url + "/debug/" + out.access_token;

  bj::object bundle{{"packId", out.pack_id},
                    {"title", req.title},
                    {"keyId", req.key_id},
                    {"startTime", format_rfc3339_ms(req.start_ms)},
                    {"endTime", format_rfc3339_ms(req.end_ms)},
                    {"generatedAt", format_rfc3339_ms(now)},
                    {"anonymised", true}};
  bj::array logs, traces, metrics;
  {
    TenantState& t = tenant(tenant_id);
    std::lock_guard lock(t.mu);
    size_t n = t.recent_full ? t.recent.size() : t.recent_next;
    size_t start = t.recent_full ? t.recent_next : 0;
    std::unique_ptr<signals::LineParser> parsers[3] = {
        signals::make_parser(signals::Format::kNdjson, config_.parse),
        signals::make_parser(signals::Format::kNginx, config_.parse),
        signals::make_parser(signals::Format::kEnvoy, config_.parse)};
    std::string reason;
    for (size_t i = 0; i < n; ++i) {
      const TenantState::RawLine& raw = t.recent[(start + i) % t.recent.size()];
      // A cheap filter before parsing: the key must appear in the line.
      if (raw.text.find(req.key_id) == std::string::npos) continue;
      signals::RecordView view;
      auto& parser = *parsers[static_cast<int>(raw.format)];
      if (!parser.parse(raw.text, &view, &reason)) continue;
      signals::ApiRecord r(view);
      if (r.key_id != req.key_id || r.ts_ms < req.start_ms || r.ts_ms >= req.end_ms) continue;
      if (req.include_logs)
        logs.push_back(bj::object{{"ts", format_rfc3339_ms(r.ts_ms)},
                                  {"ip", truncate_ip(r.ip)},
                                  {"method", r.method},
                                  {"path", mask_secrets(r.path)},
                                  {"query", mask_query(r.query)},
                                  {"status", r.status},
                                  {"latencyMs", r.latency_ms},
                                  {"bytes", r.bytes},
                                  {"userAgent", mask_secrets(r.user_agent)}});
    }
    if (req.include_traces) {
      // Spans are kept in the store for signals.traces_retention_days.
      auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
      SIRA_CHECK(tx->each(
          "SELECT trace_id, span_id, parent_span_id, service, ts, latency_ms, method, path, status "
          "FROM guard_spans WHERE tenant_id = ? AND key_id = ? AND ts >= ? AND ts < ? "
          "ORDER BY ts LIMIT 10000",
          {tenant_id, req.key_id, req.start_ms, req.end_ms}, [&](const store::Row& row) {
            bj::object span{{"traceId", row.str(0)},
                            {"spanId", row.str(1)},
                            {"startTime", format_rfc3339_ms(row.i64(4))},
                            {"durationMs", row.f64(5)},
                            {"name", row.str(6) + " " + mask_secrets(row.str(7))},
                            {"status", row.i64(8) >= 500 ? "error" : "ok"},
                            {"httpStatus", row.i64(8)}};
            if (!row.str(2).empty()) span["parentSpanId"] = row.str(2);
            if (!row.str(3).empty()) span["service"] = row.str(3);
            traces.push_back(std::move(span));
            return true;
          }));
    }
    if (req.include_metrics)
      if (const signals::KeyRollup* key = find_rollup(tenant_id, t, req.key_id)) {
        auto points = req.end_ms - req.start_ms <= 3600 * 1000 ? key->minutes(req.start_ms)
                                                                : key->hours(req.start_ms);
        for (const auto& p : points) {
          if (p.start_ms >= req.end_ms) continue;
          metrics.push_back(bj::object{{"start", format_rfc3339_ms(p.start_ms)},
                                       {"requests", p.requests},
                                       {"errors", p.errors},
                                       {"avgLatency", p.latency_avg_ms},
                                       {"p50Latency", p.p50_ms},
                                       {"p95Latency", p.p95_ms},
                                       {"p99Latency", p.p99_ms},
                                       {"anomalyScore", p.max_anomaly_score}});
        }
      }
  }
  if (req.include_logs) bundle["logs"] = std::move(logs);
  if (req.include_traces) bundle["traces"] = std::move(traces);
  if (req.include_metrics) bundle["metrics"] = std::move(metrics);
  bj::array events;
  for (const auto& e : SIRA_TRY(this->events(tenant_id, req.key_id, 200, std::nullopt))) {
    if (e.event_time_ms < req.start_ms || e.event_time_ms >= req.end_ms) continue;
    bj::value evidence = bj::object();
    if (auto v = json::parse(e.evidence_json)) evidence = std::move(*v);
    events.push_back(bj::object{{"id", e.id},
                                {"eventType", e.type},
                                {"severity", e.severity},
                                {"detectedAt", format_rfc3339_ms(e.event_time_ms)},
                                {"summary", e.summary},
                                {"actionTaken", e.action_taken}});
  }
  bundle["suspiciousEvents"] = std::move(events);

  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  SIRA_CHECK(tx->exec("INSERT INTO guard_debug_packs (id, tenant_id, key_id, title, window_start, "
                      "window_end, token_hash, bundle, created_by, created_at, expires_at) VALUES "
                      "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      {out.pack_id, tenant_id, req.key_id, req.title, req.start_ms, req.end_ms,
                       store::Blob{sha256_bytes(out.access_token)}, bj::serialize(bundle), actor,
                       now, out.expires_at}));
  SIRA_CHECK(audit_.append(*tx, tenant_id,
                           {actor, "debug_pack.create", "debug_pack", out.pack_id,
                            bj::serialize(bj::object{{"key_id", req.key_id},
                                                     {"title", req.title},
                                                     {"start", req.start_ms},
                                                     {"end", req.end_ms},
                                                     {"expires_at", out.expires_at}})}));
  SIRA_CHECK(tx->commit());
  return out;
}

Result<std::string> Engine::open_debug_pack(std::string_view access_token,
                                            const std::string& remote) {
  if (access_token.size() < 10 || access_token.size() > 100)
    return fail(ErrorCode::kNotFound, "no debug pack for this link");
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  auto row = SIRA_TRY(tx->query_one(
      "SELECT id, tenant_id, bundle, expires_at FROM guard_debug_packs WHERE token_hash = ?",
      {store::Blob{sha256_bytes(access_token)}}));
  if (!row) return fail(ErrorCode::kNotFound, "no debug pack for this link");
  int64_t now = clock_.now_ms();
  bool expired = row->i64(3) <= now;
  // Every access, granted or refused as expired, is on the record.
  SIRA_CHECK(audit_.append(*tx, row->str(1),
                           {"debug-link", expired ? "debug_pack.access_expired" : "debug_pack.access",
                            "debug_pack", row->str(0),
                            bj::serialize(bj::object{{"remote", truncate_ip(remote)}})}));
  if (!expired)
    SIRA_CHECK(tx->exec("UPDATE guard_debug_packs SET accesses = accesses + 1 WHERE id = ?",
                        {row->str(0)}));
  SIRA_CHECK(tx->commit());
  if (expired)
    return fail(ErrorCode::kGone, "this debug pack expired at " + format_rfc3339_ms(row->i64(3)));
  return row->str(2);
}

namespace {

KeyHealth health_of(const std::string& key_id, const signals::KeyRollup& r) {
  KeyHealth h;
  h.key_id = key_id;
  h.last_activity_ms = r.last_seen_ms();
  int64_t errors = 0;
  for (const auto& p : r.hours(r.last_seen_ms() - 24 * 3600 * 1000LL)) {
    ++h.periods;
    h.requests += p.requests;
    errors += p.errors;
    h.p95_ms = std::max(h.p95_ms, p.p95_ms);
    h.max_anomaly_score = std::max(h.max_anomaly_score, p.max_anomaly_score);
    if (p.max_anomaly_score >= 0.3) ++h.suspicious_periods;
  }
  h.avg_requests_per_period = h.periods > 0 ? static_cast<double>(h.requests) / h.periods : 0;
  h.error_rate_pct = h.requests > 0 ? 100.0 * static_cast<double>(errors) / h.requests : 0;
  h.status = h.max_anomaly_score >= 0.5 ? "suspicious"
             : (h.max_anomaly_score >= 0.3 || h.error_rate_pct >= 20) ? "degraded"
                                                                       : "healthy";
  return h;
}

}  // namespace

Result<KeyHealth> Engine::key_health(const std::string& tenant_id, const std::string& key_id) {
  TenantState& t = tenant(tenant_id);
  std::lock_guard lock(t.mu);
  SIRA_CHECK(load(tenant_id, t));
  const signals::KeyRollup* key = find_rollup(tenant_id, t, key_id);
  if (!key) return fail(ErrorCode::kNotFound, "no traffic seen for key " + key_id);
  return health_of(key_id, *key);
}

Result<std::vector<KeyHealth>> Engine::keys_health(const std::string& tenant_id, int limit) {
  TenantState& t = tenant(tenant_id);
  std::lock_guard lock(t.mu);
  SIRA_CHECK(load(tenant_id, t));
  std::vector<KeyHealth> all;
  all.reserve(t.keys.size());
  for (const auto& [key, ks] : t.keys) all.push_back(health_of(key, ks.rollup));
  auto order = [](const KeyHealth& a, const KeyHealth& b) {
    if (a.max_anomaly_score != b.max_anomaly_score) return a.max_anomaly_score > b.max_anomaly_score;
    if (a.requests != b.requests) return a.requests > b.requests;
    return a.key_id < b.key_id;
  };
  const size_t n = std::min(all.size(), static_cast<size_t>(std::max(limit, 0)));
  std::partial_sort(all.begin(), all.begin() + static_cast<ptrdiff_t>(n), all.end(), order);
  all.resize(n);
  return all;
}

Result<std::vector<SuspiciousEvent>> Engine::active_events(const std::string& tenant_id,
                                                           int limit) {
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
  auto rows = SIRA_TRY(tx->query(
      std::string("SELECT ") + kEventCols +
          " FROM guard_events WHERE tenant_id = ? AND detected_at >= ? ORDER BY CASE severity "
          "WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END, "
          "detected_at DESC, id DESC LIMIT ?",
      {tenant_id, clock_.now_ms() - 24 * 3600 * 1000LL, int64_t{limit}}));
  std::vector<SuspiciousEvent> out;
  for (const auto& r : rows) out.push_back(event_from(r));
  return out;
}

const signals::KeyRollup* Engine::find_rollup(const std::string& tenant_id, TenantState& t,
                                              std::string_view key_id) {
  auto it = t.keys.find(absl::string_view(key_id.data(), key_id.size()));
  if (it != t.keys.end()) return &it->second.rollup;
  if (!may_be_stored(t, key_id)) return nullptr;
  auto stored = read_snapshot(tenant_id, key_id);
  if (!stored || !*stored) return nullptr;
  auto& ks = t.keys[std::string(key_id)];
  ks.rollup = std::move(**stored);
  ks.last_ts = ks.last_eval_ts = ks.rollup.last_seen_ms();
  ks.threshold = config_.evaluate_every;
  ks.touched = ++t.sequence;
  return &ks.rollup;
}

size_t Engine::tracked_keys() const {
  std::lock_guard lock(map_mu_);
  size_t n = 0;
  for (const auto& [id, t] : tenants_) {
    std::lock_guard tl(t->mu);
    n += t->keys.size();
  }
  return n;
}

size_t Engine::memory_bytes() const {
  std::lock_guard lock(map_mu_);
  size_t n = 0;
  for (const auto& [id, t] : tenants_) {
    std::lock_guard tl(t->mu);
    size_t total = 0;
    for (const auto& [key, ks] : t->keys) total += ks.rollup.memory_bytes() + entry_overhead(key);
    n += total;
  }
  return n;
}

}  // namespace sira::guard
