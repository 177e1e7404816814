// SIRA Guard routes: request-log ingestion, per-key observability (seed 002 shapes), decisions
// for gateways, the allowlist, bouncers and the CrowdSec Local API subset they use, debug packs.
#include "api/common.h"
#include "core/json.h"
#include "http/router.h"

namespace sira::api {

namespace {

bj::value parse_or_empty(const std::string& text) {
  auto v = json::parse(text);
  return v ? std::move(*v) : bj::value(bj::object());
}

bj::object decision_json(const guard::Decision& d) {
  bj::object o{{"id", d.id},
               {"seq", d.seq},
               {"scope", guard::scope_name(d.scope)},
               {"value", d.value},
               {"type", d.type},
               {"origin", d.origin},
               {"scenario", d.scenario},
               {"reason", d.reason},
               {"createdAt", format_rfc3339_ms(d.created_at)},
               {"expiresAt", time_or_null(d.expires_at)},
               {"deletedAt", time_or_null(d.deleted_at)}};
  if (d.type == "throttle") o["ratePerMinute"] = d.rate_per_minute;
  if (!d.event_id.empty()) o["eventId"] = d.event_id;
  return o;
}

// CrowdSec LAPI decision model (what bouncers unmarshal).
bj::object crowdsec_json(const guard::Decision& d, int64_t now) {
  int64_t secs = d.expires_at ? std::max<int64_t>(1, (*d.expires_at - now) / 1000) : 87600 * 3600;
  bj::object o{{"id", d.seq},
               {"origin", d.origin == "manual" ? "cscli" : "sira"},
               {"type", d.type == "ban" ? "ban" : "throttle"},
               {"scope", d.scope == guard::Scope::kRange ? "Range" : "Ip"},
               {"value", d.value},
               {"duration", std::to_string(secs) + "s"},
               {"scenario", d.scenario.empty() ? "sira/manual" : d.scenario},
               {"simulated", false}};
  if (d.expires_at) o["until"] = format_rfc3339_ms(*d.expires_at);
  return o;
}

bj::object event_json(const guard::SuspiciousEvent& e) {
  return {{"id", e.id},
          {"keyId", e.key_id},
          {"eventType", e.type},
          {"severity", e.severity},
          {"detectedAt", format_rfc3339_ms(e.event_time_ms)},
          {"recordedAt", format_rfc3339_ms(e.detected_at)},
          {"confidence", e.confidence},
          {"anomalyScore", e.anomaly_score},
          {"evidenceSummary", e.summary},
          {"evidence", parse_or_empty(e.evidence_json)},
          {"features", parse_or_empty(e.features_json)},
          {"thresholds", parse_or_empty(e.thresholds_json)},
          {"window", bj::object{{"start", format_rfc3339_ms(e.window_start_ms)},
                                {"end", format_rfc3339_ms(e.window_end_ms)}}},
          {"actionTaken", e.action_taken},
          {"decisionIds", json::string_array(e.decision_ids)},
          {"recommendations", json::string_array(e.recommendations)}};
}

bj::object rec_json(const guard::StoredRecommendation& r) {
  return {{"id", r.id},
          {"keyId", r.key_id},
          {"type", r.type},
          {"priority", r.priority},
          {"title", r.title},
          {"description", r.description},
          {"actionSteps", json::string_array(r.action_steps)},
          {"triggeredBy", r.triggered_by},
          {"eventId", r.event_id.empty() ? bj::value(nullptr) : bj::value(r.event_id)},
          {"status", r.status},
          {"createdAt", format_rfc3339_ms(r.created_at)},
          {"updatedAt", format_rfc3339_ms(r.updated_at)}};
}

Status key_param_ok(const std::string& key) {
  if (key.empty() || key.size() > 128)
    return fail(ErrorCode::kInvalidArgument, "keyId must be 1 to 128 characters", "keyId");
  return {};
}

http::Response no_content() {
  http::Response r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

Result<int64_t> time_field(const bj::object& body, std::string_view name) {
  auto v = SIRA_TRY(json::optional_string(body, name, 64));
  int64_t ms = 0;
  if (!v || !parse_rfc3339(*v, &ms))
    return fail(ErrorCode::kInvalidArgument, std::string(name) + " must be an RFC 3339 time",
                std::string(name));
  return ms;
}

// X-Api-Key authentication of CrowdSec bouncers; errors in CrowdSec's {"message": …} shape.
http::Handler bouncer_handler(Services& s,
                              std::function<http::Response(http::Request&, const guard::Bouncer&)> fn) {
  return [&s, fn = std::move(fn)](http::Request& req) -> http::Response {
    auto key = req.header("x-api-key");
    auto b = key ? s.decisions->authenticate_bouncer(*key)
                 : Result<guard::Bouncer>(fail(ErrorCode::kUnauthorized, "missing X-Api-Key"));
    if (!b) {
      http::Response r;
      r.status = 403;
      r.body = bj::serialize(bj::object{{"message", "access forbidden"}});
      return r;
    }
    return fn(req, *b);
  };
}

}  // namespace

bj::object health_json(const guard::KeyHealth& h) {
  return bj::object{{"keyId", h.key_id},
                    {"periods", h.periods},
                    {"totalRequests", h.requests},
                    {"avgRequestsPerPeriod", h.avg_requests_per_period},
                    {"errorRate", h.error_rate_pct},
                    {"p95Latency", h.p95_ms},
                    {"maxAnomalyScore", h.max_anomaly_score},
                    {"suspiciousPeriods", h.suspicious_periods},
                    {"lastActivity", h.last_activity_ms > 0 ? bj::value(format_rfc3339_ms(h.last_activity_ms))
                                                            : bj::value(nullptr)},
                    {"status", h.status}};
}

void add_guard_routes(http::Router& router, Services& s) {
  using auth::Permission;

  // ---- ingestion ----
  // Request records: NDJSON (or nginx / Envoy lines), or one JSON array of records. 202: the
  // records are applied; bad lines are reported one by one and never block good ones.
  auto ingest_handler = authed(s, Effect::kRead, [&s](http::Request& req,
                                                      const auth::Principal& p)
                                                     -> Result<http::Response> {
    SIRA_CHECK(s.auth.require(p, Permission::kSignalsIngest));
    std::string fmt_name = req.query_param("format").value_or("");
    auto ct = req.header("content-type").value_or("");
    if (fmt_name.empty()) fmt_name = ct.starts_with("text/plain") ? "nginx" : "ndjson";
    signals::Format fmt;
    if (!signals::parse_format(fmt_name, &fmt))
      return fail(ErrorCode::kInvalidArgument, "format must be ndjson, nginx or envoy", "format");
    std::string_view body = req.body;
    std::string lines;
    size_t first = body.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos && body[first] == '[') {
      // A JSON array: one record per element, numbered like lines (element 1 = line 1).
      boost::system::error_code ec;
      bj::value v = bj::parse(body, ec);
      if (ec || !v.is_array())
        return fail(ErrorCode::kInvalidArgument, "body starts with [ but is not a JSON array");
      for (const auto& e : v.as_array()) lines += bj::serialize(e) + "\n";
      body = lines;
    }
    auto rep = SIRA_TRY(s.guard->ingest(p.tenant_id, body, fmt, p.actor()));
    bj::array rejects;
    for (const auto& [line, reason] : rep.rejects)
      rejects.push_back(bj::object{{"line", line}, {"reason", reason}});
    bj::object reasons;
    for (const auto& [reason, n] : rep.stats.reasons) reasons[reason] = n;
    return json(202, bj::object{{"lines", rep.stats.lines},
                                {"accepted", rep.stats.records},
                                {"rejected", rep.stats.rejected},
                                {"rejectReasons", reasons},
                                {"rejects", rejects},
                                {"detections", rep.detections},
                                {"actions", rep.actions}});
  });
  router.add("POST", "/api/v1/requests", ingest_handler);
  router.add("POST", "/api/v1/signals/requests", ingest_handler);

