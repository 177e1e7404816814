// Checks the RFC 6962 Merkle tree against a naive reference written from the RFC text.
#include "audit/merkle.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace sira::audit {
namespace {

// ---- Reference implementation: recursive, on a vector of entries, straight from RFC 6962 ----

using Entries = std::vector<std::string>;

Hash256 ref_sha256(const std::string& data) {
  Hash256 out{};
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr), 1);
  EXPECT_EQ(len, 32u);
  return out;
}

std::string bytes(const Hash256& h) {
  return std::string(h.begin(), h.end());
}

// Largest power of two strictly less than n (n > 1), by doubling.
uint64_t ref_k(uint64_t n) {
  uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

// MTH(D[begin:end]).
Hash256 ref_mth(const Entries& d, uint64_t begin, uint64_t end) {
  const uint64_t n = end - begin;
  if (n == 0) return ref_sha256("");
  if (n == 1) return ref_sha256(std::string(1, '\0') + d[begin]);
  const uint64_t k = ref_k(n);
  return ref_sha256(std::string(1, '\1') + bytes(ref_mth(d, begin, begin + k)) +
                    bytes(ref_mth(d, begin + k, end)));
}

// PATH(m, D[begin:end]), m relative to begin.
std::vector<Hash256> ref_path(uint64_t m, const Entries& d, uint64_t begin, uint64_t end) {
  const uint64_t n = end - begin;
  if (n == 1) return {};
  const uint64_t k = ref_k(n);
  std::vector<Hash256> out;
  if (m < k) {
    out = ref_path(m, d, begin, begin + k);
    out.push_back(ref_mth(d, begin + k, end));
  } else {
    out = ref_path(m - k, d, begin + k, end);
    out.push_back(ref_mth(d, begin, begin + k));
  }
  return out;
}

// SUBPROOF(m, D[begin:end], b), m relative to begin.
std::vector<Hash256> ref_subproof(uint64_t m, const Entries& d, uint64_t begin, uint64_t end,
                                  bool b) {
  const uint64_t n = end - begin;
  if (m == n) {
    if (b) return {};
    return {ref_mth(d, begin, end)};
  }
  const uint64_t k = ref_k(n);
  std::vector<Hash256> out;
  if (m <= k) {
    out = ref_subproof(m, d, begin, begin + k, b);
    out.push_back(ref_mth(d, begin + k, end));
  } else {
    out = ref_subproof(m - k, d, begin + k, end, false);
    out.push_back(ref_mth(d, begin, begin + k));
  }
  return out;
}

std::vector<Hash256> ref_proof(uint64_t m, const Entries& d, uint64_t n) {
  return ref_subproof(m, d, 0, n, true);
}

// ---- Helpers ---------------------------------------------------------------------------

std::string to_hex(const Hash256& h) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : h) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0x0f];
  }
  return out;
}

// Entries of varied lengths, including the empty one.
Entries make_entries(size_t n, uint32_t seed = 1) {
  std::mt19937 rng(seed);
  Entries out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string e = "entry-" + std::to_string(i) + "-";
    const size_t extra = rng() % 40;
    for (size_t j = 0; j < extra; ++j) e += static_cast<char>(rng() & 0xff);
    out.push_back(i == 0 ? std::string() : e);
  }
  return out;
}

MerkleTree build(const Entries& d, size_t n) {
  MerkleTree t;
  for (size_t i = 0; i < n; ++i) t.append(leaf_hash(d[i]));
  return t;
}

Hash256 flip(Hash256 h, size_t bit) {
  h[(bit / 8) % 32] ^= static_cast<uint8_t>(1u << (bit % 8));
  return h;
}

