// HTTP/1.1 server on Boost.Beast: keep-alive, size limits, idle timeout, connection cap,
// request metrics and access logs, W3C traceparent, and graceful drain on stop().
//
// The server owns its io_context and threads. run() blocks until stop() (or SIGTERM/SIGINT
// when handle_signals is set) has drained in-flight requests. stop() is thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/error.h"
#include "core/metrics.h"
#include "http/router.h"

namespace sira::http {

struct ServerOptions {
  std::string listen = "127.0.0.1:8080";  // host:port; port 0 picks a free port
  int64_t max_body_bytes = 8 * 1024 * 1024;
  int64_t max_header_bytes = 16 * 1024;
  int64_t idle_timeout_seconds = 60;
  int64_t request_timeout_seconds = 30;
  int64_t max_connections = 4096;
  int threads = 2;
  int64_t drain_timeout_seconds = 15;
  bool handle_signals = true;
  bool access_log = true;
  // A deferred response (Response::deferred) not completed within this answers 503.
  int64_t deferred_timeout_ms = 60000;
};

class Server {
 public:
  Server(ServerOptions options, const Router& router, MetricsRegistry& metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens. Returns the bound "host:port" (useful with port 0).
  Result<std::string> bind();
  // Serves until stopped; returns after draining.
  void run();
  // Stops accepting, finishes in-flight requests, closes idle connections. Thread-safe.
  void stop();
  // Called once when a stop begins (signal or stop()), before draining. Runs on an io thread
  // while that thread serves nothing else: keep it short. Thread-safe.
  void on_stop(std::function<void()> callback);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sira::http
