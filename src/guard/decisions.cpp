// Decisions, allowlist and bouncers: SQLite rows mirrored in memory for lookups.
#include "guard/decisions.h"

#include <arpa/inet.h>

#include <boost/json.hpp>
#include <cstring>
#include <unordered_map>

#include "core/crypto.h"
#include "core/ids.h"

namespace sira::guard {

namespace bj = boost::json;

std::string_view scope_name(Scope s) {
  switch (s) {
    case Scope::kKey: return "key";
    case Scope::kIp: return "ip";
    case Scope::kRange: return "range";
  }
  return "ip";
}

std::optional<Scope> parse_scope(std::string_view s) {
  if (s == "key") return Scope::kKey;
  if (s == "ip" || s == "Ip") return Scope::kIp;
  if (s == "range" || s == "Range") return Scope::kRange;
  return std::nullopt;
}

bool IpRange::parse(std::string_view text) {
  std::string addr(text);
  prefix = -1;
  auto slash = addr.find('/');
  if (slash != std::string::npos) {
    std::string bits = addr.substr(slash + 1);
    addr.resize(slash);
    if (bits.empty() || bits.size() > 3 || bits.find_first_not_of("0123456789") != std::string::npos)
      return false;
    prefix = std::stoi(bits);
  }
  std::memset(bytes, 0, sizeof bytes);
  in_addr v4;
  in6_addr v6;
  if (inet_pton(AF_INET, addr.c_str(), &v4) == 1) {
    bytes[10] = bytes[11] = 0xff;  // IPv4-mapped form
    std::memcpy(bytes + 12, &v4, 4);
    if (prefix > 32) return false;
    prefix = prefix < 0 ? 128 : prefix + 96;
  } else if (inet_pton(AF_INET6, addr.c_str(), &v6) == 1) {
    std::memcpy(bytes, &v6, 16);
    if (prefix > 128) return false;
    if (prefix < 0) prefix = 128;
  } else {
    return false;
  }
  // Zero the host bits so equal ranges compare equal.
  for (int i = 0; i < 16; ++i) {
    int keep = std::clamp(prefix - i * 8, 0, 8);
    bytes[i] &= static_cast<uint8_t>(0xff << (8 - keep));
  }
  return true;
}

std::string IpRange::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  bool v4 = true;
  for (int i = 0; i < 10; ++i) v4 = v4 && bytes[i] == 0;
  v4 = v4 && bytes[10] == 0xff && bytes[11] == 0xff && prefix >= 96;
  std::string out;
  if (v4) {
    inet_ntop(AF_INET, bytes + 12, buf, sizeof buf);
    out = buf;
    if (prefix < 128) out += "/" + std::to_string(prefix - 96);
  } else {
    inet_ntop(AF_INET6, bytes, buf, sizeof buf);
    out = buf;
    if (prefix < 128) out += "/" + std::to_string(prefix);
  }
  return out;
}

bool IpRange::contains(const IpRange& a) const {
  for (int i = 0; i < 16; ++i) {
    int keep = std::clamp(prefix - i * 8, 0, 8);
    if (keep == 0) break;
    uint8_t mask = static_cast<uint8_t>(0xff << (8 - keep));
    if ((a.bytes[i] & mask) != bytes[i]) return false;
  }
  return true;
}

