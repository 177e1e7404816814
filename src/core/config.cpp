// Configuration loading: defaults < sira.yaml < SIRA_* environment < command-line flags.
#include "core/config.h"

// yaml-cpp's headers trip g++ 12's -Wdangling-pointer at -O2; the warning is theirs, not ours.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#include <yaml-cpp/yaml.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <functional>
#include <unistd.h>

extern char** environ;

namespace sira {

namespace {

struct KeySpec {
  std::string key;
  // Applies a textual value; returns an error message ("" = ok).
  std::function<std::string(Config&, const std::string&)> apply;
  std::string alias_env = {};  // a second environment name the seeds use
};


template <class Getter>
std::function<std::string(Config&, const std::string&)> integer(Getter get, int64_t lo,
                                                                 int64_t hi) {
  return [get, lo, hi](Config& c, const std::string& v) -> std::string {
    int64_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size())
      return "must be an integer, got \"" + v + "\"";
    if (n < lo || n > hi)
      return "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " + v;
    get(c) = n;
    return "";
  };
}

template <class Getter>
std::function<std::string(Config&, const std::string&)> text(Getter get,
                                                              std::vector<std::string> choices) {
  return [get, choices](Config& c, const std::string& v) -> std::string {
    if (!choices.empty() && std::find(choices.begin(), choices.end(), v) == choices.end()) {
      std::string list;
      for (const auto& ch : choices) list += (list.empty() ? "" : ", ") + ch;
      return "must be one of " + list + ", got \"" + v + "\"";
    }
    if (choices.empty() && v.empty()) return "must not be empty";
    get(c) = v;
    return "";
  };
}

std::string check_listen(const std::string& v) {
  auto colon = v.rfind(':');
  if (colon == std::string::npos || colon == 0) return "must be HOST:PORT, got \"" + v + "\"";
  std::string port = v.substr(colon + 1);
  int p = -1;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || ptr != port.data() + port.size() || p < 0 || p > 65535)
    return "port must be 0..65535, got \"" + port + "\"";
  return "";
}

template <class Getter>
std::function<std::string(Config&, const std::string&)> boolean(Getter get) {
  return [get](Config& c, const std::string& v) -> std::string {
    if (v == "true" || v == "1" || v == "yes" || v == "on") get(c) = true;
    else if (v == "false" || v == "0" || v == "no" || v == "off") get(c) = false;
    else return "must be true or false, got \"" + v + "\"";
    return "";
  };
}

template <class Getter>
std::function<std::string(Config&, const std::string&)> real(Getter get, double lo, double hi) {
  return [get, lo, hi](Config& c, const std::string& v) -> std::string {
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (v.empty() || end != v.c_str() + v.size() || !(d >= lo && d <= hi))
      return "must be a number between " + std::to_string(lo) + " and " + std::to_string(hi) +
             ", got \"" + v + "\"";
    get(c) = d;
    return "";
  };
}

