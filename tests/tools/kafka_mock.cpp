// sira_kafka_mock: a one-broker librdkafka mock cluster on 127.0.0.1 for the integration tests.
//
// Usage: sira_kafka_mock TOPIC
// Creates TOPIC with one partition, prints the bootstrap servers on the first stdout line, then
// answers one line on stdout for each command line read from stdin:
//   produce TEXT       produces one message whose payload is TEXT (the rest of the line),
//                      flushes, answers "ok" (or "error REASON")
//   committed GROUP    answers "committed N": the sum of GROUP's committed offsets over the
//                      topic's partitions (a partition with no committed offset counts as 0),
//                      or "error REASON"
//   quit               (or end of input) destroys everything and exits 0
// Every librdkafka call that can wait is bounded. librdkafka's own logs go to stderr.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdio>
#include <iostream>
#include <string>

namespace {

constexpr int kPartitions = 1;
constexpr int kFlushTimeoutMs = 10000;
constexpr int kCommittedTimeoutMs = 5000;
constexpr int kDestroyTimeoutMs = 10000;

void answer(const std::string& line) {
  std::cout << line << '\n' << std::flush;
}

bool set(rd_kafka_conf_t* conf, const char* key, const char* value) {
  char err[512] = {};
  if (rd_kafka_conf_set(conf, key, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
    std::fprintf(stderr, "sira_kafka_mock: %s=%s: %s\n", key, value, err);
    return false;
  }
  return true;
}

std::string produce(rd_kafka_t* producer, const std::string& topic, const std::string& payload) {
  rd_kafka_resp_err_t err =
      rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
                        RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return std::string("error ") + rd_kafka_err2str(err);
  err = rd_kafka_flush(producer, kFlushTimeoutMs);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return std::string("error flush: ") + rd_kafka_err2str(err);
  return "ok";
}

// Asks the group coordinator for the group's offsets without joining the group.
std::string committed(const std::string& bootstraps, const std::string& topic,
                      const std::string& group) {
  if (group.empty()) return "error committed needs a group";
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (!set(conf, "bootstrap.servers", bootstraps.c_str()) ||
      !set(conf, "group.id", group.c_str()) || !set(conf, "enable.auto.commit", "false")) {
    rd_kafka_conf_destroy(conf);
    return "error bad consumer configuration";
  }
  char err[512] = {};
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return std::string("error consumer: ") + err;
  }
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(kPartitions);
  for (int p = 0; p < kPartitions; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
  std::string out;
  rd_kafka_resp_err_t e = rd_kafka_committed(rk, list, kCommittedTimeoutMs);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    out = std::string("error committed: ") + rd_kafka_err2str(e);
  } else {
    long long sum = 0;
    for (int i = 0; i < list->cnt && out.empty(); ++i) {
      const rd_kafka_topic_partition_t& tp = list->elems[i];
      if (tp.err != RD_KAFKA_RESP_ERR_NO_ERROR)
        out = std::string("error committed partition ") + std::to_string(tp.partition) + ": " +
              rd_kafka_err2str(tp.err);
      else if (tp.offset >= 0)
        sum += tp.offset;  // RD_KAFKA_OFFSET_INVALID (-1001): nothing committed yet, counts as 0
    }
    if (out.empty()) out = "committed " + std::to_string(sum);
  }
  rd_kafka_topic_partition_list_destroy(list);
  // Never subscribed: nothing to leave, so skip the consumer close handshake.
  rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || argv[1][0] == '\0') {
    std::fprintf(stderr, "usage: sira_kafka_mock TOPIC\n");
    return 2;
  }
  const std::string topic = argv[1];

  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (!set(conf, "test.mock.num.brokers", "1") || !set(conf, "linger.ms", "0") ||
      !set(conf, "message.timeout.ms", "10000")) {
    rd_kafka_conf_destroy(conf);
    return 1;
  }
  char err[512] = {};
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (producer == nullptr) {
    rd_kafka_conf_destroy(conf);
    std::fprintf(stderr, "sira_kafka_mock: producer: %s\n", err);
    return 1;
  }
  // The cluster belongs to the producer and lives until it is destroyed; its brokers listen on
  // 127.0.0.1, ephemeral ports.
  rd_kafka_mock_cluster_t* mock = rd_kafka_handle_mock_cluster(producer);
  if (mock == nullptr) {
    std::fprintf(stderr, "sira_kafka_mock: no mock cluster\n");
    rd_kafka_destroy(producer);
    return 1;
  }
  rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mock, topic.c_str(), kPartitions, 1);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::fprintf(stderr, "sira_kafka_mock: topic %s: %s\n", topic.c_str(), rd_kafka_err2str(e));
    rd_kafka_destroy(producer);
    return 1;
  }
  const std::string bootstraps = rd_kafka_mock_cluster_bootstraps(mock);
  answer(bootstraps);

  std::string line;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string cmd = line.substr(0, line.find(' '));
    std::string rest = line.size() > cmd.size() ? line.substr(cmd.size() + 1) : std::string();
    if (cmd == "quit") break;
    if (cmd == "produce") {
      answer(produce(producer, topic, rest));
    } else if (cmd == "committed") {
      answer(committed(bootstraps, topic, rest));
    } else if (cmd.empty()) {
      answer("error empty command");
    } else {
      answer("error unknown command " + cmd);
    }
  }

  rd_kafka_flush(producer, kFlushTimeoutMs);
  rd_kafka_destroy(producer);
  rd_kafka_wait_destroyed(kDestroyTimeoutMs);
  return 0;
}
