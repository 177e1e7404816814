// Fingerprints, label-set strings and alert validation against Alertmanager's definitions.
#include "alerts/model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace sira::alerts {
namespace {

// An independent FNV-1a 64 over the documented byte layout: labels sorted by name, each name
// and value followed by the separator byte 0xff.
uint64_t reference_fingerprint(std::vector<std::pair<std::string, std::string>> pairs) {
  std::sort(pairs.begin(), pairs.end());
  std::string bytes;
  for (const auto& [n, v] : pairs) {
    bytes += n;
    bytes.push_back('\xff');
    bytes += v;
    bytes.push_back('\xff');
  }
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

TEST(AlertsModel, FingerprintMatchesPrometheusCommonKnownValues) {
  // Literal values from prometheus/common model/signature_test.go (TestMetricToFingerprint and
  // the fingerprint benchmarks), which Alertmanager uses as LabelSet.Fingerprint().
  EXPECT_EQ(fingerprint({}), 14695981039346656037ULL);
  EXPECT_EQ(fingerprint({{"name", "garland, briggs"}, {"fear", "love is not enough"}}),
            5799056148416392346ULL);
  EXPECT_EQ(fingerprint({{"first-label", "first-label-value"}}), 5146282821936882169ULL);
  EXPECT_EQ(
      fingerprint({{"first-label", "first-label-value"}, {"second-label", "second-label-value"}}),
      3195800080984914717ULL);
  EXPECT_EQ(fingerprint({{"first-label", "first-label-value"},
                         {"second-label", "second-label-value"},
                         {"third-label", "third-label-value"}}),
            13843036195897128121ULL);
}

TEST(AlertsModel, FingerprintMatchesIndependentFnv) {
  std::vector<std::vector<std::pair<std::string, std::string>>> cases = {
      {{"alertname", "HighLatency"}},
      {{"alertname", "HighLatency"}, {"severity", "critical"}, {"instance", "10.0.0.1:9100"}},
      {{"a", ""}, {"b", "é✓"}, {"zz", "x\ny"}},
      {{"b", "a"}, {"a", "b"}},
  };
  for (const auto& c : cases) {
    LabelSet ls(c.begin(), c.end());
    EXPECT_EQ(fingerprint(ls), reference_fingerprint(c)) << label_set_string(ls);
  }
  // The separator keeps "ab"="" and "a"="b" apart.
  EXPECT_NE(fingerprint({{"ab", ""}}), fingerprint({{"a", "b"}}));
  // Order of insertion is irrelevant; values matter.
  EXPECT_EQ(fingerprint({{"x", "1"}, {"y", "2"}}), fingerprint({{"y", "2"}, {"x", "1"}}));
  EXPECT_NE(fingerprint({{"x", "1"}, {"y", "2"}}), fingerprint({{"x", "2"}, {"y", "1"}}));
}

TEST(AlertsModel, FingerprintHexIsSixteenLowercaseDigits) {
  EXPECT_EQ(fingerprint_hex(5799056148416392346ULL), "507a62d79ee76c9a");
  EXPECT_EQ(fingerprint_hex(0x1fULL), "000000000000001f");
  EXPECT_EQ(fingerprint_hex(14695981039346656037ULL), "cbf29ce484222325");
  uint64_t fp = 0;
  ASSERT_TRUE(parse_fingerprint_hex("507a62d79ee76c9a", &fp));
  EXPECT_EQ(fp, 5799056148416392346ULL);
  EXPECT_FALSE(parse_fingerprint_hex("", &fp));
  EXPECT_FALSE(parse_fingerprint_hex("xyz", &fp));
  EXPECT_FALSE(parse_fingerprint_hex("00000000000000001", &fp));
}

TEST(AlertsModel, LabelNames) {
  EXPECT_TRUE(valid_label_name("alertname"));
  EXPECT_TRUE(valid_label_name("_a1"));
  EXPECT_TRUE(valid_label_name("A"));
  EXPECT_FALSE(valid_label_name(""));
  EXPECT_FALSE(valid_label_name("1a"));
  EXPECT_FALSE(valid_label_name("a-b"));
  EXPECT_FALSE(valid_label_name("a:b"));  // colons are not label-name characters
  EXPECT_FALSE(valid_label_name("é"));
}

TEST(AlertsModel, Utf8Validation) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain"));
  EXPECT_TRUE(valid_utf8("\xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80"));
  EXPECT_FALSE(valid_utf8("\xff"));
  EXPECT_FALSE(valid_utf8("\xc3"));              // truncated
  EXPECT_FALSE(valid_utf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
}

TEST(AlertsModel, GoQuoteEscapesLikeStrconvQuote) {
  EXPECT_EQ(go_quote("plain"), "\"plain\"");
  EXPECT_EQ(go_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(go_quote("\a\b\f\n\r\t\v"), "\"\\a\\b\\f\\n\\r\\t\\v\"");
  EXPECT_EQ(go_quote(std::string("\x01\x1f\x7f", 3)), "\"\\x01\\x1f\\x7f\"");
  EXPECT_EQ(go_quote("\xff"), "\"\\xff\"");                         // invalid UTF-8 byte
  EXPECT_EQ(go_quote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");            // printable: kept
  EXPECT_EQ(go_quote("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\"");  // emoji: kept
  EXPECT_EQ(go_quote("\xc2\xa0"), "\"\\u00a0\"");                   // no-break space
  EXPECT_EQ(go_quote("\xe2\x80\x8b"), "\"\\u200b\"");               // zero-width space (Cf)
  EXPECT_EQ(go_quote("\xc2\x85"), "\"\\u0085\"");                   // C1 control
  EXPECT_EQ(go_quote("\xee\x80\x80"), "\"\\ue000\"");               // private use
  EXPECT_EQ(go_quote("\xf3\xb0\x80\x80"), "\"\\U000f0000\"");
}

TEST(AlertsModel, LabelSetStringAsAlertmanager) {
  EXPECT_EQ(label_set_string({}), "{}");
  EXPECT_EQ(label_set_string({{"alertname", "X"}}), "{alertname=\"X\"}");
  EXPECT_EQ(label_set_string({{"c", "d"}, {"a", "b"}}), "{a=\"b\", c=\"d\"}");
  EXPECT_EQ(label_set_string({{"msg", "say \"hi\"\n"}}), "{msg=\"say \\\"hi\\\"\\n\"}");
  // Alertmanager sorts the formatted `name="value"` strings: '0' < '=' puts a0 before a.
  EXPECT_EQ(label_set_string({{"a", "y"}, {"a0", "x"}}), "{a0=\"x\", a=\"y\"}");
}

TEST(AlertsModel, ResolvedAt) {
  Alert a;
  a.starts_at_ms = 1000;
  EXPECT_FALSE(a.resolved_at(5000));  // no endsAt: firing
  a.ends_at_ms = 3000;
  EXPECT_FALSE(a.resolved_at(2999));
  EXPECT_TRUE(a.resolved_at(3000));
  EXPECT_TRUE(a.resolved_at(4000));
}

TEST(AlertsModel, ValidateAlert) {
  Alert a;
  a.labels = {{"alertname", "X"}};
  a.starts_at_ms = 1000;
  EXPECT_TRUE(validate_alert(a).has_value());

  Alert no_start = a;
  no_start.starts_at_ms = 0;
  ASSERT_FALSE(validate_alert(no_start));
  EXPECT_EQ(validate_alert(no_start).error().field, "startsAt");

  Alert backwards = a;
  backwards.ends_at_ms = 999;
  ASSERT_FALSE(validate_alert(backwards));
  EXPECT_EQ(validate_alert(backwards).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(validate_alert(backwards).error().field, "endsAt");
  backwards.ends_at_ms = 1000;  // equal is allowed
  EXPECT_TRUE(validate_alert(backwards).has_value());

  Alert empty = a;
  empty.labels.clear();
  ASSERT_FALSE(validate_alert(empty));
  EXPECT_EQ(validate_alert(empty).error().field, "labels");
  EXPECT_NE(validate_alert(empty).error().detail.find("at least one label pair"),
            std::string::npos);

  Alert bad_name = a;
  bad_name.labels["bad-name"] = "x";
  ASSERT_FALSE(validate_alert(bad_name));
  EXPECT_EQ(validate_alert(bad_name).error().field, "labels");
  EXPECT_NE(validate_alert(bad_name).error().detail.find("\"bad-name\""), std::string::npos);

  Alert bad_value = a;
  bad_value.labels["ok"] = "\xff";
  ASSERT_FALSE(validate_alert(bad_value));
  EXPECT_EQ(validate_alert(bad_value).error().field, "labels");

  Alert bad_annotation = a;
  bad_annotation.annotations["has space"] = "x";
  ASSERT_FALSE(validate_alert(bad_annotation));
  EXPECT_EQ(validate_alert(bad_annotation).error().field, "annotations");
}

}  // namespace
}  // namespace sira::alerts
