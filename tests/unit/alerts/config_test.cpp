// alertmanager.yml parsing: the golden config, the unsupported-field report, error paths,
// Prometheus durations.
#include "alerts/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "../test_util.h"
#include "core/clock.h"

namespace sira::alerts {
namespace {

std::string read_golden() {
  std::ifstream in(std::string(SIRA_SOURCE_DIR) + "/tests/golden/alerts/alertmanager.yml");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int64_t T(const char* rfc3339) {
  int64_t ms = 0;
  EXPECT_TRUE(parse_rfc3339(rfc3339, &ms)) << rfc3339;
  return ms;
}

const char* kMinimal = R"yaml(
route:
  receiver: default
receivers:
  - name: default
)yaml";

// Parses kMinimal with `extra` appended to the route / file and returns the error.
Error config_error(const std::string& yaml) {
  auto cfg = parse_alerting_config(yaml, nullptr);
  EXPECT_FALSE(cfg.has_value()) << yaml;
  if (cfg) return Error{};
  EXPECT_EQ(cfg.error().code, ErrorCode::kConfig);
  return cfg.error();
}

TEST(AlertsConfig, GoldenAlertmanagerYml) {
  if (!std::filesystem::exists("/usr/share/zoneinfo/Europe/Paris")) GTEST_SKIP() << "no tzdata";
  std::string yaml = read_golden();
  ASSERT_FALSE(yaml.empty());
  std::vector<std::string> unsupported;
  auto parsed = parse_alerting_config(yaml, &unsupported);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().detail;
  const AlertingConfig& cfg = *parsed;

  EXPECT_EQ(unsupported, (std::vector<std::string>{
                             "global.opsgenie_api_key",
                             "global.http_config",
                             "receivers[4].opsgenie_configs",
                             "receivers[5].webhook_configs[0].http_config",
                             "receivers[6].slack_configs[0].actions",
                             "receivers[6].victorops_configs",
                             "receivers[6].msteams_configs",
                         }));

  // global
  EXPECT_EQ(cfg.global.resolve_timeout_ms, 2 * 60 * 1000);
  EXPECT_EQ(cfg.global.smtp_smarthost, "smtp.example.org:587");
  EXPECT_EQ(cfg.templates, std::vector<std::string>{"/etc/alertmanager/template/*.tmpl"});

  // receivers, with global defaults applied
  ASSERT_EQ(cfg.receivers.size(), 8u);
  const Receiver* xmails = cfg.find_receiver("team-X-mails");
  ASSERT_NE(xmails, nullptr);
  ASSERT_EQ(xmails->email_configs.size(), 1u);
  const EmailConfig& e0 = xmails->email_configs[0];
  EXPECT_EQ(e0.to, "team-X+alerts@example.org");
  EXPECT_EQ(e0.from, "alertmanager@example.org");
  EXPECT_EQ(e0.smarthost, "smtp.example.org:587");
  EXPECT_EQ(e0.hello, "localhost");
  EXPECT_EQ(e0.auth_username, "alertmanager");
  EXPECT_EQ(e0.auth_password, "password");
  EXPECT_TRUE(e0.require_tls);
  EXPECT_EQ(e0.require_tls_str, "true");
  EXPECT_FALSE(e0.send_resolved);
  EXPECT_EQ(e0.headers, (std::map<std::string, std::string>{{"Subject", "custom"}}));
  EXPECT_EQ(e0.html, "{{ template \"email.default.html\" . }}");

  const Receiver* xpager = cfg.find_receiver("team-X-pager");
  ASSERT_NE(xpager, nullptr);
  EXPECT_FALSE(xpager->email_configs.at(0).require_tls);
  EXPECT_EQ(xpager->email_configs.at(0).require_tls_str, "false");
  EXPECT_TRUE(xpager->email_configs.at(0).send_resolved);
  const PagerDutyConfig& pd = xpager->pagerduty_configs.at(0);
  EXPECT_EQ(pd.routing_key, "pd-routing-key-X");
  EXPECT_EQ(pd.severity, "critical");
  EXPECT_EQ(pd.url, "https://events.pagerduty.com/v2/enqueue");
  EXPECT_TRUE(pd.send_resolved);
  // Configured details replace Alertmanager's defaults key by key.
  EXPECT_EQ(pd.details.at("firing"), "{{ .Alerts.Firing | len }}");
  EXPECT_EQ(pd.details.at("num_resolved"), "{{ .Alerts.Resolved | len }}");
  EXPECT_EQ(pd.details.size(), 4u);

  const Receiver* ymails = cfg.find_receiver("team-Y-mails");
  EXPECT_EQ(ymails->email_configs.at(0).smarthost, "mail.example.com:25");
  EXPECT_EQ(ymails->email_configs.at(0).from, "y@example.com");
  const Receiver* ypager = cfg.find_receiver("team-Y-pager");
  EXPECT_EQ(ypager->pagerduty_configs.at(0).service_key, "pd-service-key-Y");
  EXPECT_EQ(ypager->pagerduty_configs.at(0).url,
            "https://events.eu.pagerduty.com/generic/2010-04-15/create_event.json");
  EXPECT_EQ(ypager->pagerduty_configs.at(0).severity, "error");

  const Receiver* deadman = cfg.find_receiver("deadman");
  ASSERT_EQ(deadman->webhook_configs.size(), 1u);
  EXPECT_EQ(deadman->webhook_configs[0].url, "http://deadman.example.com:8080/ping");
  EXPECT_FALSE(deadman->webhook_configs[0].send_resolved);
  EXPECT_EQ(deadman->webhook_configs[0].max_alerts, 10);

  const Receiver* chat = cfg.find_receiver("frontend-chat");
  const SlackConfig& slack = chat->slack_configs.at(0);
  EXPECT_EQ(slack.api_url, "https://hooks.slack.com/services/T000/B000/XXXX");
  EXPECT_EQ(slack.channel, "#frontend");
  EXPECT_EQ(slack.title, "{{ .CommonLabels.alertname }}");
  EXPECT_EQ(slack.text, "{{ template \"slack.default.text\" . }}");
  EXPECT_TRUE(slack.send_resolved);

  const Receiver* blackhole = cfg.find_receiver("blackhole");
  ASSERT_NE(blackhole, nullptr);
  EXPECT_TRUE(blackhole->webhook_configs.empty() && blackhole->email_configs.empty());
  EXPECT_EQ(cfg.find_receiver("nope"), nullptr);

  // routing
  const Route& root = cfg.route;
  EXPECT_EQ(root.receiver, "team-X-mails");
  EXPECT_EQ(root.repeat_interval_ms, 3 * 3600 * 1000);
  LabelSet critical_foo = {
      {"alertname", "A"}, {"service", "foo1"}, {"severity", "critical"}, {"cluster", "c1"}};
  auto m = match_routes(root, critical_foo);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0]->receiver, "team-X-pager");
  EXPECT_EQ(m[0]->repeat_interval_ms, 3 * 3600 * 1000);
  EXPECT_EQ(group_key(*m[0], group_labels(*m[0], critical_foo)),
            "{}/{service=~\"foo1|foo2|baz\"}/{severity=\"critical\"}:{alertname=\"A\", "
            "cluster=\"c1\", service=\"foo1\"}");

