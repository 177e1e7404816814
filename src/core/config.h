// Server configuration: defaults, then sira.yaml (when given), then SIRA_* environment
// variables (key "http.max_body_bytes" <- SIRA_HTTP_MAX_BODY_BYTES), then command-line flags.
// Every key is validated; a bad one yields an Error of code kConfig whose `field` names it.
// Plain value type; thread-safe to read once built.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"

namespace sira {

struct Config {
  std::string data_dir = "./data";
  std::string listen = "127.0.0.1:8080";
  std::string log_format = "text";  // text | json
  std::string log_level = "info";   // trace | debug | info | warn | error
  struct Http {
    int64_t max_body_bytes = 8 * 1024 * 1024;
    int64_t max_header_bytes = 16 * 1024;
    int64_t idle_timeout_seconds = 60;
    int64_t request_timeout_seconds = 30;
    int64_t max_connections = 4096;
    int64_t threads = 0;  // 0 = number of cores
    int64_t drain_timeout_seconds = 15;
  } http;
  struct Store {
    std::string synchronous = "full";  // full | normal
    int64_t busy_timeout_ms = 5000;
    int64_t read_connections = 4;
  } store;
  struct Audit {
    int64_t verify_interval_seconds = 60;  // background re-verification; 0 = only at start
  } audit;
  int64_t idempotency_ttl_seconds = 24 * 3600;
  std::string public_url = "http://127.0.0.1:8080";  // base of links sira hands out
  struct Guard {
    bool auto_action = true;
    int64_t throttle_rate_per_minute = 10;
    int64_t throttle_seconds = 3600;
    int64_t tempban_seconds = 3600;
    std::string ban_duration_expr = "base * 2 ^ offences";
    int64_t max_ban_seconds = 30 * 86400;
    int64_t key_rotation_days = 90;
    int64_t cooldown_seconds = 900;
    int64_t recent_records = 100000;
    int64_t debug_pack_ttl_seconds = 7 * 86400;
    double brute_force_error_rate = 0.5;
    int64_t brute_force_min_requests = 100;
    double bot_p95_ms = 50;
    int64_t bot_min_requests = 1000;
    double ip_rotation_per_100 = 10;
    int64_t ip_rotation_min_unique = 20;
    double spike_ratio = 5;
    // Rollup state (every key's rings and sketches) may use at most this much memory; past it
    // the least recently seen keys are written to the store and dropped from memory.
    int64_t memory_budget_mb = 1024;
    int64_t flush_interval_seconds = 10;  // dirty rollups are written to the store this often
  } guard;
  struct Signals {
    int64_t metrics_retention_days = 90;  // also METRICS_RETENTION_DAYS (seed 002)
    int64_t traces_retention_days = 7;    // also TRACES_RETENTION_DAYS (seed 002)
    // Where the API key is in an nginx line: "field" (the quoted field after $request_time),
    // "remote_user" ($remote_user), or "query:NAME" (query parameter NAME of the request).
    std::string nginx_key = "field";
    // JSON field of an Envoy access-log line that holds the API key ("query:NAME" also works).
    std::string envoy_key = "api_key";
  } signals;
  struct Kafka {
    std::string brokers;  // empty: no Kafka consumer
    std::string topic = "sira.requests";
    std::string group = "sira";
    std::string tenant;   // tenant the records belong to (required when brokers is set)
    std::string format = "ndjson";  // ndjson | nginx | envoy: one record per message
    int64_t batch_max_messages = 10000;
    int64_t batch_max_ms = 200;
    // Extra librdkafka properties, "name=value" pairs separated by commas (e.g.
    // "security.protocol=SSL,session.timeout.ms=10000").
    std::string properties;
  } kafka;
  struct Alerts {
    std::string config_file;       // an alertmanager.yml (route, receivers, inhibit_rules...)
    std::string anonymous_tenant;  // tenant id of /api/v2 calls without credentials; "" = refused
    int64_t retry_initial_ms = 1000;  // first retry of a failed notification, doubled each time
    int64_t retry_max_ms = 300000;
    int64_t max_attempts = 10;        // then the notification is dead (replayable)
    bool notify_silences = false;     // tell receivers when a silence starts or ends (#730)
    int64_t send_concurrency = 32;    // notifications sent at once (one lane per group)
    // The `alerting:` map of sira.yaml (alertmanager.yml's content) as YAML text, and the
    // directory of sira.yaml (relative template paths). Exclusive with config_file.
    std::string inline_config;
    std::string inline_base_dir;
  } alerts;
};

// Names of every key accepted in sira.yaml / SIRA_* (dotted form).
const std::vector<std::string>& config_keys();

// Builds the configuration. `yaml_path` may be empty (no file). `env` holds the environment
// (name -> value); `overrides` holds dotted keys set from command-line flags.
Result<Config> load_config(const std::string& yaml_path, const std::map<std::string, std::string>& env,
                           const std::map<std::string, std::string>& overrides);

// The process environment as a map.
std::map<std::string, std::string> environment_map();

}  // namespace sira