namespace {

std::string ip_key(const IpRange& r) {
  return std::string(reinterpret_cast<const char*>(r.bytes), 16) + static_cast<char>(r.prefix);
}

constexpr const char* kDecisionCols =
    "seq, id, tenant_id, scope, value, type, rate_per_minute, origin, scenario, reason, event_id, "
    "created_at, expires_at, deleted_at";

Decision decision_from(const store::Row& r) {
  Decision d;
  d.seq = r.i64(0);
  d.id = r.str(1);
  d.tenant_id = r.str(2);
  d.scope = parse_scope(r.str(3)).value_or(Scope::kIp);
  d.value = r.str(4);
  d.type = r.str(5);
  d.rate_per_minute = r.i64(6);
  d.origin = r.str(7);
  d.scenario = r.str(8);
  d.reason = r.str(9);
  d.event_id = r.str(10);
  d.created_at = r.i64(11);
  d.expires_at = r.opt_i64(12);
  d.deleted_at = r.opt_i64(13);
  return d;
}

int strength(const Decision& d) { return d.type == "ban" ? 2 : 1; }

bj::object decision_details(const Decision& d) {
  bj::object o{{"scope", scope_name(d.scope)}, {"value", d.value}, {"type", d.type},
               {"origin", d.origin}, {"scenario", d.scenario}, {"reason", d.reason}};
  if (d.type == "throttle") o["rate_per_minute"] = d.rate_per_minute;
  if (d.expires_at) o["expires_at"] = *d.expires_at;
  if (!d.event_id.empty()) o["event_id"] = d.event_id;
  return o;
}

}  // namespace

struct Decisions::TenantState {
  std::map<std::string, Decision> active;  // by id
  std::unordered_map<std::string, std::vector<std::string>> by_key, by_ip;
  std::vector<std::pair<IpRange, std::string>> ranges;
  std::vector<AllowEntry> allow;
  std::vector<std::pair<IpRange, std::string>> allow_ranges;  // ips and ranges, by entry id
};

Decisions::Decisions(store::Database& db, audit::AuditLog& audit, const Clock& clock)
    : db_(db), audit_(audit), clock_(clock) {}

Decisions::~Decisions() = default;

std::vector<store::Migration> Decisions::migrations() {
  return {{"guard_decisions", 1, "decisions, allowlist and bouncers",
           "CREATE TABLE guard_decisions ("
           " seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
           " tenant_id TEXT NOT NULL, scope TEXT NOT NULL, value TEXT NOT NULL,"
           " type TEXT NOT NULL, rate_per_minute INTEGER NOT NULL DEFAULT 0,"
           " origin TEXT NOT NULL, scenario TEXT NOT NULL, reason TEXT NOT NULL,"
           " event_id TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL, expires_at INTEGER,"
           " deleted_at INTEGER);"
           "CREATE INDEX guard_decisions_value ON guard_decisions (tenant_id, scope, value);"
           "CREATE INDEX guard_decisions_created ON guard_decisions (tenant_id, created_at);"
           "CREATE INDEX guard_decisions_live ON guard_decisions (deleted_at, expires_at);"
           "CREATE TABLE guard_allowlist ("
           " id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, scope TEXT NOT NULL, value TEXT NOT NULL,"
           " reason TEXT NOT NULL, created_at INTEGER NOT NULL, UNIQUE (tenant_id, scope, value));"
           "CREATE TABLE guard_bouncers ("
           " id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL,"
           " key_hash BLOB NOT NULL UNIQUE, created_at INTEGER NOT NULL, last_pull_at INTEGER,"
           " deleted_at INTEGER);"}};
}

Decisions::TenantState& Decisions::state(const std::string& tenant_id) {
  auto& slot = tenants_[tenant_id];
  if (!slot) slot = std::make_unique<TenantState>();
  return *slot;
}

const Decisions::TenantState* Decisions::find(const std::string& tenant_id) const {
  auto it = tenants_.find(tenant_id);
  return it == tenants_.end() ? nullptr : it->second.get();
}

void Decisions::remember(const Decision& d) {
  TenantState& t = state(d.tenant_id);
  t.active[d.id] = d;
  if (d.scope == Scope::kKey) {
    t.by_key[d.value].push_back(d.id);
  } else {
    IpRange r;
    if (!r.parse(d.value)) return;
    if (d.scope == Scope::kIp) t.by_ip[ip_key(r)].push_back(d.id);
    else t.ranges.emplace_back(r, d.id);
  }
}

