// Object graph, start-up sequence, background loops and data directory handling.
#include "app/app.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "api/idempotency.h"
#include "api/routes.h"
#include "core/log.h"
#include "http/client.h"
#include "http/smtp.h"
#include "http/server.h"
#include "signals/kafka.h"
#include "store/sqlite.h"

namespace sira::app {

namespace fs = std::filesystem;

DataPaths::DataPaths(const std::string& data_dir)
    : dir(data_dir),
      database((fs::path(data_dir) / "sira.db").string()),
      signing_key((fs::path(data_dir) / "audit_ed25519.pem").string()),
      lock((fs::path(data_dir) / "sira.lock").string()) {}

std::vector<store::Migration> all_migrations() {
  std::vector<store::Migration> all;
  for (auto&& list : {audit::AuditLog::migrations(), auth::AuthService::migrations(),
                      api::IdempotencyStore::migrations(), guard::Decisions::migrations(),
                      guard::Engine::migrations(), alerts::AlertService::migrations(),
                      alerts::Dispatcher::migrations()})
    all.insert(all.end(), list.begin(), list.end());
  return all;
}

Result<DataLock> DataLock::acquire(const DataPaths& paths) {
  int fd = ::open(paths.lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return fail(ErrorCode::kIo, "cannot open lock file " + paths.lock);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return fail(ErrorCode::kConflict,
                "another sira server is already running on data directory " + paths.dir);
  }
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) == 0) (void)!write(fd, pid.data(), pid.size());
  return DataLock(fd);
}

