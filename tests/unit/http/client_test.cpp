// Outbound client against small loopback servers (blocking Asio sockets, one thread per
// connection): round trips, error statuses, refused connections, timeouts, size limits, URL
// parsing, and TLS with a certificate generated in the test.
#include "http/client.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "test_cert.h"

namespace sira::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// ---- loopback test server -------------------------------------------------------------------

// Accepts on 127.0.0.1:<ephemeral> and runs handler(socket) on a thread per connection. The
// destructor shuts every socket down (waking handlers blocked in a read) and joins them all.
class TestServer {
 public:
  using Handler = std::function<void(tcp::socket&)>;

  explicit TestServer(Handler handler)
      : handler_(std::move(handler)),
        acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { accept_loop(); });
  }

  ~TestServer() {
    stop_ = true;
    {
      beast::error_code ec;
      tcp::socket wake(ioc_);
      wake.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
    }
    thread_.join();
    for (auto& s : sockets_) ::shutdown(s->native_handle(), SHUT_RDWR);
    for (auto& t : workers_) t.join();
  }

  int port() const { return port_; }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_.load(); }

 private:
  void accept_loop() {
    for (;;) {
      auto sock = std::make_unique<tcp::socket>(ioc_);
      beast::error_code ec;
      acceptor_.accept(*sock, ec);
      if (stop_ || ec) return;
      ++connections_;
      tcp::socket* s = sock.get();
      sockets_.push_back(std::move(sock));
      workers_.emplace_back([this, s] {
        handler_(*s);
        beast::error_code ignored;
        s->shutdown(tcp::socket::shutdown_both, ignored);
      });
    }
  }

  Handler handler_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
  std::vector<std::unique_ptr<tcp::socket>> sockets_;  // closed only after workers joined
  std::vector<std::thread> workers_;
};

template <class Stream>
bool read_request(Stream& s, bhttp::request<bhttp::string_body>& req) {
  beast::flat_buffer buf;
  beast::error_code ec;
  bhttp::read(s, buf, req, ec);
  return !ec;
}

template <class Stream>
void write_all(Stream& s, std::string_view data) {
  beast::error_code ec;
  asio::write(s, asio::buffer(data), ec);
}

// Reads until the peer closes (or the server shuts the socket down at the end of the test).
void drain_until_eof(tcp::socket& s) {
  char buf[4096];
  beast::error_code ec;
  while (!ec) s.read_some(asio::buffer(buf), ec);
}

std::string response(int status, std::string_view reason, std::string_view body,
                     std::string_view extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         std::string(extra_headers) + "\r\n" + std::string(body);
}

int free_port() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  int port = a.local_endpoint().port();
  a.close();
  return port;
}

// ---- parse_url ------------------------------------------------------------------------------

TEST(HttpClientParseUrl, HttpDefaultsAndTarget) {
  auto u = parse_url("http://hooks.example.com/services/T0/B0?x=1&y=2#frag");
  ASSERT_TRUE(u) << u.error().detail;
  EXPECT_EQ(u->scheme, "http");
  EXPECT_EQ(u->host, "hooks.example.com");
  EXPECT_EQ(u->port, "80");
  EXPECT_EQ(u->target, "/services/T0/B0?x=1&y=2");
}

TEST(HttpClientParseUrl, HttpsDefaultPortAndEmptyPath) {
  auto u = parse_url("HTTPS://Events.PagerDuty.com");
  ASSERT_TRUE(u) << u.error().detail;
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "events.pagerduty.com");
  EXPECT_EQ(u->port, "443");
  EXPECT_EQ(u->target, "/");

  auto q = parse_url("https://example.com?a=b");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->target, "/?a=b");
}

TEST(HttpClientParseUrl, ExplicitPortAndIpv4Literal) {
  auto u = parse_url("http://127.0.0.1:8080/v2/enqueue");
  ASSERT_TRUE(u) << u.error().detail;
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, "8080");
  EXPECT_EQ(u->target, "/v2/enqueue");
  auto empty_port = parse_url("http://example.com:/x");
  ASSERT_TRUE(empty_port);
  EXPECT_EQ(empty_port->port, "80");
}