void Decisions::forget(const std::string& tenant_id, const std::string& id) {
  auto it = tenants_.find(tenant_id);
  if (it == tenants_.end()) return;
  TenantState& t = *it->second;
  auto d = t.active.find(id);
  if (d == t.active.end()) return;
  auto drop = [&id](std::vector<std::string>& v) { std::erase(v, id); };
  if (d->second.scope == Scope::kKey) {
    drop(t.by_key[d->second.value]);
  } else {
    IpRange r;
    if (r.parse(d->second.value)) drop(t.by_ip[ip_key(r)]);
    std::erase_if(t.ranges, [&id](const auto& p) { return p.second == id; });
  }
  t.active.erase(d);
}

Status Decisions::load() {
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
  int64_t now = clock_.now_ms();
  std::unique_lock lock(mu_);
  tenants_.clear();
  SIRA_CHECK(tx->each(std::string("SELECT ") + kDecisionCols +
                          " FROM guard_decisions WHERE deleted_at IS NULL AND "
                          "(expires_at IS NULL OR expires_at > ?)",
                      {now}, [&](const store::Row& r) {
                        remember(decision_from(r));
                        return true;
                      }));
  SIRA_CHECK(tx->each("SELECT id, tenant_id, scope, value, reason, created_at FROM guard_allowlist",
                      {}, [&](const store::Row& r) {
                        AllowEntry a{r.str(0), r.str(1), parse_scope(r.str(2)).value_or(Scope::kIp),
                                     r.str(3), r.str(4), r.i64(5)};
                        TenantState& t = state(a.tenant_id);
                        IpRange range;
                        if (a.scope != Scope::kKey && range.parse(a.value))
                          t.allow_ranges.emplace_back(range, a.id);
                        t.allow.push_back(std::move(a));
                        return true;
                      }));
  return {};
}

bool Decisions::allowlisted(const std::string& tenant_id, std::string_view key,
                            std::string_view ip) const {
  std::shared_lock lock(mu_);
  const TenantState* t = find(tenant_id);
  if (!t) return false;
  for (const auto& a : t->allow)
    if (a.scope == Scope::kKey && !key.empty() && a.value == key) return true;
  if (ip.empty() || t->allow_ranges.empty()) return false;
  IpRange addr;
  if (!addr.parse(ip)) return false;
  for (const auto& [range, id] : t->allow_ranges)
    if (range.contains(addr)) return true;
  return false;
}

