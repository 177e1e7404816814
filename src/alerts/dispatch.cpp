// Dispatcher: groups, Alertmanager's notify decision, the durable notification queue.
#include "alerts/dispatch.h"

#include <algorithm>
#include <boost/json.hpp>
#include <random>
#include <thread>

#include "alerts/route.h"
#include "alerts/template.h"
#include "core/crypto.h"
#include "core/log.h"

namespace sira::alerts {

namespace bj = boost::json;

namespace {

std::string fps_json(const std::set<uint64_t>& fps) {
  bj::array a;
  for (uint64_t fp : fps) a.push_back(bj::value(fingerprint_hex(fp)));
  return bj::serialize(a);
}

std::set<uint64_t> fps_from(const std::string& text) {
  std::set<uint64_t> out;
  boost::system::error_code ec;
  bj::value v = bj::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& e : v.as_array()) {
    uint64_t fp = 0;
    if (e.is_string() && parse_fingerprint_hex(e.as_string(), &fp)) out.insert(fp);
  }
  return out;
}

bool subset(const std::set<uint64_t>& small, const std::set<uint64_t>& big) {
  return std::includes(big.begin(), big.end(), small.begin(), small.end());
}

bj::object labels_json(const LabelSet& l) {
  bj::object o;
  for (const auto& [k, v] : l) o[k] = v;
  return o;
}

// Labels (or annotations) every alert has with the same value.
LabelSet common(const std::vector<const AlertView*>& alerts, bool annotations) {
  LabelSet out;
  if (alerts.empty()) return out;
  out = annotations ? alerts[0]->alert.annotations : alerts[0]->alert.labels;
  for (const AlertView* a : alerts) {
    const LabelSet& l = annotations ? a->alert.annotations : a->alert.labels;
    std::erase_if(out, [&](const auto& kv) {
      auto it = l.find(kv.first);
      return it == l.end() || it->second != kv.second;
    });
  }
  return out;
}

// "webhook[2]" -> 2.
size_t integration_index(const std::string& integration) {
  const size_t open = integration.find('[');
  return open == std::string::npos ? 0 : std::strtoul(integration.c_str() + open + 1, nullptr, 10);
}

// Prefix of last_error for notifications whose templates failed: they were never rendered.
constexpr std::string_view kTemplateError = "template error: ";

// Go's strings of at most n bytes, cut on a UTF-8 boundary (PagerDuty's summary limit).
std::string truncate_utf8(std::string s, size_t n) {
  if (s.size() <= n) return s;
  size_t cut = n;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80) --cut;
  s.resize(cut);
  return s;
}

int64_t jitter(int64_t ms) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<int64_t> d(0, std::max<int64_t>(ms / 5, 1));
  return ms + d(rng);
}

}  // namespace

Dispatcher::Dispatcher(store::Database& db, audit::AuditLog& audit, const Clock& clock,
                       MetricsRegistry& metrics, AlertService& alerts, Transport& transport,
                       DispatchOptions options)
    : db_(db),
      audit_(audit),
      clock_(clock),
      metrics_(metrics),
      alerts_(alerts),
      transport_(transport),
      options_(std::move(options)) {
  if (options_.notify_silences)
    alerts_.set_silence_listener([this](const std::string& tenant_id, const Silence& s,
                                        bool created) { on_silence(tenant_id, s, created); });
}

void Dispatcher::on_silence(const std::string& tenant_id, const Silence& silence, bool created) {
  const AlertingConfig& cfg = alerts_.config();
  const int64_t now = clock_.now_ms();
  // Firing alerts the silence covers, by receiver.
  std::map<std::string, bj::array> by_receiver;
  for (const auto& snap : alerts_.snapshot()) {
    const Alert& a = snap.view.alert;
    if (snap.tenant_id != tenant_id || a.resolved_at(now) ||
        !matches_all(silence.matchers, a.labels))
      continue;
    for (const Route* r : match_routes(cfg.route, a.labels))
      by_receiver[r->receiver].push_back(
          bj::object{{"labels", labels_json(a.labels)}, {"fingerprint", fingerprint_hex(a.fp)}});
  }
  bj::array matchers;
  for (const auto& m : silence.matchers) matchers.push_back(bj::value(m.to_string()));
  const std::string status = created ? "silenced" : "unsilenced";
  bj::object sil{{"id", silence.id},
                 {"matchers", matchers},
                 {"startsAt", format_rfc3339_ms(silence.starts_at_ms)},
                 {"endsAt", format_rfc3339_ms(silence.ends_at_ms)},
                 {"createdBy", silence.created_by},
                 {"comment", silence.comment}};
  auto tx = db_.begin(store::TxKind::kWrite);
  if (!tx) return;
  for (auto& [receiver_name, alerts] : by_receiver) {
    const Receiver* r = cfg.find_receiver(receiver_name);
    if (!r) continue;
    auto queue = [&](const std::string& kind, size_t i, const std::string& url,
                     const std::string& payload) {
      (void)(*tx)->exec(
          "INSERT INTO alert_notifications (tenant_id, receiver, integration, kind, group_key, "
          "url, payload, status, attempts, next_attempt_at, created_at, sent_at, last_error, "
          "firing, resolved) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, 0, '', ?, 0)",
          {tenant_id, receiver_name, kind + "[" + std::to_string(i) + "]", kind,
           "silence:" + silence.id, url, payload, now, now, static_cast<int64_t>(alerts.size())});
    };
    for (size_t i = 0; i < r->webhook_configs.size(); ++i)
      queue("webhook", i, r->webhook_configs[i].url,
            bj::serialize(bj::object{{"receiver", receiver_name},
                                     {"status", status},
                                     {"silence", sil},
                                     {"alerts", alerts},
                                     {"externalURL", options_.external_url},
                                     {"version", "4"},
                                     {"groupKey", "silence:" + silence.id}}));
    for (size_t i = 0; i < r->slack_configs.size(); ++i) {
      const SlackConfig& c = r->slack_configs[i];
      std::string url = !c.api_url.empty() ? c.api_url : cfg.global.slack_api_url;
      queue("slack", i, url,
            bj::serialize(bj::object{
                {"text", "Silence " + silence.id + " " + (created ? "started" : "ended") + " by " +
                             silence.created_by + ": " + silence.comment + " (" +
                             std::to_string(alerts.size()) + " firing alerts)"}}));
    }
  }
  if (auto st = (*tx)->commit(); !st)
    log_warn("silence notification could not be queued", {{"error", st.error().detail}});
}

