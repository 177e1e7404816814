// HTTP/1.1 server on Boost.Beast and C++20 coroutines: one coroutine per connection, each on its
// own strand; an acceptor coroutine and the stop/drain logic share the server strand.
#include "http/server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <csignal>
#include <exception>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "core/log.h"
#include "http/internal/parse.h"

namespace sira::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr size_t kReadChunk = 16 * 1024;
// How long a connection we close keeps reading (and discarding) what the client still sends,
// so that our last response is not destroyed by a TCP reset.
constexpr auto kLingerTimeout = std::chrono::seconds(1);
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(50);

// Bounded label values: an unknown method token from a client must not create new series.
std::string method_label(std::string_view m) {
  static constexpr std::string_view kKnown[] = {"GET",  "POST",    "PUT",   "PATCH",  "DELETE",
                                                "HEAD", "OPTIONS", "TRACE", "CONNECT"};
  for (auto k : kKnown) {
    if (m == k) return std::string(m);
  }
  return "other";
}

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

// Header values from handlers must not split the response.
std::string field_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c != '\r' && c != '\n' && c != '\0') out.push_back(c);
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && internal::ascii_lower(a) == internal::ascii_lower(b);
}

std::string format_endpoint(const tcp::endpoint& ep) {
  if (ep.address().is_v6())
    return "[" + ep.address().to_string() + "]:" + std::to_string(ep.port());
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

std::string format_ms(SteadyClock::duration d) {
  double ms = std::chrono::duration<double, std::milli>(d).count();
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", ms);
  return buf;
}

void log_exception(std::string_view what, std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    log_error(what, {{"error", ex.what()}});
  } catch (...) {
    log_error(what, {{"error", "unknown exception"}});
  }
}

struct Connection {
  explicit Connection(tcp::socket s) : stream(std::move(s)) {}
  beast::tcp_stream stream;
  std::string remote;
  // Touched only on the connection's strand.
  bool idle = true;      // waiting for the first byte of a request
  bool closing = false;  // the server is stopping: answer with Connection: close, then close
};

// One request/response exchange as seen by metrics and the access log.
struct Exchange {
  Request req;
  std::string raw_path;  // percent-encoded path, for the access log
  std::string trace_flags = "01";
  std::string request_id;
  unsigned version = 11;
  SteadyClock::time_point start = SteadyClock::now();
};

}  // namespace

struct Server::Impl {
  Impl(ServerOptions o, const Router& r, MetricsRegistry& m)
      : options(std::move(o)),
        router(r),
        metrics(m),
        ioc(std::max(1, options.threads)),
        strand(asio::make_strand(ioc)),
        acceptor(strand),
        signals(strand),
        drain_timer(strand) {
    open_connections = &metrics.gauge("http_open_connections", "Open HTTP connections");
    rejected_connections =
        &metrics.counter("http_connections_rejected_total",
                         "Connections refused with 503 because of max_connections");
  }

  ~Impl() { shutting_down = true; }

  ServerOptions options;
  const Router& router;
  MetricsRegistry& metrics;
  Gauge* open_connections = nullptr;
  Counter* rejected_connections = nullptr;

  // Declared before ioc: coroutine frames destroyed with the io_context unregister here.
  std::mutex mu;
  std::unordered_set<std::shared_ptr<Connection>> connections;  // guarded by mu
  std::vector<std::function<void()>> stop_callbacks;            // guarded by mu
  std::atomic<int64_t> active{0};
  std::atomic<bool> stopping{false};
  std::atomic<bool> shutting_down{false};
  bool stop_begun = false;  // strand only
  std::string bound_address;

  asio::io_context ioc;
  asio::strand<asio::io_context::executor_type> strand;
  tcp::acceptor acceptor;
  asio::signal_set signals;
  asio::steady_timer drain_timer;