Result<Decision> Decisions::add_in(store::Transaction& tx, const std::string& tenant_id,
                                   const std::string& actor, const NewDecision& in) {
  if (in.value.empty() || in.value.size() > 256)
    return fail(ErrorCode::kInvalidArgument, "value must be 1 to 256 characters", "value");
  if (in.type != "ban" && in.type != "throttle")
    return fail(ErrorCode::kInvalidArgument, "type must be ban or throttle", "type");
  if (in.type == "throttle" && (in.rate_per_minute < 1 || in.rate_per_minute > 1000000))
    return fail(ErrorCode::kInvalidArgument, "a throttle needs rate_per_minute 1..1000000",
                "rate_per_minute");
  if (in.duration_ms && (*in.duration_ms < 1000 || *in.duration_ms > 10LL * 365 * 86400 * 1000))
    return fail(ErrorCode::kInvalidArgument, "duration must be 1 s to 10 years", "duration");
  std::string value = in.value;
  if (in.scope != Scope::kKey) {
    IpRange r;
    if (!r.parse(value))
      return fail(ErrorCode::kInvalidArgument,
                  in.scope == Scope::kIp ? "value is not an IP address" : "value is not a CIDR range",
                  "value");
    if (in.scope == Scope::kIp && value.find('/') != std::string::npos)
      return fail(ErrorCode::kInvalidArgument, "an ip decision takes an address; use scope range",
                  "value");
    if (in.scope == Scope::kRange && value.find('/') == std::string::npos)
      return fail(ErrorCode::kInvalidArgument, "a range decision takes CIDR notation", "value");
    // One spelling per address or range ("2001:DB8::1" and "2001:db8::1" are the same target).
    value = r.to_string();
  }
  bool allowed = in.scope == Scope::kKey ? allowlisted(tenant_id, value, {})
                                         : allowlisted(tenant_id, {}, value);
  if (allowed)
    return fail(ErrorCode::kConflict, std::string(scope_name(in.scope)) + " " + value +
                                          " is allowlisted; remove it from the allowlist first");
  int64_t now = clock_.now_ms();
  Decision d;
  d.id = new_id("dec", clock_);
  d.tenant_id = tenant_id;
  d.scope = in.scope;
  d.value = value;
  d.type = in.type;
  d.rate_per_minute = in.type == "throttle" ? in.rate_per_minute : 0;
  d.origin = in.origin;
  d.scenario = in.scenario;
  d.reason = in.reason;
  d.event_id = in.event_id;
  d.created_at = now;
  if (in.duration_ms) d.expires_at = now + *in.duration_ms;

  // An existing active decision on the same target is superseded when the new one is at least
  // as strong and lasts at least as long; otherwise the stronger existing one stays.
  std::vector<Decision> superseded;
  {
    std::shared_lock lock(mu_);
    if (const TenantState* t = find(tenant_id)) {
      // Only the decisions on this very target, through the indexes.
      std::vector<std::string> ids;
      if (d.scope == Scope::kKey) {
        if (auto it = t->by_key.find(d.value); it != t->by_key.end()) ids = it->second;
      } else {
        IpRange r;
        r.parse(d.value);
        if (auto it = t->by_ip.find(ip_key(r)); it != t->by_ip.end()) ids = it->second;
        if (d.scope == Scope::kRange)
          for (const auto& [range, id] : t->ranges)
            if (ip_key(range) == ip_key(r)) ids.push_back(id);
      }
      for (const auto& id : ids) {
        auto found = t->active.find(id);
        if (found == t->active.end()) continue;
        const Decision& old = found->second;
        if (old.scope != d.scope || old.value != d.value || !old.active(now)) continue;
        bool longer = !d.expires_at || (old.expires_at && *d.expires_at >= *old.expires_at);
        if (strength(d) >= strength(old) && longer) superseded.push_back(old);
        else
          return fail(ErrorCode::kConflict, "a stronger or longer decision " + old.id +
                                                " is already active on " + d.value);
      }
    }
  }
  SIRA_CHECK(tx.exec(
      "INSERT INTO guard_decisions (id, tenant_id, scope, value, type, rate_per_minute, origin, "
      "scenario, reason, event_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
      "?, ?)",
      {d.id, tenant_id, std::string(scope_name(d.scope)), d.value, d.type, d.rate_per_minute,
       d.origin, d.scenario, d.reason, d.event_id, now,
       d.expires_at ? store::Value(*d.expires_at) : store::Value(nullptr)}));
  auto seq = SIRA_TRY(tx.query_one("SELECT seq FROM guard_decisions WHERE id = ?", {d.id}));
  d.seq = seq ? seq->i64(0) : 0;
  for (const auto& old : superseded) {
    SIRA_CHECK(tx.exec("UPDATE guard_decisions SET deleted_at = ? WHERE id = ?", {now, old.id}));
    SIRA_CHECK(audit_.append(tx, tenant_id,
                             {actor, "decision.supersede", "decision", old.id,
                              bj::serialize(bj::object{{"by", d.id}})}));
  }
  SIRA_CHECK(audit_.append(tx, tenant_id,
                           {actor, "decision.create", "decision", d.id,
                            bj::serialize(decision_details(d))}));
  tx.after_commit([this, d, superseded] {
    std::unique_lock lock(mu_);
    for (const auto& old : superseded) forget(old.tenant_id, old.id);
    remember(d);
  });
  return d;
}

Result<Decision> Decisions::add(const std::string& tenant_id, const std::string& actor,
                                const NewDecision& in) {
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  auto d = SIRA_TRY(add_in(*tx, tenant_id, actor, in));
  SIRA_CHECK(tx->commit());
  return d;
}

