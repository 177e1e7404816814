// AlertService: Alertmanager's intake, merge, silence and status rules over a persisted store.
#include "alerts/service.h"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <string_view>

#include "alerts/route.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/log.h"

namespace sira::alerts {

namespace bj = boost::json;

namespace {

// {"name":"value",...}: what labels_from reads back.
std::string labels_json(const LabelSet& l) {
  std::string out;
  out.reserve(16 + l.size() * 32);
  json::append_string_map(out, l);
  return out;
}

LabelSet labels_from(const std::string& text) {
  LabelSet out;
  boost::system::error_code ec;
  bj::value v = bj::parse(text, ec);
  if (ec || !v.is_object()) return out;
  for (const auto& [k, val] : v.as_object())
    if (val.is_string()) out[std::string(k)] = std::string(val.as_string());
  return out;
}

const char* type_code(MatchType t) {
  switch (t) {
    case MatchType::kEqual:
      return "=";
    case MatchType::kNotEqual:
      return "!=";
    case MatchType::kRegex:
      return "=~";
    case MatchType::kNotRegex:
      return "!~";
  }
  return "=";
}

std::string matchers_json(const std::vector<Matcher>& ms) {
  bj::array a;
  for (const auto& m : ms)
    a.push_back(
        bj::object{{"name", m.name()}, {"value", m.value()}, {"type", type_code(m.type())}});
  return bj::serialize(a);
}

Result<std::vector<Matcher>> matchers_from(const std::string& text) {
  boost::system::error_code ec;
  bj::value v = bj::parse(text, ec);
  if (ec || !v.is_array())
    return fail(ErrorCode::kInternal, "stored silence matchers are not an array");
  std::vector<Matcher> out;
  for (const auto& e : v.as_array()) {
    if (!e.is_object()) return fail(ErrorCode::kInternal, "stored matcher is not an object");
    const auto& o = e.as_object();
    auto str = [&](const char* k) -> std::string {
      auto it = o.find(k);
      return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : "";
    };
    std::string t = str("type");
    MatchType type = t == "!="   ? MatchType::kNotEqual
                     : t == "=~" ? MatchType::kRegex
                     : t == "!~" ? MatchType::kNotRegex
                                 : MatchType::kEqual;
    out.push_back(SIRA_TRY(Matcher::make(str("name"), type, str("value"))));
  }
  return out;
}

bool same_matchers(const std::vector<Matcher>& a, const std::vector<Matcher>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].name() != b[i].name() || a[i].value() != b[i].value() || a[i].type() != b[i].type())
      return false;
  return true;
}

// Alertmanager's Alert.Merge: the younger alert (by updatedAt) wins, the earliest start is kept,
// and an explicit end beats a timeout end. `older` is folded into `res`, the younger one.
void fold_older(const Alert& older, bool older_timeout, Alert* res, bool* res_timeout,
                int64_t now) {
  const bool res_resolved = res->resolved_at(now);
  if (older.starts_at_ms < res->starts_at_ms) res->starts_at_ms = older.starts_at_ms;
  if (res_resolved) {
    if (older.resolved_at(now) && older.ends_at_ms > res->ends_at_ms) {
      res->ends_at_ms = older.ends_at_ms;
      *res_timeout = older_timeout;
    }
  } else if (older.ends_at_ms > res->ends_at_ms && !older_timeout) {
    res->ends_at_ms = older.ends_at_ms;
    *res_timeout = false;
  }
}

// `b` is the incoming alert, merged in place (no copy in the usual case: the incoming alert is
// the younger one).
void merge_into(const Alert& old, bool old_timeout, Alert* b, bool* b_timeout, int64_t now) {
  if (b->updated_at_ms < old.updated_at_ms) {
    Alert incoming = std::move(*b);
    const bool incoming_timeout = *b_timeout;
    *b = old;
    *b_timeout = old_timeout;
    fold_older(incoming, incoming_timeout, b, b_timeout, now);
  } else {
    fold_older(old, old_timeout, b, b_timeout, now);
  }
}

// Journal records: the merged state of one alert as put_alerts kept it. Little-endian fixed
// widths, strings as u32 length + bytes.
void put_u32(std::string& out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out.append(b, 4);
}
void put_i64(std::string& out, int64_t v) {
  const auto u = static_cast<uint64_t>(v);
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((u >> (8 * i)) & 0xff);
  out.append(b, 8);
}
void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}
void put_labels(std::string& out, const LabelSet& l) {
  put_u32(out, static_cast<uint32_t>(l.size()));
  for (const auto& [k, v] : l) {
    put_str(out, k);
    put_str(out, v);
  }
}

constexpr uint8_t kRecordAlert = 1;  // an alert's whole state
constexpr uint8_t kRecordTouch = 2;  // new times of an alert whose labels and annotations stay

