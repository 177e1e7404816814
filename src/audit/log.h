// The audit log: per tenant, an append-only RFC 6962 Merkle log of entries stored in the
// database, with an Ed25519-signed tree head written in the same transaction as the entries.
//
// Every mutation appends its entry through append(tx, ...) inside the transaction that makes the
// change, so a change and its entry commit or roll back together. The in-memory trees follow
// commits through transaction hooks; readers only ever see committed sizes.
//
// Verification recomputes each tenant's tree from the stored rows and checks the newest signed
// head. A tenant that fails is frozen: append() refuses with kAuditFrozen (so every mutation of
// that tenant is refused) until acknowledge() re-anchors the log with an entry recording what was
// found. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "audit/merkle.h"
#include "audit/signer.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/metrics.h"
#include "store/database.h"
#include "store/migrations.h"

namespace sira::audit {

struct EntryInput {
  std::string actor;        // "tok_…", "user_…", "cli", "system"
  std::string action;       // "user.create", "token.revoke", …
  std::string target_type;  // "user", "token", "tenant", …
  std::string target_id;
  std::string details_json = "{}";  // a JSON object, stored verbatim
};

struct Entry {
  std::string tenant_id;
  int64_t index = 0;
  int64_t time_ms = 0;
  std::string actor, action, target_type, target_id;
  std::string details_json;
};

// The exact bytes hashed into the leaf: a compact JSON object with keys in the fixed order
// tenant, index, time, actor, action, target_type, target_id, details.
std::string canonical_entry(const Entry& e);

struct TreeHead {
  std::string tenant_id;
  int64_t tree_size = 0;
  Hash256 root{};
  int64_t timestamp_ms = 0;
  std::string signature;  // raw Ed25519
  std::string key_id;
};

// The bytes signed for a tree head:
// "sira-tree-head-v1\n<tenant>\n<tree_size>\n<root hex>\n<timestamp_ms>\n".
std::string tree_head_message(const TreeHead& h);

struct VerifyReport {
  std::string tenant_id;
  bool ok = true;
  int64_t entries = 0;
  int64_t first_bad_index = -1;
  std::string reason;
  std::optional<TreeHead> head;
};

struct EntryFilter {
  std::optional<std::string> actor, action, target_type, target_id;
  std::optional<int64_t> since_ms, until_ms;  // [since, until)
  std::optional<int64_t> after_index;         // cursor: entries with index > after_index
  int limit = 100;
};

class AuditLog {
 public:
  AuditLog(store::Database& db, const Signer& signer, const Clock& clock,
           MetricsRegistry& metrics);
  ~AuditLog();

  static std::vector<store::Migration> migrations();

  // Loads and verifies every tenant's log. Failing tenants are frozen and counted; the call
  // itself only fails when the store cannot be read. `expected_tenants` (from the tenants table)
  // must each have a log: one deleted entirely is a failure, not an absence.
  Result<std::vector<VerifyReport>> open(const std::vector<std::string>& expected_tenants = {});

  // Appends an entry in `tx` (a write transaction). Refused with kAuditFrozen for a frozen
  // tenant. The entry's time comes from the clock; its index is the tenant's next one.
  Status append(store::Transaction& tx, const std::string& tenant_id, const EntryInput& entry);

  // Re-reads the stored log of one tenant (or all) and compares it with memory and the signed
  // heads; freezes tenants that fail. Entries appended by another process (the CLI) are adopted.
  Result<VerifyReport> reverify(const std::string& tenant_id, bool must_exist = false);
  Result<std::vector<VerifyReport>> reverify_all(
      const std::vector<std::string>& expected_tenants = {});

  // Unfreezes a tenant: repairs stored leaf hashes, fills missing indexes with tombstones,
  // appends an "audit.integrity_acknowledged" entry describing the failure and signs a new head.
  Status acknowledge(const std::string& tenant_id, const std::string& actor,
                     const std::string& note);

  std::optional<TreeHead> latest_head(const std::string& tenant_id) const;
  Result<std::vector<Hash256>> inclusion_proof(const std::string& tenant_id, int64_t index,
                                               int64_t tree_size) const;
  Result<std::vector<Hash256>> consistency_proof(const std::string& tenant_id, int64_t first,
                                                 int64_t second) const;
  Result<Hash256> leaf_at(const std::string& tenant_id, int64_t index) const;
  Result<Hash256> root_at(const std::string& tenant_id, int64_t tree_size) const;

  Result<std::vector<Entry>> entries(const std::string& tenant_id, const EntryFilter& f) const;

  bool frozen(const std::string& tenant_id) const;
  std::vector<VerifyReport> failures() const;  // one per frozen tenant
  const Signer& signer() const { return signer_; }

 private:
  struct TenantLog;
  TenantLog& tenant(const std::string& tenant_id);
  const TenantLog* find(const std::string& tenant_id) const;
  void freeze(TenantLog& t, const VerifyReport& report);
  Status reconcile(store::Transaction& tx, TenantLog& t);

  store::Database& db_;
  const Signer& signer_;
  const Clock& clock_;
  MetricsRegistry& metrics_;
  Counter& integrity_failed_;
  mutable std::shared_mutex map_mu_;
  std::map<std::string, std::unique_ptr<TenantLog>> tenants_;
  // Tenants with entries appended in each open write transaction.
  std::mutex pending_mu_;
  std::map<const store::Transaction*, std::vector<std::string>> pending_;
};

// Offline check used by `sira audit verify`: recomputes every tenant's tree (or one tenant's)
// from the store and checks the newest signed head with the given public key.
Result<std::vector<VerifyReport>> verify_store(
    store::Database& db, std::string_view public_key_raw, const std::string& tenant_filter = {},
    const std::vector<std::string>& expected_tenants = {});

}  // namespace sira::audit