Status Decisions::remove(const std::string& tenant_id, const std::string& actor,
                         const std::string& id) {
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  int64_t now = clock_.now_ms();
  auto n = SIRA_TRY(tx->exec("UPDATE guard_decisions SET deleted_at = ? WHERE tenant_id = ? AND "
                             "id = ? AND deleted_at IS NULL AND (expires_at IS NULL OR expires_at > ?)",
                             {now, tenant_id, id, now}));
  if (n == 0) return fail(ErrorCode::kNotFound, "no active decision " + id);
  SIRA_CHECK(audit_.append(*tx, tenant_id, {actor, "decision.delete", "decision", id, "{}"}));
  SIRA_CHECK(tx->commit());
  std::unique_lock lock(mu_);
  forget(tenant_id, id);
  return {};
}

Result<Decision> Decisions::get(const std::string& tenant_id, const std::string& id) const {
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
  auto row = SIRA_TRY(tx->query_one(std::string("SELECT ") + kDecisionCols +
                                        " FROM guard_decisions WHERE tenant_id = ? AND id = ?",
                                    {tenant_id, id}));
  if (!row) return fail(ErrorCode::kNotFound, "no decision " + id);
  return decision_from(*row);
}

std::vector<Decision> Decisions::active(const std::string& tenant_id) const {
  int64_t now = clock_.now_ms();
  std::shared_lock lock(mu_);
  std::vector<Decision> out;
  if (const TenantState* t = find(tenant_id))
    for (const auto& [id, d] : t->active)
      if (d.active(now)) out.push_back(d);
  return out;
}

Verdict Decisions::lookup(const std::string& tenant_id, std::string_view key,
                          std::string_view ip) const {
  Verdict v;
  if (allowlisted(tenant_id, key, ip)) {
    v.allowlisted = true;
    return v;
  }
  int64_t now = clock_.now_ms();
  std::shared_lock lock(mu_);
  const TenantState* t = find(tenant_id);
  if (!t) return v;
  auto consider = [&](const std::string& id) {
    auto it = t->active.find(id);
    if (it == t->active.end() || !it->second.active(now)) return;
    v.matched.push_back(it->second);
  };
  if (!key.empty()) {
    auto it = t->by_key.find(std::string(key));
    if (it != t->by_key.end())
      for (const auto& id : it->second) consider(id);
  }
  IpRange addr;
  if (!ip.empty() && addr.parse(ip) && ip.find('/') == std::string_view::npos) {
    auto it = t->by_ip.find(ip_key(addr));
    if (it != t->by_ip.end())
      for (const auto& id : it->second) consider(id);
    for (const auto& [range, id] : t->ranges)
      if (range.contains(addr)) consider(id);
  }
  for (const auto& d : v.matched) {
    if (d.type == "ban") {
      if (v.action != "ban" || (v.expires_at && (!d.expires_at || *d.expires_at > *v.expires_at)))
        v.expires_at = d.expires_at;
      v.action = "ban";
      v.rate_per_minute = 0;
    } else if (v.action != "ban") {
      if (v.action == "allow" || d.rate_per_minute < v.rate_per_minute) {
        v.rate_per_minute = d.rate_per_minute;
        v.expires_at = d.expires_at;
      }
      v.action = "throttle";
    }
  }
  return v;
}

Result<int64_t> Decisions::prior_count(const std::string& tenant_id, Scope scope,
                                       const std::string& value, int64_t since_ms) const {
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
  auto row = SIRA_TRY(tx->query_one(
      "SELECT COUNT(*) FROM guard_decisions WHERE tenant_id = ? AND scope = ? AND value = ? AND "
      "created_at >= ?",
      {tenant_id, std::string(scope_name(scope)), value, since_ms}));
  return row ? row->i64(0) : 0;
}

