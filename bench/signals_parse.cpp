// Ingestion hot path: NDJSON and nginx parsing, alone and followed by per-key rollups, over
// generated traffic of 10,000 API keys.
//
// Every benchmark reports `records/s` (a rate) and `x_scan`: its time per line divided by the
// time per line of a plain memchr newline scan over the same buffer, measured in this process,
// so results compare across machines. BM_KeyMemory reports KeyRollup::memory_bytes() for one key
// after 10 and after 10,000 requests.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "signals/parse.h"
#include "signals/rollup.h"

namespace {

using namespace sira::signals;

constexpr int kKeys = 10'000;
constexpr int kLines = 200'000;
constexpr int64_t kStartMs = 1760104500000;  // 2025-10-10T13:55:00Z

struct Line {
  int64_t ts_ms;
  int key;
  std::string ip, method, path, query, agent;
  int status;
  double latency_ms;
  int64_t bytes;
};

std::vector<Line> make_traffic() {
  std::mt19937_64 rng(2025);
  std::lognormal_distribution<double> latency(3.5, 0.9);
  std::uniform_int_distribution<int> key(0, kKeys - 1), ip(0, 49'999), route(0, 19), pct(0, 99),
      id(1, 999'999);
  const char* agents[] = {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0",
                          "python-requests/2.31.0", "curl/8.4.0", "okhttp/4.12.0",
                          "Stripe/v1 NodeBindings/14.5.0"};
  const char* methods[] = {"GET", "GET", "GET", "POST", "DELETE"};
  std::vector<Line> out;
  out.reserve(kLines);
  for (int i = 0; i < kLines; ++i) {
    Line l;
    l.ts_ms = kStartMs + i * 3 + pct(rng) % 3;  // ~10 minutes of traffic
    l.key = key(rng);
    const int n = ip(rng) + l.key;  // a few IPs per key, some shared
    char v6[32];
    std::snprintf(v6, sizeof v6, "2001:db8::%x:%x", n % 65536, l.key);
    l.ip = pct(rng) < 5 ? std::string(v6)
                        : "10." + std::to_string(n / 65536 % 256) + "." +
                              std::to_string(n / 256 % 256) + "." + std::to_string(n % 256);
    l.method = methods[pct(rng) % 5];
    l.path = "/v1/resource" + std::to_string(route(rng)) + "/" + std::to_string(id(rng));
    l.query = pct(rng) < 30 ? "limit=10&starting_after=obj_" + std::to_string(id(rng)) : "";
    const int p = pct(rng);
    l.status = p < 85 ? 200 : p < 90 ? 201 : p < 94 ? 404 : p < 97 ? 401 : p < 99 ? 429 : 503;
    l.latency_ms = static_cast<double>(static_cast<int64_t>(latency(rng) * 1000)) / 1000;
    l.bytes = 200 + id(rng) % 20000;
    l.agent = agents[pct(rng) % 5];
    out.push_back(std::move(l));
  }
  return out;
}

const std::vector<Line>& traffic() {
  static const std::vector<Line> t = make_traffic();
  return t;
}

std::string key_name(int k) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "key_live_%05d", k);
  return buf;
}

const std::string& ndjson_buffer() {
  static const std::string data = [] {
    std::string out;
    char ts[64];
    for (const Line& l : traffic()) {
      const int64_t secs = l.ts_ms / 1000;
      std::time_t t = static_cast<std::time_t>(secs);
      std::tm tm{};
      gmtime_r(&t, &tm);
      std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                    static_cast<int>(l.ts_ms % 1000));
      out += "{\"ts\":\"";
      out += ts;
      out += "\",\"key_id\":\"" + key_name(l.key) + "\",\"ip\":\"" + l.ip + "\",\"method\":\"" +
             l.method + "\",\"path\":\"" + l.path + (l.query.empty() ? "" : "?" + l.query) +
             "\",\"status\":" + std::to_string(l.status) +
             ",\"latency_ms\":" + std::to_string(l.latency_ms) +
             ",\"bytes\":" + std::to_string(l.bytes) + ",\"user_agent\":\"" + l.agent +
             "\",\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\"}\n";
    }
    return out;
  }();
  return data;
}

