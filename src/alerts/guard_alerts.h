// SIRA Guard's detections as alerts: each committed suspicious event becomes an alert through the
// same intake as Prometheus's (grouping, silences, inhibition, routing, notifications), with
// alertname, severity and runbook_url, so operators route and silence them like any other alert.
#pragma once

#include "alerts/service.h"
#include "guard/engine.h"

namespace sira::alerts {

// "brute_force" -> "SiraGuardBruteForce".
std::string guard_alertname(const std::string& detection_type);

// The alert for one suspicious event. It resolves by itself `active_ms` after the detection
// unless the detector fires again (a new event renews it).
Alert guard_alert(const guard::SuspiciousEvent& event, int64_t active_ms,
                  const std::string& external_url);

class GuardAlertSink final : public guard::DetectionSink {
 public:
  GuardAlertSink(AlertService& alerts, int64_t active_ms, std::string external_url)
      : alerts_(alerts), active_ms_(active_ms), external_url_(std::move(external_url)) {}
  void on_detection(const guard::SuspiciousEvent& event) override;

 private:
  AlertService& alerts_;
  int64_t active_ms_;
  std::string external_url_;
};

}  // namespace sira::alerts