const std::vector<KeySpec>& specs() {
  static const std::vector<KeySpec> kSpecs = {
      {"data_dir", text([](Config& c) -> std::string& { return c.data_dir; }, {})},
      {"listen",
       [](Config& c, const std::string& v) -> std::string {
         auto err = check_listen(v);
         if (err.empty()) c.listen = v;
         return err;
       }},
      {"log_format", text([](Config& c) -> std::string& { return c.log_format; }, {"text", "json"})},
      {"log_level", text([](Config& c) -> std::string& { return c.log_level; },
                         {"trace", "debug", "info", "warn", "error"})},
      {"http.max_body_bytes",
       integer([](Config& c) -> int64_t& { return c.http.max_body_bytes; }, 1024, 1LL << 30)},
      {"http.max_header_bytes",
       integer([](Config& c) -> int64_t& { return c.http.max_header_bytes; }, 1024, 1 << 20)},
      {"http.idle_timeout_seconds",
       integer([](Config& c) -> int64_t& { return c.http.idle_timeout_seconds; }, 1, 86400)},
      {"http.request_timeout_seconds",
       integer([](Config& c) -> int64_t& { return c.http.request_timeout_seconds; }, 1, 3600)},
      {"http.max_connections",
       integer([](Config& c) -> int64_t& { return c.http.max_connections; }, 1, 1000000)},
      {"http.threads", integer([](Config& c) -> int64_t& { return c.http.threads; }, 0, 256)},
      {"http.drain_timeout_seconds",
       integer([](Config& c) -> int64_t& { return c.http.drain_timeout_seconds; }, 0, 3600)},
      {"store.synchronous",
       text([](Config& c) -> std::string& { return c.store.synchronous; }, {"full", "normal"})},
      {"store.busy_timeout_ms",
       integer([](Config& c) -> int64_t& { return c.store.busy_timeout_ms; }, 0, 600000)},
      {"store.read_connections",
       integer([](Config& c) -> int64_t& { return c.store.read_connections; }, 1, 64)},
      {"audit.verify_interval_seconds",
       integer([](Config& c) -> int64_t& { return c.audit.verify_interval_seconds; }, 0, 86400)},
      {"idempotency_ttl_seconds",
       integer([](Config& c) -> int64_t& { return c.idempotency_ttl_seconds; }, 60, 30 * 86400)},
      {"public_url", text([](Config& c) -> std::string& { return c.public_url; }, {})},
      {"guard.auto_action", boolean([](Config& c) -> bool& { return c.guard.auto_action; })},
      {"guard.throttle_rate_per_minute",
       integer([](Config& c) -> int64_t& { return c.guard.throttle_rate_per_minute; }, 1, 1000000)},
      {"guard.throttle_seconds",
       integer([](Config& c) -> int64_t& { return c.guard.throttle_seconds; }, 1, 365 * 86400)},
      {"guard.tempban_seconds",
       integer([](Config& c) -> int64_t& { return c.guard.tempban_seconds; }, 1, 365 * 86400)},
      {"guard.ban_duration_expr", text([](Config& c) -> std::string& { return c.guard.ban_duration_expr; }, {})},
      {"guard.max_ban_seconds",
       integer([](Config& c) -> int64_t& { return c.guard.max_ban_seconds; }, 1, 10LL * 365 * 86400)},
      {"guard.key_rotation_days",
       integer([](Config& c) -> int64_t& { return c.guard.key_rotation_days; }, 1, 3650)},
      {"guard.cooldown_seconds",
       integer([](Config& c) -> int64_t& { return c.guard.cooldown_seconds; }, 0, 86400)},
      {"guard.recent_records",
       integer([](Config& c) -> int64_t& { return c.guard.recent_records; }, 0, 10000000)},
      {"guard.debug_pack_ttl_seconds",
       integer([](Config& c) -> int64_t& { return c.guard.debug_pack_ttl_seconds; }, 1, 90 * 86400)},
      {"guard.brute_force_error_rate",
       real([](Config& c) -> double& { return c.guard.brute_force_error_rate; }, 0, 1)},
      {"guard.brute_force_min_requests",
       integer([](Config& c) -> int64_t& { return c.guard.brute_force_min_requests; }, 1, 1LL << 40)},
      {"guard.bot_p95_ms", real([](Config& c) -> double& { return c.guard.bot_p95_ms; }, 0, 1e6)},
      {"guard.bot_min_requests",
       integer([](Config& c) -> int64_t& { return c.guard.bot_min_requests; }, 1, 1LL << 40)},
      {"guard.ip_rotation_per_100",
       real([](Config& c) -> double& { return c.guard.ip_rotation_per_100; }, 0, 100)},
      {"guard.ip_rotation_min_unique",
       integer([](Config& c) -> int64_t& { return c.guard.ip_rotation_min_unique; }, 1, 1LL << 40)},
      {"guard.spike_ratio", real([](Config& c) -> double& { return c.guard.spike_ratio; }, 1, 1e6)},
      {"guard.memory_budget_mb",
       integer([](Config& c) -> int64_t& { return c.guard.memory_budget_mb; }, 1, 1 << 20)},
      {"guard.flush_interval_seconds",
       integer([](Config& c) -> int64_t& { return c.guard.flush_interval_seconds; }, 1, 3600)},
      {"signals.metrics_retention_days",
       integer([](Config& c) -> int64_t& { return c.signals.metrics_retention_days; }, 1, 3650),
       "METRICS_RETENTION_DAYS"},
      {"signals.traces_retention_days",
       integer([](Config& c) -> int64_t& { return c.signals.traces_retention_days; }, 1, 3650),
       "TRACES_RETENTION_DAYS"},
      {"signals.nginx_key",
       [](Config& c, const std::string& v) -> std::string {
         if (v != "field" && v != "remote_user" && !(v.starts_with("query:") && v.size() > 6))
           return "must be field, remote_user or query:NAME, got \"" + v + "\"";
         c.signals.nginx_key = v;
         return "";
       }},
      {"signals.envoy_key", text([](Config& c) -> std::string& { return c.signals.envoy_key; }, {})},
      {"kafka.brokers", text([](Config& c) -> std::string& { return c.kafka.brokers; }, {})},
      {"kafka.topic", text([](Config& c) -> std::string& { return c.kafka.topic; }, {})},
      {"kafka.group", text([](Config& c) -> std::string& { return c.kafka.group; }, {})},
      {"kafka.tenant", text([](Config& c) -> std::string& { return c.kafka.tenant; }, {})},
      {"kafka.format",
       text([](Config& c) -> std::string& { return c.kafka.format; }, {"ndjson", "nginx", "envoy"})},
      {"kafka.batch_max_messages",
       integer([](Config& c) -> int64_t& { return c.kafka.batch_max_messages; }, 1, 1000000)},
      {"kafka.properties",
       [](Config& c, const std::string& v) -> std::string {
         size_t start = 0;
         while (start <= v.size()) {
           size_t end = v.find(',', start);
           if (end == std::string::npos) end = v.size();
           std::string_view item(v.data() + start, end - start);
           auto eq = item.find('=');
           if (eq == std::string_view::npos || eq == 0)
             return "must be name=value pairs separated by commas, got \"" + v + "\"";
           start = end + 1;
         }
         c.kafka.properties = v;
         return "";
       }},
      {"alerts.config_file", text([](Config& c) -> std::string& { return c.alerts.config_file; }, {})},
      {"alerts.retry_initial_ms",
       integer([](Config& c) -> int64_t& { return c.alerts.retry_initial_ms; }, 10, 3600000)},
      {"alerts.retry_max_ms",
       integer([](Config& c) -> int64_t& { return c.alerts.retry_max_ms; }, 10, 86400000)},
      {"alerts.max_attempts",
       integer([](Config& c) -> int64_t& { return c.alerts.max_attempts; }, 1, 1000)},
      {"alerts.notify_silences", boolean([](Config& c) -> bool& { return c.alerts.notify_silences; })},
      {"alerts.send_concurrency",
       integer([](Config& c) -> int64_t& { return c.alerts.send_concurrency; }, 1, 64)},
      {"alerts.anonymous_tenant",
       text([](Config& c) -> std::string& { return c.alerts.anonymous_tenant; }, {})},
      {"kafka.batch_max_ms",
       integer([](Config& c) -> int64_t& { return c.kafka.batch_max_ms; }, 1, 60000)},
  };
  return kSpecs;
}

