// Decisions for gateways: allow / throttle / ban for an API key, an IP or an IP range, with an
// expiry, from SIRA Guard (automatic) or an operator (manual). Persisted in the store, mirrored
// in memory for lookups, survive restarts, and every change writes its audit entry in the same
// transaction. Also the allowlist (keys, IPs, CIDR ranges) that always wins, and the registered
// bouncers that pull decisions through the CrowdSec-compatible API. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "audit/log.h"
#include "core/clock.h"
#include "core/error.h"
#include "store/database.h"
#include "store/migrations.h"

namespace sira::guard {

enum class Scope { kKey, kIp, kRange };
std::string_view scope_name(Scope s);  // "key", "ip", "range"
std::optional<Scope> parse_scope(std::string_view s);

// An IPv4/IPv6 address or CIDR range, parsed for matching.
struct IpRange {
  uint8_t bytes[16] = {};
  int prefix = 128;  // bits, over the 16-byte (IPv4-mapped) form
  bool parse(std::string_view text);  // "1.2.3.4", "10.0.0.0/8", "2001:db8::/32"
  std::string to_string() const;      // canonical text: "1.2.3.4", "10.0.0.0/8", "2001:db8::/32"
  bool contains(const IpRange& addr) const;
};

struct Decision {
  int64_t seq = 0;   // integer id (CrowdSec API), increasing
  std::string id;    // "dec_…"
  std::string tenant_id;
  Scope scope = Scope::kIp;
  std::string value;               // key id, IP or CIDR
  std::string type = "ban";        // "ban" | "throttle"
  int64_t rate_per_minute = 0;     // for throttle
  std::string origin = "sira";     // "sira" (automatic) | "manual"
  std::string scenario;            // "sira/brute_force", or free text for manual ones
  std::string reason;
  std::string event_id;            // suspicious event that caused it, if any
  int64_t created_at = 0;
  std::optional<int64_t> expires_at;  // none = permanent
  std::optional<int64_t> deleted_at;
  bool active(int64_t now) const { return !deleted_at && (!expires_at || *expires_at > now); }
};

struct NewDecision {
  Scope scope = Scope::kIp;
  std::string value, type = "ban";
  int64_t rate_per_minute = 0;
  std::string origin = "manual", scenario, reason, event_id;
  std::optional<int64_t> duration_ms;  // none = permanent
};

// What a gateway should do with a request from `key` and/or `ip`.
struct Verdict {
  std::string action = "allow";  // allow | throttle | ban
  int64_t rate_per_minute = 0;
  std::optional<int64_t> expires_at;
  bool allowlisted = false;
  std::vector<Decision> matched;
};

struct AllowEntry {
  std::string id, tenant_id;
  Scope scope = Scope::kIp;
  std::string value, reason;
  int64_t created_at = 0;
};

struct Bouncer {
  std::string id, tenant_id, name;
  int64_t created_at = 0;
  std::optional<int64_t> last_pull_at;
};

struct StreamResult {
  std::vector<Decision> added, deleted;
};

class Decisions {
 public:
  Decisions(store::Database& db, audit::AuditLog& audit, const Clock& clock);
  ~Decisions();
  static std::vector<store::Migration> migrations();
  Status load();  // reads active decisions and allowlists into memory

  // Adds a decision in its own transaction (audited with `actor`). Allowlisted values are
  // refused with kConflict. IP and range values are stored in canonical form. An existing active
  // decision on the same scope/value is replaced when the new one is at least as strong (ban >
  // throttle) and lasts at least as long; otherwise the new one is refused with kConflict.
  Result<Decision> add(const std::string& tenant_id, const std::string& actor, const NewDecision& d);
  // Same, inside the caller's write transaction; memory follows the commit.
  Result<Decision> add_in(store::Transaction& tx, const std::string& tenant_id,
                          const std::string& actor, const NewDecision& d);
  Status remove(const std::string& tenant_id, const std::string& actor, const std::string& id);
  Result<Decision> get(const std::string& tenant_id, const std::string& id) const;
  std::vector<Decision> active(const std::string& tenant_id) const;
  Verdict lookup(const std::string& tenant_id, std::string_view key, std::string_view ip) const;
  // How many decisions (any state) this value received since `since_ms`.
  Result<int64_t> prior_count(const std::string& tenant_id, Scope scope, const std::string& value,
                              int64_t since_ms) const;

  Result<AllowEntry> allow(const std::string& tenant_id, const std::string& actor, Scope scope,
                           const std::string& value, const std::string& reason);
  Status unallow(const std::string& tenant_id, const std::string& actor, const std::string& id);
  std::vector<AllowEntry> allowlist(const std::string& tenant_id) const;
  bool allowlisted(const std::string& tenant_id, std::string_view key, std::string_view ip) const;

  // Bouncers (CrowdSec LAPI clients). The API key is returned once and stored hashed.
  Result<std::pair<Bouncer, std::string>> add_bouncer(const std::string& tenant_id,
                                                      const std::string& actor,
                                                      const std::string& name);
  Result<Bouncer> authenticate_bouncer(std::string_view api_key) const;
  Result<std::vector<Bouncer>> bouncers(const std::string& tenant_id) const;
  Status delete_bouncer(const std::string& tenant_id, const std::string& actor, const std::string& id);
  // IP and range decisions for a bouncer pull: at startup every active one; afterwards those
  // created, and those deleted or expired, since the bouncer's previous pull.
  Result<StreamResult> stream(const Bouncer& b, bool startup);

  // Drops expired decisions from memory (streams report expiries from the store by time).
  Status sweep_expired();

 private:
  struct TenantState;
  TenantState& state(const std::string& tenant_id);
  const TenantState* find(const std::string& tenant_id) const;
  void remember(const Decision& d);
  void forget(const std::string& tenant_id, const std::string& id);

  store::Database& db_;
  audit::AuditLog& audit_;
  const Clock& clock_;
  mutable std::shared_mutex mu_;
  std::map<std::string, std::unique_ptr<TenantState>> tenants_;
};

}  // namespace sira::guard
