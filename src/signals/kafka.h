// Kafka consumer-group source of request records (librdkafka C API): batches of messages are
// handed to an apply function as one newline-separated buffer, and offsets are committed only
// after apply succeeded.
//
// Delivery guarantee: at-least-once. The consumer never commits on its own
// (enable.auto.commit=false, enable.auto.offset.store=false); poll_batch() commits, synchronously
// and with an explicit offset list (last offset + 1 per partition), exactly the messages it handed
// to apply, and only once apply returned ok. When apply fails nothing is committed and the
// consumer is sought back to the first offset of the batch in each partition, so the same
// messages come again on the next poll_batch(); a new consumer of the same group (a restart)
// starts from the last committed offset and gets them too. A crash between a successful apply
// and its commit re-delivers the whole batch: apply must tolerate seeing a batch twice.
// A group rebalance during a batch can also re-deliver messages to the partition's new owner.
// A partition with no committed offset starts at its earliest message (auto.offset.reset).
// apply must return within max.poll.interval.ms (default 5 min) or the group evicts the consumer
// and its commit fails (the batch is then re-delivered to the partition's next owner).
//
// Ownership and threads: a KafkaSource owns one librdkafka consumer handle. poll_batch(), run()
// and close() must be called from one thread at a time (the caller's loop thread); totals() may
// be called from any thread. librdkafka's own threads log through core/log.h.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include "core/error.h"

namespace sira::signals {

struct KafkaOptions {
  std::string brokers;                 // bootstrap.servers: "host:port[,host:port...]"
  std::string topic;                   // one topic, or a "^regex" subscription
  std::string group;                   // group.id
  int64_t batch_max_messages = 10000;  // a batch closes at this many messages,
  int64_t batch_max_ms = 200;          // or this long after poll_batch() started,
  int64_t batch_max_bytes = 64 << 20;  // or once the buffer reaches this size
  int64_t backoff_min_ms = 100;        // run(): first wait after a failed batch, doubled
  int64_t backoff_max_ms = 10000;      // run(): ... up to this
  // Raw librdkafka properties (security.protocol, sasl.*, session.timeout.ms, test.mock.*).
  // bootstrap.servers, group.id, enable.auto.commit and enable.auto.offset.store are reserved:
  // setting them here is a configuration error. auto.offset.reset defaults to "earliest".
  std::map<std::string, std::string> extra;
};

// What one poll_batch() did.
struct BatchOutcome {
  int64_t messages = 0;          // messages taken into the batch, empty payloads included
  int64_t records = 0;           // non-empty payloads handed to apply (its `messages` argument)
  int64_t bytes = 0;             // size of the buffer handed to apply
  int64_t partition_eofs = 0;    // end-of-partition events (only with enable.partition.eof=true)
  int64_t transient_errors = 0;  // consumer/broker errors librdkafka recovers from by itself
  std::string last_error;        // text of the last transient error, empty if none
  bool applied = false;          // apply was called and returned ok
  bool committed = false;        // the batch's offsets are committed (false if no messages)
  std::string commit_error;      // why the commit failed; the batch will be re-delivered on a
                                 // restart unless a later commit covers it
};

// Totals since open(), for metrics. Read from any thread.
struct KafkaTotals {
  int64_t batches = 0;  // poll_batch() calls that took at least one message
  int64_t messages = 0;
  int64_t records = 0;
  int64_t bytes = 0;
  int64_t apply_failures = 0;
  int64_t commits = 0;
  int64_t commit_failures = 0;
  int64_t rewinds = 0;  // seeks back after a failed apply
  int64_t partition_eofs = 0;
  int64_t transient_errors = 0;
};

// Applies one batch: `data` holds `messages` records, each ending in '\n'. Returning ok means
// the records are durably applied; after that the batch's offsets are committed.
using KafkaApplyFn = std::function<Status(std::string_view data, int64_t messages)>;

class KafkaSource {
 public:
  // Validates the options, creates the consumer and subscribes it; the group join happens in
  // the background during the first polls. kConfig for bad options or librdkafka properties.
  static Result<std::unique_ptr<KafkaSource>> open(const KafkaOptions& options);
  ~KafkaSource();  // close()
  KafkaSource(const KafkaSource&) = delete;
  KafkaSource& operator=(const KafkaSource&) = delete;

  // Gathers up to batch_max_messages messages for at most batch_max_ms, joins their payloads
  // (a '\n' is added unless the payload ends with one; empty payloads are skipped) and calls
  // apply once if there is at least one record. If apply returns ok (or the batch held only
  // empty payloads) the offsets are committed synchronously; a commit failure is reported in
  // the outcome, not as an error, since the records are applied. If apply fails, nothing is
  // committed, the consumer is sought back to the batch's first offsets and apply's error is
  // returned. A fatal consumer error returns kUnavailable without calling apply; so does a
  // closed source.
  Result<BatchOutcome> poll_batch(const KafkaApplyFn& apply);

  // Calls poll_batch() until `stop` is requested. After a failed apply or commit it waits
  // backoff_min_ms, doubling up to backoff_max_ms, reset by the next good batch; the wait ends
  // early when stop is requested. Returns ok when stopped, or the error of a fatal consumer
  // failure. Does not close the source.
  Status run(std::stop_token stop, const KafkaApplyFn& apply);

  // Leaves the group (its partitions go to the other members) and destroys the consumer; commits
  // nothing. Idempotent; poll_batch() fails with kUnavailable afterwards.
  void close();

  KafkaTotals totals() const;
  const KafkaOptions& options() const;

  // Tests only: called after apply succeeded, just before the commit. Returning false skips the
  // commit and leaves the consumer's position after the batch, as a crash between apply and
  // commit would; the caller then drops the source to complete the simulated crash.
  void set_before_commit_hook_for_testing(std::function<bool()> hook);

 private:
  struct Impl;
  explicit KafkaSource(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sira::signals