  // ---- observability (seed 002) ----
  router.add("GET", "/api/v1/observability/keys/{keyId}/health",
             authed(s, Effect::kRead, [&s](http::Request& req, const auth::Principal& p)
                                          -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kGuardRead));
               std::string key = req.path_param("keyId");
               SIRA_CHECK(key_param_ok(key));
               auto h = SIRA_TRY(s.guard->key_health(p.tenant_id, key));
               return json(200, health_json(h));
             }));
  router.add("GET", "/api/v1/observability/keys",
             authed(s, Effect::kRead, [&s](http::Request& req, const auth::Principal& p)
                                          -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kGuardRead));
               auto page = SIRA_TRY(page_request(req));
               auto all = SIRA_TRY(s.guard->keys_health(p.tenant_id, page.limit));
               bj::array a;
               for (const auto& h : all) a.push_back(health_json(h));
               return json(200, bj::object{{"keys", a}});
             }));
  router.add("GET", "/api/v1/observability/events/active",
             authed(s, Effect::kRead, [&s](http::Request& req, const auth::Principal& p)
                                          -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kGuardRead));
               auto page = SIRA_TRY(page_request(req));
               auto evs = SIRA_TRY(s.guard->active_events(p.tenant_id, page.limit));
               bj::array a;
               for (const auto& e : evs) a.push_back(event_json(e));
               return json(200, bj::object{{"events", a}});
             }));
  router.add("GET", "/api/v1/observability/keys/{keyId}/metrics",
             authed(s, Effect::kRead, [&s](http::Request& req, const auth::Principal& p)
                                          -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kGuardRead));
               std::string key = req.path_param("keyId");
               SIRA_CHECK(key_param_ok(key));
               std::string period = req.query_param("period").value_or("24h");
               std::string step = req.query_param("step").value_or("");
               auto points = SIRA_TRY(s.guard->metrics(p.tenant_id, key, period, step));
               bj::array periods;
               for (const auto& pt : points)
                 periods.push_back(bj::object{{"start", format_rfc3339_ms(pt.start_ms)},
                                              {"requests", pt.requests},
                                              {"errors", pt.errors},
                                              {"avgLatency", pt.latency_avg_ms},
                                              {"p50Latency", pt.p50_ms},
                                              {"p95Latency", pt.p95_ms},
                                              {"p99Latency", pt.p99_ms},
                                              {"anomalyScore", pt.max_anomaly_score}});
               bj::object out{{"keyId", key}, {"period", period}, {"periods", periods}};
               if (!step.empty()) out["step"] = step;
               if (auto sum = SIRA_TRY(s.guard->summary(p.tenant_id, key))) {
                 bj::object statuses;
                 for (const auto& sc : sum->statuses) statuses[std::to_string(sc.status)] = sc.count;
                 out["lastHour"] = bj::object{{"requests", sum->requests},
                                              {"errors", sum->errors},
                                              {"p50Latency", sum->p50_ms},
                                              {"p95Latency", sum->p95_ms},
                                              {"p99Latency", sum->p99_ms},
                                              {"uniqueIps", sum->unique_ips},
                                              {"statusDistribution", statuses}};
               }
               return json(200, out);
             }));
  router.add("GET", "/api/v1/observability/keys/{keyId}/suspicious",
             authed(s, Effect::kRead, [&s](http::Request& req, const auth::Principal& p)
                                          -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kGuardRead));
               std::string key = req.path_param("keyId");
               SIRA_CHECK(key_param_ok(key));
               auto page = SIRA_TRY(page_request(req));
               auto evs = SIRA_TRY(s.guard->events(p.tenant_id, key, page.limit, page.cursor));
               bj::array a;
               for (const auto& e : evs) a.push_back(event_json(e));
               return json(200, bj::object{{"events", a}});
             }));
  router.add("GET", "/api/v1/observability/events",
             authed(s, Effect::kRead, [&s](http::Request& req, const auth::Principal& p)
                                          -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kGuardRead));
               auto page = SIRA_TRY(page_request(req));
               auto evs = SIRA_TRY(s.guard->events(p.tenant_id, req.query_param("key"), page.limit,
                                                   page.cursor));
               bj::array a;
               for (const auto& e : evs) a.push_back(event_json(e));
               bj::object out{{"events", a}};
               out["next_cursor"] = static_cast<int>(evs.size()) == page.limit && !evs.empty()
                                        ? bj::value(evs.back().id)
                                        : bj::value(nullptr);
               return json(200, out);
             }));
  router.add("GET", "/api/v1/observability/keys/{keyId}/recommendations",
             authed(s, Effect::kRead, [&s](http::Request& req, const auth::Principal& p)
                                          -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kGuardRead));
               std::string key = req.path_param("keyId");
               SIRA_CHECK(key_param_ok(key));
               auto status = req.query_param("status");
               if (status && *status != "open" && *status != "accepted" && *status != "dismissed")
                 return fail(ErrorCode::kInvalidArgument, "status must be open, accepted or dismissed",
                             "status");
               auto recs = SIRA_TRY(s.guard->recommendations(p.tenant_id, key, status));
               bj::array a;
               for (const auto& r : recs) a.push_back(rec_json(r));
               return json(200, bj::object{{"keyId", key}, {"recommendations", a}});
             }));
  router.add("PATCH", "/api/v1/observability/recommendations/{id}",
             authed(s, Effect::kWrite, [&s](http::Request& req, const auth::Principal& p)
                                           -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kGuardWrite));
               auto body = SIRA_TRY(body_object(req));
               SIRA_CHECK(json::only_fields(body, {"status"}));
               auto status = SIRA_TRY(json::required_string(body, "status", 16));
               auto rec = SIRA_TRY(
                   s.guard->set_recommendation_status(p.tenant_id, p.actor(), req.path_param("id"), status));
               return json(200, rec_json(rec));
             }));

  // ---- debug packs ----
  router.add("POST", "/api/v1/observability/debug-packs",
             authed(s, Effect::kWrite, [&s](http::Request& req, const auth::Principal& p)
                                           -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kDebugPacks));
               auto body = SIRA_TRY(body_object(req));
               SIRA_CHECK(json::only_fields(body, {"keyId", "title", "startTime", "endTime",
                                                   "includesLogs", "includesTraces",
                                                   "includesMetrics"}));
               guard::DebugPackRequest dr;
               dr.key_id = SIRA_TRY(json::required_string(body, "keyId", 128));
               dr.title = SIRA_TRY(json::optional_string(body, "title", 200)).value_or("");
               dr.start_ms = SIRA_TRY(time_field(body, "startTime"));
               dr.end_ms = SIRA_TRY(time_field(body, "endTime"));
               dr.include_logs = SIRA_TRY(json::optional_bool(body, "includesLogs")).value_or(true);
               dr.include_traces = SIRA_TRY(json::optional_bool(body, "includesTraces")).value_or(true);
               dr.include_metrics = SIRA_TRY(json::optional_bool(body, "includesMetrics")).value_or(true);
               auto pack = SIRA_TRY(s.guard->create_debug_pack(p.tenant_id, p.actor(), dr));
               auto r = json(201, bj::object{{"packId", pack.pack_id},
                                             {"accessToken", pack.access_token},
                                             {"expiresAt", format_rfc3339_ms(pack.expires_at)},
                                             {"shareUrl", pack.share_url}});
               r.set_header("Cache-Control", "no-store");
               return r;
             }));
  router.add("GET", "/debug/{token}", [&s](http::Request& req) -> http::Response {
    auto bundle = s.guard->open_debug_pack(req.path_param("token"), req.remote_address);
    if (!bundle) return problem_from(bundle.error(), req);
    http::Response r;
    r.body = std::move(*bundle);
    r.set_header("Cache-Control", "no-store");
    return r;
  });

  // ---- decisions ----
  router.add("GET", "/api/v1/decisions",
             authed(s, Effect::kRead, [&s](http::Request& req, const auth::Principal& p)
                                          -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kGuardRead));
               auto key = req.query_param("key");
               auto ip = req.query_param("ip");
               if (!key && !ip) {
                 bj::array a;
                 for (const auto& d : s.decisions->active(p.tenant_id)) a.push_back(decision_json(d));
                 return json(200, bj::object{{"decisions", a}});
               }
               if (ip && !ip->empty() && !signals::valid_ip(*ip))
                 return fail(ErrorCode::kInvalidArgument, "ip is not an IP address", "ip");
               auto v = s.decisions->lookup(p.tenant_id, key.value_or(""), ip.value_or(""));
               bj::array matched;
               for (const auto& d : v.matched) matched.push_back(decision_json(d));
               bj::object out{{"decision", v.action},
                              {"expiresAt", time_or_null(v.expires_at)},
                              {"allowlisted", v.allowlisted},
                              {"matched", matched}};
               if (v.action == "throttle") out["ratePerMinute"] = v.rate_per_minute;
               return json(200, out);
             }));
  router.add("POST", "/api/v1/decisions",
             authed(s, Effect::kWrite, [&s](http::Request& req, const auth::Principal& p)
                                           -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kGuardWrite));
               auto body = SIRA_TRY(body_object(req));
               SIRA_CHECK(json::only_fields(body, {"scope", "value", "type", "ratePerMinute",
                                                   "durationSeconds", "reason"}));
               guard::NewDecision nd;
               auto scope = SIRA_TRY(json::required_string(body, "scope", 16));
               auto sc = guard::parse_scope(scope);
               if (!sc) return fail(ErrorCode::kInvalidArgument, "scope must be key, ip or range", "scope");
               nd.scope = *sc;
               nd.value = SIRA_TRY(json::required_string(body, "value", 256));
               nd.type = SIRA_TRY(json::optional_string(body, "type", 16)).value_or("ban");
               nd.rate_per_minute = SIRA_TRY(json::optional_int(body, "ratePerMinute")).value_or(0);
               auto dur = SIRA_TRY(json::optional_int(body, "durationSeconds"));
               if (dur) {
                 if (*dur < 1 || *dur > 10LL * 365 * 86400)
                   return fail(ErrorCode::kInvalidArgument, "durationSeconds must be 1..315360000",
                               "durationSeconds");
                 nd.duration_ms = *dur * 1000;
               }
               nd.reason = SIRA_TRY(json::optional_string(body, "reason", 1000)).value_or("");
               nd.origin = "manual";
               nd.scenario = "manual";
               auto d = SIRA_TRY(s.decisions->add(p.tenant_id, p.actor(), nd));
               auto r = json(201, decision_json(d));
               r.set_header("Location", "/api/v1/decisions/" + d.id);
               return r;
             }));
  router.add("GET", "/api/v1/decisions/{id}",
             authed(s, Effect::kRead, [&s](http::Request& req, const auth::Principal& p)
                                          -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kGuardRead));
               return json(200, decision_json(SIRA_TRY(s.decisions->get(p.tenant_id, req.path_param("id")))));
             }));
  router.add("DELETE", "/api/v1/decisions/{id}",
             authed(s, Effect::kWrite, [&s](http::Request& req, const auth::Principal& p)
                                           -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kGuardWrite));
               SIRA_CHECK(s.decisions->remove(p.tenant_id, p.actor(), req.path_param("id")));
               return no_content();
             }));

  // ---- allowlist ----
  router.add("GET", "/api/v1/guard/allowlist",
             authed(s, Effect::kRead, [&s](http::Request&, const auth::Principal& p)
                                          -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kGuardRead));
               bj::array a;
               for (const auto& e : s.decisions->allowlist(p.tenant_id))
                 a.push_back(bj::object{{"id", e.id},
                                        {"scope", guard::scope_name(e.scope)},
                                        {"value", e.value},
                                        {"reason", e.reason},
                                        {"createdAt", format_rfc3339_ms(e.created_at)}});
               return json(200, bj::object{{"items", a}});
             }));
  router.add("POST", "/api/v1/guard/allowlist",
             authed(s, Effect::kWrite, [&s](http::Request& req, const auth::Principal& p)
                                           -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kGuardWrite));
               auto body = SIRA_TRY(body_object(req));
               SIRA_CHECK(json::only_fields(body, {"scope", "value", "reason"}));
               auto scope = guard::parse_scope(SIRA_TRY(json::required_string(body, "scope", 16)));
               if (!scope)
                 return fail(ErrorCode::kInvalidArgument, "scope must be key, ip or range", "scope");
               auto value = SIRA_TRY(json::required_string(body, "value", 256));
               auto reason = SIRA_TRY(json::optional_string(body, "reason", 1000)).value_or("");
               auto e = SIRA_TRY(s.decisions->allow(p.tenant_id, p.actor(), *scope, value, reason));
               return json(201, bj::object{{"id", e.id},
                                           {"scope", guard::scope_name(e.scope)},
                                           {"value", e.value},
                                           {"reason", e.reason},
                                           {"createdAt", format_rfc3339_ms(e.created_at)}});
             }));
  router.add("DELETE", "/api/v1/guard/allowlist/{id}",
             authed(s, Effect::kWrite, [&s](http::Request& req, const auth::Principal& p)
                                           -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kGuardWrite));
               SIRA_CHECK(s.decisions->unallow(p.tenant_id, p.actor(), req.path_param("id")));
               return no_content();
             }));

  // ---- bouncers ----
  router.add("POST", "/api/v1/guard/bouncers",
             authed(s, Effect::kWrite, [&s](http::Request& req, const auth::Principal& p)
                                           -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kGuardWrite));
               auto body = SIRA_TRY(body_object(req));
               SIRA_CHECK(json::only_fields(body, {"name"}));
               auto name = SIRA_TRY(json::required_string(body, "name", 200));
               auto [b, key] = SIRA_TRY(s.decisions->add_bouncer(p.tenant_id, p.actor(), name));
               auto r = json(201, bj::object{{"id", b.id},
                                             {"name", b.name},
                                             {"apiKey", key},
                                             {"createdAt", format_rfc3339_ms(b.created_at)}});
               r.set_header("Cache-Control", "no-store");
               return r;
             }));
  router.add("GET", "/api/v1/guard/bouncers",
             authed(s, Effect::kRead, [&s](http::Request&, const auth::Principal& p)
                                          -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kGuardRead));
               bj::array a;
               for (const auto& b : SIRA_TRY(s.decisions->bouncers(p.tenant_id)))
                 a.push_back(bj::object{{"id", b.id},
                                        {"name", b.name},
                                        {"createdAt", format_rfc3339_ms(b.created_at)},
                                        {"lastPullAt", time_or_null(b.last_pull_at)}});
               return json(200, bj::object{{"items", a}});
             }));
  router.add("DELETE", "/api/v1/guard/bouncers/{id}",
             authed(s, Effect::kWrite, [&s](http::Request& req, const auth::Principal& p)
                                           -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kGuardWrite));
               SIRA_CHECK(s.decisions->delete_bouncer(p.tenant_id, p.actor(), req.path_param("id")));
               return no_content();
             }));

  // ---- CrowdSec Local API subset for bouncers ----
  router.add("GET", "/v1/decisions",
             bouncer_handler(s, [&s](http::Request& req, const guard::Bouncer& b) {
               int64_t now = s.clock.now_ms();
               auto ip = req.query_param("ip");
               auto range = req.query_param("range");
               auto type = req.query_param("type");
               auto scope = req.query_param("scope");
               auto value = req.query_param("value");
               bj::array out;
               if (ip || range) {
                 auto v = s.decisions->lookup(b.tenant_id, {}, ip ? *ip : *range);
                 for (const auto& d : v.matched)
                   if (!type || d.type == *type) out.push_back(crowdsec_json(d, now));
               } else {
                 for (const auto& d : s.decisions->active(b.tenant_id)) {
                   if (d.scope == guard::Scope::kKey) continue;
                   if (type && d.type != *type) continue;
                   if (scope && guard::parse_scope(*scope) != d.scope) continue;
                   if (value && d.value != *value) continue;
                   out.push_back(crowdsec_json(d, now));
                 }
               }
               http::Response r;
               // CrowdSec answers "null" rather than an empty array when nothing matches.
               r.body = out.empty() ? "null" : bj::serialize(out);
               return r;
             }));
  router.add("GET", "/v1/decisions/stream",
             bouncer_handler(s, [&s](http::Request& req, const guard::Bouncer& b) {
               bool startup = req.query_param("startup").value_or("false") == "true";
               auto res = s.decisions->stream(b, startup);
               if (!res) return problem_from(res.error(), req);
               int64_t now = s.clock.now_ms();
               auto list = [now](const std::vector<guard::Decision>& ds) -> bj::value {
                 if (ds.empty()) return nullptr;
                 bj::array a;
                 a.reserve(ds.size());
                 for (const auto& d : ds) a.push_back(crowdsec_json(d, now));
                 return a;
               };
               http::Response r;
               r.body = bj::serialize(bj::object{{"new", list(res->added)}, {"deleted", list(res->deleted)}});
               return r;
             }));
}

}  // namespace sira::api