std::vector<store::Migration> Dispatcher::migrations() {
  return {{"alerts", 2, "notification log and queue",
           "CREATE TABLE alert_nflog ("
           " tenant_id TEXT NOT NULL, receiver TEXT NOT NULL, integration TEXT NOT NULL,"
           " group_key TEXT NOT NULL, firing TEXT NOT NULL, resolved TEXT NOT NULL,"
           " notified_at INTEGER NOT NULL,"
           " PRIMARY KEY (tenant_id, receiver, integration, group_key));"
           "CREATE TABLE alert_notifications ("
           " id INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL, receiver TEXT NOT NULL,"
           " integration TEXT NOT NULL, kind TEXT NOT NULL, group_key TEXT NOT NULL,"
           " url TEXT NOT NULL, payload TEXT NOT NULL, status TEXT NOT NULL,"
           " attempts INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL,"
           " created_at INTEGER NOT NULL, sent_at INTEGER NOT NULL, last_error TEXT NOT NULL,"
           " firing INTEGER NOT NULL, resolved INTEGER NOT NULL);"
           "CREATE INDEX alert_notifications_due ON alert_notifications (status, next_attempt_at);"
           "CREATE INDEX alert_notifications_tenant ON alert_notifications (tenant_id, id);"},
          // acked: a PagerDuty integration was sent `acknowledge` for the muted group and not
          // notified since.
          {"alerts", 4, "pagerduty acknowledge",
           "ALTER TABLE alert_nflog ADD COLUMN acked INTEGER NOT NULL DEFAULT 0;"}};
}

const std::vector<const Route*>& Dispatcher::routes_of(uint64_t fp, const LabelSet& labels) {
  auto it = routes_cache_.find(fp);
  if (it != routes_cache_.end()) return it->second;
  if (routes_cache_.size() > 1000000) routes_cache_.clear();  // bounded
  return routes_cache_.emplace(fp, match_routes(alerts_.config().route, labels)).first->second;
}