TEST(HttpClientParseUrl, Ipv6Literal) {
  auto u = parse_url("http://[::1]:8080/hook");
  ASSERT_TRUE(u) << u.error().detail;
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, "8080");
  EXPECT_EQ(u->target, "/hook");

  auto d = parse_url("https://[2001:db8::1]");
  ASSERT_TRUE(d) << d.error().detail;
  EXPECT_EQ(d->host, "2001:db8::1");
  EXPECT_EQ(d->port, "443");
  EXPECT_EQ(d->target, "/");
}

TEST(HttpClientParseUrl, RejectsBadUrls) {
  for (const char* bad : {
           "ftp://example.com/file",     // scheme
           "example.com/hook",           // no scheme
           "http://",                    // no host
           "http:///path",               // no host
           "http://:8080/",              // no host
           "http://example.com:0/",      // port out of range
           "http://example.com:65536/",  // port out of range
           "http://example.com:99999999/",
           "http://example.com:8a/",  // port not numeric
           "http://[::1/",            // unterminated literal
           "http://[nothex]:80/",     // bad literal
           "http://[::1]x/",          // junk after literal
           "http://::1:80/",          // unbracketed IPv6
           "http://user:pw@example.com/",
           "http://exa mple.com/",
           "http://example.com/a b",
           "http://exa$mple.com/",
       }) {
    auto u = parse_url(bad);
    ASSERT_FALSE(u) << bad;
    EXPECT_EQ(u.error().code, ErrorCode::kInvalidArgument) << bad;
    EXPECT_EQ(u.error().field, "url") << bad;
  }
}

// ---- plain HTTP exchanges -------------------------------------------------------------------

TEST(HttpClient, PostDeliversBodyAndHeadersAndReturnsResponse) {
  std::mutex mu;
  std::optional<bhttp::request<bhttp::string_body>> seen;
  TestServer server([&](tcp::socket& s) {
    bhttp::request<bhttp::string_body> req;
    if (!read_request(s, req)) return;
    {
      std::lock_guard lock(mu);
      seen = req;
    }
    write_all(s, response(202, "Accepted", R"({"status":"success"})",
                          "Content-Type: application/json\r\nX-Reply: yes\r\n"));
  });

  Client client;
  ClientRequest req;
  req.url = server.base() + "/v2/enqueue?routing=abc";
  req.headers = {{"Content-Type", "application/json"}, {"Authorization", "Token token=s3cr3t"}};
  req.body = R"({"event_action":"trigger","payload":{"summary":"disk full \u00e9"}})";
  auto res = client.send(req);
  ASSERT_TRUE(res) << res.error().detail;
  EXPECT_EQ(res->status, 202);
  EXPECT_EQ(res->body, R"({"status":"success"})");
  EXPECT_EQ(res->header("x-reply").value_or(""), "yes");
  EXPECT_EQ(res->header("content-type").value_or(""), "application/json");

  std::lock_guard lock(mu);
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->method(), bhttp::verb::post);
  EXPECT_EQ(seen->target(), "/v2/enqueue?routing=abc");
  EXPECT_EQ(seen->body(), req.body);
  EXPECT_EQ((*seen)[bhttp::field::content_type], "application/json");
  EXPECT_EQ((*seen)[bhttp::field::authorization], "Token token=s3cr3t");
  EXPECT_EQ((*seen)[bhttp::field::content_length], std::to_string(req.body.size()));
  EXPECT_EQ((*seen)[bhttp::field::host], "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_TRUE((*seen)[bhttp::field::user_agent].starts_with("sira/"));
  EXPECT_EQ((*seen)[bhttp::field::connection], "close");
}

TEST(HttpClient, CustomUserAgentAndMethod) {
  std::mutex mu;
  std::string method, agent;
  TestServer server([&](tcp::socket& s) {
    bhttp::request<bhttp::string_body> req;
    if (!read_request(s, req)) return;
    {
      std::lock_guard lock(mu);
      method = std::string(req.method_string());
      agent = std::string(req[bhttp::field::user_agent]);
    }
    write_all(s, response(204, "No Content", ""));
  });
  Client client("sira/9.9.9 (test)");
  ClientRequest req;
  req.method = "PUT";
  req.url = server.base() + "/x";
  req.body = "v";
  auto res = client.send(req);
  ASSERT_TRUE(res) << res.error().detail;
  EXPECT_EQ(res->status, 204);
  EXPECT_EQ(res->body, "");
  std::lock_guard lock(mu);
  EXPECT_EQ(method, "PUT");
  EXPECT_EQ(agent, "sira/9.9.9 (test)");
}

