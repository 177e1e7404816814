// Helpers shared by the route files: authentication wrapper, problem+json from Error, JSON
// bodies, pagination and Idempotency-Key handling. Private to src/api/.
#pragma once

#include <boost/json.hpp>
#include <functional>
#include <optional>
#include <string>

#include "api/routes.h"
#include "auth/service.h"
#include "core/error.h"
#include "http/message.h"

namespace sira::api {

namespace bj = boost::json;

using AuthedHandler =
    std::function<Result<http::Response>(http::Request&, const auth::Principal&)>;

enum class Effect { kRead, kWrite };

// Authenticates the bearer token, then runs `fn`. Writes honour Idempotency-Key. Errors become
// problem+json responses.
http::Handler authed(Services& s, Effect effect, AuthedHandler fn);

http::Response problem_from(const Error& e, const http::Request& req);
http::Response json(int status, const bj::value& v);

// Parses the body as a JSON object after checking the content type.
Result<bj::object> body_object(const http::Request& req);

Result<auth::PageRequest> page_request(const http::Request& req);
Result<std::optional<int64_t>> int_param(const http::Request& req, std::string_view name);
Result<int64_t> required_int_param(const http::Request& req, std::string_view name);

template <class T, class F>
bj::object page_json(const auth::Page<T>& page, F&& to_json) {
  bj::array items;
  for (const auto& item : page.items) items.push_back(to_json(item));
  bj::object o;
  o["items"] = std::move(items);
  o["next_cursor"] = page.next_cursor ? bj::value(*page.next_cursor) : bj::value(nullptr);
  return o;
}

bj::value time_or_null(const std::optional<int64_t>& ms);

}  // namespace sira::api
