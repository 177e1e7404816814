// Dispatcher over a real SQLite file with a manual clock and a recording transport: group_wait,
// group_interval and repeat_interval timing, Alertmanager's notify decision, silences and the
// resolved notification, retries and dead letters, the incidents hand-off, state across a restart.
#include "alerts/dispatch.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "../test_util.h"
#include "alerts/config.h"
#include "store/migrations.h"
#include "store/sqlite.h"

namespace sira::alerts {
namespace {

namespace bj = boost::json;
using testing_util::TempDir;

constexpr int64_t kT0 = 1760000000000;
constexpr int64_t kSec = 1000;

constexpr const char* kConfig = R"(
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 10s
  group_interval: 30s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:9/hook
        send_resolved: true
)";

class RecordingTransport : public Transport {
 public:
  Status mail(const Email& e, int64_t) override {
    mails.push_back(e);
    return {};
  }
  std::vector<Email> mails;
  Result<int> post(const std::string& url, const std::string& content_type, const std::string& body,
                   const std::vector<std::pair<std::string, std::string>>&, int64_t) override {
    urls.push_back(url);
    content_types.push_back(content_type);
    raw.push_back(body);
    boost::system::error_code ec;
    bj::value v = bj::parse(body, ec);
    bodies.push_back(!ec && v.is_object() ? v.as_object() : bj::object{});
    return status;
  }
  // The bodies posted to `url`, as JSON objects.
  std::vector<bj::object> to(const std::string& url) const {
    std::vector<bj::object> out;
    for (size_t i = 0; i < urls.size(); ++i)
      if (urls[i] == url) out.push_back(bodies[i]);
    return out;
  }
  std::vector<std::string> urls, content_types, raw;
  std::vector<bj::object> bodies;
  int status = 200;
};

class RecordingSink : public AlertGroupSink {
 public:
  void on_group(const AlertGroupEvent& e) override { events.push_back(e); }
  std::vector<AlertGroupEvent> events;
};

class DispatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::SqliteOptions o;
    o.path = dir_.file("alerts.db");
    o.synchronous = "normal";
    db_ = std::move(*store::open_sqlite(o));
    auto migrations = audit::AuditLog::migrations();
    for (auto& m : AlertService::migrations()) migrations.push_back(m);
    for (auto& m : Dispatcher::migrations()) migrations.push_back(m);
    ASSERT_TRUE(store::migrate(*db_, migrations, 0).has_value());
    signer_ = std::make_unique<audit::Signer>(
        std::move(*audit::Signer::load_or_create(dir_.file("key.pem"))));
    audit_ = std::make_unique<audit::AuditLog>(*db_, *signer_, clock_, metrics_);
    ASSERT_TRUE(audit_->open().has_value());
    restart();
  }

  // A new service and dispatcher over the same store, as after a crash.
  void restart(bool notify_silences = false) {
    dispatcher_.reset();
    std::vector<std::string> unsupported;
    auto cfg = parse_alerting_config(config_, &unsupported);
    ASSERT_TRUE(cfg.has_value()) << cfg.error().detail;
    service_ = std::make_unique<AlertService>(*db_, *audit_, clock_, metrics_, *cfg, config_);
    ASSERT_TRUE(service_->load().has_value());
    DispatchOptions o;
    o.retry_initial_ms = 1000;
    o.retry_max_ms = 4000;
    o.max_attempts = 3;
    o.notify_silences = notify_silences;
    dispatcher_ =
        std::make_unique<Dispatcher>(*db_, *audit_, clock_, metrics_, *service_, transport_, o);
    dispatcher_->add_sink(&sink_);
  }

  void post(const std::string& name, int64_t ends_at = 0, const std::string& instance = "a") {
    Alert a;
    a.labels = {{"alertname", name}, {"instance", instance}};
    a.ends_at_ms = ends_at;
    auto r = service_->put_alerts("ten", {a});
    ASSERT_TRUE(r.has_value());
    ASSERT_TRUE(r->errors.empty()) << r->errors.front();
  }

  // Advances the clock, flushes and delivers.
  void tick(int64_t ms) {
    clock_.advance(std::chrono::milliseconds(ms));
    ASSERT_TRUE(dispatcher_->flush().has_value());
    ASSERT_TRUE(dispatcher_->deliver().has_value());
  }

  int64_t now() const { return clock_.now_ms(); }

  void post_alert(const LabelSet& labels, const LabelSet& annotations, int64_t ends_at = 0) {
    Alert a;
    a.labels = labels;
    a.annotations = annotations;
    a.ends_at_ms = ends_at;
    a.generator_url = "http://prom.example/graph";
    auto r = service_->put_alerts("ten", {a});
    ASSERT_TRUE(r.has_value());
    ASSERT_TRUE(r->errors.empty()) << r->errors.front();
  }

  std::string config_ = kConfig;

  TempDir dir_;
  ManualClock clock_{TimePoint(std::chrono::milliseconds(kT0))};
  MetricsRegistry metrics_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<audit::Signer> signer_;
  std::unique_ptr<audit::AuditLog> audit_;
  std::unique_ptr<AlertService> service_;
  RecordingTransport transport_;
  RecordingSink sink_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