  LabelSet db = {
      {"alertname", "DBDown"}, {"service", "database"}, {"owner", "team-Y"}, {"database", "main"}};
  m = match_routes(root, db);
  ASSERT_EQ(m.size(), 2u);  // continue on the first child
  EXPECT_EQ(m[0]->receiver, "team-X-pager");
  EXPECT_EQ(m[0]->key(), "{}/{service=\"database\"}/{owner=~\"^(?:team-(X|Y))$\"}");
  EXPECT_EQ(m[1]->receiver, "team-Y-pager");
  EXPECT_EQ(m[1]->id(), "{}/{service=\"database\"}/{owner=\"team-Y\"}/1");
  EXPECT_EQ(group_labels(*m[1], db), (LabelSet{{"alertname", "DBDown"}, {"database", "main"}}));

  LabelSet watchdog = {{"alertname", "Watchdog"}, {"prometheus", "p1"}};
  m = match_routes(root, watchdog);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0]->receiver, "deadman");
  EXPECT_TRUE(m[0]->group_by_all);
  EXPECT_EQ(m[0]->group_wait_ms, 0);
  EXPECT_EQ(group_key(*m[0], group_labels(*m[0], watchdog)),
            "{}/{alertname=\"Watchdog\"}:{alertname=\"Watchdog\", prometheus=\"p1\"}");

  m = match_routes(root, {{"team", "frontend"}});
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0]->mute_time_intervals, std::vector<std::string>{"offhours"});
  EXPECT_EQ(m[0]->active_time_intervals, std::vector<std::string>{"business-hours"});

  m = match_routes(root, {{"alertname", "Unrouted"}});
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0], &root);
  EXPECT_EQ(group_key(root, group_labels(root, {{"alertname", "Unrouted"}})),
            "{}:{alertname=\"Unrouted\"}");

  // inhibit rules, legacy forms converted to matchers
  ASSERT_EQ(cfg.inhibit_rules.size(), 2u);
  EXPECT_EQ(matchers_string(cfg.inhibit_rules[0].source_matchers), "{severity=\"critical\"}");
  EXPECT_EQ(cfg.inhibit_rules[0].equal,
            (std::vector<std::string>{"alertname", "cluster", "service"}));
  EXPECT_EQ(matchers_string(cfg.inhibit_rules[1].source_matchers), "{alertname=\"ClusterDown\"}");
  EXPECT_EQ(matchers_string(cfg.inhibit_rules[1].target_matchers),
            "{alertname=~\"^(?:Instance.*)$\"}");
  EXPECT_TRUE(cfg.inhibit_rules[1].target_matchers[0].matches("InstanceDown"));

  // time intervals from both sections
  ASSERT_EQ(cfg.time_intervals.size(), 2u);
  const NamedTimeInterval* bh = cfg.find_time_interval("business-hours");
  ASSERT_NE(bh, nullptr);
  EXPECT_TRUE(bh->contains(T("2024-01-01T10:00:00Z")));
  EXPECT_FALSE(bh->contains(T("2024-01-06T10:00:00Z")));
  const NamedTimeInterval* off = cfg.find_time_interval("offhours");
  ASSERT_NE(off, nullptr);
  ASSERT_EQ(off->intervals.size(), 2u);
  EXPECT_TRUE(off->contains(T("2024-01-06T10:00:00Z")));  // Saturday
  EXPECT_TRUE(off->intervals[1].location_supported);
  EXPECT_NE(off->intervals[1].zone, nullptr);
  EXPECT_EQ(off->intervals[1].location, "Europe/Paris");
  EXPECT_TRUE(off->contains(T("2024-12-31T06:30:00Z")));   // last day of December, 07:30 Paris
  EXPECT_FALSE(off->contains(T("2024-12-31T07:30:00Z")));  // 08:30 Paris
  EXPECT_FALSE(off->contains(T("2024-12-31T23:30:00Z")));  // January 1st in Paris
}

