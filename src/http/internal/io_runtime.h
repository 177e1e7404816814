// What the outbound clients (HTTP, SMTP) share: one io_context run by a background thread, and a
// TLS client context verifying peers against the system CA store (TLS 1.2 or newer). Private to
// src/http/.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <exception>
#include <string>
#include <thread>

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

}  // namespace sira::http::internal
