// AlertService's intake journal over a real SQLite file: group-committed batches are durable
// when when_durable says so (read back by a second connection while the first still runs), a
// restart replays the journal's tail over the checkpointed table (whole records and short
// "times only" records, in order), checkpoints empty the journal, gc'd alerts stay gone, and a
// corrupt journal stops start-up with a clear error.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "../test_util.h"
#include "alerts/config.h"
#include "alerts/service.h"
#include "store/migrations.h"
#include "store/sqlite.h"

namespace sira::alerts {
namespace {

using testing_util::TempDir;

constexpr int64_t kT0 = 1760000000000;
constexpr const char* kConfig = R"(
route:
  receiver: hook
receivers:
  - name: hook
)";

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = open();
    auto migrations = audit::AuditLog::migrations();
    for (auto& m : AlertService::migrations()) migrations.push_back(m);
    ASSERT_TRUE(store::migrate(*db_, migrations, 0).has_value());
    signer_ = std::make_unique<audit::Signer>(
        std::move(*audit::Signer::load_or_create(dir_.file("key.pem"))));
    audit_ = std::make_unique<audit::AuditLog>(*db_, *signer_, clock_, metrics_);
    ASSERT_TRUE(audit_->open().has_value());
    service_ = make(*db_);
  }

  std::unique_ptr<store::Database> open() {
    store::SqliteOptions o;
    o.path = dir_.file("alerts.db");
    auto db = store::open_sqlite(o);
    EXPECT_TRUE(db.has_value());
    return std::move(*db);
  }

  std::unique_ptr<AlertService> make(store::Database& db) {
    std::vector<std::string> unsupported;
    auto cfg = parse_alerting_config(kConfig, &unsupported);
    EXPECT_TRUE(cfg.has_value());
    auto s = std::make_unique<AlertService>(db, *audit_, clock_, metrics_, *cfg, kConfig);
    auto st = s->load();
    EXPECT_TRUE(st.has_value()) << st.error().detail;
    return s;
  }

  static Alert alert(const std::string& instance, const std::string& summary = "s",
                     int64_t ends_at = 0) {
    Alert a;
    a.labels = {{"alertname", "Down"}, {"instance", instance}};
    a.annotations = {{"summary", summary}};
    a.ends_at_ms = ends_at;
    a.generator_url = "http://prom/graph";
    return a;
  }

  int64_t count(const std::string& sql) {
    int64_t n = -1;
    auto tx = db_->begin(store::TxKind::kRead);
    EXPECT_TRUE(tx.has_value());
    EXPECT_TRUE((*tx)
                    ->each(sql, {},
                           [&](const store::Row& r) {
                             n = r.i64(0);
                             return false;
                           })
                    .has_value());
    return n;
  }

  // Every alert of tenant "ten" a fresh service reads back from the store.
  std::map<uint64_t, Alert> reloaded() {
    auto db = open();
    auto s = make(*db);
    std::map<uint64_t, Alert> out;
    for (auto& snap : s->snapshot())
      if (snap.tenant_id == "ten") out[snap.view.alert.fp] = snap.view.alert;
    return out;
  }

  TempDir dir_;
  ManualClock clock_{TimePoint(std::chrono::milliseconds(kT0))};
  MetricsRegistry metrics_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<audit::Signer> signer_;
  std::unique_ptr<audit::AuditLog> audit_;
  std::unique_ptr<AlertService> service_;
};

