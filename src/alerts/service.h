// Alerts of every tenant as Alertmanager keeps them: intake with Alertmanager's merge rules,
// silences with its update/expire rules, and each alert's status (silenced, inhibited, receivers)
// computed from the routing tree. Everything is persisted and read back at start, so a restart
// (even kill -9) loses nothing that was acknowledged:
// - silences are written in the same transaction as they are acknowledged;
// - alerts go to a journal by group commit: every POST merges its alerts in memory and appends
//   their merged state to the pending journal batch, and one writer thread commits the batch of
//   every POST that arrived meanwhile in one transaction (one fsync), then tells each POST that
//   its alerts are durable (when_durable): only then is it answered. A checkpoint folds the
//   alerts changed since the last one into the alerts table and drops the journal rows it covers,
//   so the journal stays short and start-up replays only its tail.
//
// Thread-safe: one mutex guards the in-memory state; the journal has its own, always taken after
// the state's, never before.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "alerts/config.h"
#include "alerts/inhibit.h"
#include "alerts/matchers.h"
#include "alerts/model.h"
#include "alerts/silence.h"
#include "audit/log.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/metrics.h"
#include "store/database.h"
#include "store/migrations.h"

namespace sira::alerts {

// What GET /api/v2/alerts reports for one alert.
struct AlertStatus {
  std::string state;  // active | suppressed | unprocessed
  std::vector<std::string> silenced_by, inhibited_by, receivers;
};

struct AlertView {
  Alert alert;
  AlertStatus status;
};

struct AlertGroupView {
  LabelSet labels;
  std::string receiver;
  std::string group_key;
  std::vector<AlertView> alerts;
};

// Alertmanager's alert filters (all default to true).
struct AlertFilter {
  bool active = true, silenced = true, inhibited = true, unprocessed = true;
  std::vector<Matcher> matchers;
  std::optional<Matcher> receiver;  // a regex over receiver names, as a Matcher on "receiver"
};

struct PostReport {
  int64_t accepted = 0;
  std::vector<std::string> errors;  // "alert N: reason" for each alert refused
  // The journal batch holding the accepted alerts: answer the sender once when_durable(batch)
  // reports it committed. 0 when nothing was accepted (or it is already durable).
  uint64_t batch = 0;
};

class AlertService {
 public:
  AlertService(store::Database& db, audit::AuditLog& audit, const Clock& clock,
               MetricsRegistry& metrics, AlertingConfig config, std::string config_text);
  static std::vector<store::Migration> migrations();
  // Reads alerts and silences back from the store: the alerts table, then the journal's tail.
  Status load();

  // Starts the journal writer thread (sira serve). Without it, put_alerts commits its own batch
  // before returning (tests, one-shot commands). stop_writer commits what is pending, writes a
  // checkpoint and joins; the destructor calls it.
  void start_writer();
  void stop_writer();
  ~AlertService();
  // Calls fn once the journal batch is committed (OK) or failed to commit (the error): at once
  // when that is already known, else on the writer thread. fn must not block.
  void when_durable(uint64_t batch, std::function<void(Status)> fn);
  // Folds the alerts changed since the last checkpoint into the alerts table and deletes the
  // journal rows that holds. The writer runs it every 10 s (sooner past 32 MiB of journal).
  Status checkpoint();

  // POST /api/v2/alerts: missing startsAt = now (or endsAt when only that is set), missing
  // endsAt = now + resolve_timeout; an alert already known with an overlapping time range is
  // merged with it as Alertmanager does. Invalid alerts are refused one by one (report.errors),
  // the valid ones of the batch are kept.
  Result<PostReport> put_alerts(const std::string& tenant_id, std::vector<Alert> alerts);
  // Firing alerts (resolved ones are not listed), with their status, by fingerprint.
  Result<std::vector<AlertView>> alerts(const std::string& tenant_id, const AlertFilter& filter);
  // Same alerts as alerts(), without copies: fn sees each one under the service's lock (for
  // writing a large listing straight to text). fn must not call back into the service.
  Status each_alert(const std::string& tenant_id, const AlertFilter& filter,
                    const std::function<void(const Alert&, const AlertStatus&)>& fn);
  Result<std::vector<AlertGroupView>> groups(const std::string& tenant_id,
                                             const AlertFilter& filter);

  // POST /api/v2/silences. An empty id creates; a known id updates in place when Alertmanager
  // would (same matchers, allowed time changes), otherwise expires it and creates a new one.
  // Returns the id now in effect. kNotFound for an unknown id.
  Result<std::string> put_silence(const std::string& tenant_id, Silence silence,
                                  const std::string& actor);
  Result<std::vector<Silence>> silences(const std::string& tenant_id,
                                        const std::vector<Matcher>& filter);
  Result<Silence> silence(const std::string& tenant_id, const std::string& id);
  // DELETE /api/v2/silence/{id}: an active silence ends now, a pending one never starts.
  Status expire_silence(const std::string& tenant_id, const std::string& id,
                        const std::string& actor);