TEST_F(DispatchTest, GroupWaitThenGroupIntervalThenRepeatInterval) {
  post("Disk");
  tick(9 * kSec);
  EXPECT_TRUE(transport_.bodies.empty());  // inside group_wait
  tick(1 * kSec);
  ASSERT_EQ(transport_.bodies.size(), 1u);
  const bj::object& b = transport_.bodies[0];
  EXPECT_EQ(b.at("version").as_string(), "4");
  EXPECT_EQ(b.at("status").as_string(), "firing");
  EXPECT_EQ(b.at("groupKey").as_string(), "{}:{alertname=\"Disk\"}");
  EXPECT_EQ(b.at("alerts").as_array().size(), 1u);
  // A second alert of the group waits for group_interval, not group_wait.
  post("Disk", 0, "b");
  tick(10 * kSec);
  EXPECT_EQ(transport_.bodies.size(), 1u);
  tick(20 * kSec);
  ASSERT_EQ(transport_.bodies.size(), 2u);
  EXPECT_EQ(transport_.bodies[1].at("alerts").as_array().size(), 2u);
  // Nothing changes: silence until repeat_interval (alerts are re-posted within their 5 m
  // resolve timeout, as Prometheus does). The last notification was at +40 s.
  for (int i = 0; i < 14; ++i) {
    post("Disk");
    post("Disk", 0, "b");
    tick(4 * 60 * kSec);
  }
  EXPECT_EQ(transport_.bodies.size(), 2u);  // +56 min 40 s
  post("Disk");
  post("Disk", 0, "b");
  tick(4 * 60 * kSec);
  ASSERT_EQ(transport_.bodies.size(), 3u);  // +60 min 40 s: repeat_interval passed
  EXPECT_EQ(transport_.bodies[2].at("alerts").as_array().size(), 2u);
}

TEST_F(DispatchTest, ResolvedInsideGroupWaitIsNeverNotified) {
  post("Blip");
  tick(2 * kSec);
  post("Blip", now() - 1);
  tick(60 * kSec);
  tick(60 * kSec);
  EXPECT_TRUE(transport_.bodies.empty());
  EXPECT_TRUE(sink_.events.empty());
}

TEST_F(DispatchTest, ResolutionIsNotifiedOnceAndReachesTheSinks) {
  post("Disk");
  tick(10 * kSec);
  ASSERT_EQ(transport_.bodies.size(), 1u);
  ASSERT_EQ(sink_.events.size(), 1u);
  EXPECT_EQ(sink_.events[0].status, "firing");
  EXPECT_EQ(sink_.events[0].group_key, "{}:{alertname=\"Disk\"}");
  post("Disk", now() - 1);
  tick(30 * kSec);
  ASSERT_EQ(transport_.bodies.size(), 2u);
  EXPECT_EQ(transport_.bodies[1].at("status").as_string(), "resolved");
  ASSERT_EQ(sink_.events.size(), 2u);
  EXPECT_EQ(sink_.events[1].status, "resolved");
  tick(30 * kSec);
  tick(30 * kSec);
  EXPECT_EQ(transport_.bodies.size(), 2u);
}