  Result<std::string> bind();
  void run();
  void begin_stop();
  void force_close_all();
  void unregister(const std::shared_ptr<Connection>& c);

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> session(std::shared_ptr<Connection> c);
  asio::awaitable<void> reject(std::shared_ptr<Connection> c);
  asio::awaitable<bool> respond(Connection& c, Exchange& ex, Response res, bool keep_alive,
                                bool record);
  asio::awaitable<void> linger_close(Connection& c);
  // Waits (without blocking the thread) for a deferred response's completion.
  asio::awaitable<Response> await_deferred(Connection& c,
                                           std::function<void(Response::Completion)> start);
  Response handle(Exchange& ex, bhttp::request<bhttp::string_body>&& msg, const Connection& c);
  void record(const Exchange& ex, int status, size_t bytes);

  std::chrono::seconds secs(int64_t v) const {
    return std::chrono::seconds(std::max<int64_t>(v, 1));
  }
};

// ---------------------------------------------------------------------------------------------
// Binding and running

Result<std::string> Server::Impl::bind() {
  if (acceptor.is_open()) return bound_address;
  const std::string& listen = options.listen;
  std::string host;
  std::string port;
  if (!listen.empty() && listen.front() == '[') {
    size_t close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return fail(ErrorCode::kConfig, "listen address must be [ipv6]:port: " + listen, "listen");
    }
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    size_t colon = listen.rfind(':');
    if (colon == std::string::npos) {
      return fail(ErrorCode::kConfig, "listen address must be host:port: " + listen, "listen");
    }
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  if (host.empty() || port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535) {
    return fail(ErrorCode::kConfig, "invalid listen address: " + listen, "listen");
  }
  auto port_num = static_cast<unsigned short>(std::stoi(port));

  beast::error_code ec;
  tcp::endpoint endpoint;
  auto address = asio::ip::make_address(host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, port_num);
  } else {
    tcp::resolver resolver(ioc);
    auto results = resolver.resolve(host, port, ec);
    if (ec || results.empty()) {
      return fail(ErrorCode::kConfig, "cannot resolve listen host " + host + ": " + ec.message(),
                  "listen");
    }
    endpoint = results.begin()->endpoint();
  }

  auto failed = [&](std::string_view step) {
    beast::error_code ignored;
    acceptor.close(ignored);
    return fail(ErrorCode::kIo,
                "cannot listen on " + listen + " (" + std::string(step) + "): " + ec.message(),
                "listen");
  };
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return failed("open");
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return failed("reuse_address");
  acceptor.bind(endpoint, ec);
  if (ec) return failed("bind");
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return failed("listen");
  auto local = acceptor.local_endpoint(ec);
  if (ec) return failed("local_endpoint");
  bound_address = format_endpoint(local);
  return bound_address;
}

void Server::Impl::run() {
  if (!acceptor.is_open()) {
    auto bound = bind();
    if (!bound) {
      log_error("http server cannot start", {{"error", bound.error().detail}});
      return;
    }
  }
  if (options.handle_signals) {
    beast::error_code ec;
    signals.add(SIGINT, ec);
    signals.add(SIGTERM, ec);
    signals.async_wait([this](beast::error_code wait_ec, int signo) {
      if (wait_ec) return;
      log_info("signal received, stopping", {{"signal", std::to_string(signo)}});
      begin_stop();
    });
  }
  asio::co_spawn(strand, accept_loop(),
                 [](std::exception_ptr e) { log_exception("http accept loop failed", e); });
  log_info("http server listening",
           {{"address", bound_address}, {"threads", std::to_string(std::max(1, options.threads))}});

  auto worker = [this] {
    for (;;) {
      try {
        ioc.run();
        return;
      } catch (const std::exception& e) {
        log_error("http io thread caught exception", {{"error", e.what()}});
      } catch (...) {
        log_error("http io thread caught exception", {{"error", "unknown exception"}});
      }
    }
  };
  std::vector<std::thread> pool;
  for (int i = 1; i < options.threads; ++i) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  log_info("http server stopped");
}

