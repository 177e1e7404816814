// Outbound HTTP/1.1 client: one C++20 coroutine per send() on its own strand of the client's
// io_context; the calling thread waits on a future with a deadline.
#include "http/client.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <exception>
#include <future>
#include <thread>

#include "core/log.h"
#include "http/internal/io_runtime.h"
#include "http/internal/parse.h"

namespace sira::http {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kDefaultUserAgent = "sira/0.1";
constexpr uint32_t kMaxResponseHeaderBytes = 64 * 1024;
// send() gives the exchange this much longer than its deadline before answering "timed out"
// itself: only a system resolver stuck in getaddrinfo (which cannot be cancelled) gets there.
constexpr auto kResolverGrace = std::chrono::seconds(2);

enum class Step { kResolve, kConnect, kTls, kWrite, kRead };

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f) return false;
    if (std::string_view("\"(),/:;<=>?@[\\]{}").find(static_cast<char>(c)) !=
        std::string_view::npos) {
      return false;
    }
  }
  return true;
}

bool is_field_value(std::string_view v) {
  for (char c : v) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

bool is_ip_literal(const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Everything a coroutine needs to name the peer in its messages.
struct Peer {
  Url url;
  std::string authority;  // "host:port", IPv6 in brackets
  int64_t timeout_ms = 0;
  uint64_t max_body = 0;
  bool head = false;
};

std::string step_phrase(Step step, const Peer& p) {
  switch (step) {
    case Step::kResolve:
      return "resolving " + p.url.host;
    case Step::kConnect:
      return "connecting to " + p.authority;
    case Step::kTls:
      return "in the TLS handshake with " + p.authority;
    case Step::kWrite:
      return "sending the request to " + p.authority;
    case Step::kRead:
      return "reading the response from " + p.authority;
  }
  return "talking to " + p.authority;
}

std::unexpected<Error> timed_out(Step step, const Peer& p) {
  return fail(ErrorCode::kUnavailable,
              "timed out after " + std::to_string(p.timeout_ms) + " ms " + step_phrase(step, p));
}

std::unexpected<Error> unavailable(std::string detail) {
  return fail(ErrorCode::kUnavailable, std::move(detail));
}

Result<bhttp::request<bhttp::string_body>> build_request(const ClientRequest& req, const Peer& p,
                                                         std::string_view user_agent) {
  if (!is_token(req.method)) {
    return fail(ErrorCode::kInvalidArgument, "invalid HTTP method '" + req.method + "'", "method");
  }
  bhttp::request<bhttp::string_body> msg;
  msg.version(11);
  bhttp::verb verb = bhttp::string_to_verb(req.method);
  if (verb == bhttp::verb::unknown) {
    msg.method_string(req.method);
  } else {
    msg.method(verb);
  }
  msg.target(p.url.target);
  bool default_port = (p.url.scheme == "http" && p.url.port == "80") ||
                      (p.url.scheme == "https" && p.url.port == "443");
  std::string host =
      p.url.host.find(':') != std::string::npos ? "[" + p.url.host + "]" : p.url.host;
  if (!default_port) host += ":" + p.url.port;
  msg.set(bhttp::field::host, host);
  msg.set(bhttp::field::user_agent, user_agent);
  for (const auto& [name, value] : req.headers) {
    if (!is_token(name)) {
      return fail(ErrorCode::kInvalidArgument, "invalid header name '" + name + "'", "headers");
    }
    if (!is_field_value(value)) {
      return fail(ErrorCode::kInvalidArgument,
                  "header '" + name + "' holds a CR, LF or NUL character", "headers");
    }
    std::string lower = internal::ascii_lower(name);
    // Framing and connection handling belong to the client.
    if (lower == "content-length" || lower == "transfer-encoding" || lower == "connection") {
      continue;
    }
    msg.set(name, value);
  }
  // One exchange per connection: the server may close as soon as it has answered.
  msg.set(bhttp::field::connection, "close");
  msg.body() = req.body;
  if (!req.body.empty() || (verb != bhttp::verb::get && verb != bhttp::verb::head &&
                            verb != bhttp::verb::delete_ && verb != bhttp::verb::options)) {
    msg.content_length(req.body.size());
  }
  return msg;
}

// Called when the response cannot be read; maps Beast's codes to a sentence.
std::unexpected<Error> read_failed(beast::error_code ec, const Peer& p) {
  if (ec == beast::error::timeout) return timed_out(Step::kRead, p);
  if (ec == bhttp::error::body_limit) {
    return unavailable("response from " + p.authority + " exceeds the " +
                       std::to_string(p.max_body) + "-byte limit");
  }
  if (ec == bhttp::error::header_limit) {
    return unavailable("response headers from " + p.authority + " exceed " +
                       std::to_string(kMaxResponseHeaderBytes) + " bytes");
  }
  if (ec == bhttp::error::end_of_stream) {
    return unavailable(p.authority + " closed the connection without responding");
  }
  if (ec == bhttp::error::partial_message || ec == ssl::error::stream_truncated) {
    return unavailable(p.authority + " closed the connection in the middle of the response");
  }
  return unavailable("reading the response from " + p.authority + " failed: " + ec.message());
}

// Writes the request and reads one final response (interim 1xx answers are skipped).
template <class Stream>
asio::awaitable<Result<ClientResponse>> round_trip(Stream& stream,
                                                   bhttp::request<bhttp::string_body>& msg,
                                                   const Peer& p, std::atomic<Step>& step) {
  step = Step::kWrite;
  auto [wec, written] = co_await bhttp::async_write(stream, msg, kNoThrow);
  (void)written;
  if (wec == beast::error::timeout) co_return timed_out(Step::kWrite, p);
  if (wec) {
    co_return unavailable("sending the request to " + p.authority + " failed: " + wec.message());
  }

  step = Step::kRead;
  beast::flat_buffer buffer;
  for (;;) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(kMaxResponseHeaderBytes);
    parser.body_limit(p.max_body);
    if (p.head) parser.skip(true);
    auto [rec, read] = co_await bhttp::async_read(stream, buffer, parser, kNoThrow);
    (void)read;
    // A TLS peer that ends a close-delimited body without close_notify: take the body as
    // complete, like HTTP clients commonly do (a Content-Length or chunked body still has to
    // arrive in full, put_eof() reports partial_message otherwise).
    if (rec == ssl::error::stream_truncated && parser.is_header_done() && !parser.is_done()) {
      rec = {};
      parser.put_eof(rec);
    }
    if (rec) co_return read_failed(rec, p);
    auto& res = parser.get();
    int status = static_cast<int>(res.result_int());
    if (status >= 100 && status < 200 && status != 101) continue;
    ClientResponse out;
    out.status = status;
    for (const auto& field : res) {
      out.headers.emplace_back(internal::ascii_lower(field.name_string()),
                               std::string(field.value()));
    }
    out.body = std::move(res.body());
    co_return out;
  }
}

std::unexpected<Error> connect_failed(beast::error_code ec, const Peer& p) {
  if (ec == beast::error::timeout) return timed_out(Step::kConnect, p);
  if (ec == asio::error::connection_refused) {
    return unavailable("connect to " + p.authority + " refused");
  }
  return unavailable("connect to " + p.authority + " failed: " + ec.message());
}

std::unexpected<Error> handshake_failed(beast::error_code ec, SSL* ssl, const Peer& p) {
  if (ec == beast::error::timeout) return timed_out(Step::kTls, p);
  std::string reason = ec.message();
  long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    reason =
        std::string("certificate verification failed: ") + X509_verify_cert_error_string(verify);
  }
  return unavailable("TLS handshake with " + p.authority + " failed: " + reason);
}

