// Router matching, captures, 404/405 problems and handler exceptions.
#include "http/router.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <stdexcept>

namespace sira::http {
namespace {

Request make(std::string method, std::string path) {
  Request r;
  r.method = std::move(method);
  r.path = path;
  r.target = std::move(path);
  return r;
}

Response text(std::string body) {
  Response r;
  r.content_type = "text/plain";
  r.body = std::move(body);
  return r;
}

boost::json::object body_of(const Response& r) {
  return boost::json::parse(r.body).as_object();
}

TEST(HttpRouter, MatchesLiteralRoutes) {
  Router router;
  router.add("GET", "/healthz", [](Request&) { return text("ok"); });
  router.add("GET", "/", [](Request&) { return text("root"); });
  auto req = make("GET", "/healthz");
  Response res = router.dispatch(req);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "ok");
  EXPECT_EQ(req.route, "/healthz");
  auto root = make("GET", "/");
  EXPECT_EQ(router.dispatch(root).body, "root");
}

TEST(HttpRouter, FillsCapturesAndRoute) {
  Router router;
  router.add("GET", "/api/v1/users/{id}/tokens/{token}", [](Request& req) {
    return text(req.path_param("id") + "|" + req.path_param("token"));
  });
  auto req = make("GET", "/api/v1/users/usr_1/tokens/tok 2");
  Response res = router.dispatch(req);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "usr_1|tok 2");
  EXPECT_EQ(req.route, "/api/v1/users/{id}/tokens/{token}");
  EXPECT_EQ(req.path_params.size(), 2u);
  EXPECT_EQ(req.path_param("missing"), "");
}

TEST(HttpRouter, EncodedSlashStaysInsideCapture) {
  Router router;
  router.add("GET", "/files/{name}", [](Request& r) { return text(r.path_param("name")); });
  Request req;
  req.method = "GET";
  req.target = "/files/a%2Fb%20c?x=1";
  req.path = "/files/a/b c";  // what the server decodes
  Response res = router.dispatch(req);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "a/b c");
  // A hand-built request without a target routes on its path.
  auto plain = make("GET", "/files/x");
  plain.target.clear();
  EXPECT_EQ(router.dispatch(plain).body, "x");
}

TEST(HttpRouter, CaptureDoesNotMatchEmptyOrExtraSegments) {
  Router router;
  router.add("GET", "/items/{id}", [](Request&) { return text("item"); });
  for (const char* path : {"/items/", "/items", "/items/a/b", "/items/a/"}) {
    auto req = make("GET", path);
    EXPECT_EQ(router.dispatch(req).status, 404) << path;
  }
}

TEST(HttpRouter, LiteralSegmentBeatsCaptureWhateverTheOrder) {
  Router router;
  router.add("GET", "/users/{id}", [](Request& r) { return text("id=" + r.path_param("id")); });
  router.add("GET", "/users/me", [](Request&) { return text("me"); });
  auto me = make("GET", "/users/me");
  EXPECT_EQ(router.dispatch(me).body, "me");
  EXPECT_EQ(me.route, "/users/me");
  auto other = make("GET", "/users/u1");
  EXPECT_EQ(router.dispatch(other).body, "id=u1");
}

TEST(HttpRouter, UnknownPathIsNotFoundProblem) {
  Router router;
  router.add("GET", "/a", [](Request&) { return text("a"); });
  auto req = make("GET", "/nope");
  Response res = router.dispatch(req);
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(res.content_type, "application/problem+json");
  auto body = body_of(res);
  EXPECT_EQ(body.at("type").as_string(), "https://sira.dev/problems/not-found");
  EXPECT_EQ(body.at("status").as_int64(), 404);
  EXPECT_EQ(body.at("instance").as_string(), "/nope");
  EXPECT_TRUE(req.route.empty());
}

TEST(HttpRouter, OtherMethodIsMethodNotAllowedWithAllow) {
  Router router;
  router.add("GET", "/things/{id}", [](Request&) { return text("get"); });
  router.add("DELETE", "/things/{id}", [](Request&) { return text("delete"); });
  router.add("POST", "/things", [](Request&) { return text("post"); });
  auto req = make("PUT", "/things/t1");
  Response res = router.dispatch(req);
  EXPECT_EQ(res.status, 405);
  auto body = body_of(res);
  EXPECT_EQ(body.at("type").as_string(), "https://sira.dev/problems/method-not-allowed");
  std::string allow;
  for (const auto& [n, v] : res.headers) {
    if (n == "Allow") allow = v;
  }
  EXPECT_EQ(allow, "DELETE, GET");
  EXPECT_EQ(req.route, "/things/{id}");
}

TEST(HttpRouter, ThrowingHandlerBecomesInternalProblem) {
  Router router;
  router.add("GET", "/boom", [](Request&) -> Response { throw std::runtime_error("secret"); });
  router.add("GET", "/boom2", [](Request&) -> Response { throw 42; });
  auto req = make("GET", "/boom");
  Response res = router.dispatch(req);
  EXPECT_EQ(res.status, 500);
  auto body = body_of(res);
  EXPECT_EQ(body.at("type").as_string(), "https://sira.dev/problems/internal");
  EXPECT_EQ(res.body.find("secret"), std::string::npos);  // no internals leak to clients
  auto req2 = make("GET", "/boom2");
  EXPECT_EQ(router.dispatch(req2).status, 500);
}

TEST(HttpProblem, SerializesAndEscapes) {
  Response res =
      problem(400, "invalid-argument", "Invalid \"argument\"", "line\nbreak \\ ok", "/x?y");
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(res.content_type, "application/problem+json");
  auto body = body_of(res);
  EXPECT_EQ(body.at("type").as_string(), "https://sira.dev/problems/invalid-argument");
  EXPECT_EQ(body.at("title").as_string(), "Invalid \"argument\"");
  EXPECT_EQ(body.at("detail").as_string(), "line\nbreak \\ ok");
  EXPECT_EQ(body.at("instance").as_string(), "/x?y");
  EXPECT_EQ(body.at("status").as_int64(), 400);
}

TEST(HttpProblem, FromError) {
  Response res = problem(Error(ErrorCode::kConflict, "name taken"));
  EXPECT_EQ(res.status, 409);
  auto body = body_of(res);
  EXPECT_EQ(body.at("type").as_string(), "https://sira.dev/problems/conflict");
  EXPECT_EQ(body.at("detail").as_string(), "name taken");
  EXPECT_FALSE(body.contains("instance"));
}

TEST(HttpMessage, Accessors) {
  Request req;
  req.headers["x-thing"] = "1";
  req.query.emplace("a", "1");
  req.query.emplace("a", "2");
  EXPECT_EQ(req.header("x-thing"), "1");
  EXPECT_EQ(req.header("X-Thing"), "1");
  EXPECT_FALSE(req.header("x-other"));
  EXPECT_EQ(req.query_param("a"), "1");
  EXPECT_EQ(req.query_params("a"), (std::vector<std::string>{"1", "2"}));
  EXPECT_FALSE(req.query_param("b"));

  Response res;
  res.set_header("Cache-Control", "no-store");
  res.set_header("cache-control", "max-age=1");
  ASSERT_EQ(res.headers.size(), 1u);
  EXPECT_EQ(res.headers[0].second, "max-age=1");
}

}  // namespace
}  // namespace sira::http
