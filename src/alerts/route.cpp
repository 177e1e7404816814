// Routing tree: inheritance, Alertmanager's depth-first match with `continue`, keys.
#include "alerts/route.h"

#include <algorithm>

namespace sira::alerts {

namespace {

void resolve(Route& node, const Route* parent, int index) {
  if (parent == nullptr) {
    if (node.group_wait_ms < 0) node.group_wait_ms = kDefaultGroupWaitMs;
    if (node.group_interval_ms < 0) node.group_interval_ms = kDefaultGroupIntervalMs;
    if (node.repeat_interval_ms < 0) node.repeat_interval_ms = kDefaultRepeatIntervalMs;
    if (!node.group_by.empty()) node.group_by_all = false;
    node.parent_key.clear();
  } else {
    if (node.receiver.empty()) node.receiver = parent->receiver;
    if (!node.group_by.empty()) {
      node.group_by_all = false;
    } else if (!node.group_by_all) {
      node.group_by = parent->group_by;
      node.group_by_all = parent->group_by_all;
    }
    if (node.group_wait_ms < 0) node.group_wait_ms = parent->group_wait_ms;
    if (node.group_interval_ms < 0) node.group_interval_ms = parent->group_interval_ms;
    if (node.repeat_interval_ms < 0) node.repeat_interval_ms = parent->repeat_interval_ms;
    node.parent_key = parent->cached_key;
  }
  node.index = index;
  sort_matchers(&node.matchers);
  node.cached_key.clear();
  node.cached_key = node.key();
  for (size_t i = 0; i < node.routes.size(); ++i)
    resolve(node.routes[i], &node, static_cast<int>(i));
}

// Appends the matches of `node` to `out`; returns false when node's own matchers fail.
bool match_into(const Route& node, const LabelSet& labels, std::vector<const Route*>& out) {
  if (!matches_all(node.matchers, labels)) return false;
  size_t before = out.size();
  for (const auto& child : node.routes) {
    bool matched = match_into(child, labels, out);
    if (matched && !child.continue_matching) break;
  }
  if (out.size() == before) out.push_back(&node);
  return true;
}

}  // namespace

std::string Route::key() const {
  if (!cached_key.empty()) return cached_key;
  std::string k;
  if (index >= 0) {
    k = parent_key;
    k += '/';
  }
  if (std::is_sorted(matchers.begin(), matchers.end(), matcher_less)) {
    k += matchers_string(matchers);
  } else {
    std::vector<Matcher> sorted = matchers;
    sort_matchers(&sorted);
    k += matchers_string(sorted);
  }
  return k;
}

std::string Route::id() const {
  std::string k = key();
  if (index >= 0) {
    k += '/';
    k += std::to_string(index);
  }
  return k;
}

void resolve_route_tree(Route& root) {
  resolve(root, nullptr, -1);
}

std::vector<const Route*> match_routes(const Route& root, const LabelSet& labels) {
  std::vector<const Route*> out;
  match_into(root, labels, out);
  return out;
}

LabelSet group_labels(const Route& route, const LabelSet& labels) {
  if (route.group_by_all) return labels;
  LabelSet out;
  for (const auto& name : route.group_by) {
    auto it = labels.find(name);
    if (it != labels.end()) out.emplace(it->first, it->second);
  }
  return out;
}

std::string group_key(const Route& route, const LabelSet& group_labels) {
  return route.key() + ":" + label_set_string(group_labels);
}

}  // namespace sira::alerts
