// DDSketch, HyperLogLog, SpaceSaving and hash64 against their published guarantees.
#include "signals/sketch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

namespace sira::signals {
namespace {

// The item of 0-based rank floor(q (n - 1)) in sorted order: the quantile DDSketch targets.
double exact_quantile(const std::vector<double>& sorted, double q) {
  return sorted[static_cast<size_t>(std::floor(q * static_cast<double>(sorted.size() - 1)))];
}

void expect_within_relative(const DDSketch& s, std::vector<double> values, double alpha,
                            const char* what) {
  std::sort(values.begin(), values.end());
  for (double q : {0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0}) {
    const double truth = exact_quantile(values, q);
    const double got = s.quantile(q);
    // Values at or below 1e-3 ms land in the zero bucket.
    if (truth <= 1e-3) {
      EXPECT_LE(got, 1e-3) << what << " q=" << q;
      continue;
    }
    EXPECT_LE(std::abs(got - truth), alpha * truth + 1e-12)
        << what << " q=" << q << " truth=" << truth << " got=" << got;
  }
}

std::vector<double> uniform_values(std::mt19937_64& rng, size_t n) {
  std::uniform_real_distribution<double> d(0.5, 5000);
  std::vector<double> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<double> lognormal_values(std::mt19937_64& rng, size_t n) {
  std::lognormal_distribution<double> d(3.0, 1.5);
  std::vector<double> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<double> bimodal_values(std::mt19937_64& rng, size_t n) {
  std::normal_distribution<double> fast(12, 2), slow(900, 150);
  std::bernoulli_distribution pick_slow(0.1);
  std::vector<double> v(n);
  for (auto& x : v) x = std::max(0.01, pick_slow(rng) ? slow(rng) : fast(rng));
  return v;
}

TEST(DDSketch, EmptyIsZero) {
  DDSketch s;
  EXPECT_EQ(s.count(), 0u);
  EXPECT_EQ(s.quantile(0.5), 0);
  EXPECT_EQ(s.max(), 0);
}

TEST(DDSketch, RelativeAccuracyOnDistributions) {
  std::mt19937_64 rng(42);
  struct Case {
    const char* name;
    std::vector<double> values;
  };
  std::vector<Case> cases = {{"uniform", uniform_values(rng, 50000)},
                             {"lognormal", lognormal_values(rng, 50000)},
                             {"bimodal", bimodal_values(rng, 50000)}};
  for (double alpha : {0.01, 0.02}) {
    for (const auto& c : cases) {
      DDSketch s(alpha);
      double sum = 0, max = 0;
      for (double x : c.values) {
        s.add(x);
        sum += x;
        max = std::max(max, x);
      }
      EXPECT_EQ(s.count(), c.values.size());
      EXPECT_NEAR(s.sum(), sum, 1e-6 * sum);
      EXPECT_EQ(s.max(), max);
      expect_within_relative(s, c.values, alpha, c.name);
    }
  }
}

TEST(DDSketch, MergeKeepsGuarantee) {
  std::mt19937_64 rng(7);
  auto a = lognormal_values(rng, 20000);
  auto b = bimodal_values(rng, 30000);
  DDSketch sa, sb;
  for (double x : a) sa.add(x);
  for (double x : b) sb.add(x);
  sa.merge(sb);
  std::vector<double> all = a;
  all.insert(all.end(), b.begin(), b.end());
  EXPECT_EQ(sa.count(), all.size());
  expect_within_relative(sa, all, 0.01, "merged");
  // Merging into an empty sketch copies.
  DDSketch empty;
  empty.merge(sb);
  expect_within_relative(empty, b, 0.01, "copy");
}

TEST(DDSketch, ZeroBucketWeightsAndClear) {
  DDSketch s;
  s.add(0, 10);
  s.add(1e-4, 5);
  s.add(100, 5);
  EXPECT_EQ(s.count(), 20u);
  EXPECT_EQ(s.quantile(0.5), 0);
  EXPECT_NEAR(s.quantile(1.0), 100, 1);
  s.add(std::nan(""));
  s.add(INFINITY);
  EXPECT_EQ(s.count(), 20u);
  s.clear();
  EXPECT_EQ(s.count(), 0u);
  EXPECT_EQ(s.quantile(0.99), 0);
}

TEST(DDSketch, SparseBinsStaySmall) {
  DDSketch s;
  for (int i = 0; i < 10000; ++i) s.add(42.0);
  EXPECT_LT(s.memory_bytes(), 200u);
  EXPECT_NEAR(s.quantile(0.5), 42.0, 0.42);
}

TEST(HyperLogLog, ExactWhileSparse) {
  HyperLogLog h;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 64; ++i) h.add("10.0.0." + std::to_string(i));
  }
  EXPECT_TRUE(h.exact());
  EXPECT_EQ(h.estimate(), 64u);
  h.add("10.0.1.1");
  EXPECT_FALSE(h.exact());
  EXPECT_NEAR(static_cast<double>(h.estimate()), 65, 2);
}

TEST(HyperLogLog, WithinThreeStandardErrors) {
  const double std_error = 1.04 / std::sqrt(4096.0);
  for (uint64_t n : {1000ull, 10000ull, 100000ull, 1000000ull}) {
    HyperLogLog h;
    for (uint64_t i = 0; i < n; ++i) h.add("item-" + std::to_string(i * 7919 + n));
    const double err = std::abs(static_cast<double>(h.estimate()) - static_cast<double>(n)) / n;
    EXPECT_LT(err, 3 * std_error) << "n=" << n << " estimate=" << h.estimate();
  }
}

TEST(HyperLogLog, MergeIsUnion) {
  HyperLogLog a, b, both;
  for (int i = 0; i < 30000; ++i) {
    const std::string item = "ip-" + std::to_string(i);
    if (i < 20000) a.add(item);
    if (i >= 10000) b.add(item);
    both.add(item);
  }
  HyperLogLog merged = a;
  merged.merge(b);
  EXPECT_EQ(merged.estimate(), both.estimate());  // register-wise max == union
  EXPECT_NEAR(static_cast<double>(merged.estimate()), 30000, 30000 * 0.05);

  // Sparse + sparse stays exact; sparse + sparse overflowing densifies.
  HyperLogLog s1, s2;
  for (int i = 0; i < 40; ++i) s1.add("a" + std::to_string(i));
  for (int i = 20; i < 60; ++i) s2.add("a" + std::to_string(i));
  s1.merge(s2);
  EXPECT_TRUE(s1.exact());
  EXPECT_EQ(s1.estimate(), 60u);
  HyperLogLog s3;
  for (int i = 0; i < 50; ++i) s3.add("b" + std::to_string(i));
  s1.merge(s3);
  EXPECT_FALSE(s1.exact());
  EXPECT_NEAR(static_cast<double>(s1.estimate()), 110, 4);
  // Dense into sparse.
  HyperLogLog s4;
  s4.add("zzz");
  s4.merge(merged);
  EXPECT_NEAR(static_cast<double>(s4.estimate()), 30001, 30000 * 0.05);
}

TEST(HyperLogLog, ClearReleasesRegisters) {
  HyperLogLog h;
  for (int i = 0; i < 1000; ++i) h.add(std::to_string(i));
  EXPECT_GE(h.memory_bytes(), 4096u);
  h.clear();
  EXPECT_TRUE(h.exact());
  EXPECT_EQ(h.estimate(), 0u);
  EXPECT_LT(h.memory_bytes(), 1024u);
}

TEST(SpaceSaving, FindsHeavyHitters) {
  std::mt19937_64 rng(3);
  SpaceSaving ss(8);
  std::map<std::string, uint64_t> truth;
  // Three heavy hitters (30%, 20%, 10%) in a long tail of 5000 distinct items.
  std::uniform_int_distribution<int> tail(0, 4999);
  std::uniform_real_distribution<double> u(0, 1);
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const double r = u(rng);
    std::string item = r < 0.3   ? "heavy-a"
                       : r < 0.5 ? "heavy-b"
                       : r < 0.6 ? "heavy-c"
                                 : "t" + std::to_string(tail(rng));
    ++truth[item];
    ss.add(item);
  }
  auto top = ss.top(3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].first, "heavy-a");
  EXPECT_EQ(top[1].first, "heavy-b");
  EXPECT_EQ(top[2].first, "heavy-c");
  // Counts never underestimate, and overestimate by at most n / capacity.
  for (const auto& [item, count] : top) {
    EXPECT_GE(count, truth[item]);
    EXPECT_LE(count, truth[item] + n / 8);
  }
  EXPECT_LE(ss.top(100).size(), 8u);
}