TEST(AlertsConfig, DefaultConfigIsValid) {
  std::vector<std::string> unsupported;
  auto cfg = parse_alerting_config(default_config_yaml(), &unsupported);
  ASSERT_TRUE(cfg.has_value()) << cfg.error().detail;
  EXPECT_TRUE(unsupported.empty());
  EXPECT_EQ(cfg->route.receiver, "default");
  ASSERT_EQ(cfg->receivers.size(), 1u);
  EXPECT_EQ(cfg->receivers[0].name, "default");
  EXPECT_EQ(cfg->route.group_wait_ms, 30000);
  EXPECT_EQ(cfg->route.group_interval_ms, 300000);
  EXPECT_EQ(cfg->route.repeat_interval_ms, 4 * 3600 * 1000);
  EXPECT_EQ(cfg->global.resolve_timeout_ms, 300000);
  EXPECT_EQ(cfg->global.pagerduty_url, "https://events.pagerduty.com/v2/enqueue");
  EXPECT_EQ(cfg->route.key(), "{}");
  // Null sections are accepted as empty, as Alertmanager.
  EXPECT_TRUE(parse_alerting_config(std::string(kMinimal) + "global:\ninhibit_rules:\ntemplates:\n",
                                    nullptr));
}

TEST(AlertsConfig, ErrorsNameThePath) {
  Error e = config_error(R"yaml(
route:
  receiver: default
  routes:
    - receiver: default
    - receiver: ops
receivers:
  - name: default
)yaml");
  EXPECT_EQ(e.field, "route.routes[1].receiver");
  EXPECT_EQ(e.detail, "route.routes[1].receiver: undefined receiver \"ops\" used in route");

  e = config_error("route:\n  group_by: [a]\nreceivers:\n  - name: default\n");
  EXPECT_EQ(e.field, "route.receiver");
  EXPECT_NE(e.detail.find("root route must specify a default receiver"), std::string::npos);

  e = config_error("receivers:\n  - name: default\n");
  EXPECT_NE(e.detail.find("no route provided"), std::string::npos);
  e = config_error("");
  EXPECT_NE(e.detail.find("no route provided"), std::string::npos);

  e = config_error(std::string(kMinimal) + "  - name: default\n");
  EXPECT_EQ(e.field, "receivers[1].name");
  EXPECT_NE(e.detail.find("notification config name \"default\" is not unique"), std::string::npos);

  e = config_error(
      "route:\n  receiver: default\n  group_wait: 30x\nreceivers:\n  - name: default\n");
  EXPECT_EQ(e.field, "route.group_wait");
  EXPECT_NE(e.detail.find("not a valid duration string: \"30x\""), std::string::npos);

  e = config_error(
      "route:\n  receiver: default\n  routes:\n    - matchers: ['severity=>\"x\"']\n"
      "receivers:\n  - name: default\n");
  EXPECT_EQ(e.field, "route.routes[0].matchers[0]");

  e = config_error(
      "route:\n  receiver: default\n  routes:\n    - match_re:\n        job: 'api('\n"
      "receivers:\n  - name: default\n");
  EXPECT_EQ(e.field, "route.routes[0].match_re.job");
  EXPECT_NE(e.detail.find("invalid regular expression"), std::string::npos);

  e = config_error(
      "route:\n  receiver: default\n  routes:\n    - matchers: ['a=~\"(\"']\n"
      "receivers:\n  - name: default\n");
  EXPECT_NE(e.detail.find("invalid regular expression"), std::string::npos);

  e = config_error(
      "route:\n  receiver: default\n  routes:\n    - match:\n        bad-name: x\n"
      "receivers:\n  - name: default\n");
  EXPECT_NE(e.detail.find("invalid label name \"bad-name\""), std::string::npos);

  e = config_error(
      "route:\n  receiver: default\n  routes:\n    - mute_time_intervals: [nights]\n"
      "receivers:\n  - name: default\n");
  EXPECT_EQ(e.field, "route.routes[0].mute_time_intervals[0]");
  EXPECT_NE(e.detail.find("undefined time interval \"nights\""), std::string::npos);

  e = config_error(
      "route:\n  receiver: default\n  matchers: [a=b]\nreceivers:\n  - name: default\n");
  EXPECT_NE(e.detail.find("root route must not have any matchers"), std::string::npos);
  e = config_error("route:\n  receiver: default\n  match: {a: b}\nreceivers:\n  - name: default\n");
  EXPECT_NE(e.detail.find("root route must not have any matchers"), std::string::npos);
  e = config_error(
      "route:\n  receiver: default\n  continue: true\nreceivers:\n  - name: default\n");
  EXPECT_NE(e.detail.find("cannot have continue in root route"), std::string::npos);
}

