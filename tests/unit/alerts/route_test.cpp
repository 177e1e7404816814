// Routing: the trees and expectations of Alertmanager's dispatch/route_test.go (TestRouteMatch,
// TestRouteMatchers, TestRouteWalk, TestInheritParentGroupByAll), plus keys, IDs and group keys.
#include "alerts/route.h"

#include <gtest/gtest.h>

#include "alerts/config.h"

namespace sira::alerts {
namespace {

constexpr int64_t kSec = 1000;
constexpr int64_t kMin = 60 * kSec;

// Alertmanager's TestRouteMatch tree (legacy match / match_re), wrapped in a config with the
// receivers it names.
const char* kLegacyTree = R"yaml(
route:
  receiver: 'notify-def'
  routes:
  - match:
      owner: 'team-A'
    receiver: 'notify-A'
    routes:
    - match:
        env: 'testing'
      receiver: 'notify-testing'
      group_by: [...]
    - match:
        env: "production"
      receiver: 'notify-productionA'
      group_wait: 1m
      continue: true
    - match_re:
        env: "produ.*"
        job: ".*"
      receiver: 'notify-productionB'
      group_wait: 30s
      group_interval: 5m
      repeat_interval: 1h
      group_by: ['job']
  - match_re:
      owner: 'team-(B|C)'
    group_by: ['foo', 'bar']
    group_wait: 2m
    receiver: 'notify-BC'
  - match:
      group_by: 'role'
    group_by: ['role']
    routes:
    - match:
        env: 'testing'
      receiver: 'notify-testing'
      routes:
      - match:
          wait: 'long'
        group_wait: 2m
receivers:
- name: notify-def
- name: notify-A
- name: notify-testing
- name: notify-productionA
- name: notify-productionB
- name: notify-BC
)yaml";

// Alertmanager's TestRouteMatchers tree (new matcher syntax).
const char* kMatchersTree = R"yaml(
route:
  receiver: 'notify-def'
  routes:
  - matchers: ['{owner="team-A"}', '{level!="critical"}']
    receiver: 'notify-A'
    routes:
    - matchers: ['{env="testing"}', '{baz!~".*quux"}']
      receiver: 'notify-testing'
      group_by: [...]
    - matchers: ['{env="production"}']
      receiver: 'notify-productionA'
      group_wait: 1m
      continue: true
    - matchers: [ env=~"produ.*", job=~".*"]
      receiver: 'notify-productionB'
      group_wait: 30s
      group_interval: 5m
      repeat_interval: 1h
      group_by: ['job']
  - matchers: [owner=~"team-(B|C)"]
    group_by: ['foo', 'bar']
    group_wait: 2m
    receiver: 'notify-BC'
  - matchers: [group_by="role"]
    group_by: ['role']
    routes:
    - matchers: ['{env="testing"}']
      receiver: 'notify-testing'
      routes:
      - matchers: [wait="long"]
        group_wait: 2m
receivers:
- name: notify-def
- name: notify-A
- name: notify-testing
- name: notify-productionA
- name: notify-productionB
- name: notify-BC
)yaml";

AlertingConfig load(const char* yaml) {
  auto cfg = parse_alerting_config(yaml, nullptr);
  EXPECT_TRUE(cfg.has_value()) << (cfg ? "" : cfg.error().detail);
  return cfg ? std::move(*cfg) : AlertingConfig{};
}

struct Expected {
  std::string receiver;
  std::vector<std::string> group_by;  // sorted
  bool group_by_all;
  int64_t wait, interval, repeat;
  std::string key;
};