TEST(HttpClient, ServerErrorStatusIsAResponseNotAnError) {
  TestServer server([](tcp::socket& s) {
    bhttp::request<bhttp::string_body> req;
    if (!read_request(s, req)) return;
    write_all(s, response(500, "Internal Server Error", "boom"));
  });
  Client client;
  auto res = client.send({.url = server.base() + "/hook", .body = "{}"});
  ASSERT_TRUE(res) << res.error().detail;
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(res->body, "boom");
}

TEST(HttpClient, ReadsCloseDelimitedAndChunkedBodies) {
  TestServer close_delimited([](tcp::socket& s) {
    bhttp::request<bhttp::string_body> req;
    if (!read_request(s, req)) return;
    // No Content-Length: the body ends when the server closes (the worker shuts down after).
    write_all(s, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end");
  });
  TestServer chunked([](tcp::socket& s) {
    bhttp::request<bhttp::string_body> req;
    if (!read_request(s, req)) return;
    write_all(s,
              "HTTP/1.1 100 Continue\r\n\r\n"
              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  });
  Client client;
  auto a = client.send({.url = close_delimited.base() + "/"});
  ASSERT_TRUE(a) << a.error().detail;
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(a->body, "until the end");
  auto b = client.send({.url = chunked.base() + "/"});
  ASSERT_TRUE(b) << b.error().detail;
  EXPECT_EQ(b->status, 200);
  EXPECT_EQ(b->body, "hello world");
}

TEST(HttpClient, ResolvesLocalhostByName) {
  TestServer server([](tcp::socket& s) {
    bhttp::request<bhttp::string_body> req;
    if (!read_request(s, req)) return;
    write_all(s, response(200, "OK", std::string(req[bhttp::field::host])));
  });
  Client client;
  auto res = client.send({.url = "http://localhost:" + std::to_string(server.port()) + "/"});
  ASSERT_TRUE(res) << res.error().detail;
  EXPECT_EQ(res->body, "localhost:" + std::to_string(server.port()));
}

TEST(HttpClient, ConnectionRefusedIsUnavailable) {
  int port = free_port();
  Client client;
  auto res = client.send({.url = "http://127.0.0.1:" + std::to_string(port) + "/hook"});
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(res.error().detail, "connect to 127.0.0.1:" + std::to_string(port) + " refused");
}

TEST(HttpClient, ServerThatNeverAnswersTimesOut) {
  TestServer server([](tcp::socket& s) {
    bhttp::request<bhttp::string_body> req;
    if (!read_request(s, req)) return;
    drain_until_eof(s);  // never answers; returns when the client gives up
  });
  Client client;
  auto start = std::chrono::steady_clock::now();
  auto res = client.send({.url = server.base() + "/slow", .body = "x", .timeout_ms = 300});
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(res.error().detail, "timed out after 300 ms reading the response from 127.0.0.1:" +
                                    std::to_string(server.port()));
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 2500ms);
}

TEST(HttpClient, OversizedResponseIsAnError) {
  TestServer with_length([](tcp::socket& s) {
    bhttp::request<bhttp::string_body> req;
    if (!read_request(s, req)) return;
    write_all(s, response(200, "OK", std::string(4096, 'a')));
  });
  TestServer close_delimited([](tcp::socket& s) {
    bhttp::request<bhttp::string_body> req;
    if (!read_request(s, req)) return;
    write_all(s, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + std::string(4096, 'b'));
  });
  Client client;
  for (const TestServer* server : {&with_length, &close_delimited}) {
    auto res = client.send({.url = server->base() + "/", .max_response_bytes = 1024});
    ASSERT_FALSE(res);
    EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
    EXPECT_NE(res.error().detail.find("exceeds the 1024-byte limit"), std::string::npos)
        << res.error().detail;
  }
  // The same response fits a larger limit.
  auto ok = client.send({.url = with_length.base() + "/", .max_response_bytes = 4096});
  ASSERT_TRUE(ok) << ok.error().detail;
  EXPECT_EQ(ok->body.size(), 4096u);
}

TEST(HttpClient, ServerClosingWithoutAnswerIsUnavailable) {
  TestServer server([](tcp::socket& s) {
    bhttp::request<bhttp::string_body> req;
    read_request(s, req);
  });
  Client client;
  auto res = client.send({.url = server.base() + "/"});
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(res.error().detail.find("closed the connection"), std::string::npos)
      << res.error().detail;
}

TEST(HttpClient, BadUrlsAndRequestsAreInvalidArgument) {
  Client client;
  for (const char* url : {"ftp://127.0.0.1/x", "http://", "http:///x", "http://127.0.0.1:0/",
                          "http://127.0.0.1:70000/", "http://127.0.0.1:port/", "127.0.0.1:80"}) {
    auto res = client.send({.url = url});
    ASSERT_FALSE(res) << url;
    EXPECT_EQ(res.error().code, ErrorCode::kInvalidArgument) << url;
  }
  auto bad_method = client.send({.method = "PO ST", .url = "http://127.0.0.1:1/"});
  ASSERT_FALSE(bad_method);
  EXPECT_EQ(bad_method.error().code, ErrorCode::kInvalidArgument);
  auto injection =
      client.send({.url = "http://127.0.0.1:1/", .headers = {{"X-A", "v\r\nX-Injected: 1"}}});
  ASSERT_FALSE(injection);
  EXPECT_EQ(injection.error().code, ErrorCode::kInvalidArgument);
  auto bad_name = client.send({.url = "http://127.0.0.1:1/", .headers = {{"X A", "v"}}});
  ASSERT_FALSE(bad_name);
  EXPECT_EQ(bad_name.error().code, ErrorCode::kInvalidArgument);
  auto bad_timeout = client.send({.url = "http://127.0.0.1:1/", .timeout_ms = 0});
  ASSERT_FALSE(bad_timeout);
  EXPECT_EQ(bad_timeout.error().code, ErrorCode::kInvalidArgument);
}

TEST(HttpClient, ConcurrentSendsFromSeveralThreads) {
  TestServer server([](tcp::socket& s) {
    bhttp::request<bhttp::string_body> req;
    if (!read_request(s, req)) return;
    write_all(s, response(200, "OK", "echo:" + req.body()));
  });
  Client client;
  constexpr int kThreads = 6;
  constexpr int kPerThread = 5;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string body = std::to_string(t) + "-" + std::to_string(i);
        auto res = client.send({.url = server.base() + "/", .body = body, .timeout_ms = 5000});
        if (res && res->status == 200 && res->body == "echo:" + body) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  EXPECT_EQ(server.connections(), kThreads * kPerThread);
}

// ---- TLS ------------------------------------------------------------------------------------

TEST(HttpClient, HttpsToPlainHttpServerFailsWithTlsError) {
  TestServer server([](tcp::socket& s) {
    char buf[1024];
    beast::error_code ec;
    s.read_some(asio::buffer(buf), ec);  // the ClientHello, which is not HTTP
    write_all(s, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  });
  Client client;
  auto res = client.send(
      {.url = "https://127.0.0.1:" + std::to_string(server.port()) + "/", .timeout_ms = 3000});
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(res.error().detail.starts_with(
      "TLS handshake with 127.0.0.1:" + std::to_string(server.port()) + " failed"))
      << res.error().detail;
}

TEST(HttpClient, TlsHandshakeTimesOutOnSilentServer) {
  TestServer server([](tcp::socket& s) { drain_until_eof(s); });
  Client client;
  auto res = client.send(
      {.url = "https://127.0.0.1:" + std::to_string(server.port()) + "/", .timeout_ms = 300});
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(res.error().detail, "timed out after 300 ms in the TLS handshake with 127.0.0.1:" +
                                    std::to_string(server.port()));
}

using testing_util::make_cert;
using testing_util::TestCert;

// TLS server answering one request per connection; records the SNI it was sent.
class TlsServer {
 public:
  explicit TlsServer(const TestCert& cert)
      : ctx_(asio::ssl::context::tls_server), server_([this](tcp::socket& s) { serve(s); }) {
    ctx_.use_certificate(asio::buffer(cert.cert_pem), asio::ssl::context::pem);
    ctx_.use_private_key(asio::buffer(cert.key_pem), asio::ssl::context::pem);
  }
  int port() const { return server_.port(); }
  std::string sni() {
    std::lock_guard lock(mu_);
    return sni_;
  }

 private:
  void serve(tcp::socket& s) {
    asio::ssl::stream<tcp::socket&> tls(s, ctx_);
    beast::error_code ec;
    tls.handshake(asio::ssl::stream_base::server, ec);
    if (ec) return;
    {
      const char* name = SSL_get_servername(tls.native_handle(), TLSEXT_NAMETYPE_host_name);
      std::lock_guard lock(mu_);
      sni_ = name ? name : "";
    }
    bhttp::request<bhttp::string_body> req;
    if (!read_request(tls, req)) return;
    write_all(tls, response(200, "OK", "secure:" + req.body()));
  }

  asio::ssl::context ctx_;
  std::mutex mu_;
  std::string sni_ = "(none)";
  TestServer server_;  // last: its threads use ctx_
};

// Builds a Client whose trust store is the system one plus `cert` (OpenSSL reads
// SSL_CERT_FILE when the client loads its default verify paths).
std::unique_ptr<Client> client_trusting(const TestCert& cert, const std::string& file_name) {
  std::string path = ::testing::TempDir() + file_name;
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << cert.cert_pem;
  }
  const char* previous = std::getenv("SSL_CERT_FILE");
  std::optional<std::string> saved = previous ? std::optional<std::string>(previous) : std::nullopt;
  ::setenv("SSL_CERT_FILE", path.c_str(), 1);
  auto client = std::make_unique<Client>();
  if (saved) {
    ::setenv("SSL_CERT_FILE", saved->c_str(), 1);
  } else {
    ::unsetenv("SSL_CERT_FILE");
  }
  std::remove(path.c_str());
  return client;
}

TEST(HttpClient, HttpsRoundTripWithTrustedCertificate) {
  TestCert cert = make_cert("IP:127.0.0.1,DNS:localhost");
  TlsServer server(cert);
  auto client = client_trusting(cert, "sira_http_client_trusted.pem");

  auto by_ip = client->send({.url = "https://127.0.0.1:" + std::to_string(server.port()) + "/e",
                             .body = "a",
                             .timeout_ms = 5000});
  ASSERT_TRUE(by_ip) << by_ip.error().detail;
  EXPECT_EQ(by_ip->status, 200);
  EXPECT_EQ(by_ip->body, "secure:a");
  EXPECT_EQ(server.sni(), "");  // no SNI for an IP literal

  auto by_name = client->send({.url = "https://localhost:" + std::to_string(server.port()) + "/e",
                               .body = "b",
                               .timeout_ms = 5000});
  ASSERT_TRUE(by_name) << by_name.error().detail;
  EXPECT_EQ(by_name->body, "secure:b");
  EXPECT_EQ(server.sni(), "localhost");
}

TEST(HttpClient, HttpsRejectsUntrustedCertificate) {
  TestCert cert = make_cert("IP:127.0.0.1,DNS:localhost");
  TlsServer server(cert);
  Client client;  // system CA store only
  auto res = client.send(
      {.url = "https://127.0.0.1:" + std::to_string(server.port()) + "/", .timeout_ms = 5000});
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(res.error().detail.starts_with("TLS handshake with 127.0.0.1:"))
      << res.error().detail;
  EXPECT_NE(res.error().detail.find("certificate verification failed"), std::string::npos)
      << res.error().detail;
}

TEST(HttpClient, HttpsRejectsHostNameMismatch) {
  TestCert cert = make_cert("DNS:hooks.example.invalid");
  TlsServer server(cert);
  auto client = client_trusting(cert, "sira_http_client_mismatch.pem");
  for (std::string host : {"127.0.0.1", "localhost"}) {
    auto res = client->send(
        {.url = "https://" + host + ":" + std::to_string(server.port()) + "/", .timeout_ms = 5000});
    ASSERT_FALSE(res) << host;
    EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
    EXPECT_NE(res.error().detail.find("mismatch"), std::string::npos) << res.error().detail;
  }
}

}  // namespace
}  // namespace sira::http
