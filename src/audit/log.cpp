// Audit log: storage, in-memory Merkle trees, signed heads, verification and freezing.
#include "audit/log.h"

#include <boost/json.hpp>
#include <set>

#include "core/log.h"

namespace sira::audit {

namespace {

constexpr const char* kSelectEntries =
    "SELECT idx, time_ms, actor, action, target_type, target_id, details, leaf_hash "
    "FROM audit_entries WHERE tenant_id = ? ORDER BY idx";

std::string json_string(std::string_view s) { return boost::json::serialize(boost::json::string(s)); }

Hash256 to_hash(const std::string& bytes) {
  Hash256 h{};
  if (bytes.size() == h.size()) std::memcpy(h.data(), bytes.data(), h.size());
  return h;
}

Entry entry_from_row(const std::string& tenant, const store::Row& r) {
  Entry e;
  e.tenant_id = tenant;
  e.index = r.i64(0);
  e.time_ms = r.i64(1);
  e.actor = r.str(2);
  e.action = r.str(3);
  e.target_type = r.str(4);
  e.target_id = r.str(5);
  e.details_json = r.str(6);
  return e;
}

Result<std::vector<TreeHead>> load_heads(store::Transaction& tx, const std::string& tenant) {
  auto rows = SIRA_TRY(tx.query(
      "SELECT tree_size, root_hash, timestamp_ms, signature, key_id FROM audit_heads "
      "WHERE tenant_id = ? ORDER BY tree_size",
      {tenant}));
  std::vector<TreeHead> out;
  for (const auto& r : rows) {
    TreeHead h;
    h.tenant_id = tenant;
    h.tree_size = r.i64(0);
    h.root = to_hash(r.str(1));
    h.timestamp_ms = r.i64(2);
    h.signature = r.str(3);
    h.key_id = r.str(4);
    out.push_back(std::move(h));
  }
  return out;
}

Status insert_entry(store::Transaction& tx, const Entry& e, const Hash256& leaf) {
  SIRA_CHECK(tx.exec(
      "INSERT INTO audit_entries (tenant_id, idx, time_ms, actor, action, target_type, "
      "target_id, details, leaf_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {e.tenant_id, e.index, e.time_ms, e.actor, e.action, e.target_type, e.target_id,
       e.details_json, store::Blob{hash_bytes(leaf)}}));
  return {};
}

Status insert_head(store::Transaction& tx, const TreeHead& h) {
  SIRA_CHECK(tx.exec(
      "INSERT INTO audit_heads (tenant_id, tree_size, root_hash, timestamp_ms, signature, key_id) "
      "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, tree_size) DO UPDATE SET "
      "root_hash = excluded.root_hash, timestamp_ms = excluded.timestamp_ms, "
      "signature = excluded.signature, key_id = excluded.key_id",
      {h.tenant_id, h.tree_size, store::Blob{hash_bytes(h.root)}, h.timestamp_ms,
       store::Blob{h.signature}, h.key_id}));
  return {};
}

// Recomputes a tenant's tree from the store into *tree and checks it against the stored leaf
// hashes and the newest signed head. `verify_sig` checks a head's signature.
Result<VerifyReport> verify_tenant(store::Transaction& tx, const std::string& tenant,
                                   const std::function<bool(const TreeHead&)>& verify_sig,
                                   MerkleTree* tree, bool must_exist = false) {
  VerifyReport rep;
  rep.tenant_id = tenant;
  auto bad = [&](int64_t index, std::string reason) {
    if (rep.ok) {
      rep.ok = false;
      rep.first_bad_index = index;
      rep.reason = std::move(reason);
    }
  };
  int64_t expected = 0;
  SIRA_CHECK(tx.each(kSelectEntries, {tenant}, [&](const store::Row& r) {
    Entry e = entry_from_row(tenant, r);
    if (e.index != expected) {
      bad(expected, e.index > expected ? "entry missing (deleted)" : "entry index out of order");
      return false;
    }
    Hash256 leaf = leaf_hash(canonical_entry(e));
    if (hash_bytes(leaf) != r.str(7)) {
      bad(e.index, "entry altered (content does not match its leaf hash)");
      return false;
    }
    tree->append(leaf);
    ++expected;
    return true;
  }));
  rep.entries = expected;
  if (!rep.ok) return rep;

  auto heads = SIRA_TRY(load_heads(tx, tenant));
  if (heads.empty()) {
    if (expected > 0) bad(0, "entries exist but no signed tree head covers them");
    else if (must_exist) bad(0, "the tenant's audit log is missing entirely (deleted)");
    return rep;
  }
  const TreeHead& newest = heads.back();
  rep.head = newest;
  if (!verify_sig(newest)) {
    bad(0, "newest signed tree head has an invalid signature");
    return rep;
  }
  if (newest.tree_size > expected) {
    bad(expected, "entries missing at the end of the log (deleted)");
    return rep;
  }
  if (tree->root(newest.tree_size) == newest.root) {
    if (newest.tree_size < expected)
      bad(newest.tree_size, "entries not covered by any signed tree head (inserted)");
    return rep;
  }
  // Stored leaf hashes were rewritten along with the entries. Heads are prefixes of one
  // append-only log, so the first head whose root differs bounds the tampering.
  size_t lo = 0, hi = heads.size() - 1;  // heads[hi] mismatches
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    const auto& h = heads[mid];
    bool good = verify_sig(h) && h.tree_size <= expected && tree->root(h.tree_size) == h.root;
    if (good) lo = mid + 1;
    else hi = mid;
  }
  int64_t from = lo == 0 ? 0 : heads[lo - 1].tree_size;
  bad(from, "tree root does not match the signed tree head of size " +
                std::to_string(heads[lo].tree_size) + " (entries and hashes rewritten)");
  return rep;
}