Result<AllowEntry> Decisions::allow(const std::string& tenant_id, const std::string& actor,
                                    Scope scope, const std::string& value,
                                    const std::string& reason) {
  if (value.empty() || value.size() > 256)
    return fail(ErrorCode::kInvalidArgument, "value must be 1 to 256 characters", "value");
  IpRange range;
  if (scope != Scope::kKey && !range.parse(value))
    return fail(ErrorCode::kInvalidArgument, "value is not an IP address or CIDR range", "value");
  AllowEntry a{new_id("alw", clock_), tenant_id, scope, value, reason, clock_.now_ms()};
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  auto ins = tx->exec("INSERT INTO guard_allowlist (id, tenant_id, scope, value, reason, created_at) "
                      "VALUES (?, ?, ?, ?, ?, ?)",
                      {a.id, tenant_id, std::string(scope_name(scope)), value, reason, a.created_at});
  if (!ins && ins.error().code == ErrorCode::kConflict)
    return fail(ErrorCode::kConflict, value + " is already allowlisted");
  SIRA_CHECK(ins);
  SIRA_CHECK(audit_.append(*tx, tenant_id,
                           {actor, "allowlist.add", "allowlist", a.id,
                            bj::serialize(bj::object{{"scope", scope_name(scope)},
                                                     {"value", value},
                                                     {"reason", reason}})}));
  SIRA_CHECK(tx->commit());
  std::unique_lock lock(mu_);
  TenantState& t = state(tenant_id);
  if (scope != Scope::kKey) t.allow_ranges.emplace_back(range, a.id);
  t.allow.push_back(a);
  return a;
}

Status Decisions::unallow(const std::string& tenant_id, const std::string& actor,
                          const std::string& id) {
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  auto n = SIRA_TRY(tx->exec("DELETE FROM guard_allowlist WHERE tenant_id = ? AND id = ?",
                             {tenant_id, id}));
  if (n == 0) return fail(ErrorCode::kNotFound, "no allowlist entry " + id);
  SIRA_CHECK(audit_.append(*tx, tenant_id, {actor, "allowlist.remove", "allowlist", id, "{}"}));
  SIRA_CHECK(tx->commit());
  std::unique_lock lock(mu_);
  TenantState& t = state(tenant_id);
  std::erase_if(t.allow, [&id](const AllowEntry& a) { return a.id == id; });
  std::erase_if(t.allow_ranges, [&id](const auto& p) { return p.second == id; });
  return {};
}

std::vector<AllowEntry> Decisions::allowlist(const std::string& tenant_id) const {
  std::shared_lock lock(mu_);
  const TenantState* t = find(tenant_id);
  return t ? t->allow : std::vector<AllowEntry>{};
}

Result<std::pair<Bouncer, std::string>> Decisions::add_bouncer(const std::string& tenant_id,
                                                               const std::string& actor,
                                                               const std::string& name) {
  if (name.empty() || name.size() > 200)
    return fail(ErrorCode::kInvalidArgument, "name must be 1 to 200 characters", "name");
  Bouncer b{new_id("bnc", clock_), tenant_id, name, clock_.now_ms(), std::nullopt};
  // CrowdSec bouncer keys are plain alphanumerics; hex keeps every client happy.
  std::string secret = hex_encode(random_bytes(24));
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  SIRA_CHECK(tx->exec("INSERT INTO guard_bouncers (id, tenant_id, name, key_hash, created_at) "
                      "VALUES (?, ?, ?, ?, ?)",
                      {b.id, tenant_id, name, store::Blob{sha256_bytes(secret)}, b.created_at}));
  SIRA_CHECK(audit_.append(*tx, tenant_id,
                           {actor, "bouncer.create", "bouncer", b.id,
                            bj::serialize(bj::object{{"name", name}})}));
  SIRA_CHECK(tx->commit());
  return std::make_pair(b, secret);
}

Result<Bouncer> Decisions::authenticate_bouncer(std::string_view api_key) const {
  if (api_key.empty() || api_key.size() > 200)
    return fail(ErrorCode::kUnauthorized, "invalid bouncer API key");
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
  auto row = SIRA_TRY(tx->query_one(
      "SELECT id, tenant_id, name, created_at, last_pull_at FROM guard_bouncers WHERE key_hash = ? "
      "AND deleted_at IS NULL",
      {store::Blob{sha256_bytes(api_key)}}));
  if (!row) return fail(ErrorCode::kUnauthorized, "invalid bouncer API key");
  return Bouncer{row->str(0), row->str(1), row->str(2), row->i64(3), row->opt_i64(4)};
}

