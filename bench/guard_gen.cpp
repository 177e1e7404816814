// bench/guard_gen: writes a synthetic request log (NDJSON or nginx `sira` format) with attacks of
// every SIRA Guard type injected into benign background traffic, plus a labels file listing the
// attacking keys per type (ground truth for precision and recall).
//
//   guard_gen --records N --keys K --format ndjson|nginx --out FILE --labels FILE [--seed S]
//             [--end-ms T]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

struct Rec {
  int64_t ts;
  std::string key, ip, method, path;
  int status;
  double latency;
};

struct Gen {
  std::mt19937_64 rng;
  explicit Gen(uint64_t seed) : rng(seed) {}
  double uni() { return std::uniform_real_distribution<double>(0, 1)(rng); }
  int64_t range(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }
  double lognormal(double median, double sigma) {
    return median * std::exp(sigma * std::normal_distribution<double>(0, 1)(rng));
  }
};

std::string ip4(uint32_t v) {
  char b[32];
  std::snprintf(b, sizeof b, "%u.%u.%u.%u", (v >> 24) & 255, (v >> 16) & 255, (v >> 8) & 255, v & 255);
  return b;
}

const char* kPaths[] = {"/v1/payments", "/v1/payments/confirm", "/v1/customers", "/v1/refunds",
                        "/v1/balance", "/v1/kyc/checks", "/v1/payouts", "/v1/webhooks"};

