// Inhibition: Alertmanager's Inhibitor.Mutes over a caller-supplied set of firing alerts.
#include "alerts/inhibit.h"

#include <algorithm>
#include <string_view>

namespace sira::alerts {

namespace {

std::string_view label_or_empty(const LabelSet& labels, const std::string& name) {
  auto it = labels.find(name);
  return it == labels.end() ? std::string_view() : std::string_view(it->second);
}

}  // namespace

Inhibitor::Inhibitor(std::vector<InhibitRule> rules) : rules_(std::move(rules)) {}

std::vector<uint64_t> Inhibitor::inhibited_by(const LabelSet& target,
                                              const std::vector<const Alert*>& firing_alerts,
                                              int64_t now_ms) const {
  std::vector<uint64_t> out;
  for (const auto& rule : rules_) {
    if (!matches_all(rule.target_matchers, target)) continue;
    // If the target also matches the source side, alerts matching both sides are excluded.
    const bool exclude_two_sided = matches_all(rule.source_matchers, target);
    for (const Alert* a : firing_alerts) {
      if (a == nullptr || a->resolved_at(now_ms)) continue;
      if (!matches_all(rule.source_matchers, a->labels)) continue;
      bool equal = true;
      for (const auto& name : rule.equal) {
        if (label_or_empty(a->labels, name) != label_or_empty(target, name)) {
          equal = false;
          break;
        }
      }
      if (!equal) continue;
      if (exclude_two_sided && matches_all(rule.target_matchers, a->labels)) continue;
      uint64_t fp = a->fp != 0 ? a->fp : fingerprint(a->labels);
      if (std::find(out.begin(), out.end(), fp) == out.end()) out.push_back(fp);
    }
  }
  return out;
}

}  // namespace sira::alerts