Result<std::vector<Bouncer>> Decisions::bouncers(const std::string& tenant_id) const {
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
  auto rows = SIRA_TRY(tx->query(
      "SELECT id, tenant_id, name, created_at, last_pull_at FROM guard_bouncers WHERE tenant_id = ? "
      "AND deleted_at IS NULL ORDER BY id",
      {tenant_id}));
  std::vector<Bouncer> out;
  for (const auto& r : rows) out.push_back({r.str(0), r.str(1), r.str(2), r.i64(3), r.opt_i64(4)});
  return out;
}

Status Decisions::delete_bouncer(const std::string& tenant_id, const std::string& actor,
                                 const std::string& id) {
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  auto n = SIRA_TRY(tx->exec("UPDATE guard_bouncers SET deleted_at = ? WHERE tenant_id = ? AND "
                             "id = ? AND deleted_at IS NULL",
                             {clock_.now_ms(), tenant_id, id}));
  if (n == 0) return fail(ErrorCode::kNotFound, "no bouncer " + id);
  SIRA_CHECK(audit_.append(*tx, tenant_id, {actor, "bouncer.delete", "bouncer", id, "{}"}));
  return tx->commit();
}

Result<StreamResult> Decisions::stream(const Bouncer& b, bool startup) {
  int64_t now = clock_.now_ms();
  StreamResult out;
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  auto last = SIRA_TRY(tx->query_one("SELECT last_pull_at FROM guard_bouncers WHERE id = ?", {b.id}));
  // A bouncer that never pulled gets the full startup list.
  bool first_pull = !last || last->is_null(0);
  int64_t since = first_pull ? 0 : last->i64(0);
  std::string cols = std::string("SELECT ") + kDecisionCols + " FROM guard_decisions ";
  if (startup || first_pull) {
    SIRA_CHECK(tx->each(cols + "WHERE tenant_id = ? AND scope IN ('ip', 'range') AND deleted_at IS "
                               "NULL AND (expires_at IS NULL OR expires_at > ?) ORDER BY seq",
                        {b.tenant_id, now}, [&](const store::Row& r) {
                          out.added.push_back(decision_from(r));
                          return true;
                        }));
  } else {
    SIRA_CHECK(tx->each(cols + "WHERE tenant_id = ? AND scope IN ('ip', 'range') AND created_at >= ? "
                               "AND deleted_at IS NULL AND (expires_at IS NULL OR expires_at > ?) "
                               "ORDER BY seq",
                        {b.tenant_id, since, now}, [&](const store::Row& r) {
                          out.added.push_back(decision_from(r));
                          return true;
                        }));
    SIRA_CHECK(tx->each(cols + "WHERE tenant_id = ? AND scope IN ('ip', 'range') AND created_at < ? "
                               "AND ((deleted_at >= ? AND deleted_at <= ?) OR (deleted_at IS NULL "
                               "AND expires_at >= ? AND expires_at <= ?)) ORDER BY seq",
                        {b.tenant_id, now, since, now, since, now}, [&](const store::Row& r) {
                          out.deleted.push_back(decision_from(r));
                          return true;
                        }));
  }
  SIRA_CHECK(tx->exec("UPDATE guard_bouncers SET last_pull_at = ? WHERE id = ?", {now, b.id}));
  SIRA_CHECK(tx->commit());
  return out;
}

Status Decisions::sweep_expired() {
  int64_t now = clock_.now_ms();
  std::vector<std::pair<std::string, std::string>> expired;
  {
    std::shared_lock lock(mu_);
    for (const auto& [tenant, t] : tenants_)
      for (const auto& [id, d] : t->active)
        if (!d.active(now)) expired.emplace_back(tenant, id);
  }
  if (expired.empty()) return {};
  std::unique_lock lock(mu_);
  for (const auto& [tenant, id] : expired) forget(tenant, id);
  return {};
}

}  // namespace sira::guard