void Server::Impl::begin_stop() {
  if (stop_begun) return;
  stop_begun = true;
  stopping = true;
  beast::error_code ec;
  acceptor.close(ec);
  signals.cancel(ec);
  signals.clear(ec);
  log_info("http server draining", {{"open_connections", std::to_string(active.load())}});

  std::vector<std::function<void()>> callbacks;
  std::vector<std::shared_ptr<Connection>> open;
  {
    std::lock_guard lock(mu);
    callbacks = stop_callbacks;
    open.assign(connections.begin(), connections.end());
  }
  for (auto& cb : callbacks) {
    try {
      cb();
    } catch (const std::exception& e) {
      log_error("on_stop callback failed", {{"error", e.what()}});
    } catch (...) {
      log_error("on_stop callback failed", {{"error", "unknown exception"}});
    }
  }
  // Idle keep-alive connections close now; busy ones answer with Connection: close.
  for (auto& c : open) {
    asio::post(c->stream.get_executor(), [c] {
      c->closing = true;
      if (c->idle) c->stream.cancel();
    });
  }
  if (active.load() == 0) return;
  drain_timer.expires_after(secs(options.drain_timeout_seconds));
  drain_timer.async_wait([this](beast::error_code wait_ec) {
    if (wait_ec) return;
    log_warn("http drain timeout, closing remaining connections",
             {{"open_connections", std::to_string(active.load())}});
    force_close_all();
  });
}

void Server::Impl::force_close_all() {
  std::vector<std::shared_ptr<Connection>> open;
  {
    std::lock_guard lock(mu);
    open.assign(connections.begin(), connections.end());
  }
  for (auto& c : open) {
    asio::post(c->stream.get_executor(), [c] {
      c->closing = true;
      beast::error_code ec;
      c->stream.socket().close(ec);
    });
  }
}

void Server::Impl::unregister(const std::shared_ptr<Connection>& c) {
  {
    std::lock_guard lock(mu);
    connections.erase(c);
  }
  open_connections->add(-1);
  if (--active == 0 && stopping.load() && !shutting_down.load()) {
    // The last connection is gone: end the drain now rather than at the timeout.
    asio::post(strand, [this] { drain_timer.cancel(); });
  }
}

// ---------------------------------------------------------------------------------------------
// Connections

asio::awaitable<void> Server::Impl::accept_loop() {
  while (!stopping.load()) {
    auto [ec, peer] = co_await acceptor.async_accept(asio::make_strand(ioc), kNoThrow);
    if (stopping.load()) break;
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
      // EMFILE and friends: back off instead of spinning, keep serving open connections.
      log_warn("http accept failed", {{"error", ec.message()}});
      asio::steady_timer backoff(strand, kAcceptRetryDelay);
      co_await backoff.async_wait(kNoThrow);
      continue;
    }
    beast::error_code opt_ec;
    peer.set_option(tcp::no_delay(true), opt_ec);
    auto c = std::make_shared<Connection>(tcp::socket(std::move(peer)));
    auto remote = c->stream.socket().remote_endpoint(opt_ec);
    if (!opt_ec) c->remote = remote.address().to_string();

    if (active.load() >= options.max_connections) {
      rejected_connections->inc();
      asio::co_spawn(c->stream.get_executor(), reject(c),
                     [](std::exception_ptr e) { log_exception("http reject failed", e); });
      continue;
    }
    ++active;
    open_connections->add(1);
    {
      std::lock_guard lock(mu);
      connections.insert(c);
    }
    asio::co_spawn(c->stream.get_executor(), session(c),
                   [](std::exception_ptr e) { log_exception("http session failed", e); });
  }
}

asio::awaitable<void> Server::Impl::reject(std::shared_ptr<Connection> c) {
  Exchange ex;
  ex.request_id = internal::random_hex(16);
  ex.req.trace_id = internal::random_hex(16);
  ex.req.remote_address = c->remote;
  co_await respond(
      *c, ex, problem(Error(ErrorCode::kUnavailable, "too many open connections, retry later")),
      false, false);
  co_await linger_close(*c);
}