Result<std::vector<std::string>> list_tenants(store::Transaction& tx,
                                              const std::vector<std::string>& expected = {}) {
  auto rows = SIRA_TRY(tx.query(
      "SELECT tenant_id FROM audit_entries GROUP BY tenant_id UNION "
      "SELECT tenant_id FROM audit_heads GROUP BY tenant_id ORDER BY 1"));
  std::set<std::string> ids(expected.begin(), expected.end());
  for (const auto& r : rows) ids.insert(r.str(0));
  return std::vector<std::string>(ids.begin(), ids.end());
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

std::string canonical_entry(const Entry& e) {
  std::string out;
  out.reserve(160 + e.details_json.size());
  out += "{\"tenant\":";
  out += json_string(e.tenant_id);
  out += ",\"index\":";
  out += std::to_string(e.index);
  out += ",\"time\":";
  out += std::to_string(e.time_ms);
  out += ",\"actor\":";
  out += json_string(e.actor);
  out += ",\"action\":";
  out += json_string(e.action);
  out += ",\"target_type\":";
  out += json_string(e.target_type);
  out += ",\"target_id\":";
  out += json_string(e.target_id);
  out += ",\"details\":";
  out += e.details_json.empty() ? "{}" : e.details_json;
  out += "}";
  return out;
}

std::string tree_head_message(const TreeHead& h) {
  return "sira-tree-head-v1\n" + h.tenant_id + "\n" + std::to_string(h.tree_size) + "\n" +
         hex_encode(h.root) + "\n" + std::to_string(h.timestamp_ms) + "\n";
}

struct AuditLog::TenantLog {
  std::string id;
  mutable std::shared_mutex mu;
  MerkleTree tree;            // may hold uncommitted leaves of the open write transaction
  uint64_t committed = 0;     // leaves visible to readers
  std::optional<TreeHead> head;
  std::atomic<bool> frozen{false};
  VerifyReport failure;
  Gauge* size_gauge = nullptr;
  Gauge* frozen_gauge = nullptr;
};

AuditLog::AuditLog(store::Database& db, const Signer& signer, const Clock& clock,
                   MetricsRegistry& metrics)
    : db_(db),
      signer_(signer),
      clock_(clock),
      metrics_(metrics),
      integrity_failed_(metrics.counter("audit_chain_integrity_failed_total",
                                        "Audit log verifications that found tampering or "
                                        "corruption (seed 003 AuditHashChainBroken).")) {}

AuditLog::~AuditLog() = default;

std::vector<store::Migration> AuditLog::migrations() {
  return {{"audit", 1, "audit entries and signed tree heads",
           "CREATE TABLE audit_entries ("
           " tenant_id TEXT NOT NULL, idx INTEGER NOT NULL, time_ms INTEGER NOT NULL,"
           " actor TEXT NOT NULL, action TEXT NOT NULL, target_type TEXT NOT NULL,"
           " target_id TEXT NOT NULL, details TEXT NOT NULL, leaf_hash BLOB NOT NULL,"
           " PRIMARY KEY (tenant_id, idx));"
           "CREATE INDEX audit_entries_time ON audit_entries (tenant_id, time_ms);"
           "CREATE INDEX audit_entries_action ON audit_entries (tenant_id, action);"
           "CREATE TABLE audit_heads ("
           " tenant_id TEXT NOT NULL, tree_size INTEGER NOT NULL, root_hash BLOB NOT NULL,"
           " timestamp_ms INTEGER NOT NULL, signature BLOB NOT NULL, key_id TEXT NOT NULL,"
           " PRIMARY KEY (tenant_id, tree_size));"}};
}

AuditLog::TenantLog& AuditLog::tenant(const std::string& tenant_id) {
  {
    std::shared_lock lock(map_mu_);
    auto it = tenants_.find(tenant_id);
    if (it != tenants_.end()) return *it->second;
  }
  std::unique_lock lock(map_mu_);
  auto& slot = tenants_[tenant_id];
  if (!slot) {
    slot = std::make_unique<TenantLog>();
    slot->id = tenant_id;
    slot->size_gauge = &metrics_.gauge("sira_audit_tree_size",
                                       "Committed entries in the tenant's audit log.",
                                       {{"tenant", tenant_id}});
    slot->frozen_gauge = &metrics_.gauge(
        "sira_audit_frozen", "1 when the tenant's audit writes are frozen after a failed "
                             "verification.",
        {{"tenant", tenant_id}});
  }
  return *slot;
}

const AuditLog::TenantLog* AuditLog::find(const std::string& tenant_id) const {
  std::shared_lock lock(map_mu_);
  auto it = tenants_.find(tenant_id);
  return it == tenants_.end() ? nullptr : it->second.get();
}

void AuditLog::freeze(TenantLog& t, const VerifyReport& report) {
  integrity_failed_.inc();
  {
    std::unique_lock lock(t.mu);
    t.failure = report;
  }
  t.frozen = true;
  t.frozen_gauge->set(1);
  log_error("audit log verification failed; tenant audit writes frozen",
            {{"tenant", t.id},
             {"first_bad_index", std::to_string(report.first_bad_index)},
             {"reason", report.reason}});
}

Result<std::vector<VerifyReport>> AuditLog::open(const std::vector<std::string>& expected) {
  std::vector<VerifyReport> reports;
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
  auto tenants = SIRA_TRY(list_tenants(*tx, expected));
  auto check = [this](const TreeHead& h) {
    return signer_.verify(tree_head_message(h), h.signature);
  };
  for (const auto& id : tenants) {
    MerkleTree tree;
    auto rep = SIRA_TRY(verify_tenant(*tx, id, check, &tree, contains(expected, id)));
    TenantLog& t = tenant(id);
    {
      std::unique_lock lock(t.mu);
      t.tree = std::move(tree);
      t.committed = t.tree.size();
      t.head = rep.head;
    }
    t.size_gauge->set(static_cast<double>(t.committed));
    if (!rep.ok) freeze(t, rep);
    reports.push_back(std::move(rep));
  }
  return reports;
}

Status AuditLog::append(store::Transaction& tx, const std::string& tenant_id,
                        const EntryInput& in) {
  if (!tx.is_write()) return fail(ErrorCode::kInternal, "audit append outside a write transaction");
  TenantLog& t = tenant(tenant_id);
  if (t.frozen) {
    std::shared_lock lock(t.mu);
    return fail(ErrorCode::kAuditFrozen,
                "audit log of tenant " + tenant_id + " failed verification at index " +
                    std::to_string(t.failure.first_bad_index) + " (" + t.failure.reason +
                    "); writes are frozen until an admin acknowledges it "
                    "(POST /api/v1/audit/acknowledge)");
  }
  bool seen_in_tx = false;
  {
    std::lock_guard lock(pending_mu_);
    auto it = pending_.find(&tx);
    seen_in_tx = it != pending_.end() &&
                 std::find(it->second.begin(), it->second.end(), tenant_id) != it->second.end();
  }
  if (!seen_in_tx) SIRA_CHECK(reconcile(tx, t));
  Entry e;
  e.tenant_id = tenant_id;
  e.index = static_cast<int64_t>(t.tree.size());  // only the single writer changes the size
  e.time_ms = clock_.now_ms();
  e.actor = in.actor;
  e.action = in.action;
  e.target_type = in.target_type;
  e.target_id = in.target_id;
  e.details_json = in.details_json.empty() ? "{}" : in.details_json;
  Hash256 leaf = leaf_hash(canonical_entry(e));
  SIRA_CHECK(insert_entry(tx, e, leaf));
  {
    std::unique_lock lock(t.mu);
    t.tree.append(leaf);
  }

  bool first = false;
  {
    std::lock_guard lock(pending_mu_);
    auto& list = pending_[&tx];
    if (std::find(list.begin(), list.end(), tenant_id) == list.end()) {
      list.push_back(tenant_id);
      first = true;
    }
  }
  if (!first) return {};

  uint64_t base = static_cast<uint64_t>(e.index);
  auto head = std::make_shared<TreeHead>();
  const store::Transaction* key = &tx;
  tx.before_commit([this, &t, head]() -> Status {
    uint64_t n;
    {
      std::shared_lock lock(t.mu);
      n = t.tree.size();
      head->root = t.tree.root(n);
    }
    head->tenant_id = t.id;
    head->tree_size = static_cast<int64_t>(n);
    head->timestamp_ms = clock_.now_ms();
    head->key_id = signer_.key_id();
    head->signature = signer_.sign(tree_head_message(*head));
    return {};
  });
  // The head row is written by a second hook so that it sees the final size even when other
  // hooks append more entries; hooks run in registration order.
  tx.before_commit([&tx, head]() -> Status { return insert_head(tx, *head); });
  tx.after_commit([this, &t, head, key] {
    {
      std::unique_lock lock(t.mu);
      t.committed = static_cast<uint64_t>(head->tree_size);
      t.head = *head;
    }
    t.size_gauge->set(static_cast<double>(head->tree_size));
    std::lock_guard lock(pending_mu_);
    pending_.erase(key);
  });
  tx.on_rollback([this, &t, base, key] {
    {
      std::unique_lock lock(t.mu);
      t.tree.truncate(base);
    }
    std::lock_guard lock(pending_mu_);
    pending_.erase(key);
  });
  return {};
}

Status AuditLog::reconcile(store::Transaction& tx, TenantLog& t) {
  // Another process (the CLI on the same data directory) may have appended since we last looked:
  // the write transaction we hold excludes it now, so compare and reload when needed.
  auto row = SIRA_TRY(tx.query_one(
      "SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_entries WHERE tenant_id = ?", {t.id}));
  int64_t stored = row ? row->i64(0) : 0;
  if (static_cast<uint64_t>(stored) == t.tree.size()) return {};
  MerkleTree tree;
  auto check = [this](const TreeHead& h) {
    return signer_.verify(tree_head_message(h), h.signature);
  };
  auto rep = SIRA_TRY(verify_tenant(tx, t.id, check, &tree));
  if (!rep.ok) {
    freeze(t, rep);
    return fail(ErrorCode::kAuditFrozen, "audit log of tenant " + t.id +
                                             " failed verification at index " +
                                             std::to_string(rep.first_bad_index) + " (" +
                                             rep.reason + "); writes are frozen");
  }
  {
    std::unique_lock lock(t.mu);
    // Keep what this process committed: the reloaded tree must extend it.
    if (t.committed > 0 && (tree.size() < t.committed ||
                            tree.root(t.committed) != t.tree.root(t.committed))) {
      lock.unlock();
      VerifyReport bad = rep;
      bad.ok = false;
      bad.first_bad_index = 0;
      bad.reason = "stored log no longer extends the entries this server committed";
      freeze(t, bad);
      return fail(ErrorCode::kAuditFrozen, "audit log of tenant " + t.id + ": " + bad.reason);
    }
    t.tree = std::move(tree);
    t.committed = t.tree.size();
    t.head = rep.head;
  }
  t.size_gauge->set(static_cast<double>(t.committed));
  return {};
}

Result<VerifyReport> AuditLog::reverify(const std::string& tenant_id, bool must_exist) {
  TenantLog& t = tenant(tenant_id);
  // What this process had committed before the store snapshot is taken: the snapshot must hold
  // at least that much (the in-memory size only grows after the database commit).
  uint64_t committed_before;
  {
    std::shared_lock lock(t.mu);
    committed_before = t.committed;
  }
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
  MerkleTree tree;
  auto check = [this](const TreeHead& h) {
    return signer_.verify(tree_head_message(h), h.signature);
  };
  auto rep = SIRA_TRY(verify_tenant(*tx, tenant_id, check, &tree, must_exist || committed_before > 0));
  tx.reset();
  if (rep.ok) {
    std::unique_lock lock(t.mu);
    if (tree.size() < committed_before) {
      rep.ok = false;
      rep.first_bad_index = static_cast<int64_t>(tree.size());
      rep.reason = "entries committed by this server are missing from the store";
    } else if (committed_before > 0 &&
               tree.root(committed_before) != t.tree.root(committed_before)) {
      rep.ok = false;
      rep.first_bad_index = 0;
      for (uint64_t i = 0; i < committed_before; ++i)
        if (tree.leaf(i) != t.tree.leaf(i)) {
          rep.first_bad_index = static_cast<int64_t>(i);
          break;
        }
      rep.reason = "stored entries differ from those this server committed";
    } else if (!t.frozen && t.tree.size() == t.committed && tree.size() > t.committed &&
               (t.committed == 0 || tree.root(t.committed) == t.tree.root(t.committed))) {
      // Another process appended (and signed) more: adopt it while no write is in flight.
      t.tree = std::move(tree);
      t.committed = t.tree.size();
      t.head = rep.head;
      t.size_gauge->set(static_cast<double>(t.committed));
    }
  }
  if (!rep.ok && !t.frozen) freeze(t, rep);
  if (!rep.ok && t.frozen) {
    std::unique_lock lock(t.mu);
    t.failure = rep;
  }
  return rep;
}

Result<std::vector<VerifyReport>> AuditLog::reverify_all(const std::vector<std::string>& expected) {
  std::vector<std::string> ids;
  {
    auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
    ids = SIRA_TRY(list_tenants(*tx, expected));
  }
  {
    // Tenants this process holds in memory must still be in the store.
    std::shared_lock lock(map_mu_);
    for (const auto& [id, t] : tenants_)
      if (!contains(ids, id)) ids.push_back(id);
  }
  std::vector<VerifyReport> out;
  for (const auto& id : ids) out.push_back(SIRA_TRY(reverify(id, contains(expected, id))));
  return out;
}

Status AuditLog::acknowledge(const std::string& tenant_id, const std::string& actor,
                             const std::string& note) {
  TenantLog& t = tenant(tenant_id);
  if (!t.frozen) return fail(ErrorCode::kConflict, "audit log of tenant " + tenant_id + " is not frozen");
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  VerifyReport failure;
  {
    std::shared_lock lock(t.mu);
    failure = t.failure;
  }
  auto heads = SIRA_TRY(load_heads(*tx, tenant_id));
  int64_t signed_size = heads.empty() ? 0 : heads.back().tree_size;

  // Re-read every stored entry, repairing hashes and filling holes with tombstones.
  std::vector<Entry> entries;
  std::vector<std::string> stored_hashes;
  SIRA_CHECK(tx->each(kSelectEntries, {tenant_id}, [&](const store::Row& r) {
    entries.push_back(entry_from_row(tenant_id, r));
    stored_hashes.push_back(r.str(7));
    return true;
  }));
  MerkleTree tree;
  boost::json::array repaired, filled;
  int64_t expected = 0;
  auto tombstone = [&](int64_t idx) -> Status {
    Entry e;
    e.tenant_id = tenant_id;
    e.index = idx;
    e.time_ms = clock_.now_ms();
    e.actor = "system";
    e.action = "audit.entry_missing";
    e.target_type = "audit_entry";
    e.target_id = std::to_string(idx);
    e.details_json = "{\"reason\":\"entry missing at verification; filled on acknowledgement\"}";
    Hash256 leaf = leaf_hash(canonical_entry(e));
    SIRA_CHECK(insert_entry(*tx, e, leaf));
    tree.append(leaf);
    filled.push_back(idx);
    return {};
  };
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    while (expected < e.index) SIRA_CHECK(tombstone(expected++));
    Hash256 leaf = leaf_hash(canonical_entry(e));
    if (hash_bytes(leaf) != stored_hashes[i]) {
      SIRA_CHECK(tx->exec("UPDATE audit_entries SET leaf_hash = ? WHERE tenant_id = ? AND idx = ?",
                          {store::Blob{hash_bytes(leaf)}, tenant_id, e.index}));
      repaired.push_back(e.index);
    }
    tree.append(leaf);
    ++expected;
  }
  while (expected < signed_size) SIRA_CHECK(tombstone(expected++));

  boost::json::object details;
  details["first_bad_index"] = failure.first_bad_index;
  details["reason"] = failure.reason;
  details["note"] = note;
  details["previous_signed_size"] = signed_size;
  if (!heads.empty()) details["previous_signed_root"] = hex_encode(heads.back().root);
  details["repaired_indexes"] = repaired;
  details["filled_indexes"] = filled;
  Entry ack;
  ack.tenant_id = tenant_id;
  ack.index = static_cast<int64_t>(tree.size());
  ack.time_ms = clock_.now_ms();
  ack.actor = actor;
  ack.action = "audit.integrity_acknowledged";
  ack.target_type = "audit_log";
  ack.target_id = tenant_id;
  ack.details_json = boost::json::serialize(details);
  Hash256 leaf = leaf_hash(canonical_entry(ack));
  SIRA_CHECK(insert_entry(*tx, ack, leaf));
  tree.append(leaf);

  TreeHead head;
  head.tenant_id = tenant_id;
  head.tree_size = static_cast<int64_t>(tree.size());
  head.root = tree.root();
  head.timestamp_ms = clock_.now_ms();
  head.key_id = signer_.key_id();
  head.signature = signer_.sign(tree_head_message(head));
  SIRA_CHECK(insert_head(*tx, head));
  SIRA_CHECK(tx->commit());
  {
    std::unique_lock lock(t.mu);
    t.tree = std::move(tree);
    t.committed = t.tree.size();
    t.head = head;
    t.failure = VerifyReport{};
  }
  t.frozen = false;
  t.frozen_gauge->set(0);
  t.size_gauge->set(static_cast<double>(head.tree_size));
  log_warn("audit log re-anchored after acknowledgement",
           {{"tenant", tenant_id}, {"actor", actor}, {"tree_size", std::to_string(head.tree_size)}});
  return {};
}

