// Recommendation texts for the ten seed types, filled in from a detection's evidence.
#include "guard/recommend.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace sira::guard {

namespace bj = boost::json;

namespace {

// Evidence readers: absent or of another type -> nullopt, so a text degrades to its generic
// form rather than printing a wrong number.
std::optional<int64_t> ev_int(const bj::object& o, std::string_view key) {
  const bj::value* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double() && std::isfinite(v->get_double())) {
    return static_cast<int64_t>(std::llround(v->get_double()));
  }
  return std::nullopt;
}

std::optional<double> ev_num(const bj::object& o, std::string_view key) {
  const bj::value* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_double()) return v->get_double();
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  return std::nullopt;
}

std::optional<std::string> ev_str(const bj::object& o, std::string_view key) {
  const bj::value* v = o.if_contains(key);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string(v->get_string());
}

std::string fmt_num(double v) {
  char buf[48];
  if (v == std::trunc(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f", v);
  }
  return buf;
}

int64_t auth_failures(const bj::object& evidence) {
  const bj::value* dist = evidence.if_contains("statusDistribution");
  if (!dist || !dist->is_object()) return 0;
  int64_t n = 0;
  for (const char* code : {"401", "403"}) {
    if (auto c = ev_int(dist->get_object(), code)) n += *c;
  }
  return n;
}

std::string priority_for(std::string_view base, Severity s) {
  // A critical detection lifts every recommendation it carries to high.
  return s == Severity::kCritical ? "high" : std::string(base);
}

const std::vector<std::string> kRotateSteps = {
    "Create new key in Dev Console",
    "Update key in your application",
    "Revoke old key after migration",
};

std::optional<Recommendation> build(std::string_view type, const Detection& d) {
  const bj::object& ev = d.evidence;
  const auto total = ev_int(ev, "totalRequests");
  Recommendation r;
  r.type = std::string(type);
  r.triggered_by = "suspicious_event";
  r.detection_type = std::string(type_name(d.type));

  if (type == "rotate_key") {
    r.priority = "high";
    r.title = "Rotate API Key";
    const auto errors = ev_int(ev, "errors");
    if (errors && total) {
      r.description = std::to_string(*errors) + " failed requests out of " +
                      std::to_string(*total) +
                      " suggest someone is guessing or replaying this key - rotate it";
    } else {
      r.description = "Suspicious activity on this key (" + d.summary + ") - rotate it";
    }
    r.action_steps = kRotateSteps;
  } else if (type == "review_auth_flow") {
    r.priority = "medium";
    r.title = "Review Authentication Flow";
    const auto rate = ev_str(ev, "errorRate");
    const auto paths = ev_int(ev, "distinct404Paths");
    if (d.type == DetectionType::kBruteForce && rate) {
      const int64_t auth = auth_failures(ev);
      r.description = *rate + " of requests failed" +
                      (auth > 0 ? " (" + std::to_string(auth) + " were 401/403)" : "") +
                      " - check how your clients obtain, store and refresh credentials";
    } else if (paths) {
      r.description = std::to_string(*paths) +
                      " distinct unknown paths were probed - make sure every endpoint checks "
                      "authorization and errors reveal nothing";
    } else {
      r.description =
          "Unusual failures on this key (" + d.summary + ") - review how clients authenticate";
    }
    r.action_steps = {"List the endpoints and the credentials each client uses",
                      "Check token refresh and retry logic for loops on 401/403",
                      "Return uniform errors that do not reveal which resources exist"};
  } else if (type == "enable_mfa") {
    r.priority = "high";
    r.title = "Enable Multi-Factor Authentication";
    const int64_t auth = auth_failures(ev);
    r.description = (auth > 0 ? std::to_string(auth) + " authentication failures"
                              : std::string("Repeated authentication failures")) +
                    " suggest credential guessing - require MFA on accounts that can manage "
                    "this key";
    r.action_steps = {"Enable MFA for every member of the organisation",
                      "Require MFA to create, view or rotate API keys",
                      "Review recent sign-ins for unknown devices"};
  } else if (type == "add_captcha") {
    r.priority = "medium";
    r.title = "Add CAPTCHA";
    const auto p95 = ev_num(ev, "p95Latency");
    if (total && p95) {
      r.description = std::to_string(*total) + " requests with a uniform p95 of " + fmt_num(*p95) +
                      " ms look automated - add a CAPTCHA on user-facing flows";
    } else {
      r.description = "Automated traffic detected - add a CAPTCHA on user-facing flows";
    }
    r.action_steps = {"Identify the user-facing endpoints that call the API",
                      "Add a CAPTCHA challenge before sensitive actions",
                      "Monitor the challenge success rate"};
  } else if (type == "implement_bot_detection") {
    r.priority = "medium";
    r.title = "Implement Bot Detection";
    const auto variance = ev_num(ev, "latencyVariance");
    const auto paths = ev_int(ev, "distinct404Paths");
    if (total && variance) {
      r.description = "Machine-like traffic: " + std::to_string(*total) + " requests with only " +
                      fmt_num(*variance) + " ms between p95 and p99 - filter automated clients";
    } else if (paths) {
      r.description = std::to_string(*paths) +
                      " distinct missing paths requested in 10 minutes look like an automated "
                      "scanner - filter automated clients";
    } else {
      r.description = "Automated traffic detected (" + d.summary + ") - filter automated clients";
    }
    r.action_steps = {"Check user agents and request timing of the top clients",
                      "Add rate limits per client and per IP",
                      "Block or challenge clients that match known bot signatures"};
  } else if (type == "split_keys") {
    r.priority = "medium";
    r.title = "Use Separate Keys";
    const auto ips = ev_int(ev, "uniqueIps");
    r.description = (ips ? std::to_string(*ips) + " unique IPs detected"
                         : std::string("Many unique IPs detected")) +
                    " - consider separate keys per environment";
    r.action_steps = {"Create test key for staging", "Create live key for production",
                      "Configure IP whitelisting"};
  } else if (type == "whitelist_ips") {
    r.priority = "medium";
    r.title = "Restrict Key to Known IPs";
    const auto ips = ev_int(ev, "uniqueIps");
    r.description = (ips ? std::to_string(*ips) + " IPs used this key in the last hour"
                         : std::string("This key is used from many IPs")) +
                    " - allow only the addresses of your servers";
    r.action_steps = {"List the egress IPs of your servers",
                      "Add them to the key's IP allow-list in Dev Console",
                      "Watch for rejected requests after enabling the allow-list"};
  } else if (type == "investigate_sharing") {
    r.priority = "high";
    r.title = "Investigate Key Sharing";
    const auto ips = ev_int(ev, "uniqueIps");
    const auto diversity = ev_num(ev, "ipDiversity");
    if (ips && total && diversity) {
      r.description = std::to_string(*ips) + " IPs over " + std::to_string(*total) + " requests (" +
                      fmt_num(*diversity) + " per 100) suggest the key is shared or leaked";
    } else {
      r.description = "The key is used from an unusual number of IPs - it may be shared or leaked";
    }
    r.action_steps = {"Review the top IPs and confirm they are yours",
                      "Search code repositories and client apps for the key",
                      "Rotate the key if any IP is unknown"};
  } else if (type == "increase_quota") {
    r.priority = "medium";
    r.title = "Increase Quota";
    const auto expected = ev_num(ev, "expectedMax");
    if (total && expected) {
      r.description = std::to_string(*total) + " requests in 5 minutes against an expected " +
                      fmt_num(*expected) + " - if this growth is legitimate, raise the quota";
    } else {
      r.description = "Traffic is above the key's usual volume - if legitimate, raise the quota";
    }
    r.action_steps = {"Confirm the extra traffic comes from your application",
                      "Request a higher quota in Dev Console",
                      "Spread batch jobs over time to smooth peaks"};
  } else if (type == "review_ddos") {
    r.priority = "high";
    r.title = "Review DDoS Protection";
    const auto ratio = ev_num(ev, "spikeRatio");
    r.description = (ratio ? "Traffic reached " + fmt_num(*ratio) + "x its usual volume"
                           : std::string("Sudden traffic spike")) +
                    " - check whether it is an attack";
    r.action_steps = {"Compare the spike with your own deployments and campaigns",
                      "Enable rate limiting and upstream DDoS filtering",
                      "Contact support if the traffic is not yours"};
  } else {
    return std::nullopt;
  }
  r.priority = priority_for(r.priority, d.severity);
  return r;
}

}  // namespace