TEST_F(DispatchTest, SilenceMutesButDoesNotSwallowTheResolutionOfWhatWasAnnounced) {
  post("Disk");
  tick(10 * kSec);
  ASSERT_EQ(transport_.bodies.size(), 1u);
  Silence s;
  s.matchers.push_back(*Matcher::make("alertname", MatchType::kEqual, "Disk"));
  s.ends_at_ms = now() + 3600 * kSec;
  s.created_by = "ops";
  s.comment = "maintenance";
  ASSERT_TRUE(service_->put_silence("ten", s, "tok").has_value());
  // A new silenced alert in the group is not announced...
  post("Disk", 0, "b");
  tick(30 * kSec);
  EXPECT_EQ(transport_.bodies.size(), 1u);
  // ...but the resolution of the alert receivers were told about still is (Alertmanager #226).
  post("Disk", now() - 1);
  tick(30 * kSec);
  ASSERT_EQ(transport_.bodies.size(), 2u);
  const auto& alerts = transport_.bodies[1].at("alerts").as_array();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].at("status").as_string(), "resolved");
  EXPECT_EQ(alerts[0].at("labels").at("instance").as_string(), "a");
}

TEST_F(DispatchTest, RetriesWithBackoffThenDeadLetterThenReplay) {
  transport_.status = 503;
  post("Disk");
  tick(10 * kSec);
  EXPECT_EQ(transport_.bodies.size(), 1u);
  tick(500);  // not yet: the first retry waits about a second
  EXPECT_EQ(transport_.bodies.size(), 1u);
  tick(1000);
  EXPECT_EQ(transport_.bodies.size(), 2u);
  tick(3000);
  EXPECT_EQ(transport_.bodies.size(), 3u);
  auto dead =
      dispatcher_->notifications("ten", std::string("dead"), std::nullopt, 10, std::nullopt);
  ASSERT_TRUE(dead.has_value());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].attempts, 3);
  EXPECT_EQ((*dead)[0].last_error, "HTTP 503");
  tick(60 * kSec);
  EXPECT_EQ(transport_.bodies.size(), 3u);  // dead stays dead
  transport_.status = 200;
  auto replayed = dispatcher_->replay("ten", (*dead)[0].id, "tok");
  ASSERT_TRUE(replayed.has_value());
  tick(10);
  EXPECT_EQ(transport_.bodies.size(), 4u);
  auto sent =
      dispatcher_->notifications("ten", std::string("sent"), std::nullopt, 10, std::nullopt);
  ASSERT_EQ(sent->size(), 1u);
  EXPECT_EQ(dispatcher_->replay("ten", (*dead)[0].id, "tok").error().code, ErrorCode::kConflict);
  EXPECT_EQ(dispatcher_->replay("other", (*dead)[0].id, "tok").error().code, ErrorCode::kNotFound);
}

TEST_F(DispatchTest, RestartKeepsTheNotificationLogAndTheQueue) {
  transport_.status = 500;
  post("Disk");
  tick(10 * kSec);
  ASSERT_EQ(transport_.bodies.size(), 1u);  // failed, queued for retry
  restart();                                // the alert, the log and the queue are in the store
  transport_.status = 200;
  tick(2 * kSec);
  EXPECT_EQ(transport_.bodies.size(), 2u);  // the retry, not a new decision
  tick(60 * kSec);
  tick(60 * kSec);
  EXPECT_EQ(transport_.bodies.size(), 2u);  // the restarted group knows it was notified
  // A resolve pending at the restart is still sent.
  post("Disk", now() - 1);
  restart();
  tick(10 * kSec);
  ASSERT_EQ(transport_.bodies.size(), 3u);
  EXPECT_EQ(transport_.bodies[2].at("status").as_string(), "resolved");
}

TEST_F(DispatchTest, SilenceStartAndEndAreNotifiedWhenAsked) {
  restart(true);
  post("Disk");
  tick(10 * kSec);
  ASSERT_EQ(transport_.bodies.size(), 1u);
  Silence s;
  s.matchers.push_back(*Matcher::make("alertname", MatchType::kEqual, "Disk"));
  s.ends_at_ms = now() + 3600 * kSec;
  s.created_by = "ops";
  s.comment = "disk swap";
  auto id = service_->put_silence("ten", s, "tok");
  ASSERT_TRUE(id.has_value());
  tick(10);
  ASSERT_EQ(transport_.bodies.size(), 2u);
  EXPECT_EQ(transport_.bodies[1].at("status").as_string(), "silenced");
  EXPECT_EQ(transport_.bodies[1].at("silence").at("id").as_string(), *id);
  EXPECT_EQ(transport_.bodies[1].at("alerts").as_array().size(), 1u);
  ASSERT_TRUE(service_->expire_silence("ten", *id, "tok").has_value());
  tick(10);
  ASSERT_EQ(transport_.bodies.size(), 3u);
  EXPECT_EQ(transport_.bodies[2].at("status").as_string(), "unsilenced");
  // Off by default: the other tests' silences sent nothing of the kind.
}

