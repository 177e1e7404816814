// bench/alerts_load: the alert load of bench/alerts as a native client, so that the client is not
// what limits the servers it measures (the Python generator of load.py tops out near the rate it
// is asked to measure on a 2-core machine).
//
// Same load as load.py's load_worker: WORKERS keep-alive connections; connection w owns the label
// sets i % WORKERS == w (of LABEL_SETS), posts BATCH of them at random per POST, and every 5th POST
// resolves BATCH alerts it fired before (endsAt in the past). Runs for DURATION seconds starting at
// START (CLOCK_MONOTONIC seconds, as Python's time.monotonic()) and prints one JSON object:
// posts, ok_posts, alerts_ok, fired, resolved, non200, errors, sample, lat_p50/p99/max (seconds).
//
// usage: alerts_load URL TOKEN START DURATION    (TOKEN "-" sends no Authorization header)
// env:   WORKERS (4), BATCH (64), LABEL_SETS (10000), ALERTNAMES (10), SERVICES (50), PATH_ (POST
//        path, /api/v2/alerts)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

int env_int(const char* name, int def) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : def;
}

double mono() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double wall() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::string rfc3339(double t) {
  const auto secs = static_cast<time_t>(t);
  tm g{};
  gmtime_r(&secs, &g);
  char buf[64];
  const int ms = static_cast<int>((t - static_cast<double>(secs)) * 1000);
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", g.tm_year + 1900,
                g.tm_mon + 1, g.tm_mday, g.tm_hour, g.tm_min, g.tm_sec, ms);
  return buf;
}

struct Config {
  std::string host;
  int port = 0;
  std::string path = "/api/v2/alerts";
  std::string token;
  double start = 0, duration = 0;
  int workers = 4, batch = 64, label_sets = 10000, alertnames = 10, services = 50;
};

// The same label set JSON as load.py's label_fragment (without the closing brace).
std::string fragment(const Config& c, int i) {
  const int a = i % c.alertnames;
  const int s = (i / c.alertnames) % c.services;
  const int inst = i / (c.alertnames * c.services);
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "{\"labels\":{\"alertname\":\"BenchAlert%d\",\"service\":\"svc-%d\",\"instance\":"
                "\"host-%d:9100\",\"job\":\"node\",\"severity\":\"%s\"},\"annotations\":{"
                "\"summary\":\"bench alert %d on host-%d\",\"runbook_url\":"
                "\"https://runbooks.example.com/BenchAlert%d\"}",
                a, s, inst, a % 3 ? "warning" : "critical", a, inst, a);
  return buf;
}

struct Result {
  long posts = 0, ok_posts = 0, alerts_ok = 0, fired = 0, resolved = 0, non200 = 0, errors = 0;
  std::string sample;
  std::vector<float> lat;
};

