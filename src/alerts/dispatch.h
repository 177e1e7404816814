// Notification pipeline after the AlertService: aggregation groups per route and group key,
// Alertmanager's flush timing (group_wait, group_interval, repeat_interval) and its decision to
// notify (firing set or resolved set changed, or repeat_interval passed; nothing for alerts that
// fired and resolved before anyone was told), then a durable queue of notifications delivered with
// retries, exponential backoff and jitter, and a dead-letter list that can be replayed.
//
// Durability: the decision to notify, the notification log entry and the queued notification are
// written in one transaction, so a restart (even kill -9) neither forgets a queued notification
// nor decides to send the same one twice. Delivery is at-least-once: a crash between the
// receiver's 2xx and the row being marked sent re-sends it.
//
// Templates: every templated receiver field (Slack, PagerDuty, e-mail, webhook body_template) is
// rendered with the configuration's TemplateSet when the notification is queued. A template
// that fails to execute makes that notification dead at once, with the error as last_error
// (visible in notifications()); it is not retried, as the same data would fail the same way.
//
// PagerDuty acknowledge: when a group whose firing alerts a PagerDuty integration was told
// about becomes entirely muted (every firing alert silenced or inhibited, or the route in a
// mute time interval / outside its active intervals) while still firing, that integration gets
// one `acknowledge` event (same dedup_key); the notification log remembers it, across
// restarts. Once unmuted and still firing, the trigger is sent again; when the group resolves,
// the resolve. Other integrations follow Alertmanager's MuteStage (nothing is sent).
//
// Thread-safe: flush() and deliver() may run on different threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "alerts/service.h"

namespace sira::alerts {

// An e-mail as the email notifier hands it over. `text` is always set (the configured text
// template, or sira's plain-text rendering); `html` is the rendered html template (empty when
// none is configured): a transport that can send multipart/alternative sends both.
// `headers` are the rendered extra headers of the email config (Subject is in `subject`).
struct Email {
  std::string smarthost, hello, from, subject, text, html;
  std::vector<std::string> to;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string username, password;
  bool require_tls = true;
};

// How a notifier talks to the outside (HTTP and SMTP clients live in src/http; the app injects
// them).
class Transport {
 public:
  virtual ~Transport() = default;
  virtual Status mail(const Email& email, int64_t timeout_ms) = 0;
  // Returns the HTTP status, or an error when nothing came back (connect, TLS, timeout).
  virtual Result<int> post(const std::string& url, const std::string& content_type,
                           const std::string& body,
                           const std::vector<std::pair<std::string, std::string>>& headers,
                           int64_t timeout_ms) = 0;
};

// The hand-off to incidents: a group started firing, changed what fires, or resolved entirely.
// Emitted by flush() after the group's notifications were queued, in the flushing thread;
// consumers must be quick and idempotent per group_key (after a restart a group's current state
// is emitted again).
struct AlertGroupEvent {
  std::string tenant_id, receiver, group_key;
  std::string status;  // firing | resolved
  LabelSet group_labels, common_labels;
  std::vector<Alert> firing, resolved;
  int64_t at_ms = 0;
};

class AlertGroupSink {
 public:
  virtual ~AlertGroupSink() = default;
  virtual void on_group(const AlertGroupEvent& event) = 0;
};

struct DispatchOptions {
  std::string external_url = "http://127.0.0.1:8080";  // in payloads (externalURL, links)
  int64_t retry_initial_ms = 1000;
  int64_t retry_max_ms = 5 * 60 * 1000;
  int64_t max_attempts = 10;  // then the notification goes to the dead-letter list
  int64_t send_timeout_ms = 10000;
  // Also notify when a silence is created or expires (Alertmanager #730); off by default.
  bool notify_silences = false;
  // Notifications of one delivery pass go out on this many lanes at once (a lane per group, so
  // a group's notifications keep their order). 1 = one after the other. The Transport must be
  // thread-safe above 1.
  int64_t send_concurrency = 1;
  // Notifications taken by one delivery pass (sent, then recorded in one transaction).
  int64_t deliver_batch = 64;
};

struct Notification {
  int64_t id = 0;
  std::string tenant_id, receiver, integration, kind, group_key, url, payload, status;
  int64_t attempts = 0, next_attempt_at = 0, created_at = 0, sent_at = 0;
  std::string last_error;
  int64_t firing = 0, resolved = 0;
};

class Dispatcher {
 public:
  Dispatcher(store::Database& db, audit::AuditLog& audit, const Clock& clock,
             MetricsRegistry& metrics, AlertService& alerts, Transport& transport,
             DispatchOptions options);
  static std::vector<store::Migration> migrations();