Result<int64_t> Dispatcher::flush() {
  const int64_t now = clock_.now_ms();
  std::lock_guard lock(mu_);
  // 1. Only the alerts received since the last flush join (or stay in) their groups. They are
  // read in place under the service's lock (no copies); the group ids of an alert are computed
  // once per fingerprint.
  // Under the service's lock only what is needed is taken (times, and the labels of an alert
  // whose groups are not known yet); the grouping runs after it is released.
  struct Change {
    Membership* m;
    uint64_t fp;
    int64_t ends_at_ms, updated_at_ms;
    bool resolved;
    std::optional<LabelSet> labels;  // set when m must be (re)computed
  };
  std::vector<Change> changes;
  if (membership_.size() > 1000000) membership_.clear();  // bounded
  alerts_.visit_changes([&](const std::string& tenant_id, const Alert& a) {
    Membership& m = membership_[a.fp];
    Change c{&m, a.fp, a.ends_at_ms, a.updated_at_ms, a.resolved_at(now), std::nullopt};
    if (m.generation != groups_generation_ || m.tenant_id != tenant_id) {
      if (m.tenant_id != tenant_id) m.tenant_id = tenant_id;
      m.generation = 0;
      c.labels = a.labels;
    }
    changes.push_back(std::move(c));
  });
  for (Change& c : changes) {
    Membership& m = *c.m;
    if (c.labels) {
      m.generation = groups_generation_;
      m.groups.clear();
      for (const Route* r : routes_of(c.fp, *c.labels)) {
        LabelSet gl = group_labels(*r, *c.labels);
        std::string gkey = group_key(*r, gl);
        auto [it, created] = groups_.try_emplace(m.tenant_id + '\x1f' + r->id() + '\x1f' + gkey);
        Group& g = it->second;
        if (created) {
          g.tenant_id = m.tenant_id;
          g.labels = std::move(gl);
          g.group_key = std::move(gkey);
          g.receiver = r->receiver;
          g.route = r;
          // The group began when its first alert arrived (after a restart: long ago, so a
          // group of old alerts flushes at once and the notification log decides what is
          // still news).
          g.next_flush_at = std::min(now, c.updated_at_ms) + r->group_wait_ms;
        }
        m.groups.push_back(&g);
      }
    }
    for (Group* g : m.groups) {
      auto done = g->done_resolved.find(c.fp);
      if (c.resolved && done != g->done_resolved.end() && done->second == c.ends_at_ms)
        continue;  // its resolution was already dealt with
      g->fps.insert(c.fp);
    }
  }
  // 2. Groups whose time has come: their alerts as they are now.
  std::vector<Group*> due;
  std::vector<std::pair<std::string, uint64_t>> keys;
  for (auto& [id, g] : groups_) {
    if (g.next_flush_at > now) continue;
    due.push_back(&g);
    for (uint64_t fp : g.fps) keys.emplace_back(g.tenant_id, fp);
    for (const auto& [fp, ends] : g.done_resolved) keys.emplace_back(g.tenant_id, fp);
  }
  if (due.empty()) return int64_t{0};
  // The longest overdue first: a group that came due during a long pass goes before a wave of
  // groups that came due after it.
  std::stable_sort(due.begin(), due.end(), [](const Group* a, const Group* b) {
    return a->next_flush_at < b->next_flush_at;
  });
  auto views = alerts_.views_for(keys);
  int64_t queued = 0;
  // The due groups' notification decisions are written in transactions of up to kGroupsPerTx
  // groups (one fsync for many groups, and short enough not to hold back the alert journal);
  // what a group remembers in memory changes only once its transaction is committed.
  constexpr size_t kGroupsPerTx = 64;
  std::unique_ptr<store::Transaction> tx;
  std::vector<std::function<void()>> after_commit;
  size_t in_tx = 0;
  int64_t queued_in_tx = 0;
  auto commit = [&]() -> Status {
    if (!tx) return {};
    SIRA_CHECK(tx->commit());
    tx.reset();
    in_tx = 0;
    for (auto& fn : after_commit) fn();
    after_commit.clear();
    // The sender can start on these while the rest of the pass is decided.
    if (queued_in_tx > 0 && on_queued_) on_queued_();
    queued_in_tx = 0;
    return {};
  };
  for (Group* g : due) {
    std::map<uint64_t, const AlertView*> alerts;
    for (uint64_t fp : g->fps)
      if (auto it = views.find({g->tenant_id, fp}); it != views.end()) alerts[fp] = &it->second;
    std::erase_if(g->fps, [&](uint64_t fp) { return !alerts.contains(fp); });
    std::erase_if(g->done_resolved, [&](const auto& kv) {
      return !views.contains({g->tenant_id, kv.first});
    });
    if (!g->fps.empty()) {
      if (!tx) tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
      auto n = flush_group(*g, alerts, now, *tx, &after_commit);
      if (!n) return std::unexpected(n.error());
      queued += *n;
      queued_in_tx += *n;
      if (++in_tx >= kGroupsPerTx) SIRA_CHECK(commit());
    }
    g->next_flush_at = now + g->route->group_interval_ms;
  }
  SIRA_CHECK(commit());
  // Memberships point into groups_: erasing a group invalidates them all.
  if (std::erase_if(groups_, [](const auto& kv) {
        return kv.second.fps.empty() && kv.second.done_resolved.empty();
      }) > 0)
    ++groups_generation_;
  return queued;
}