class Conn {
 public:
  explicit Conn(const Config& c) : c_(c) {}
  ~Conn() { close_fd(); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Sends one request and reads the response; returns the HTTP status, or -1 on a connection
  // error (the connection is then reopened on the next call).
  int post(const std::string& req, std::string* err) {
    if (fd_ < 0 && !open(err)) return -1;
    size_t off = 0;
    while (off < req.size()) {
      const ssize_t n = ::send(fd_, req.data() + off, req.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return fail("send", err);
      off += static_cast<size_t>(n);
    }
    // status line and headers
    size_t hdr_end;
    while ((hdr_end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return fail("recv", err);
    const std::string head = buf_.substr(0, hdr_end);
    buf_.erase(0, hdr_end + 4);
    int status = 0;
    if (std::sscanf(head.c_str(), "HTTP/1.%*d %d", &status) != 1) return fail("status", err);
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    size_t body_len = 0;
    if (auto p = lower.find("content-length:"); p != std::string::npos) {
      body_len = std::strtoul(lower.c_str() + p + 15, nullptr, 10);
      while (buf_.size() < body_len)
        if (!fill()) return fail("recv body", err);
      if (status != 200 && err->empty())
        *err = "HTTP " + std::to_string(status) + " " +
               buf_.substr(0, std::min<size_t>(body_len, 300));
      buf_.erase(0, body_len);
    } else if (lower.find("transfer-encoding: chunked") != std::string::npos) {
      size_t end;
      while ((end = buf_.find("0\r\n\r\n")) == std::string::npos)
        if (!fill()) return fail("recv chunked", err);
      buf_.erase(0, end + 5);
    }
    if (lower.find("connection: close") != std::string::npos) close_fd();
    return status;
  }

 private:
  bool open(std::string* err) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(c_.port));
    inet_pton(AF_INET, c_.host.c_str(), &a.sin_addr);
    timeval tv{30, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      fail("connect", err);
      return false;
    }
    return true;
  }
  bool fill() {
    char tmp[65536];
    const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  int fail(const char* what, std::string* err) {
    if (err->empty()) *err = std::string(what) + ": " + std::strerror(errno);
    close_fd();
    return -1;
  }
  void close_fd() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buf_.clear();
  }
  const Config& c_;
  int fd_ = -1;
  std::string buf_;
};

void worker(const Config& c, int w, Result* res) {
  std::mt19937_64 rnd(1000 + static_cast<uint64_t>(w));
  std::vector<int> owned;
  for (int i = w; i < c.label_sets; i += c.workers) owned.push_back(i);
  std::unordered_map<int, std::string> frag;
  for (int i : owned) frag[i] = fragment(c, i);
  std::vector<int> fired_list;
  std::unordered_map<int, size_t> fired_pos;
  std::unordered_map<int, std::pair<double, std::string>> started;
  std::string prefix = "POST " + c.path + " HTTP/1.1\r\nHost: " + c.host + ":" +
                       std::to_string(c.port) + "\r\nContent-Type: application/json\r\n";
  if (!c.token.empty() && c.token != "-") prefix += "Authorization: Bearer " + c.token + "\r\n";
  Conn conn(c);
  while (mono() < c.start) std::this_thread::sleep_for(std::chrono::microseconds(500));
  const double end = c.start + c.duration;
  std::string body, req;
  std::vector<int> pick;
  for (long n = 0;; ++n) {
    const double t0 = mono();
    if (t0 >= end) break;
    const double now = wall();
    const bool resolving = n % 5 == 4 && static_cast<int>(fired_list.size()) >= c.batch;
    body = "[";
    pick.clear();
    if (resolving) {
      // BATCH distinct fired label sets, then swap-removed from the fired list
      std::vector<int> pool = fired_list;
      for (int k = 0; k < c.batch; ++k) {
        std::uniform_int_distribution<size_t> d(static_cast<size_t>(k), pool.size() - 1);
        std::swap(pool[static_cast<size_t>(k)], pool[d(rnd)]);
        pick.push_back(pool[static_cast<size_t>(k)]);
      }
      for (int i : pick) {
        auto st = started[i];
        started.erase(i);
        const std::string ends = rfc3339(std::max(now - 1, st.first + 0.002));
        if (body.size() > 1) body += ',';
        body += frag[i] + ",\"startsAt\":\"" + st.second + "\",\"endsAt\":\"" + ends + "\"}";
        const size_t k = fired_pos[i];
        fired_pos.erase(i);
        const int last = fired_list.back();
        fired_list.pop_back();
        if (last != i) {
          fired_list[k] = last;
          fired_pos[last] = k;
        }
      }
    } else {
      const std::string now_s = rfc3339(now);
      for (int k = 0; k < c.batch; ++k) {
        std::uniform_int_distribution<size_t> d(static_cast<size_t>(k), owned.size() - 1);
        std::swap(owned[static_cast<size_t>(k)], owned[d(rnd)]);
        pick.push_back(owned[static_cast<size_t>(k)]);
      }
      for (int i : pick) {
        auto it = started.find(i);
        if (it == started.end()) {
          it = started.emplace(i, std::make_pair(now, now_s)).first;
          fired_pos[i] = fired_list.size();
          fired_list.push_back(i);
        }
        if (body.size() > 1) body += ',';
        body += frag[i] + ",\"startsAt\":\"" + it->second.second + "\"}";
      }
    }
    body += ']';
    req = prefix + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    std::string err;
    const int status = conn.post(req, &err);
    if (status < 0) {
      ++res->errors;
      if (res->sample.empty()) res->sample = err;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    } else {
      ++res->posts;
      if (status == 200) {
        ++res->ok_posts;
        res->alerts_ok += c.batch;
        (resolving ? res->resolved : res->fired) += c.batch;
      } else {
        ++res->non200;
        if (res->sample.empty()) res->sample = err;
      }
    }
    res->lat.push_back(static_cast<float>(mono() - t0));
  }
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (unsigned char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += static_cast<char>(ch);
    } else if (ch < 0x20 || ch >= 0x7f) {
      out += '?';
    } else {
      out += static_cast<char>(ch);
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: alerts_load URL TOKEN START DURATION\n");
    return 2;
  }
  Config c;
  std::string url = argv[1];
  if (url.rfind("http://", 0) != 0) {
    std::fprintf(stderr, "alerts_load: only http://HOST:PORT URLs\n");
    return 2;
  }
  url = url.substr(7);
  const auto colon = url.find(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "alerts_load: the URL needs a port\n");
    return 2;
  }
  c.host = url.substr(0, colon);
  c.port = std::atoi(url.c_str() + colon + 1);
  c.token = argv[2];
  c.start = std::atof(argv[3]);
  c.duration = std::atof(argv[4]);
  c.workers = std::max(1, env_int("WORKERS", 4));
  c.batch = std::max(1, env_int("BATCH", 64));
  c.label_sets = env_int("LABEL_SETS", 10000);
  c.alertnames = std::max(1, env_int("ALERTNAMES", 10));
  c.services = std::max(1, env_int("SERVICES", 50));
  if (const char* p = std::getenv("PATH_"); p && *p) c.path = p;
  if (c.label_sets / c.workers < c.batch) {
    std::fprintf(stderr, "alerts_load: LABEL_SETS / WORKERS must be at least BATCH\n");
    return 2;
  }
  std::vector<Result> results(static_cast<size_t>(c.workers));
  std::vector<std::thread> threads;
  for (int w = 0; w < c.workers; ++w)
    threads.emplace_back(worker, std::cref(c), w, &results[static_cast<size_t>(w)]);
  for (auto& t : threads) t.join();
  Result all;
  for (auto& r : results) {
    all.posts += r.posts;
    all.ok_posts += r.ok_posts;
    all.alerts_ok += r.alerts_ok;
    all.fired += r.fired;
    all.resolved += r.resolved;
    all.non200 += r.non200;
    all.errors += r.errors;
    if (all.sample.empty()) all.sample = r.sample;
    all.lat.insert(all.lat.end(), r.lat.begin(), r.lat.end());
  }
  std::sort(all.lat.begin(), all.lat.end());
  auto pct = [&](double p) -> double {
    if (all.lat.empty()) return 0;
    return all.lat[std::min(all.lat.size() - 1,
                            static_cast<size_t>(static_cast<double>(all.lat.size()) * p))];
  };
  std::printf(
      "{\"posts\":%ld,\"ok_posts\":%ld,\"alerts_ok\":%ld,\"fired\":%ld,\"resolved\":%ld,"
      "\"non200\":%ld,\"errors\":%ld,\"sample\":\"%s\",\"lat_p50\":%.6f,\"lat_p99\":%.6f,"
      "\"lat_max\":%.6f}\n",
      all.posts, all.ok_posts, all.alerts_ok, all.fired, all.resolved, all.non200, all.errors,
      json_escape(all.sample).c_str(), pct(0.5), pct(0.99), all.lat.empty() ? 0 : all.lat.back());
  return 0;
}
