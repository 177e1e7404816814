// Merkle tree micro-benchmarks at 1,000,000 leaves, with costs also given in SHA-256 units.
//
// Every benchmark reports `x_sha256`: its per-operation time (per leaf for BM_Append1M) divided
// by the cost of one raw SHA-256 over 65 bytes (one RFC 6962 node hash) measured in this process,
// so results compare across machines. Proof benchmarks also report p50/p99 latency of single
// operations in µs.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "audit/merkle.h"

namespace {

using sira::Hash256;
using sira::audit::MerkleTree;

constexpr uint64_t kLeaves = 1'000'000;

std::vector<Hash256> make_leaves(uint64_t n) {
  std::vector<Hash256> out;
  out.reserve(n);
  for (uint64_t i = 0; i < n; ++i)
    out.push_back(sira::audit::leaf_hash("entry-" + std::to_string(i)));
  return out;
}

const std::vector<Hash256>& leaves() {
  static const std::vector<Hash256> l = make_leaves(kLeaves);
  return l;
}

const MerkleTree& tree() {
  static const MerkleTree t = [] {
    MerkleTree t;
    t.reserve(kLeaves);
    for (const Hash256& h : leaves()) t.append(h);
    return t;
  }();
  return t;
}

// One-shot SHA-256 of 65 bytes with a fetched algorithm: the cost a node hash cannot go below.
void raw_sha256_65(const unsigned char* in, unsigned char* out) {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  unsigned int len = 0;
  EVP_Digest(in, 65, out, &len, md, nullptr);
}

double sha256_baseline_ns() {
  static const double ns = [] {
    unsigned char buf[65] = {1};
    unsigned char out[32];
    constexpr int kRounds = 200'000;
    double best = 1e30;
    for (int rep = 0; rep < 3; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < kRounds; ++i) {
        raw_sha256_65(buf, out);
        buf[1] = out[0];
      }
      const auto t1 = std::chrono::steady_clock::now();
      best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count() / kRounds);
    }
    return best;
  }();
  return ns;
}

