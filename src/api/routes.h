// The /api/v1 surface and the operational endpoints (/healthz, /readyz, /metrics), translating
// HTTP requests into calls on the domain services. Holds no domain rules of its own.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "api/idempotency.h"
#include "audit/log.h"
#include "auth/service.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "alerts/dispatch.h"
#include "alerts/service.h"
#include "guard/decisions.h"
#include "guard/engine.h"
#include "http/router.h"

namespace sira::api {

// One readiness check: name, ok, detail.
struct Check {
  std::string name;
  bool ok = false;
  std::string detail;
};

struct Services {
  auth::AuthService& auth;
  audit::AuditLog& audit;
  IdempotencyStore& idempotency;
  MetricsRegistry& metrics;
  const Clock& clock;
  // Current readiness checks (store, migrations, audit verification...).
  std::function<std::vector<Check>()> readiness;
  guard::Decisions* decisions = nullptr;
  guard::Engine* guard = nullptr;
  alerts::AlertService* alerts = nullptr;
  alerts::Dispatcher* dispatcher = nullptr;
  std::string alerts_anonymous_tenant;  // tenant of unauthenticated /api/v2 calls ("" = none)
  std::string version, revision;
};

void add_system_routes(http::Router& router, Services& s);
void add_auth_routes(http::Router& router, Services& s);
void add_audit_routes(http::Router& router, Services& s);
// SIRA Guard: ingestion, observability, decisions, CrowdSec-compatible bouncer API, debug packs.
void add_guard_routes(http::Router& router, Services& s);
// Alertmanager API v2 (/api/v2/...): alerts, groups, silences, receivers, status.
void add_alertmanager_routes(http::Router& router, Services& s);

inline void add_all_routes(http::Router& router, Services& s) {
  add_system_routes(router, s);
  add_auth_routes(router, s);
  add_audit_routes(router, s);
  if (s.guard && s.decisions) add_guard_routes(router, s);
  if (s.alerts) add_alertmanager_routes(router, s);
}

}  // namespace sira::api