constexpr const char* kTemplatedConfig = R"(
route:
  receiver: all
  group_by: [alertname]
  group_wait: 10s
  group_interval: 30s
  repeat_interval: 1h
receivers:
  - name: all
    webhook_configs:
      - url: http://127.0.0.1:9/body
        body_template: '{{ range .Alerts }}{{ .Labels.instance }} is {{ .Status }}; {{ end }}'
        content_type: text/plain
      - url: http://127.0.0.1:9/v4
    slack_configs:
      - api_url: http://127.0.0.1:9/slack
        channel: '#{{ .CommonLabels.alertname | toLower }}'
        text: '{{ range .Alerts }}*{{ .Annotations.summary }}*{{ end }}'
        pretext: 'pre {{ .Receiver }}'
    pagerduty_configs:
      - routing_key: rk
        url: http://127.0.0.1:9/pd
        description: 'PD {{ .GroupLabels.alertname }} {{ .CommonAnnotations.summary }}'
        severity: '{{ if eq .CommonLabels.alertname "Disk" }}critical{{ else }}warning{{ end }}'
        details:
          owner: '{{ .CommonLabels.instance }}'
    email_configs:
      - to: 'oncall+{{ .GroupLabels.alertname }}@example.com'
        from: sira@example.com
        smarthost: 127.0.0.1:25
        require_tls: false
        headers:
          Subject: 'Alert {{ .GroupLabels.alertname }}'
          X-Team: '{{ .CommonLabels.instance }}'
        text: 'text {{ len .Alerts }} {{ (index .Alerts 0).Annotations.summary }}'
)";

