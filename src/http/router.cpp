// Route table matching and problem+json responses.
#include "http/router.h"

#include <algorithm>
#include <boost/json.hpp>
#include <exception>
#include <set>

#include "core/log.h"
#include "http/internal/parse.h"

namespace sira::http {
namespace {

// "/a/{id}/b" -> {"a", "{id}", "b"}; "/" -> {""}.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  for (;;) {
    size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool is_capture(std::string_view segment) {
  return segment.size() >= 3 && segment.front() == '{' && segment.back() == '}';
}

bool matches(const std::vector<std::string>& pattern, const std::vector<std::string>& path) {
  if (pattern.size() != path.size()) return false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (is_capture(pattern[i])) {
      if (path[i].empty()) return false;
    } else if (pattern[i] != path[i]) {
      return false;
    }
  }
  return true;
}

// A literal segment beats a capture at the first position where two patterns differ, so
// "/users/me" wins over "/users/{id}" whatever the order of add().
bool more_specific(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    bool ca = is_capture(a[i]);
    bool cb = is_capture(b[i]);
    if (ca != cb) return !ca;
  }
  return false;
}

// The path as the client sent it (still percent-encoded), for the problem `instance`: a URI
// reference, and never invalid UTF-8 produced by decoding.
std::string_view raw_path(const Request& req) {
  std::string_view path;
  std::string_view query;
  if (req.target.empty() || !internal::split_target(req.target, &path, &query)) return req.path;
  return path;
}

// Path segments, decoded one by one from the raw target so that "%2F" stays inside a segment
// ("/files/a%2Fb" has two segments). Falls back to req.path when the caller built the request
// by hand or rewrote the path.
std::vector<std::string> path_segments(const Request& req) {
  std::string_view raw = raw_path(req);
  std::vector<std::string> out;
  if (raw.data() != req.path.data()) {
    std::string whole;
    if (internal::percent_decode(raw, false, &whole) && whole == req.path) {
      for (std::string_view seg : split_path(raw)) {
        std::string decoded;
        internal::percent_decode(seg, false, &decoded);
        out.push_back(std::move(decoded));
      }
      return out;
    }
  }
  for (std::string_view seg : split_path(req.path)) out.emplace_back(seg);
  return out;
}

}  // namespace

void Router::add(std::string method, std::string pattern, Handler handler) {
  auto parts = split_path(pattern);
  std::vector<std::string> segments(parts.begin(), parts.end());
  routes_.push_back(
      Route{std::move(method), std::move(pattern), std::move(segments), std::move(handler)});
}

Response Router::dispatch(Request& req) const {
  const std::vector<std::string> parts = path_segments(req);
  const Route* best = nullptr;
  const Route* other_method = nullptr;
  std::set<std::string> allowed;
  for (const Route& r : routes_) {
    if (!matches(r.segments, parts)) continue;
    if (r.method == req.method) {
      if (best == nullptr || more_specific(r.segments, best->segments)) best = &r;
    } else {
      allowed.insert(r.method);
      if (other_method == nullptr || more_specific(r.segments, other_method->segments)) {
        other_method = &r;
      }
    }
  }

  if (best == nullptr) {
    if (other_method == nullptr) {
      return problem(Error(ErrorCode::kNotFound, "no route matches this path"), raw_path(req));
    }
    // Label metrics with a known pattern: the path exists, only the method is wrong.
    req.route = other_method->pattern;
    std::string allow;
    for (const auto& m : allowed) {
      if (!allow.empty()) allow += ", ";
      allow += m;
    }
    Response res = problem(
        Error(ErrorCode::kMethodNotAllowed, "method " + req.method + " is not allowed here"),
        raw_path(req));
    res.set_header("Allow", allow);
    return res;
  }

  req.route = best->pattern;
  req.path_params.clear();
  for (size_t i = 0; i < best->segments.size(); ++i) {
    const std::string& seg = best->segments[i];
    if (is_capture(seg)) req.path_params[seg.substr(1, seg.size() - 2)] = parts[i];
  }
  try {
    return best->handler(req);
  } catch (const std::exception& e) {
    log_error("handler failed", {{"route", best->pattern},
                                 {"method", req.method},
                                 {"trace_id", req.trace_id},
                                 {"error", e.what()}});
  } catch (...) {
    log_error("handler failed", {{"route", best->pattern},
                                 {"method", req.method},
                                 {"trace_id", req.trace_id},
                                 {"error", "unknown exception"}});
  }
  return problem(Error(ErrorCode::kInternal, "the server failed to handle this request"),
                 raw_path(req));
}

namespace {
Response problem_with(int status, std::string_view slug, std::string_view title,
                      std::string_view detail, std::string_view instance, std::string_view field) {
  boost::json::object body;
  std::string type = "https://sira.dev/problems/";
  type += slug;
  body["type"] = type;
  body["title"] = title;
  body["status"] = status;
  body["detail"] = detail;
  if (!instance.empty()) body["instance"] = instance;
  if (!field.empty()) body["field"] = field;
  Response res;
  res.status = status;
  res.content_type = "application/problem+json";
  res.body = boost::json::serialize(body);
  return res;
}
}  // namespace

Response problem(int status, std::string_view slug, std::string_view title, std::string_view detail,
                 std::string_view instance) {
  return problem_with(status, slug, title, detail, instance, {});
}

Response problem(const Error& error, std::string_view instance) {
  return problem_with(error_status(error.code), error_slug(error.code), error_title(error.code),
                      error.detail, instance, error.field);
}

}  // namespace sira::http
