// Golden corpora of SIRA Guard: every tests/golden/guard/NAME.ndjson is parsed, rolled up per
// key and evaluated at NAME.expected.json's evaluate_at; the set of detection types must match
// exactly and the anomaly score must respect the expected bounds.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/clock.h"
#include "guard/detect.h"
#include "guard/recommend.h"
#include "signals/parse.h"
#include "signals/rollup.h"

#ifndef SIRA_SOURCE_DIR
#error "SIRA_SOURCE_DIR must be defined (tests/CMakeLists.txt)"
#endif

namespace sira::guard {
namespace {

namespace bj = boost::json;
namespace fs = std::filesystem;

fs::path golden_dir() {
  return fs::path(SIRA_SOURCE_DIR) / "tests" / "golden" / "guard";
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(golden_dir(), ec)) {
    if (entry.path().extension() == ".ndjson") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string join(const std::set<std::string>& s) {
  std::string out = "[";
  for (const auto& x : s) out += (out.size() > 1 ? ", " : "") + x;
  return out + "]";
}

TEST(GuardGoldenCorpus, HasEveryCase) {
  const std::vector<std::string> names = case_names();
  for (const char* want :
       {"brute_force", "bot_pattern", "ip_rotation", "traffic_spike", "endpoint_scanning",
        "error_burst", "latency_degradation", "benign_steady", "benign_busy_but_normal_latency",
        "benign_few_ips", "benign_404s", "benign_slow_service_consistent"}) {
    EXPECT_TRUE(std::find(names.begin(), names.end(), want) != names.end())
        << "missing golden case " << want << " in " << golden_dir();
  }
}

class GuardGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(GuardGolden, MatchesExpectations) {
  const std::string name = GetParam();
  const std::string data = read_file(golden_dir() / (name + ".ndjson"));
  ASSERT_FALSE(data.empty()) << name;
  boost::system::error_code ec;
  const bj::value expected = bj::parse(read_file(golden_dir() / (name + ".expected.json")), ec);
  ASSERT_FALSE(ec) << name << ".expected.json: " << ec.message();
  ASSERT_TRUE(expected.is_object());
  const bj::object& exp = expected.as_object();

  int64_t now_ms = 0;
  ASSERT_TRUE(parse_rfc3339(bj::value_to<std::string>(exp.at("evaluate_at")), &now_ms));

  auto parser = signals::make_parser(signals::Format::kNdjson);
  signals::Rollups rollups;
  signals::ParseStats stats;
  signals::parse_lines(
      *parser, data, 1, [&](const signals::RecordView& r) { rollups.key(r.key_id).add(r); },
      [&](int64_t line, std::string_view reason) {
        ADD_FAILURE() << name << ".ndjson:" << line << ": " << reason;
      },
      &stats);
  EXPECT_EQ(stats.rejected, 0);
  EXPECT_GT(stats.records, 0);

  const bj::object& keys = exp.at("keys").as_object();
  std::set<std::string> expected_keys, seen_keys;
  for (const auto& kv : keys) expected_keys.insert(std::string(kv.key()));
  for (const auto& k : rollups.key_ids()) seen_keys.insert(k);
  EXPECT_EQ(seen_keys, expected_keys) << name << ": the expectation must list every key";

  const Detector detector;
  for (const auto& kv : keys) {
    const std::string key_id(kv.key());
    const bj::object& want = kv.value().as_object();
    const signals::KeyRollup* rollup = rollups.find(key_id);
    ASSERT_NE(rollup, nullptr) << name << ": no records for " << key_id;

    const Evaluation ev = detector.evaluate(*rollup, now_ms);
    std::set<std::string> found, wanted;
    for (const Detection& d : ev.detections) found.insert(std::string(type_name(d.type)));
    for (const auto& t : want.at("detections").as_array()) {
      wanted.insert(bj::value_to<std::string>(t));
    }

    std::cout << "[golden] " << name << " " << key_id << ": " << join(found)
              << " score=" << ev.anomaly_score << " (error_rate=" << ev.features.error_rate
              << " spike=" << ev.features.spike_ratio
              << " ip_diversity=" << ev.features.ip_diversity
              << " latency=" << ev.features.latency_anomaly << ")\n";
    for (const Detection& d : ev.detections) {
      std::cout << "           " << type_name(d.type) << " " << severity_name(d.severity)
                << " conf=" << d.confidence << " action=" << action_name(d.suggested_action)
                << " \"" << d.summary << "\" " << bj::serialize(d.evidence) << "\n";
    }

    EXPECT_EQ(found, wanted) << name << " " << key_id;
    const double min_score = bj::value_to<double>(want.at("min_anomaly_score"));
    EXPECT_GE(ev.anomaly_score, min_score) << name << " " << key_id;
    if (const bj::value* max = want.if_contains("max_anomaly_score")) {
      EXPECT_LE(ev.anomaly_score, bj::value_to<double>(*max)) << name << " " << key_id;
    }
    for (const Detection& d : ev.detections) {
      EXPECT_GE(d.confidence, 0.5) << name << " " << type_name(d.type);
      EXPECT_LE(d.confidence, 1.0) << name << " " << type_name(d.type);
      EXPECT_FALSE(d.summary.empty());
      EXPECT_FALSE(d.evidence.empty());
      EXPECT_FALSE(d.features.empty());
      EXPECT_FALSE(d.thresholds.empty());
      EXPECT_LE(d.window_start_ms, d.window_end_ms);
      EXPECT_LE(d.window_end_ms, now_ms + 60'000);
      EXPECT_NE(d.suggested_action, ActionKind::kNone);
      EXPECT_EQ(recommendations_for(d).size(), d.recommendations.size());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, GuardGolden, ::testing::ValuesIn(case_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(GuardGolden);

}  // namespace
}  // namespace sira::guard