  // Every alert of every tenant as the dispatcher needs it: resolved ones included, firing ones
  // with their silences and inhibitions, each with the routes it matches (into config().route).
  struct Snapshot {
    std::string tenant_id;
    AlertView view;
  };
  std::vector<Snapshot> snapshot();
  // Calls fn for each alert received (or loaded at start) since the previous call, each once,
  // under the service's lock, without copies: the dispatcher regroups only these. fn must be
  // quick and must not call back into the service.
  void visit_changes(
      const std::function<void(const std::string& tenant_id, const Alert& alert)>& fn);
  // (tenant, fingerprint) keys ordered by fingerprint first: tenant ids (long, alike) are
  // compared only between equal fingerprints.
  struct FingerprintFirst {
    bool operator()(const std::pair<std::string, uint64_t>& a,
                    const std::pair<std::string, uint64_t>& b) const {
      return a.second != b.second ? a.second < b.second : a.first < b.first;
    }
  };
  using Views = std::map<std::pair<std::string, uint64_t>, AlertView, FingerprintFirst>;
  // Current views of the given alerts (missing ones are skipped), silences and inhibitions
  // applied; receivers are not computed. For flushing the groups that are due.
  Views views_for(const std::vector<std::pair<std::string, uint64_t>>& keys);
  // Forgets alerts resolved before `resolved_before_ms` (memory and store); returns how many.
  Result<int64_t> gc(int64_t resolved_before_ms);

  // Called after a silence was created (true) or expired (false) and committed, outside the
  // service's lock. One listener; set before serving.
  using SilenceListener =
      std::function<void(const std::string& tenant_id, const Silence& silence, bool created)>;
  void set_silence_listener(SilenceListener fn) { silence_listener_ = std::move(fn); }

  const AlertingConfig& config() const { return config_; }
  const std::string& config_text() const { return config_text_; }
  std::vector<std::string> receiver_names() const;
  int64_t started_at_ms() const { return started_at_; }

 private:
  struct StoredAlert {
    Alert alert;
    bool timeout = false;  // endsAt was set by resolve_timeout, not by the sender
    bool dirty = false;    // listed in TenantState::dirty, not yet checkpointed
    bool changed = false;  // listed in TenantState::changed, not yet seen by the dispatcher
  };
  struct TenantState {
    std::unordered_map<uint64_t, StoredAlert> alerts;
    std::map<std::string, Silence> silences;
    // Fingerprints changed since the last checkpoint / since the dispatcher last looked. A
    // fingerprint is listed once while its flag is set; one forgotten since (gc) may linger.
    std::vector<uint64_t> dirty;
    std::vector<uint64_t> changed;
  };
  TenantState& tenant(const std::string& tenant_id);
  static void mark(TenantState& t, uint64_t fp, StoredAlert& s, bool dirty);
  // The tenant's firing alerts, by fingerprint.
  static std::vector<const Alert*> firing_of(const TenantState& t, int64_t now);
  AlertStatus status_of(const TenantState& t, const Alert& a, int64_t now,
                        const std::vector<const Alert*>& firing) const;
  std::vector<AlertView> views(const TenantState& t, const AlertFilter& filter, int64_t now) const;
  void visit_views(const TenantState& t, const AlertFilter& filter, int64_t now,
                   const std::function<void(const Alert&, const AlertStatus&)>& fn) const;
  Status write_silence(store::Transaction& tx, const std::string& tenant_id, const Silence& s);
  Result<std::string> put_silence_locked(const std::string& tenant_id, Silence silence,
                                         const std::string& actor, std::optional<Silence>* expired,
                                         std::optional<Silence>* created);
  Status expire_silence_locked(const std::string& tenant_id, const std::string& id,
                               const std::string& actor, std::optional<Silence>* expired);

  store::Database& db_;
  audit::AuditLog& audit_;
  const Clock& clock_;
  MetricsRegistry& metrics_;
  AlertingConfig config_;
  std::string config_text_;
  Inhibitor inhibitor_;
  Counter& received_firing_;
  Counter& received_resolved_;
  Counter& invalid_;
  int64_t started_at_ = 0;
  SilenceListener silence_listener_;
  mutable std::mutex mu_;
  std::map<std::string, TenantState> tenants_;

  // put_alerts without waiting for the journal: merge, then append to the pending batch.
  Result<PostReport> merge_alerts(const std::string& tenant_id, std::vector<Alert> alerts);
  // The journal (guarded by jmu_; taken after mu_ when both are needed).
  Status commit_pending();
  Status commit_through(uint64_t batch);
  void writer_loop(std::stop_token stop);
  std::mutex commit_mu_;       // one commit or checkpoint at a time
  uint64_t checkpointed_ = 0;  // journal batches up to this one are in the table (commit_mu_)
  std::mutex jmu_;
  std::condition_variable_any jcv_;
  std::string pending_;  // encoded records of the batch being filled
  int64_t pending_records_ = 0;
  uint64_t pending_batch_ = 1;        // the batch being filled
  uint64_t durable_batch_ = 0;        // every batch up to this one is committed (or failed)
  std::map<uint64_t, Error> failed_;  // recent batches that failed to commit
  std::multimap<uint64_t, std::function<void(Status)>> waiters_;
  std::atomic<bool> writer_running_{false};
  std::jthread writer_;
};

// A new random (version 4) UUID, as Alertmanager names silences.
std::string new_uuid();

}  // namespace sira::alerts