TEST_F(DispatchTest, EveryIntegrationRendersItsTemplates) {
  config_ = kTemplatedConfig;
  restart();
  post_alert({{"alertname", "Disk"}, {"instance", "a"}}, {{"summary", "disk is full"}});
  tick(10 * kSec);
  const std::string ext = "http://127.0.0.1:8080/#/alerts?receiver=all";
  // Webhook body_template: the rendered text, with its content type.
  ASSERT_EQ(transport_.urls.size(), 4u);
  EXPECT_EQ(transport_.urls[0], "http://127.0.0.1:9/body");
  EXPECT_EQ(transport_.raw[0], "a is firing; ");
  EXPECT_EQ(transport_.content_types[0], "text/plain");
  // Without body_template: Alertmanager's payload v4, as JSON.
  EXPECT_EQ(transport_.urls[1], "http://127.0.0.1:9/v4");
  EXPECT_EQ(transport_.content_types[1], "application/json");
  EXPECT_EQ(transport_.bodies[1].at("version").as_string(), "4");
  EXPECT_EQ(transport_.bodies[1].at("receiver").as_string(), "all");
  // Slack: configured templates and Alertmanager's defaults, rendered.
  auto slack = transport_.to("http://127.0.0.1:9/slack");
  ASSERT_EQ(slack.size(), 1u);
  EXPECT_EQ(slack[0].at("channel").as_string(), "#disk");
  EXPECT_EQ(slack[0].at("username").as_string(), "sira");
  const bj::object& att = slack[0].at("attachments").as_array()[0].as_object();
  EXPECT_EQ(att.at("title").as_string(), "[FIRING:1] Disk (a)");
  EXPECT_EQ(att.at("title_link").as_string(), ext);
  EXPECT_EQ(att.at("text").as_string(), "*disk is full*");
  EXPECT_EQ(att.at("pretext").as_string(), "pre all");
  EXPECT_EQ(att.at("fallback").as_string(), "[FIRING:1] Disk (a) | " + ext);
  EXPECT_EQ(att.at("color").as_string(), "danger");
  // PagerDuty: summary, severity and details from templates, defaults merged.
  auto pd = transport_.to("http://127.0.0.1:9/pd");
  ASSERT_EQ(pd.size(), 1u);
  EXPECT_EQ(pd[0].at("event_action").as_string(), "trigger");
  EXPECT_EQ(pd[0].at("client").as_string(), "sira");
  EXPECT_EQ(pd[0].at("client_url").as_string(), ext);
  const bj::object& payload = pd[0].at("payload").as_object();
  EXPECT_EQ(payload.at("summary").as_string(), "PD Disk disk is full");
  EXPECT_EQ(payload.at("severity").as_string(), "critical");
  const bj::object& details = payload.at("custom_details").as_object();
  EXPECT_EQ(details.at("owner").as_string(), "a");
  EXPECT_EQ(details.at("num_firing").as_string(), "1");
  EXPECT_EQ(details.at("num_resolved").as_string(), "0");
  EXPECT_EQ(std::string(details.at("firing").as_string()).rfind("Labels:\n - alertname = Disk", 0),
            0u);
  // E-mail: to, Subject and other headers, text and the default html.
  ASSERT_EQ(transport_.mails.size(), 1u);
  const Email& m = transport_.mails[0];
  EXPECT_EQ(m.to, std::vector<std::string>{"oncall+Disk@example.com"});
  EXPECT_EQ(m.subject, "Alert Disk");
  EXPECT_EQ(m.text, "text 1 disk is full");
  EXPECT_NE(m.html.find("<li>summary = disk is full</li>"), std::string::npos) << m.html;
  EXPECT_EQ(m.headers, (std::vector<std::pair<std::string, std::string>>{{"X-Team", "a"}}));

  // Resolved: the webhook template sees the resolved alert; PagerDuty resolves.
  post_alert({{"alertname", "Disk"}, {"instance", "a"}}, {{"summary", "disk is full"}}, now() - 1);
  tick(30 * kSec);
  EXPECT_EQ(transport_.raw[4], "a is resolved; ");
  pd = transport_.to("http://127.0.0.1:9/pd");
  ASSERT_EQ(pd.size(), 2u);
  EXPECT_EQ(pd[1].at("event_action").as_string(), "resolve");
  EXPECT_EQ(pd[1].at("dedup_key").as_string(), pd[0].at("dedup_key").as_string());
  EXPECT_EQ(transport_.to("http://127.0.0.1:9/slack").size(), 1u);  // send_resolved: false
}

TEST_F(DispatchTest, DefaultEmailHasSubjectTextAndHtml) {
  config_ = R"(
route:
  receiver: mail
  group_wait: 10s
receivers:
  - name: mail
    email_configs:
      - to: oncall@example.com
        from: sira@example.com
        smarthost: 127.0.0.1:25
)";
  restart();
  post_alert({{"alertname", "Disk"}, {"team", "db"}}, {{"summary", "<disk> & full"}});
  tick(10 * kSec);
  ASSERT_EQ(transport_.mails.size(), 1u);
  const Email& m = transport_.mails[0];
  EXPECT_EQ(m.subject, "[FIRING:1]  (Disk db)");  // no group_by: Alertmanager's double space
  EXPECT_EQ(m.text.rfind("[FIRING:1]  (Disk db)\n\nFiring:\nLabels:\n - alertname = Disk\n", 0), 0u)
      << m.text;
  EXPECT_NE(m.text.find(" - summary = <disk> & full\n"), std::string::npos) << m.text;
  EXPECT_NE(m.html.find("&lt;disk&gt; &amp; full"), std::string::npos) << m.html;
  EXPECT_TRUE(m.headers.empty());
}

