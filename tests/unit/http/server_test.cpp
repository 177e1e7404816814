// Server behaviour over real loopback sockets (POSIX sockets, no Beast): keep-alive, limits,
// malformed input, traceparent, metrics, connection cap and graceful stop.
#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>

namespace sira::http {
namespace {

using namespace std::chrono_literals;

// ---- raw socket client ----------------------------------------------------------------------

class Client {
 public:
  explicit Client(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }

  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  struct Reply {
    bool ok = false;
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    std::string header(const std::string& name) const {
      auto it = headers.find(name);
      return it == headers.end() ? std::string() : it->second;
    }
    std::string problem_type() const {
      try {
        return std::string(boost::json::parse(body).as_object().at("type").as_string());
      } catch (...) {
        return {};
      }
    }
  };

  // Reads one response (Content-Length framed). ok=false on timeout, EOF or garbage.
  Reply read() {
    Reply r;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return r;
    }
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    if (status_line.size() < 12 || status_line.compare(0, 5, "HTTP/") != 0) return r;
    r.status = std::stoi(status_line.substr(9, 3));
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t next = head.find("\r\n", pos);
      if (next == std::string::npos) next = head.size();
      std::string line = head.substr(pos, next - pos);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        r.headers[name] = value;
      }
      pos = next + 2;
    }
    if (r.status / 100 == 1 || r.status == 204 || r.status == 304) {
      r.ok = true;
      return r;
    }
    auto cl = r.headers.find("content-length");
    if (cl == r.headers.end()) return r;
    size_t length = std::stoul(cl->second);
    while (buf_.size() < length) {
      if (!fill()) return r;
    }
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    r.ok = true;
    return r;
  }

  // True when the server closes the connection (EOF or reset) before the receive timeout.
  bool closed_by_peer() {
    char c;
    for (;;) {
      ssize_t n = ::recv(fd_, &c, 1, 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
    }
  }

  Reply request(std::string_view raw) {
    if (!send(raw)) return {};
    return read();
  }

 private:
  bool fill() {
    char chunk[4096];
    ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

std::string get(std::string_view path, std::string_view extra_headers = {}) {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: t\r\n" + std::string(extra_headers) +
         "\r\n";
}

// ---- server fixture -------------------------------------------------------------------------

Response text(std::string body) {
  Response r;
  r.content_type = "text/plain";
  r.body = std::move(body);
  return r;
}

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() {
    options_.listen = "127.0.0.1:0";
    options_.threads = 2;
    options_.handle_signals = false;
    options_.access_log = false;
    router_.add("GET", "/hello", [](Request&) { return text("hello"); });
    router_.add("GET", "/items/{id}",
                [](Request& r) { return text("item " + r.path_param("id")); });
    router_.add("POST", "/echo", [](Request& r) { return text(r.body); });
    router_.add("GET", "/inspect/{rest}", [](Request& r) {
      boost::json::object o;
      o["path"] = r.path;
      o["rest"] = r.path_param("rest");
      o["q"] = r.query_param("q").value_or("<none>");
      o["trace_id"] = r.trace_id;
      o["remote"] = r.remote_address;
      o["ua"] = r.header("user-agent").value_or("");
      Response res;
      res.body = boost::json::serialize(o);
      return res;
    });
    router_.add("GET", "/custom", [](Request&) {
      Response r;
      r.status = 201;
      r.body = "a,b";
      r.set_header("Content-Type", "text/csv");
      r.set_header("Cache-Control", "no-store");
      r.set_header("X-Injected", "a\r\nSet-Cookie: evil=1");
      return r;
    });
    router_.add("DELETE", "/items/{id}", [](Request&) {
      Response r;
      r.status = 204;
      return r;
    });
    router_.add("GET", "/boom", [](Request&) -> Response { throw std::runtime_error("boom"); });
    // Answered from another thread once the test sets release_ (at most 5 s); the handler
    // returns at once.
    router_.add("POST", "/deferred", [this](Request& r) {
      Response res;
      res.deferred = [this, body = r.body](Response::Completion done) {
        std::thread([this, done, body] {
          for (int i = 0; i < 500 && !release_; ++i) std::this_thread::sleep_for(10ms);
          done(text("deferred " + body));
        }).detach();
      };
      return res;
    });
    // Answered at once, inside the handler's own call.
    router_.add("GET", "/deferred-now", [](Request&) {
      Response res;
      res.deferred = [](Response::Completion done) { done(text("at once")); };
      return res;
    });
    // Never answered.
    router_.add("GET", "/deferred-never", [](Request&) {
      Response res;
      res.deferred = [](Response::Completion) {};
      return res;
    });
    router_.add("GET", "/slow", [this](Request&) {
      slow_started_ = true;
      std::this_thread::sleep_for(300ms);
      return text("slow done");
    });
  }

  ~HttpServerTest() override { Stop(); }

  void Start() {
    server_ = std::make_unique<Server>(options_, router_, metrics_);
    auto bound = server_->bind();
    ASSERT_TRUE(bound) << bound.error().detail;
    address_ = *bound;
    port_ = std::stoi(address_.substr(address_.rfind(':') + 1));
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] {
      server_->run();
      run_returned_ = true;
    });
  }

  void Stop() {
    if (!server_) return;
    server_->stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
  }

  double RequestsTotal(const std::string& route, const std::string& method,
                       const std::string& status) {
    return metrics_
        .counter("http_requests_total", "",
                 {{"route", route}, {"method", method}, {"status", status}})
        .value();
  }

  ServerOptions options_;
  Router router_;
  MetricsRegistry metrics_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::string address_;
  int port_ = 0;
  std::atomic<bool> run_returned_{false};
  std::atomic<bool> slow_started_{false};
  std::atomic<bool> release_{false};
};