Result<int64_t> Dispatcher::flush_group(Group& g,
                                        const std::map<uint64_t, const AlertView*>& alerts,
                                        int64_t now, store::Transaction& txr,
                                        std::vector<std::function<void()>>* after_commit) {
  store::Transaction* tx = &txr;
  const AlertingConfig& cfg = alerts_.config();
  const Receiver* receiver = cfg.find_receiver(g.receiver);
  // Mute and active time intervals of the route.
  auto in_interval = [&](const std::string& name) {
    for (const auto& ti : cfg.time_intervals)
      if (ti.name == name)
        for (const auto& i : ti.intervals)
          if (i.contains(now)) return true;
    return false;
  };
  bool time_muted = false;
  for (const auto& name : g.route->mute_time_intervals)
    time_muted = time_muted || in_interval(name);
  if (!g.route->active_time_intervals.empty()) {
    bool active = false;
    for (const auto& name : g.route->active_time_intervals) active = active || in_interval(name);
    time_muted = time_muted || !active;
  }

  std::vector<const AlertView*> firing, resolved, muted_firing;
  std::set<uint64_t> firing_set, resolved_set;
  for (uint64_t fp : g.fps) {
    const AlertView* v = alerts.at(fp);
    if (v->alert.resolved_at(now)) {
      resolved.push_back(v);
      resolved_set.insert(fp);
    } else if (v->status.silenced_by.empty() && v->status.inhibited_by.empty()) {
      firing.push_back(v);
      firing_set.insert(fp);
    } else {
      muted_firing.push_back(v);
    }
  }
  // Still firing, but nothing of it may be notified: PagerDuty gets `acknowledge`.
  const bool still_firing = !firing.empty() || !muted_firing.empty();
  const bool entirely_muted = still_firing && (time_muted || firing.empty());

  int64_t queued = 0;
  if (receiver != nullptr) {
    struct Integration {
      std::string kind;
      size_t index;
      bool send_resolved;
    };
    std::vector<Integration> integrations;
    for (size_t i = 0; i < receiver->webhook_configs.size(); ++i)
      integrations.push_back({"webhook", i, receiver->webhook_configs[i].send_resolved});
    for (size_t i = 0; i < receiver->slack_configs.size(); ++i)
      integrations.push_back({"slack", i, receiver->slack_configs[i].send_resolved});
    for (size_t i = 0; i < receiver->pagerduty_configs.size(); ++i)
      integrations.push_back({"pagerduty", i, receiver->pagerduty_configs[i].send_resolved});
    for (size_t i = 0; i < receiver->email_configs.size(); ++i)
      integrations.push_back({"email", i, receiver->email_configs[i].send_resolved});

    for (const auto& in : integrations) {
      const std::string name = in.kind + "[" + std::to_string(in.index) + "]";
      // The log entry, read from the store once per group and then kept in step with it.
      auto nit = g.nflog.find(name);
      if (nit == g.nflog.end()) {
        auto r = SIRA_TRY(tx->query_one(
            "SELECT firing, resolved, notified_at, acked FROM alert_nflog WHERE tenant_id = ? "
            "AND receiver = ? AND integration = ? AND group_key = ?",
            {g.tenant_id, g.receiver, name, g.group_key}));
        std::optional<NflogEntry> e;
        if (r) e = NflogEntry{fps_from(r->str(0)), fps_from(r->str(1)), r->i64(2), r->i64(3) != 0};
        nit = g.nflog.emplace(name, std::move(e)).first;
      }
      const std::optional<NflogEntry>& row = nit->second;
      const std::set<uint64_t> empty_set;
      const std::set<uint64_t>& told_firing = row ? row->firing : empty_set;
      const bool acked = row && row->acked;
      if (entirely_muted && in.kind == "pagerduty") {
        // Once per muting: the incident PagerDuty holds for the group is acknowledged, not
        // resolved (it still fires) and not left ringing.
        if (!told_firing.empty() && !acked) {
          const PagerDutyConfig& c = receiver->pagerduty_configs[in.index];
          const std::string url = !c.url.empty() ? c.url : cfg.global.pagerduty_url;
          const std::string payload = bj::serialize(
              bj::object{{"routing_key", !c.routing_key.empty() ? c.routing_key : c.service_key},
                         {"event_action", "acknowledge"},
                         {"dedup_key", hex_encode(sha256(g.group_key))}});
          SIRA_CHECK(
              tx->exec("UPDATE alert_nflog SET acked = 1 WHERE tenant_id = ? AND receiver = ? AND "
                       "integration = ? AND group_key = ?",
                       {g.tenant_id, g.receiver, name, g.group_key}));
          after_commit->push_back([&g, name] {
            if (auto it = g.nflog.find(name); it != g.nflog.end() && it->second)
              it->second->acked = true;
          });
          SIRA_CHECK(tx->exec(
              "INSERT INTO alert_notifications (tenant_id, receiver, integration, kind, "
              "group_key, url, payload, status, attempts, next_attempt_at, created_at, sent_at, "
              "last_error, firing, resolved) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, 0, "
              "'', ?, 0)",
              {g.tenant_id, g.receiver, name, in.kind, g.group_key, url, payload, now, now,
               static_cast<int64_t>(muted_firing.size() + firing.size())}));
          ++queued;
        }
        continue;
      }
      if (time_muted) continue;  // Alertmanager's MuteStage: nothing, the log unchanged
      // A resolved alert is reported resolved to whoever was told it fired, silence or not
      // (Alertmanager swallows it: #226, #2805).
      std::vector<const AlertView*> resolved_here;
      std::set<uint64_t> resolved_here_set;
      for (const AlertView* v : resolved) {
        const bool muted = !v->status.silenced_by.empty() || !v->status.inhibited_by.empty();
        if (!muted || told_firing.contains(v->alert.fp)) {
          resolved_here.push_back(v);
          resolved_here_set.insert(v->alert.fp);
        }
      }
      // Everything muted: the pipeline stops before the notification log (Alertmanager's
      // MuteStage), so what receivers were told stays as it was.
      if (firing_set.empty() && resolved_here_set.empty()) continue;
      // Alertmanager's DedupStage.needsUpdate.
      bool needs;
      if (!row) {
        needs = !firing_set.empty();
      } else if (!subset(firing_set, told_firing)) {
        needs = true;
      } else if (acked && !firing_set.empty()) {
        needs = true;  // unmuted after an acknowledge: trigger again
      } else if (firing_set.empty()) {
        needs = !told_firing.empty();
      } else if (in.send_resolved && !subset(resolved_here_set, row->resolved)) {
        needs = true;
      } else {
        needs = row->notified_at <= now - g.route->repeat_interval_ms;
      }
      if (!needs) continue;
      SIRA_CHECK(tx->exec(
          "INSERT INTO alert_nflog (tenant_id, receiver, integration, group_key, firing, resolved, "
          "notified_at, acked) VALUES (?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT (tenant_id, receiver, "
          "integration, group_key) DO UPDATE SET firing = excluded.firing, "
          "resolved = excluded.resolved, notified_at = excluded.notified_at, acked = 0",
          {g.tenant_id, g.receiver, name, g.group_key, fps_json(firing_set),
           fps_json(resolved_here_set), now}));
      after_commit->push_back(
          [&g, name, entry = NflogEntry{firing_set, resolved_here_set, now, false}] {
            g.nflog[name] = entry;
          });
      std::vector<const AlertView*> payload_alerts = firing;
      if (in.send_resolved)
        payload_alerts.insert(payload_alerts.end(), resolved_here.begin(), resolved_here.end());
      if (payload_alerts.empty()) continue;  // all resolved and this integration does not say so
      std::string url;
      auto payload =
          render(*receiver, in.kind, in.index, g, payload_alerts, !firing.empty(), now, &url);
      // A template that fails to execute: the notification is dead at once, with the reason.
      const std::string error =
          payload ? std::string() : std::string(kTemplateError) + payload.error().detail;
      SIRA_CHECK(tx->exec(
          "INSERT INTO alert_notifications (tenant_id, receiver, integration, kind, group_key, "
          "url, payload, status, attempts, next_attempt_at, created_at, sent_at, last_error, "
          "firing, resolved) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, 0, ?, ?, ?)",
          {g.tenant_id, g.receiver, name, in.kind, g.group_key, url,
           payload ? *payload : std::string(), payload ? "pending" : "dead", now, now, error,
           static_cast<int64_t>(firing.size()),
           static_cast<int64_t>(payload_alerts.size() - firing.size())}));
      if (!payload) {
        const int64_t id =
            SIRA_TRY(tx->query_one("SELECT MAX(id) FROM alert_notifications"))->i64(0);
        SIRA_CHECK(audit_.append(*tx, g.tenant_id,
                                 {"sira", "notification.dead", "notification", std::to_string(id),
                                  bj::serialize(bj::object{{"receiver", g.receiver},
                                                           {"integration", name},
                                                           {"attempts", 0},
                                                           {"error", error}})}));
        metrics_
            .counter("sira_notifications_total", "Notification attempts by result.",
                     {{"receiver", g.receiver}, {"integration", in.kind}, {"result", "dead"}})
            .inc();
        log_warn("notification template failed",
                 {{"receiver", g.receiver}, {"integration", name}, {"error", error}});
        continue;
      }
      ++queued;
    }
  }
  // The incidents hand-off: only when what fires changed.
  if (!sinks_.empty() && firing_set != g.told_sinks &&
      !(firing_set.empty() && g.told_sinks.empty())) {
    AlertGroupEvent ev;
    ev.tenant_id = g.tenant_id;
    ev.receiver = g.receiver;
    ev.group_key = g.group_key;
    ev.status = firing_set.empty() ? "resolved" : "firing";
    ev.group_labels = g.labels;
    std::vector<const AlertView*> all = firing;
    all.insert(all.end(), resolved.begin(), resolved.end());
    ev.common_labels = common(all, false);
    for (const AlertView* v : firing) ev.firing.push_back(v->alert);
    for (const AlertView* v : resolved) ev.resolved.push_back(v->alert);
    ev.at_ms = now;
    after_commit->push_back([this, &g, ev = std::move(ev), firing_set] {
      for (AlertGroupSink* sink : sinks_) sink->on_group(ev);
      g.told_sinks = firing_set;
    });
  }
  // Resolved alerts leave the group once dealt with (Alertmanager deletes them after a flush).
  std::vector<std::pair<uint64_t, int64_t>> done;
  for (const AlertView* v : resolved) done.emplace_back(v->alert.fp, v->alert.ends_at_ms);
  after_commit->push_back([&g, done = std::move(done)] {
    for (const auto& [fp, ends_at] : done) {
      g.fps.erase(fp);
      g.done_resolved[fp] = ends_at;
    }
  });
  if (queued > 0)
    metrics_.counter("sira_notifications_queued_total", "Notifications queued for delivery.")
        .inc(static_cast<double>(queued));
  return queued;
}

