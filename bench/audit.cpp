// bench/audit: audit log throughput on SQLite, full verification time and inclusion-proof latency
// at 1,000,000 entries, each printed next to a baseline measured in the same run.
//
//   audit [--entries N] [--single N] [--batched N] [--synchronous full|normal]
//
// Baselines: the same rows inserted without hashing or signing (what the store alone costs), and
// a plain scan of the stored rows (what reading alone costs during verification).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "audit/log.h"
#include "store/migrations.h"
#include "store/sqlite.h"

using namespace sira;
using Clock_ = std::chrono::steady_clock;

namespace {

double seconds_since(Clock_::time_point t0) {
  return std::chrono::duration<double>(Clock_::now() - t0).count();
}

struct Env {
  std::string dir;
  std::unique_ptr<store::Database> db;
  std::unique_ptr<audit::Signer> signer;
  SystemClock clock;
  MetricsRegistry metrics;
  std::unique_ptr<audit::AuditLog> log;

  Env(const std::string& base, const std::string& name, const std::string& sync) {
    dir = base + "/" + name;
    std::filesystem::create_directories(dir);
    store::SqliteOptions o;
    o.path = dir + "/sira.db";
    o.synchronous = sync;
    db = std::move(*store::open_sqlite(o));
    auto migrations = audit::AuditLog::migrations();
    migrations.push_back({"bench", 1, "baseline table",
                          "CREATE TABLE plain_entries (tenant_id TEXT NOT NULL, idx INTEGER NOT "
                          "NULL, time_ms INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT "
                          "NULL, target_type TEXT NOT NULL, target_id TEXT NOT NULL, details TEXT "
                          "NOT NULL, PRIMARY KEY (tenant_id, idx));"});
    if (!store::migrate(*db, migrations, 0)) std::abort();
    signer = std::make_unique<audit::Signer>(std::move(*audit::Signer::load_or_create(dir + "/key.pem")));
    log = std::make_unique<audit::AuditLog>(*db, *signer, clock, metrics);
    if (!log->open()) std::abort();
  }
};

audit::EntryInput entry(int64_t i) {
  return {"tok_01JBENCHACTOR0000000000000", "user.update", "user",
          "usr_01JBENCH" + std::to_string(i), "{\"name\":\"user " + std::to_string(i) +
                                                  "\",\"roles\":[\"ops\",\"auditor\"]}"};
}

// Appends n entries, per_tx per transaction; returns entries/s.
double audited_appends(Env& env, int64_t n, int per_tx) {
  auto t0 = Clock_::now();
  for (int64_t i = 0; i < n; i += per_tx) {
    auto tx = *env.db->begin(store::TxKind::kWrite);
    for (int k = 0; k < per_tx && i + k < n; ++k)
      if (!env.log->append(*tx, "ten_bench", entry(i + k))) std::abort();
    if (!tx->commit()) std::abort();
  }
  return static_cast<double>(n) / seconds_since(t0);
}

double plain_inserts(Env& env, int64_t n, int per_tx) {
  auto t0 = Clock_::now();
  int64_t now = env.clock.now_ms();
  for (int64_t i = 0; i < n; i += per_tx) {
    auto tx = *env.db->begin(store::TxKind::kWrite);
    for (int k = 0; k < per_tx && i + k < n; ++k) {
      auto e = entry(i + k);
      if (!tx->exec("INSERT INTO plain_entries VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    {std::string("ten_bench"), i + k, now, e.actor, e.action, e.target_type,
                     e.target_id, e.details_json}))
        std::abort();
    }
    if (!tx->commit()) std::abort();
  }
  return static_cast<double>(n) / seconds_since(t0);
}