std::optional<TreeHead> AuditLog::latest_head(const std::string& tenant_id) const {
  const TenantLog* t = find(tenant_id);
  if (!t) return std::nullopt;
  std::shared_lock lock(t->mu);
  return t->head;
}

namespace {
Status check_size(uint64_t committed, int64_t n, const char* what) {
  if (n < 0 || static_cast<uint64_t>(n) > committed)
    return fail(ErrorCode::kInvalidArgument,
                std::string(what) + " must be between 0 and the tree size " +
                    std::to_string(committed),
                what);
  return {};
}
}  // namespace

Result<std::vector<Hash256>> AuditLog::inclusion_proof(const std::string& tenant_id, int64_t index,
                                                       int64_t tree_size) const {
  const TenantLog* t = find(tenant_id);
  if (!t) return fail(ErrorCode::kNotFound, "the audit log is empty");
  std::shared_lock lock(t->mu);
  SIRA_CHECK(check_size(t->committed, tree_size, "tree_size"));
  if (index < 0 || index >= tree_size)
    return fail(ErrorCode::kInvalidArgument, "index must be in [0, tree_size)", "index");
  return t->tree.inclusion_proof(static_cast<uint64_t>(index), static_cast<uint64_t>(tree_size));
}

Result<std::vector<Hash256>> AuditLog::consistency_proof(const std::string& tenant_id,
                                                         int64_t first, int64_t second) const {
  const TenantLog* t = find(tenant_id);
  if (!t) return fail(ErrorCode::kNotFound, "the audit log is empty");
  std::shared_lock lock(t->mu);
  SIRA_CHECK(check_size(t->committed, second, "second"));
  if (first < 1 || first > second)
    return fail(ErrorCode::kInvalidArgument, "first must be in [1, second]", "first");
  return t->tree.consistency_proof(static_cast<uint64_t>(first), static_cast<uint64_t>(second));
}