TEST_F(JournalTest, WithoutWriterPutAlertsCommitsBeforeReturning) {
  auto r = service_->put_alerts("ten", {alert("a"), alert("b")});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->accepted, 2);
  EXPECT_EQ(r->batch, 0u);  // nothing left to wait for
  EXPECT_EQ(count("SELECT COUNT(*) FROM alert_journal"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM alerts"), 0);  // not checkpointed yet
  auto back = reloaded();
  ASSERT_EQ(back.size(), 2u);
  const Alert& a = back.at(fingerprint(alert("a").labels));
  EXPECT_EQ(a.annotations.at("summary"), "s");
  EXPECT_EQ(a.generator_url, "http://prom/graph");
  EXPECT_EQ(a.starts_at_ms, kT0);
  EXPECT_EQ(a.ends_at_ms, kT0 + 5 * 60 * 1000);  // resolve_timeout
}

TEST_F(JournalTest, ReplayKeepsTheLastStateOfEachAlertInOrder) {
  ASSERT_TRUE(service_->put_alerts("ten", {alert("a", "first")}).has_value());
  clock_.advance(std::chrono::seconds(10));
  // Same labels and annotations: a short times-only record; the end moves with the clock.
  ASSERT_TRUE(service_->put_alerts("ten", {alert("a", "first")}).has_value());
  clock_.advance(std::chrono::seconds(10));
  ASSERT_TRUE(service_->put_alerts("ten", {alert("a", "second"), alert("b")}).has_value());
  clock_.advance(std::chrono::seconds(10));
  ASSERT_TRUE(service_->put_alerts("ten", {alert("b", "s", kT0 + 25000)}).has_value());
  EXPECT_EQ(count("SELECT COUNT(*) FROM alert_journal"), 4);
  auto back = reloaded();
  ASSERT_EQ(back.size(), 2u);
  const Alert& a = back.at(fingerprint(alert("a").labels));
  EXPECT_EQ(a.annotations.at("summary"), "second");
  EXPECT_EQ(a.starts_at_ms, kT0);
  EXPECT_EQ(a.updated_at_ms, kT0 + 20000);
  EXPECT_EQ(a.ends_at_ms, kT0 + 20000 + 5 * 60 * 1000);
  const Alert& b = back.at(fingerprint(alert("b").labels));
  EXPECT_EQ(b.starts_at_ms, kT0 + 20000);
  EXPECT_EQ(b.ends_at_ms, kT0 + 25000);  // resolved by its sender
  EXPECT_EQ(b.updated_at_ms, kT0 + 30000);
}

TEST_F(JournalTest, TimesOnlyRecordsAreShorter) {
  ASSERT_TRUE(service_->put_alerts("ten", {alert("a", std::string(500, 'x'))}).has_value());
  ASSERT_TRUE(service_->put_alerts("ten", {alert("a", std::string(500, 'x'))}).has_value());
  const int64_t first = count("SELECT length(body) FROM alert_journal ORDER BY batch LIMIT 1");
  const int64_t second =
      count("SELECT length(body) FROM alert_journal ORDER BY batch DESC LIMIT 1");
  EXPECT_GT(first, 500);
  EXPECT_LT(second, 64);
}

TEST_F(JournalTest, CheckpointMovesTheJournalIntoTheTable) {
  ASSERT_TRUE(service_->put_alerts("ten", {alert("a"), alert("b")}).has_value());
  ASSERT_TRUE(service_->put_alerts("ten", {alert("a", "changed")}).has_value());
  ASSERT_TRUE(service_->checkpoint().has_value());
  EXPECT_EQ(count("SELECT COUNT(*) FROM alert_journal"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM alerts"), 2);
  // After the checkpoint, times-only records replay over the table's rows.
  clock_.advance(std::chrono::seconds(30));
  ASSERT_TRUE(service_->put_alerts("ten", {alert("a", "changed")}).has_value());
  EXPECT_EQ(count("SELECT COUNT(*) FROM alert_journal"), 1);
  auto back = reloaded();
  ASSERT_EQ(back.size(), 2u);
  const Alert& a = back.at(fingerprint(alert("a").labels));
  EXPECT_EQ(a.annotations.at("summary"), "changed");
  EXPECT_EQ(a.updated_at_ms, kT0 + 30000);
  // An idle checkpoint writes nothing.
  ASSERT_TRUE(service_->checkpoint().has_value());
  ASSERT_TRUE(service_->checkpoint().has_value());
  EXPECT_EQ(count("SELECT COUNT(*) FROM alert_journal"), 0);
}

TEST_F(JournalTest, WriterAcknowledgesOnlyCommittedBatches) {
  service_->start_writer();
  std::mutex mu;
  std::condition_variable cv;
  int done = 0, failed = 0;
  std::vector<uint64_t> batches;
  for (int i = 0; i < 50; ++i) {
    auto r = service_->put_alerts("ten", {alert("i" + std::to_string(i))});
    ASSERT_TRUE(r.has_value());
    ASSERT_NE(r->batch, 0u);
    batches.push_back(r->batch);
    service_->when_durable(r->batch, [&](Status st) {
      std::lock_guard l(mu);
      ++done;
      if (!st) ++failed;
      cv.notify_all();
    });
  }
  {
    std::unique_lock l(mu);
    ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(20), [&] { return done == 50; }));
  }
  EXPECT_EQ(failed, 0);
  EXPECT_TRUE(std::is_sorted(batches.begin(), batches.end()));
  // Acknowledged = committed: a second connection reads all 50 while the writer still runs.
  EXPECT_EQ(reloaded().size(), 50u);
  // A batch already durable is reported at once, on the caller's thread.
  bool now = false;
  service_->when_durable(batches.front(), [&](Status st) { now = st.has_value(); });
  EXPECT_TRUE(now);
  service_->stop_writer();
  EXPECT_EQ(count("SELECT COUNT(*) FROM alerts"), 50);  // the final checkpoint
  EXPECT_EQ(count("SELECT COUNT(*) FROM alert_journal"), 0);
}

TEST_F(JournalTest, ForgottenAlertsStayForgottenAfterARestart) {
  ASSERT_TRUE(service_->put_alerts("ten", {alert("old", "s", kT0 + 1000)}).has_value());
  clock_.advance(std::chrono::hours(2));
  ASSERT_TRUE(service_->put_alerts("ten", {alert("new")}).has_value());
  auto n = service_->gc(clock_.now_ms() - 3600 * 1000);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 1);
  auto back = reloaded();
  ASSERT_EQ(back.size(), 1u);
  EXPECT_TRUE(back.contains(fingerprint(alert("new").labels)));
}

TEST_F(JournalTest, ACorruptJournalStopsStartUp) {
  ASSERT_TRUE(service_->put_alerts("ten", {alert("a")}).has_value());
  {
    auto tx = db_->begin(store::TxKind::kWrite);
    ASSERT_TRUE(tx.has_value());
    ASSERT_TRUE((*tx)->exec("UPDATE alert_journal SET body = substr(body, 1, 20)", {}).has_value());
    ASSERT_TRUE((*tx)->commit().has_value());
  }
  std::vector<std::string> unsupported;
  auto cfg = parse_alerting_config(kConfig, &unsupported);
  ASSERT_TRUE(cfg.has_value());
  AlertService s(*db_, *audit_, clock_, metrics_, *cfg, kConfig);
  auto st = s.load();
  ASSERT_FALSE(st.has_value());
  EXPECT_NE(st.error().detail.find("alert journal batch 1 is corrupt"), std::string::npos)
      << st.error().detail;
}

}  // namespace
}  // namespace sira::alerts