const std::vector<std::string_view>& recommendation_types() {
  static const std::vector<std::string_view> kTypes = {
      "rotate_key",          "split_keys",  "whitelist_ips",
      "enable_mfa",          "add_captcha", "implement_bot_detection",
      "increase_quota",      "review_ddos", "review_auth_flow",
      "investigate_sharing",
  };
  return kTypes;
}

bool is_recommendation_type(std::string_view type) {
  const auto& types = recommendation_types();
  return std::find(types.begin(), types.end(), type) != types.end();
}

std::vector<Recommendation> recommendations_for(const Detection& d) {
  std::vector<Recommendation> out;
  out.reserve(d.recommendations.size());
  for (const std::string& type : d.recommendations) {
    if (auto r = build(type, d)) out.push_back(std::move(*r));
  }
  return out;
}

std::optional<Recommendation> rotate_key_recommendation(int64_t key_age_days,
                                                        int64_t max_age_days) {
  if (max_age_days <= 0 || key_age_days <= max_age_days) return std::nullopt;
  Recommendation r;
  r.type = "rotate_key";
  r.priority = key_age_days / 2 >= max_age_days ? "high" : "medium";
  r.title = "Rotate API Key";
  r.description = "Your key was last rotated " + std::to_string(key_age_days) + " days ago";
  r.action_steps = kRotateSteps;
  r.triggered_by = "age_check";
  return r;
}

}  // namespace sira::guard
