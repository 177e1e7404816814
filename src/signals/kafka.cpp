// KafkaSource on the librdkafka C API: batch gathering, commit after apply, rewind on failure.
#include "signals/kafka.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <utility>
#include <vector>

#include "core/log.h"

namespace sira::signals {

namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long a rewind waits for the fetcher to drop what it prefetched past the batch.
constexpr int kSeekTimeoutMs = 5000;
// A repeated transient error is logged at most this often.
constexpr auto kErrorLogInterval = std::chrono::seconds(60);

constexpr const char* kReservedKeys[] = {"bootstrap.servers", "group.id", "enable.auto.commit",
                                         "enable.auto.offset.store"};

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
using Message = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};

// Offsets of one partition within a batch.
struct OffsetRange {
  int64_t first = 0;
  int64_t last = 0;
};
using BatchOffsets = std::map<std::pair<std::string, int32_t>, OffsetRange>;

// librdkafka logs with syslog levels; its threads call this.
void on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  LogFields fields{{"client", rd_kafka_name(rk)}, {"facility", fac}};
  std::string msg = std::string("kafka: ") + buf;
  if (level <= 3) {
    log_error(msg, fields);
  } else if (level == 4) {
    log_warn(msg, fields);
  } else if (level <= 6) {
    log_info(msg, fields);
  } else {
    log_debug(msg, fields);
  }
}

std::string partition_name(const std::string& topic, int32_t partition) {
  return topic + "[" + std::to_string(partition) + "]";
}

}  // namespace

struct KafkaSource::Impl {
  KafkaOptions options;
  rd_kafka_t* rk = nullptr;
  std::string buffer;  // reused across batches
  std::function<bool()> before_commit_hook;

  // Set by the error callback, which librdkafka serves on the thread calling its poll functions,
  // i.e. the owner's thread.
  int64_t pending_errors = 0;
  std::string pending_last_error;
  bool fatal = false;
  std::string fatal_reason;
  std::string last_logged_error;
  SteadyClock::time_point last_logged_at{};
  // A rewind could not be applied to a partition we still own: rejoin the group so every
  // partition restarts from its committed offset.
  bool resubscribe_pending = false;

  struct {
    std::atomic<int64_t> batches{0}, messages{0}, records{0}, bytes{0}, apply_failures{0},
        commits{0}, commit_failures{0}, rewinds{0}, partition_eofs{0}, transient_errors{0};
  } totals;

  ~Impl() { close(); }