TEST_F(HttpServerTest, DeferredResponsesDoNotHoldTheServerThreads) {
  options_.threads = 1;  // one thread: a blocked handler would stall every other connection
  options_.deferred_timeout_ms = 500;
  Start();
  Client slow(port_), fast(port_);
  ASSERT_TRUE(slow.connected() && fast.connected());
  ASSERT_TRUE(slow.send(
      "POST /deferred HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx"));
  // While the deferred request waits (release_ unset), the only server thread answers another
  // connection: were it blocked, this read would time out.
  ASSERT_TRUE(fast.send(get("/hello")));
  auto r = fast.read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.body, "hello");
  release_ = true;
  auto d = slow.read();
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(d.body, "deferred x");
  // Keep-alive goes on after a deferred answer, and one completed at once works too.
  ASSERT_TRUE(slow.send(get("/deferred-now")));
  auto n = slow.read();
  ASSERT_TRUE(n.ok);
  EXPECT_EQ(n.body, "at once");
  // A completion that never comes: 503 problem+json after deferred_timeout_ms.
  ASSERT_TRUE(slow.send(get("/deferred-never")));
  auto never = slow.read();
  ASSERT_TRUE(never.ok);
  EXPECT_EQ(never.status, 503);
  EXPECT_NE(never.body.find("timed out waiting"), std::string::npos) << never.body;
}

TEST_F(HttpServerTest, BindReportsEphemeralPort) {
  Start();
  EXPECT_EQ(address_.rfind("127.0.0.1:", 0), 0u) << address_;
}

TEST(HttpServerBind, RejectsBadListenAddress) {
  Router router;
  MetricsRegistry metrics;
  for (const char* listen :
       {"127.0.0.1", "127.0.0.1:notaport", "127.0.0.1:70000", "[::1:0", ":80"}) {
    ServerOptions options;
    options.listen = listen;
    options.handle_signals = false;
    Server server(options, router, metrics);
    auto bound = server.bind();
    EXPECT_FALSE(bound) << listen;
  }
}