  // Subscribes to group changes (incidents). Call before the first flush().
  void add_sink(AlertGroupSink* sink) { sinks_.push_back(sink); }
  // Called (on the flushing thread) each time a flush pass has committed queued notifications,
  // before the pass ends. Set before the first flush.
  void set_on_queued(std::function<void()> fn) { on_queued_ = std::move(fn); }

  // Regroups the current alerts and flushes every group whose time has come. Returns the number
  // of notifications queued.
  Result<int64_t> flush();
  // Delivers queued notifications that are due. Returns the number delivered.
  Result<int64_t> deliver();

  // /api/v1/notifications: the notification log of a tenant, newest first.
  Result<std::vector<Notification>> notifications(const std::string& tenant_id,
                                                  const std::optional<std::string>& status,
                                                  const std::optional<std::string>& receiver,
                                                  int limit, std::optional<int64_t> before_id);
  // Puts a dead (or failed) notification back in the queue.
  Result<Notification> replay(const std::string& tenant_id, int64_t id, const std::string& actor);

 private:
  struct NflogEntry {
    std::set<uint64_t> firing, resolved;
    int64_t notified_at = 0;
    bool acked = false;
  };
  struct Group {
    std::string tenant_id, group_key, receiver;
    const Route* route = nullptr;
    LabelSet labels;
    std::set<uint64_t> fps;
    std::map<uint64_t, int64_t> done_resolved;  // resolved alerts already flushed -> their endsAt
    std::set<uint64_t> told_sinks;              // firing set last handed to the sinks
    int64_t next_flush_at = 0;
    // The group's notification log entries by integration ("webhook[0]"), as in the store:
    // nullopt = no entry; an integration not in the map is not read yet.
    std::map<std::string, std::optional<NflogEntry>> nflog;
  };
  // Decides and queues the group's notifications in `tx`; what the group remembers in memory is
  // changed by the actions added to after_commit, run once tx is committed.
  Result<int64_t> flush_group(Group& g, const std::map<uint64_t, const AlertView*>& alerts,
                              int64_t now, store::Transaction& tx,
                              std::vector<std::function<void()>>* after_commit);
  // Route matches of an alert, cached by fingerprint (labels never change for a fingerprint).
  const std::vector<const Route*>& routes_of(uint64_t fp, const LabelSet& labels);
  std::map<uint64_t, std::vector<const Route*>> routes_cache_;
  // The groups an alert belongs to, parallel to its routes_of; valid while groups_generation_
  // is the one they were found under (erasing any group bumps it).
  struct Membership {
    std::string tenant_id;
    uint64_t generation = 0;
    std::vector<Group*> groups;
  };
  std::unordered_map<uint64_t, Membership> membership_;
  std::function<void()> on_queued_;
  uint64_t groups_generation_ = 1;
  // alerts.notify_silences: tells the receivers of the alerts a silence covers that it began or
  // ended (webhooks: status "silenced" / "unsilenced" with the silence; Slack: a message).
  void on_silence(const std::string& tenant_id, const Silence& silence, bool created);
  Status send_email(const Notification& n);
  // The payload of one integration, its templates rendered; errors are template errors.
  Result<std::string> render(const Receiver& r, const std::string& kind, size_t index,
                             const Group& g, const std::vector<const AlertView*>& alerts,
                             bool firing, int64_t now, std::string* url) const;

  store::Database& db_;
  audit::AuditLog& audit_;
  const Clock& clock_;
  MetricsRegistry& metrics_;
  AlertService& alerts_;
  Transport& transport_;
  DispatchOptions options_;
  std::vector<AlertGroupSink*> sinks_;
  std::mutex mu_;
  std::map<std::string, Group> groups_;  // tenant \x1f route id \x1f group key
};

}  // namespace sira::alerts