// Resolves the host (IP literals skip the resolver), bounded by the deadline.
asio::awaitable<Result<std::vector<tcp::endpoint>>> resolve(const Peer& p,
                                                            SteadyClock::time_point deadline) {
  internal::Resolved r = co_await internal::resolve(p.url.host, p.url.port, deadline);
  if (r.timed_out) co_return timed_out(Step::kResolve, p);
  if (!r.error.empty()) co_return unavailable("cannot resolve " + p.url.host + ": " + r.error);
  co_return std::move(r.endpoints);
}

asio::awaitable<Result<ClientResponse>> exchange(Peer p, bhttp::request<bhttp::string_body> msg,
                                                 ssl::context& tls,
                                                 SteadyClock::time_point deadline,
                                                 std::shared_ptr<std::atomic<Step>> step) {
  auto endpoints = co_await resolve(p, deadline);
  if (!endpoints) co_return std::unexpected(endpoints.error());
  auto ex = co_await asio::this_coro::executor;

  if (p.url.scheme == "https") {
    beast::ssl_stream<beast::tcp_stream> stream(ex, tls);
    SSL* ssl = stream.native_handle();
    if (is_ip_literal(p.url.host)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), p.url.host.c_str());
    } else {
      // SNI is for names only (RFC 6066); SSL_set1_host makes verification check the name.
      SSL_set_tlsext_host_name(ssl, p.url.host.c_str());
      SSL_set1_host(ssl, p.url.host.c_str());
    }
    auto& lowest = beast::get_lowest_layer(stream);
    *step = Step::kConnect;
    lowest.expires_at(deadline);
    auto [cec, ep] = co_await lowest.async_connect(*endpoints, kNoThrow);
    (void)ep;
    if (cec) co_return connect_failed(cec, p);
    *step = Step::kTls;
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, kNoThrow);
    if (hec) {
      lowest.close();
      co_return handshake_failed(hec, ssl, p);
    }
    auto result = co_await round_trip(stream, msg, p, *step);
    // Single-use connection: no close_notify exchange, which a server may never answer.
    lowest.close();
    co_return result;
  }

  beast::tcp_stream stream(ex);
  *step = Step::kConnect;
  stream.expires_at(deadline);
  auto [cec, ep] = co_await stream.async_connect(*endpoints, kNoThrow);
  (void)ep;
  if (cec) co_return connect_failed(cec, p);
  auto result = co_await round_trip(stream, msg, p, *step);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream.close();
  co_return result;
}

}  // namespace