void check_match(const Route& tree, const LabelSet& labels, const std::vector<Expected>& want) {
  auto got = match_routes(tree, labels);
  ASSERT_EQ(got.size(), want.size()) << label_set_string(labels);
  for (size_t i = 0; i < want.size(); ++i) {
    const Route& r = *got[i];
    std::vector<std::string> gb = r.group_by;
    std::sort(gb.begin(), gb.end());
    EXPECT_EQ(r.receiver, want[i].receiver) << label_set_string(labels);
    EXPECT_EQ(gb, want[i].group_by) << label_set_string(labels);
    EXPECT_EQ(r.group_by_all, want[i].group_by_all) << label_set_string(labels);
    EXPECT_EQ(r.group_wait_ms, want[i].wait) << label_set_string(labels);
    EXPECT_EQ(r.group_interval_ms, want[i].interval) << label_set_string(labels);
    EXPECT_EQ(r.repeat_interval_ms, want[i].repeat) << label_set_string(labels);
    EXPECT_EQ(r.key(), want[i].key) << label_set_string(labels);
  }
}

constexpr int64_t kW = 30 * kSec, kI = 5 * kMin, kR = 4 * 60 * kMin;  // DefaultRouteOpts

TEST(AlertsRoute, AlertmanagerRouteMatchLegacyTree) {
  AlertingConfig cfg = load(kLegacyTree);
  const Route& tree = cfg.route;
  check_match(tree, {{"owner", "team-A"}},
              {{"notify-A", {}, false, kW, kI, kR, "{}/{owner=\"team-A\"}"}});
  check_match(tree, {{"owner", "team-A"}, {"env", "unset"}},
              {{"notify-A", {}, false, kW, kI, kR, "{}/{owner=\"team-A\"}"}});
  // match_re values are keyed with the anchored regex text, as Alertmanager prints them.
  check_match(
      tree, {{"owner", "team-C"}},
      {{"notify-BC", {"bar", "foo"}, false, 2 * kMin, kI, kR, "{}/{owner=~\"^(?:team-(B|C))$\"}"}});
  check_match(
      tree, {{"owner", "team-A"}, {"env", "testing"}},
      {{"notify-testing", {}, true, kW, kI, kR, "{}/{owner=\"team-A\"}/{env=\"testing\"}"}});
  // continue: true on productionA lets the sibling productionB match as well.
  check_match(tree, {{"owner", "team-A"}, {"env", "production"}},
              {{"notify-productionA",
                {},
                false,
                1 * kMin,
                kI,
                kR,
                "{}/{owner=\"team-A\"}/{env=\"production\"}"},
               {"notify-productionB",
                {"job"},
                false,
                30 * kSec,
                5 * kMin,
                60 * kMin,
                "{}/{owner=\"team-A\"}/{env=~\"^(?:produ.*)$\",job=~\"^(?:.*)$\"}"}});
  check_match(tree, {{"group_by", "role"}},
              {{"notify-def", {"role"}, false, kW, kI, kR, "{}/{group_by=\"role\"}"}});
  check_match(tree, {{"env", "testing"}, {"group_by", "role"}},
              {{"notify-testing",
                {"role"},
                false,
                kW,
                kI,
                kR,
                "{}/{group_by=\"role\"}/{env=\"testing\"}"}});
  check_match(tree, {{"env", "testing"}, {"group_by", "role"}, {"wait", "long"}},
              {{"notify-testing",
                {"role"},
                false,
                2 * kMin,
                kI,
                kR,
                "{}/{group_by=\"role\"}/{env=\"testing\"}/{wait=\"long\"}"}});
  // No child matches: the root itself.
  check_match(tree, {{"alertname", "X"}}, {{"notify-def", {}, false, kW, kI, kR, "{}"}});
}