TEST(AlertsConfig, MoreValidationErrors) {
  const std::string receivers = "receivers:\n  - name: default\n";
  Error e =
      config_error("route:\n  receiver: default\n  group_by: ['...', alertname]\n" + receivers);
  EXPECT_NE(e.detail.find("wildcard group_by"), std::string::npos);
  e = config_error("route:\n  receiver: default\n  group_by: [a, a]\n" + receivers);
  EXPECT_NE(e.detail.find("duplicated label \"a\""), std::string::npos);
  e = config_error("route:\n  receiver: default\n  group_by: [a-b]\n" + receivers);
  EXPECT_NE(e.detail.find("invalid label name \"a-b\" in group_by list"), std::string::npos);
  e = config_error("route:\n  receiver: default\n  group_interval: 0s\n" + receivers);
  EXPECT_NE(e.detail.find("group_interval cannot be zero"), std::string::npos);
  e = config_error("route:\n  receiver: default\n  repeat_interval: 0\n" + receivers);
  EXPECT_NE(e.detail.find("repeat_interval cannot be zero"), std::string::npos);
  e = config_error("route:\n  receiver: default\n  recevier: typo\n" + receivers);
  EXPECT_EQ(e.detail, "route: unknown field \"recevier\"");
  e = config_error(std::string(kMinimal) + "alerting: {}\n");
  EXPECT_EQ(e.detail, "unknown field \"alerting\"");
  e = config_error(std::string(kMinimal) + "  - name: x\n    pigeon_configs: [{}]\n");
  EXPECT_EQ(e.detail, "receivers[1]: unknown field \"pigeon_configs\"");
  e = config_error("route: [\n");
  EXPECT_NE(e.detail.find("invalid YAML"), std::string::npos);
  e = config_error("route: hello\n");
  EXPECT_EQ(e.detail, "route: must be a mapping");
  e = config_error(
      "route:\n  receiver: default\nreceivers:\n  - webhook_configs: [{url: 'http://x'}]\n");
  EXPECT_EQ(e.field, "receivers[0].name");

  // integrations
  e = config_error(
      "route:\n  receiver: r\nreceivers:\n  - name: r\n    email_configs: [{to: a@b.c}]\n");
  EXPECT_NE(e.detail.find("no global SMTP smarthost set"), std::string::npos);
  EXPECT_EQ(e.field, "receivers[0].email_configs[0]");
  e = config_error(
      "route:\n  receiver: r\nreceivers:\n  - name: r\n    email_configs: [{smarthost: 'h:25', "
      "from: a@b.c}]\n");
  EXPECT_NE(e.detail.find("missing to address"), std::string::npos);
  e = config_error(
      "route:\n  receiver: r\nreceivers:\n  - name: r\n    slack_configs: [{channel: '#x'}]\n");
  EXPECT_NE(e.detail.find("no global Slack API URL set"), std::string::npos);
  e = config_error(
      "route:\n  receiver: r\nreceivers:\n  - name: r\n    pagerduty_configs: [{severity: "
      "info}]\n");
  EXPECT_NE(e.detail.find("missing service or routing key"), std::string::npos);
  e = config_error(
      "route:\n  receiver: r\nreceivers:\n  - name: r\n    webhook_configs: [{send_resolved: "
      "true}]\n");
  EXPECT_NE(e.detail.find("one of url or url_file must be configured"), std::string::npos);
  e = config_error(
      "route:\n  receiver: r\nreceivers:\n  - name: r\n    webhook_configs: [{url: 'ftp://x'}]\n");
  EXPECT_NE(e.detail.find("unsupported scheme \"ftp\""), std::string::npos);
  e = config_error(
      "route:\n  receiver: r\nreceivers:\n  - name: r\n    webhook_configs: [{url: 'http://x', "
      "max_alerts: -1}]\n");
  EXPECT_EQ(e.field, "receivers[0].webhook_configs[0].max_alerts");
  e = config_error(
      "route:\n  receiver: r\nreceivers:\n  - name: r\n    webhook_configs: [{url: 'http://x', "
      "send_resolved: maybe}]\n");
  EXPECT_EQ(e.field, "receivers[0].webhook_configs[0].send_resolved");

  // inhibit rules
  e = config_error(std::string(kMinimal) +
                   "inhibit_rules:\n  - source_matchers: [a=b]\n    equal: [bad-name]\n");
  EXPECT_EQ(e.field, "inhibit_rules[0].equal[0]");
  e = config_error(std::string(kMinimal) + "inhibit_rules:\n  - source_match_re: {a: '['}\n");
  EXPECT_EQ(e.field, "inhibit_rules[0].source_match_re.a");

  // time intervals
  e = config_error(std::string(kMinimal) +
                   "time_intervals:\n  - name: n\n    time_intervals:\n      - times: "
                   "[{start_time: '22:00', end_time: '06:00'}]\n");
  EXPECT_EQ(e.field, "time_intervals[0].time_intervals[0].times[0]");
  EXPECT_NE(e.detail.find("start time cannot be equal or greater than end time"),
            std::string::npos);
  e = config_error(
      std::string(kMinimal) +
      "time_intervals:\n  - name: n\n    time_intervals:\n      - weekdays: ['friday:monday']\n");
  EXPECT_EQ(e.field, "time_intervals[0].time_intervals[0].weekdays[0]");
  e = config_error(std::string(kMinimal) +
                   "time_intervals:\n  - name: n\nmute_time_intervals:\n  - name: n\n");
  EXPECT_NE(e.detail.find("time interval \"n\" is not unique"), std::string::npos);
  e = config_error(std::string(kMinimal) + "time_intervals:\n  - time_intervals: []\n");
  EXPECT_NE(e.detail.find("missing name in time interval"), std::string::npos);
  e = config_error(
      std::string(kMinimal) +
      "time_intervals:\n  - name: n\n    time_intervals:\n      - location: 'Nowhere/Special'\n");
  EXPECT_EQ(e.field, "time_intervals[0].time_intervals[0].location");
}