Result<std::string> Dispatcher::render(const Receiver& r, const std::string& kind, size_t index,
                                       const Group& g, const std::vector<const AlertView*>& alerts,
                                       bool any_firing, int64_t now, std::string* url) const {
  (void)now;
  const AlertingConfig& cfg = alerts_.config();
  const int64_t at = clock_.now_ms();
  size_t n_firing = 0;
  bj::array list;
  TemplateData data;
  data.receiver = r.name;
  data.status = any_firing ? "firing" : "resolved";
  data.external_url = options_.external_url;
  data.group_labels = g.labels;
  data.common_labels = common(alerts, false);
  data.common_annotations = common(alerts, true);
  for (const AlertView* v : alerts) {
    const bool resolved = v->alert.resolved_at(at);
    if (!resolved) ++n_firing;
    list.push_back(bj::object{{"status", resolved ? "resolved" : "firing"},
                              {"labels", labels_json(v->alert.labels)},
                              {"annotations", labels_json(v->alert.annotations)},
                              {"startsAt", format_rfc3339_ms(v->alert.starts_at_ms)},
                              {"endsAt", resolved ? format_rfc3339_ms(v->alert.ends_at_ms)
                                                  : std::string("0001-01-01T00:00:00Z")},
                              {"generatorURL", v->alert.generator_url},
                              {"fingerprint", fingerprint_hex(v->alert.fp)}});
    TemplateAlert ta;
    ta.status = resolved ? "resolved" : "firing";
    ta.labels = v->alert.labels;
    ta.annotations = v->alert.annotations;
    ta.starts_at_ms = v->alert.starts_at_ms;
    ta.ends_at_ms = resolved ? v->alert.ends_at_ms : kGoZeroTimeMs;
    ta.generator_url = v->alert.generator_url;
    ta.fingerprint = fingerprint_hex(v->alert.fp);
    data.alerts.push_back(std::move(ta));
  }
  const TmplValue dot = template_value(data);
  const TemplateSet& set = cfg.template_set ? *cfg.template_set : *TemplateSet::defaults();
  const std::string where = kind + "_configs[" + std::to_string(index) + "].";
  // Renders one field; text without an action is used as written.
  auto tmpl = [&](const std::string& field, const std::string& text) -> Result<std::string> {
    if (text.find("{{") == std::string::npos) return text;
    auto out = set.execute(field, text, dot);
    if (!out) return fail(ErrorCode::kInvalidArgument, where + field + ": " + out.error().detail);
    return out;
  };
  if (kind == "webhook") {
    const WebhookConfig& c = r.webhook_configs[index];
    *url = c.url;
    // sira extension: the whole body from a template, sent with content_type at delivery.
    if (!c.body_template.empty()) return tmpl("body_template", c.body_template);
    int64_t truncated = 0;
    if (c.max_alerts > 0 && static_cast<int64_t>(list.size()) > c.max_alerts) {
      truncated = static_cast<int64_t>(list.size()) - c.max_alerts;
      list.resize(static_cast<size_t>(c.max_alerts));
    }
    // Alertmanager's webhook payload, version 4.
    return bj::serialize(bj::object{{"receiver", r.name},
                                    {"status", data.status},
                                    {"alerts", list},
                                    {"groupLabels", labels_json(g.labels)},
                                    {"commonLabels", labels_json(data.common_labels)},
                                    {"commonAnnotations", labels_json(data.common_annotations)},
                                    {"externalURL", options_.external_url},
                                    {"version", "4"},
                                    {"groupKey", g.group_key},
                                    {"truncatedAlerts", truncated}});
  }
  if (kind == "email") {
    // The queue keeps what to send, never the SMTP password (read from the config at delivery).
    const EmailConfig& c = r.email_configs[index];
    *url = c.smarthost;
    bj::object headers;
    std::string subject;
    for (const auto& [name, text] : c.headers) {
      std::string value = SIRA_TRY(tmpl("headers." + name, text));
      if (value.find_first_of("\r\n") != std::string::npos)
        return fail(ErrorCode::kInvalidArgument,
                    where + "headers." + name + ": rendered header holds a line break");
      if (name == "Subject")
        subject = std::move(value);
      else if (name != "To" && name != "From")
        headers[name] = std::move(value);
    }
    std::string text = c.text.empty() ? SIRA_TRY(set.execute_named("email.default.text", dot))
                                      : SIRA_TRY(tmpl("text", c.text));
    return bj::serialize(bj::object{{"to", SIRA_TRY(tmpl("to", c.to))},
                                    {"from", c.from},
                                    {"hello", c.hello},
                                    {"subject", subject},
                                    {"text", text},
                                    {"html", SIRA_TRY(tmpl("html", c.html))},
                                    {"headers", headers},
                                    {"username", c.auth_username},
                                    {"requireTls", c.require_tls}});
  }
  if (kind == "slack") {
    // Alertmanager's Slack message: one attachment, empty fields left out.
    const SlackConfig& c = r.slack_configs[index];
    *url = !c.api_url.empty() ? c.api_url : cfg.global.slack_api_url;
    bj::object attachment;
    auto put = [](bj::object& o, const char* key, std::string value) {
      if (!value.empty()) o[key] = std::move(value);
    };
    put(attachment, "title", SIRA_TRY(tmpl("title", c.title)));
    put(attachment, "title_link", SIRA_TRY(tmpl("title_link", c.title_link)));
    put(attachment, "pretext", SIRA_TRY(tmpl("pretext", c.pretext)));
    put(attachment, "text", SIRA_TRY(tmpl("text", c.text)));
    put(attachment, "fallback", SIRA_TRY(tmpl("fallback", c.fallback)));
    put(attachment, "footer", SIRA_TRY(tmpl("footer", c.footer)));
    put(attachment, "color", SIRA_TRY(tmpl("color", c.color)));
    attachment["mrkdwn_in"] = bj::array{"fallback", "pretext", "text"};
    bj::object o;
    put(o, "channel", SIRA_TRY(tmpl("channel", c.channel)));
    put(o, "username", SIRA_TRY(tmpl("username", c.username)));
    put(o, "icon_emoji", SIRA_TRY(tmpl("icon_emoji", c.icon_emoji)));
    put(o, "icon_url", SIRA_TRY(tmpl("icon_url", c.icon_url)));
    o["attachments"] = bj::array{attachment};
    return bj::serialize(o);
  }
  // PagerDuty Events API v2: one incident per group (dedup_key = SHA-256 of the group key).
  const PagerDutyConfig& c = r.pagerduty_configs[index];
  *url = !c.url.empty() ? c.url : cfg.global.pagerduty_url;
  bj::object msg{{"routing_key", !c.routing_key.empty() ? c.routing_key : c.service_key},
                 {"event_action", any_firing ? "trigger" : "resolve"},
                 {"dedup_key", hex_encode(sha256(g.group_key))}};
  const std::string client = SIRA_TRY(tmpl("client", c.client));
  const std::string client_url = SIRA_TRY(tmpl("client_url", c.client_url));
  if (!client.empty()) msg["client"] = client;
  if (!client_url.empty()) msg["client_url"] = client_url;
  if (any_firing) {
    bj::object details;
    for (const auto& [k, v] : c.details) details[k] = SIRA_TRY(tmpl("details." + k, v));
    std::string severity = SIRA_TRY(tmpl("severity", c.severity));
    bj::object payload{
        {"summary", truncate_utf8(SIRA_TRY(tmpl("description", c.description)), 1024)},
        {"source", client.empty() ? std::string("sira") : client},
        {"severity", severity.empty() ? std::string("error") : severity},
        {"custom_details", details}};
    const std::pair<const char*, const std::string*> optional[] = {
        {"class", &c.class_}, {"component", &c.component}, {"group", &c.group}};
    for (const auto& [key, text] : optional) {
      std::string value = SIRA_TRY(tmpl(key, *text));
      if (!value.empty()) payload[key] = std::move(value);
    }
    msg["payload"] = std::move(payload);
  }
  (void)n_firing;
  return bj::serialize(msg);
}

