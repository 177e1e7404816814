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
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "alerts/inhibit.h"
#include "alerts/route.h"
#include "alerts/template.h"
#include "alerts/timeinterval.h"
#include "core/error.h"

namespace sira::alerts {

inline constexpr const char* kDefaultPagerDutyUrl = "https://events.pagerduty.com/v2/enqueue";

struct WebhookConfig {
  std::string url;
  bool send_resolved = true;
  int64_t max_alerts = 0;  // 0 = no limit
  // sira extension: a template producing the whole request body (empty: Alertmanager's
  // payload version 4), sent with content_type.
  std::string body_template;
  std::string content_type = "application/json";
};

// Template fields hold Alertmanager template text as written (defaults are Alertmanager's own
// template references); they are checked when the configuration is parsed and rendered by the
// notifier (AlertingConfig::templates).
struct SlackConfig {
  std::string api_url;  // falls back to global.slack_api_url
  std::string channel;
  std::string username = "{{ template \"slack.default.username\" . }}";
  std::string color = "{{ if eq .Status \"firing\" }}danger{{ else }}good{{ end }}";
  std::string title = "{{ template \"slack.default.title\" . }}";
  std::string title_link = "{{ template \"slack.default.titlelink\" . }}";
  std::string pretext = "{{ template \"slack.default.pretext\" . }}";
  std::string text = "{{ template \"slack.default.text\" . }}";
  std::string fallback = "{{ template \"slack.default.fallback\" . }}";
  std::string footer = "{{ template \"slack.default.footer\" . }}";
  std::string icon_emoji = "{{ template \"slack.default.iconemoji\" . }}";
  std::string icon_url = "{{ template \"slack.default.iconurl\" . }}";
  bool send_resolved = false;
};

struct PagerDutyConfig {
  std::string routing_key;                 // Events API v2
  std::string service_key;                 // Events API v1 (legacy)
  std::string url = kDefaultPagerDutyUrl;  // falls back to global.pagerduty_url
  std::string severity = "error";          // Alertmanager's notifier default
  std::string description = "{{ template \"pagerduty.default.description\" .}}";
  std::string client = "{{ template \"pagerduty.default.client\" . }}";
  std::string client_url = "{{ template \"pagerduty.default.clientURL\" . }}";
  std::string class_, component, group;
  // custom_details: Alertmanager's defaults (firing, resolved, num_firing, num_resolved) merged
  // under the configured ones.
  std::map<std::string, std::string> details = default_details();
  bool send_resolved = true;

  static std::map<std::string, std::string> default_details();
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
  std::string html = "{{ template \"email.default.html\" . }}";
  std::string text;  // empty: sira's plain-text rendering ("email.default.text")
  // Header name (canonical MIME case) -> template; Subject defaults to email.default.subject.
  std::map<std::string, std::string> headers;
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
  std::vector<std::string> templates;  // the globs as written
  // Built-in named templates plus the {{ define }} blocks of the files `templates` matched.
  // Never null after parse_alerting_config.
  std::shared_ptr<const TemplateSet> template_set = TemplateSet::defaults();
  std::vector<std::string> template_files;  // the files read, in order

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
//
// Templates: the files matched by `templates` globs (relative ones resolved against
// `base_dir`, the directory of the configuration file; the current directory when empty) are
// read and their definitions added; every template field of every receiver must parse. Errors
// name the path: `templates[0]: template: /etc/am/x.tmpl:3:7: unexpected "}" in operand`,
// `receivers[1].slack_configs[0].title: template: title:1:4: function "nope" not defined`.
Result<AlertingConfig> parse_alerting_config(std::string_view yaml,
                                             std::vector<std::string>* unsupported);
Result<AlertingConfig> parse_alerting_config(std::string_view yaml,
                                             std::vector<std::string>* unsupported,
                                             const std::string& base_dir);

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