std::optional<std::string> ClientResponse::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return std::nullopt;
}

Result<Url> parse_url(std::string_view url) {
  // The URL itself stays out of messages: webhook URLs often carry their secret in the path.
  auto invalid = [](std::string why) { return fail(ErrorCode::kInvalidArgument, why, "url"); };
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return invalid("URL must start with http:// or https://");
  Url out;
  out.scheme = internal::ascii_lower(url.substr(0, sep));
  if (out.scheme != "http" && out.scheme != "https") {
    return invalid("unsupported URL scheme '" + out.scheme + "' (want http or https)");
  }
  for (unsigned char c : url) {
    if (c <= 0x20 || c >= 0x7f) {
      return invalid("URL holds whitespace, control or non-ASCII characters");
    }
  }
  std::string_view rest = url.substr(sep + 3);
  size_t auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view target =
      auth_end == std::string_view::npos ? std::string_view() : rest.substr(auth_end);
  if (size_t hash = target.find('#'); hash != std::string_view::npos) {
    target = target.substr(0, hash);
  }
  if (authority.find('@') != std::string_view::npos) {
    return invalid("credentials in the URL are not supported (use an Authorization header)");
  }
  if (authority.empty()) return invalid("URL has no host");

  std::string_view host;
  std::string_view port;
  bool has_port = false;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return invalid("unterminated IPv6 literal in URL");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return invalid("unexpected characters after the IPv6 literal");
      port = after.substr(1);
      has_port = true;
    }
    beast::error_code ec;
    asio::ip::make_address_v6(std::string(host), ec);
    if (ec || host.find('%') != std::string_view::npos) {
      return invalid("invalid IPv6 literal in URL");
    }
  } else {
    size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      has_port = true;
      if (port.find(':') != std::string_view::npos) {
        return invalid("IPv6 literals in URLs must be in brackets");
      }
    }
    if (host.empty()) return invalid("URL has no host");
    for (char c : host) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '.' || c == '_';
      if (!ok) return invalid("invalid character in URL host");
    }
  }
  if (host.empty()) return invalid("URL has no host");
  out.host = internal::ascii_lower(host);

  if (has_port && !port.empty()) {
    int n = all_digits(port) && port.size() <= 5 ? std::stoi(std::string(port)) : 0;
    if (n < 1 || n > 65535) {
      return invalid("invalid port '" + std::string(port) + "' in URL (want 1..65535)");
    }
    out.port = std::to_string(n);  // "080" -> "80"
  } else {
    out.port = out.scheme == "https" ? "443" : "80";
  }

  if (target.empty() || target.front() == '?') {
    out.target = "/" + std::string(target);
  } else {
    out.target = std::string(target);
  }
  return out;
}

struct Client::Impl {
  explicit Impl(std::string agent) : user_agent(std::move(agent)) {}

  std::string user_agent;
  internal::IoRuntime rt{"http client"};
};

Client::Client() : Client(std::string(kDefaultUserAgent)) {}

Client::Client(std::string user_agent) : impl_(std::make_unique<Impl>(std::move(user_agent))) {}

Client::~Client() = default;

Result<ClientResponse> Client::send(const ClientRequest& req) {
  if (req.timeout_ms <= 0) {
    return fail(ErrorCode::kInvalidArgument, "timeout_ms must be positive", "timeout_ms");
  }
  if (req.max_response_bytes <= 0) {
    return fail(ErrorCode::kInvalidArgument, "max_response_bytes must be positive",
                "max_response_bytes");
  }
  Peer p;
  p.url = SIRA_TRY(parse_url(req.url));
  p.authority = (p.url.host.find(':') != std::string::npos ? "[" + p.url.host + "]" : p.url.host) +
                ":" + p.url.port;
  p.timeout_ms = req.timeout_ms;
  p.max_body = static_cast<uint64_t>(req.max_response_bytes);
  p.head = req.method == "HEAD";

  auto deadline = SteadyClock::now() + std::chrono::milliseconds(req.timeout_ms);
  auto step = std::make_shared<std::atomic<Step>>(Step::kResolve);
  std::future<Result<ClientResponse>> done;
  try {
    auto msg = build_request(req, p, impl_->user_agent);
    if (!msg) return std::unexpected(msg.error());
    done =
        asio::co_spawn(asio::make_strand(impl_->rt.ioc),
                       exchange(p, std::move(*msg), impl_->rt.tls, deadline, step), asio::use_future);
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInternal, std::string("http client: ") + e.what());
  }
  if (done.wait_until(deadline + kResolverGrace) != std::future_status::ready) {
    // The exchange keeps its own state and finishes (or is dropped with the client) later.
    return timed_out(step->load(), p);
  }
  try {
    return done.get();
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInternal,
                "http client failed talking to " + p.authority + ": " + e.what());
  }
}

}  // namespace sira::http