void ratio_line(const char* what, double value, double baseline, const char* unit,
                const char* target) {
  std::printf("%-46s %12.0f %s   baseline %12.0f %s   ratio %.2f   %s\n", what, value, unit,
              baseline, unit, value / baseline, target);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t big = 1000000, single = 20000, batched = 500000;
  std::string sync = "full";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--entries") big = std::stoll(argv[i + 1]);
    else if (a == "--single") single = std::stoll(argv[i + 1]);
    else if (a == "--batched") batched = std::stoll(argv[i + 1]);
    else if (a == "--synchronous") sync = argv[i + 1];
  }
  std::string base = (std::filesystem::temp_directory_path() / "sira-bench-audit").string();
  std::filesystem::remove_all(base);
  std::printf("bench/audit: SQLite WAL, synchronous=%s, Ed25519-signed tree head per transaction\n",
              sync.c_str());

  {
    Env env(base, "single", sync);
    double plain = plain_inserts(env, single, 1);
    double audited = audited_appends(env, single, 1);
    ratio_line("appends/s, 1 entry per transaction", audited, plain, "/s",
               audited >= 5000 ? "target >= 5,000/s: met" : "target >= 5,000/s: NOT met");
  }
  {
    Env env(base, "batched", sync);
    double plain = plain_inserts(env, batched, 100);
    double audited = audited_appends(env, batched, 100);
    ratio_line("appends/s, 100 entries per transaction", audited, plain, "/s",
               audited >= 50000 ? "target >= 50,000/s: met" : "target >= 50,000/s: NOT met");
  }
  {
    Env env(base, "large", "normal");
    auto t0 = Clock_::now();
    audited_appends(env, big, 1000);
    std::printf("built a log of %lld entries in %.2f s\n", static_cast<long long>(big),
                seconds_since(t0));

    // Baseline: reading every row without hashing.
    t0 = Clock_::now();
    {
      auto tx = *env.db->begin(store::TxKind::kRead);
      int64_t rows = 0;
      (void)tx->each("SELECT idx, time_ms, actor, action, target_type, target_id, details, leaf_hash "
                     "FROM audit_entries WHERE tenant_id = ? ORDER BY idx",
                     {std::string("ten_bench")}, [&](const store::Row&) {
                       ++rows;
                       return true;
                     });
    }
    double scan = seconds_since(t0);
    t0 = Clock_::now();
    auto reps = audit::verify_store(*env.db, env.signer->public_key_raw(), "ten_bench");
    double verify = seconds_since(t0);
    if (!reps || !reps->at(0).ok) {
      std::printf("verification FAILED\n");
      return 1;
    }
    std::printf("%-46s %12.3f s    baseline (row scan) %6.3f s   ratio %.2f   %s\n",
                "full verification, 1M entries", verify, scan, verify / scan,
                verify <= 2.0 ? "target <= 2 s: met" : "target <= 2 s: NOT met");

    std::mt19937_64 rng(42);
    std::vector<double> us;
    const int kProofs = 20000;
    us.reserve(kProofs);
    std::vector<double> leaf_us;
    for (int i = 0; i < kProofs; ++i) {
      int64_t idx = static_cast<int64_t>(rng() % static_cast<uint64_t>(big));
      auto p0 = Clock_::now();
      auto proof = env.log->inclusion_proof("ten_bench", idx, big);
      us.push_back(seconds_since(p0) * 1e6);
      if (!proof) std::abort();
      auto l0 = Clock_::now();
      auto leaf = env.log->leaf_at("ten_bench", idx);
      leaf_us.push_back(seconds_since(l0) * 1e6);
      if (!leaf) std::abort();
    }
    std::sort(us.begin(), us.end());
    std::sort(leaf_us.begin(), leaf_us.end());
    double median = us[us.size() / 2], p99 = us[us.size() * 99 / 100];
    std::printf("%-46s %12.2f us   baseline (leaf lookup) %6.2f us   ratio %.1f   p99 %.2f us   %s\n",
                "inclusion proof median at 1M entries", median, leaf_us[leaf_us.size() / 2],
                median / std::max(0.01, leaf_us[leaf_us.size() / 2]), p99,
                median <= 1000 ? "target <= 1 ms: met" : "target <= 1 ms: NOT met");
  }
  std::filesystem::remove_all(base);
  return 0;
}