TEST(AlertsConfig, UnsupportedIsAppendedAndNullAllowed) {
  const std::string yaml =
      std::string(kMinimal) +
      "  - name: og\n    opsgenie_configs:\n      - api_key: k\n"
      "    pushover_configs: [{user_key: u, token: t}]\n"
      "    webhook_configs:\n      - url: 'https://h.example/x'\n        url_file: /x\n";
  // url and url_file together are an error, as Alertmanager.
  EXPECT_FALSE(parse_alerting_config(yaml, nullptr));
  const std::string ok = std::string(kMinimal) +
                         "  - name: og\n    opsgenie_configs:\n      - api_key: k\n"
                         "    pushover_configs: [{user_key: u, token: t}]\n"
                         "    webhook_configs:\n      - url_file: /etc/url\n";
  std::vector<std::string> unsupported = {"previous"};
  auto cfg = parse_alerting_config(ok, &unsupported);
  ASSERT_TRUE(cfg.has_value()) << cfg.error().detail;
  EXPECT_EQ(unsupported, (std::vector<std::string>{"previous", "receivers[1].opsgenie_configs",
                                                   "receivers[1].pushover_configs",
                                                   "receivers[1].webhook_configs[0].url_file"}));
  EXPECT_TRUE(parse_alerting_config(ok, nullptr).has_value());
}

