// RFC 6962 Merkle tree over SHA-256: leaf = H(0x00 || entry), node = H(0x01 || left || right),
// with the RFC's MTH for trees whose size is not a power of two, its audit paths (inclusion
// proofs, section 2.1.1) and consistency proofs (section 2.1.2).
//
// MerkleTree keeps every leaf hash and the hashes of all complete, aligned subtrees in memory
// (about 2 * 32 bytes per leaf), so root(n), inclusion and consistency proofs at any past size n
// cost O(log^2 n) hashes at worst. Not thread-safe: callers guard it.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/crypto.h"
#include "core/error.h"

namespace sira::audit {

Hash256 leaf_hash(std::string_view entry);
Hash256 node_hash(const Hash256& left, const Hash256& right);
// MTH({}) = SHA-256 of the empty string.
Hash256 empty_root();

class MerkleTree {
 public:
  void append(const Hash256& leaf);
  // Drops leaves so that size() == n (n <= size()); used to undo a rolled-back append.
  void truncate(uint64_t n);
  void reserve(uint64_t n);
  uint64_t size() const { return levels_.empty() ? 0 : levels_[0].size(); }
  const Hash256& leaf(uint64_t i) const { return levels_[0][i]; }

  // Root of the first n leaves (n <= size()).
  Hash256 root(uint64_t n) const;
  Hash256 root() const { return root(size()); }
  // Audit path for leaf `index` in the tree of the first `n` leaves.
  Result<std::vector<Hash256>> inclusion_proof(uint64_t index, uint64_t n) const;
  // Consistency proof between the trees of the first m and first n leaves (0 < m <= n).
  Result<std::vector<Hash256>> consistency_proof(uint64_t m, uint64_t n) const;

 private:
  // MTH of leaves [begin, end).
  Hash256 subtree(uint64_t begin, uint64_t end) const;
  void subproof(uint64_t m, uint64_t begin, uint64_t end, bool complete,
                std::vector<Hash256>* out) const;
  // levels_[k][j] = hash of the complete subtree over leaves [j*2^k, (j+1)*2^k).
  std::vector<std::vector<Hash256>> levels_;
};

// Client-side checks (RFC 9162 section 2.1.3.2 and 2.1.4.2 algorithms).
bool verify_inclusion(const Hash256& leaf, uint64_t index, uint64_t tree_size,
                      const std::vector<Hash256>& proof, const Hash256& root);
bool verify_consistency(uint64_t first, uint64_t second, const Hash256& first_root,
                        const Hash256& second_root, const std::vector<Hash256>& proof);

}  // namespace sira::audit
