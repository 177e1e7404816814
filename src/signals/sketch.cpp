// DDSketch, HyperLogLog, SpaceSaving and hash64: the bounded-memory sketches behind rollups.
#include "signals/sketch.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/assert.h"

namespace sira::signals {

namespace {

// Values at or below this (in ms) are counted in the zero bucket: a microsecond is below any
// latency worth distinguishing, and it bounds the number of bins on the low side.
constexpr double kMinIndexableValue = 1e-3;

uint32_t saturating_add(uint32_t a, uint64_t b) {
  uint64_t s = static_cast<uint64_t>(a) + b;
  return s > std::numeric_limits<uint32_t>::max() ? std::numeric_limits<uint32_t>::max()
                                                  : static_cast<uint32_t>(s);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ByteWriter / ByteReader

void ByteWriter::u32(uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out_.append(b, 4);
}
void ByteWriter::u64(uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out_.append(b, 8);
}
void ByteWriter::f64(double v) { u64(std::bit_cast<uint64_t>(v)); }
void ByteWriter::bytes(std::string_view v) {
  u32(static_cast<uint32_t>(v.size()));
  out_.append(v);
}

bool ByteReader::take(size_t n) {
  if (!ok_ || in_.size() - pos_ < n) {
    ok_ = false;
    return false;
  }
  return true;
}
uint8_t ByteReader::u8() {
  if (!take(1)) return 0;
  return static_cast<uint8_t>(in_[pos_++]);
}
uint32_t ByteReader::u32() {
  if (!take(4)) return 0;
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<uint8_t>(in_[pos_++])} << (8 * i);
  return v;
}
uint64_t ByteReader::u64() {
  if (!take(8)) return 0;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(in_[pos_++])} << (8 * i);
  return v;
}
double ByteReader::f64() { return std::bit_cast<double>(u64()); }
std::string_view ByteReader::bytes() {
  uint32_t n = u32();
  if (!take(n)) return {};
  std::string_view v = in_.substr(pos_, n);
  pos_ += n;
  return v;
}

// ---------------------------------------------------------------------------------------------
// DDSketch

DDSketch::DDSketch(double relative_accuracy) {
  if (!(relative_accuracy > 0 && relative_accuracy < 1)) relative_accuracy = 0.01;
  gamma_ = (1 + relative_accuracy) / (1 - relative_accuracy);
  log_gamma_ = std::log(gamma_);
}

void DDSketch::add(double value, uint32_t count) {
  if (count == 0 || std::isnan(value) || std::isinf(value)) return;
  count_ += count;
  if (value <= kMinIndexableValue) {
    zero_count_ += count;
    if (count_ == count)
      max_ = std::max(value, 0.0);
    else
      max_ = std::max(max_, value);
    sum_ += std::max(value, 0.0) * count;
    return;
  }
  sum_ += value * count;
  max_ = count_ == count ? value : std::max(max_, value);
  // Bin i holds (gamma^(i-1), gamma^i]; its midpoint 2 gamma^i / (gamma + 1) is within
  // (gamma - 1) / (gamma + 1) = alpha of every value in it.
  const int32_t index = static_cast<int32_t>(std::ceil(std::log(value) / log_gamma_));
  // Latencies of one key cluster, so the newest bin is usually the last one or close to it.
  if (!bins_.empty() && bins_.back().first == index) {
    bins_.back().second = saturating_add(bins_.back().second, count);
    return;
  }
  auto it = std::lower_bound(
      bins_.begin(), bins_.end(), index,
      [](const std::pair<int32_t, uint32_t>& b, int32_t k) { return b.first < k; });
  if (it != bins_.end() && it->first == index) {
    it->second = saturating_add(it->second, count);
  } else {
    bins_.insert(it, {index, count});
  }
}

void DDSketch::merge(const DDSketch& other) {
  if (other.count_ == 0) return;
  if (other.gamma_ != gamma_) {
    // Different accuracies: re-add the other's bin midpoints (accuracy degrades to the sum).
    SIRA_BUG("DDSketch::merge with a different relative accuracy");
    if (other.zero_count_ > 0)
      add(0, static_cast<uint32_t>(std::min<uint64_t>(other.zero_count_, UINT32_MAX)));
    for (const auto& [i, c] : other.bins_)
      add(2 * std::pow(other.gamma_, i) / (other.gamma_ + 1), c);
    return;
  }
  if (count_ == 0) {
    max_ = other.max_;
  } else {
    max_ = std::max(max_, other.max_);
  }
  count_ += other.count_;
  zero_count_ += other.zero_count_;
  sum_ += other.sum_;
  if (other.bins_.empty()) return;
  if (bins_.empty()) {
    bins_ = other.bins_;
    return;
  }
  std::vector<std::pair<int32_t, uint32_t>> merged;
  merged.reserve(bins_.size() + other.bins_.size());
  size_t i = 0, j = 0;
  while (i < bins_.size() || j < other.bins_.size()) {
    if (j == other.bins_.size() || (i < bins_.size() && bins_[i].first < other.bins_[j].first)) {
      merged.push_back(bins_[i++]);
    } else if (i == bins_.size() || other.bins_[j].first < bins_[i].first) {
      merged.push_back(other.bins_[j++]);
    } else {
      merged.emplace_back(bins_[i].first, saturating_add(bins_[i].second, other.bins_[j].second));
      ++i;
      ++j;
    }
  }
  bins_.swap(merged);
}

double DDSketch::quantile(double q) const {
  if (count_ == 0) return 0;
  if (!(q >= 0)) q = 0;
  if (q > 1) q = 1;
  // Rank as in the paper: the item of 0-based rank floor(q (n - 1)) in sorted order.
  const double rank = q * static_cast<double>(count_ - 1);
  uint64_t cumulative = zero_count_;
  if (static_cast<double>(cumulative) > rank) return 0;
  for (const auto& [index, c] : bins_) {
    cumulative += c;
    if (static_cast<double>(cumulative) > rank) {
      // The max is exact, and never farther from the true quantile than the bin midpoint.
      return std::min(2 * std::exp(index * log_gamma_) / (gamma_ + 1), max_);
    }
  }
  return max_;  // only reachable when a bin counter saturated
}

size_t DDSketch::memory_bytes() const {
  return sizeof(*this) + bins_.capacity() * sizeof(bins_[0]);
}

void DDSketch::clear() {
  bins_.clear();
  zero_count_ = count_ = 0;
  sum_ = max_ = 0;
}

void DDSketch::encode(ByteWriter& w) const {
  w.u64(zero_count_);
  w.u64(count_);
  w.f64(sum_);
  w.f64(max_);
  w.u32(static_cast<uint32_t>(bins_.size()));
  for (const auto& [i, c] : bins_) {
    w.u32(static_cast<uint32_t>(i));
    w.u32(c);
  }
}

bool DDSketch::decode(ByteReader& r) {
  clear();
  zero_count_ = r.u64();
  count_ = r.u64();
  sum_ = r.f64();
  max_ = r.f64();
  const uint32_t n = r.u32();
  if (!r.ok() || n > 100000) return false;
  bins_.reserve(n);
  uint64_t total = zero_count_;
  for (uint32_t k = 0; k < n && r.ok(); ++k) {
    const auto index = static_cast<int32_t>(r.u32());
    const uint32_t c = r.u32();
    if (!bins_.empty() && bins_.back().first >= index) return false;
    bins_.emplace_back(index, c);
    total += c;
  }
  return r.ok() && total <= count_;
}

// ---------------------------------------------------------------------------------------------
// HyperLogLog

HyperLogLog::HyperLogLog(int precision) : precision_(std::clamp(precision, 4, 18)) {}

void HyperLogLog::add(std::string_view item) {
  add_hash(hash64(item));
}

namespace {

inline void set_register(std::vector<uint8_t>& regs, int p, uint64_t hash) {
  const size_t index = static_cast<size_t>(hash >> (64 - p));
  const uint64_t rest = hash << p;  // the 64 - p low bits, left-aligned
  const int max_rank = 64 - p + 1;
  const int rank = rest == 0 ? max_rank : std::min(std::countl_zero(rest) + 1, max_rank);
  if (regs[index] < rank) regs[index] = static_cast<uint8_t>(rank);
}

}  // namespace

void HyperLogLog::add_hash(uint64_t hash) {
  if (!dense_.empty()) {
    set_register(dense_, precision_, hash);
    return;
  }
  auto it = std::lower_bound(sparse_.begin(), sparse_.end(), hash);
  if (it != sparse_.end() && *it == hash) return;
  if (sparse_.size() >= kSparseLimit) {
    densify();
    set_register(dense_, precision_, hash);
    return;
  }
  sparse_.insert(it, hash);
}

void HyperLogLog::densify() {
  dense_.assign(size_t{1} << precision_, 0);
  for (uint64_t h : sparse_) set_register(dense_, precision_, h);
  std::vector<uint64_t>().swap(sparse_);
}

void HyperLogLog::merge(const HyperLogLog& other) {
  if (other.dense_.empty()) {
    for (uint64_t h : other.sparse_) add_hash(h);
    return;
  }
  if (other.precision_ != precision_) {
    SIRA_BUG("HyperLogLog::merge with a different precision");
    return;
  }
  if (dense_.empty()) densify();
  for (size_t i = 0; i < dense_.size(); ++i) dense_[i] = std::max(dense_[i], other.dense_[i]);
}

uint64_t HyperLogLog::estimate() const {
  if (dense_.empty()) return sparse_.size();
  const double m = static_cast<double>(dense_.size());
  double alpha;
  switch (precision_) {
    case 4:
      alpha = 0.673;
      break;
    case 5:
      alpha = 0.697;
      break;
    case 6:
      alpha = 0.709;
      break;
    default:
      alpha = 0.7213 / (1 + 1.079 / m);
      break;
  }
  double inverse_sum = 0;
  size_t zeros = 0;
  for (uint8_t r : dense_) {
    inverse_sum += std::ldexp(1.0, -static_cast<int>(r));
    zeros += r == 0;
  }
  double estimate = alpha * m * m / inverse_sum;
  // Small range: linear counting over empty registers is far more accurate. With 64-bit hashes
  // the large-range (collision) correction of the original paper is not needed.
  if (estimate <= 2.5 * m && zeros > 0) estimate = m * std::log(m / static_cast<double>(zeros));
  return static_cast<uint64_t>(std::llround(estimate));
}

size_t HyperLogLog::memory_bytes() const {
  return sizeof(*this) + sparse_.capacity() * sizeof(uint64_t) + dense_.capacity();
}

void HyperLogLog::clear() {
  sparse_.clear();
  std::vector<uint8_t>().swap(dense_);
}

void HyperLogLog::encode(ByteWriter& w) const {
  w.u8(static_cast<uint8_t>(precision_));
  w.u8(dense_.empty() ? 0 : 1);
  if (dense_.empty()) {
    w.u32(static_cast<uint32_t>(sparse_.size()));
    for (uint64_t h : sparse_) w.u64(h);
  } else {
    w.bytes(std::string_view(reinterpret_cast<const char*>(dense_.data()), dense_.size()));
  }
}

bool HyperLogLog::decode(ByteReader& r) {
  clear();
  const int precision = r.u8();
  const uint8_t dense = r.u8();
  if (!r.ok() || precision != precision_) return false;
  if (dense == 0) {
    const uint32_t n = r.u32();
    if (n > kSparseLimit) return false;
    for (uint32_t k = 0; k < n && r.ok(); ++k) {
      const uint64_t h = r.u64();
      if (!sparse_.empty() && sparse_.back() >= h) return false;
      sparse_.push_back(h);
    }
    return r.ok();
  }
  std::string_view regs = r.bytes();
  if (!r.ok() || regs.size() != (size_t{1} << precision_)) return false;
  dense_.assign(regs.begin(), regs.end());
  return true;
}

// ---------------------------------------------------------------------------------------------
// SpaceSaving

SpaceSaving::SpaceSaving(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

void SpaceSaving::add(std::string_view item, uint64_t count) {
  for (auto& [k, c] : items_) {
    if (k == item) {
      c += count;
      return;
    }
  }
  if (items_.size() < capacity_) {
    items_.emplace_back(std::string(item), count);
    return;
  }
  // Full: the new item takes over the smallest counter and inherits its count, which bounds its
  // overestimation.
  auto min_it = std::min_element(items_.begin(), items_.end(),
                                 [](const auto& a, const auto& b) { return a.second < b.second; });
  min_it->first.assign(item.data(), item.size());
  min_it->second += count;
}

bool SpaceSaving::contains(std::string_view item) const {
  for (const auto& [k, c] : items_) {
    if (k == item) return true;
  }
  return false;
}

void SpaceSaving::merge(const SpaceSaving& other) {
  for (const auto& [k, c] : other.items_) add(k, c);
}

std::vector<std::pair<std::string, uint64_t>> SpaceSaving::top(size_t n) const {
  std::vector<std::pair<std::string, uint64_t>> out = items_;
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (out.size() > n) out.resize(n);
  return out;
}

void SpaceSaving::encode(ByteWriter& w) const {
  w.u32(static_cast<uint32_t>(items_.size()));
  for (const auto& [k, c] : items_) {
    w.bytes(k);
    w.u64(c);
  }
}

bool SpaceSaving::decode(ByteReader& r) {
  items_.clear();
  const uint32_t n = r.u32();
  if (!r.ok() || n > capacity_) return false;
  for (uint32_t k = 0; k < n && r.ok(); ++k) {
    std::string_view item = r.bytes();
    const uint64_t c = r.u64();
    items_.emplace_back(std::string(item), c);
  }
  return r.ok();
}

size_t SpaceSaving::memory_bytes() const {
  size_t total = sizeof(*this) + items_.capacity() * sizeof(items_[0]);
  for (const auto& [k, c] : items_) {
    if (k.capacity() > 15) total += k.capacity() + 1;  // beyond the small-string buffer
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// hash64: 16-byte blocks folded through a 64x64->128 multiply, then a murmur-style finalizer for
// avalanche. Not cryptographic; meant for sketches and hash tables.

namespace {

constexpr uint64_t kSeed = 0x6a09e667f3bcc909ULL;  // fractional bits of sqrt(2)
constexpr uint64_t kMulA = 0x9e3779b97f4a7c15ULL;  // 2^64 / golden ratio
constexpr uint64_t kMulB = 0xbf58476d1ce4e5b9ULL;
constexpr uint64_t kMulC = 0x94d049bb133111ebULL;
constexpr uint64_t kKeyA = 0x243f6a8885a308d3ULL;  // fractional bits of pi
constexpr uint64_t kKeyB = 0x13198a2e03707344ULL;

inline uint64_t fold_multiply(uint64_t a, uint64_t b) {
  const unsigned __int128 product = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(product) ^ static_cast<uint64_t>(product >> 64);
}

inline uint64_t load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

}  // namespace

uint64_t hash64(std::string_view s) {
  const char* p = s.data();
  size_t n = s.size();
  uint64_t h = kSeed ^ (static_cast<uint64_t>(n) * kMulA);
  while (n > 16) {
    h = fold_multiply(load64(p) ^ kKeyA ^ h, load64(p + 8) ^ kKeyB);
    p += 16;
    n -= 16;
  }
  // Last 1..16 bytes, zero-padded; the length is already in h, so padding cannot collide.
  uint64_t a = 0, b = 0;
  if (n > 8) {
    a = load64(p);
    std::memcpy(&b, p + 8, n - 8);
  } else if (n > 0) {
    std::memcpy(&a, p, n);
  }
  h = fold_multiply(a ^ kKeyA ^ h, b ^ kKeyB ^ (h >> 29));
  h ^= h >> 31;
  h *= kMulB;
  h ^= h >> 29;
  h *= kMulC;
  h ^= h >> 32;
  return h;
}

}  // namespace sira::signals