// Wall time of the timing loop, for the ratio counter (the library keeps its own to itself).
class LoopClock {
 public:
  LoopClock() : start_(std::chrono::steady_clock::now()) {}
  double elapsed_ns() const {
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start_)
        .count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

// Per-operation time in units of one baseline SHA-256.
void report_ratio(benchmark::State& state, const LoopClock& clock, double ops_per_iteration = 1.0) {
  const double ns = clock.elapsed_ns();
  const double ops = static_cast<double>(state.iterations()) * ops_per_iteration;
  state.counters["sha256_ns"] = sha256_baseline_ns();
  state.counters["x_sha256"] = ops > 0 ? ns / ops / sha256_baseline_ns() : 0;
}

// Latency percentiles of single operations, timed one by one.
void report_percentiles(benchmark::State& state, std::vector<double>& us) {
  if (us.empty()) return;
  std::sort(us.begin(), us.end());
  state.counters["p50_us"] = us[us.size() / 2];
  state.counters["p99_us"] = us[std::min(us.size() - 1, us.size() * 99 / 100)];
}

void BM_Sha256_65Bytes(benchmark::State& state) {
  unsigned char buf[65] = {1};
  unsigned char out[32];
  const LoopClock clock;
  for (auto _ : state) {
    raw_sha256_65(buf, out);
    buf[1] = out[0];
    benchmark::DoNotOptimize(out);
  }
  report_ratio(state, clock);
}
BENCHMARK(BM_Sha256_65Bytes);

void BM_NodeHash(benchmark::State& state) {
  Hash256 a = leaves()[0];
  const Hash256 b = leaves()[1];
  const LoopClock clock;
  for (auto _ : state) {
    a = sira::audit::node_hash(a, b);
    benchmark::DoNotOptimize(a);
  }
  report_ratio(state, clock);
}
BENCHMARK(BM_NodeHash);

void BM_Append1M(benchmark::State& state) {
  const auto& l = leaves();
  const LoopClock clock;
  for (auto _ : state) {
    MerkleTree t;
    for (const Hash256& h : l) t.append(h);
    benchmark::DoNotOptimize(t.size());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(l.size()));
  // Per appended leaf: a build does n - 1 node hashes, so the ideal is just under 1.
  report_ratio(state, clock, static_cast<double>(l.size()));
}
BENCHMARK(BM_Append1M)->Unit(benchmark::kMillisecond)->Iterations(5);

void BM_Root1M(benchmark::State& state) {
  const MerkleTree& t = tree();
  const LoopClock clock;
  for (auto _ : state) benchmark::DoNotOptimize(t.root());
  report_ratio(state, clock);
}
BENCHMARK(BM_Root1M)->Unit(benchmark::kMicrosecond);

void BM_RootAtRandomPastSize(benchmark::State& state) {
  const MerkleTree& t = tree();
  std::mt19937_64 rng(1);
  const LoopClock clock;
  for (auto _ : state) benchmark::DoNotOptimize(t.root(1 + rng() % kLeaves));
  report_ratio(state, clock);
}
BENCHMARK(BM_RootAtRandomPastSize)->Unit(benchmark::kMicrosecond);

void BM_InclusionProof1M(benchmark::State& state) {
  const MerkleTree& t = tree();
  std::mt19937_64 rng(2);
  std::vector<double> us;
  us.reserve(1 << 20);
  const LoopClock clock;
  for (auto _ : state) {
    const uint64_t index = rng() % kLeaves;
    const auto t0 = std::chrono::steady_clock::now();
    auto proof = t.inclusion_proof(index, kLeaves);
    benchmark::DoNotOptimize(proof);
    const auto t1 = std::chrono::steady_clock::now();
    if (us.size() < us.capacity())
      us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  report_ratio(state, clock);
  report_percentiles(state, us);
}
BENCHMARK(BM_InclusionProof1M)->Unit(benchmark::kMicrosecond);

void BM_ConsistencyProof1M(benchmark::State& state) {
  const MerkleTree& t = tree();
  std::mt19937_64 rng(3);
  std::vector<double> us;
  us.reserve(1 << 20);
  const LoopClock clock;
  for (auto _ : state) {
    const uint64_t m = 1 + rng() % kLeaves;
    const auto t0 = std::chrono::steady_clock::now();
    auto proof = t.consistency_proof(m, kLeaves);
    benchmark::DoNotOptimize(proof);
    const auto t1 = std::chrono::steady_clock::now();
    if (us.size() < us.capacity())
      us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  report_ratio(state, clock);
  report_percentiles(state, us);
}
BENCHMARK(BM_ConsistencyProof1M)->Unit(benchmark::kMicrosecond);

void BM_VerifyInclusion1M(benchmark::State& state) {
  const MerkleTree& t = tree();
  const Hash256 root = t.root();
  std::mt19937_64 rng(4);
  struct Case {
    uint64_t index;
    std::vector<Hash256> proof;
  };
  std::vector<Case> cases;
  for (int i = 0; i < 1024; ++i) {
    const uint64_t index = rng() % kLeaves;
    cases.push_back({index, *t.inclusion_proof(index, kLeaves)});
  }
  size_t i = 0;
  const LoopClock clock;
  for (auto _ : state) {
    const Case& c = cases[i++ & 1023];
    bool ok = sira::audit::verify_inclusion(t.leaf(c.index), c.index, kLeaves, c.proof, root);
    if (!ok) state.SkipWithError("proof did not verify");
    benchmark::DoNotOptimize(ok);
  }
  report_ratio(state, clock);
}
BENCHMARK(BM_VerifyInclusion1M)->Unit(benchmark::kMicrosecond);

void BM_VerifyConsistency1M(benchmark::State& state) {
  const MerkleTree& t = tree();
  const Hash256 root = t.root();
  std::mt19937_64 rng(5);
  struct Case {
    uint64_t m;
    Hash256 root_m;
    std::vector<Hash256> proof;
  };
  std::vector<Case> cases;
  for (int i = 0; i < 256; ++i) {
    const uint64_t m = 1 + rng() % (kLeaves - 1);
    cases.push_back({m, t.root(m), *t.consistency_proof(m, kLeaves)});
  }
  size_t i = 0;
  const LoopClock clock;
  for (auto _ : state) {
    const Case& c = cases[i++ & 255];
    bool ok = sira::audit::verify_consistency(c.m, kLeaves, c.root_m, root, c.proof);
    if (!ok) state.SkipWithError("proof did not verify");
    benchmark::DoNotOptimize(ok);
  }
  report_ratio(state, clock);
}
BENCHMARK(BM_VerifyConsistency1M)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
