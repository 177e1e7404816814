// Plain HTTP request/response values handed between the server and route handlers. No
// Boost.Beast types leak here, so src/api/ compiles without Beast. Header names are stored
// lower-case. Values are owned copies; not shared between threads.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sira::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request target: path + "?" + query
  std::string path;    // percent-decoded path without the query
  std::multimap<std::string, std::string> query;         // decoded query parameters
  std::map<std::string, std::string> headers;            // lower-case names
  std::map<std::string, std::string> path_params;        // filled by the router: {id} -> value
  std::string body;
  std::string remote_address;
  std::string route;     // matched route pattern, e.g. "/api/v1/users/{id}"
  std::string trace_id;  // from traceparent, or generated

  std::optional<std::string> header(std::string_view name) const;  // name in lower case
  std::optional<std::string> query_param(std::string_view name) const;
  std::vector<std::string> query_params(std::string_view name) const;
  std::string path_param(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::string body;

  void set_header(std::string name, std::string value);

  // Set by a handler whose answer waits on work finishing elsewhere (a group commit): the server
  // calls it once with a completion, and sends the Response that completion receives (from any
  // thread) instead of this one. The connection's thread serves other requests meanwhile. A
  // completion not called within ServerOptions::deferred_timeout_ms (a minute) answers 503.
  using Completion = std::function<void(Response)>;
  std::function<void(Completion)> deferred;
};

}  // namespace sira::http