Result<int64_t> Dispatcher::deliver() {
  const int64_t now = clock_.now_ms();
  std::vector<Notification> due;
  {
    auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
    SIRA_CHECK(
        tx->each("SELECT id, tenant_id, receiver, integration, kind, url, payload, attempts, "
                 "group_key FROM alert_notifications WHERE status = 'pending' AND "
                 "next_attempt_at <= ? ORDER BY id LIMIT ?",
                 {now, std::max<int64_t>(1, options_.deliver_batch)}, [&](const store::Row& r) {
                   Notification n;
                   n.id = r.i64(0);
                   n.tenant_id = r.str(1);
                   n.receiver = r.str(2);
                   n.integration = r.str(3);
                   n.kind = r.str(4);
                   n.url = r.str(5);
                   n.payload = r.str(6);
                   n.attempts = r.i64(7);
                   n.group_key = r.str(8);
                   due.push_back(std::move(n));
                   return true;
                 }));
  }
  // Send everything due first (no transaction held across the network), then record the pass
  // in one transaction: one fsync and one signed audit head instead of one per notification.
  std::vector<std::pair<bool, std::string>> outcomes(due.size());
  auto send_one = [&](size_t i) {
    const Notification& n = due[i];
    if (n.kind == "email") {
      Status st = send_email(n);
      outcomes[i] = {st.has_value(), st ? "" : st.error().detail};
      return;
    }
    // A webhook body_template body goes with its configured content type (silence
    // notifications are always the JSON payload).
    std::string content_type = "application/json";
    if (n.kind == "webhook" && !n.group_key.starts_with("silence:")) {
      if (const Receiver* r = alerts_.config().find_receiver(n.receiver)) {
        const size_t idx = integration_index(n.integration);
        if (idx < r->webhook_configs.size() && !r->webhook_configs[idx].body_template.empty())
          content_type = r->webhook_configs[idx].content_type;
      }
    }
    auto status = transport_.post(n.url, content_type, n.payload, {}, options_.send_timeout_ms);
    const bool ok = status && *status >= 200 && *status < 300;
    outcomes[i] = {ok, ok       ? ""
                       : status ? "HTTP " + std::to_string(*status)
                                : status.error().detail};
  };
  const size_t lanes =
      std::min(due.size(), static_cast<size_t>(std::max<int64_t>(1, options_.send_concurrency)));
  if (lanes <= 1) {
    for (size_t i = 0; i < due.size(); ++i) send_one(i);
  } else {
    // A lane per (receiver, integration, group): one group's notifications stay in id order.
    std::vector<std::vector<size_t>> lane(lanes);
    for (size_t i = 0; i < due.size(); ++i)
      lane[std::hash<std::string>{}(due[i].receiver + '\x1f' + due[i].integration + '\x1f' +
                                    due[i].group_key) %
           lanes]
          .push_back(i);
    std::vector<std::jthread> workers;
    workers.reserve(lanes);
    for (auto& items : lane)
      if (!items.empty())
        workers.emplace_back([&send_one, &items] {
          for (size_t i : items) send_one(i);
        });
  }
  int64_t delivered = 0;
  const int64_t done_at = clock_.now_ms();
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  for (size_t i = 0; i < due.size(); ++i) {
    Notification& n = due[i];
    const auto& [ok, error] = outcomes[i];
    ++n.attempts;
    std::string next_status = "sent";
    int64_t next_at = 0;
    if (!ok) {
      int64_t backoff = options_.retry_initial_ms;
      for (int64_t k = 1; k < n.attempts && backoff < options_.retry_max_ms; ++k) backoff *= 2;
      backoff = std::min(backoff, options_.retry_max_ms);
      next_status = n.attempts >= options_.max_attempts ? "dead" : "pending";
      next_at = done_at + jitter(backoff);
    }
    SIRA_CHECK(
        tx->exec("UPDATE alert_notifications SET status = ?, attempts = ?, next_attempt_at = ?, "
                 "sent_at = ?, last_error = ? WHERE id = ?",
                 {next_status, n.attempts, next_at, ok ? done_at : int64_t{0}, error, n.id}));
    if (next_status != "pending")
      SIRA_CHECK(audit_.append(*tx, n.tenant_id,
                               {"sira", ok ? "notification.sent" : "notification.dead",
                                "notification", std::to_string(n.id),
                                bj::serialize(bj::object{{"receiver", n.receiver},
                                                         {"integration", n.integration},
                                                         {"attempts", n.attempts},
                                                         {"error", error}})}));
    metrics_
        .counter("sira_notifications_total", "Notification attempts by result.",
                 {{"receiver", n.receiver},
                  {"integration", n.kind},
                  {"result", ok                      ? "sent"
                             : next_status == "dead" ? "dead"
                                                     : "retry"}})
        .inc();
    if (ok) {
      ++delivered;
    } else {
      log_warn("notification failed", {{"receiver", n.receiver},
                                       {"integration", n.integration},
                                       {"attempt", std::to_string(n.attempts)},
                                       {"error", error}});
    }
  }
  SIRA_CHECK(tx->commit());
  return delivered;
}