const KeySpec* find_spec(const std::string& key) {
  for (const auto& s : specs())
    if (s.key == key) return &s;
  return nullptr;
}

std::string env_name(const std::string& key) {
  std::string out = "SIRA_";
  for (char c : key) out += (c == '.') ? '_' : static_cast<char>(std::toupper(c));
  return out;
}

Status apply(Config& c, const std::string& key, const std::string& value,
             const std::string& origin) {
  const KeySpec* s = find_spec(key);
  if (!s) return fail(ErrorCode::kConfig, origin + ": unknown key \"" + key + "\"", key);
  std::string err = s->apply(c, value);
  if (!err.empty())
    return fail(ErrorCode::kConfig, origin + ": key \"" + key + "\" " + err, key);
  return {};
}

Status flatten(const YAML::Node& node, const std::string& prefix, Config& c,
               const std::string& file) {
  for (auto it = node.begin(); it != node.end(); ++it) {
    // The iterator yields proxies: copy the nodes out before using them.
    YAML::Node k = it->first;
    YAML::Node v = it->second;
    std::string key = prefix.empty() ? k.as<std::string>() : prefix + "." + k.as<std::string>();
    if (key == "alerting") {
      // An alertmanager.yml embedded in sira.yaml: kept as YAML text for the alerts module.
      if (!v.IsMap())
        return fail(ErrorCode::kConfig,
                    file + ": key \"alerting\" must be a map (an alertmanager.yml's content)",
                    key);
      YAML::Emitter out;
      out << v;
      c.alerts.inline_config = out.c_str();
      const auto slash = file.find_last_of('/');
      c.alerts.inline_base_dir = slash == std::string::npos ? "." : file.substr(0, slash);
      if (c.alerts.inline_base_dir.empty()) c.alerts.inline_base_dir = "/";
      continue;
    }
    if (v.IsMap()) {
      SIRA_CHECK(flatten(v, key, c, file));
    } else if (v.IsScalar()) {
      SIRA_CHECK(apply(c, key, v.Scalar(), file));
    } else if (v.IsNull()) {
      continue;
    } else {
      return fail(ErrorCode::kConfig, file + ": key \"" + key + "\" must be a scalar value", key);
    }
  }
  return {};
}

}  // namespace

