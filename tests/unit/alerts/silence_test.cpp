// Silences: Alertmanager's pending/active/expired states and creation-time validation.
#include "alerts/silence.h"

#include <gtest/gtest.h>

namespace sira::alerts {
namespace {

Silence make_silence(const std::string& matchers) {
  Silence s;
  s.id = "sil-1";
  auto ms = parse_matchers(matchers);
  EXPECT_TRUE(ms.has_value()) << matchers;
  if (ms) s.matchers = *ms;
  s.starts_at_ms = 1000;
  s.ends_at_ms = 2000;
  s.updated_at_ms = 1000;
  s.created_by = "alice";
  s.comment = "maintenance";
  return s;
}

TEST(AlertsSilence, StateFollowsAlertmanagerBoundaries) {
  Silence s = make_silence("alertname=X");
  EXPECT_EQ(s.state(999), Silence::State::kPending);
  EXPECT_EQ(s.state(1000), Silence::State::kActive);  // startsAt inclusive
  EXPECT_EQ(s.state(1500), Silence::State::kActive);
  EXPECT_EQ(s.state(2000), Silence::State::kActive);  // endsAt inclusive (Go: ts.After(endsAt))
  EXPECT_EQ(s.state(2001), Silence::State::kExpired);
  EXPECT_STREQ(state_name(Silence::State::kPending), "pending");
  EXPECT_STREQ(state_name(Silence::State::kActive), "active");
  EXPECT_STREQ(state_name(Silence::State::kExpired), "expired");
}

TEST(AlertsSilence, MutesOnlyWhenActiveAndMatching) {
  Silence s = make_silence("alertname=X, severity=~\"warn.*\"");
  LabelSet hit = {{"alertname", "X"}, {"severity", "warning"}};
  LabelSet miss = {{"alertname", "X"}, {"severity", "critical"}};
  EXPECT_TRUE(s.mutes(hit, 1500));
  EXPECT_FALSE(s.mutes(miss, 1500));
  EXPECT_FALSE(s.mutes(hit, 500));   // pending
  EXPECT_FALSE(s.mutes(hit, 2500));  // expired
}

TEST(AlertsSilence, ValidSilencePasses) {
  EXPECT_TRUE(validate_silence(make_silence("alertname=X")).has_value());
  // One matcher that matches "" is fine when another does not.
  EXPECT_TRUE(validate_silence(make_silence("team=\"\", alertname=X")).has_value());
  // Alertmanager's matchesEmpty counts only = and =~: a lone != matcher is accepted.
  EXPECT_TRUE(validate_silence(make_silence("alertname!=X")).has_value());
}

TEST(AlertsSilence, RejectsMissingMatchers) {
  Silence s = make_silence("alertname=X");
  s.matchers.clear();
  auto st = validate_silence(s);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(st.error().field, "matchers");
}

TEST(AlertsSilence, RejectsMatchersThatAllMatchEmpty) {
  for (const char* text : {"team=\"\"", "team=~\".*\"", "team=~\"a*\", env=\"\""}) {
    auto st = validate_silence(make_silence(text));
    ASSERT_FALSE(st) << text;
    EXPECT_EQ(st.error().field, "matchers") << text;
    EXPECT_NE(st.error().detail.find("must not match the empty string"), std::string::npos);
  }
}

TEST(AlertsSilence, RejectsInvalidLabelNames) {
  // The matcher parser allows ':' in names; silences require real label names.
  auto st = validate_silence(make_silence("alertname=X, job:rate=\"1\""));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().field, "matchers[1]");
  EXPECT_NE(st.error().detail.find("invalid label name"), std::string::npos);
}

TEST(AlertsSilence, RejectsBadTimesAndMissingAuthorOrComment) {
  Silence s = make_silence("alertname=X");
  s.ends_at_ms = s.starts_at_ms;
  ASSERT_FALSE(validate_silence(s));
  EXPECT_EQ(validate_silence(s).error().field, "endsAt");
  s.ends_at_ms = s.starts_at_ms - 1;
  EXPECT_EQ(validate_silence(s).error().field, "endsAt");

  s = make_silence("alertname=X");
  s.starts_at_ms = 0;
  EXPECT_EQ(validate_silence(s).error().field, "startsAt");

  s = make_silence("alertname=X");
  s.created_by.clear();
  ASSERT_FALSE(validate_silence(s));
  EXPECT_EQ(validate_silence(s).error().field, "createdBy");

  s = make_silence("alertname=X");
  s.comment.clear();
  ASSERT_FALSE(validate_silence(s));
  EXPECT_EQ(validate_silence(s).error().field, "comment");
}

}  // namespace
}  // namespace sira::alerts
