// /api/v1/tenants, /api/v1/users, /api/v1/tokens.
#include "api/common.h"
#include "core/json.h"

namespace sira::api {

namespace {

bj::array roles_json(const std::vector<auth::Role>& roles) {
  bj::array a;
  for (auto r : roles) a.emplace_back(auth::role_name(r));
  return a;
}

bj::object tenant_json(const auth::Tenant& t) {
  return {{"id", t.id},
          {"name", t.name},
          {"system", t.is_system},
          {"created_at", format_rfc3339_ms(t.created_at)},
          {"updated_at", format_rfc3339_ms(t.updated_at)},
          {"disabled_at", time_or_null(t.disabled_at)}};
}

bj::object user_json(const auth::User& u) {
  return {{"id", u.id},
          {"tenant_id", u.tenant_id},
          {"name", u.name},
          {"email", u.email},
          {"roles", roles_json(u.roles)},
          {"created_at", format_rfc3339_ms(u.created_at)},
          {"updated_at", format_rfc3339_ms(u.updated_at)}};
}

bj::object token_json(const auth::Token& t, int64_t now) {
  std::string status = t.revoked_at                         ? "revoked"
                       : (t.expires_at && *t.expires_at <= now) ? "expired"
                                                                : "active";
  return {{"id", t.id},
          {"tenant_id", t.tenant_id},
          {"user_id", t.user_id},
          {"name", t.name},
          {"roles", roles_json(t.roles)},
          {"status", status},
          {"created_by", t.created_by},
          {"created_at", format_rfc3339_ms(t.created_at)},
          {"expires_at", time_or_null(t.expires_at)},
          {"revoked_at", time_or_null(t.revoked_at)}};
}

bj::object created_token_json(const auth::CreatedToken& c, int64_t now) {
  bj::object o = token_json(c.token, now);
  o["token"] = c.secret;
  return o;
}

Result<std::optional<std::vector<auth::Role>>> roles_field(const bj::object& body) {
  auto names = SIRA_TRY(json::optional_string_array(body, "roles", 16));
  if (!names) return std::optional<std::vector<auth::Role>>();
  std::vector<auth::Role> roles;
  for (const auto& n : *names) {
    auto r = auth::parse_role(n);
    if (!r)
      return fail(ErrorCode::kInvalidArgument,
                  "unknown role \"" + n +
                      "\"; roles are admin, pay_admin, fraud_ops, compliance, ops, auditor",
                  "roles");
    if (std::find(roles.begin(), roles.end(), *r) == roles.end()) roles.push_back(*r);
  }
  return std::optional<std::vector<auth::Role>>(std::move(roles));
}

Result<std::optional<int64_t>> expiry_field(const bj::object& body, const Clock& clock) {
  auto at = SIRA_TRY(json::optional_string(body, "expires_at", 64));
  auto in = SIRA_TRY(json::optional_int(body, "expires_in_seconds"));
  if (at && in)
    return fail(ErrorCode::kInvalidArgument, "give expires_at or expires_in_seconds, not both",
                "expires_at");
  if (at) {
    int64_t ms;
    if (!parse_rfc3339(*at, &ms))
      return fail(ErrorCode::kInvalidArgument, "expires_at must be an RFC 3339 time", "expires_at");
    return std::optional<int64_t>(ms);
  }
  if (in) {
    if (*in < 1 || *in > 10LL * 365 * 86400)
      return fail(ErrorCode::kInvalidArgument, "expires_in_seconds must be 1..315360000",
                  "expires_in_seconds");
    return std::optional<int64_t>(clock.now_ms() + *in * 1000);
  }
  return std::optional<int64_t>();
}

}  // namespace

void add_auth_routes(http::Router& router, Services& s) {
  // ---- tenants ----
  router.add("GET", "/api/v1/tenants",
             authed(s, Effect::kRead, [&s](http::Request& req, const auth::Principal& p)
                                          -> Result<http::Response> {
               auto page = SIRA_TRY(s.auth.list_tenants(p, SIRA_TRY(page_request(req))));
               return json(200, page_json(page, tenant_json));
             }));
  router.add("POST", "/api/v1/tenants",
             authed(s, Effect::kWrite, [&s](http::Request& req, const auth::Principal& p)
                                           -> Result<http::Response> {
               auto body = SIRA_TRY(body_object(req));
               SIRA_CHECK(json::only_fields(body, {"name"}));
               auto name = SIRA_TRY(json::required_string(body, "name", 200));
               auto c = SIRA_TRY(s.auth.create_tenant(p, name));
               bj::object o = tenant_json(c.tenant);
               o["admin_user"] = user_json(c.admin);
               o["admin_token"] = created_token_json(c.admin_token, s.clock.now_ms());
               auto r = json(201, o);
               r.set_header("Location", "/api/v1/tenants/" + c.tenant.id);
               r.set_header("Cache-Control", "no-store");
               return r;
             }));
  router.add("GET", "/api/v1/tenants/{id}",
             authed(s, Effect::kRead, [&s](http::Request& req, const auth::Principal& p)
                                          -> Result<http::Response> {
               return json(200, tenant_json(SIRA_TRY(s.auth.get_tenant(p, req.path_param("id")))));
             }));
  router.add("PATCH", "/api/v1/tenants/{id}",
             authed(s, Effect::kWrite, [&s](http::Request& req, const auth::Principal& p)
                                           -> Result<http::Response> {
               auto body = SIRA_TRY(body_object(req));
               SIRA_CHECK(json::only_fields(body, {"name"}));
               auto name = SIRA_TRY(json::required_string(body, "name", 200));
               return json(200, tenant_json(SIRA_TRY(s.auth.rename_tenant(p, req.path_param("id"), name))));
             }));
  router.add("DELETE", "/api/v1/tenants/{id}",
             authed(s, Effect::kWrite, [&s](http::Request& req, const auth::Principal& p)
                                           -> Result<http::Response> {
               SIRA_CHECK(s.auth.disable_tenant(p, req.path_param("id")));
               http::Response r;
               r.status = 204;
               r.content_type.clear();
               return r;
             }));

  // ---- users ----
  router.add("GET", "/api/v1/users",
             authed(s, Effect::kRead, [&s](http::Request& req, const auth::Principal& p)
                                          -> Result<http::Response> {
               auto page = SIRA_TRY(s.auth.list_users(p, SIRA_TRY(page_request(req))));
               return json(200, page_json(page, user_json));
             }));
  router.add("POST", "/api/v1/users",
             authed(s, Effect::kWrite, [&s](http::Request& req, const auth::Principal& p)
                                           -> Result<http::Response> {
               auto body = SIRA_TRY(body_object(req));
               SIRA_CHECK(json::only_fields(body, {"name", "email", "roles"}));
               auth::NewUser u;
               u.name = SIRA_TRY(json::required_string(body, "name", 200));
               u.email = SIRA_TRY(json::optional_string(body, "email", 320)).value_or("");
               auto roles = SIRA_TRY(roles_field(body));
               if (!roles)
                 return fail(ErrorCode::kInvalidArgument, "field \"roles\" is required", "roles");
               u.roles = *roles;
               auto user = SIRA_TRY(s.auth.create_user(p, u));
               auto r = json(201, user_json(user));
               r.set_header("Location", "/api/v1/users/" + user.id);
               return r;
             }));
  router.add("GET", "/api/v1/users/{id}",
             authed(s, Effect::kRead, [&s](http::Request& req, const auth::Principal& p)
                                          -> Result<http::Response> {
               return json(200, user_json(SIRA_TRY(s.auth.get_user(p, req.path_param("id")))));
             }));
  router.add("PATCH", "/api/v1/users/{id}",
             authed(s, Effect::kWrite, [&s](http::Request& req, const auth::Principal& p)
                                           -> Result<http::Response> {
               auto body = SIRA_TRY(body_object(req));
               SIRA_CHECK(json::only_fields(body, {"name", "email", "roles"}));
               auth::UserUpdate u;
               u.name = SIRA_TRY(json::optional_string(body, "name", 200));
               u.email = SIRA_TRY(json::optional_string(body, "email", 320));
               u.roles = SIRA_TRY(roles_field(body));
               return json(200, user_json(SIRA_TRY(s.auth.update_user(p, req.path_param("id"), u))));
             }));
  router.add("DELETE", "/api/v1/users/{id}",
             authed(s, Effect::kWrite, [&s](http::Request& req, const auth::Principal& p)
                                           -> Result<http::Response> {
               SIRA_CHECK(s.auth.delete_user(p, req.path_param("id")));
               http::Response r;
               r.status = 204;
               r.content_type.clear();
               return r;
             }));

  // ---- tokens ----
  router.add("GET", "/api/v1/tokens",
             authed(s, Effect::kRead, [&s](http::Request& req, const auth::Principal& p)
                                          -> Result<http::Response> {
               auto page = SIRA_TRY(s.auth.list_tokens(p, SIRA_TRY(page_request(req))));
               int64_t now = s.clock.now_ms();
               return json(200, page_json(page, [now](const auth::Token& t) { return token_json(t, now); }));
             }));
  router.add("POST", "/api/v1/tokens",
             authed(s, Effect::kWrite, [&s](http::Request& req, const auth::Principal& p)
                                           -> Result<http::Response> {
               auto body = SIRA_TRY(body_object(req));
               SIRA_CHECK(json::only_fields(
                   body, {"name", "roles", "user_id", "expires_at", "expires_in_seconds"}));
               auth::NewToken t;
               t.name = SIRA_TRY(json::required_string(body, "name", 200));
               auto roles = SIRA_TRY(roles_field(body));
               if (!roles)
                 return fail(ErrorCode::kInvalidArgument, "field \"roles\" is required", "roles");
               t.roles = *roles;
               t.user_id = SIRA_TRY(json::optional_string(body, "user_id", 64));
               t.expires_at = SIRA_TRY(expiry_field(body, s.clock));
               auto c = SIRA_TRY(s.auth.create_token(p, t));
               auto r = json(201, created_token_json(c, s.clock.now_ms()));
               r.set_header("Location", "/api/v1/tokens/" + c.token.id);
               r.set_header("Cache-Control", "no-store");
               return r;
             }));
  router.add("GET", "/api/v1/tokens/{id}",
             authed(s, Effect::kRead, [&s](http::Request& req, const auth::Principal& p)
                                          -> Result<http::Response> {
               return json(200, token_json(SIRA_TRY(s.auth.get_token(p, req.path_param("id"))),
                                           s.clock.now_ms()));
             }));
  router.add("DELETE", "/api/v1/tokens/{id}",
             authed(s, Effect::kWrite, [&s](http::Request& req, const auth::Principal& p)
                                           -> Result<http::Response> {
               SIRA_CHECK(s.auth.revoke_token(p, req.path_param("id")));
               http::Response r;
               r.status = 204;
               r.content_type.clear();
               return r;
             }));
}

}  // namespace sira::api
