// Route table: (method, pattern) -> handler. Patterns are literal segments and "{name}"
// captures, e.g. "/api/v1/users/{id}". Built once at start-up, then read-only: dispatch() is
// thread-safe after the last add().
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "http/message.h"

namespace sira::http {

using Handler = std::function<Response(Request&)>;

class Router {
 public:
  void add(std::string method, std::string pattern, Handler handler);

  // Finds the route for req.method/req.path, fills req.path_params and req.route, and runs it.
  // Unknown path -> 404 problem; known path with another method -> 405 problem with Allow.
  Response dispatch(Request& req) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
};

// A problem+json (RFC 9457) response: type "https://sira.dev/problems/<slug>".
Response problem(int status, std::string_view slug, std::string_view title, std::string_view detail,
                 std::string_view instance = {});
// The problem response of an Error: status, slug and title from error_status/slug/title(),
// and a "field" member naming the offending field when the error has one.
Response problem(const Error& error, std::string_view instance = {});

}  // namespace sira::http