  void close() {
    if (rk == nullptr) return;
    rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      log_warn("kafka consumer close failed",
               {{"group", options.group}, {"error", rd_kafka_err2str(err)}});
    }
    rd_kafka_destroy(rk);
    rk = nullptr;
  }

  void note_error(std::string text) {
    ++pending_errors;
    auto now = SteadyClock::now();
    if (text != last_logged_error || now - last_logged_at >= kErrorLogInterval) {
      log_warn("kafka consumer error", {{"group", options.group}, {"error", text}});
      last_logged_error = text;
      last_logged_at = now;
    }
    pending_last_error = std::move(text);
  }

  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char buf[512] = {};
      rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof buf);
      self->fatal = true;
      self->fatal_reason = std::string(rd_kafka_err2name(orig)) + ": " + buf;
      log_error("kafka consumer fatal error",
                {{"group", self->options.group}, {"error", self->fatal_reason}});
      return;
    }
    self->note_error(std::string(rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))) + ": " +
                     reason);
  }

  Status resubscribe() {
    rd_kafka_resp_err_t err = rd_kafka_unsubscribe(rk);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) err = subscribe();
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return fail(ErrorCode::kUnavailable,
                  std::string("kafka resubscribe after a failed rewind: ") + rd_kafka_err2str(err));
    }
    resubscribe_pending = false;
    log_warn("kafka consumer rejoined the group after a failed rewind", {{"group", options.group}});
    return {};
  }

  rd_kafka_resp_err_t subscribe() {
    PartitionList topics(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(topics.get(), options.topic.c_str(), RD_KAFKA_PARTITION_UA);
    return rd_kafka_subscribe(rk, topics.get());
  }

  bool assigned(const char* topic, int32_t partition) {
    rd_kafka_topic_partition_list_t* raw = nullptr;
    if (rd_kafka_assignment(rk, &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) return true;
    PartitionList list(raw);
    return rd_kafka_topic_partition_list_find(list.get(), topic, partition) != nullptr;
  }

  // Seeks every partition of the batch back to its first offset so the batch comes again.
  void rewind(const BatchOffsets& offsets) {
    totals.rewinds.fetch_add(1, std::memory_order_relaxed);
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
    for (const auto& [key, range] : offsets) {
      rd_kafka_topic_partition_list_add(list.get(), key.first.c_str(), key.second)->offset =
          range.first;
    }
    rd_kafka_error_t* error = rd_kafka_seek_partitions(rk, list.get(), kSeekTimeoutMs);
    if (error != nullptr) {
      log_error("kafka rewind failed",
                {{"group", options.group}, {"error", rd_kafka_error_string(error)}});
      rd_kafka_error_destroy(error);
      resubscribe_pending = true;
      return;
    }
    for (int i = 0; i < list->cnt; ++i) {
      const rd_kafka_topic_partition_t& p = list->elems[i];
      if (p.err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      // A partition revoked meanwhile restarts from its committed offset at its new owner.
      if (!assigned(p.topic, p.partition)) continue;
      log_error("kafka rewind failed", {{"group", options.group},
                                        {"partition", partition_name(p.topic, p.partition)},
                                        {"error", rd_kafka_err2str(p.err)}});
      resubscribe_pending = true;
    }
  }

  // Commits last + 1 of every partition of the batch, synchronously. Returns the error text.
  std::string commit(const BatchOffsets& offsets) {
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
    for (const auto& [key, range] : offsets) {
      rd_kafka_topic_partition_list_add(list.get(), key.first.c_str(), key.second)->offset =
          range.last + 1;
    }
    rd_kafka_resp_err_t err = rd_kafka_commit(rk, list.get(), 0);
    std::string error;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) error = rd_kafka_err2str(err);
    for (int i = 0; i < list->cnt && error.empty(); ++i) {
      const rd_kafka_topic_partition_t& p = list->elems[i];
      if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        error = partition_name(p.topic, p.partition) + ": " + rd_kafka_err2str(p.err);
      }
    }
    return error;
  }
};

