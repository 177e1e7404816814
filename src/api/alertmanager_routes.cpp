// Alertmanager API v2 (api/v2/openapi.yaml of Alertmanager 0.25): what Prometheus, amtool and
// Grafana call. JSON shapes and status codes follow the spec; errors are problem+json.
#include "alerts/service.h"
#include "api/common.h"
#include "core/json.h"
#include "http/router.h"

namespace sira::api {

namespace {

using alerts::Alert;
using alerts::LabelSet;
using alerts::Matcher;
using alerts::MatchType;

Result<LabelSet> label_set(const bj::value& v, const std::string& what) {
  if (v.is_null()) return LabelSet{};
  if (!v.is_object()) return fail(ErrorCode::kInvalidArgument, what + " must be an object", what);
  LabelSet out;
  for (const auto& [k, val] : v.as_object()) {
    if (!val.is_string())
      return fail(ErrorCode::kInvalidArgument,
                  what + "." + std::string(k) + " must be a string", what);
    out[std::string(k)] = std::string(val.as_string());
  }
  return out;
}

Result<int64_t> time_field(const bj::object& o, const char* name) {
  auto it = o.find(name);
  if (it == o.end() || it->value().is_null()) return int64_t{0};
  if (!it->value().is_string())
    return fail(ErrorCode::kInvalidArgument, std::string(name) + " must be an RFC 3339 string", name);
  std::string_view text = it->value().as_string();
  // Go's zero time, which some clients send for "unset".
  if (text.starts_with("0001-01-01T00:00:00")) return int64_t{0};
  int64_t ms = 0;
  if (!parse_rfc3339(text, &ms))
    return fail(ErrorCode::kInvalidArgument,
                std::string(name) + " is not an RFC 3339 time: " + std::string(text), name);
  return ms;
}

Result<std::vector<Alert>> postable_alerts(const std::string& body) {
  boost::system::error_code ec;
  // The DOM lives only while the alerts are built: one arena instead of a malloc per node.
  bj::monotonic_resource arena(body.size() * 2 + 1024);
  bj::value v = bj::parse(body, ec, &arena);
  if (ec) return fail(ErrorCode::kInvalidArgument, "body is not JSON: " + ec.message());
  if (!v.is_array()) return fail(ErrorCode::kInvalidArgument, "body must be an array of alerts");
  std::vector<Alert> out;
  out.reserve(v.as_array().size());
  size_t i = 0;
  for (const auto& e : v.as_array()) {
    const std::string at = "alerts[" + std::to_string(i++) + "]";
    if (!e.is_object()) return fail(ErrorCode::kInvalidArgument, at + " must be an object", at);
    const auto& o = e.as_object();
    Alert a;
    auto labels = o.find("labels");
    if (labels == o.end())
      return fail(ErrorCode::kInvalidArgument, at + ".labels is required", at + ".labels");
    a.labels = SIRA_TRY(label_set(labels->value(), at + ".labels"));
    if (auto ann = o.find("annotations"); ann != o.end())
      a.annotations = SIRA_TRY(label_set(ann->value(), at + ".annotations"));
    a.starts_at_ms = SIRA_TRY(time_field(o, "startsAt"));
    a.ends_at_ms = SIRA_TRY(time_field(o, "endsAt"));
    if (auto g = o.find("generatorURL"); g != o.end() && g->value().is_string())
      a.generator_url = std::string(g->value().as_string());
    out.push_back(std::move(a));
  }
  return out;
}

// An alert as Alertmanager's API lists it (gettableAlert), written straight to text: a listing
// of 100,000 alerts would otherwise hold a DOM several times the size of the answer.
void append_strings(std::string& out, const std::vector<std::string>& v) {
  out.push_back('[');
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out.push_back(',');
    json::append_string(out, v[i]);
  }
  out.push_back(']');
}

void append_alert(std::string& out, const Alert& a, const alerts::AlertStatus& st) {
  out += "{\"labels\":";
  json::append_string_map(out, a.labels);
  out += ",\"annotations\":";
  json::append_string_map(out, a.annotations);
  out += ",\"receivers\":[";
  for (size_t i = 0; i < st.receivers.size(); ++i) {
    out += i ? ",{\"name\":" : "{\"name\":";
    json::append_string(out, st.receivers[i]);
    out.push_back('}');
  }
  out += "],\"fingerprint\":\"" + alerts::fingerprint_hex(a.fp) + "\",\"startsAt\":\"" +
         format_rfc3339_ms(a.starts_at_ms) + "\",\"endsAt\":\"" + format_rfc3339_ms(a.ends_at_ms) +
         "\",\"updatedAt\":\"" + format_rfc3339_ms(a.updated_at_ms) + "\",\"status\":{\"state\":";
  json::append_string(out, st.state);
  out += ",\"silencedBy\":";
  append_strings(out, st.silenced_by);
  out += ",\"inhibitedBy\":";
  append_strings(out, st.inhibited_by);
  out.push_back('}');
  if (!a.generator_url.empty()) {
    out += ",\"generatorURL\":";
    json::append_string(out, a.generator_url);
  }
  out.push_back('}');
}

bj::object silence_json_base(const alerts::Silence& s, int64_t now);

bj::object silence_json(const alerts::Silence& s, int64_t now) {
  bj::object o = silence_json_base(s, now);
  if (!s.recurrence_json.empty()) {
    boost::system::error_code ec;
    bj::value rec = bj::parse(s.recurrence_json, ec);
    if (!ec) o["recurrence"] = rec;
  }
  return o;
}

bj::object silence_json_base(const alerts::Silence& s, int64_t now) {
  bj::array ms;
  for (const auto& m : s.matchers)
    ms.push_back(bj::object{{"name", m.name()},
                            {"value", m.value()},
                            {"isRegex", m.is_regex()},
                            {"isEqual", m.type() == MatchType::kEqual || m.type() == MatchType::kRegex}});
  return bj::object{{"id", s.id},
                    {"status", bj::object{{"state", alerts::state_name(s.state(now))}}},
                    {"updatedAt", format_rfc3339_ms(s.updated_at_ms)},
                    {"matchers", ms},
                    {"startsAt", format_rfc3339_ms(s.starts_at_ms)},
                    {"endsAt", format_rfc3339_ms(s.ends_at_ms)},
                    {"createdBy", s.created_by},
                    {"comment", s.comment}};
}

Result<alerts::Silence> postable_silence(const std::string& body) {
  auto o = SIRA_TRY(json::parse_object(body));
  alerts::Silence s;
  if (auto id = o.find("id"); id != o.end() && id->value().is_string())
    s.id = std::string(id->value().as_string());
  auto ms = o.find("matchers");
  if (ms == o.end() || !ms->value().is_array())
    return fail(ErrorCode::kInvalidArgument, "matchers must be a non-empty array", "matchers");
  size_t i = 0;
  for (const auto& e : ms->value().as_array()) {
    const std::string at = "matchers[" + std::to_string(i++) + "]";
    if (!e.is_object()) return fail(ErrorCode::kInvalidArgument, at + " must be an object", at);
    const auto& m = e.as_object();
    auto str = [&](const char* k) -> Result<std::string> {
      auto it = m.find(k);
      if (it == m.end() || !it->value().is_string())
        return fail(ErrorCode::kInvalidArgument, at + "." + k + " must be a string", at + "." + k);
      return std::string(it->value().as_string());
    };
    auto boolean = [&](const char* k, bool dflt) -> Result<bool> {
      auto it = m.find(k);
      if (it == m.end() || it->value().is_null()) return dflt;
      if (!it->value().is_bool())
        return fail(ErrorCode::kInvalidArgument, at + "." + k + " must be a boolean", at + "." + k);
      return it->value().as_bool();
    };
    std::string name = SIRA_TRY(str("name"));
    std::string value = SIRA_TRY(str("value"));
    bool is_regex = SIRA_TRY(boolean("isRegex", false));
    bool is_equal = SIRA_TRY(boolean("isEqual", true));
    MatchType t = is_regex ? (is_equal ? MatchType::kRegex : MatchType::kNotRegex)
                           : (is_equal ? MatchType::kEqual : MatchType::kNotEqual);
    s.matchers.push_back(SIRA_TRY(Matcher::make(name, t, value)));
  }
  s.starts_at_ms = SIRA_TRY(time_field(o, "startsAt"));
  s.ends_at_ms = SIRA_TRY(time_field(o, "endsAt"));
  if (s.ends_at_ms == 0)
    return fail(ErrorCode::kInvalidArgument, "endsAt is required", "endsAt");
  if (s.starts_at_ms != 0 && s.starts_at_ms > s.ends_at_ms)
    return fail(ErrorCode::kInvalidArgument, "start time must not be after end time", "startsAt");
  auto text = [&](const char* k) -> std::string {
    auto it = o.find(k);
    return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : "";
  };
  s.created_by = text("createdBy");
  s.comment = text("comment");
  if (auto rec = o.find("recurrence"); rec != o.end() && !rec->value().is_null()) {
    s.recurrence_json = bj::serialize(rec->value());
    s.recurrence = SIRA_TRY(alerts::parse_recurrence(s.recurrence_json));
    if (s.recurrence.empty()) s.recurrence_json.clear();
  }
  return s;
}

bj::object notification_json(const alerts::Notification& n) {
  boost::system::error_code ec;
  bj::value payload = bj::parse(n.payload, ec);
  return bj::object{{"id", n.id},
                    {"receiver", n.receiver},
                    {"integration", n.integration},
                    {"kind", n.kind},
                    {"groupKey", n.group_key},
                    {"status", n.status},
                    {"attempts", n.attempts},
                    {"firing", n.firing},
                    {"resolved", n.resolved},
                    {"createdAt", format_rfc3339_ms(n.created_at)},
                    {"sentAt", n.sent_at > 0 ? bj::value(format_rfc3339_ms(n.sent_at)) : bj::value(nullptr)},
                    {"nextAttemptAt", n.status == "pending" ? bj::value(format_rfc3339_ms(n.next_attempt_at))
                                                            : bj::value(nullptr)},
                    {"lastError", n.last_error},
                    {"payload", ec ? bj::value(n.payload) : payload}};
}

Result<bool> bool_param(const http::Request& req, const char* name) {
  auto v = req.query_param(name);
  if (!v || v->empty() || *v == "true") return true;
  if (*v == "false") return false;
  return fail(ErrorCode::kInvalidArgument, std::string(name) + " must be true or false", name);
}

Result<alerts::AlertFilter> alert_filter(const http::Request& req) {
  alerts::AlertFilter f;
  f.active = SIRA_TRY(bool_param(req, "active"));
  f.silenced = SIRA_TRY(bool_param(req, "silenced"));
  f.inhibited = SIRA_TRY(bool_param(req, "inhibited"));
  f.unprocessed = SIRA_TRY(bool_param(req, "unprocessed"));
  for (const auto& text : req.query_params("filter")) {
    auto ms = SIRA_TRY(alerts::parse_matchers(text));
    f.matchers.insert(f.matchers.end(), ms.begin(), ms.end());
  }
  if (auto r = req.query_param("receiver"); r && !r->empty())
    f.receiver = SIRA_TRY(Matcher::make("receiver", MatchType::kRegex, *r));
  return f;
}

// Alertmanager's order: active silences by end, then pending by start, then expired, latest
// ended first.
void sort_silences(std::vector<alerts::Silence>& v, int64_t now) {
  auto rank = [now](const alerts::Silence& s) {
    switch (s.state(now)) {
      case alerts::Silence::State::kActive: return 0;
      case alerts::Silence::State::kPending: return 1;
      case alerts::Silence::State::kExpired: return 2;
    }
    return 3;
  };
  std::stable_sort(v.begin(), v.end(), [&](const alerts::Silence& a, const alerts::Silence& b) {
    int ra = rank(a), rb = rank(b);
    if (ra != rb) return ra < rb;
    if (ra == 0) return a.ends_at_ms < b.ends_at_ms;
    if (ra == 1) return a.starts_at_ms < b.starts_at_ms;
    return a.ends_at_ms > b.ends_at_ms;
  });
}

}  // namespace