namespace {

// The problem to answer when reading a request failed, or nullopt to close silently (the peer
// went away, timed out, or the server is closing the socket).
std::optional<Error> read_failure(const beast::error_code& ec) {
  if (ec == bhttp::error::header_limit) {
    return Error(ErrorCode::kHeaderTooLarge, "request header block exceeds the server limit");
  }
  if (ec == bhttp::error::body_limit) {
    return Error(ErrorCode::kPayloadTooLarge, "request body exceeds the server limit");
  }
  if (ec.category() == beast::error_code(bhttp::error::bad_method).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message &&
      ec != bhttp::error::need_more && ec != bhttp::error::need_buffer) {
    return Error(ErrorCode::kInvalidArgument, "malformed HTTP request: " + ec.message());
  }
  return std::nullopt;
}

}  // namespace

asio::awaitable<void> Server::Impl::session(std::shared_ptr<Connection> c) {
  struct Unregister {
    Impl* self;
    std::shared_ptr<Connection> c;
    ~Unregister() { self->unregister(c); }
  } unregister_on_exit{this, c};

  beast::flat_buffer buffer;
  bool first = true;
  for (;;) {
    if (c->closing || stopping.load()) break;
    if (buffer.size() == 0) {
      // Idle: nothing of the next request has arrived. stop() may cancel this read.
      c->idle = true;
      c->stream.expires_after(
          secs(first ? options.request_timeout_seconds : options.idle_timeout_seconds));
      auto [ec, n] = co_await c->stream.async_read_some(buffer.prepare(kReadChunk), kNoThrow);
      c->idle = false;
      if (ec) break;
      buffer.commit(n);
    }
    c->idle = false;
    first = false;

    Exchange ex;
    ex.req.remote_address = c->remote;
    c->stream.expires_after(secs(options.request_timeout_seconds));
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(
        std::clamp<int64_t>(options.max_header_bytes, 1, std::numeric_limits<uint32_t>::max())));
    parser.body_limit(static_cast<uint64_t>(std::max<int64_t>(options.max_body_bytes, 0)));

    auto [hec, hn] = co_await bhttp::async_read_header(c->stream, buffer, parser, kNoThrow);
    beast::error_code ec = hec;
    if (!ec && !parser.is_done()) {
      const auto& head = parser.get();
      if (head.version() >= 11 && iequals(head[bhttp::field::expect], "100-continue")) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        auto [wec, wn] = co_await asio::async_write(c->stream, asio::buffer(kContinue), kNoThrow);
        if (wec) break;
      }
      auto [bec, bn] = co_await bhttp::async_read(c->stream, buffer, parser, kNoThrow);
      ec = bec;
    }
    if (ec) {
      auto failure = read_failure(ec);
      if (!failure) break;
      if (parser.is_header_done()) {
        ex.req.method = std::string(parser.get().method_string());
        ex.req.target = std::string(parser.get().target());
        ex.raw_path = ex.req.target.substr(0, ex.req.target.find('?'));
        ex.version = parser.get().version() == 10 ? 10 : 11;
      }
      ex.request_id = internal::random_hex(16);
      ex.req.trace_id = internal::random_hex(16);
      co_await respond(*c, ex, problem(*failure, ex.raw_path), false, true);
      co_await linger_close(*c);
      co_return;
    }

    auto msg = parser.release();
    bool keep_alive = msg.keep_alive();
    ex.version = msg.version() == 10 ? 10 : 11;
    Response res;
    try {
      res = handle(ex, std::move(msg), *c);
    } catch (const std::exception& e) {
      log_error("http request failed", {{"error", e.what()}, {"trace_id", ex.req.trace_id}});
      res = problem(Error(ErrorCode::kInternal, "the server failed to handle this request"));
    }
    if (res.deferred) res = co_await await_deferred(*c, std::move(res.deferred));
    if (ex.request_id.empty()) ex.request_id = internal::random_hex(16);
    if (ex.req.trace_id.empty()) ex.req.trace_id = internal::random_hex(16);
    keep_alive = keep_alive && !c->closing && !stopping.load();
    bool ok = co_await respond(*c, ex, std::move(res), keep_alive, true);
    if (!ok) break;
    if (!keep_alive) {
      co_await linger_close(*c);
      co_return;
    }
  }
  beast::error_code ignored;
  c->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  c->stream.socket().close(ignored);
}