KafkaSource::KafkaSource(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

KafkaSource::~KafkaSource() = default;

Result<std::unique_ptr<KafkaSource>> KafkaSource::open(const KafkaOptions& options) {
  if (options.brokers.empty()) {
    return fail(ErrorCode::kConfig, "kafka brokers are empty", "brokers");
  }
  if (options.topic.empty()) return fail(ErrorCode::kConfig, "kafka topic is empty", "topic");
  if (options.group.empty()) return fail(ErrorCode::kConfig, "kafka group is empty", "group");
  if (options.batch_max_messages < 1) {
    return fail(ErrorCode::kConfig, "kafka batch_max_messages must be >= 1", "batch_max_messages");
  }
  if (options.batch_max_ms < 1 || options.batch_max_ms > 3600 * 1000) {
    return fail(ErrorCode::kConfig, "kafka batch_max_ms must be in 1..3600000", "batch_max_ms");
  }
  if (options.batch_max_bytes < 1) {
    return fail(ErrorCode::kConfig, "kafka batch_max_bytes must be >= 1", "batch_max_bytes");
  }
  if (options.backoff_min_ms < 1 || options.backoff_max_ms < options.backoff_min_ms) {
    return fail(ErrorCode::kConfig,
                "kafka backoff must satisfy 1 <= backoff_min_ms <= backoff_max_ms",
                "backoff_min_ms");
  }
  for (const char* key : kReservedKeys) {
    if (options.extra.contains(key)) {
      return fail(ErrorCode::kConfig,
                  std::string("kafka property ") + key + " is set by sira and cannot be overridden",
                  key);
    }
  }

  auto impl = std::make_unique<Impl>();
  impl->options = options;

  std::unique_ptr<rd_kafka_conf_t, ConfDeleter> conf(rd_kafka_conf_new());
  auto set = [&](const std::string& key, const std::string& value) -> Status {
    char errstr[512] = {};
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      return fail(ErrorCode::kConfig, "kafka property " + key + ": " + errstr, key);
    }
    return {};
  };
  SIRA_CHECK(set("client.id", "sira"));
  SIRA_CHECK(set("auto.offset.reset", "earliest"));
  for (const auto& [key, value] : options.extra) SIRA_CHECK(set(key, value));
  SIRA_CHECK(set("bootstrap.servers", options.brokers));
  SIRA_CHECK(set("group.id", options.group));
  SIRA_CHECK(set("enable.auto.commit", "false"));
  SIRA_CHECK(set("enable.auto.offset.store", "false"));
  rd_kafka_conf_set_opaque(conf.get(), impl.get());
  rd_kafka_conf_set_error_cb(conf.get(), &Impl::on_error);
  rd_kafka_conf_set_log_cb(conf.get(), &on_log);

  char errstr[512] = {};
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr, sizeof errstr);
  if (rk == nullptr) return fail(ErrorCode::kConfig, std::string("kafka consumer: ") + errstr);
  conf.release();  // owned by rk now
  impl->rk = rk;
  // Errors and rebalances are served by rd_kafka_consumer_poll() on the owner's thread.
  rd_kafka_poll_set_consumer(rk);
  if (rd_kafka_resp_err_t err = impl->subscribe(); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return fail(ErrorCode::kConfig,
                "kafka subscribe to " + options.topic + ": " + rd_kafka_err2str(err), "topic");
  }
  log_info("kafka source subscribed",
           {{"brokers", options.brokers}, {"topic", options.topic}, {"group", options.group}});
  return std::unique_ptr<KafkaSource>(new KafkaSource(std::move(impl)));
}

