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
  Result<int> post(const std::string& url, const std::string&, const std::string& body,
                   const std::vector<std::pair<std::string, std::string>>&, int64_t) override {
    urls.push_back(url);
    bodies.push_back(bj::parse(body).as_object());
    return status;
  }
  std::vector<std::string> urls;
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
    auto cfg = parse_alerting_config(kConfig, &unsupported);
    ASSERT_TRUE(cfg.has_value()) << cfg.error().detail;
    service_ = std::make_unique<AlertService>(*db_, *audit_, clock_, metrics_, *cfg, kConfig);
    ASSERT_TRUE(service_->load().has_value());
    DispatchOptions o;
    o.retry_initial_ms = 1000;
    o.retry_max_ms = 4000;
    o.max_attempts = 3;
    o.notify_silences = notify_silences;
    dispatcher_ = std::make_unique<Dispatcher>(*db_, *audit_, clock_, metrics_, *service_,
                                               transport_, o);
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
  auto dead = dispatcher_->notifications("ten", std::string("dead"), std::nullopt, 10, std::nullopt);
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
  auto sent = dispatcher_->notifications("ten", std::string("sent"), std::nullopt, 10, std::nullopt);
  ASSERT_EQ(sent->size(), 1u);
  EXPECT_EQ(dispatcher_->replay("ten", (*dead)[0].id, "tok").error().code, ErrorCode::kConflict);
  EXPECT_EQ(dispatcher_->replay("other", (*dead)[0].id, "tok").error().code, ErrorCode::kNotFound);
}

TEST_F(DispatchTest, RestartKeepsTheNotificationLogAndTheQueue) {
  transport_.status = 500;
  post("Disk");
  tick(10 * kSec);
  ASSERT_EQ(transport_.bodies.size(), 1u);  // failed, queued for retry
  restart();                                 // the alert, the log and the queue are in the store
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

}  // namespace
}  // namespace sira::alerts