void write_rec(std::string& out, const Rec& r, bool nginx) {
  char buf[1024];
  if (!nginx) {
    int n = std::snprintf(buf, sizeof buf,
                          "{\"ts\":%lld,\"key_id\":\"%s\",\"ip\":\"%s\",\"method\":\"%s\",\"path\":\"%s\","
                          "\"status\":%d,\"latency_ms\":%.1f,\"bytes\":%d,\"user_agent\":\"sdk-go/1.4\"}\n",
                          static_cast<long long>(r.ts), r.key.c_str(), r.ip.c_str(), r.method.c_str(),
                          r.path.c_str(), r.status, r.latency, 200 + r.status % 300);
    out.append(buf, n);
    return;
  }
  static const char* kMon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t secs = static_cast<time_t>(r.ts / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  int n = std::snprintf(buf, sizeof buf,
                        "%s - - [%02d/%s/%04d:%02d:%02d:%02d +0000] \"%s %s HTTP/1.1\" %d %d \"-\" "
                        "\"sdk-go/1.4\" %.3f \"%s\"\n",
                        r.ip.c_str(), tm.tm_mday, kMon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
                        tm.tm_min, tm.tm_sec, r.method.c_str(), r.path.c_str(), r.status,
                        200 + r.status % 300, r.latency / 1000.0, r.key.c_str());
  out.append(buf, n);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t records = 10'000'000, keys = 100'000;
  std::string format = "ndjson", out_path = "requests.ndjson", labels_path = "labels.json";
  uint64_t seed = 42;
  int64_t end_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--records") records = std::stoll(argv[i + 1]);
    else if (a == "--keys") keys = std::stoll(argv[i + 1]);
    else if (a == "--format") format = argv[i + 1];
    else if (a == "--out") out_path = argv[i + 1];
    else if (a == "--labels") labels_path = argv[i + 1];
    else if (a == "--seed") seed = std::stoull(argv[i + 1]);
    else if (a == "--end-ms") end_ms = std::stoll(argv[i + 1]);
  }
  const bool nginx = format == "nginx";
  const int64_t span = 4LL * 3600 * 1000;
  const int64_t t0 = end_ms - span;
  Gen g(seed);
  std::vector<Rec> attacks;
  std::map<std::string, std::vector<std::string>> labels;
  const int kPerType = 20;
  auto steady = [&](const std::string& key, double per_min, int64_t from, int64_t to, double lat_med) {
    for (int64_t t = from; t < to; t += static_cast<int64_t>(60000 / per_min))
      attacks.push_back({t + g.range(0, 500), key, ip4(0x0A000000u + std::hash<std::string>{}(key) % 200),
                         "GET", kPaths[g.range(0, 7)], g.uni() < 0.99 ? 200 : 404, g.lognormal(lat_med, 0.35)});
  };
  for (int i = 0; i < kPerType; ++i) {
    std::string k = "atk_bf_" + std::to_string(i);
    labels["brute_force"].push_back(k);
    int64_t start = t0 + 3 * 3600 * 1000 + i * 60000;
    std::string ip = ip4(0xC6336400u + i);  // 198.51.100.x
    for (int j = 0; j < 300; ++j)
      attacks.push_back({start + j * 2000, k, ip, "POST", "/v1/auth/token", g.uni() < 0.85 ? 401 : 200,
                         g.lognormal(90, 0.3)});
  }
  for (int i = 0; i < kPerType; ++i) {
    std::string k = "atk_bot_" + std::to_string(i);
    labels["bot_pattern"].push_back(k);
    int64_t start = t0 + 3 * 3600 * 1000;
    for (int j = 0; j < 2000; ++j)
      attacks.push_back({start + j * 1700, k, ip4(0xCB007100u + i), "GET", "/v1/balance", 200,
                         15 + g.uni() * 15});
  }
  for (int i = 0; i < kPerType; ++i) {
    std::string k = "atk_rot_" + std::to_string(i);
    labels["ip_rotation"].push_back(k);
    int64_t start = t0 + 3 * 3600 * 1000 + i * 30000;
    for (int j = 0; j < 400; ++j)
      attacks.push_back({start + j * 4000, k, ip4(0x64400000u + i * 256 + static_cast<uint32_t>(g.range(0, 79))),
                         "GET", kPaths[g.range(0, 7)], 200, g.lognormal(120, 0.5)});
  }
  for (int i = 0; i < kPerType; ++i) {
    std::string k = "atk_spike_" + std::to_string(i);
    labels["traffic_spike"].push_back(k);
    steady(k, 2, t0, end_ms, 110);
    int64_t start = t0 + 3 * 3600 * 1000 + 30 * 60000 + i * 20000;
    for (int j = 0; j < 600; ++j)
      attacks.push_back({start + j * 450, k, ip4(0x0A000000u + static_cast<uint32_t>(g.range(0, 3))), "GET",
                         kPaths[g.range(0, 7)], 200, g.lognormal(110, 0.35)});
  }
  for (int i = 0; i < kPerType; ++i) {
    std::string k = "atk_scan_" + std::to_string(i);
    labels["endpoint_scanning"].push_back(k);
    int64_t start = t0 + 3 * 3600 * 1000 + i * 45000;
    for (int j = 0; j < 200; ++j) {
      bool probe = j % 4 != 0;
      attacks.push_back({start + j * 2500, k, ip4(0xC0000200u + i),
                         "GET", probe ? "/admin/probe/" + std::to_string(j) : std::string("/v1/balance"),
                         probe ? 404 : 200, g.lognormal(40, 0.3)});
    }
  }
  for (int i = 0; i < kPerType; ++i) {
    std::string k = "atk_5xx_" + std::to_string(i);
    labels["error_burst"].push_back(k);
    // Same volume as always; for five minutes half of it fails with 503 (a service problem).
    size_t from = attacks.size();
    steady(k, 20, t0, end_ms, 100);
    int64_t start = t0 + 3 * 3600 * 1000 + 20 * 60000 + i * 30000;
    for (size_t j = from; j < attacks.size(); ++j)
      if (attacks[j].ts >= start && attacks[j].ts < start + 5 * 60000 && g.uni() < 0.5)
        attacks[j].status = 503;
  }
  for (int i = 0; i < kPerType; ++i) {
    std::string k = "atk_slow_" + std::to_string(i);
    labels["latency_degradation"].push_back(k);
    steady(k, 10, t0, end_ms - 15 * 60000, 80);
    steady(k, 10, end_ms - 15 * 60000, end_ms, 600);
  }
  std::sort(attacks.begin(), attacks.end(), [](const Rec& a, const Rec& b) { return a.ts < b.ts; });

  std::FILE* f = std::fopen(out_path.c_str(), "wb");
  if (!f) {
    std::perror("open");
    return 1;
  }
  int64_t background = std::max<int64_t>(0, records - static_cast<int64_t>(attacks.size()));
  // Benign keys: skewed popularity; 1-3 addresses each; realistic latency spread and errors.
  std::string out;
  out.reserve(16 << 20);
  size_t ai = 0;
  Rec r;
  for (int64_t n = 0; n < background; ++n) {
    int64_t ts = t0 + (span * n) / std::max<int64_t>(1, background);
    while (ai < attacks.size() && attacks[ai].ts <= ts) write_rec(out, attacks[ai++], nginx);
    double u = g.uni();
    int64_t key = static_cast<int64_t>(keys * u * u);
    r.ts = ts;
    r.key = "key_" + std::to_string(key);
    r.ip = ip4(0x0B000000u + static_cast<uint32_t>(key * 3 + g.range(0, 2)));
    r.method = g.uni() < 0.7 ? "GET" : "POST";
    r.path = kPaths[g.range(0, 7)];
    double s = g.uni();
    r.status = s < 0.97 ? 200 : s < 0.985 ? 404 : s < 0.995 ? 400 : 500;
    r.latency = g.lognormal(120, 0.6);
    write_rec(out, r, nginx);
    if (out.size() > (15 << 20)) {
      std::fwrite(out.data(), 1, out.size(), f);
      out.clear();
    }
  }
  while (ai < attacks.size()) write_rec(out, attacks[ai++], nginx);
  std::fwrite(out.data(), 1, out.size(), f);
  std::fclose(f);

  std::FILE* l = std::fopen(labels_path.c_str(), "wb");
  std::fprintf(l, "{");
  bool first = true;
  for (const auto& [type, ks] : labels) {
    std::fprintf(l, "%s\"%s\":[", first ? "" : ",", type.c_str());
    for (size_t i = 0; i < ks.size(); ++i) std::fprintf(l, "%s\"%s\"", i ? "," : "", ks[i].c_str());
    std::fprintf(l, "]");
    first = false;
  }
  std::fprintf(l, "}\n");
  std::fclose(l);
  std::fprintf(stderr, "guard_gen: %lld background + %zu attack records -> %s\n",
               static_cast<long long>(background), attacks.size(), out_path.c_str());
  return 0;
}