bool DataLock::held_by_other(const DataPaths& paths) {
  int fd = ::open(paths.lock.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  bool held = flock(fd, LOCK_EX | LOCK_NB) != 0;
  ::close(fd);
  return held;
}

DataLock::DataLock(DataLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
DataLock::~DataLock() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

// Notifiers reach webhooks, Slack and PagerDuty through the HTTP client of src/http.
class HttpTransport final : public alerts::Transport {
 public:
  Result<int> post(const std::string& url, const std::string& content_type, const std::string& body,
                   const std::vector<std::pair<std::string, std::string>>& headers,
                   int64_t timeout_ms) override {
    http::ClientRequest req;
    req.url = url;
    req.body = body;
    req.timeout_ms = timeout_ms;
    req.headers = headers;
    req.headers.emplace_back("Content-Type", content_type);
    auto r = client_.send(req);
    if (!r) return std::unexpected(r.error());
    return r->status;
  }

  Status mail(const alerts::Email& e, int64_t timeout_ms) override {
    http::MailMessage m;
    m.smarthost = e.smarthost;
    if (!e.hello.empty()) m.hello = e.hello;
    m.from = e.from;
    m.to = e.to;
    m.subject = e.subject;
    m.text_body = e.text;
    m.html_body = e.html;
    m.headers = e.headers;
    m.username = e.username;
    m.password = e.password;
    m.require_tls = e.require_tls;
    m.timeout_ms = timeout_ms;
    return mail_.send(m);
  }

 private:
  http::Client client_;
  http::MailClient mail_;
};

}  // namespace

Result<std::unique_ptr<Context>> open_context(const std::string& data_dir, const Clock& clock,
                                              const OpenOptions& o) {
  auto ctx = std::make_unique<Context>(data_dir, clock);
  std::error_code ec;
  if (!fs::exists(data_dir, ec)) {
    if (!o.create)
      return fail(ErrorCode::kNotFound, "data directory " + data_dir +
                                            " does not exist; run `sira init --data " + data_dir +
                                            "` first");
    fs::create_directories(data_dir, ec);
    if (ec) return fail(ErrorCode::kIo, "cannot create data directory " + data_dir + ": " + ec.message());
    ::chmod(data_dir.c_str(), 0700);
  }
  if (!o.create && !fs::exists(ctx->paths.database))
    return fail(ErrorCode::kNotFound, "no sira database in " + data_dir +
                                          "; run `sira init --data " + data_dir + "` first");
  store::SqliteOptions so;
  so.path = ctx->paths.database;
  so.synchronous = o.synchronous;
  so.read_connections = o.read_connections;
  so.busy_timeout_ms = o.busy_timeout_ms;
  ctx->db = SIRA_TRY(store::open_sqlite(so));
  if (o.migrate) SIRA_CHECK(store::migrate(*ctx->db, all_migrations(), clock.now_ms()));
  else SIRA_CHECK(store::check_schema(*ctx->db, all_migrations()));
  auto signer = o.create ? audit::Signer::load_or_create(ctx->paths.signing_key)
                         : audit::Signer::load(ctx->paths.signing_key);
  if (!signer) return std::unexpected(signer.error());
  ctx->signer = std::make_unique<audit::Signer>(std::move(*signer));
  ctx->audit = std::make_unique<audit::AuditLog>(*ctx->db, *ctx->signer, clock, ctx->metrics);
  auto tenants = SIRA_TRY(auth::AuthService::tenant_ids(*ctx->db));
  ctx->startup_verification = SIRA_TRY(ctx->audit->open(tenants));
  ctx->auth = std::make_unique<auth::AuthService>(*ctx->db, *ctx->audit, clock);
  ctx->decisions = std::make_unique<guard::Decisions>(*ctx->db, *ctx->audit, clock);
  SIRA_CHECK(ctx->decisions->load());
  ctx->guard = std::make_unique<guard::Engine>(*ctx->db, *ctx->audit, *ctx->decisions, clock,
                                               ctx->metrics, o.guard);
  ctx->alerts = std::make_unique<alerts::AlertService>(*ctx->db, *ctx->audit, clock, ctx->metrics,
                                                       o.alerting, o.alerting_text);
  SIRA_CHECK(ctx->alerts->load());
  // Guard detections go through the alert pipeline; one stays active for the guard cooldown.
  ctx->guard_alerts = std::make_unique<alerts::GuardAlertSink>(
      *ctx->alerts, o.guard.cooldown_seconds * 1000, o.dispatch.external_url);
  ctx->guard->add_sink(ctx->guard_alerts.get());
  ctx->transport = std::make_unique<HttpTransport>();
  ctx->dispatcher = std::make_unique<alerts::Dispatcher>(*ctx->db, *ctx->audit, clock, ctx->metrics,
                                                         *ctx->alerts, *ctx->transport, o.dispatch);
  return ctx;
}

Result<std::pair<alerts::AlertingConfig, std::string>> load_alerting(
    const Config& config, std::vector<std::string>* unsupported) {
  std::string text = alerts::default_config_yaml();
  if (!config.alerts.config_file.empty() && !config.alerts.inline_config.empty())
    return fail(ErrorCode::kConfig,
                "set either alerts.config_file or an alerting: section in sira.yaml, not both",
                "alerts.config_file");
  std::string origin = config.alerts.config_file.empty() ? std::string("default alerting config")
                                                         : config.alerts.config_file;
  if (!config.alerts.inline_config.empty()) {
    text = config.alerts.inline_config;
    origin = "sira.yaml alerting";
  } else if (!config.alerts.config_file.empty()) {
    std::ifstream in(config.alerts.config_file, std::ios::binary);
    if (!in)
      return fail(ErrorCode::kConfig, "cannot read alerts.config_file " + config.alerts.config_file,
                  "alerts.config_file");
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  // Relative template paths are read from the directory of the file that holds the config.
  const std::string base_dir =
      !config.alerts.inline_config.empty()
          ? config.alerts.inline_base_dir
          : std::filesystem::path(config.alerts.config_file).parent_path().string();
  auto parsed = alerts::parse_alerting_config(text, unsupported, base_dir);
  if (!parsed)
    return fail(ErrorCode::kConfig, origin + ": " + parsed.error().detail,
                config.alerts.inline_config.empty() ? "alerts.config_file" : "alerting");
  return std::make_pair(std::move(*parsed), std::move(text));
}

guard::GuardConfig guard_config(const Config& c) {
  guard::GuardConfig g;
  g.auto_action = c.guard.auto_action;
  g.throttle_rate_per_minute = c.guard.throttle_rate_per_minute;
  g.throttle_seconds = c.guard.throttle_seconds;
  g.tempban_seconds = c.guard.tempban_seconds;
  g.ban_duration_expr = c.guard.ban_duration_expr;
  g.max_ban_seconds = c.guard.max_ban_seconds;
  g.key_rotation_days = c.guard.key_rotation_days;
  g.cooldown_seconds = c.guard.cooldown_seconds;
  g.recent_records = c.guard.recent_records;
  g.debug_pack_ttl_seconds = c.guard.debug_pack_ttl_seconds;
  g.memory_budget_bytes = static_cast<size_t>(c.guard.memory_budget_mb) << 20;
  g.metrics_retention_days = c.signals.metrics_retention_days;
  g.traces_retention_days = c.signals.traces_retention_days;
  g.parse.nginx_key = c.signals.nginx_key;
  g.parse.envoy_key = c.signals.envoy_key;
  g.public_url = c.public_url;
  g.thresholds.brute_force_error_rate = c.guard.brute_force_error_rate;
  g.thresholds.brute_force_min_requests = c.guard.brute_force_min_requests;
  g.thresholds.bot_p95_ms = c.guard.bot_p95_ms;
  g.thresholds.bot_min_requests = c.guard.bot_min_requests;
  g.thresholds.ip_rotation_per_100 = c.guard.ip_rotation_per_100;
  g.thresholds.ip_rotation_min_unique = c.guard.ip_rotation_min_unique;
  g.thresholds.spike_ratio = c.guard.spike_ratio;
  return g;
}

Result<auth::Bootstrap> initialise(Context& ctx, const std::string& tenant_name) {
  return ctx.auth->bootstrap(tenant_name);
}

Status check_config(const Config& c) {
  if (!signals::valid_key_option(signals::Format::kNginx, c.signals.nginx_key))
    return fail(ErrorCode::kConfig,
                "key \"signals.nginx_key\" must be field, remote_user or query:NAME, got \"" +
                    c.signals.nginx_key + "\"",
                "signals.nginx_key");
  if (!signals::valid_key_option(signals::Format::kEnvoy, c.signals.envoy_key))
    return fail(ErrorCode::kConfig,
                "key \"signals.envoy_key\" must be a JSON field name or query:NAME, got \"" +
                    c.signals.envoy_key + "\"",
                "signals.envoy_key");
  if (!c.kafka.brokers.empty() && c.kafka.tenant.empty())
    return fail(ErrorCode::kConfig, "key \"kafka.tenant\" is required when kafka.brokers is set",
                "kafka.tenant");
  return {};
}

namespace {

// Consumes request records from Kafka into SIRA Guard. A batch's offsets are committed only once
// its records went through the pipeline and the rollups they changed are in the store.
class KafkaIngest {
 public:
  static Result<std::unique_ptr<KafkaIngest>> start(Context& ctx, const Config& config) {
    auto tenant = SIRA_TRY(ctx.auth->find_tenant(config.kafka.tenant));
    signals::Format format;
    signals::parse_format(config.kafka.format, &format);
    signals::KafkaOptions o;
    o.brokers = config.kafka.brokers;
    o.topic = config.kafka.topic;
    o.group = config.kafka.group;
    o.batch_max_messages = config.kafka.batch_max_messages;
    o.batch_max_ms = config.kafka.batch_max_ms;
    std::string_view props = config.kafka.properties;
    while (!props.empty()) {
      size_t comma = props.find(',');
      std::string_view item = props.substr(0, comma);
      size_t eq = item.find('=');
      o.extra[std::string(item.substr(0, eq))] = std::string(item.substr(eq + 1));
      props = comma == std::string_view::npos ? std::string_view() : props.substr(comma + 1);
    }
    auto source = SIRA_TRY(signals::KafkaSource::open(o));
    return std::unique_ptr<KafkaIngest>(new KafkaIngest(ctx, tenant.id, format, std::move(source)));
  }

  ~KafkaIngest() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
    source_->close();
  }

 private:
  KafkaIngest(Context& ctx, std::string tenant_id, signals::Format format,
              std::unique_ptr<signals::KafkaSource> source)
      : ctx_(ctx), tenant_id_(std::move(tenant_id)), format_(format), source_(std::move(source)) {
    thread_ = std::jthread([this](std::stop_token stop) {
      auto st = source_->run(stop, [this](std::string_view data, int64_t) -> Status {
        auto rep = ctx_.guard->ingest(tenant_id_, data, format_, "kafka");
        if (!rep) return std::unexpected(rep.error());
        return ctx_.guard->flush();
      });
      if (!st) log_error("kafka consumer stopped", {{"error", st.error().detail}});
    });
  }

  Context& ctx_;
  std::string tenant_id_;
  signals::Format format_;
  std::unique_ptr<signals::KafkaSource> source_;
  std::jthread thread_;
};

// Alert groups are checked every 10 ms (a pass only regroups new alerts and reads the groups
// that are due, so an idle pass is cheap); notifications are delivered on a second thread, woken
// as soon as a flush queued something (and every 100 ms for retries), so a slow receiver never
// delays a flush. Resolved alerts are forgotten an hour after they were dealt with.
class NotifyLoop {
 public:
  explicit NotifyLoop(Context& ctx) : ctx_(ctx) {
    ctx_.dispatcher->set_on_queued([this] {
      std::lock_guard lock(mu_);
      queued_ = true;
      cv_.notify_one();
    });
    flusher_ = std::jthread([this](std::stop_token stop) {
      auto next_gc = std::chrono::steady_clock::now() + std::chrono::minutes(10);
      auto& flush_seconds = ctx_.metrics.histogram(
          "sira_alerts_flush_pass_seconds", "Duration of a dispatcher pass over the alert groups.",
          MetricsRegistry::default_latency_buckets());
      while (!stop.stop_requested()) {
        const auto t0 = std::chrono::steady_clock::now();
        auto n = ctx_.dispatcher->flush();
        flush_seconds.observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        if (!n) {
          log_warn("alert flush failed", {{"error", n.error().detail}});
        } else if (*n > 0) {
          std::lock_guard lock(mu_);
          queued_ = true;
          cv_.notify_one();
        }
        if (std::chrono::steady_clock::now() >= next_gc) {
          (void)ctx_.alerts->gc(ctx_.clock.now_ms() - 3600 * 1000);
          next_gc = std::chrono::steady_clock::now() + std::chrono::minutes(10);
        }
        std::unique_lock lock(mu_);
        cv_flush_.wait_for(lock, stop, std::chrono::milliseconds(10), [] { return false; });
      }
    });
    sender_ = std::jthread([this](std::stop_token stop) {
      auto& deliver_seconds = ctx_.metrics.histogram(
          "sira_notifications_deliver_pass_seconds",
          "Duration of a delivery pass (up to 64 notifications sent, then recorded).",
          MetricsRegistry::default_latency_buckets());
      while (!stop.stop_requested()) {
        const auto t0 = std::chrono::steady_clock::now();
        if (auto n = ctx_.dispatcher->deliver(); !n)
          log_warn("notification delivery failed", {{"error", n.error().detail}});
        deliver_seconds.observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, stop, std::chrono::milliseconds(100), [this] { return queued_; });
        queued_ = false;
      }
    });
  }

  ~NotifyLoop() {
    flusher_.request_stop();
    sender_.request_stop();
    if (flusher_.joinable()) flusher_.join();
    if (sender_.joinable()) sender_.join();
    ctx_.dispatcher->set_on_queued({});
  }
  NotifyLoop(const NotifyLoop&) = delete;
  NotifyLoop& operator=(const NotifyLoop&) = delete;

 private:
  Context& ctx_;
  std::mutex mu_;
  std::condition_variable_any cv_, cv_flush_;
  bool queued_ = false;
  std::jthread flusher_, sender_;
};

int64_t system_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Periodic work: audit re-verification and idempotency key expiry.
class BackgroundLoop {
 public:
  BackgroundLoop(Context& ctx, api::IdempotencyStore& idem, int64_t verify_interval_s,
                 int64_t flush_interval_s)
      : ctx_(ctx), idem_(idem), interval_(verify_interval_s), flush_interval_(flush_interval_s) {
    thread_ = std::thread([this] { run(); });
  }
  ~BackgroundLoop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void run() {
    using namespace std::chrono;
    auto next_verify = steady_clock::now() + seconds(interval_ > 0 ? interval_ : 3600);
    auto next_purge = steady_clock::now() + minutes(10);
    auto next_flush = steady_clock::now() + seconds(flush_interval_);
    std::unique_lock lock(mu_);
    while (!stop_) {
      cv_.wait_until(lock, std::min({next_verify, next_purge, next_flush}), [this] { return stop_; });
      if (stop_) break;
      lock.unlock();
      auto now = steady_clock::now();
      if (now >= next_flush) {
        if (auto st = ctx_.guard->flush(); !st)
          log_warn("guard rollup flush failed", {{"error", st.error().detail}});
        next_flush = now + seconds(flush_interval_);
      }
      if (interval_ > 0 && now >= next_verify) {
        auto tenants = auth::AuthService::tenant_ids(*ctx_.db);
        auto reps = tenants ? ctx_.audit->reverify_all(*tenants)
                            : Result<std::vector<audit::VerifyReport>>(std::unexpected(tenants.error()));
        if (!reps)
          log_error("audit re-verification could not read the store", {{"error", reps.error().detail}});
        next_verify = now + seconds(interval_);
      } else if (interval_ == 0) {
        next_verify = now + hours(1);
      }
      if (now >= next_purge) {
        (void)ctx_.decisions->sweep_expired();
        if (auto st = idem_.purge_expired(); !st)
          log_warn("idempotency purge failed", {{"error", st.error().detail}});
        if (auto n = ctx_.guard->purge(system_clock_ms()); !n)
          log_warn("guard retention purge failed", {{"error", n.error().detail}});
        next_purge = now + minutes(10);
      }
      lock.lock();
    }
  }

  Context& ctx_;
  api::IdempotencyStore& idem_;
  int64_t interval_;
  int64_t flush_interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

int serve(const Config& config, const std::function<void(const std::string&)>& on_listening,
          const std::function<void(const std::string&)>& on_bootstrap) {
  static SystemClock clock;
  DataPaths paths(config.data_dir);
  std::error_code ec;
  fs::create_directories(config.data_dir, ec);
  if (auto st = check_config(config); !st) {
    log_error("bad configuration", {{"error", st.error().detail}});
    return 1;
  }
  auto lock = DataLock::acquire(paths);
  if (!lock) {
    log_error("cannot start", {{"error", lock.error().detail}});
    return 1;
  }
  OpenOptions oo;
  oo.create = true;
  oo.migrate = true;
  oo.synchronous = config.store.synchronous;
  oo.read_connections = static_cast<int>(config.store.read_connections);
  oo.busy_timeout_ms = static_cast<int>(config.store.busy_timeout_ms);
  oo.guard = guard_config(config);
  std::vector<std::string> unsupported;
  auto alerting = load_alerting(config, &unsupported);
  if (!alerting) {
    log_error("bad configuration", {{"error", alerting.error().detail}});
    return 1;
  }
  for (const auto& field : unsupported)
    log_warn("alerting config: field not supported, ignored", {{"field", field}});
  oo.alerting = std::move(alerting->first);
  oo.alerting_text = std::move(alerting->second);
  oo.dispatch.external_url = config.public_url;
  oo.dispatch.retry_initial_ms = config.alerts.retry_initial_ms;
  oo.dispatch.retry_max_ms = config.alerts.retry_max_ms;
  oo.dispatch.max_attempts = config.alerts.max_attempts;
  oo.dispatch.notify_silences = config.alerts.notify_silences;
  oo.dispatch.send_concurrency = config.alerts.send_concurrency;
  oo.dispatch.deliver_batch = std::max<int64_t>(64, 8 * config.alerts.send_concurrency);
  auto opened = open_context(config.data_dir, clock, oo);
  if (!opened) {
    log_error("cannot start", {{"error", opened.error().detail}});
    return 1;
  }
  Context& ctx = **opened;
  auto sys = ctx.auth->system_tenant();
  if (!sys) {
    log_error("cannot start", {{"error", sys.error().detail}});
    return 1;
  }
  if (!*sys) {
    auto b = initialise(ctx, "admin");
    if (!b) {
      log_error("cannot initialise the data directory", {{"error", b.error().detail}});
      return 1;
    }
    on_bootstrap(b->admin_token.secret);
  }
  for (const auto& rep : ctx.startup_verification)
    if (!rep.ok)
      log_error("audit log failed verification at start",
                {{"tenant", rep.tenant_id}, {"first_bad_index", std::to_string(rep.first_bad_index)},
                 {"reason", rep.reason}});

  ctx.metrics.gauge("sira_build_info", "Build information.",
                    {{"version", SIRA_BUILD_VERSION}, {"revision", SIRA_BUILD_REVISION}})
      .set(1);
  auto& started = ctx.metrics.gauge("sira_start_time_seconds", "Start time of the process.");
  started.set(static_cast<double>(clock.now_ms()) / 1000.0);

  api::IdempotencyStore idem(*ctx.db, clock, config.idempotency_ttl_seconds);
  std::atomic<bool> draining{false};
  api::Services services{*ctx.auth, *ctx.audit, idem, ctx.metrics, clock, nullptr,
                         ctx.decisions.get(), ctx.guard.get()};
  services.alerts = ctx.alerts.get();
  services.dispatcher = ctx.dispatcher.get();
  if (!config.alerts.anonymous_tenant.empty()) {
    auto anon = ctx.auth->find_tenant(config.alerts.anonymous_tenant);
    if (!anon) {
      log_error("bad configuration", {{"error", "alerts.anonymous_tenant: " + anon.error().detail}});
      return 1;
    }
    services.alerts_anonymous_tenant = anon->id;
  }
  services.version = SIRA_BUILD_VERSION;
  services.revision = SIRA_BUILD_REVISION;
  services.readiness = [&]() {
    std::vector<api::Check> checks;
    auto tx = ctx.db->begin(store::TxKind::kRead);
    bool store_ok = tx && (*tx)->query_one("SELECT 1").has_value();
    checks.push_back({"store", store_ok, store_ok ? ctx.db->backend() + " open" : "store unavailable"});
    auto schema = store::check_schema(*ctx.db, all_migrations());
    checks.push_back({"migrations", schema.has_value(),
                      schema ? "all applied" : schema.error().detail});
    auto failures = ctx.audit->failures();
    std::string detail = "verified at start";
    for (const auto& f : failures)
      detail = "tenant " + f.tenant_id + " frozen: first bad index " +
               std::to_string(f.first_bad_index) + " (" + f.reason + ")";
    checks.push_back({"audit", failures.empty(), detail});
    checks.push_back({"accepting", !draining.load(), draining ? "shutting down" : "yes"});
    return checks;
  };

  http::Router router;
  api::add_all_routes(router, services);

  http::ServerOptions so;
  so.listen = config.listen;
  so.max_body_bytes = config.http.max_body_bytes;
  so.max_header_bytes = config.http.max_header_bytes;
  so.idle_timeout_seconds = config.http.idle_timeout_seconds;
  so.request_timeout_seconds = config.http.request_timeout_seconds;
  so.max_connections = config.http.max_connections;
  so.drain_timeout_seconds = config.http.drain_timeout_seconds;
  so.threads = config.http.threads > 0 ? static_cast<int>(config.http.threads)
                                       : static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
  http::Server server(so, router, ctx.metrics);
  auto bound = server.bind();
  if (!bound) {
    log_error("cannot listen", {{"listen", config.listen}, {"error", bound.error().detail}});
    return 1;
  }
  server.on_stop([&] {
    draining = true;
    log_info("shutting down: draining in-flight requests");
  });
  {
    BackgroundLoop loop(ctx, idem, config.audit.verify_interval_seconds,
                        config.guard.flush_interval_seconds);
    NotifyLoop notify(ctx);
    // Alerts are acknowledged once their group commit is durable; the writer stops (committing
    // what is pending) after the server has answered its last request.
    ctx.alerts->start_writer();
    struct StopWriter {
      alerts::AlertService& a;
      ~StopWriter() { a.stop_writer(); }
    } stop_writer{*ctx.alerts};
    std::unique_ptr<KafkaIngest> kafka;
    if (!config.kafka.brokers.empty()) {
      auto k = KafkaIngest::start(ctx, config);
      if (!k) {
        log_error("cannot start the kafka consumer", {{"error", k.error().detail}});
        return 1;
      }
      kafka = std::move(*k);
      log_info("kafka consumer started", {{"brokers", config.kafka.brokers},
                                          {"topic", config.kafka.topic},
                                          {"group", config.kafka.group}});
    }
    log_info("sira listening", {{"address", *bound}, {"data", config.data_dir}});
    on_listening(*bound);
    server.run();
  }
  // Rollups changed since the last periodic flush.
  if (auto st = ctx.guard->flush(); !st)
    log_error("guard rollup flush at shutdown failed", {{"error", st.error().detail}});
  log_info("sira stopped");
  return 0;
}

}  // namespace sira::app