TEST_F(DispatchTest, TemplateExecutionErrorMakesTheNotificationDead) {
  config_ = R"(
route:
  receiver: hooks
  group_by: [alertname]
  group_wait: 10s
receivers:
  - name: hooks
    webhook_configs:
      - url: http://127.0.0.1:9/bad
        body_template: '{{ template "nowhere" . }}'
      - url: http://127.0.0.1:9/good
)";
  restart();
  post("Disk");
  tick(10 * kSec);
  // The other integration is not held back; the broken one is never posted.
  ASSERT_EQ(transport_.urls, std::vector<std::string>{"http://127.0.0.1:9/good"});
  auto dead = dispatcher_->notifications("ten", std::string("dead"), std::nullopt, 10, {});
  ASSERT_TRUE(dead.has_value());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].integration, "webhook[0]");
  EXPECT_EQ((*dead)[0].last_error,
            "template error: webhook_configs[0].body_template: template: body_template:1:4: no "
            "such template \"nowhere\"");
  auto replay = dispatcher_->replay("ten", (*dead)[0].id, "ops");
  ASSERT_FALSE(replay.has_value());
  EXPECT_EQ(replay.error().code, ErrorCode::kConflict);
  tick(60 * kSec);
  EXPECT_EQ(transport_.urls.size(), 1u);
}

TEST_F(DispatchTest, BadTemplateIsRefusedAtLoad) {
  auto cfg = parse_alerting_config(R"(
route: {receiver: s}
receivers:
  - name: s
    slack_configs:
      - api_url: http://127.0.0.1:9/s
        title: '{{ if .Status }}open'
)",
                                   nullptr);
  ASSERT_FALSE(cfg.has_value());
  EXPECT_EQ(cfg.error().field, "receivers[0].slack_configs[0].title");
  EXPECT_EQ(cfg.error().detail,
            "receivers[0].slack_configs[0].title: template: title:1:21: unexpected EOF");
}

constexpr const char* kPagerConfig = R"(
route:
  receiver: pager
  group_by: [alertname]
  group_wait: 10s
  group_interval: 30s
  repeat_interval: 1h
receivers:
  - name: pager
    pagerduty_configs:
      - routing_key: rk
        url: http://127.0.0.1:9/pd
    webhook_configs:
      - url: http://127.0.0.1:9/hook
)";

TEST_F(DispatchTest, PagerDutyIsAcknowledgedWhileMutedOnceAcrossRestarts) {
  config_ = kPagerConfig;
  restart();
  const std::string pd_url = "http://127.0.0.1:9/pd", hook = "http://127.0.0.1:9/hook";
  post("Disk");
  tick(10 * kSec);
  auto pd = transport_.to(pd_url);
  ASSERT_EQ(pd.size(), 1u);
  EXPECT_EQ(pd[0].at("event_action").as_string(), "trigger");
  const std::string dedup(pd[0].at("dedup_key").as_string());
  EXPECT_EQ(transport_.to(hook).size(), 1u);

  // Everything firing gets silenced: one acknowledge, nothing for the webhook.
  Silence s;
  s.matchers.push_back(*Matcher::make("alertname", MatchType::kEqual, "Disk"));
  s.ends_at_ms = now() + 3600 * kSec;
  s.created_by = "ops";
  s.comment = "on it";
  auto sid = service_->put_silence("ten", s, "tok");
  ASSERT_TRUE(sid.has_value());
  tick(30 * kSec);
  pd = transport_.to(pd_url);
  ASSERT_EQ(pd.size(), 2u);
  EXPECT_EQ(pd[1].at("event_action").as_string(), "acknowledge");
  EXPECT_EQ(pd[1].at("dedup_key").as_string(), dedup);
  EXPECT_EQ(pd[1].at("routing_key").as_string(), "rk");
  EXPECT_EQ(transport_.to(hook).size(), 1u);
  // Not repeated, neither later nor after a restart on the same database.
  tick(30 * kSec);
  restart();
  tick(1 * kSec);
  tick(30 * kSec);
  EXPECT_EQ(transport_.to(pd_url).size(), 2u);
  EXPECT_EQ(transport_.to(hook).size(), 1u);

  // Unmuted and still firing: the trigger goes out again (the webhook was told already).
  ASSERT_TRUE(service_->expire_silence("ten", *sid, "tok").has_value());
  tick(30 * kSec);
  pd = transport_.to(pd_url);
  ASSERT_EQ(pd.size(), 3u);
  EXPECT_EQ(pd[2].at("event_action").as_string(), "trigger");
  EXPECT_EQ(pd[2].at("dedup_key").as_string(), dedup);
  EXPECT_EQ(transport_.to(hook).size(), 1u);

  // Muted again: a new acknowledge (the trigger reset it), then resolved: resolve.
  s.id.clear();
  s.starts_at_ms = now();
  ASSERT_TRUE(service_->put_silence("ten", s, "tok").has_value());
  tick(30 * kSec);
  pd = transport_.to(pd_url);
  ASSERT_EQ(pd.size(), 4u);
  EXPECT_EQ(pd[3].at("event_action").as_string(), "acknowledge");
  post("Disk", now() - 1);
  tick(30 * kSec);
  pd = transport_.to(pd_url);
  ASSERT_EQ(pd.size(), 5u);
  EXPECT_EQ(pd[4].at("event_action").as_string(), "resolve");
  EXPECT_EQ(pd[4].at("dedup_key").as_string(), dedup);
  // The webhook hears of the resolution of what it was told (silence or not).
  auto hooks = transport_.to(hook);
  ASSERT_EQ(hooks.size(), 2u);
  EXPECT_EQ(hooks[1].at("status").as_string(), "resolved");
  tick(60 * kSec);
  EXPECT_EQ(transport_.to(pd_url).size(), 5u);
  // The acknowledges are in the notification log like any notification.
  auto log = dispatcher_->notifications("ten", std::string("sent"), std::string("pager"), 50, {});
  ASSERT_TRUE(log.has_value());
  int acks = 0;
  for (const auto& n : *log) acks += n.payload.find("\"acknowledge\"") != std::string::npos;
  EXPECT_EQ(acks, 2);
}

