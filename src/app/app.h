// Wiring: the data directory layout, the object graph built from Config, start-up checks
// (migrations, audit verification), the background loops, and the offline operations the CLI
// runs (init, token management, audit verification, backup, restore).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "audit/log.h"
#include "audit/signer.h"
#include "auth/service.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/metrics.h"
#include "guard/decisions.h"
#include "alerts/dispatch.h"
#include "alerts/guard_alerts.h"
#include "alerts/service.h"
#include "guard/engine.h"
#include "store/database.h"
#include "store/migrations.h"

namespace sira::app {

struct DataPaths {
  std::string dir, database, signing_key, lock;
  explicit DataPaths(const std::string& data_dir);
};

std::vector<store::Migration> all_migrations();

// An exclusive advisory lock on the data directory, held by `sira serve` for its lifetime.
class DataLock {
 public:
  static Result<DataLock> acquire(const DataPaths& paths);
  // True when some process (a running server) holds the lock.
  static bool held_by_other(const DataPaths& paths);
  DataLock(DataLock&&) noexcept;
  DataLock& operator=(DataLock&&) = delete;
  ~DataLock();

 private:
  explicit DataLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// An opened data directory: store, signing key, audit log and auth service.
struct Context {
  DataPaths paths;
  const Clock& clock;
  MetricsRegistry metrics;
  std::unique_ptr<store::Database> db;
  std::unique_ptr<audit::Signer> signer;
  std::unique_ptr<audit::AuditLog> audit;
  std::unique_ptr<auth::AuthService> auth;
  std::unique_ptr<guard::Decisions> decisions;
  std::unique_ptr<guard::Engine> guard;
  std::unique_ptr<alerts::AlertService> alerts;
  std::unique_ptr<alerts::GuardAlertSink> guard_alerts;
  std::unique_ptr<alerts::Transport> transport;  // outbound HTTP for notifiers
  std::unique_ptr<alerts::Dispatcher> dispatcher;
  std::vector<audit::VerifyReport> startup_verification;

  Context(const std::string& data_dir, const Clock& c) : paths(data_dir), clock(c) {}
};

struct OpenOptions {
  bool create = false;   // create the directory, database and key when missing
  bool migrate = false;  // apply pending migrations (serve, init)
  std::string synchronous = "full";
  int read_connections = 4;
  int busy_timeout_ms = 5000;
  guard::GuardConfig guard;
  // Routing, receivers and inhibition (Alertmanager's configuration) and its text as loaded.
  alerts::AlertingConfig alerting;
  std::string alerting_text;
  alerts::DispatchOptions dispatch;
};

// Reads alerts.config_file (an alertmanager.yml), or sira's default routing when none is set.
// `unsupported` gets the fields sira does not act on.
Result<std::pair<alerts::AlertingConfig, std::string>> load_alerting(
    const Config& config, std::vector<std::string>* unsupported);

// The guard settings of a Config.
guard::GuardConfig guard_config(const Config& config);
// Checks what the config loader cannot (it knows no module): the parsers' key options and the
// Kafka settings. kConfig naming the key.
Status check_config(const Config& config);

Result<std::unique_ptr<Context>> open_context(const std::string& data_dir, const Clock& clock,
                                              const OpenOptions& options);

// Creates the data directory with the system tenant, its admin user and an admin token.
// kConflict when the directory is already initialised.
Result<auth::Bootstrap> initialise(Context& ctx, const std::string& tenant_name);

// Runs the server until SIGTERM/SIGINT. `on_listening` receives the bound address;
// `on_bootstrap` receives the admin token when the data directory was initialised by this call.
int serve(const Config& config, const std::function<void(const std::string&)>& on_listening,
          const std::function<void(const std::string&)>& on_bootstrap);

}  // namespace sira::app
