// Outbound HTTP/1.1 client on Boost.Beast for notifiers (webhooks, Slack, PagerDuty): one request
// per connection over http:// or https://, with a deadline on the whole exchange and a cap on the
// response size. No redirects, no connection pooling, no cookies, no proxies.
//
// A Client owns an io_context served by one background thread and a TLS context (the system CA
// store, peer and host name verification on, SNI sent, TLS 1.2 or newer). send() is thread-safe:
// several threads may call it at once; each call uses its own socket. Destroying a Client while a
// send() is in progress on it is a caller bug. No Boost types leak here.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace sira::http {

struct ClientRequest {
  std::string method = "POST";
  // http:// or https://; the host is a name, an IPv4 literal or a bracketed IPv6 literal,
  // with an optional port, then path and query. A fragment is dropped.
  std::string url;
  // Extra headers (Content-Type, Authorization...); a name given here replaces the default
  // (Host, User-Agent). Content-Length, Transfer-Encoding and Connection are set by the client
  // and ignored here. Names must be tokens; values must not hold CR, LF or NUL.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int64_t timeout_ms = 10000;            // whole exchange: resolve + connect + TLS + write + read
  int64_t max_response_bytes = 1 << 20;  // response body cap
};

struct ClientResponse {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names, received order

  // First value of a header; name in lower case.
  std::optional<std::string> header(std::string_view name) const;
};

class Client {
 public:
  Client();  // User-Agent "sira/0.1"
  explicit Client(std::string user_agent);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Runs one exchange. Any HTTP status (including 4xx/5xx) is a response, not an error.
  // Errors: kInvalidArgument for a bad URL, scheme, method, header or limit; kUnavailable for
  // DNS, connect, TLS, timeout and I/O failures and for a response over max_response_bytes,
  // with a detail naming the step and host:port but never the path or query, which may hold a
  // webhook secret ("connect to 127.0.0.1:9 refused", "timed out after 300 ms reading the
  // response from 127.0.0.1:8080"). Returns within timeout_ms plus a short grace even when
  // the system resolver hangs.
  Result<ClientResponse> send(const ClientRequest& req);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A parsed http(s) URL. host has no brackets ("::1") and is lower-case; port is always set
// ("80"/"443" by default); target is path + "?" + query, at least "/".
struct Url {
  std::string scheme, host, port, target;
};

// kInvalidArgument for another scheme, a missing or malformed host, a port outside 1..65535,
// credentials in the URL, or whitespace/control/non-ASCII characters; the detail does not
// repeat the URL. Exposed for tests.
Result<Url> parse_url(std::string_view url);

}  // namespace sira::http
