// The alerting configuration: an Alertmanager 0.25 `alertmanager.yml` (global, route,
// receivers, inhibit_rules, time_intervals / mute_time_intervals, templates) parsed into
// typed values, with Alertmanager's defaults and validation.
//
// What sira does not implement is never dropped silently: every such field is reported as a
// dotted path (`receivers[2].opsgenie_configs`, `receivers[0].webhook_configs[0].http_config`)
// so `sira alerts check-config` can name it. Keys Alertmanager itself does not know are errors,
// as with Alertmanager's strict parsing. Plain values: thread-safe to read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "alerts/inhibit.h"
#include "alerts/route.h"
#include "alerts/timeinterval.h"
#include "core/error.h"

namespace sira::alerts {

inline constexpr const char* kDefaultPagerDutyUrl = "https://events.pagerduty.com/v2/enqueue";

struct WebhookConfig {
  std::string url;
  bool send_resolved = true;
  int64_t max_alerts = 0;  // 0 = no limit
};

// Template fields hold Alertmanager template text as written (defaults are Alertmanager's own
// template references); rendering is the notifier's business.
struct SlackConfig {
  std::string api_url;  // falls back to global.slack_api_url
  std::string channel;
  std::string username = "{{ template \"slack.default.username\" . }}";
  std::string title = "{{ template \"slack.default.title\" . }}";
  std::string text = "{{ template \"slack.default.text\" . }}";
  bool send_resolved = false;
};

struct PagerDutyConfig {
  std::string routing_key;                 // Events API v2
  std::string service_key;                 // Events API v1 (legacy)
  std::string url = kDefaultPagerDutyUrl;  // falls back to global.pagerduty_url
  std::string severity = "error";          // Alertmanager's notifier default
  std::string description = "{{ template \"pagerduty.default.description\" .}}";
  bool send_resolved = true;
};

struct EmailConfig {
  std::string to;
  std::string from;       // falls back to global.smtp_from
  std::string smarthost;  // host:port, falls back to global.smtp_smarthost
  std::string hello;      // falls back to global.smtp_hello ("localhost")
  std::string auth_username;
  std::string auth_password;
  std::string require_tls_str;  // "true" / "false" after applying the global default
  bool require_tls = true;
  bool send_resolved = false;
};

struct Receiver {
  std::string name;
  std::vector<WebhookConfig> webhook_configs;
  std::vector<SlackConfig> slack_configs;
  std::vector<PagerDutyConfig> pagerduty_configs;
  std::vector<EmailConfig> email_configs;
};

struct GlobalConfig {
  int64_t resolve_timeout_ms = 300000;
  std::string smtp_from;
  std::string smtp_smarthost;
  std::string smtp_hello = "localhost";
  std::string smtp_auth_username;
  std::string smtp_auth_password;
  bool smtp_require_tls = true;
  std::string slack_api_url;
  std::string pagerduty_url = kDefaultPagerDutyUrl;
};

struct AlertingConfig {
  GlobalConfig global;
  Route route;  // resolved (see resolve_route_tree)
  std::vector<InhibitRule> inhibit_rules;
  std::vector<Receiver> receivers;
  // time_intervals and the deprecated mute_time_intervals, in file order.
  std::vector<NamedTimeInterval> time_intervals;
  std::vector<std::string> templates;

  const Receiver* find_receiver(std::string_view name) const;
  const NamedTimeInterval* find_time_interval(std::string_view name) const;
};

// Parses an alertmanager.yml. Appends the dotted path of every field sira does not support to
// `*unsupported` (may be null). Errors are kConfig with Error::field set to the dotted path of
// the offending value and the path leading the detail, e.g.
// `route.routes[1].receiver: undefined receiver "ops" used in route`. Checked as Alertmanager:
// YAML syntax, unknown keys, missing route / root receiver, root route with matchers, `continue`
// or time intervals, undefined receivers and time intervals, duplicate receiver and interval
// names, durations (Prometheus syntax), zero group_interval / repeat_interval, label names,
// matchers and regexes, group_by (`...` alone, no duplicates), time interval syntax, missing
// integration essentials (webhook url, email to / from / smarthost, PagerDuty key, Slack URL).
Result<AlertingConfig> parse_alerting_config(std::string_view yaml,
                                             std::vector<std::string>* unsupported);

// A minimal valid configuration: the root route sends everything to a receiver named
// "default" that has no integrations.
std::string default_config_yaml();

// Prometheus duration syntax (model.ParseDuration): units y w d h m s ms, each at most once
// and in that order, integers only, e.g. "30s", "1h30m", "1d", "1w"; "0" is zero. Errors are
// kConfig: "empty duration string", "not a valid duration string: \"x\"", "duration out of
// range".
Result<int64_t> parse_duration_ms(std::string_view text);
// Prometheus model.Duration.String(): "0s", "5m", "1h30m", "90d"; years and weeks only when
// exact.
std::string format_duration_ms(int64_t ms);

}  // namespace sira::alerts
