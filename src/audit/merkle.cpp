// RFC 6962 Merkle tree: hashing, the in-memory tree of complete subtrees, proofs and verifiers.
#include "audit/merkle.h"

#include <openssl/evp.h>

#include <bit>
#include <cstring>
#include <string>

#include "core/assert.h"

namespace sira::audit {
namespace {

constexpr uint8_t kLeafPrefix = 0x00;
constexpr uint8_t kNodePrefix = 0x01;

// The provider lookup behind EVP_sha256()/SHA256() costs more than hashing 65 bytes, so the
// algorithm is fetched once and each thread keeps one reusable context: a node hash then costs
// one compression pass and no heap allocation.
const EVP_MD* sha256_md() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

struct DigestContext {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  DigestContext() = default;
  DigestContext(const DigestContext&) = delete;
  DigestContext& operator=(const DigestContext&) = delete;
  ~DigestContext() { EVP_MD_CTX_free(ctx); }
};

// SHA-256 over the concatenation of two byte ranges (prefix, then body).
Hash256 digest2(const uint8_t* a, size_t a_len, const uint8_t* b, size_t b_len) {
  thread_local DigestContext dc;
  Hash256 out;
  unsigned int len = 0;
  const EVP_MD* md = sha256_md();
  // Only an allocation failure inside OpenSSL can make these fail; a wrong hash would silently
  // corrupt the log, so stop instead.
  SIRA_RELEASE_ASSERT(md != nullptr && dc.ctx != nullptr);
  bool ok = EVP_DigestInit_ex2(dc.ctx, md, nullptr) == 1 &&
            EVP_DigestUpdate(dc.ctx, a, a_len) == 1 &&
            (b_len == 0 || EVP_DigestUpdate(dc.ctx, b, b_len) == 1) &&
            EVP_DigestFinal_ex(dc.ctx, out.data(), &len) == 1 && len == out.size();
  SIRA_RELEASE_ASSERT(ok);
  return out;
}

// Largest power of two strictly smaller than n (n >= 2).
inline uint64_t split_point(uint64_t n) {
  return std::bit_floor(n - 1);
}

}  // namespace

Hash256 leaf_hash(std::string_view entry) {
  return digest2(&kLeafPrefix, 1, reinterpret_cast<const uint8_t*>(entry.data()), entry.size());
}

Hash256 node_hash(const Hash256& left, const Hash256& right) {
  uint8_t buf[1 + 2 * 32];
  buf[0] = kNodePrefix;
  std::memcpy(buf + 1, left.data(), 32);
  std::memcpy(buf + 33, right.data(), 32);
  return digest2(buf, sizeof buf, nullptr, 0);
}

Hash256 empty_root() {
  return digest2(nullptr, 0, nullptr, 0);
}

// ---- MerkleTree ---------------------------------------------------------------------------

void MerkleTree::append(const Hash256& leaf) {
  if (levels_.empty()) levels_.emplace_back();
  levels_[0].push_back(leaf);
  // Leaf i closes one subtree per trailing 1 bit of i: walk up while the node is a right child.
  uint64_t idx = levels_[0].size() - 1;
  size_t k = 0;
  while (idx & 1) {
    if (levels_.size() == k + 1) levels_.emplace_back();
    const auto& level = levels_[k];
    levels_[k + 1].push_back(node_hash(level[idx - 1], level[idx]));
    idx >>= 1;
    ++k;
  }
}

void MerkleTree::truncate(uint64_t n) {
  if (n >= size()) return;
  // Level k keeps exactly the complete subtrees over the first n leaves: floor(n / 2^k).
  for (size_t k = 0; k < levels_.size(); ++k) levels_[k].resize(k < 64 ? (n >> k) : 0);
  while (levels_.size() > 1 && levels_.back().empty()) levels_.pop_back();
}

void MerkleTree::reserve(uint64_t n) {
  if (levels_.empty()) levels_.emplace_back();
  levels_[0].reserve(n);
  for (size_t k = 1; k < 64 && (n >> k) > 0; ++k) {
    if (levels_.size() == k) levels_.emplace_back();
    levels_[k].reserve(n >> k);
  }
}

Hash256 MerkleTree::root(uint64_t n) const {
  SIRA_ASSERT(n <= size());
  if (n > size()) n = size();
  return subtree(0, n);
}

Hash256 MerkleTree::subtree(uint64_t begin, uint64_t end) const {
  const uint64_t n = end - begin;
  if (n == 0) return empty_root();
  if (std::has_single_bit(n) && (begin & (n - 1)) == 0) {
    // A complete aligned subtree: stored once all its leaves were appended.
    const int k = std::countr_zero(n);
    return levels_[k][begin >> k];
  }
  // MTH splits at the largest power of two below n. Every range reached from root(), PATH or
  // SUBPROOF starts at a multiple of that power, so the left half is a stored lookup and only
  // the right spine recurses: O(log n) hashes.
  const uint64_t k = std::has_single_bit(n) ? n / 2 : split_point(n);
  return node_hash(subtree(begin, begin + k), subtree(begin + k, end));
}

Result<std::vector<Hash256>> MerkleTree::inclusion_proof(uint64_t index, uint64_t n) const {
  if (n > size()) {
    return fail(ErrorCode::kInvalidArgument, "inclusion proof: tree size " + std::to_string(n) +
                                                 " exceeds the log size " + std::to_string(size()));
  }
  if (index >= n) {
    return fail(ErrorCode::kInvalidArgument, "inclusion proof: leaf index " +
                                                 std::to_string(index) +
                                                 " is not below tree size " + std::to_string(n));
  }
  // PATH(m, D[begin:end]) descends towards the leaf collecting the sibling subtree at each
  // split; the RFC lists them leaf-first, i.e. in reverse order of the descent.
  std::vector<Hash256> path;
  path.reserve(64);
  uint64_t begin = 0;
  uint64_t end = n;
  while (end - begin > 1) {
    const uint64_t k = split_point(end - begin);
    if (index < begin + k) {
      path.push_back(subtree(begin + k, end));
      end = begin + k;
    } else {
      path.push_back(subtree(begin, begin + k));
      begin += k;
    }
  }
  return std::vector<Hash256>(path.rbegin(), path.rend());
}

Result<std::vector<Hash256>> MerkleTree::consistency_proof(uint64_t m, uint64_t n) const {
  if (n > size()) {
    return fail(ErrorCode::kInvalidArgument, "consistency proof: tree size " + std::to_string(n) +
                                                 " exceeds the log size " + std::to_string(size()));
  }
  if (m == 0 || m > n) {
    return fail(ErrorCode::kInvalidArgument, "consistency proof: first size " + std::to_string(m) +
                                                 " must be in [1, " + std::to_string(n) + "]");
  }
  std::vector<Hash256> proof;
  proof.reserve(64);
  subproof(m, 0, n, true, &proof);
  return proof;
}

// SUBPROOF(m, D[begin:end], complete) of RFC 6962 section 2.1.2, with m relative to begin.
void MerkleTree::subproof(uint64_t m, uint64_t begin, uint64_t end, bool complete,
                          std::vector<Hash256>* out) const {
  const uint64_t n = end - begin;
  if (m == n) {
    if (!complete) out->push_back(subtree(begin, end));
    return;
  }
  const uint64_t k = split_point(n);
  if (m <= k) {
    subproof(m, begin, begin + k, complete, out);
    out->push_back(subtree(begin + k, end));
  } else {
    subproof(m - k, begin + k, end, false, out);
    out->push_back(subtree(begin, begin + k));
  }
}

// ---- Verifiers ----------------------------------------------------------------------------

bool verify_inclusion(const Hash256& leaf, uint64_t index, uint64_t tree_size,
                      const std::vector<Hash256>& proof, const Hash256& root) {
  // RFC 9162 section 2.1.3.2.
  if (index >= tree_size) return false;
  uint64_t fn = index;
  uint64_t sn = tree_size - 1;
  Hash256 r = leaf;
  for (const Hash256& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      r = node_hash(p, r);
      if (!(fn & 1)) {
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

bool verify_consistency(uint64_t first, uint64_t second, const Hash256& first_root,
                        const Hash256& second_root, const std::vector<Hash256>& proof) {
  // RFC 9162 section 2.1.4.2. A proof from the empty tree is not defined by the RFC and
  // consistency_proof() refuses m == 0, so it is rejected here too.
  if (first == 0 || first > second) return false;
  if (first == second) return proof.empty() && first_root == second_root;
  if (proof.empty()) return false;

  // When `first` is a power of two its root is a node of the second tree and is left out of the
  // proof; the verifier starts from it.
  const bool prepend = std::has_single_bit(first);
  size_t i = 0;
  const Hash256& start = prepend ? first_root : proof[i++];
  uint64_t fn = first - 1;
  uint64_t sn = second - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash256 fr = start;
  Hash256 sr = start;
  for (; i < proof.size(); ++i) {
    const Hash256& c = proof[i];
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      fr = node_hash(c, fr);
      sr = node_hash(c, sr);
      if (!(fn & 1)) {
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = node_hash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return fr == first_root && sr == second_root && sn == 0;
}

}  // namespace sira::audit