TEST_F(DispatchTest, PagerDutyIsNotAcknowledgedWhenOnlyPartlyMutedOrNeverTold) {
  config_ = kPagerConfig;
  restart();
  const std::string pd_url = "http://127.0.0.1:9/pd";
  // Silenced from the start: PagerDuty was never told, so nothing to acknowledge.
  Silence s;
  s.matchers.push_back(*Matcher::make("instance", MatchType::kEqual, "b"));
  s.ends_at_ms = now() + 3600 * kSec;
  s.created_by = "ops";
  s.comment = "known";
  ASSERT_TRUE(service_->put_silence("ten", s, "tok").has_value());
  post("Disk", 0, "b");
  tick(10 * kSec);
  tick(30 * kSec);
  EXPECT_TRUE(transport_.to(pd_url).empty());
  // One alert of the group fires unmuted: trigger; the group is only partly muted: no ack.
  post("Disk", 0, "a");
  tick(30 * kSec);
  tick(30 * kSec);
  auto pd = transport_.to(pd_url);
  ASSERT_EQ(pd.size(), 1u);
  EXPECT_EQ(pd[0].at("event_action").as_string(), "trigger");
}

TEST_F(DispatchTest, PagerDutyIsAcknowledgedInAMuteTimeInterval) {
  // kT0 is Thursday 2025-10-09 08:53:20 UTC; the route is muted from 08:54.
  config_ = R"(
route:
  receiver: pager
  group_by: [alertname]
  group_wait: 10s
  group_interval: 30s
  repeat_interval: 1h
  routes:
    - matchers: ['alertname="Disk"']
      receiver: pager
      mute_time_intervals: [later]
time_intervals:
  - name: later
    time_intervals:
      - weekdays: [thursday]
        times: [{start_time: '08:54', end_time: '23:00'}]
receivers:
  - name: pager
    pagerduty_configs:
      - routing_key: rk
        url: http://127.0.0.1:9/pd
    webhook_configs:
      - url: http://127.0.0.1:9/hook
)";
  restart();
  post("Disk");
  tick(10 * kSec);  // 08:53:30
  auto pd = transport_.to("http://127.0.0.1:9/pd");
  ASSERT_EQ(pd.size(), 1u);
  EXPECT_EQ(pd[0].at("event_action").as_string(), "trigger");
  post("Disk", 0, "b");  // news the webhook would hear of, were it not muted
  tick(30 * kSec);       // 08:54:00, inside the interval
  tick(30 * kSec);
  pd = transport_.to("http://127.0.0.1:9/pd");
  ASSERT_EQ(pd.size(), 2u);
  EXPECT_EQ(pd[1].at("event_action").as_string(), "acknowledge");
  EXPECT_EQ(pd[1].at("dedup_key").as_string(), pd[0].at("dedup_key").as_string());
  EXPECT_EQ(transport_.to("http://127.0.0.1:9/hook").size(), 1u);
}

}  // namespace
}  // namespace sira::alerts