Result<Hash256> AuditLog::leaf_at(const std::string& tenant_id, int64_t index) const {
  const TenantLog* t = find(tenant_id);
  if (!t) return fail(ErrorCode::kNotFound, "the audit log is empty");
  std::shared_lock lock(t->mu);
  if (index < 0 || static_cast<uint64_t>(index) >= t->committed)
    return fail(ErrorCode::kNotFound, "no entry at index " + std::to_string(index));
  return t->tree.leaf(static_cast<uint64_t>(index));
}

Result<Hash256> AuditLog::root_at(const std::string& tenant_id, int64_t tree_size) const {
  const TenantLog* t = find(tenant_id);
  if (!t) return empty_root();
  std::shared_lock lock(t->mu);
  SIRA_CHECK(check_size(t->committed, tree_size, "tree_size"));
  return t->tree.root(static_cast<uint64_t>(tree_size));
}

Result<std::vector<Entry>> AuditLog::entries(const std::string& tenant_id,
                                             const EntryFilter& f) const {
  std::string sql =
      "SELECT idx, time_ms, actor, action, target_type, target_id, details FROM audit_entries "
      "WHERE tenant_id = ?";
  store::Params p{tenant_id};
  auto add = [&](const char* clause, store::Value v) {
    sql += clause;
    p.push_back(std::move(v));
  };
  if (f.actor) add(" AND actor = ?", *f.actor);
  if (f.action) add(" AND action = ?", *f.action);
  if (f.target_type) add(" AND target_type = ?", *f.target_type);
  if (f.target_id) add(" AND target_id = ?", *f.target_id);
  if (f.since_ms) add(" AND time_ms >= ?", *f.since_ms);
  if (f.until_ms) add(" AND time_ms < ?", *f.until_ms);
  if (f.after_index) add(" AND idx > ?", *f.after_index);
  // Only committed entries this server vouches for.
  uint64_t committed = 0;
  if (const TenantLog* t = find(tenant_id)) {
    std::shared_lock lock(t->mu);
    committed = t->committed;
  }
  add(" AND idx < ?", static_cast<int64_t>(committed));
  sql += " ORDER BY idx LIMIT ?";
  p.push_back(int64_t{f.limit});
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
  auto rows = SIRA_TRY(tx->query(sql, p));
  std::vector<Entry> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(entry_from_row(tenant_id, r));
  return out;
}