// Checks one inclusion proof against the reference, then that the verifier accepts it and
// rejects every tampering we can think of.
void check_inclusion(const MerkleTree& t, const Entries& d, uint64_t index, uint64_t n,
                     const Hash256& ref_root) {
  SCOPED_TRACE("inclusion index=" + std::to_string(index) + " n=" + std::to_string(n));
  auto proof = t.inclusion_proof(index, n);
  ASSERT_TRUE(proof.has_value()) << proof.error().detail;
  ASSERT_EQ(*proof, ref_path(index, d, 0, n));
  const Hash256 leaf = leaf_hash(d[index]);
  EXPECT_TRUE(verify_inclusion(leaf, index, n, *proof, ref_root));

  EXPECT_FALSE(verify_inclusion(leaf, index, n, *proof, flip(ref_root, 3)));
  EXPECT_FALSE(verify_inclusion(flip(leaf, 7), index, n, *proof, ref_root));
  for (size_t i = 0; i < proof->size(); ++i) {
    auto bad = *proof;
    bad[i] = flip(bad[i], i * 13 + 5);
    EXPECT_FALSE(verify_inclusion(leaf, index, n, bad, ref_root)) << "tampered element " << i;
  }
  if (n > 1) {
    const uint64_t other = index + 1 < n ? index + 1 : index - 1;
    EXPECT_FALSE(verify_inclusion(leaf, other, n, *proof, ref_root)) << "wrong index";
  }
  EXPECT_FALSE(verify_inclusion(leaf, n, n, *proof, ref_root)) << "index == size";
  // No check with a wrong tree size: a path is often valid for several sizes (index 0 of 3 and
  // of 4 share one), which is why the size is bound by the signed tree head, not the proof.
  auto longer = *proof;
  longer.push_back(ref_root);
  EXPECT_FALSE(verify_inclusion(leaf, index, n, longer, ref_root)) << "extra element";
  if (!proof->empty()) {
    auto shorter = *proof;
    shorter.pop_back();
    EXPECT_FALSE(verify_inclusion(leaf, index, n, shorter, ref_root)) << "missing element";
  }
}

void check_consistency(const MerkleTree& t, const Entries& d, uint64_t m, uint64_t n,
                       const Hash256& root_m, const Hash256& root_n) {
  SCOPED_TRACE("consistency m=" + std::to_string(m) + " n=" + std::to_string(n));
  auto proof = t.consistency_proof(m, n);
  ASSERT_TRUE(proof.has_value()) << proof.error().detail;
  ASSERT_EQ(*proof, ref_proof(m, d, n));
  EXPECT_TRUE(verify_consistency(m, n, root_m, root_n, *proof));

  EXPECT_FALSE(verify_consistency(m, n, flip(root_m, 1), root_n, *proof)) << "wrong first root";
  EXPECT_FALSE(verify_consistency(m, n, root_m, flip(root_n, 2), *proof)) << "wrong second root";
  for (size_t i = 0; i < proof->size(); ++i) {
    auto bad = *proof;
    bad[i] = flip(bad[i], i * 11 + 1);
    EXPECT_FALSE(verify_consistency(m, n, root_m, root_n, bad)) << "tampered element " << i;
  }
  if (m < n) {
    EXPECT_FALSE(verify_consistency(n, m, root_n, root_m, *proof)) << "swapped sizes";
    if (m > 1) {
      EXPECT_FALSE(verify_consistency(m - 1, n, root_m, root_n, *proof)) << "wrong first size";
    }
    auto longer = *proof;
    longer.push_back(root_n);
    EXPECT_FALSE(verify_consistency(m, n, root_m, root_n, longer)) << "extra element";
    auto shorter = *proof;
    shorter.pop_back();
    EXPECT_FALSE(verify_consistency(m, n, root_m, root_n, shorter)) << "missing element";
  }
}

// ---- Known values ---------------------------------------------------------------------------