TEST_F(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  Start();
  Client c(port_);
  ASSERT_TRUE(c.connected());
  auto r1 = c.request(get("/hello"));
  ASSERT_TRUE(r1.ok);
  EXPECT_EQ(r1.status, 200);
  EXPECT_EQ(r1.body, "hello");
  EXPECT_EQ(r1.header("content-length"), "5");
  EXPECT_EQ(r1.header("content-type"), "text/plain");
  EXPECT_EQ(r1.header("server"), "sira");
  EXPECT_NE(r1.header("connection"), "close");
  auto r2 = c.request(get("/items/42"));
  ASSERT_TRUE(r2.ok);
  EXPECT_EQ(r2.status, 200);
  EXPECT_EQ(r2.body, "item 42");
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Start();
  Client c(port_);
  ASSERT_TRUE(c.send(get("/items/1") + get("/items/2")));
  auto r1 = c.read();
  auto r2 = c.read();
  ASSERT_TRUE(r1.ok && r2.ok);
  EXPECT_EQ(r1.body, "item 1");
  EXPECT_EQ(r2.body, "item 2");
}

TEST_F(HttpServerTest, DecodesPathQueryAndHeaders) {
  Start();
  Client c(port_);
  auto r = c.request(get("/inspect/a%20b%2Fc?q=x+y%21", "User-Agent: tester\r\n"));
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.status, 200);
  auto o = boost::json::parse(r.body).as_object();
  EXPECT_EQ(o.at("q").as_string(), "x y!");
  EXPECT_EQ(o.at("ua").as_string(), "tester");
  EXPECT_EQ(o.at("remote").as_string(), "127.0.0.1");
  EXPECT_EQ(o.at("path").as_string(), "/inspect/a b/c");
  EXPECT_EQ(o.at("rest").as_string(), "a b/c");  // %2F stays inside its segment
}

TEST_F(HttpServerTest, InvalidPercentEncodingIsBadRequest) {
  Start();
  Client c(port_);
  auto r = c.request(get("/items/a%zz"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.problem_type(), "https://sira.dev/problems/invalid-argument");
  EXPECT_EQ(r.header("content-type"), "application/problem+json");
  auto nul = c.request(get("/items/a%00b"));
  ASSERT_TRUE(nul.ok);
  EXPECT_EQ(nul.status, 400);
  // The connection survives a well-formed request with a bad path.
  auto ok = c.request(get("/hello"));
  ASSERT_TRUE(ok.ok);
  EXPECT_EQ(ok.status, 200);
}

TEST_F(HttpServerTest, OversizeBodyIs413AndCloses) {
  options_.max_body_bytes = 16;
  Start();
  {
    Client c(port_);
    auto small = c.request("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nabcde");
    ASSERT_TRUE(small.ok);
    EXPECT_EQ(small.status, 200);
    EXPECT_EQ(small.body, "abcde");
    auto r = c.request("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n" +
                       std::string(100, 'x'));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(r.problem_type(), "https://sira.dev/problems/payload-too-large");
    EXPECT_EQ(r.header("connection"), "close");
    EXPECT_TRUE(c.closed_by_peer());
  }
  {
    Client c(port_);
    auto r = c.request(
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        "10\r\n0123456789abcdef\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n");
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.status, 413);
  }
}