void encode_alert(std::string& out, const std::string& tenant_id, const Alert& a, bool timeout) {
  out.push_back(static_cast<char>(kRecordAlert));
  put_str(out, tenant_id);
  put_i64(out, a.starts_at_ms);
  put_i64(out, a.ends_at_ms);
  put_i64(out, a.updated_at_ms);
  out.push_back(timeout ? 1 : 0);
  put_str(out, a.generator_url);
  put_labels(out, a.labels);
  put_labels(out, a.annotations);
}

void encode_touch(std::string& out, const std::string& tenant_id, const Alert& a, bool timeout) {
  out.push_back(static_cast<char>(kRecordTouch));
  put_str(out, tenant_id);
  put_i64(out, static_cast<int64_t>(a.fp));
  put_i64(out, a.starts_at_ms);
  put_i64(out, a.ends_at_ms);
  put_i64(out, a.updated_at_ms);
  out.push_back(timeout ? 1 : 0);
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool done() const { return pos_ >= in_.size(); }
  bool ok() const { return ok_; }
  uint8_t u8() {
    if (!need(1)) return 0;
    return static_cast<uint8_t>(in_[pos_++]);
  }
  uint64_t fixed(int bytes) {
    if (!need(static_cast<size_t>(bytes))) return 0;
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
      v |= static_cast<uint64_t>(static_cast<uint8_t>(in_[pos_++])) << (8 * i);
    return v;
  }
  int64_t i64() { return static_cast<int64_t>(fixed(8)); }
  std::string str() {
    const auto n = static_cast<size_t>(fixed(4));
    if (!need(n)) return {};
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  LabelSet labels() {
    LabelSet l;
    const auto n = fixed(4);
    for (uint64_t i = 0; i < n && ok_; ++i) {
      std::string k = str();
      l.emplace(std::move(k), str());
    }
    return l;
  }

 private:
  bool need(size_t n) {
    if (!ok_ || in_.size() - pos_ < n) ok_ = false;
    return ok_;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace

std::string new_uuid() {
  std::string b = random_bytes(16);
  b[6] = static_cast<char>((static_cast<uint8_t>(b[6]) & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<char>((static_cast<uint8_t>(b[8]) & 0x3f) | 0x80);  // RFC 4122 variant
  std::string h = hex_encode(b);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

AlertService::AlertService(store::Database& db, audit::AuditLog& audit, const Clock& clock,
                           MetricsRegistry& metrics, AlertingConfig config, std::string config_text)
    : db_(db),
      audit_(audit),
      clock_(clock),
      metrics_(metrics),
      config_(std::move(config)),
      config_text_(std::move(config_text)),
      inhibitor_(config_.inhibit_rules),
      received_firing_(metrics.counter("sira_alerts_received_total",
                                       "Alerts received, by state when received.",
                                       {{"status", "firing"}})),
      received_resolved_(metrics.counter("sira_alerts_received_total",
                                         "Alerts received, by state when received.",
                                         {{"status", "resolved"}})),
      invalid_(metrics.counter("sira_alerts_invalid_total", "Alerts refused by validation.")),
      started_at_(clock.now_ms()) {}

std::vector<store::Migration> AlertService::migrations() {
  return {{"alerts", 1, "alerts and silences",
           "CREATE TABLE alerts ("
           " tenant_id TEXT NOT NULL, fingerprint TEXT NOT NULL, labels TEXT NOT NULL,"
           " annotations TEXT NOT NULL, starts_at INTEGER NOT NULL, ends_at INTEGER NOT NULL,"
           " updated_at INTEGER NOT NULL, timeout INTEGER NOT NULL, generator_url TEXT NOT NULL,"
           " PRIMARY KEY (tenant_id, fingerprint));"
           "CREATE TABLE silences ("
           " tenant_id TEXT NOT NULL, id TEXT NOT NULL, matchers TEXT NOT NULL,"
           " starts_at INTEGER NOT NULL, ends_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
           " created_by TEXT NOT NULL, comment TEXT NOT NULL, PRIMARY KEY (tenant_id, id));"},
          {"alerts", 3, "recurring silences",
           "ALTER TABLE silences ADD COLUMN recurrence TEXT NOT NULL DEFAULT '';"},
          {"alerts_journal", 1, "alert intake journal (group commit)",
           "CREATE TABLE alert_journal (batch INTEGER PRIMARY KEY, records INTEGER NOT NULL,"
           " body BLOB NOT NULL);"}};
}

void AlertService::mark(TenantState& t, uint64_t fp, StoredAlert& s, bool dirty) {
  if (!s.changed) {
    s.changed = true;
    t.changed.push_back(fp);
  }
  if (dirty && !s.dirty) {
    s.dirty = true;
    t.dirty.push_back(fp);
  }
}

AlertService::TenantState& AlertService::tenant(const std::string& tenant_id) {
  return tenants_[tenant_id];
}

Status AlertService::load() {
  std::lock_guard lock(mu_);
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
  SIRA_CHECK(
      tx->each("SELECT tenant_id, labels, annotations, starts_at, ends_at, updated_at, timeout, "
               "generator_url FROM alerts",
               {}, [&](const store::Row& r) {
                 StoredAlert s;
                 s.alert.labels = labels_from(r.str(1));
                 s.alert.annotations = labels_from(r.str(2));
                 s.alert.starts_at_ms = r.i64(3);
                 s.alert.ends_at_ms = r.i64(4);
                 s.alert.updated_at_ms = r.i64(5);
                 s.timeout = r.i64(6) != 0;
                 s.alert.generator_url = r.str(7);
                 s.alert.fp = fingerprint(s.alert.labels);
                 TenantState& t = tenant(r.str(0));
                 const uint64_t fp = s.alert.fp;
                 mark(t, fp, t.alerts[fp] = std::move(s), false);
                 return true;
               }));
  // The journal's tail: batches committed after the last checkpoint, oldest first. Each record
  // is an alert's whole merged state, so replaying is assigning.
  Status bad;
  uint64_t last_batch = 0;
  SIRA_CHECK(tx->each(
      "SELECT batch, body FROM alert_journal ORDER BY batch", {}, [&](const store::Row& r) {
        last_batch = static_cast<uint64_t>(r.i64(0));
        Reader in(r.str(1));
        bool unknown = false;
        while (!in.done() && in.ok()) {
          const uint8_t kind = in.u8();
          if (kind == kRecordTouch) {
            std::string tenant_id = in.str();
            const auto fp = static_cast<uint64_t>(in.i64());
            const int64_t starts = in.i64(), ends = in.i64(), updated = in.i64();
            const bool timeout = in.u8() != 0;
            if (!in.ok()) break;
            TenantState& t = tenant(tenant_id);
            auto it = t.alerts.find(fp);
            if (it == t.alerts.end()) continue;  // forgotten since (gc): nothing to update
            it->second.alert.starts_at_ms = starts;
            it->second.alert.ends_at_ms = ends;
            it->second.alert.updated_at_ms = updated;
            it->second.timeout = timeout;
            mark(t, fp, it->second, true);
            continue;
          }
          if (kind != kRecordAlert) {
            unknown = true;
            break;
          }
          std::string tenant_id = in.str();
          StoredAlert s;
          s.alert.starts_at_ms = in.i64();
          s.alert.ends_at_ms = in.i64();
          s.alert.updated_at_ms = in.i64();
          s.timeout = in.u8() != 0;
          s.alert.generator_url = in.str();
          s.alert.labels = in.labels();
          s.alert.annotations = in.labels();
          if (!in.ok()) break;
          s.alert.fp = fingerprint(s.alert.labels);
          TenantState& t = tenant(tenant_id);
          const uint64_t fp = s.alert.fp;
          mark(t, fp, t.alerts[fp] = std::move(s), true);
        }
        if (unknown || !in.ok() || !in.done()) {
          bad = fail(ErrorCode::kInternal,
                     "alert journal batch " + std::to_string(last_batch) + " is corrupt");
          return false;
        }
        return true;
      }));
  SIRA_CHECK(bad);
  {
    std::lock_guard jl(jmu_);
    pending_batch_ = last_batch + 1;
    durable_batch_ = last_batch;
  }
  SIRA_CHECK(tx->each(
      "SELECT tenant_id, id, matchers, starts_at, ends_at, updated_at, created_by, comment, "
      "recurrence FROM silences",
      {}, [&](const store::Row& r) {
        auto ms = matchers_from(r.str(2));
        if (!ms) {
          bad = std::unexpected(ms.error());
          return false;
        }
        Silence s;
        s.id = r.str(1);
        s.matchers = std::move(*ms);
        s.starts_at_ms = r.i64(3);
        s.ends_at_ms = r.i64(4);
        s.updated_at_ms = r.i64(5);
        s.created_by = r.str(6);
        s.comment = r.str(7);
        if (!r.str(8).empty()) {
          auto rec = parse_recurrence(r.str(8));
          if (!rec) {
            bad = std::unexpected(rec.error());
            return false;
          }
          s.recurrence = std::move(*rec);
          s.recurrence_json = r.str(8);
        }
        tenant(r.str(0)).silences[s.id] = std::move(s);
        return true;
      }));
  return bad;
}

Result<PostReport> AlertService::merge_alerts(const std::string& tenant_id,
                                              std::vector<Alert> alerts) {
  const int64_t now = clock_.now_ms();
  PostReport report;
  std::vector<std::pair<Alert, bool>> valid;
  valid.reserve(alerts.size());
  for (size_t i = 0; i < alerts.size(); ++i) {
    Alert& a = alerts[i];
    a.updated_at_ms = now;
    bool timeout = false;
    if (a.starts_at_ms == 0) a.starts_at_ms = a.ends_at_ms != 0 ? a.ends_at_ms : now;
    if (a.ends_at_ms == 0) {
      timeout = true;
      a.ends_at_ms = now + config_.global.resolve_timeout_ms;
    }
    if (auto st = validate_alert(a); !st) {
      report.errors.push_back("alert " + std::to_string(i) + ": " + st.error().detail);
      continue;
    }
    if (!a.labels.contains("alertname")) {
      report.errors.push_back("alert " + std::to_string(i) + ": label alertname is required");
      continue;
    }
    a.fp = fingerprint(a.labels);
    valid.emplace_back(std::move(a), timeout);
  }
  if (valid.empty()) return report;

  int64_t firing = 0;
  std::string records;
  records.reserve(valid.size() * 96);
  std::unique_lock lock(mu_);
  TenantState& t = tenant(tenant_id);
  // Merge with what is known (Alertmanager merges only when the time ranges overlap).
  for (auto& [a, timeout] : valid) {
    auto it = t.alerts.find(a.fp);
    if (it == t.alerts.end()) continue;
    const Alert& old = it->second.alert;
    const bool overlaps = (a.ends_at_ms > old.starts_at_ms && a.ends_at_ms < old.ends_at_ms) ||
                          (a.starts_at_ms > old.starts_at_ms && a.starts_at_ms < old.ends_at_ms);
    if (overlaps) merge_into(old, it->second.timeout, &a, &timeout, now);
  }
  // The merged states go to the pending journal batch, in the order they were merged (the
  // journal lock is taken inside the state's, so two POSTs of one alert land in their order).
  for (auto& [a, timeout] : valid) {
    if (!a.resolved_at(now)) ++firing;
    auto [it, fresh] = t.alerts.try_emplace(a.fp);
    StoredAlert& cur = it->second;
    // Same fingerprint = same labels (the fingerprint is the alert's identity, as in
    // Alertmanager), so only annotations and the generator URL can differ.
    if (!fresh && cur.alert.annotations == a.annotations &&
        cur.alert.generator_url == a.generator_url) {
      // Only its times changed (what a sender re-posting a firing alert does): a short record.
      encode_touch(records, tenant_id, a, timeout);
      cur.alert.starts_at_ms = a.starts_at_ms;
      cur.alert.ends_at_ms = a.ends_at_ms;
      cur.alert.updated_at_ms = a.updated_at_ms;
      cur.timeout = timeout;
    } else {
      encode_alert(records, tenant_id, a, timeout);
      cur.alert = std::move(a);
      cur.timeout = timeout;
    }
    mark(t, it->first, cur, true);
  }
  {
    std::lock_guard jl(jmu_);
    pending_.append(records);
    pending_records_ += static_cast<int64_t>(valid.size());
    report.batch = pending_batch_;
  }
  lock.unlock();
  jcv_.notify_one();
  report.accepted = static_cast<int64_t>(valid.size());
  received_firing_.inc(static_cast<double>(firing));
  received_resolved_.inc(static_cast<double>(report.accepted - firing));
  if (!report.errors.empty()) invalid_.inc(static_cast<double>(report.errors.size()));
  return report;
}

Result<PostReport> AlertService::put_alerts(const std::string& tenant_id,
                                            std::vector<Alert> alerts) {
  auto report = SIRA_TRY(merge_alerts(tenant_id, std::move(alerts)));
  if (report.batch != 0 && !writer_running_.load()) {
    SIRA_CHECK(commit_through(report.batch));
    report.batch = 0;
  }
  return report;
}

AlertStatus AlertService::status_of(const TenantState& t, const Alert& a, int64_t now,
                                    const std::vector<const Alert*>& firing) const {
  AlertStatus st;
  for (const Route* r : match_routes(config_.route, a.labels))
    if (std::find(st.receivers.begin(), st.receivers.end(), r->receiver) == st.receivers.end())
      st.receivers.push_back(r->receiver);
  for (const auto& [id, s] : t.silences)
    if (s.mutes(a.labels, now)) st.silenced_by.push_back(id);
  for (uint64_t fp : inhibitor_.inhibited_by(a.labels, firing, now))
    st.inhibited_by.push_back(fingerprint_hex(fp));
  st.state = st.silenced_by.empty() && st.inhibited_by.empty() ? "active" : "suppressed";
  return st;
}

std::vector<const Alert*> AlertService::firing_of(const TenantState& t, int64_t now) {
  std::vector<const Alert*> firing;
  for (const auto& [fp, s] : t.alerts)
    if (!s.alert.resolved_at(now)) firing.push_back(&s.alert);
  // By fingerprint, as Alertmanager lists them (the map itself is unordered).
  std::sort(firing.begin(), firing.end(),
            [](const Alert* a, const Alert* b) { return a->fp < b->fp; });
  return firing;
}

void AlertService::visit_views(
    const TenantState& t, const AlertFilter& filter, int64_t now,
    const std::function<void(const Alert&, const AlertStatus&)>& fn) const {
  std::vector<const Alert*> firing = firing_of(t, now);
  for (const Alert* a : firing) {
    if (!matches_all(filter.matchers, a->labels)) continue;
    AlertStatus st = status_of(t, *a, now, firing);
    if (filter.receiver) {
      bool any = false;
      for (const auto& r : st.receivers) any = any || filter.receiver->matches(r);
      if (!any) continue;
    }
    const bool silenced = !st.silenced_by.empty();
    const bool inhibited = !st.inhibited_by.empty();
    if (!filter.silenced && silenced) continue;
    if (!filter.inhibited && inhibited) continue;
    if (!filter.active && st.state == "active") continue;
    fn(*a, st);
  }
}

std::vector<AlertView> AlertService::views(const TenantState& t, const AlertFilter& filter,
                                           int64_t now) const {
  std::vector<AlertView> out;
  visit_views(t, filter, now, [&](const Alert& a, const AlertStatus& st) {
    out.push_back(AlertView{a, st});
  });
  return out;
}

Status AlertService::each_alert(const std::string& tenant_id, const AlertFilter& filter,
                                const std::function<void(const Alert&, const AlertStatus&)>& fn) {
  std::lock_guard lock(mu_);
  auto it = tenants_.find(tenant_id);
  if (it == tenants_.end()) return {};
  visit_views(it->second, filter, clock_.now_ms(), fn);
  return {};
}

Result<std::vector<AlertView>> AlertService::alerts(const std::string& tenant_id,
                                                    const AlertFilter& filter) {
  std::lock_guard lock(mu_);
  return views(tenant(tenant_id), filter, clock_.now_ms());
}

Result<std::vector<AlertGroupView>> AlertService::groups(const std::string& tenant_id,
                                                         const AlertFilter& filter) {
  std::lock_guard lock(mu_);
  const int64_t now = clock_.now_ms();
  std::map<std::pair<std::string, std::string>, AlertGroupView> by_key;  // (receiver, key)
  for (auto& v : views(tenant(tenant_id), filter, now)) {
    for (const Route* r : match_routes(config_.route, v.alert.labels)) {
      if (filter.receiver && !filter.receiver->matches(r->receiver)) continue;
      LabelSet gl = group_labels(*r, v.alert.labels);
      std::string key = group_key(*r, gl);
      auto& g = by_key[{r->receiver, key}];
      if (g.alerts.empty()) {
        g.labels = std::move(gl);
        g.receiver = r->receiver;
        g.group_key = key;
      }
      g.alerts.push_back(v);
    }
  }
  std::vector<AlertGroupView> out;
  for (auto& [k, g] : by_key) out.push_back(std::move(g));
  return out;
}

Status AlertService::write_silence(store::Transaction& tx, const std::string& tenant_id,
                                   const Silence& s) {
  SIRA_CHECK(tx.exec(
      "INSERT INTO silences (tenant_id, id, matchers, starts_at, ends_at, updated_at, created_by, "
      "comment, recurrence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, id) DO "
      "UPDATE SET matchers = excluded.matchers, starts_at = excluded.starts_at, "
      "ends_at = excluded.ends_at, updated_at = excluded.updated_at, "
      "created_by = excluded.created_by, comment = excluded.comment, "
      "recurrence = excluded.recurrence",
      {tenant_id, s.id, matchers_json(s.matchers), s.starts_at_ms, s.ends_at_ms, s.updated_at_ms,
       s.created_by, s.comment, s.recurrence_json}));
  return {};
}

Result<std::string> AlertService::put_silence(const std::string& tenant_id, Silence s,
                                              const std::string& actor) {
  std::optional<Silence> expired, created;
  auto id = put_silence_locked(tenant_id, std::move(s), actor, &expired, &created);
  if (id && silence_listener_) {
    if (expired) silence_listener_(tenant_id, *expired, false);
    if (created) silence_listener_(tenant_id, *created, true);
  }
  return id;
}

Result<std::string> AlertService::put_silence_locked(const std::string& tenant_id, Silence s,
                                                     const std::string& actor,
                                                     std::optional<Silence>* expired,
                                                     std::optional<Silence>* created_out) {
  const int64_t now = clock_.now_ms();
  if (s.starts_at_ms == 0) s.starts_at_ms = now;
  SIRA_CHECK(validate_silence(s));
  if (s.ends_at_ms < now)
    return fail(ErrorCode::kInvalidArgument, "end time can't be in the past", "endsAt");
  std::lock_guard lock(mu_);
  TenantState& t = tenant(tenant_id);
  std::optional<Silence> expired_prev;
  if (!s.id.empty()) {
    auto it = t.silences.find(s.id);
    if (it == t.silences.end())
      return fail(ErrorCode::kNotFound, "silence " + s.id + " not found", "id");
    const Silence& prev = it->second;
    bool can_update = same_matchers(prev.matchers, s.matchers);
    switch (prev.state(now)) {
      case Silence::State::kActive:
        can_update = can_update && s.starts_at_ms == prev.starts_at_ms && s.ends_at_ms >= now;
        break;
      case Silence::State::kPending:
        can_update = can_update && s.starts_at_ms >= now;
        break;
      case Silence::State::kExpired:
        can_update = false;
        break;
    }
    if (!can_update) {
      if (prev.state(now) != Silence::State::kExpired) {
        Silence e = prev;
        if (e.state(now) == Silence::State::kPending) e.starts_at_ms = now;
        e.ends_at_ms = now;
        e.updated_at_ms = now;
        expired_prev = std::move(e);
      }
      s.id.clear();
    }
  }
  const bool created = s.id.empty();
  if (created) {
    s.id = new_uuid();
    if (s.starts_at_ms < now) s.starts_at_ms = now;
  }
  s.updated_at_ms = now;
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  if (expired_prev) {
    SIRA_CHECK(write_silence(*tx, tenant_id, *expired_prev));
    SIRA_CHECK(audit_.append(*tx, tenant_id,
                             {actor, "silence.expire", "silence", expired_prev->id,
                              bj::serialize(bj::object{{"replacedBy", s.id}})}));
  }
  SIRA_CHECK(write_silence(*tx, tenant_id, s));
  bj::array ms;
  for (const auto& m : s.matchers) ms.push_back(bj::value(m.to_string()));
  SIRA_CHECK(
      audit_.append(*tx, tenant_id,
                    {actor, created ? "silence.create" : "silence.update", "silence", s.id,
                     bj::serialize(bj::object{{"matchers", ms},
                                              {"startsAt", format_rfc3339_ms(s.starts_at_ms)},
                                              {"endsAt", format_rfc3339_ms(s.ends_at_ms)},
                                              {"createdBy", s.created_by},
                                              {"comment", s.comment}})}));
  SIRA_CHECK(tx->commit());
  if (expired_prev) t.silences[expired_prev->id] = *expired_prev;
  *expired = expired_prev;
  if (created) *created_out = s;
  std::string id = s.id;
  t.silences[id] = std::move(s);
  return id;
}

Result<std::vector<Silence>> AlertService::silences(const std::string& tenant_id,
                                                    const std::vector<Matcher>& filter) {
  std::lock_guard lock(mu_);
  std::vector<Silence> out;
  for (const auto& [id, s] : tenant(tenant_id).silences) {
    // Alertmanager's filter: every filter matcher must match the silence's own matcher set,
    // read as labels (name -> value).
    LabelSet as_labels;
    for (const auto& m : s.matchers) as_labels[m.name()] = m.value();
    if (matches_all(filter, as_labels)) out.push_back(s);
  }
  return out;
}

Result<Silence> AlertService::silence(const std::string& tenant_id, const std::string& id) {
  std::lock_guard lock(mu_);
  auto& t = tenant(tenant_id);
  auto it = t.silences.find(id);
  if (it == t.silences.end()) return fail(ErrorCode::kNotFound, "silence " + id + " not found");
  return it->second;
}

Status AlertService::expire_silence(const std::string& tenant_id, const std::string& id,
                                    const std::string& actor) {
  std::optional<Silence> expired;
  SIRA_CHECK(expire_silence_locked(tenant_id, id, actor, &expired));
  if (expired && silence_listener_) silence_listener_(tenant_id, *expired, false);
  return {};
}

Status AlertService::expire_silence_locked(const std::string& tenant_id, const std::string& id,
                                           const std::string& actor,
                                           std::optional<Silence>* expired) {
  const int64_t now = clock_.now_ms();
  std::lock_guard lock(mu_);
  auto& t = tenant(tenant_id);
  auto it = t.silences.find(id);
  if (it == t.silences.end()) return fail(ErrorCode::kNotFound, "silence " + id + " not found");
  Silence s = it->second;
  switch (s.state(now)) {
    case Silence::State::kExpired:
      return fail(ErrorCode::kConflict, "silence " + id + " already expired");
    case Silence::State::kActive:
      s.ends_at_ms = now;
      break;
    case Silence::State::kPending:
      s.starts_at_ms = now;
      s.ends_at_ms = now;
      break;
  }
  s.updated_at_ms = now;
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  SIRA_CHECK(write_silence(*tx, tenant_id, s));
  SIRA_CHECK(audit_.append(*tx, tenant_id, {actor, "silence.expire", "silence", id, "{}"}));
  SIRA_CHECK(tx->commit());
  *expired = s;
  it->second = std::move(s);
  return {};
}

std::vector<AlertService::Snapshot> AlertService::snapshot() {
  std::lock_guard lock(mu_);
  const int64_t now = clock_.now_ms();
  std::vector<Snapshot> out;
  for (const auto& [tenant_id, t] : tenants_) {
    std::vector<const Alert*> firing = firing_of(t, now);
    std::vector<const StoredAlert*> all;
    all.reserve(t.alerts.size());
    for (const auto& [fp, s] : t.alerts) all.push_back(&s);
    std::sort(all.begin(), all.end(),
              [](const StoredAlert* a, const StoredAlert* b) { return a->alert.fp < b->alert.fp; });
    for (const StoredAlert* sp : all) {
      const StoredAlert& s = *sp;
      AlertView v{s.alert, {}};
      if (!s.alert.resolved_at(now)) {
        v.status = status_of(t, s.alert, now, firing);
      } else {
        v.status.state = "resolved";
      }
      out.push_back({tenant_id, std::move(v)});
    }
  }
  return out;
}

void AlertService::visit_changes(
    const std::function<void(const std::string& tenant_id, const Alert& alert)>& fn) {
  std::lock_guard lock(mu_);
  for (auto& [tenant_id, t] : tenants_) {
    for (uint64_t fp : t.changed)
      if (auto it = t.alerts.find(fp); it != t.alerts.end() && it->second.changed) {
        it->second.changed = false;
        fn(tenant_id, it->second.alert);
      }
    t.changed.clear();
  }
}

AlertService::Views AlertService::views_for(
    const std::vector<std::pair<std::string, uint64_t>>& keys) {
  std::lock_guard lock(mu_);
  const int64_t now = clock_.now_ms();
  Views out;
  // The firing alerts of a tenant, once per call, and only when inhibition needs them.
  std::map<std::string, std::vector<const Alert*>> firing;
  const bool inhibits = !config_.inhibit_rules.empty();
  for (const auto& key : keys) {
    auto tit = tenants_.find(key.first);
    if (tit == tenants_.end()) continue;
    const TenantState& t = tit->second;
    auto it = t.alerts.find(key.second);
    if (it == t.alerts.end()) continue;
    const Alert& a = it->second.alert;
    AlertView v{a, {}};
    if (a.resolved_at(now)) {
      v.status.state = "resolved";
    } else {
      for (const auto& [id, s] : t.silences)
        if (s.mutes(a.labels, now)) v.status.silenced_by.push_back(id);
      if (inhibits) {
        auto [fit, fresh] = firing.try_emplace(key.first);
        if (fresh) fit->second = firing_of(t, now);
        for (uint64_t fp : inhibitor_.inhibited_by(a.labels, fit->second, now))
          v.status.inhibited_by.push_back(fingerprint_hex(fp));
      }
      v.status.state =
          v.status.silenced_by.empty() && v.status.inhibited_by.empty() ? "active" : "suppressed";
    }
    out.emplace(key, std::move(v));
  }
  return out;
}

AlertService::~AlertService() {
  stop_writer();
}

void AlertService::start_writer() {
  if (writer_running_.exchange(true)) return;
  writer_ = std::jthread([this](std::stop_token stop) { writer_loop(stop); });
}

void AlertService::stop_writer() {
  if (!writer_running_.load()) return;
  writer_.request_stop();
  jcv_.notify_all();
  if (writer_.joinable()) writer_.join();
  writer_running_.store(false);
  // Whatever a POST appended after the writer's last pass, and the final checkpoint.
  if (auto st = commit_pending(); !st)
    log_warn("alert journal commit failed", {{"error", st.error().detail}});
  if (auto st = checkpoint(); !st)
    log_warn("alert checkpoint failed", {{"error", st.error().detail}});
}

void AlertService::writer_loop(std::stop_token stop) {
  // A checkpoint every kCheckpointEvery, or sooner once the journal holds kCheckpointBytes: an
  // alert re-sent many times in between is written to the table once.
  constexpr auto kCheckpointEvery = std::chrono::seconds(10);
  constexpr size_t kCheckpointBytes = 32 << 20;
  auto next_checkpoint = std::chrono::steady_clock::now() + kCheckpointEvery;
  size_t journal_bytes = 0;
  while (!stop.stop_requested()) {
    {
      std::unique_lock jl(jmu_);
      jcv_.wait_until(jl, stop, next_checkpoint, [this] { return !pending_.empty(); });
      journal_bytes += pending_.size();
    }
    if (auto st = commit_pending(); !st)
      log_warn("alert journal commit failed", {{"error", st.error().detail}});
    if (std::chrono::steady_clock::now() >= next_checkpoint || journal_bytes >= kCheckpointBytes) {
      if (auto st = checkpoint(); !st)
        log_warn("alert checkpoint failed", {{"error", st.error().detail}});
      next_checkpoint = std::chrono::steady_clock::now() + kCheckpointEvery;
      journal_bytes = 0;
    }
  }
}

Status AlertService::commit_pending() {
  std::lock_guard cl(commit_mu_);
  std::string body;
  int64_t records = 0;
  uint64_t batch = 0;
  {
    std::lock_guard jl(jmu_);
    if (pending_.empty()) return {};
    body.swap(pending_);
    records = pending_records_;
    pending_records_ = 0;
    batch = pending_batch_++;
  }
  Status st = [&]() -> Status {
    auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
    SIRA_CHECK(tx->exec("INSERT INTO alert_journal (batch, records, body) VALUES (?, ?, ?)",
                        {static_cast<int64_t>(batch), records, store::Blob{std::move(body)}}));
    return tx->commit();
  }();
  std::vector<std::function<void(Status)>> ready;
  {
    std::lock_guard jl(jmu_);
    durable_batch_ = batch;
    if (!st) {
      failed_.emplace(batch, st.error());
      while (failed_.size() > 1024) failed_.erase(failed_.begin());
    }
    auto end = waiters_.upper_bound(batch);
    for (auto it = waiters_.begin(); it != end; ++it) ready.push_back(std::move(it->second));
    waiters_.erase(waiters_.begin(), end);
  }
  metrics_.counter("sira_alerts_journal_commits_total", "Group commits of the alert journal.")
      .inc();
  metrics_
      .counter("sira_alerts_journal_records_total", "Alert states written to the alert journal.")
      .inc(static_cast<double>(records));
  for (auto& fn : ready) fn(st);
  return st;
}

Status AlertService::commit_through(uint64_t batch) {
  for (;;) {
    {
      std::lock_guard jl(jmu_);
      if (durable_batch_ >= batch) {
        auto f = failed_.find(batch);
        if (f != failed_.end()) return std::unexpected(f->second);
        return {};
      }
    }
    SIRA_CHECK(commit_pending());
  }
}

void AlertService::when_durable(uint64_t batch, std::function<void(Status)> fn) {
  Status st;
  {
    std::lock_guard jl(jmu_);
    if (batch > durable_batch_) {
      waiters_.emplace(batch, std::move(fn));
      return;
    }
    if (auto f = failed_.find(batch); f != failed_.end()) st = std::unexpected(f->second);
  }
  fn(st);
}

Status AlertService::checkpoint() {
  std::lock_guard cl(commit_mu_);
  struct Row {
    std::string tenant_id;
    StoredAlert s;
  };
  std::vector<Row> rows;
  std::vector<std::pair<std::string, uint64_t>> gone;
  uint64_t covered = 0;
  {
    std::lock_guard lock(mu_);
    {
      // Every batch up to the one being filled holds states already in memory, so the table
      // written from memory covers them all (a batch not yet committed is deleted before it
      // is written: harmless, its states are in the table).
      std::lock_guard jl(jmu_);
      covered = pending_.empty() ? pending_batch_ - 1 : pending_batch_;
    }
    for (auto& [tenant_id, t] : tenants_) {
      for (uint64_t fp : t.dirty) {
        auto it = t.alerts.find(fp);
        if (it == t.alerts.end()) {
          gone.emplace_back(tenant_id, fp);
        } else if (it->second.dirty) {
          it->second.dirty = false;
          rows.push_back({tenant_id, it->second});
        }
      }
      t.dirty.clear();
    }
    if (rows.empty() && gone.empty() && covered <= checkpointed_) return {};
  }
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  for (const auto& [tenant_id, s] : rows) {
    const Alert& a = s.alert;
    SIRA_CHECK(tx->exec(
        "INSERT INTO alerts (tenant_id, fingerprint, labels, annotations, starts_at, ends_at, "
        "updated_at, timeout, generator_url) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (tenant_id, fingerprint) DO UPDATE SET labels = excluded.labels, "
        "annotations = excluded.annotations, starts_at = excluded.starts_at, "
        "ends_at = excluded.ends_at, updated_at = excluded.updated_at, "
        "timeout = excluded.timeout, generator_url = excluded.generator_url",
        {tenant_id, fingerprint_hex(a.fp), labels_json(a.labels), labels_json(a.annotations),
         a.starts_at_ms, a.ends_at_ms, a.updated_at_ms, int64_t{s.timeout ? 1 : 0},
         a.generator_url}));
  }
  for (const auto& [tenant_id, fp] : gone)
    SIRA_CHECK(tx->exec("DELETE FROM alerts WHERE tenant_id = ? AND fingerprint = ?",
                        {tenant_id, fingerprint_hex(fp)}));
  SIRA_CHECK(
      tx->exec("DELETE FROM alert_journal WHERE batch <= ?", {static_cast<int64_t>(covered)}));
  if (auto st = tx->commit(); !st) {
    // Not written: keep them dirty for the next checkpoint (the journal still has them).
    std::lock_guard lock(mu_);
    for (const auto& r : rows) {
      TenantState& t = tenant(r.tenant_id);
      if (auto it = t.alerts.find(r.s.alert.fp); it != t.alerts.end())
        mark(t, it->first, it->second, true);
    }
    for (const auto& [tenant_id, fp] : gone) tenant(tenant_id).dirty.push_back(fp);
    return st;
  }
  checkpointed_ = covered;
  metrics_.counter("sira_alerts_checkpoints_total", "Checkpoints of the alert journal.").inc();
  return {};
}

Result<int64_t> AlertService::gc(int64_t resolved_before_ms) {
  // The journal first goes into the table, so no journal row brings a forgotten alert back.
  SIRA_CHECK(checkpoint());
  std::lock_guard cl(commit_mu_);
  std::lock_guard lock(mu_);
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  int64_t n = SIRA_TRY(tx->exec("DELETE FROM alerts WHERE ends_at < ?", {resolved_before_ms}));
  SIRA_CHECK(tx->commit());
  for (auto& [id, t] : tenants_)
    std::erase_if(t.alerts,
                  [&](const auto& kv) { return kv.second.alert.ends_at_ms < resolved_before_ms; });
  return n;
}

std::vector<std::string> AlertService::receiver_names() const {
  std::vector<std::string> out;
  for (const auto& r : config_.receivers) out.push_back(r.name);
  return out;
}

}  // namespace sira::alerts
