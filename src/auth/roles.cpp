// Role names and the role -> permission table.
#include "auth/roles.h"

namespace sira::auth {

namespace {
struct RoleInfo {
  Role role;
  std::string_view name;
};
constexpr RoleInfo kRoles[] = {{Role::kAdmin, "admin"},         {Role::kPayAdmin, "pay_admin"},
                               {Role::kFraudOps, "fraud_ops"},  {Role::kCompliance, "compliance"},
                               {Role::kOps, "ops"},             {Role::kAuditor, "auditor"}};
}  // namespace

std::optional<Role> parse_role(std::string_view name) {
  for (const auto& r : kRoles)
    if (r.name == name) return r.role;
  return std::nullopt;
}

std::string_view role_name(Role r) {
  for (const auto& info : kRoles)
    if (info.role == r) return info.name;
  return "unknown";
}

const std::vector<Role>& all_roles() {
  static const std::vector<Role> kAll = [] {
    std::vector<Role> v;
    for (const auto& r : kRoles) v.push_back(r.role);
    return v;
  }();
  return kAll;
}

bool role_grants(Role r, Permission p) {
  switch (r) {
    case Role::kAdmin: return true;
    case Role::kAuditor:
      // Read-only access to everything, including the audit log.
      return p == Permission::kTenantsRead || p == Permission::kUsersRead ||
             p == Permission::kTokensRead || p == Permission::kAuditRead ||
             p == Permission::kGuardRead || p == Permission::kAlertsRead;
    case Role::kCompliance:
      return p == Permission::kTenantsRead || p == Permission::kUsersRead ||
             p == Permission::kAuditRead || p == Permission::kGuardRead ||
             p == Permission::kAlertsRead;
    case Role::kFraudOps:
      // Fraud operations own SIRA Guard: they act on keys and IPs.
      return p == Permission::kTenantsRead || p == Permission::kUsersRead ||
             p == Permission::kSignalsIngest || p == Permission::kGuardRead ||
             p == Permission::kGuardWrite || p == Permission::kDebugPacks ||
             p == Permission::kAlertsRead || p == Permission::kSilencesWrite;
    case Role::kOps:
      // Operators run the alerting: Prometheus posts with an ops token, on-call silences.
      return p == Permission::kTenantsRead || p == Permission::kUsersRead ||
             p == Permission::kSignalsIngest || p == Permission::kGuardRead ||
             p == Permission::kDebugPacks || p == Permission::kAlertsPost ||
             p == Permission::kAlertsRead || p == Permission::kSilencesWrite;
    case Role::kPayAdmin:
      return p == Permission::kTenantsRead || p == Permission::kUsersRead ||
             p == Permission::kGuardRead || p == Permission::kAlertsRead;
  }
  return false;
}

std::string_view permission_name(Permission p) {
  switch (p) {
    case Permission::kTenantsRead: return "tenants:read";
    case Permission::kTenantsManage: return "tenants:manage";
    case Permission::kTenantsWrite: return "tenants:write";
    case Permission::kUsersRead: return "users:read";
    case Permission::kUsersWrite: return "users:write";
    case Permission::kTokensRead: return "tokens:read";
    case Permission::kTokensWrite: return "tokens:write";
    case Permission::kAuditRead: return "audit:read";
    case Permission::kAuditAdmin: return "audit:admin";
    case Permission::kSignalsIngest: return "signals:ingest";
    case Permission::kGuardRead: return "guard:read";
    case Permission::kGuardWrite: return "guard:write";
    case Permission::kDebugPacks: return "debug-packs:create";
    case Permission::kAlertsPost: return "alerts:post";
    case Permission::kAlertsRead: return "alerts:read";
    case Permission::kSilencesWrite: return "silences:write";
  }
  return "unknown";
}

}  // namespace sira::auth