TEST_F(HttpServerTest, HugeHeaderBlockIs431) {
  options_.max_header_bytes = 1024;
  Start();
  Client c(port_);
  auto r = c.request(get("/hello", "X-Big: " + std::string(8000, 'a') + "\r\n"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(r.problem_type(), "https://sira.dev/problems/header-too-large");
  EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(HttpServerTest, MalformedRequestLineIs400AndCloses) {
  Start();
  for (const char* raw :
       {"GARBAGE\r\n\r\n", "GET /hello HTTP/9.x\r\n\r\n", "GET  HTTP/1.1\r\n\r\n"}) {
    Client c(port_);
    auto r = c.request(raw);
    ASSERT_TRUE(r.ok) << raw;
    EXPECT_EQ(r.status, 400) << raw;
    EXPECT_EQ(r.problem_type(), "https://sira.dev/problems/invalid-argument");
    EXPECT_TRUE(c.closed_by_peer());
  }
}

TEST_F(HttpServerTest, UnknownRouteAndWrongMethod) {
  Start();
  Client c(port_);
  auto nf = c.request(get("/nope"));
  ASSERT_TRUE(nf.ok);
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(nf.problem_type(), "https://sira.dev/problems/not-found");
  auto na = c.request("DELETE /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(na.ok);
  EXPECT_EQ(na.status, 405);
  EXPECT_EQ(na.header("allow"), "GET");
}

TEST_F(HttpServerTest, HandlerHeadersAndNoContent) {
  Start();
  Client c(port_);
  auto r = c.request(get("/custom"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.header("content-type"), "text/csv");
  EXPECT_EQ(r.header("cache-control"), "no-store");
  EXPECT_EQ(r.header("x-injected"), "aSet-Cookie: evil=1");  // CR/LF stripped, no new header
  EXPECT_EQ(r.header("set-cookie"), "");
  EXPECT_EQ(r.body, "a,b");
  // 204 carries no body and no Content-Length; the connection stays usable.
  ASSERT_TRUE(c.send("DELETE /items/1 HTTP/1.1\r\nHost: t\r\n\r\n" + get("/hello")));
  auto none = c.read();
  ASSERT_TRUE(none.ok);
  EXPECT_EQ(none.status, 204);
  EXPECT_EQ(none.header("content-length"), "");
  auto next = c.read();
  ASSERT_TRUE(next.ok);
  EXPECT_EQ(next.body, "hello");
}

TEST_F(HttpServerTest, HandlerExceptionIs500AndServerKeepsServing) {
  Start();
  Client c(port_);
  auto r = c.request(get("/boom"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.problem_type(), "https://sira.dev/problems/internal");
  auto ok = c.request(get("/hello"));
  ASSERT_TRUE(ok.ok);
  EXPECT_EQ(ok.status, 200);
}

TEST_F(HttpServerTest, TraceparentKeepsTraceIdWithNewSpan) {
  Start();
  Client c(port_);
  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  auto r = c.request(get("/inspect/x", "traceparent: 00-" + trace + "-00f067aa0ba902b7-01\r\n" +
                                           "X-Request-Id: req-123\r\n"));
  ASSERT_TRUE(r.ok);
  std::string tp = r.header("traceparent");
  ASSERT_EQ(tp.size(), 55u) << tp;
  EXPECT_EQ(tp.substr(0, 3), "00-");
  EXPECT_EQ(tp.substr(3, 32), trace);
  EXPECT_NE(tp.substr(36, 16), "00f067aa0ba902b7");
  EXPECT_EQ(tp.substr(53), "01");
  EXPECT_EQ(r.header("x-request-id"), "req-123");
  EXPECT_EQ(boost::json::parse(r.body).as_object().at("trace_id").as_string(), trace);

  // Invalid or absent: a fresh trace id, and a generated request id.
  auto fresh = c.request(get("/inspect/x", "traceparent: 00-zz-00f067aa0ba902b7-01\r\n"));
  ASSERT_TRUE(fresh.ok);
  std::string tp2 = fresh.header("traceparent");
  ASSERT_EQ(tp2.size(), 55u);
  EXPECT_NE(tp2.substr(3, 32), trace);
  EXPECT_EQ(boost::json::parse(fresh.body).as_object().at("trace_id").as_string(),
            tp2.substr(3, 32));
  EXPECT_EQ(fresh.header("x-request-id").size(), 32u);
}

TEST_F(HttpServerTest, MetricsCountRequestsByRoute) {
  Start();
  Client c(port_);
  ASSERT_TRUE(c.request(get("/items/1")).ok);
  ASSERT_TRUE(c.request(get("/items/2")).ok);
  ASSERT_TRUE(c.request(get("/nope/1")).ok);
  ASSERT_TRUE(c.request("PUT /items/3 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n").ok);
  // The counter is bumped after the write completes: allow the io thread a moment.
  for (int i = 0; i < 100 && RequestsTotal("/items/{id}", "PUT", "405") < 1; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(RequestsTotal("/items/{id}", "GET", "200"), 2);
  EXPECT_EQ(RequestsTotal("unmatched", "GET", "404"), 1);
  EXPECT_EQ(RequestsTotal("/items/{id}", "PUT", "405"), 1);
  std::string text = metrics_.render();
  EXPECT_NE(text.find("http_request_duration_seconds"), std::string::npos);
}

TEST_F(HttpServerTest, MaxConnectionsExceededIs503) {
  options_.max_connections = 1;
  Start();
  {
    Client a(port_);
    auto ra = a.request(get("/hello"));  // a is registered once it has been answered
    ASSERT_TRUE(ra.ok);
    EXPECT_EQ(ra.status, 200);
    Client b(port_);
    auto rb = b.request(get("/hello"));
    ASSERT_TRUE(rb.ok);
    EXPECT_EQ(rb.status, 503);
    EXPECT_EQ(rb.problem_type(), "https://sira.dev/problems/unavailable");
    EXPECT_EQ(rb.header("connection"), "close");
    EXPECT_TRUE(b.closed_by_peer());
  }
  // Once `a` is gone a new connection is served again.
  int status = 0;
  for (int i = 0; i < 50 && status != 200; ++i) {
    Client c(port_);
    auto r = c.request(get("/hello"));
    status = r.status;
    if (status != 200) std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(status, 200);
}

TEST_F(HttpServerTest, ExpectContinueGetsInterimResponse) {
  Start();
  Client c(port_);
  ASSERT_TRUE(c.send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = c.read();
  ASSERT_TRUE(interim.ok);
  EXPECT_EQ(interim.status, 100);
  ASSERT_TRUE(c.send("abc"));
  auto r = c.read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "abc");
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionTimesOut) {
  options_.idle_timeout_seconds = 1;
  Start();
  Client c(port_);
  ASSERT_TRUE(c.request(get("/hello")).ok);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
}

TEST_F(HttpServerTest, IncompleteRequestTimesOut) {
  options_.request_timeout_seconds = 1;
  Start();
  Client c(port_);
  ASSERT_TRUE(c.send("GET /hello HTTP/1.1\r\nHost: t\r\n"));  // headers never finish
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
}

TEST_F(HttpServerTest, StopDrainsInFlightRequestAndClosesIdleConnections) {
  Start();
  std::atomic<int> stop_calls{0};
  server_->on_stop([&] { ++stop_calls; });

  Client idle(port_);
  ASSERT_TRUE(idle.request(get("/hello")).ok);  // now an idle keep-alive connection

  Client busy(port_);
  ASSERT_TRUE(busy.send(get("/slow")));
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(slow_started_.load());
  server_->stop();
  server_->stop();  // idempotent

  EXPECT_TRUE(idle.closed_by_peer());
  auto r = busy.read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "slow done");
  EXPECT_EQ(r.header("connection"), "close");
  EXPECT_TRUE(busy.closed_by_peer());

  thread_.join();
  EXPECT_TRUE(run_returned_.load());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(stop_calls.load(), 1);
  server_.reset();
}

TEST_F(HttpServerTest, DrainTimeoutForceClosesStuckConnections) {
  options_.drain_timeout_seconds = 1;
  Start();
  Client partial(port_);
  // A request that never completes keeps the connection busy past the drain timeout.
  ASSERT_TRUE(partial.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nab"));
  std::this_thread::sleep_for(100ms);
  auto t0 = std::chrono::steady_clock::now();
  server_->stop();
  thread_.join();
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(elapsed, 900ms);
  EXPECT_LT(elapsed, 5s);
  EXPECT_TRUE(partial.closed_by_peer());
  server_.reset();
}

TEST_F(HttpServerTest, StopBeforeRunReturnsPromptly) {
  server_ = std::make_unique<Server>(options_, router_, metrics_);
  ASSERT_TRUE(server_->bind());
  server_->stop();
  auto t0 = std::chrono::steady_clock::now();
  server_->run();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  server_.reset();
}

}  // namespace
}  // namespace sira::http