TEST(AlertsConfig, LegacyMatchConvertsToSortedMatchers) {
  auto cfg = parse_alerting_config(R"yaml(
route:
  receiver: r
  routes:
    - match: {zone: eu, app: web}
      match_re: {tier: 'front.*'}
      matchers: ['a="1"']
receivers: [{name: r}]
)yaml",
                                   nullptr);
  ASSERT_TRUE(cfg.has_value()) << cfg.error().detail;
  EXPECT_EQ(cfg->route.routes[0].key(),
            "{}/{a=\"1\",app=\"web\",tier=~\"^(?:front.*)$\",zone=\"eu\"}");
  EXPECT_TRUE(matches_all(cfg->route.routes[0].matchers,
                          {{"a", "1"}, {"app", "web"}, {"tier", "frontend"}, {"zone", "eu"}}));
  EXPECT_FALSE(matches_all(cfg->route.routes[0].matchers,
                           {{"a", "1"}, {"app", "web"}, {"tier", "xfrontend"}, {"zone", "eu"}}));
}

TEST(AlertsConfig, PrometheusDurations) {
  struct Case {
    const char* text;
    int64_t ms;
  } ok[] = {{"0", 0},           {"0s", 0},
            {"30s", 30000},     {"5m", 300000},
            {"1h30m", 5400000}, {"1d", 86400000},
            {"1w", 604800000},  {"1y", 31536000000},
            {"100ms", 100},     {"1m30s500ms", 90500},
            {"2h0m", 7200000},  {"10ms", 10}};
  for (const auto& c : ok) {
    auto d = parse_duration_ms(c.text);
    ASSERT_TRUE(d.has_value()) << c.text << ": " << d.error().detail;
    EXPECT_EQ(*d, c.ms) << c.text;
  }
  for (const char* bad : {"", "1.5h", "-1s", "1s1h", "5", "1h1h", "h", "1H", " 1s", "1s "}) {
    auto d = parse_duration_ms(bad);
    ASSERT_FALSE(d.has_value()) << bad;
    EXPECT_EQ(d.error().code, ErrorCode::kConfig);
  }
  EXPECT_EQ(parse_duration_ms("").error().detail, "empty duration string");
  EXPECT_EQ(parse_duration_ms("99999999999999999999y").error().detail, "duration out of range");
  EXPECT_EQ(parse_duration_ms("300y").error().detail, "duration out of range");
  EXPECT_TRUE(parse_duration_ms("292y").has_value());

  EXPECT_EQ(format_duration_ms(0), "0s");
  EXPECT_EQ(format_duration_ms(300000), "5m");
  EXPECT_EQ(format_duration_ms(5400000), "1h30m");
  EXPECT_EQ(format_duration_ms(90ll * 86400000), "90d");  // not 12w6d
  EXPECT_EQ(format_duration_ms(14ll * 86400000), "2w");
  EXPECT_EQ(format_duration_ms(90500), "1m30s500ms");
}

