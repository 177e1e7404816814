// /healthz, /readyz and /metrics.
#include "api/common.h"

namespace sira::api {

void add_system_routes(http::Router& router, Services& s) {
  router.add("GET", "/healthz", [](http::Request&) {
    return json(200, bj::object{{"status", "ok"}});
  });
  router.add("GET", "/readyz", [&s](http::Request&) {
    bool ok = true;
    bj::object checks;
    for (const auto& c : s.readiness()) {
      ok = ok && c.ok;
      checks[c.name] = bj::object{{"ok", c.ok}, {"detail", c.detail}};
    }
    return json(ok ? 200 : 503, bj::object{{"status", ok ? "ready" : "not ready"}, {"checks", checks}});
  });
  router.add("GET", "/metrics", [&s](http::Request&) {
    http::Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = s.metrics.render();
    return r;
  });
}

}  // namespace sira::api
