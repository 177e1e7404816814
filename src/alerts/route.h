// The Alertmanager routing tree (dispatch/route.go): matching with `continue`, inherited
// options, group_by / `...`, and the route Key/ID and group key strings Alertmanager prints.
//
// A Route tree is a plain value. resolve_route_tree() must run once on a freshly built tree
// (parse_alerting_config does it); after that the tree is read-only and every function here
// is thread-safe on it. Copying a resolved tree keeps it resolved.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "alerts/matchers.h"
#include "alerts/model.h"

namespace sira::alerts {

// Alertmanager's DefaultRouteOpts, applied to the root route.
inline constexpr int64_t kDefaultGroupWaitMs = 30 * 1000;
inline constexpr int64_t kDefaultGroupIntervalMs = 5 * 60 * 1000;
inline constexpr int64_t kDefaultRepeatIntervalMs = 4 * 60 * 60 * 1000;

struct Route {
  // Before resolve_route_tree: "" / -1 / empty mean "inherit from the parent" (the root gets
  // Alertmanager's defaults). After it every node holds its effective values.
  std::string receiver;
  std::vector<Matcher> matchers;  // sorted by resolve_route_tree, as Alertmanager's NewRoute
  std::vector<std::string> group_by;
  bool group_by_all = false;  // group_by: ['...']
  int64_t group_wait_ms = -1;
  int64_t group_interval_ms = -1;
  int64_t repeat_interval_ms = -1;
  bool continue_matching = false;
  // Not inherited, as in Alertmanager.
  std::vector<std::string> mute_time_intervals;
  std::vector<std::string> active_time_intervals;
  std::vector<Route> routes;

  // Alertmanager's Route.Key(): the parent's key, "/", then this node's sorted matchers, e.g.
  // "{}" for the root and "{}/{severity=\"critical\"}" for a child. Not unique in general.
  std::string key() const;
  // Alertmanager's Route.ID(): key() plus "/" and the index among its siblings (the root has
  // no index), e.g. "{}/{severity=\"critical\"}/0".
  std::string id() const;

  // Set by resolve_route_tree (the key of the parent and this node's sibling index, -1 for the
  // root); key() and id() read them.
  std::string parent_key;
  int index = -1;
  std::string cached_key;
};

// Applies inheritance and defaults the way Alertmanager's NewRoute does (receiver, group_by /
// group_by_all, group_wait, group_interval, repeat_interval come from the parent when unset;
// a non-empty group_by replaces the parent's and clears `...`), sorts each node's matchers and
// computes keys. Running it again on a resolved tree changes nothing; it does not re-inherit
// values a node already got from an earlier run.
void resolve_route_tree(Route& root);

// Alertmanager's Route.Match: depth-first, left to right; a child that matches ends the scan
// of its siblings unless it has `continue`; a node none of whose children match is itself the
// match. Empty when the root's own matchers do not match.
std::vector<const Route*> match_routes(const Route& root, const LabelSet& labels);

// The labels of `labels` named in route.group_by, or all of them with `...`.
LabelSet group_labels(const Route& route, const LabelSet& labels);

// Alertmanager's aggregation group key: route.key() + ":" + label_set_string(group_labels),
// e.g. `{}:{alertname="X"}`.
std::string group_key(const Route& route, const LabelSet& group_labels);

// Visits every node depth-first, parent before children (Alertmanager's Route.Walk).
template <class F>
void walk_routes(const Route& root, F&& visit) {
  visit(root);
  for (const auto& child : root.routes) walk_routes(child, visit);
}

}  // namespace sira::alerts