const std::string& nginx_buffer() {
  static const std::string data = [] {
    std::string out;
    char ts[64];
    for (const Line& l : traffic()) {
      // $time_local in +0200.
      std::time_t t = static_cast<std::time_t>(l.ts_ms / 1000 + 7200);
      std::tm tm{};
      gmtime_r(&t, &tm);
      std::strftime(ts, sizeof ts, "%d/%b/%Y:%H:%M:%S +0200", &tm);
      char secs[32];
      std::snprintf(secs, sizeof secs, "%.3f", l.latency_ms / 1000);
      out += l.ip + " - - [" + ts + "] \"" + l.method + " " + l.path +
             (l.query.empty() ? "" : "?" + l.query) + " HTTP/1.1\" " + std::to_string(l.status) +
             " " + std::to_string(l.bytes) + " \"-\" \"" + l.agent + "\" " + secs + " \"" +
             key_name(l.key) + "\"\n";
    }
    return out;
  }();
  return data;
}

int64_t scan_lines(const std::string& data) {
  int64_t lines = 0;
  const char* p = data.data();
  const char* end = p + data.size();
  while (p < end) {
    const void* nl = std::memchr(p, '\n', static_cast<size_t>(end - p));
    if (nl == nullptr) break;
    p = static_cast<const char*>(nl) + 1;
    ++lines;
  }
  return lines;
}

// Seconds per line of the memchr baseline, measured once per buffer.
double scan_seconds_per_line(const std::string& data) {
  using clock = std::chrono::steady_clock;
  int64_t lines = 0;
  const auto start = clock::now();
  auto now = start;
  do {
    lines += scan_lines(data);
    benchmark::ClobberMemory();
    now = clock::now();
  } while (now - start < std::chrono::milliseconds(100));
  return std::chrono::duration<double>(now - start).count() / static_cast<double>(lines);
}

using Clock = std::chrono::steady_clock;

void report(benchmark::State& state, int64_t lines_per_iteration, const std::string& data,
            Clock::duration elapsed) {
  static const double ndjson_scan = scan_seconds_per_line(ndjson_buffer());
  static const double nginx_scan = scan_seconds_per_line(nginx_buffer());
  const double scan = &data == &ndjson_buffer() ? ndjson_scan : nginx_scan;
  const double total = static_cast<double>(lines_per_iteration) * state.iterations();
  state.counters["records/s"] = benchmark::Counter(total, benchmark::Counter::kIsRate);
  state.counters["bytes/line"] = static_cast<double>(data.size()) / lines_per_iteration;
  state.counters["x_scan"] = std::chrono::duration<double>(elapsed).count() / total / scan;
}

void scan_benchmark(benchmark::State& state, const std::string& data) {
  int64_t lines = 0;
  const auto start = Clock::now();
  for (auto _ : state) {
    lines = scan_lines(data);
    benchmark::DoNotOptimize(lines);
  }
  report(state, lines, data, Clock::now() - start);
}

void parse_benchmark(benchmark::State& state, Format format, const std::string& data, bool rollup) {
  auto parser = make_parser(format);
  Rollups rollups;
  int64_t sink = 0;
  ParseStats stats;
  const auto start = Clock::now();
  for (auto _ : state) {
    stats = ParseStats{};
    if (rollup) {
      parse_lines(
          *parser, data, 1, [&](const RecordView& r) { rollups.key(r.key_id).add(r); }, nullptr,
          &stats);
    } else {
      parse_lines(
          *parser, data, 1, [&](const RecordView& r) { sink += r.status; }, nullptr, &stats);
    }
    benchmark::DoNotOptimize(sink);
  }
  const auto elapsed = Clock::now() - start;
  if (stats.rejected != 0) {
    const std::string why = "generated lines were rejected: " + stats.reasons.begin()->first;
    state.SkipWithError(why.c_str());
  }
  report(state, stats.lines, data, elapsed);
  if (rollup) {
    state.counters["keys"] = static_cast<double>(rollups.size());
    state.counters["rollup_MiB"] = static_cast<double>(rollups.memory_bytes()) / (1 << 20);
  }
}