void write_file(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

TEST(AlertsConfig, TemplateFilesAreReadRelativeToTheConfigDirectory) {
  testing_util::TempDir dir;
  write_file(dir.file("tmpl/a.tmpl"), "{{ define \"team.title\" }}T {{ .Status }}{{ end }}");
  write_file(dir.file("tmpl/b.tmpl"),
             "{{ define \"slack.default.title\" }}overridden{{ end }}ignored text");
  write_file(dir.file("tmpl/c.txt"), "{{ define \"not.loaded\" }}x{{ end }}");
  const std::string yaml =
      "templates: ['tmpl/*.tmpl', 'missing/*.tmpl']\n"
      "route: {receiver: r}\n"
      "receivers:\n  - name: r\n    slack_configs:\n"
      "      - api_url: http://127.0.0.1:1/s\n        title: '{{ template \"team.title\" . }}'\n";
  auto cfg = parse_alerting_config(yaml, nullptr, dir.path());
  ASSERT_TRUE(cfg.has_value()) << cfg.error().detail;
  EXPECT_EQ(cfg->template_files,
            (std::vector<std::string>{dir.file("tmpl/a.tmpl"), dir.file("tmpl/b.tmpl")}));
  ASSERT_NE(cfg->template_set, nullptr);
  EXPECT_TRUE(cfg->template_set->defines("team.title"));
  EXPECT_FALSE(cfg->template_set->defines("not.loaded"));
  TemplateData d;
  d.status = "firing";
  auto title = cfg->template_set->execute("title", cfg->receivers[0].slack_configs[0].title,
                                          template_value(d));
  ASSERT_TRUE(title.has_value()) << title.error().detail;
  EXPECT_EQ(*title, "T firing");
  EXPECT_EQ(*cfg->template_set->execute_named("slack.default.title", template_value(d)),
            "overridden");
  // Absolute globs do not depend on the base directory; without templates the built-ins.
  const std::string abs = "templates: ['" + dir.path() + "/tmpl/a.tmpl']\n" + kMinimal;
  auto cfg2 = parse_alerting_config(abs, nullptr);
  ASSERT_TRUE(cfg2.has_value()) << cfg2.error().detail;
  EXPECT_TRUE(cfg2->template_set->defines("team.title"));
  auto plain = parse_alerting_config(kMinimal, nullptr);
  ASSERT_TRUE(plain.has_value());
  EXPECT_TRUE(plain->template_set->defines("slack.default.title"));
  EXPECT_FALSE(plain->template_set->defines("team.title"));
}

TEST(AlertsConfig, TemplateParseErrorsNameTheConfigPath) {
  testing_util::TempDir dir;
  write_file(dir.file("bad.tmpl"), "{{ define \"x\" }}\n{{ if }}{{ end }}{{ end }}");
  auto e = parse_alerting_config("templates: ['bad.tmpl']\n" + std::string(kMinimal), nullptr,
                                 dir.path());
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().code, ErrorCode::kConfig);
  EXPECT_EQ(e.error().field, "templates[0]");
  EXPECT_EQ(e.error().detail,
            "templates[0]: template: " + dir.file("bad.tmpl") + ":2:7: missing value for if");

  Error slack = config_error(std::string(kMinimal) +
                             "  - name: s\n    slack_configs:\n      - api_url: http://h/x\n"
                             "        title: '{{ .Status | nope }}'\n");
  EXPECT_EQ(slack.field, "receivers[1].slack_configs[0].title");
  EXPECT_EQ(slack.detail,
            "receivers[1].slack_configs[0].title: template: title:1:14: function \"nope\" not "
            "defined");
  Error pd = config_error(std::string(kMinimal) +
                          "  - name: p\n    pagerduty_configs:\n      - routing_key: k\n"
                          "        details: {runbook: '{{ .CommonLabels.x '}\n");
  EXPECT_EQ(pd.field, "receivers[1].pagerduty_configs[0].details.runbook");
  Error mail = config_error(std::string(kMinimal) +
                            "  - name: m\n    email_configs:\n      - to: a@b.c\n"
                            "        from: s@b.c\n        smarthost: h:25\n"
                            "        headers: {subject: '{{ end }}'}\n");
  EXPECT_EQ(mail.field, "receivers[1].email_configs[0].headers.Subject");
  Error hook = config_error(std::string(kMinimal) +
                            "  - name: w\n    webhook_configs:\n      - url: http://h/x\n"
                            "        body_template: '{{ range .Alerts }}'\n");
  EXPECT_EQ(hook.field, "receivers[1].webhook_configs[0].body_template");
  EXPECT_NE(hook.detail.find("unexpected EOF"), std::string::npos) << hook.detail;
}