TEST(AlertsRoute, AlertmanagerRouteMatchersTree) {
  AlertingConfig cfg = load(kMatchersTree);
  const Route& tree = cfg.route;
  const std::string a = "{}/{level!=\"critical\",owner=\"team-A\"}";
  check_match(tree, {{"owner", "team-A"}}, {{"notify-A", {}, false, kW, kI, kR, a}});
  check_match(
      tree, {{"owner", "team-C"}},
      {{"notify-BC", {"bar", "foo"}, false, 2 * kMin, kI, kR, "{}/{owner=~\"team-(B|C)\"}"}});
  check_match(tree, {{"owner", "team-A"}, {"env", "testing"}},
              {{"notify-testing", {}, true, kW, kI, kR, a + "/{baz!~\".*quux\",env=\"testing\"}"}});
  check_match(tree, {{"owner", "team-A"}, {"env", "production"}},
              {{"notify-productionA", {}, false, 1 * kMin, kI, kR, a + "/{env=\"production\"}"},
               {"notify-productionB",
                {"job"},
                false,
                30 * kSec,
                5 * kMin,
                60 * kMin,
                a + "/{env=~\"produ.*\",job=~\".*\"}"}});
  // level=critical fails the team-A route's `level!="critical"`; nothing else matches.
  check_match(tree, {{"owner", "team-A"}, {"level", "critical"}},
              {{"notify-def", {}, false, kW, kI, kR, "{}"}});
}

TEST(AlertsRoute, WalkOrderAndInheritedReceivers) {
  AlertingConfig cfg = load(kLegacyTree);
  std::vector<std::string> got;
  walk_routes(cfg.route, [&](const Route& r) { got.push_back(r.receiver); });
  EXPECT_EQ(got, (std::vector<std::string>{"notify-def", "notify-A", "notify-testing",
                                           "notify-productionA", "notify-productionB", "notify-BC",
                                           "notify-def", "notify-testing", "notify-testing"}));
}

TEST(AlertsRoute, InheritParentGroupByAll) {
  AlertingConfig cfg = load(R"yaml(
route:
  receiver: r
  routes:
  - match:
      env: 'parent'
    group_by: ['...']
    routes:
    - match:
        env: 'child1'
    - match:
        env: 'child2'
      group_by: ['foo']
receivers: [{name: r}]
)yaml");
  const Route& parent = cfg.route.routes.at(0);
  EXPECT_TRUE(parent.group_by_all);
  EXPECT_TRUE(parent.routes.at(0).group_by_all);
  EXPECT_FALSE(parent.routes.at(1).group_by_all);
  EXPECT_EQ(parent.routes.at(1).group_by, std::vector<std::string>{"foo"});
}

TEST(AlertsRoute, IdsIncludeSiblingIndex) {
  AlertingConfig cfg = load(kLegacyTree);
  const Route& root = cfg.route;
  EXPECT_EQ(root.key(), "{}");
  EXPECT_EQ(root.id(), "{}");
  EXPECT_EQ(root.routes[0].id(), "{}/{owner=\"team-A\"}/0");
  EXPECT_EQ(root.routes[0].routes[1].id(), "{}/{owner=\"team-A\"}/{env=\"production\"}/1");
  EXPECT_EQ(root.routes[2].routes[0].routes[0].id(),
            "{}/{group_by=\"role\"}/{env=\"testing\"}/{wait=\"long\"}/0");
  // Keys are not unique, IDs are.
  Route r;
  r.receiver = "x";
  r.routes.resize(2);
  resolve_route_tree(r);
  EXPECT_EQ(r.routes[0].key(), r.routes[1].key());
  EXPECT_EQ(r.routes[0].id(), "{}/{}/0");
  EXPECT_EQ(r.routes[1].id(), "{}/{}/1");
}