void BM_ScanNewlines_Ndjson(benchmark::State& state) {
  scan_benchmark(state, ndjson_buffer());
}
void BM_ScanNewlines_Nginx(benchmark::State& state) {
  scan_benchmark(state, nginx_buffer());
}
void BM_Parse_Ndjson(benchmark::State& state) {
  parse_benchmark(state, Format::kNdjson, ndjson_buffer(), false);
}
void BM_ParseRollup_Ndjson(benchmark::State& state) {
  parse_benchmark(state, Format::kNdjson, ndjson_buffer(), true);
}
void BM_Parse_Nginx(benchmark::State& state) {
  parse_benchmark(state, Format::kNginx, nginx_buffer(), false);
}
void BM_ParseRollup_Nginx(benchmark::State& state) {
  parse_benchmark(state, Format::kNginx, nginx_buffer(), true);
}

// Memory of one key after `requests` requests spread over the last hour, 20 client IPs.
void BM_KeyMemory(benchmark::State& state) {
  const int64_t requests = state.range(0);
  size_t bytes = 0;
  for (auto _ : state) {
    KeyRollup key;
    RecordView r;
    std::string ip;
    for (int64_t i = 0; i < requests; ++i) {
      ip = "10.0.0." + std::to_string(i % 20);
      r.ts_ms = kStartMs + i * (3'600'000 / requests);
      r.key_id = "key_live_00001";
      r.ip = ip;
      r.method = "GET";
      r.path = i % 10 == 0 ? "/missing" : "/v1/x";
      r.status = i % 10 == 0 ? 404 : 200;
      r.latency_ms = 5 + static_cast<double>(i % 400);
      key.add(r);
    }
    bytes = key.memory_bytes();
    benchmark::DoNotOptimize(bytes);
  }
  state.counters["memory_bytes"] = static_cast<double>(bytes);
}

long resident_bytes() {
  long pages_total = 0, pages_resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = 0;
    std::fclose(f);
  }
  return pages_resident * 4096;
}

// 100,000 keys with `requests` requests each, in distinct minutes of the last hour: the
// accounted memory_bytes() and the growth of the process RSS.
void BM_HundredThousandKeys(benchmark::State& state) {
  const int64_t requests = state.range(0);
  double accounted = 0, rss = 0;
  for (auto _ : state) {
    const long before = resident_bytes();
    auto rollups = std::make_unique<Rollups>();
    RecordView r;
    r.method = "GET";
    r.path = "/v1/x";
    r.status = 200;
    r.latency_ms = 12;
    r.ip = "203.0.113.9";
    for (int k = 0; k < 100'000; ++k) {
      const std::string name = key_name(k) + "_tenant";
      r.key_id = name;
      KeyRollup& key = rollups->key(name);
      for (int64_t i = 0; i < requests; ++i) {
        r.ts_ms = kStartMs + i * 7 * 60'000 + k;
        key.add(r);
      }
    }
    accounted = static_cast<double>(rollups->memory_bytes());
    rss = static_cast<double>(resident_bytes() - before);
    benchmark::DoNotOptimize(rollups);
  }
  state.counters["accounted_MiB"] = accounted / (1 << 20);
  state.counters["rss_MiB"] = rss / (1 << 20);
}

BENCHMARK(BM_ScanNewlines_Ndjson);
BENCHMARK(BM_Parse_Ndjson);
BENCHMARK(BM_ParseRollup_Ndjson);
BENCHMARK(BM_ScanNewlines_Nginx);
BENCHMARK(BM_Parse_Nginx);
BENCHMARK(BM_ParseRollup_Nginx);
BENCHMARK(BM_KeyMemory)->Arg(10)->Arg(10'000)->Iterations(3);
BENCHMARK(BM_HundredThousandKeys)->Arg(3)->Arg(10)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