asio::awaitable<Response> Server::Impl::await_deferred(
    Connection& c, std::function<void(Response::Completion)> start) {
  // The completion posts the response to the connection's strand and wakes the coroutine by
  // cancelling a timer. Posted from inside the strand (a completion called at once), it runs
  // only after this coroutine is suspended in async_wait.
  struct State {
    explicit State(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    std::optional<Response> res;
  };
  auto ex = c.stream.get_executor();
  auto st = std::make_shared<State>(ex);
  st->timer.expires_after(
      std::chrono::milliseconds(std::max<int64_t>(1, options.deferred_timeout_ms)));
  try {
    start([st, ex](Response r) {
      asio::post(ex, [st, r = std::move(r)]() mutable {
        st->res = std::move(r);
        st->timer.cancel();
      });
    });
  } catch (const std::exception& e) {
    log_error("http deferred response failed", {{"error", e.what()}});
    co_return problem(Error(ErrorCode::kInternal, "the server failed to handle this request"));
  }
  while (!st->res) {
    auto [ec] = co_await st->timer.async_wait(kNoThrow);
    if (!ec && !st->res)
      co_return problem(
          Error(ErrorCode::kUnavailable, "timed out waiting for the request to be committed"));
  }
  co_return std::move(*st->res);
}

Response Server::Impl::handle(Exchange& ex, bhttp::request<bhttp::string_body>&& msg,
                              const Connection& c) {
  Request& req = ex.req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  req.remote_address = c.remote;
  for (const auto& field : msg) {
    auto [it, inserted] =
        req.headers.emplace(internal::ascii_lower(field.name_string()), std::string(field.value()));
    if (!inserted) {
      it->second += ", ";
      it->second += field.value();
    }
  }
  req.body = std::move(msg.body());

  auto trace = req.headers.find("traceparent");
  std::optional<internal::TraceParent> parent;
  if (trace != req.headers.end()) parent = internal::parse_traceparent(trace->second);
  if (parent) {
    req.trace_id = parent->trace_id;
    ex.trace_flags = parent->flags;
  } else {
    req.trace_id = internal::random_hex(16);
  }
  auto rid = req.headers.find("x-request-id");
  if (rid != req.headers.end() && internal::valid_request_id(rid->second)) {
    ex.request_id = rid->second;
  } else {
    ex.request_id = internal::random_hex(16);
    req.headers["x-request-id"] = ex.request_id;
  }

  std::string_view path;
  std::string_view query;
  if (!internal::split_target(req.target, &path, &query)) {
    ex.raw_path = req.target.substr(0, req.target.find('?'));
    return problem(Error(ErrorCode::kInvalidArgument, "request target must be an absolute path"),
                   ex.raw_path);
  }
  ex.raw_path = std::string(path);
  if (!internal::percent_decode(path, false, &req.path)) {
    req.path.clear();
    return problem(
        Error(ErrorCode::kInvalidArgument, "request path has invalid percent-encoding or NUL"),
        ex.raw_path);
  }
  if (!internal::parse_query(query, &req.query)) {
    req.query.clear();
    return problem(
        Error(ErrorCode::kInvalidArgument, "query string has invalid percent-encoding or NUL"),
        ex.raw_path);
  }
  return router.dispatch(req);
}

asio::awaitable<bool> Server::Impl::respond(Connection& c, Exchange& ex, Response res,
                                            bool keep_alive, bool record_it) {
  int status = res.status;
  if (status < 100 || status > 599) status = 500;
  bhttp::response<bhttp::string_body> out;
  out.version(ex.version);
  out.result(static_cast<unsigned>(status));
  std::string content_type = std::move(res.content_type);
  for (auto& [name, value] : res.headers) {
    if (!is_token(name)) continue;
    std::string lower = internal::ascii_lower(name);
    if (lower == "connection") {
      if (iequals(value, "close")) keep_alive = false;
      continue;
    }
    if (lower == "content-type") {
      content_type = value;  // an explicit header wins over Response::content_type
      continue;
    }
    // Framing and correlation headers belong to the server.
    if (lower == "content-length" || lower == "transfer-encoding" || lower == "server" ||
        lower == "traceparent" || lower == "x-request-id") {
      continue;
    }
    out.insert(name, field_value(value));
  }
  out.set(bhttp::field::server, "sira");
  const bool bodiless = status / 100 == 1 || status == 204 || status == 304;
  size_t bytes = 0;
  if (!bodiless) {
    out.set(bhttp::field::content_type, field_value(content_type));
    bytes = res.body.size();
    out.body() = std::move(res.body);
    out.content_length(bytes);
  }
  out.set("traceparent",
          "00-" + ex.req.trace_id + "-" + internal::random_hex(8) + "-" + ex.trace_flags);
  out.set("X-Request-Id", ex.request_id);
  out.keep_alive(keep_alive);

  c.stream.expires_after(secs(options.request_timeout_seconds));
  auto [ec, n] = co_await bhttp::async_write(c.stream, out, kNoThrow);
  if (record_it) record(ex, status, bytes);
  co_return !ec;
}

asio::awaitable<void> Server::Impl::linger_close(Connection& c) {
  beast::error_code ignored;
  c.stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  c.stream.expires_after(kLingerTimeout);
  std::array<char, 4096> sink;
  for (;;) {
    auto [ec, n] = co_await c.stream.async_read_some(asio::buffer(sink), kNoThrow);
    if (ec) break;
  }
  c.stream.socket().close(ignored);
}

void Server::Impl::record(const Exchange& ex, int status, size_t bytes) {
  const auto elapsed = SteadyClock::now() - ex.start;
  const std::string route = ex.req.route.empty() ? "unmatched" : ex.req.route;
  const std::string method = ex.req.method.empty() ? "other" : method_label(ex.req.method);
  const std::string status_text = std::to_string(status);
  metrics
      .counter("http_requests_total", "HTTP requests by route, method and status",
               {{"route", route}, {"method", method}, {"status", status_text}})
      .inc();
  metrics
      .histogram("http_request_duration_seconds", "HTTP request latency by route and method",
                 MetricsRegistry::default_latency_buckets(), {{"route", route}, {"method", method}})
      .observe(std::chrono::duration<double>(elapsed).count());
  if (options.access_log) {
    log_info("request", {{"method", ex.req.method.empty() ? "-" : ex.req.method},
                         {"route", route},
                         {"path", ex.raw_path.empty() ? "-" : ex.raw_path},
                         {"status", status_text},
                         {"duration_ms", format_ms(elapsed)},
                         {"remote", ex.req.remote_address},
                         {"trace_id", ex.req.trace_id},
                         {"request_id", ex.request_id},
                         {"bytes", std::to_string(bytes)}});
  }
}

// ---------------------------------------------------------------------------------------------
// Public API

Server::Server(ServerOptions options, const Router& router, MetricsRegistry& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), router, metrics)) {}

Server::~Server() = default;

Result<std::string> Server::bind() {
  // bind() runs before the io threads start; the acceptor is not touched concurrently.
  return impl_->bind();
}

void Server::run() {
  impl_->run();
}

void Server::stop() {
  Impl* self = impl_.get();
  asio::post(self->strand, [self] { self->begin_stop(); });
}

void Server::on_stop(std::function<void()> callback) {
  std::lock_guard lock(impl_->mu);
  impl_->stop_callbacks.push_back(std::move(callback));
}

}  // namespace sira::http
