// Bounded-memory sketches for rollups: DDSketch (quantiles with relative error), HyperLogLog
// (distinct counts, exact while small) and SpaceSaving (heavy hitters). Each is written here
// against its published guarantee and tested for it. Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sira::signals {

// Little-endian binary encoding used to persist sketches and rollups. A Reader never reads past
// its input: a short or malformed input sets ok() to false and yields zeros.
class ByteWriter {
 public:
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(uint32_t v);
  void u64(uint64_t v);
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void f64(double v);
  void bytes(std::string_view v);  // length-prefixed
  std::string& str() { return out_; }

 private:
  std::string out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  uint8_t u8();
  uint32_t u32();
  uint64_t u64();
  int64_t i64() { return static_cast<int64_t>(u64()); }
  double f64();
  std::string_view bytes();
  bool ok() const { return ok_; }
  bool done() const { return pos_ == in_.size(); }
  void fail() { ok_ = false; }

 private:
  bool take(size_t n);
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// DDSketch (Masson, Rim, Lee, VLDB 2019): any quantile of positive values within relative error
// alpha (default 1%). Values <= min_value fall in a zero bucket. Bins are stored sparsely so an
// idle or uniform key costs a few bytes.
class DDSketch {
 public:
  explicit DDSketch(double relative_accuracy = 0.01);
  void add(double value, uint32_t count = 1);
  void merge(const DDSketch& other);  // same accuracy required
  double quantile(double q) const;    // q in [0,1]; 0 when empty
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }
  double max() const { return max_; }
  size_t memory_bytes() const;
  void clear();
  void encode(ByteWriter& w) const;
  bool decode(ByteReader& r);  // keeps this sketch's accuracy; false on malformed input

 private:
  double gamma_, log_gamma_;
  std::vector<std::pair<int32_t, uint32_t>> bins_;  // sorted by index
  uint64_t zero_count_ = 0, count_ = 0;
  double sum_ = 0, max_ = 0;
};

// HyperLogLog with a sparse exact mode: up to kSparseLimit distinct 64-bit hashes are kept as a
// sorted list (exact count); beyond, 2^precision registers (default 12: ~1.6% standard error).
class HyperLogLog {
 public:
  static constexpr size_t kSparseLimit = 64;
  explicit HyperLogLog(int precision = 12);
  void add(std::string_view item);
  void add_hash(uint64_t hash);
  void merge(const HyperLogLog& other);
  uint64_t estimate() const;
  bool exact() const { return dense_.empty(); }
  size_t memory_bytes() const;
  void clear();
  void encode(ByteWriter& w) const;
  bool decode(ByteReader& r);

 private:
  void densify();
  int precision_;
  std::vector<uint64_t> sparse_;  // sorted distinct hashes
  std::vector<uint8_t> dense_;    // registers, empty while sparse
};

// SpaceSaving (Metwally et al. 2005): the k most frequent items with overestimation bounded by
// the smallest counter.
class SpaceSaving {
 public:
  explicit SpaceSaving(size_t capacity = 16);
  void add(std::string_view item, uint64_t count = 1);
  // Adds the other's counters as weighted items: counts stay upper bounds of the true counts.
  void merge(const SpaceSaving& other);
  // Items by decreasing count, at most `n`.
  std::vector<std::pair<std::string, uint64_t>> top(size_t n) const;
  // The monitored items, unordered; while size() < capacity() nothing was ever evicted and the
  // counts are exact.
  const std::vector<std::pair<std::string, uint64_t>>& items() const { return items_; }
  size_t size() const { return items_.size(); }
  size_t capacity() const { return capacity_; }
  bool contains(std::string_view item) const;
  size_t memory_bytes() const;
  void encode(ByteWriter& w) const;
  bool decode(ByteReader& r);

 private:
  size_t capacity_;
  std::vector<std::pair<std::string, uint64_t>> items_;
};

// 64-bit non-cryptographic hash (multiply-fold mixing, strong finalizer); stable across runs.
uint64_t hash64(std::string_view s);

}  // namespace sira::signals
