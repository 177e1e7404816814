// Inhibition rules as Alertmanager 0.25 applies them (inhibit/inhibit.go): a firing source
// alert mutes target alerts whose `equal` labels have the same values.
//
// An Inhibitor is immutable after construction; inhibited_by() is thread-safe. It keeps no
// alert cache: the caller passes the alerts it considers firing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "alerts/matchers.h"
#include "alerts/model.h"

namespace sira::alerts {

struct InhibitRule {
  std::vector<Matcher> source_matchers;
  std::vector<Matcher> target_matchers;
  std::vector<std::string> equal;
  std::string name;  // optional, informational (newer Alertmanager `name`)
};

class Inhibitor {
 public:
  explicit Inhibitor(std::vector<InhibitRule> rules);

  // Fingerprints of the alerts that inhibit `target` (empty = not inhibited), in rule order
  // then in the order of `firing_alerts`, without duplicates. For each rule whose target
  // matchers match `target`: every alert of `firing_alerts` that is not resolved at `now_ms`,
  // matches the source matchers and has the same value for every `equal` label (a label
  // missing on both sides counts as equal, "" == missing) inhibits it — except that when
  // `target` itself matches the source side too, alerts matching both sides are disregarded,
  // so an alert never inhibits itself or its peers. The fingerprint reported is Alert::fp, or
  // fingerprint(labels) when fp is 0.
  std::vector<uint64_t> inhibited_by(const LabelSet& target,
                                     const std::vector<const Alert*>& firing_alerts,
                                     int64_t now_ms) const;

  const std::vector<InhibitRule>& rules() const { return rules_; }

 private:
  std::vector<InhibitRule> rules_;
};

}  // namespace sira::alerts
