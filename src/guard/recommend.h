// SIRA recommendations (seed 002): the advice shown to a key's owner, built from a detection's
// recommendation types and evidence, or from the key's age. Pure functions on values;
// thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "guard/detect.h"

namespace sira::guard {

struct Recommendation {
  std::string type;      // one of recommendation_types()
  std::string priority;  // "high" | "medium" | "low"
  std::string title;
  std::string description;  // cites the evidence: "87 unique IPs detected - consider ..."
  std::vector<std::string> action_steps;
  std::string triggered_by;    // "suspicious_event" | "age_check" | "usage_check"
  std::string detection_type;  // type_name() of the detection, empty for age/usage checks
};

// The ten seed types: rotate_key, split_keys, whitelist_ips, enable_mfa, add_captcha,
// implement_bot_detection, increase_quota, review_ddos, review_auth_flow, investigate_sharing.
const std::vector<std::string_view>& recommendation_types();
bool is_recommendation_type(std::string_view type);

// One recommendation per entry of d.recommendations (unknown types are skipped), in order,
// triggered_by "suspicious_event".
std::vector<Recommendation> recommendations_for(const Detection& d);

// "Rotate API Key" when the key is older than max_age_days (strictly); nullopt otherwise or
// when max_age_days <= 0 (check disabled). Priority high from twice the limit, else medium.
std::optional<Recommendation> rotate_key_recommendation(int64_t key_age_days, int64_t max_age_days);

}  // namespace sira::guard