TEST(SpaceSaving, MergeAddsCounts) {
  SpaceSaving a(4), b(4);
  for (int i = 0; i < 50; ++i) a.add("x");
  for (int i = 0; i < 30; ++i) b.add("x");
  for (int i = 0; i < 60; ++i) b.add("y");
  a.add("z", 5);
  a.merge(b);
  auto top = a.top(2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0], (std::pair<std::string, uint64_t>{"x", 80}));
  EXPECT_EQ(top[1], (std::pair<std::string, uint64_t>{"y", 60}));
}

TEST(SignalsHash, DistinctAndWellSpread) {
  std::unordered_set<uint64_t> seen;
  std::vector<int> top_bits(16, 0);
  for (int i = 0; i < 100000; ++i) {
    const uint64_t h = hash64("10." + std::to_string(i / 65536) + "." +
                              std::to_string(i / 256 % 256) + "." + std::to_string(i % 256));
    seen.insert(h);
    ++top_bits[h >> 60];
  }
  EXPECT_EQ(seen.size(), 100000u);
  for (int c : top_bits) EXPECT_NEAR(c, 100000 / 16, 400);
  EXPECT_NE(hash64(""), hash64(std::string_view("\0", 1)));
  EXPECT_NE(hash64("abcdefgh"), hash64(std::string_view("abcdefgh\0", 9)));
  EXPECT_EQ(hash64("same"), hash64("same"));
  // Single-bit changes flip about half of the output bits.
  const std::string base = "a-fairly-long-api-key-identifier-0001";
  double flipped = 0;
  int trials = 0;
  for (size_t pos = 0; pos < base.size(); ++pos) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string m = base;
      m[pos] = static_cast<char>(m[pos] ^ (1 << bit));
      flipped += std::popcount(hash64(base) ^ hash64(m));
      ++trials;
    }
  }
  EXPECT_NEAR(flipped / trials, 32, 2);
}

}  // namespace
}  // namespace sira::signals