Status Dispatcher::send_email(const Notification& n) {
  boost::system::error_code ec;
  bj::value v = bj::parse(n.payload, ec);
  if (ec || !v.is_object()) return fail(ErrorCode::kInternal, "queued e-mail is not readable");
  const auto& o = v.as_object();
  auto str = [&](const char* k) {
    auto it = o.find(k);
    return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : "";
  };
  Email e;
  e.smarthost = n.url;
  e.hello = str("hello");
  e.from = str("from");
  e.subject = str("subject");
  e.text = str("text");
  e.html = str("html");
  if (auto h = o.find("headers"); h != o.end() && h->value().is_object())
    for (const auto& [k, val] : h->value().as_object())
      if (val.is_string()) e.headers.emplace_back(std::string(k), std::string(val.as_string()));
  e.username = str("username");
  auto tls = o.find("requireTls");
  e.require_tls = tls == o.end() || !tls->value().is_bool() || tls->value().as_bool();
  e.to.push_back(str("to"));  // the SMTP client splits comma-separated lists
  // The password stays in the configuration: receivers[name].email_configs[i].
  if (const Receiver* r = alerts_.config().find_receiver(n.receiver)) {
    const size_t idx = integration_index(n.integration);
    if (idx < r->email_configs.size()) e.password = r->email_configs[idx].auth_password;
  }
  return transport_.mail(e, options_.send_timeout_ms);
}