TEST(AlertsRoute, GroupLabelsAndGroupKeys) {
  AlertingConfig cfg = load(kLegacyTree);
  LabelSet alert = {{"owner", "team-C"}, {"foo", "1"}, {"alertname", "X"}};
  auto matched = match_routes(cfg.route, alert);
  ASSERT_EQ(matched.size(), 1u);
  LabelSet gl = group_labels(*matched[0], alert);
  EXPECT_EQ(gl, (LabelSet{{"foo", "1"}}));  // "bar" is absent from the alert: not included
  EXPECT_EQ(group_key(*matched[0], gl), "{}/{owner=~\"^(?:team-(B|C))$\"}:{foo=\"1\"}");

  // group_by: [...] groups by every label.
  LabelSet testing = {{"owner", "team-A"}, {"env", "testing"}, {"x", "y"}};
  matched = match_routes(cfg.route, testing);
  ASSERT_EQ(matched.size(), 1u);
  EXPECT_EQ(group_labels(*matched[0], testing), testing);
  EXPECT_EQ(group_key(*matched[0], group_labels(*matched[0], testing)),
            "{}/{owner=\"team-A\"}/{env=\"testing\"}:{env=\"testing\", owner=\"team-A\", x=\"y\"}");

  // Root without group_by: a single group `{}:{}`.
  matched = match_routes(cfg.route, {{"alertname", "X"}});
  EXPECT_EQ(group_key(*matched[0], group_labels(*matched[0], {{"alertname", "X"}})), "{}:{}");

  // The issue's example: root grouped by alertname.
  Route root;
  root.receiver = "default";
  root.group_by = {"alertname"};
  resolve_route_tree(root);
  LabelSet x = {{"alertname", "X"}, {"instance", "a"}};
  EXPECT_EQ(group_key(root, group_labels(root, x)), "{}:{alertname=\"X\"}");
}

TEST(AlertsRoute, ProgrammaticTreeInheritsAndDefaults) {
  Route root;
  root.receiver = "default";
  root.group_by = {"alertname"};
  root.repeat_interval_ms = 2 * 60 * kMin;
  Route child;
  child.matchers = {parse_matcher("severity=\"critical\"").value(),
                    parse_matcher("alertname=\"A\"").value()};
  child.group_wait_ms = 0;  // explicit zero is kept
  Route grandchild;
  grandchild.receiver = "pager";
  grandchild.group_by = {"instance"};
  child.routes.push_back(grandchild);
  root.routes.push_back(child);
  resolve_route_tree(root);

  EXPECT_EQ(root.group_wait_ms, kDefaultGroupWaitMs);
  EXPECT_EQ(root.group_interval_ms, kDefaultGroupIntervalMs);
  EXPECT_EQ(root.repeat_interval_ms, 2 * 60 * kMin);
  const Route& c = root.routes[0];
  EXPECT_EQ(c.receiver, "default");
  EXPECT_EQ(c.group_by, std::vector<std::string>{"alertname"});
  EXPECT_EQ(c.group_wait_ms, 0);
  EXPECT_EQ(c.repeat_interval_ms, 2 * 60 * kMin);
  // Matchers were sorted, so the key is stable whatever the configured order.
  EXPECT_EQ(c.key(), "{}/{alertname=\"A\",severity=\"critical\"}");
  const Route& g = c.routes[0];
  EXPECT_EQ(g.receiver, "pager");
  EXPECT_EQ(g.group_by, std::vector<std::string>{"instance"});
  EXPECT_EQ(g.group_wait_ms, 0);
  EXPECT_EQ(g.key(), "{}/{alertname=\"A\",severity=\"critical\"}/{}");

  // Resolving again changes nothing; copies stay resolved.
  Route copy = root;
  resolve_route_tree(copy);
  EXPECT_EQ(copy.routes[0].routes[0].id(), g.id());

  // The continue flag lets a later sibling match too.
  Route r2;
  r2.receiver = "d";
  Route s1, s2, s3;
  s1.receiver = "one";
  s1.continue_matching = true;
  s2.receiver = "two";
  s3.receiver = "three";
  r2.routes = {s1, s2, s3};
  resolve_route_tree(r2);
  auto m = match_routes(r2, {{"a", "b"}});
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0]->receiver, "one");
  EXPECT_EQ(m[1]->receiver, "two");
}

TEST(AlertsRoute, RootMatchersFailingMeansNoMatch) {
  Route root;
  root.receiver = "d";
  root.matchers = {parse_matcher("a=\"b\"").value()};
  resolve_route_tree(root);
  EXPECT_TRUE(match_routes(root, {{"a", "c"}}).empty());
  EXPECT_EQ(match_routes(root, {{"a", "b"}}).size(), 1u);
}

}  // namespace
}  // namespace sira::alerts
