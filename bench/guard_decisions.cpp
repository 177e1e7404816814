// bench/guard_decisions: SIRA Guard decisions at 100,000 active IP bans on SQLite: insert rate
// through add_in(), the startup stream a CrowdSec bouncer pulls (Decisions::stream + CrowdSec JSON
// with Boost.JSON) and the latency of Decisions::lookup(), each next to a baseline from the same
// run.
//
//   guard_decisions [--decisions N] [--batch N] [--runs N] [--lookups N] [--synchronous
//   full|normal]
//
// Baselines: a plain `SELECT seq, value FROM guard_decisions` scan of the same rows (what reading
// alone costs) for the stream, and a std::unordered_map<std::string, int64_t> find on the same
// address strings for the lookup. Target: 100,000 decisions streamed to a starting bouncer < 1 s.
#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "audit/log.h"
#include "core/metrics.h"
#include "guard/decisions.h"
#include "store/migrations.h"
#include "store/sqlite.h"

using namespace sira;
namespace bj = boost::json;
using Steady = std::chrono::steady_clock;

namespace {

double seconds_since(Steady::time_point t0) {
  return std::chrono::duration<double>(Steady::now() - t0).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

std::string ip_of(int64_t i) {
  // 10.0.0.0/8 holds 16.7 M distinct addresses: plenty for any --decisions.
  char buf[32];
  std::snprintf(buf, sizeof buf, "10.%d.%d.%d", static_cast<int>((i >> 16) & 255),
                static_cast<int>((i >> 8) & 255), static_cast<int>(i & 255));
  return buf;
}

// The object a CrowdSec bouncer receives, as src/api/guard_routes.cpp writes it.
bj::object crowdsec_json(const guard::Decision& d, int64_t now) {
  int64_t secs = d.expires_at ? std::max<int64_t>(1, (*d.expires_at - now) / 1000) : 87600 * 3600;
  bj::object o{{"id", d.seq},
               {"origin", d.origin == "manual" ? "cscli" : "sira"},
               {"type", d.type == "ban" ? "ban" : "throttle"},
               {"scope", d.scope == guard::Scope::kRange ? "Range" : "Ip"},
               {"value", d.value},
               {"duration", std::to_string(secs) + "s"},
               {"scenario", d.scenario.empty() ? "sira/manual" : d.scenario},
               {"simulated", false}};
  if (d.expires_at) o["until"] = format_rfc3339_ms(*d.expires_at);
  return o;
}

[[noreturn]] void die(const char* what, const Error& e) {
  std::fprintf(stderr, "%s: %s\n", what, e.detail.c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines show up when piped to a file
  int64_t n = 100000, batch = 1000, runs = 5, lookups = 100000;
  std::string sync = "full";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--decisions")
      n = std::atoll(argv[i + 1]);
    else if (a == "--batch")
      batch = std::atoll(argv[i + 1]);
    else if (a == "--runs")
      runs = std::atoll(argv[i + 1]);
    else if (a == "--lookups")
      lookups = std::atoll(argv[i + 1]);
    else if (a == "--synchronous")
      sync = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (n < 1 || batch < 1 || runs < 1 || lookups < 1) return 2;

  std::string tmpl = (std::filesystem::temp_directory_path() / "sira-bench-guard-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) return 1;
  const std::string dir = tmpl;

  int rc = 0;
  {
    store::SqliteOptions o;
    o.path = dir + "/sira.db";
    o.synchronous = sync;
    auto opened = store::open_sqlite(o);
    if (!opened) die("open", opened.error());
    std::unique_ptr<store::Database> db = std::move(*opened);
    auto migrations = audit::AuditLog::migrations();
    for (auto& m : guard::Decisions::migrations()) migrations.push_back(m);
    if (auto m = store::migrate(*db, migrations, 0); !m) die("migrate", m.error());
    auto signer = audit::Signer::load_or_create(dir + "/key.pem");
    if (!signer) die("signer", signer.error());
    SystemClock clock;
    MetricsRegistry metrics;
    audit::AuditLog log(*db, *signer, clock, metrics);
    if (auto r = log.open(); !r) die("audit open", r.error());
    guard::Decisions decisions(*db, log, clock);
    if (auto r = decisions.load(); !r) die("load", r.error());
    const std::string tenant = "ten_bench";

    std::printf("guard_decisions: %lld active IP bans, transactions of %lld, synchronous=%s\n",
                static_cast<long long>(n), static_cast<long long>(batch), sync.c_str());

    // ---- inserts through add_in(), `batch` per transaction ----
    std::vector<double> batch_rates;
    auto t_insert = Steady::now();
    for (int64_t i = 0; i < n;) {
      auto t_batch = Steady::now();
      auto tx = db->begin(store::TxKind::kWrite);
      if (!tx) die("begin", tx.error());
      int64_t end = std::min(n, i + batch);
      for (int64_t k = i; k < end; ++k) {
        guard::NewDecision d;
        d.scope = guard::Scope::kIp;
        d.value = ip_of(k);
        d.type = "ban";
        d.origin = "sira";
        d.scenario = "sira/brute_force";
        d.reason = "bench";
        d.duration_ms = 24LL * 3600 * 1000;
        auto r = decisions.add_in(**tx, tenant, "bench", d);
        if (!r) die("add_in", r.error());
      }
      if (auto c = (*tx)->commit(); !c) die("commit", c.error());
      batch_rates.push_back(static_cast<double>(end - i) / seconds_since(t_batch));
      // add_in() checks the tenant's active decisions for one to supersede: show how the rate
      // evolves with their number.
      if (n >= 10 && end / (n / 10) != i / (n / 10))
        std::printf("  %7lld active: last batch %.0f decisions/s\n", static_cast<long long>(end),
                    batch_rates.back());
      i = end;
    }
    double insert_s = seconds_since(t_insert);
    std::printf(
        "insert: %lld decisions in %.2f s = %.0f decisions/s (first batch %.0f/s, last "
        "batch %.0f/s: %.1fx slower at the end)\n",
        static_cast<long long>(n), insert_s, static_cast<double>(n) / insert_s, batch_rates.front(),
        batch_rates.back(), batch_rates.front() / batch_rates.back());
    if (decisions.active(tenant).size() != static_cast<size_t>(n)) {
      std::fprintf(stderr, "expected %lld active decisions, got %zu\n", static_cast<long long>(n),
                   decisions.active(tenant).size());
      return 1;
    }

    auto bouncer = decisions.add_bouncer(tenant, "bench", "bench-bouncer");
    if (!bouncer) die("add_bouncer", bouncer.error());

    // ---- startup stream + CrowdSec JSON ----
    std::vector<double> stream_s, json_s, total_s;
    size_t body_bytes = 0, streamed = 0;
    for (int64_t r = 0; r < runs; ++r) {
      auto t0 = Steady::now();
      auto s = decisions.stream(bouncer->first, true);
      if (!s) die("stream", s.error());
      double t_stream = seconds_since(t0);
      auto t1 = Steady::now();
      int64_t now = clock.now_ms();
      bj::array added;
      added.reserve(s->added.size());
      for (const auto& d : s->added) added.push_back(crowdsec_json(d, now));
      bj::object body{{"new", std::move(added)}, {"deleted", nullptr}};
      std::string text = bj::serialize(body);
      double t_json = seconds_since(t1);
      stream_s.push_back(t_stream);
      json_s.push_back(t_json);
      total_s.push_back(t_stream + t_json);
      body_bytes = text.size();
      streamed = s->added.size();
    }

    // ---- baseline: a plain scan of the same rows ----
    std::vector<double> scan_s;
    size_t scanned = 0;
    for (int64_t r = 0; r < runs; ++r) {
      auto t0 = Steady::now();
      auto tx = db->begin(store::TxKind::kRead);
      if (!tx) die("begin", tx.error());
      std::vector<std::pair<int64_t, std::string>> rows;
      rows.reserve(static_cast<size_t>(n));
      auto st =
          (*tx)->each("SELECT seq, value FROM guard_decisions", {}, [&](const store::Row& row) {
            rows.emplace_back(row.i64(0), row.str(1));
            return true;
          });
      if (!st) die("scan", st.error());
      scan_s.push_back(seconds_since(t0));
      scanned = rows.size();
    }

    double stream_med = median(stream_s), json_med = median(json_s), total_med = median(total_s);
    double scan_med = median(scan_s);
    std::printf(
        "stream(startup): %zu decisions, median of %lld runs: %.1f ms stream + %.1f ms "
        "CrowdSec JSON (%.1f MB) = %.1f ms\n",
        streamed, static_cast<long long>(runs), stream_med * 1e3, json_med * 1e3,
        static_cast<double>(body_bytes) / 1e6, total_med * 1e3);
    std::printf(
        "baseline SELECT seq, value scan: %zu rows, median %.1f ms -> stream+JSON is %.1fx "
        "the plain scan\n",
        scanned, scan_med * 1e3, total_med / scan_med);
    bool met = streamed == static_cast<size_t>(n) && total_med < 1.0;
    std::printf("target: %lld decisions streamed to a starting bouncer in < 1 s: %s (%.3f s)\n",
                static_cast<long long>(n), met ? "met" : "NOT met", total_med);

    // ---- lookup of a random banned IP, and of a random address with no decision ----
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<int64_t> pick(0, n - 1);
    std::vector<std::string> hits, misses;
    hits.reserve(static_cast<size_t>(lookups));
    misses.reserve(static_cast<size_t>(lookups));
    for (int64_t i = 0; i < lookups; ++i) {
      hits.push_back(ip_of(pick(rng)));
      misses.push_back("192.0." + std::to_string(pick(rng) & 255) + "." +
                       std::to_string((pick(rng) >> 8) & 255));
    }
    auto time_each = [&](auto&& fn, const std::vector<std::string>& ips) {
      std::vector<double> ns;
      ns.reserve(ips.size());
      for (const auto& ip : ips) {
        auto t0 = Steady::now();
        fn(ip);
        ns.push_back(std::chrono::duration<double, std::nano>(Steady::now() - t0).count());
      }
      return ns;
    };
    size_t banned = 0;
    auto hit_ns = time_each(
        [&](const std::string& ip) { banned += decisions.lookup(tenant, "", ip).action == "ban"; },
        hits);
    size_t allowed = 0;
    auto miss_ns = time_each(
        [&](const std::string& ip) {
          allowed += decisions.lookup(tenant, "", ip).action == "allow";
        },
        misses);
    std::unordered_map<std::string, int64_t> plain;
    plain.reserve(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) plain.emplace(ip_of(i), i);
    size_t found = 0;
    auto map_ns = time_each([&](const std::string& ip) { found += plain.count(ip); }, hits);
    auto timer_ns = time_each([](const std::string&) {}, hits);
    std::printf(
        "lookup(random banned IP): median %.0f ns, p99 %.0f ns over %lld lookups (%zu ban)\n",
        median(hit_ns), percentile(hit_ns, 0.99), static_cast<long long>(lookups), banned);
    std::printf("lookup(random IP, no decision): median %.0f ns, p99 %.0f ns (%zu allow)\n",
                median(miss_ns), percentile(miss_ns, 0.99), allowed);
    std::printf(
        "baseline unordered_map<string> find: median %.0f ns (%zu found) -> lookup is %.1fx; "
        "timer overhead %.0f ns\n",
        median(map_ns), found, median(hit_ns) / std::max(1.0, median(map_ns)), median(timer_ns));
    if (banned != static_cast<size_t>(lookups) || allowed != static_cast<size_t>(lookups)) rc = 1;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return rc;
}