TEST(AlertsConfig, WebhookBodyTemplateAndTemplatedFieldsAreSupported) {
  std::vector<std::string> unsupported;
  auto cfg = parse_alerting_config(
      std::string(kMinimal) +
          "  - name: w\n    webhook_configs:\n      - url: http://h/x\n"
          "        body_template: '{\"text\": \"{{ .Status }}\"}'\n"
          "        content_type: text/plain\n"
          "    slack_configs:\n      - api_url: http://h/s\n        pretext: p\n"
          "        title_link: l\n        fallback: f\n        color: c\n"
          "    pagerduty_configs:\n      - routing_key: k\n        client: c\n"
          "        client_url: http://c\n        class: cl\n        component: co\n"
          "        group: g\n"
          "    email_configs:\n      - to: a@b.c\n        from: s@b.c\n        smarthost: h:25\n"
          "        html: '<b>{{ .Status }}</b>'\n        text: 't'\n"
          "        headers: {x-team: db}\n",
      &unsupported);
  ASSERT_TRUE(cfg.has_value()) << cfg.error().detail;
  EXPECT_TRUE(unsupported.empty()) << unsupported.front();
  const Receiver& r = cfg->receivers[1];
  EXPECT_EQ(r.webhook_configs[0].body_template, "{\"text\": \"{{ .Status }}\"}");
  EXPECT_EQ(r.webhook_configs[0].content_type, "text/plain");
  EXPECT_EQ(r.slack_configs[0].pretext, "p");
  EXPECT_EQ(r.slack_configs[0].fallback, "f");
  EXPECT_EQ(r.pagerduty_configs[0].client, "c");
  EXPECT_EQ(r.pagerduty_configs[0].class_, "cl");
  EXPECT_EQ(r.email_configs[0].html, "<b>{{ .Status }}</b>");
  EXPECT_EQ(r.email_configs[0].headers.at("X-Team"), "db");
  EXPECT_EQ(r.email_configs[0].headers.at("Subject"), "{{ template \"email.default.subject\" . }}");
  // A webhook without body_template keeps the JSON content type.
  auto plain = parse_alerting_config(
      std::string(kMinimal) + "  - name: w\n    webhook_configs:\n      - url: http://h/x\n",
      nullptr);
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->receivers[1].webhook_configs[0].body_template, "");
  EXPECT_EQ(plain->receivers[1].webhook_configs[0].content_type, "application/json");
}

}  // namespace
}  // namespace sira::alerts