bool AuditLog::frozen(const std::string& tenant_id) const {
  const TenantLog* t = find(tenant_id);
  return t && t->frozen;
}

std::vector<VerifyReport> AuditLog::failures() const {
  std::vector<VerifyReport> out;
  std::shared_lock lock(map_mu_);
  for (const auto& [id, t] : tenants_) {
    if (!t->frozen) continue;
    std::shared_lock tl(t->mu);
    out.push_back(t->failure);
  }
  return out;
}

Result<std::vector<VerifyReport>> verify_store(store::Database& db, std::string_view public_key_raw,
                                               const std::string& tenant_filter,
                                               const std::vector<std::string>& expected) {
  auto tx = SIRA_TRY(db.begin(store::TxKind::kRead));
  std::vector<std::string> ids;
  if (tenant_filter.empty()) ids = SIRA_TRY(list_tenants(*tx, expected));
  else ids.push_back(tenant_filter);
  std::string key(public_key_raw);
  auto check = [&key](const TreeHead& h) {
    return verify_ed25519(key, tree_head_message(h), h.signature);
  };
  std::vector<VerifyReport> out;
  for (const auto& id : ids) {
    MerkleTree tree;
    out.push_back(SIRA_TRY(verify_tenant(*tx, id, check, &tree, contains(expected, id))));
  }
  return out;
}

}  // namespace sira::audit
