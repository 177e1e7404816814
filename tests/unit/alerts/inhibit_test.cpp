// Inhibition: equal labels (missing == missing), resolved sources, two-sided rules.
#include "alerts/inhibit.h"

#include <gtest/gtest.h>

namespace sira::alerts {
namespace {

std::vector<Matcher> ms(const char* text) {
  auto r = parse_matchers(text);
  EXPECT_TRUE(r.has_value()) << text;
  return r ? *r : std::vector<Matcher>{};
}

Alert alert(LabelSet labels, int64_t ends_at_ms = 0) {
  Alert a;
  a.labels = std::move(labels);
  a.starts_at_ms = 1;
  a.ends_at_ms = ends_at_ms;
  a.fp = fingerprint(a.labels);
  return a;
}

constexpr int64_t kNow = 10000;

TEST(AlertsInhibit, CriticalInhibitsWarningWithEqualLabels) {
  Inhibitor inh({InhibitRule{
      ms("severity=\"critical\""), ms("severity=\"warning\""), {"alertname", "cluster"}, ""}});
  Alert crit = alert({{"alertname", "DiskFull"}, {"cluster", "c1"}, {"severity", "critical"}});
  std::vector<const Alert*> firing = {&crit};

  EXPECT_EQ(
      inh.inhibited_by({{"alertname", "DiskFull"}, {"cluster", "c1"}, {"severity", "warning"}},
                       firing, kNow),
      std::vector<uint64_t>{crit.fp});
  // Another cluster: the equal label differs.
  EXPECT_TRUE(
      inh.inhibited_by({{"alertname", "DiskFull"}, {"cluster", "c2"}, {"severity", "warning"}},
                       firing, kNow)
          .empty());
  // Not a target.
  EXPECT_TRUE(inh.inhibited_by({{"alertname", "DiskFull"}, {"cluster", "c1"}, {"severity", "info"}},
                               firing, kNow)
                  .empty());
  // Label present on one side only: not equal.
  EXPECT_TRUE(
      inh.inhibited_by({{"alertname", "DiskFull"}, {"severity", "warning"}}, firing, kNow).empty());
}

TEST(AlertsInhibit, MissingEqualLabelOnBothSidesCountsAsEqual) {
  Inhibitor inh(
      {InhibitRule{ms("severity=\"critical\""), ms("severity=\"warning\""), {"cluster"}, ""}});
  Alert crit = alert({{"alertname", "A"}, {"severity", "critical"}});
  EXPECT_EQ(inh.inhibited_by({{"alertname", "B"}, {"severity", "warning"}}, {&crit}, kNow),
            std::vector<uint64_t>{crit.fp});
  // An empty value equals a missing label, as in Alertmanager.
  EXPECT_EQ(inh.inhibited_by({{"alertname", "B"}, {"severity", "warning"}, {"cluster", ""}},
                             {&crit}, kNow),
            std::vector<uint64_t>{crit.fp});
}

TEST(AlertsInhibit, ResolvedSourcesDoNotInhibit) {
  Inhibitor inh({InhibitRule{ms("severity=\"critical\""), ms("severity=\"warning\""), {}, ""}});
  Alert resolved = alert({{"severity", "critical"}}, kNow);  // endsAt == now: resolved
  Alert later = alert({{"severity", "critical"}, {"x", "1"}}, kNow + 1);
  LabelSet target = {{"severity", "warning"}};
  EXPECT_TRUE(inh.inhibited_by(target, {&resolved}, kNow).empty());
  EXPECT_EQ(inh.inhibited_by(target, {&resolved, &later}, kNow), std::vector<uint64_t>{later.fp});
}

TEST(AlertsInhibit, AlertMatchingBothSidesDoesNotInhibitItself) {
  // Alertmanager's two-sided case: source {s1="1"}, target {t1="1"}, equal [e].
  Inhibitor inh({InhibitRule{ms("s1=\"1\""), ms("t1=\"1\""), {"e"}, ""}});
  Alert both = alert({{"s1", "1"}, {"t1", "1"}, {"e", "1"}});
  Alert both_peer = alert({{"s1", "1"}, {"t1", "1"}, {"e", "1"}, {"peer", "yes"}});
  Alert source_only = alert({{"s1", "1"}, {"e", "1"}});

  // Only itself (and a peer matching both sides) firing: not inhibited.
  EXPECT_TRUE(inh.inhibited_by(both.labels, {&both, &both_peer}, kNow).empty());
  // A source-only alert does inhibit it.
  EXPECT_EQ(inh.inhibited_by(both.labels, {&both, &both_peer, &source_only}, kNow),
            std::vector<uint64_t>{source_only.fp});
  // A pure target is inhibited by alerts matching both sides.
  LabelSet target_only = {{"t1", "1"}, {"e", "1"}};
  EXPECT_EQ(inh.inhibited_by(target_only, {&both}, kNow), std::vector<uint64_t>{both.fp});
}

TEST(AlertsInhibit, ReportsEveryInhibitorOnceAcrossRules) {
  Inhibitor inh(
      {InhibitRule{ms("severity=\"critical\""), ms("severity=\"warning\""), {}, ""},
       InhibitRule{
           ms("alertname=\"ClusterDown\""), ms("alertname=~\"Instance.*\""), {"cluster"}, "cl"}});
  Alert crit = alert({{"alertname", "ClusterDown"}, {"severity", "critical"}, {"cluster", "c1"}});
  Alert crit2 = alert({{"alertname", "Other"}, {"severity", "critical"}});
  crit2.fp = 0;  // falls back to fingerprint(labels)
  LabelSet target = {{"alertname", "InstanceDown"}, {"severity", "warning"}, {"cluster", "c1"}};
  auto by = inh.inhibited_by(target, {&crit, &crit2}, kNow);
  EXPECT_EQ(by, (std::vector<uint64_t>{crit.fp, fingerprint(crit2.labels)}));
  EXPECT_TRUE(inh.inhibited_by(target, {}, kNow).empty());
  EXPECT_EQ(inh.rules().size(), 2u);
}

}  // namespace
}  // namespace sira::alerts