namespace {

Notification notification_from(const store::Row& r) {
  Notification n;
  n.id = r.i64(0);
  n.tenant_id = r.str(1);
  n.receiver = r.str(2);
  n.integration = r.str(3);
  n.kind = r.str(4);
  n.group_key = r.str(5);
  n.url = r.str(6);
  n.payload = r.str(7);
  n.status = r.str(8);
  n.attempts = r.i64(9);
  n.next_attempt_at = r.i64(10);
  n.created_at = r.i64(11);
  n.sent_at = r.i64(12);
  n.last_error = r.str(13);
  n.firing = r.i64(14);
  n.resolved = r.i64(15);
  return n;
}

constexpr const char* kNotificationCols =
    "id, tenant_id, receiver, integration, kind, group_key, url, payload, status, attempts, "
    "next_attempt_at, created_at, sent_at, last_error, firing, resolved";

}  // namespace

Result<std::vector<Notification>> Dispatcher::notifications(
    const std::string& tenant_id, const std::optional<std::string>& status,
    const std::optional<std::string>& receiver, int limit, std::optional<int64_t> before_id) {
  std::string sql =
      std::string("SELECT ") + kNotificationCols + " FROM alert_notifications WHERE tenant_id = ?";
  store::Params p{tenant_id};
  if (status) {
    sql += " AND status = ?";
    p.push_back(*status);
  }
  if (receiver) {
    sql += " AND receiver = ?";
    p.push_back(*receiver);
  }
  if (before_id) {
    sql += " AND id < ?";
    p.push_back(*before_id);
  }
  sql += " ORDER BY id DESC LIMIT ?";
  p.push_back(int64_t{limit});
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
  std::vector<Notification> out;
  for (const auto& r : SIRA_TRY(tx->query(sql, p))) out.push_back(notification_from(r));
  return out;
}

Result<Notification> Dispatcher::replay(const std::string& tenant_id, int64_t id,
                                        const std::string& actor) {
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  auto row = SIRA_TRY(tx->query_one(std::string("SELECT ") + kNotificationCols +
                                        " FROM alert_notifications WHERE tenant_id = ? AND id = ?",
                                    {tenant_id, id}));
  if (!row) return fail(ErrorCode::kNotFound, "notification " + std::to_string(id) + " not found");
  Notification n = notification_from(*row);
  if (n.status == "sent" || n.status == "pending")
    return fail(ErrorCode::kConflict, "notification " + std::to_string(id) + " is " + n.status +
                                          "; only dead ones replay");
  if (n.payload.empty() && n.last_error.starts_with(kTemplateError))
    return fail(ErrorCode::kConflict, "notification " + std::to_string(id) +
                                          " was never rendered (" + n.last_error +
                                          "); fix the template, the next change notifies again");
  SIRA_CHECK(
      tx->exec("UPDATE alert_notifications SET status = 'pending', attempts = 0, "
               "next_attempt_at = ?, last_error = '' WHERE id = ?",
               {clock_.now_ms(), id}));
  SIRA_CHECK(audit_.append(
      *tx, tenant_id, {actor, "notification.replay", "notification", std::to_string(id), "{}"}));
  SIRA_CHECK(tx->commit());
  n.status = "pending";
  n.attempts = 0;
  n.last_error.clear();
  return n;
}

}  // namespace sira::alerts