void add_alertmanager_routes(http::Router& router, Services& s) {
  using auth::Permission;
  // Prometheus authenticates with `authorization: {credentials: TOKEN}` (a bearer token); a
  // request without credentials acts for alerts.anonymous_tenant when one is configured.
  auto am = [&s](Effect effect, AuthedHandler fn) -> http::Handler {
    http::Handler with_token = authed(s, effect, fn);
    return [&s, with_token, fn](http::Request& req) -> http::Response {
      if (req.header("authorization") || s.alerts_anonymous_tenant.empty()) return with_token(req);
      auth::Principal anon;
      anon.tenant_id = s.alerts_anonymous_tenant;
      anon.token_id = "anonymous";
      anon.roles = {auth::Role::kOps};
      auto r = fn(req, anon);
      if (!r) return problem_from(r.error(), req);
      return std::move(*r);
    };
  };

  router.add("POST", "/api/v2/alerts",
             am(Effect::kRead, [&s](http::Request& req, const auth::Principal& p)
                                   -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kAlertsPost));
               auto list = SIRA_TRY(postable_alerts(req.body));
               auto rep = SIRA_TRY(s.alerts->put_alerts(p.tenant_id, std::move(list)));
               // Alertmanager keeps the valid alerts of a batch and answers 400 for the others.
               std::optional<Error> refused;
               if (!rep.errors.empty()) {
                 std::string detail;
                 for (const auto& e : rep.errors) detail += (detail.empty() ? "" : "; ") + e;
                 refused = Error(ErrorCode::kInvalidArgument, detail);
               }
               http::Response r;
               r.status = 200;
               if (refused && rep.batch == 0) return std::unexpected(*refused);
               if (rep.batch == 0) return r;
               // Answered once the group commit holding these alerts is durable.
               http::Request where;  // what a problem+json names as its instance
               where.path = req.path;
               r.deferred = [&s, batch = rep.batch, refused,
                             where = std::move(where)](http::Response::Completion done) {
                 s.alerts->when_durable(batch, [done, refused, where](Status st) {
                   if (!st) return done(problem_from(st.error(), where));
                   if (refused) return done(problem_from(*refused, where));
                   done(http::Response{});
                 });
               };
               return r;
             }));
  router.add("GET", "/api/v2/alerts",
             am(Effect::kRead, [&s](http::Request& req, const auth::Principal& p)
                                   -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kAlertsRead));
               auto f = SIRA_TRY(alert_filter(req));
               http::Response r;
               r.body = "[";
               SIRA_CHECK(s.alerts->each_alert(
                   p.tenant_id, f, [&](const Alert& a, const alerts::AlertStatus& st) {
                     if (r.body.size() > 1) r.body.push_back(',');
                     append_alert(r.body, a, st);
                   }));
               r.body.push_back(']');
               return r;
             }));
  router.add("GET", "/api/v2/alerts/groups",
             am(Effect::kRead, [&s](http::Request& req, const auth::Principal& p)
                                   -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kAlertsRead));
               auto f = SIRA_TRY(alert_filter(req));
               http::Response r;
               r.body = "[";
               for (const auto& g : SIRA_TRY(s.alerts->groups(p.tenant_id, f))) {
                 if (r.body.size() > 1) r.body.push_back(',');
                 r.body += "{\"labels\":";
                 json::append_string_map(r.body, g.labels);
                 r.body += ",\"receiver\":{\"name\":";
                 json::append_string(r.body, g.receiver);
                 r.body += "},\"alerts\":[";
                 for (size_t i = 0; i < g.alerts.size(); ++i) {
                   if (i) r.body.push_back(',');
                   append_alert(r.body, g.alerts[i].alert, g.alerts[i].status);
                 }
                 r.body += "]}";
               }
               r.body.push_back(']');
               return r;
             }));
  router.add("GET", "/api/v2/receivers",
             am(Effect::kRead, [&s](http::Request&, const auth::Principal& p)
                                   -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kAlertsRead));
               bj::array a;
               for (const auto& r : s.alerts->receiver_names()) a.push_back(bj::object{{"name", r}});
               return json(200, a);
             }));
  router.add("GET", "/api/v2/status",
             am(Effect::kRead, [&s](http::Request&, const auth::Principal& p)
                                   -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kAlertsRead));
               return json(200, bj::object{
                                    {"cluster", bj::object{{"status", "disabled"}, {"peers", bj::array()}}},
                                    {"versionInfo", bj::object{{"version", s.version},
                                                               {"revision", s.revision},
                                                               {"branch", "main"},
                                                               {"buildUser", "sira"},
                                                               {"buildDate", ""},
                                                               {"goVersion", "none (sira, C++)"}}},
                                    {"config", bj::object{{"original", s.alerts->config_text()}}},
                                    {"uptime", format_rfc3339_ms(s.alerts->started_at_ms())}});
             }));
  router.add("GET", "/api/v2/silences",
             am(Effect::kRead, [&s](http::Request& req, const auth::Principal& p)
                                   -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kAlertsRead));
               std::vector<Matcher> filter;
               for (const auto& text : req.query_params("filter")) {
                 auto ms = SIRA_TRY(alerts::parse_matchers(text));
                 filter.insert(filter.end(), ms.begin(), ms.end());
               }
               auto list = SIRA_TRY(s.alerts->silences(p.tenant_id, filter));
               const int64_t now = s.clock.now_ms();
               sort_silences(list, now);
               bj::array a;
               for (const auto& sil : list) a.push_back(silence_json(sil, now));
               return json(200, a);
             }));
  router.add("POST", "/api/v2/silences",
             am(Effect::kWrite, [&s](http::Request& req, const auth::Principal& p)
                                    -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kSilencesWrite));
               auto sil = SIRA_TRY(postable_silence(req.body));
               auto id = SIRA_TRY(s.alerts->put_silence(p.tenant_id, std::move(sil), p.actor()));
               return json(200, bj::object{{"silenceID", id}});
             }));
  router.add("GET", "/api/v2/silence/{id}",
             am(Effect::kRead, [&s](http::Request& req, const auth::Principal& p)
                                   -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kAlertsRead));
               auto sil = SIRA_TRY(s.alerts->silence(p.tenant_id, req.path_param("id")));
               return json(200, silence_json(sil, s.clock.now_ms()));
             }));
  // sira's own: the notification log, the dead-letter list and replay.
  router.add("GET", "/api/v1/notifications",
             authed(s, Effect::kRead, [&s](http::Request& req, const auth::Principal& p)
                                          -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kAlertsRead));
               auto page = SIRA_TRY(page_request(req));
               std::optional<int64_t> before;
               if (page.cursor) {
                 char* end = nullptr;
                 long long v = std::strtoll(page.cursor->c_str(), &end, 10);
                 if (end == page.cursor->c_str() || *end != '\0')
                   return fail(ErrorCode::kInvalidArgument, "cursor is not valid", "cursor");
                 before = v;
               }
               auto status = req.query_param("status");
               if (status && *status != "pending" && *status != "sent" && *status != "dead")
                 return fail(ErrorCode::kInvalidArgument, "status must be pending, sent or dead",
                             "status");
               auto list = SIRA_TRY(s.dispatcher->notifications(
                   p.tenant_id, status, req.query_param("receiver"), page.limit, before));
               bj::array a;
               for (const auto& n : list) a.push_back(notification_json(n));
               bj::object out{{"items", a}};
               out["next_cursor"] = static_cast<int>(list.size()) == page.limit && !list.empty()
                                        ? bj::value(std::to_string(list.back().id))
                                        : bj::value(nullptr);
               return json(200, out);
             }));
  router.add("POST", "/api/v1/notifications/{id}/replay",
             authed(s, Effect::kWrite, [&s](http::Request& req, const auth::Principal& p)
                                           -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kSilencesWrite));
               std::string id = req.path_param("id");
               char* end = nullptr;
               long long v = std::strtoll(id.c_str(), &end, 10);
               if (id.empty() || *end != '\0')
                 return fail(ErrorCode::kNotFound, "notification " + id + " not found");
               auto n = SIRA_TRY(s.dispatcher->replay(p.tenant_id, v, p.actor()));
               return json(200, notification_json(n));
             }));
  router.add("DELETE", "/api/v2/silence/{id}",
             am(Effect::kWrite, [&s](http::Request& req, const auth::Principal& p)
                                    -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, Permission::kSilencesWrite));
               SIRA_CHECK(s.alerts->expire_silence(p.tenant_id, req.path_param("id"), p.actor()));
               http::Response r;
               r.status = 200;
               return r;
             }));
}

}  // namespace sira::api
