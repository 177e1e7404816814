// SuspiciousEvent -> Alert.
#include "alerts/guard_alerts.h"

#include <cctype>

#include "core/log.h"

namespace sira::alerts {

std::string guard_alertname(const std::string& detection_type) {
  std::string out = "SiraGuard";
  bool upper = true;
  for (char c : detection_type) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

Alert guard_alert(const guard::SuspiciousEvent& e, int64_t active_ms,
                  const std::string& external_url) {
  Alert a;
  const std::string name = guard_alertname(e.type);
  a.labels = {{"alertname", name},
              {"severity", e.severity},
              {"source", "sira-guard"},
              {"detection", e.type},
              {"key_id", e.key_id}};
  char score[32];
  std::snprintf(score, sizeof score, "%.3f", e.anomaly_score);
  a.annotations = {{"summary", e.summary},
                   {"description", "SIRA Guard " + e.type + " on key " + e.key_id +
                                       ", anomaly score " + score + ", action " + e.action_taken},
                   {"runbook_url", "docs/runbooks/" + name + ".md"},
                   {"event_id", e.id},
                   {"action_taken", e.action_taken},
                   {"anomaly_score", score}};
  a.starts_at_ms = e.detected_at;
  a.ends_at_ms = e.detected_at + active_ms;
  a.generator_url = external_url + "/api/v1/observability/keys/" + e.key_id + "/suspicious";
  return a;
}

void GuardAlertSink::on_detection(const guard::SuspiciousEvent& event) {
  auto r = alerts_.put_alerts(event.tenant_id, {guard_alert(event, active_ms_, external_url_)});
  if (!r || !r->errors.empty())
    log_error("guard detection could not become an alert",
              {{"event", event.id},
               {"error", !r ? r.error().detail : r->errors.front()}});
}

}  // namespace sira::alerts
