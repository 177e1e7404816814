// Roles of the seed 000 runbook and the permissions each grants. Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sira::auth {

enum class Role { kAdmin, kPayAdmin, kFraudOps, kCompliance, kOps, kAuditor };

enum class Permission {
  kTenantsRead,
  kTenantsManage,  // create/delete other tenants: admins of the system tenant only
  kTenantsWrite,   // rename one's own tenant
  kUsersRead,
  kUsersWrite,
  kTokensRead,
  kTokensWrite,
  kAuditRead,
  kAuditAdmin,  // acknowledge an integrity failure, trigger verification
  kSignalsIngest,  // push request logs
  kGuardRead,      // metrics, suspicious events, recommendations, decisions
  kGuardWrite,     // manual decisions, allowlist, bouncers, recommendation status
  kDebugPacks,     // create shareable debug packs
  kAlertsPost,     // push alerts (Prometheus, sira's own detections)
  kAlertsRead,     // alerts, groups, silences, receivers, notifications
  kSilencesWrite,  // create, update and expire silences
};

std::optional<Role> parse_role(std::string_view name);
std::string_view role_name(Role r);
const std::vector<Role>& all_roles();
bool role_grants(Role r, Permission p);
std::string_view permission_name(Permission p);

}  // namespace sira::auth
