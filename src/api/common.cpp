// Shared route plumbing: auth, problems, bodies, pagination, idempotency.
#include "api/common.h"

#include <charconv>

#include "core/clock.h"
#include "core/crypto.h"
#include "core/json.h"
#include "http/router.h"

namespace sira::api {

http::Response problem_from(const Error& e, const http::Request& req) {
  auto r = http::problem(e, req.path);
  if (e.code == ErrorCode::kUnauthorized) r.set_header("WWW-Authenticate", "Bearer realm=\"sira\"");
  return r;
}

http::Response json(int status, const bj::value& v) {
  http::Response r;
  r.status = status;
  r.body = bj::serialize(v);
  return r;
}

bj::value time_or_null(const std::optional<int64_t>& ms) {
  if (!ms) return nullptr;
  return bj::value(format_rfc3339_ms(*ms));
}

Result<bj::object> body_object(const http::Request& req) {
  auto ct = req.header("content-type");
  std::string type = ct ? *ct : "";
  auto semi = type.find(';');
  if (semi != std::string::npos) type.resize(semi);
  while (!type.empty() && type.back() == ' ') type.pop_back();
  for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (type != "application/json")
    return fail(ErrorCode::kUnsupportedMediaType,
                "Content-Type must be application/json, got \"" + (ct ? *ct : "") + "\"");
  return json::parse_object(req.body);
}

Result<std::optional<int64_t>> int_param(const http::Request& req, std::string_view name) {
  auto v = req.query_param(name);
  if (!v) return std::optional<int64_t>();
  int64_t n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || p != v->data() + v->size() || v->empty())
    return fail(ErrorCode::kInvalidArgument,
                "query parameter " + std::string(name) + " must be an integer", std::string(name));
  return std::optional<int64_t>(n);
}

Result<int64_t> required_int_param(const http::Request& req, std::string_view name) {
  auto v = SIRA_TRY(int_param(req, name));
  if (!v)
    return fail(ErrorCode::kInvalidArgument, "query parameter " + std::string(name) + " is required",
                std::string(name));
  return *v;
}

Result<auth::PageRequest> page_request(const http::Request& req) {
  auth::PageRequest p;
  auto limit = SIRA_TRY(int_param(req, "limit"));
  if (limit) {
    if (*limit < 1 || *limit > 500)
      return fail(ErrorCode::kInvalidArgument, "limit must be between 1 and 500", "limit");
    p.limit = static_cast<int>(*limit);
  }
  p.cursor = req.query_param("cursor");
  return p;
}

http::Handler authed(Services& s, Effect effect, AuthedHandler fn) {
  return [&s, effect, fn = std::move(fn)](http::Request& req) -> http::Response {
    auto authz = req.header("authorization");
    if (!authz)
      return problem_from(Error(ErrorCode::kUnauthorized, "missing Authorization: Bearer token"),
                          req);
    std::string_view v(*authz);
    if (v.size() < 7 || !(v.substr(0, 7) == "Bearer " || v.substr(0, 7) == "bearer "))
      return problem_from(
          Error(ErrorCode::kUnauthorized, "Authorization must use the Bearer scheme"), req);
    auto principal = s.auth.authenticate(v.substr(7));
    if (!principal) return problem_from(principal.error(), req);

    auto run = [&]() -> http::Response {
      auto r = fn(req, *principal);
      if (!r) return problem_from(r.error(), req);
      return std::move(*r);
    };
    auto key = req.header("idempotency-key");
    if (effect == Effect::kRead || !key) return run();
    if (key->empty() || key->size() > 255)
      return problem_from(Error(ErrorCode::kInvalidArgument,
                                "Idempotency-Key must be 1 to 255 characters", "Idempotency-Key"),
                          req);

    Hash256 h = sha256(req.method + "\n" + req.path + "\n" + req.body);
    // Keys are scoped to the calling token: a replay never hands one caller's answer to another.
    std::string scoped_key = principal->actor() + ":" + *key;
    auto claimed = s.idempotency.claim(principal->tenant_id, scoped_key, hex_encode(h));
    if (!claimed) return problem_from(claimed.error(), req);
    if (*claimed) {
      http::Response r;
      r.status = (*claimed)->status;
      r.content_type = (*claimed)->content_type;
      r.body = (*claimed)->body;
      r.set_header("Idempotent-Replayed", "true");
      return r;
    }
    http::Response r = run();
    bool secret = false;
    std::string location;
    for (const auto& [name, value] : r.headers) {
      if (name == "Cache-Control" && value == "no-store") secret = true;
      if (name == "Location") location = value;
    }
    if (secret) {
      // A response carrying a secret shown once (a new token) is never stored: a replay learns
      // that the request was done and where its result lives, not the secret.
      auto replay = problem_from(
          Error(ErrorCode::kConflict,
                "this request was already processed; its response held a secret that is shown "
                "only once" +
                    (location.empty() ? std::string() : " (created " + location + ")")),
          req);
      s.idempotency.complete(principal->tenant_id, scoped_key,
                             {replay.status, replay.content_type, replay.body});
    } else {
      s.idempotency.complete(principal->tenant_id, scoped_key, {r.status, r.content_type, r.body});
    }
    return r;
  };
}

}  // namespace sira::api