Result<BatchOutcome> KafkaSource::poll_batch(const KafkaApplyFn& apply) {
  Impl& s = *impl_;
  if (s.rk == nullptr) return fail(ErrorCode::kUnavailable, "kafka source is closed");
  if (s.fatal) return fail(ErrorCode::kUnavailable, "kafka consumer failed: " + s.fatal_reason);
  if (s.resubscribe_pending) SIRA_CHECK(s.resubscribe());

  const KafkaOptions& o = s.options;
  BatchOutcome out;
  BatchOffsets offsets;
  s.buffer.clear();
  const auto deadline = SteadyClock::now() + milliseconds(o.batch_max_ms);
  while (out.messages < o.batch_max_messages &&
         static_cast<int64_t>(s.buffer.size()) < o.batch_max_bytes && !s.fatal) {
    auto left = std::chrono::ceil<milliseconds>(deadline - SteadyClock::now()).count();
    if (left <= 0) break;
    Message m(rd_kafka_consumer_poll(s.rk, static_cast<int>(left)));
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      ++out.partition_eofs;
      continue;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      s.note_error(std::string(rd_kafka_err2name(m->err)) + ": " +
                   rd_kafka_message_errstr(m.get()));
      continue;
    }
    ++out.messages;
    auto [it, inserted] = offsets.try_emplace({rd_kafka_topic_name(m->rkt), m->partition},
                                              OffsetRange{m->offset, m->offset});
    if (!inserted) {
      it->second.first = std::min(it->second.first, m->offset);
      it->second.last = std::max(it->second.last, m->offset);
    }
    if (m->len == 0) continue;
    ++out.records;
    s.buffer.append(static_cast<const char*>(m->payload), m->len);
    if (s.buffer.back() != '\n') s.buffer.push_back('\n');
  }
  out.bytes = static_cast<int64_t>(s.buffer.size());
  out.transient_errors = std::exchange(s.pending_errors, 0);
  out.last_error = std::exchange(s.pending_last_error, {});

  auto& t = s.totals;
  t.partition_eofs.fetch_add(out.partition_eofs, std::memory_order_relaxed);
  t.transient_errors.fetch_add(out.transient_errors, std::memory_order_relaxed);
  // The consumer is unusable; whatever was gathered stays uncommitted for the group.
  if (s.fatal) return fail(ErrorCode::kUnavailable, "kafka consumer failed: " + s.fatal_reason);
  if (out.messages == 0) return out;
  t.batches.fetch_add(1, std::memory_order_relaxed);
  t.messages.fetch_add(out.messages, std::memory_order_relaxed);
  t.records.fetch_add(out.records, std::memory_order_relaxed);
  t.bytes.fetch_add(out.bytes, std::memory_order_relaxed);

  if (out.records > 0) {
    Status applied;
    try {
      applied = apply(s.buffer, out.records);
    } catch (...) {
      // Not ours to swallow, but the batch must still come again.
      t.apply_failures.fetch_add(1, std::memory_order_relaxed);
      s.rewind(offsets);
      throw;
    }
    if (!applied) {
      t.apply_failures.fetch_add(1, std::memory_order_relaxed);
      s.rewind(offsets);
      return std::unexpected(applied.error());
    }
    out.applied = true;
  }

  if (s.before_commit_hook && !s.before_commit_hook()) {
    out.commit_error = "commit skipped by the test hook";
    return out;
  }
  out.commit_error = s.commit(offsets);
  out.committed = out.commit_error.empty();
  if (out.committed) {
    t.commits.fetch_add(1, std::memory_order_relaxed);
  } else {
    t.commit_failures.fetch_add(1, std::memory_order_relaxed);
    log_warn("kafka commit failed; the batch is applied and will be re-delivered after a restart",
             {{"group", o.group}, {"error", out.commit_error}});
  }
  return out;
}

Status KafkaSource::run(std::stop_token stop, const KafkaApplyFn& apply) {
  std::mutex mu;
  std::condition_variable_any cv;
  int64_t backoff_ms = 0;
  while (!stop.stop_requested()) {
    auto r = poll_batch(apply);
    bool failed = false;
    if (!r) {
      if (impl_->rk == nullptr || impl_->fatal) return std::unexpected(r.error());
      failed = true;
      log_warn("kafka batch not applied; it will be retried",
               {{"group", impl_->options.group}, {"error", r.error().detail}});
    } else {
      failed = r->messages > 0 && !r->committed;
    }
    if (!failed) {
      backoff_ms = 0;
      continue;
    }
    backoff_ms = backoff_ms == 0 ? impl_->options.backoff_min_ms
                                 : std::min(backoff_ms * 2, impl_->options.backoff_max_ms);
    std::unique_lock lock(mu);
    cv.wait_for(lock, stop, milliseconds(backoff_ms), [] { return false; });
  }
  return {};
}

void KafkaSource::close() {
  impl_->close();
}

KafkaTotals KafkaSource::totals() const {
  const auto& t = impl_->totals;
  auto get = [](const std::atomic<int64_t>& v) { return v.load(std::memory_order_relaxed); };
  KafkaTotals out;
  out.batches = get(t.batches);
  out.messages = get(t.messages);
  out.records = get(t.records);
  out.bytes = get(t.bytes);
  out.apply_failures = get(t.apply_failures);
  out.commits = get(t.commits);
  out.commit_failures = get(t.commit_failures);
  out.rewinds = get(t.rewinds);
  out.partition_eofs = get(t.partition_eofs);
  out.transient_errors = get(t.transient_errors);
  return out;
}

const KafkaOptions& KafkaSource::options() const {
  return impl_->options;
}

void KafkaSource::set_before_commit_hook_for_testing(std::function<bool()> hook) {
  impl_->before_commit_hook = std::move(hook);
}

}  // namespace sira::signals