TEST(MerkleKnownValues, EmptyRootIsSha256OfEmptyString) {
  EXPECT_EQ(to_hex(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  MerkleTree t;
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.root(), empty_root());
  EXPECT_EQ(t.root(0), empty_root());
}

TEST(MerkleKnownValues, LeafHashOfEmptyEntry) {
  EXPECT_EQ(to_hex(leaf_hash("")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  MerkleTree t;
  t.append(leaf_hash(""));
  EXPECT_EQ(to_hex(t.root()), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
}

TEST(MerkleKnownValues, NodeHashIsPrefixedConcatenation) {
  const Hash256 a = leaf_hash("a");
  const Hash256 b = leaf_hash("b");
  EXPECT_EQ(node_hash(a, b), ref_sha256(std::string(1, '\1') + bytes(a) + bytes(b)));
  EXPECT_NE(node_hash(a, b), node_hash(b, a));
  EXPECT_EQ(leaf_hash(std::string("x\0y", 3)), ref_sha256(std::string("\0x\0y", 4)));
}

// The eight-leaf data set used by the Certificate Transparency reference tests.
TEST(MerkleKnownValues, CertificateTransparencyTestVectors) {
  const Entries d = {
      std::string(""),
      std::string("\x00", 1),
      std::string("\x10", 1),
      std::string("\x20\x21", 2),
      std::string("\x30\x31", 2),
      std::string("\x40\x41\x42\x43", 4),
      std::string("\x50\x51\x52\x53\x54\x55\x56\x57", 8),
      std::string("\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f", 16),
  };
  const char* roots[] = {
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
      "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
      "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
      "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
      "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
      "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
  };
  MerkleTree t = build(d, d.size());
  for (uint64_t n = 1; n <= d.size(); ++n) {
    EXPECT_EQ(to_hex(t.root(n)), roots[n - 1]) << "n=" << n;
    EXPECT_EQ(to_hex(ref_mth(d, 0, n)), roots[n - 1]) << "reference, n=" << n;
  }
}

// ---- Exhaustive comparison with the reference ------------------------------------------------

TEST(MerkleTree, RootsOfEverySizeUpTo70) {
  const Entries d = make_entries(70);
  MerkleTree grown;
  for (uint64_t n = 1; n <= d.size(); ++n) {
    grown.append(leaf_hash(d[n - 1]));
    ASSERT_EQ(grown.size(), n);
    EXPECT_EQ(grown.leaf(n - 1), leaf_hash(d[n - 1]));
    const Hash256 ref = ref_mth(d, 0, n);
    EXPECT_EQ(grown.root(), ref) << "n=" << n;
    // Historical roots of the grown tree stay those of the smaller trees.
    for (uint64_t m = 1; m <= n; ++m) ASSERT_EQ(grown.root(m), ref_mth(d, 0, m)) << m << "/" << n;
  }
}

TEST(MerkleTree, InclusionProofsForEveryIndexAndSizeUpTo70) {
  const Entries d = make_entries(70);
  const MerkleTree full = build(d, d.size());
  for (uint64_t n = 1; n <= d.size(); ++n) {
    const Hash256 root = ref_mth(d, 0, n);
    // A tree of exactly n leaves and a bigger tree asked about its past size n must agree.
    const MerkleTree exact = build(d, n);
    for (uint64_t index = 0; index < n; ++index) {
      check_inclusion(full, d, index, n, root);
      auto p = exact.inclusion_proof(index, n);
      ASSERT_TRUE(p.has_value());
      ASSERT_EQ(*p, *full.inclusion_proof(index, n));
    }
  }
}

TEST(MerkleTree, ConsistencyProofsForEveryPairUpTo70) {
  const Entries d = make_entries(70);
  const MerkleTree full = build(d, d.size());
  std::vector<Hash256> roots(d.size() + 1);
  for (uint64_t n = 1; n <= d.size(); ++n) roots[n] = ref_mth(d, 0, n);
  for (uint64_t n = 1; n <= d.size(); ++n) {
    for (uint64_t m = 1; m <= n; ++m) check_consistency(full, d, m, n, roots[m], roots[n]);
  }
}

TEST(MerkleTree, LargerSizesAgainstReference) {
  const Entries d = make_entries(1100, 7);
  const MerkleTree full = build(d, d.size());
  std::mt19937_64 rng(42);
  const uint64_t random_size = 513 + rng() % 500;
  for (uint64_t n : {uint64_t{1000}, uint64_t{1024}, uint64_t{1025}, uint64_t{1100}, random_size}) {
    SCOPED_TRACE("n=" + std::to_string(n));
    const Hash256 root = ref_mth(d, 0, n);
    ASSERT_EQ(full.root(n), root);
    std::vector<uint64_t> indices = {0, n / 2, n - 1};
    for (int i = 0; i < 20; ++i) indices.push_back(rng() % n);
    for (uint64_t index : indices) check_inclusion(full, d, index, n, root);
    std::vector<uint64_t> firsts = {1, 2, n / 2, n - 1, n};
    for (int i = 0; i < 15; ++i) firsts.push_back(1 + rng() % n);
    for (uint64_t m : firsts) check_consistency(full, d, m, n, ref_mth(d, 0, m), root);
  }
}

// ---- Errors and edge cases ------------------------------------------------------------------

TEST(MerkleTree, ProofArgumentErrors) {
  const Entries d = make_entries(10);
  const MerkleTree t = build(d, d.size());

  auto e1 = t.inclusion_proof(5, 5);
  ASSERT_FALSE(e1.has_value());
  EXPECT_EQ(e1.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(e1.error().detail.empty());
  EXPECT_EQ(t.inclusion_proof(0, 11).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(t.inclusion_proof(0, 0).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(t.inclusion_proof(20, 11).error().code, ErrorCode::kInvalidArgument);

  EXPECT_EQ(t.consistency_proof(0, 5).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(t.consistency_proof(6, 5).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(t.consistency_proof(5, 11).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(t.consistency_proof(0, 0).error().code, ErrorCode::kInvalidArgument);

  const MerkleTree empty;
  EXPECT_FALSE(empty.inclusion_proof(0, 0).has_value());
  EXPECT_FALSE(empty.consistency_proof(1, 1).has_value());
}

TEST(MerkleTree, SingleLeafProofsAreEmpty) {
  MerkleTree t;
  t.append(leaf_hash("only"));
  auto p = t.inclusion_proof(0, 1);
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->empty());
  EXPECT_TRUE(verify_inclusion(leaf_hash("only"), 0, 1, *p, t.root()));
  auto c = t.consistency_proof(1, 1);
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->empty());
}

TEST(MerkleVerify, ConsistencyOfEqualSizesNeedsEqualRootsAndEmptyProof) {
  const Hash256 a = leaf_hash("a");
  const Hash256 b = leaf_hash("b");
  EXPECT_TRUE(verify_consistency(5, 5, a, a, {}));
  EXPECT_FALSE(verify_consistency(5, 5, a, b, {}));
  EXPECT_FALSE(verify_consistency(5, 5, a, a, {b}));
}

TEST(MerkleVerify, RejectsDegenerateInputs) {
  const Hash256 a = leaf_hash("a");
  // The empty tree has no consistency proof (consistency_proof refuses m == 0).
  EXPECT_FALSE(verify_consistency(0, 3, empty_root(), a, {}));
  EXPECT_FALSE(verify_consistency(0, 0, empty_root(), empty_root(), {}));
  // A non-trivial consistency proof is never empty.
  EXPECT_FALSE(verify_consistency(3, 4, a, a, {}));
  EXPECT_FALSE(verify_inclusion(a, 0, 0, {}, a));
  EXPECT_TRUE(verify_inclusion(a, 0, 1, {}, a));
  EXPECT_FALSE(verify_inclusion(a, 0, 2, {}, a));
}

// ---- Truncation -----------------------------------------------------------------------------

TEST(MerkleTree, TruncateThenAppendMatchesFreshTree) {
  const Entries d = make_entries(70, 3);
  const Entries other = make_entries(70, 99);
  for (uint64_t cut = 0; cut <= 70; ++cut) {
    SCOPED_TRACE("cut=" + std::to_string(cut));
    // Leaves beyond `cut` are rolled back and replaced by different ones.
    MerkleTree t = build(d, cut);
    for (uint64_t i = cut; i < 70; ++i) t.append(leaf_hash(other[i]));
    t.truncate(cut);
    ASSERT_EQ(t.size(), cut);
    for (uint64_t i = cut; i < 70; ++i) t.append(leaf_hash(d[i]));
    const MerkleTree fresh = build(d, 70);
    ASSERT_EQ(t.size(), fresh.size());
    for (uint64_t n = 0; n <= 70; ++n) ASSERT_EQ(t.root(n), fresh.root(n)) << "n=" << n;
    for (uint64_t index : {0, 17, 63, 64, 69}) {
      ASSERT_EQ(*t.inclusion_proof(index, 70), *fresh.inclusion_proof(index, 70));
    }
    ASSERT_EQ(*t.consistency_proof(cut == 0 ? 1 : cut, 70),
              *fresh.consistency_proof(cut == 0 ? 1 : cut, 70));
  }
}

TEST(MerkleTree, TruncateKeepsPrefixRootsAndIgnoresLargerSizes) {
  const Entries d = make_entries(40);
  MerkleTree t = build(d, 40);
  t.truncate(50);  // larger than size: nothing to drop
  EXPECT_EQ(t.size(), 40u);
  t.truncate(40);
  EXPECT_EQ(t.size(), 40u);
  t.truncate(33);
  EXPECT_EQ(t.size(), 33u);
  for (uint64_t n = 1; n <= 33; ++n) EXPECT_EQ(t.root(n), ref_mth(d, 0, n));
  EXPECT_FALSE(t.inclusion_proof(33, 34).has_value());
  t.truncate(0);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.root(), empty_root());
  t.append(leaf_hash(d[0]));
  EXPECT_EQ(t.root(), leaf_hash(d[0]));
}

TEST(MerkleTree, ReserveDoesNotChangeContents) {
  const Entries d = make_entries(20);
  MerkleTree t;
  t.reserve(1000);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.root(), empty_root());
  for (const auto& e : d) t.append(leaf_hash(e));
  EXPECT_EQ(t.root(), ref_mth(d, 0, d.size()));
  t.reserve(5);
  EXPECT_EQ(t.root(), ref_mth(d, 0, d.size()));
}

}  // namespace
}  // namespace sira::audit