const std::vector<std::string>& config_keys() {
  static const std::vector<std::string> kKeys = [] {
    std::vector<std::string> keys;
    for (const auto& s : specs()) keys.push_back(s.key);
    return keys;
  }();
  return kKeys;
}

Result<Config> load_config(const std::string& yaml_path,
                           const std::map<std::string, std::string>& env,
                           const std::map<std::string, std::string>& overrides) {
  Config c;
  if (!yaml_path.empty()) {
    YAML::Node root;
    try {
      root = YAML::LoadFile(yaml_path);
    } catch (const YAML::BadFile&) {
      return fail(ErrorCode::kConfig, "cannot read config file " + yaml_path);
    } catch (const YAML::Exception& e) {
      return fail(ErrorCode::kConfig, yaml_path + ": " + e.what());
    }
    if (!root.IsNull()) {
      if (!root.IsMap()) return fail(ErrorCode::kConfig, yaml_path + ": top level must be a map");
      try {
        SIRA_CHECK(flatten(root, "", c, yaml_path));
      } catch (const YAML::Exception& e) {
        return fail(ErrorCode::kConfig, yaml_path + ": " + e.what());
      }
    }
  }
  for (const auto& s : specs()) {
    if (!s.alias_env.empty()) {
      auto alias = env.find(s.alias_env);
      if (alias != env.end())
        SIRA_CHECK(apply(c, s.key, alias->second, "environment " + alias->first));
    }
    auto it = env.find(env_name(s.key));
    if (it != env.end()) SIRA_CHECK(apply(c, s.key, it->second, "environment " + it->first));
  }
  for (const auto& [k, v] : overrides) SIRA_CHECK(apply(c, k, v, "command line"));
  return c;
}

std::map<std::string, std::string> environment_map() {
  std::map<std::string, std::string> out;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    out.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return out;
}

}  // namespace sira
