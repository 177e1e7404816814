// What the outbound clients (HTTP, SMTP) share: one io_context run by a background thread, and a
// TLS client context verifying peers against the system CA store (TLS 1.2 or newer). Private to
// src/http/.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/log.h"

namespace sira::http::internal {

struct IoRuntime {
  // `name` goes into log lines ("http client", "smtp client").
  explicit IoRuntime(std::string name) : name_(std::move(name)) {
    boost::system::error_code ec;
    tls.set_default_verify_paths(ec);
    if (ec) log_warn(name_ + " cannot load the system CA store", {{"error", ec.message()}});
    tls.set_verify_mode(boost::asio::ssl::verify_peer, ec);
    SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
    thread_ = std::thread([this] {
      for (;;) {
        try {
          ioc.run();
          return;
        } catch (const std::exception& e) {
          log_error(name_ + " io thread caught exception", {{"error", e.what()}});
        } catch (...) {
          log_error(name_ + " io thread caught exception", {{"error", "unknown exception"}});
        }
      }
    });
  }
  ~IoRuntime() {
    work_.reset();
    ioc.stop();
    if (thread_.joinable()) thread_.join();
  }
  IoRuntime(const IoRuntime&) = delete;
  IoRuntime& operator=(const IoRuntime&) = delete;

 private:
  std::string name_;

 public:
  // Declared before ioc: streams destroyed with ioc's pending operations still refer to it.
  boost::asio::ssl::context tls{boost::asio::ssl::context::tls_client};
  boost::asio::io_context ioc{1};

 private:
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(ioc);
  std::thread thread_;
};

// What resolving a host gave: endpoints, or why not (timed out, or the resolver's message).
struct Resolved {
  std::vector<boost::asio::ip::tcp::endpoint> endpoints;
  bool timed_out = false;
  std::string error;  // "" when endpoints were found
};

// Resolves host:port until `deadline`; an IP literal skips the resolver. The resolver is
// cancelled when the deadline passes.
inline boost::asio::awaitable<Resolved> resolve(std::string host, std::string port,
                                                std::chrono::steady_clock::time_point deadline) {
  namespace asio = boost::asio;
  using tcp = asio::ip::tcp;
  Resolved out;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (!ec) {
    out.endpoints.emplace_back(address, static_cast<unsigned short>(std::stoi(port)));
    co_return out;
  }
  auto ex = co_await asio::this_coro::executor;
  // Shared with the timer's handler, which may run after this frame moved on.
  struct Lookup {
    explicit Lookup(const asio::any_io_executor& e) : resolver(e) {}
    tcp::resolver resolver;
    bool timed_out = false;
  };
  auto lookup = std::make_shared<Lookup>(ex);
  asio::steady_timer timer(ex);
  timer.expires_at(deadline);
  timer.async_wait([lookup](boost::system::error_code wait_ec) {
    if (wait_ec) return;
    lookup->timed_out = true;
    lookup->resolver.cancel();
  });
  auto [rec, results] = co_await lookup->resolver.async_resolve(
      host, port, tcp::resolver::numeric_service | tcp::resolver::address_configured,
      asio::as_tuple(asio::use_awaitable));
  timer.cancel();
  if (lookup->timed_out) {
    out.timed_out = true;
    co_return out;
  }
  if (rec) {
    out.error = rec.message();
    co_return out;
  }
  for (const auto& entry : results) out.endpoints.push_back(entry.endpoint());
  if (out.endpoints.empty()) out.error = "no address";
  co_return out;
}

}  // namespace sira::http::internal
