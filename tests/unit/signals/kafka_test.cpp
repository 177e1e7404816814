// KafkaSource against librdkafka's in-process mock cluster (one broker on 127.0.0.1): every
// record once, commits only after apply, rewind after a failed apply, re-delivery after a crash,
// the run() loop's backoff and stop.
#include "signals/kafka.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sira::signals {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kTopic = "requests";

std::string record(int i) {
  return R"({"ts":1760054400000,"key_id":"key_1","ip":"192.0.2.1","method":"GET","path":"/v1/items/)" +
         std::to_string(i) + R"(","status":200,"latency_ms":5})";
}

std::vector<std::string> records(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(record(i));
  return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// Splits a batch buffer into its lines; every record must end with '\n'.
std::vector<std::string> split_lines(std::string_view data) {
  std::vector<std::string> lines;
  EXPECT_TRUE(data.empty() || data.back() == '\n') << data;
  size_t start = 0;
  while (start < data.size()) {
    size_t nl = data.find('\n', start);
    if (nl == std::string_view::npos) nl = data.size();
    lines.emplace_back(data.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

// A one-broker mock cluster listening on loopback, owned by a producer handle that also feeds it.
class MockKafka {
 public:
  MockKafka() {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[512] = {};
    EXPECT_EQ(rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", err, sizeof err),
              RD_KAFKA_CONF_OK)
        << err;
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (producer_ == nullptr) {
      rd_kafka_conf_destroy(conf);
      ADD_FAILURE() << "producer: " << err;
      return;
    }
    mock_ = rd_kafka_handle_mock_cluster(producer_);
    EXPECT_NE(mock_, nullptr);
    if (mock_ != nullptr) bootstraps_ = rd_kafka_mock_cluster_bootstraps(mock_);
  }
  ~MockKafka() {
    if (producer_ != nullptr) rd_kafka_destroy(producer_);
  }
  MockKafka(const MockKafka&) = delete;
  MockKafka& operator=(const MockKafka&) = delete;

  bool ready() const { return mock_ != nullptr; }
  const std::string& bootstraps() const { return bootstraps_; }

  void create_topic(int partitions) {
    EXPECT_EQ(rd_kafka_mock_topic_create(mock_, kTopic, partitions, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  void produce(int32_t partition, const std::string& payload) {
    rd_kafka_resp_err_t err =
        rd_kafka_producev(producer_, RD_KAFKA_V_TOPIC(kTopic), RD_KAFKA_V_PARTITION(partition),
                          RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    EXPECT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
  }

  // Record i goes to partition i % partitions.
  void produce_records(int n, int partitions) {
    for (int i = 0; i < n; ++i) produce(i % partitions, record(i));
    flush();
  }

  void flush() { EXPECT_EQ(rd_kafka_flush(producer_, 10000), RD_KAFKA_RESP_ERR_NO_ERROR); }

  // The group's committed offset of each partition 0..n-1 (RD_KAFKA_OFFSET_INVALID if none), read
  // by a consumer that only asks the coordinator and never joins the group.
  std::vector<int64_t> committed(const std::string& group, int partitions) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[512] = {};
    EXPECT_EQ(rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps_.c_str(), err, sizeof err),
              RD_KAFKA_CONF_OK);
    EXPECT_EQ(rd_kafka_conf_set(conf, "group.id", group.c_str(), err, sizeof err),
              RD_KAFKA_CONF_OK);
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (rk == nullptr) {
      rd_kafka_conf_destroy(conf);
      ADD_FAILURE() << "consumer: " << err;
      return {};
    }
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list, kTopic, p);
    rd_kafka_resp_err_t e = rd_kafka_committed(rk, list, 10000);
    EXPECT_EQ(e, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(e);
    std::vector<int64_t> out;
    for (int i = 0; i < list->cnt; ++i) out.push_back(list->elems[i].offset);
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_destroy(rk);
    return out;
  }

 private:
  rd_kafka_t* producer_ = nullptr;
  rd_kafka_mock_cluster_t* mock_ = nullptr;
  std::string bootstraps_;
};

KafkaOptions options_for(const MockKafka& kafka, const std::string& group) {
  KafkaOptions o;
  o.brokers = kafka.bootstraps();
  o.topic = kTopic;
  o.group = group;
  o.batch_max_ms = 100;
  o.extra = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
  return o;
}

std::unique_ptr<KafkaSource> open_source(const KafkaOptions& o) {
  auto src = KafkaSource::open(o);
  EXPECT_TRUE(src.has_value()) << (src ? "" : src.error().detail);
  return src ? std::move(*src) : nullptr;
}

// Bounds every polling loop: at most 100 polls and 15 s (the group join takes a few seconds).
class Bounded {
 public:
  bool next() { return ++polls_ <= 100 && SteadyClock::now() < deadline_; }

 private:
  int polls_ = 0;
  SteadyClock::time_point deadline_ = SteadyClock::now() + std::chrono::seconds(15);
};

// Lines handed to successful applies, in order, and the batches they came in.
struct Collector {
  std::vector<std::string> lines;
  std::vector<std::vector<std::string>> batches;
  int64_t messages = 0;  // sum of apply's `messages` arguments

  KafkaApplyFn fn() {
    return [this](std::string_view data, int64_t n) -> Status {
      auto batch = split_lines(data);
      EXPECT_EQ(static_cast<int64_t>(batch.size()), n);
      messages += n;
      lines.insert(lines.end(), batch.begin(), batch.end());
      batches.push_back(std::move(batch));
      return {};
    };
  }
};

// Polls until `done` or the bound; returns done().
bool poll_until(KafkaSource& src, const KafkaApplyFn& apply, const std::function<bool()>& done) {
  for (Bounded b; !done() && b.next();) {
    auto r = src.poll_batch(apply);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().detail);
    if (r && r->messages > 0) {
      EXPECT_TRUE(r->committed) << r->commit_error;
    }
  }
  return done();
}

// A few more polls (long enough for any stray re-delivery) that must bring no message.
void expect_nothing_more(KafkaSource& src, const KafkaApplyFn& apply) {
  for (int i = 0; i < 5; ++i) {
    auto r = src.poll_batch(apply);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->messages, 0);
  }
}

TEST(KafkaSourceTest, ConsumesEveryRecordOnceAndCommitsExactlyThoseOffsets) {
  MockKafka kafka;
  ASSERT_TRUE(kafka.ready());
  kafka.create_topic(2);
  kafka.produce_records(20, 2);
  const std::string group = "every-record-once";

  auto src = open_source(options_for(kafka, group));
  ASSERT_NE(src, nullptr);
  Collector c;
  ASSERT_TRUE(poll_until(*src, c.fn(), [&] { return c.lines.size() >= 20; }))
      << "got " << c.lines.size() << " lines";
  expect_nothing_more(*src, c.fn());
  EXPECT_EQ(sorted(c.lines), sorted(records(20)));
  EXPECT_EQ(c.messages, 20);
  EXPECT_EQ(kafka.committed(group, 2), (std::vector<int64_t>{10, 10}));
  KafkaTotals t = src->totals();
  EXPECT_EQ(t.messages, 20);
  EXPECT_EQ(t.records, 20);
  EXPECT_EQ(t.commits, t.batches);
  EXPECT_EQ(t.apply_failures, 0);
  EXPECT_EQ(t.rewinds, 0);

  src->close();
  auto closed = src->poll_batch(c.fn());
  ASSERT_FALSE(closed.has_value());
  EXPECT_EQ(closed.error().code, ErrorCode::kUnavailable);

  // The next member of the group resumes after the committed offsets: only the new record.
  kafka.produce(1, record(100));
  kafka.flush();
  auto next = open_source(options_for(kafka, group));
  ASSERT_NE(next, nullptr);
  Collector c2;
  ASSERT_TRUE(poll_until(*next, c2.fn(), [&] { return !c2.lines.empty(); }));
  expect_nothing_more(*next, c2.fn());
  EXPECT_THAT(c2.lines, ::testing::ElementsAre(record(100)));
  EXPECT_EQ(kafka.committed(group, 2), (std::vector<int64_t>{10, 11}));
}

TEST(KafkaSourceTest, JoinsPayloadsOneRecordPerLineAndCommitsEmptyOnes) {
  MockKafka kafka;
  ASSERT_TRUE(kafka.ready());
  kafka.create_topic(1);
  for (const char* p : {"{\"a\":1}\n", "{\"b\":2}", "", "{\"c\":3}", ""}) kafka.produce(0, p);
  kafka.flush();
  const std::string group = "join-payloads";

  auto src = open_source(options_for(kafka, group));
  ASSERT_NE(src, nullptr);
  std::string joined;
  int64_t applied_messages = 0, outcome_messages = 0, outcome_records = 0, outcome_bytes = 0;
  KafkaApplyFn apply = [&](std::string_view data, int64_t n) -> Status {
    joined.append(data);
    applied_messages += n;
    return {};
  };
  for (Bounded b; outcome_messages < 5 && b.next();) {
    auto r = src->poll_batch(apply);
    ASSERT_TRUE(r.has_value()) << r.error().detail;
    outcome_messages += r->messages;
    outcome_records += r->records;
    outcome_bytes += r->bytes;
    if (r->messages > 0) {
      EXPECT_TRUE(r->committed) << r->commit_error;
    }
  }
  EXPECT_EQ(outcome_messages, 5);
  EXPECT_EQ(joined, "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n");
  EXPECT_EQ(applied_messages, 3);
  EXPECT_EQ(outcome_records, 3);
  EXPECT_EQ(outcome_bytes, static_cast<int64_t>(joined.size()));
  // The empty payloads are consumed too: the trailing one is covered by the commit.
  EXPECT_EQ(kafka.committed(group, 1), (std::vector<int64_t>{5}));
}

TEST(KafkaSourceTest, FailedApplyCommitsNothingAndTheNextPollRedeliversTheBatch) {
  MockKafka kafka;
  ASSERT_TRUE(kafka.ready());
  kafka.create_topic(2);
  kafka.produce_records(20, 2);
  const std::string group = "failed-apply-rewinds";

  auto src = open_source(options_for(kafka, group));
  ASSERT_NE(src, nullptr);
  std::vector<std::string> failed_lines;
  KafkaApplyFn failing = [&](std::string_view data, int64_t) -> Status {
    failed_lines = split_lines(data);
    return fail(ErrorCode::kUnavailable, "store is down");
  };
  for (Bounded b; failed_lines.empty() && b.next();) {
    auto r = src->poll_batch(failing);
    if (!failed_lines.empty()) {
      ASSERT_FALSE(r.has_value());
      EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
      EXPECT_EQ(r.error().detail, "store is down");
    } else {
      ASSERT_TRUE(r.has_value());
    }
  }
  ASSERT_FALSE(failed_lines.empty());
  EXPECT_EQ(kafka.committed(group, 2),
            (std::vector<int64_t>{RD_KAFKA_OFFSET_INVALID, RD_KAFKA_OFFSET_INVALID}));
  EXPECT_EQ(src->totals().apply_failures, 1);
  EXPECT_EQ(src->totals().rewinds, 1);
  EXPECT_EQ(src->totals().commits, 0);

  Collector c;
  ASSERT_TRUE(poll_until(*src, c.fn(), [&] { return !c.batches.empty(); }));
  // The first batch after the failure starts again at the failed batch's offsets.
  for (const auto& line : failed_lines) {
    EXPECT_EQ(std::count(c.batches[0].begin(), c.batches[0].end(), line), 1) << line;
  }
  ASSERT_TRUE(poll_until(*src, c.fn(), [&] { return c.lines.size() >= 20; }));
  expect_nothing_more(*src, c.fn());
  EXPECT_EQ(sorted(c.lines), sorted(records(20)));
  EXPECT_EQ(kafka.committed(group, 2), (std::vector<int64_t>{10, 10}));
}

TEST(KafkaSourceTest, NewMemberAfterAFailedApplyGetsTheBatchAgain) {
  MockKafka kafka;
  ASSERT_TRUE(kafka.ready());
  kafka.create_topic(2);
  kafka.produce_records(20, 2);
  const std::string group = "failed-apply-restart";

  std::vector<std::string> failed_lines;
  {
    auto first = open_source(options_for(kafka, group));
    ASSERT_NE(first, nullptr);
    KafkaApplyFn failing = [&](std::string_view data, int64_t) -> Status {
      failed_lines = split_lines(data);
      return fail(ErrorCode::kIo, "disk full");
    };
    for (Bounded b; failed_lines.empty() && b.next();) (void)first->poll_batch(failing);
    ASSERT_FALSE(failed_lines.empty());
  }  // the process gives up: the source leaves the group without committing
  EXPECT_EQ(kafka.committed(group, 2),
            (std::vector<int64_t>{RD_KAFKA_OFFSET_INVALID, RD_KAFKA_OFFSET_INVALID}));

  auto second = open_source(options_for(kafka, group));
  ASSERT_NE(second, nullptr);
  Collector c;
  ASSERT_TRUE(poll_until(*second, c.fn(), [&] { return c.lines.size() >= 20; }));
  expect_nothing_more(*second, c.fn());
  EXPECT_EQ(sorted(c.lines), sorted(records(20)));
  for (const auto& line : failed_lines) {
    EXPECT_EQ(std::count(c.lines.begin(), c.lines.end(), line), 1) << line;
  }
  EXPECT_EQ(kafka.committed(group, 2), (std::vector<int64_t>{10, 10}));
}

TEST(KafkaSourceTest, CrashBetweenApplyAndCommitRedeliversTheBatch) {
  MockKafka kafka;
  ASSERT_TRUE(kafka.ready());
  kafka.create_topic(2);
  kafka.produce_records(20, 2);
  const std::string group = "crash-before-commit";

  Collector before_crash;
  {
    auto first = open_source(options_for(kafka, group));
    ASSERT_NE(first, nullptr);
    first->set_before_commit_hook_for_testing([] { return false; });
    for (Bounded b; before_crash.batches.empty() && b.next();) {
      auto r = first->poll_batch(before_crash.fn());
      ASSERT_TRUE(r.has_value()) << r.error().detail;
      if (r->messages > 0) {
        EXPECT_TRUE(r->applied);
        EXPECT_FALSE(r->committed);
        EXPECT_FALSE(r->commit_error.empty());
      }
    }
    ASSERT_FALSE(before_crash.lines.empty());
    EXPECT_EQ(first->totals().commits, 0);
  }  // crash: the applied batch was never committed
  EXPECT_EQ(kafka.committed(group, 2),
            (std::vector<int64_t>{RD_KAFKA_OFFSET_INVALID, RD_KAFKA_OFFSET_INVALID}));

  auto second = open_source(options_for(kafka, group));
  ASSERT_NE(second, nullptr);
  Collector after;
  ASSERT_TRUE(poll_until(*second, after.fn(), [&] { return after.lines.size() >= 20; }));
  expect_nothing_more(*second, after.fn());
  EXPECT_EQ(sorted(after.lines), sorted(records(20)));
  // At-least-once: every record applied before the crash is applied again.
  for (const auto& line : before_crash.lines) {
    EXPECT_EQ(std::count(after.lines.begin(), after.lines.end(), line), 1) << line;
  }
  EXPECT_EQ(kafka.committed(group, 2), (std::vector<int64_t>{10, 10}));
}

TEST(KafkaSourceTest, RunBacksOffAfterFailedAppliesAndStopsOnRequest) {
  MockKafka kafka;
  ASSERT_TRUE(kafka.ready());
  kafka.create_topic(1);
  kafka.produce_records(10, 1);
  const std::string group = "run-loop";
  KafkaOptions o = options_for(kafka, group);
  o.backoff_min_ms = 50;
  o.backoff_max_ms = 400;
  auto src = open_source(o);
  ASSERT_NE(src, nullptr);

  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> lines;
  std::vector<SteadyClock::time_point> calls;
  KafkaApplyFn apply = [&](std::string_view data, int64_t) -> Status {
    std::lock_guard lock(mu);
    calls.push_back(SteadyClock::now());
    if (calls.size() <= 2) return fail(ErrorCode::kUnavailable, "busy");
    for (auto& l : split_lines(data)) lines.push_back(std::move(l));
    cv.notify_all();
    return {};
  };

  Status result = fail(ErrorCode::kInternal, "run did not return");
  std::jthread loop([&](std::stop_token stop) { result = src->run(stop, apply); });
  {
    std::unique_lock lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(15), [&] { return lines.size() >= 10; }))
        << "got " << lines.size() << " lines";
  }
  loop.request_stop();
  loop.join();
  EXPECT_TRUE(result.has_value()) << result.error().detail;

  EXPECT_EQ(sorted(lines), sorted(records(10)));
  ASSERT_GE(calls.size(), 3u);
  // The waits after the two failures: backoff_min_ms, then twice that.
  EXPECT_GE(calls[1] - calls[0], milliseconds(50));
  EXPECT_GE(calls[2] - calls[1], milliseconds(100));
  KafkaTotals t = src->totals();
  EXPECT_EQ(t.apply_failures, 2);
  EXPECT_EQ(t.rewinds, 2);
  EXPECT_EQ(kafka.committed(group, 1), (std::vector<int64_t>{10}));
}

TEST(KafkaSourceTest, RejectsBadOptions) {
  KafkaOptions good;
  good.brokers = "127.0.0.1:9";
  good.topic = "t";
  good.group = "g";

  auto expect_config = [](const KafkaOptions& o, const std::string& field) {
    auto r = KafkaSource::open(o);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kConfig);
    EXPECT_EQ(r.error().field, field);
  };
  KafkaOptions o = good;
  o.brokers.clear();
  expect_config(o, "brokers");
  o = good;
  o.group.clear();
  expect_config(o, "group");
  o = good;
  o.batch_max_messages = 0;
  expect_config(o, "batch_max_messages");
  o = good;
  o.extra["enable.auto.commit"] = "true";
  expect_config(o, "enable.auto.commit");
  o = good;
  o.extra["no.such.property"] = "1";
  expect_config(o, "no.such.property");
}

}  // namespace
}  // namespace sira::signals
