// Per-key minute/hour/day rings (lazily allocated, sparse) and the Rollups map of one tenant.
#include "signals/rollup.h"

#include <algorithm>
#include <array>
#include <optional>
#include <span>

namespace sira::signals {

namespace {

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kMinuteSlots = 60;
constexpr int64_t kHourSlots = 168;
constexpr int64_t kDaySlots = 30;
constexpr size_t kTopIpCapacity = 8;
constexpr size_t kWindowTopIpCapacity = 64;
constexpr size_t kTopIpsReported = 5;
constexpr int kHllPrecision = 14;  // 0.8 % standard error: <= 2 % at 100,000 distinct IPs
constexpr double kAccuracy = 0.01;

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if (a % b != 0 && (a < 0) != (b < 0)) --q;
  return q;
}

// Exact status counts: the few codes a key sees in a minute stay inline, more spill to the heap.
class StatusCounts {
 public:
  void add(int status, uint32_t count = 1) {
    const auto code = static_cast<uint16_t>(status);
    for (uint8_t i = 0; i < n_inline_; ++i) {
      if (codes_[i] == code) {
        counts_[i] += count;
        return;
      }
    }
    if (n_inline_ < kInline) {
      codes_[n_inline_] = code;
      counts_[n_inline_++] = count;
      return;
    }
    if (!more_) more_ = std::make_unique<std::vector<std::pair<uint16_t, uint32_t>>>();
    for (auto& e : *more_) {
      if (e.first == code) {
        e.second += count;
        return;
      }
    }
    more_->emplace_back(code, count);
  }
  template <typename F>
  void for_each(F&& f) const {
    for (uint8_t i = 0; i < n_inline_; ++i) f(codes_[i], counts_[i]);
    if (more_)
      for (const auto& e : *more_) f(e.first, e.second);
  }
  size_t heap_bytes() const {
    return more_ ? sizeof(*more_) + more_->capacity() * sizeof((*more_)[0]) : 0;
  }

 private:
  static constexpr uint8_t kInline = 4;
  std::array<uint16_t, kInline> codes_{};
  std::array<uint32_t, kInline> counts_{};
  uint8_t n_inline_ = 0;
  std::unique_ptr<std::vector<std::pair<uint16_t, uint32_t>>> more_;
};

// The first records of a minute keep their latency and client IP as they are: most minutes of
// most keys see one or two requests, and sketches for them would cost three heap blocks each.
struct RawSample {
  float latency_ms = 0;
  uint8_t ip_len = 0;
  std::array<char, 15> ip{};  // IPv4 and short IPv6 texts; longer addresses go to the sketches
  std::string_view ip_view() const { return {ip.data(), ip_len}; }
};
constexpr uint8_t kRawSamples = 2;

// One minute of one key: counters and the exact status mix always; latency and IPs as raw samples
// while the minute is small, then as sketches (DDSketch, SpaceSaving top IPs and, once more IPs
// than its capacity showed up, a HyperLogLog).
struct MinuteBucket {
  struct Sketches {
    DDSketch latency{kAccuracy};
    SpaceSaving top_ips{kTopIpCapacity};
    // Distinct IPs: while top_ips never evicted (at most kTopIpCapacity IPs) it is the exact set
    // and this stays null; the HyperLogLog starts with its items when the next IP arrives.
    std::unique_ptr<HyperLogLog> ips;
  };

  // Laid out largest first: 144 bytes, the size that matters with 100,000 keys of 60 minutes.
  int64_t bytes = 0;
  double max_score = 0;
  std::unique_ptr<Sketches> full;
  std::unique_ptr<HyperLogLog> paths_404;  // only once the minute saw a 404
  StatusCounts statuses;
  int32_t minute = 0;  // minutes since the epoch
  uint32_t requests = 0, client_errors = 0, server_errors = 0, auth_failures = 0, not_found = 0;
  uint16_t first_offset = 0, last_offset = 0;  // ms into the minute of the first/last record
  std::array<RawSample, kRawSamples> raw{};
  uint8_t n_raw = 0;  // samples in `raw` while `full` is null

  explicit MinuteBucket(int64_t m = 0) : minute(static_cast<int32_t>(m)) {}

  void add_sample(double latency_ms, std::string_view ip) {
    if (!full) {
      if (n_raw < kRawSamples && ip.size() <= RawSample{}.ip.size()) {
        RawSample& r = raw[n_raw++];
        r.latency_ms = static_cast<float>(latency_ms);
        r.ip_len = static_cast<uint8_t>(ip.size());
        std::copy(ip.begin(), ip.end(), r.ip.begin());
        return;
      }
      full = std::make_unique<Sketches>();
      for (uint8_t i = 0; i < n_raw; ++i) add_full(raw[i].latency_ms, raw[i].ip_view());
      n_raw = 0;
    }
    add_full(latency_ms, ip);
  }

  void add_full(double latency_ms, std::string_view ip) {
    full->latency.add(latency_ms);
    SpaceSaving& top = full->top_ips;
    if (full->ips) {
      full->ips->add(ip);
    } else if (top.size() == top.capacity() && !top.contains(ip)) {
      full->ips = std::make_unique<HyperLogLog>(kHllPrecision);
      for (const auto& [known, count] : top.items()) full->ips->add(known);
      full->ips->add(ip);
    }
    top.add(ip);
  }

  void merge_latency_into(DDSketch* out) const {
    if (full) {
      out->merge(full->latency);
    } else {
      for (uint8_t i = 0; i < n_raw; ++i) out->add(raw[i].latency_ms);
    }
  }

  double latency_sum() const {
    if (full) return full->latency.sum();
    double sum = 0;
    for (uint8_t i = 0; i < n_raw; ++i) sum += raw[i].latency_ms;
    return sum;
  }

  void merge_ips_into(HyperLogLog* out) const {
    if (!full) {
      for (uint8_t i = 0; i < n_raw; ++i) out->add(raw[i].ip_view());
    } else if (full->ips) {
      out->merge(*full->ips);
    } else {
      for (const auto& [ip, count] : full->top_ips.items()) out->add(ip);
    }
  }

  void merge_top_into(SpaceSaving* out) const {
    if (full) {
      out->merge(full->top_ips);
    } else {
      for (uint8_t i = 0; i < n_raw; ++i) out->add(raw[i].ip_view());
    }
  }

  int64_t first_ts() const { return int64_t{minute} * kMinuteMs + first_offset; }
  int64_t last_ts() const { return int64_t{minute} * kMinuteMs + last_offset; }

  int64_t errors() const { return int64_t{client_errors} + server_errors; }

  size_t memory_bytes() const {
    size_t total = sizeof(*this) + statuses.heap_bytes();
    if (full) {
      total += sizeof(Sketches) + (full->latency.memory_bytes() - sizeof(DDSketch)) +
               (full->top_ips.memory_bytes() - sizeof(SpaceSaving)) +
               (full->ips ? full->ips->memory_bytes() : 0);
    }
    if (paths_404) total += paths_404->memory_bytes();
    return total;
  }

  void encode(ByteWriter& w) const {
    w.i64(minute);
    w.i64(bytes);
    for (uint32_t v : {requests, client_errors, server_errors, auth_failures, not_found}) w.u32(v);
    w.u32(uint32_t{first_offset} | (uint32_t{last_offset} << 16));
    w.f64(max_score);
    uint32_t n_status = 0;
    statuses.for_each([&](uint16_t, uint32_t) { ++n_status; });
    w.u32(n_status);
    statuses.for_each([&](uint16_t code, uint32_t count) {
      w.u32(code);
      w.u32(count);
    });
    w.u8(full ? 0xff : n_raw);
    if (full) {
      full->latency.encode(w);
      full->top_ips.encode(w);
      w.u8(full->ips ? 1 : 0);
      if (full->ips) full->ips->encode(w);
    } else {
      for (uint8_t i = 0; i < n_raw; ++i) {
        w.f64(raw[i].latency_ms);
        w.bytes(raw[i].ip_view());
      }
    }
    w.u8(paths_404 ? 1 : 0);
    if (paths_404) paths_404->encode(w);
  }

  bool decode(ByteReader& r) {
    const int64_t m = r.i64();
    if (m < 0 || m > INT32_MAX) return false;
    minute = static_cast<int32_t>(m);
    bytes = r.i64();
    for (uint32_t* v : {&requests, &client_errors, &server_errors, &auth_failures, &not_found})
      *v = r.u32();
    const uint32_t offsets = r.u32();
    first_offset = static_cast<uint16_t>(offsets & 0xffff);
    last_offset = static_cast<uint16_t>(offsets >> 16);
    max_score = r.f64();
    const uint32_t n_status = r.u32();
    if (!r.ok() || n_status > 500) return false;
    for (uint32_t k = 0; k < n_status; ++k) {
      const uint32_t code = r.u32();
      const uint32_t count = r.u32();
      if (code < 100 || code > 599) return false;
      statuses.add(static_cast<int>(code), count);
    }
    const uint8_t mode = r.u8();
    if (mode == 0xff) {
      full = std::make_unique<Sketches>();
      if (!full->latency.decode(r) || !full->top_ips.decode(r)) return false;
      if (r.u8() == 1) {
        full->ips = std::make_unique<HyperLogLog>(kHllPrecision);
        if (!full->ips->decode(r)) return false;
      }
    } else {
      if (mode > kRawSamples) return false;
      for (uint8_t i = 0; i < mode; ++i) {
        const double latency = r.f64();
        std::string_view ip = r.bytes();
        if (ip.size() > RawSample{}.ip.size()) return false;
        add_sample(latency, ip);
      }
    }
    if (r.u8() == 1) {
      paths_404 = std::make_unique<HyperLogLog>(kHllPrecision);
      if (!paths_404->decode(r)) return false;
    }
    return r.ok();
  }

  PeriodPoint point() const {
    PeriodPoint p;
    p.start_ms = minute * kMinuteMs;
    p.requests = requests;
    p.errors = errors();
    DDSketch small(kAccuracy);
    if (!full) merge_latency_into(&small);
    const DDSketch& latency = full ? full->latency : small;
    p.latency_avg_ms =
        latency.count() > 0 ? latency.sum() / static_cast<double>(latency.count()) : 0;
    p.p50_ms = latency.quantile(0.50);
    p.p95_ms = latency.quantile(0.95);
    p.p99_ms = latency.quantile(0.99);
    p.max_anomaly_score = max_score;
    return p;
  }
};

// The minutes of one key that hold data, ascending, in a circular buffer that grows by half as
// needed (2, 4, 7, 11, 17, 26, 40, 61: the ring never holds more than 60 minutes). Expiring the
// oldest minute is O(1); a late record's minute is inserted in place.
class MinuteRing {
 public:
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  size_t capacity() const { return cap_; }
  MinuteBucket& operator[](size_t i) { return buf_[slot(i)]; }
  const MinuteBucket& operator[](size_t i) const { return buf_[slot(i)]; }
  MinuteBucket& front() { return (*this)[0]; }
  MinuteBucket& back() { return (*this)[count_ - 1]; }

  void pop_front() {
    front() = MinuteBucket();  // releases its sketches now
    start_ = start_ + 1 == cap_ ? 0 : start_ + 1;
    if (--count_ == 0) start_ = 0;
  }

  // Position of the first minute >= m.
  size_t lower_bound(int64_t m) const {
    size_t lo = 0, hi = count_;
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if ((*this)[mid].minute < m) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  MinuteBucket& insert(size_t pos, int64_t minute) {
    if (count_ == cap_) grow();
    ++count_;
    for (size_t i = count_ - 1; i > pos; --i) (*this)[i] = std::move((*this)[i - 1]);
    (*this)[pos] = MinuteBucket(minute);
    return (*this)[pos];
  }

  void release() {
    buf_.reset();
    cap_ = start_ = count_ = 0;
  }

  template <typename F>
  void for_each(F&& f) const {
    for (size_t i = 0; i < count_; ++i) f((*this)[i]);
  }

 private:
  size_t slot(size_t i) const {
    const size_t j = start_ + i;
    return j >= cap_ ? j - cap_ : j;
  }

  void grow() {
    const uint32_t cap = cap_ == 0 ? 2 : cap_ + cap_ / 2 + 1;
    auto buf = std::make_unique<MinuteBucket[]>(cap);
    for (size_t i = 0; i < count_; ++i) buf[i] = std::move((*this)[i]);
    buf_ = std::move(buf);
    cap_ = cap;
    start_ = 0;
  }

  std::unique_ptr<MinuteBucket[]> buf_;
  uint32_t cap_ = 0, start_ = 0, count_ = 0;
};

// One hour or day. Holds what left the minute ring (minutes fold in when recycled) plus records
// too late for it; the live minutes of the period are added at query time. The sketch lives while
// the period is the current or the previous one; then the percentiles are frozen and the sketch
// released (by then every minute of the period has folded in).
struct PeriodBucket {
  int64_t index = 0;  // hours or days since the epoch
  int64_t requests = 0, errors = 0;
  double latency_sum = 0, max_score = 0;
  double p50 = 0, p95 = 0, p99 = 0;
  std::optional<DDSketch> sketch;  // inline: folding a minute touches one less heap block

  void freeze() {
    if (!sketch) return;
    p50 = sketch->quantile(0.50);
    p95 = sketch->quantile(0.95);
    p99 = sketch->quantile(0.99);
    sketch.reset();
  }
};

class PeriodRing {
 public:
  PeriodRing(int64_t period_ms, int64_t slots) : period_ms_(period_ms), slots_(slots) {}

  int64_t period_ms() const { return period_ms_; }
  const std::vector<PeriodBucket>& buckets() const { return buckets_; }

  // Moves the ring so that `index` is the newest period: recycles expired periods, freezes the
  // ones that are neither current nor previous.
  void advance(int64_t index) {
    if (any_ && index <= newest_) return;
    newest_ = index;
    newest_exists_ = false;
    any_ = true;
    auto keep = std::find_if(buckets_.begin(), buckets_.end(),
                             [&](const PeriodBucket& b) { return b.index > newest_ - slots_; });
    buckets_.erase(buckets_.begin(), keep);
    for (auto& b : buckets_) {
      if (b.index < newest_ - 1) b.freeze();
    }
    if (buckets_.empty() && buckets_.capacity() > 4) std::vector<PeriodBucket>().swap(buckets_);
  }

  PeriodBucket* find(int64_t index) {
    if (!buckets_.empty() && buckets_.back().index == index) return &buckets_.back();
    auto it = std::lower_bound(buckets_.begin(), buckets_.end(), index,
                               [](const PeriodBucket& b, int64_t i) { return b.index < i; });
    return it != buckets_.end() && it->index == index ? &*it : nullptr;
  }

  // The bucket of `index`, created if the ring holds it; nullptr when it was recycled (or, with
  // may_advance false, when it is newer than the ring).
  PeriodBucket* get(int64_t index, bool may_advance) {
    if (!any_ || index > newest_) {
      if (!may_advance) return nullptr;
      advance(index);
    }
    if (index <= newest_ - slots_) return nullptr;
    if (PeriodBucket* b = find(index)) return b;
    auto it = std::lower_bound(buckets_.begin(), buckets_.end(), index,
                               [](const PeriodBucket& b, int64_t i) { return b.index < i; });
    PeriodBucket b;
    b.index = index;
    b.sketch.emplace(kAccuracy);
    return &*buckets_.insert(it, std::move(b));
  }

  // Makes sure the bucket of `index` exists (advancing the ring if newer); cheap when it is the
  // newest one, without touching the buckets.
  void ensure(int64_t index) {
    if (any_ && index == newest_ && newest_exists_) return;
    PeriodBucket* b = get(index, true);
    newest_exists_ = any_ && b != nullptr && index == newest_;
  }

  // A record too late for the minute ring.
  void record_late(PeriodBucket* b, bool error, double latency_ms) {
    ++b->requests;
    if (error) ++b->errors;
    b->latency_sum += latency_ms;
    if (b->sketch) {
      b->sketch->add(latency_ms);
      // It may have just created an old period's bucket: freeze it at once.
      if (b->index < newest_ - 1) b->freeze();
    }
  }

  // A minute leaving the minute ring.
  void fold(const MinuteBucket& m) {
    PeriodBucket* b = find(floor_div(m.minute * kMinuteMs, period_ms_));
    if (b == nullptr) return;
    b->requests += m.requests;
    b->errors += m.errors();
    b->latency_sum += m.latency_sum();
    if (b->sketch) m.merge_latency_into(&*b->sketch);
  }

  void encode(ByteWriter& w) const {
    w.i64(newest_);
    w.u8(static_cast<uint8_t>((any_ ? 1 : 0) | (newest_exists_ ? 2 : 0)));
    w.u32(static_cast<uint32_t>(buckets_.size()));
    for (const PeriodBucket& b : buckets_) {
      w.i64(b.index);
      w.i64(b.requests);
      w.i64(b.errors);
      for (double v : {b.latency_sum, b.max_score, b.p50, b.p95, b.p99}) w.f64(v);
      w.u8(b.sketch ? 1 : 0);
      if (b.sketch) b.sketch->encode(w);
    }
  }

  bool decode(ByteReader& r) {
    newest_ = r.i64();
    const uint8_t flags = r.u8();
    any_ = flags & 1;
    newest_exists_ = flags & 2;
    const uint32_t n = r.u32();
    if (!r.ok() || n > static_cast<uint32_t>(slots_)) return false;
    buckets_.clear();
    for (uint32_t k = 0; k < n; ++k) {
      PeriodBucket b;
      b.index = r.i64();
      b.requests = r.i64();
      b.errors = r.i64();
      for (double* v : {&b.latency_sum, &b.max_score, &b.p50, &b.p95, &b.p99}) *v = r.f64();
      if (r.u8() == 1) {
        b.sketch.emplace(kAccuracy);
        if (!b.sketch->decode(r)) return false;
      }
      if (!r.ok() || (!buckets_.empty() && buckets_.back().index >= b.index)) return false;
      buckets_.push_back(std::move(b));
    }
    return r.ok();
  }

  size_t memory_bytes() const {
    size_t total = buckets_.capacity() * sizeof(PeriodBucket);
    for (const auto& b : buckets_) {
      if (b.sketch) total += b.sketch->memory_bytes() - sizeof(DDSketch);
    }
    return total;
  }

 private:
  int64_t period_ms_, slots_;
  int64_t newest_ = 0;
  bool any_ = false;
  bool newest_exists_ = false;  // the bucket of newest_ was created (ensure's fast path)
  std::vector<PeriodBucket> buckets_;  // ascending index, all > newest_ - slots_
};

}  // namespace

struct KeyRollup::State {
  // Minute ring, stored sparsely: only minutes with data, ascending, all > newest - 60. This is
  // the 60-slot ring (slot = minute % 60) without paying for empty slots.
  MinuteRing minutes;
  int64_t newest_minute = 0;
  bool any_minute = false;
  PeriodRing hours{kHourMs, kHourSlots};
  PeriodRing days{kDayMs, kDaySlots};
  int64_t first_seen = 0, last_seen = 0, total = 0, late = 0, late_dropped = 0;

  // Recycles minutes older than the ring when `m` is newer, folding them into their hour and day.
  void advance_minutes(int64_t m) {
    if (any_minute && m <= newest_minute) return;
    newest_minute = m;
    any_minute = true;
    while (!minutes.empty() && minutes.front().minute <= m - kMinuteSlots) {
      hours.fold(minutes.front());
      days.fold(minutes.front());
      minutes.pop_front();
    }
  }

  // The bucket of minute `m`, created if the ring holds it (the ring moves on first when `m` is
  // newer and may_advance). Creating a bucket makes sure its hour and day exist, so per-record
  // work never touches them. The pointer is valid until the next call that may create a bucket.
  MinuteBucket* minute_bucket(int64_t m, bool may_advance) {
    if (any_minute && m == newest_minute && !minutes.empty() && minutes.back().minute == m)
      return &minutes.back();
    if (!any_minute || m > newest_minute) {
      if (!may_advance) return nullptr;
      advance_minutes(m);
    }
    if (m <= newest_minute - kMinuteSlots) return nullptr;
    const size_t pos = minutes.lower_bound(m);
    if (pos < minutes.size() && minutes[pos].minute == m) return &minutes[pos];
    hours.ensure(floor_div(m * kMinuteMs, kHourMs));
    days.ensure(floor_div(m * kMinuteMs, kDayMs));
    return &minutes.insert(pos, m);
  }

  // Point of an hour or day: its folded part plus its minutes still in the ring.
  std::vector<PeriodPoint> points(const PeriodRing& ring, int64_t since_ms) const {
    std::vector<PeriodPoint> out;
    for (const PeriodBucket& b : ring.buckets()) {
      const int64_t start = b.index * ring.period_ms();
      if (start < since_ms) continue;
      const int64_t end = start + ring.period_ms();
      PeriodPoint p;
      p.start_ms = start;
      p.requests = b.requests;
      p.errors = b.errors;
      p.max_anomaly_score = b.max_score;
      double latency_sum = b.latency_sum;
      std::optional<DDSketch> merged;
      minutes.for_each([&](const MinuteBucket& m) {
        if (m.minute * kMinuteMs < start || m.minute * kMinuteMs >= end) return;
        p.requests += m.requests;
        p.errors += m.errors();
        latency_sum += m.latency_sum();
        if (b.sketch) {
          if (!merged) merged = *b.sketch;
          m.merge_latency_into(&*merged);
        }
      });
      p.latency_avg_ms = p.requests > 0 ? latency_sum / static_cast<double>(p.requests) : 0;
      const DDSketch* sketch = merged ? &*merged : (b.sketch ? &*b.sketch : nullptr);
      if (sketch != nullptr) {
        p.p50_ms = sketch->quantile(0.50);
        p.p95_ms = sketch->quantile(0.95);
        p.p99_ms = sketch->quantile(0.99);
      } else {
        p.p50_ms = b.p50;
        p.p95_ms = b.p95;
        p.p99_ms = b.p99;
      }
      if (p.requests == 0 && p.max_anomaly_score == 0) continue;
      out.push_back(p);
    }
    return out;
  }
};

KeyRollup::KeyRollup() : s_(std::make_unique<State>()) {}
KeyRollup::~KeyRollup() = default;
KeyRollup::KeyRollup(KeyRollup&&) noexcept = default;
KeyRollup& KeyRollup::operator=(KeyRollup&&) noexcept = default;

void KeyRollup::add(const RecordView& r) {
  if (!s_) s_ = std::make_unique<State>();
  State& s = *s_;
  const int64_t ts = r.ts_ms;
  const bool error = r.status >= 400;
  MinuteBucket* mb = s.minute_bucket(floor_div(ts, kMinuteMs), true);
  if (mb == nullptr) {
    // Older than the minute ring: straight into its hour and day, if still held.
    PeriodBucket* hb = s.hours.get(floor_div(ts, kHourMs), false);
    PeriodBucket* db = s.days.get(floor_div(ts, kDayMs), false);
    if (hb == nullptr && db == nullptr) {
      ++s.late_dropped;
      return;
    }
    ++s.late;
    if (hb != nullptr) s.hours.record_late(hb, error, r.latency_ms);
    if (db != nullptr) s.days.record_late(db, error, r.latency_ms);
  }
  if (s.total == 0) {
    s.first_seen = s.last_seen = ts;
  } else {
    s.first_seen = std::min(s.first_seen, ts);
    s.last_seen = std::max(s.last_seen, ts);
  }
  ++s.total;
  if (mb == nullptr) return;
  MinuteBucket& b = *mb;
  const auto offset = static_cast<uint16_t>(ts - b.minute * kMinuteMs);
  if (b.requests == 0) {
    b.first_offset = b.last_offset = offset;
  } else {
    b.first_offset = std::min(b.first_offset, offset);
    b.last_offset = std::max(b.last_offset, offset);
  }
  ++b.requests;
  if (r.status >= 500) {
    ++b.server_errors;
  } else if (r.status >= 400) {
    ++b.client_errors;
    if (r.status == 401 || r.status == 403) ++b.auth_failures;
    if (r.status == 404) {
      ++b.not_found;
      if (!b.paths_404) b.paths_404 = std::make_unique<HyperLogLog>(kHllPrecision);
      b.paths_404->add(r.path);
    }
  }
  b.statuses.add(r.status);
  b.add_sample(r.latency_ms, r.ip);
  b.bytes += r.bytes;
}

KeyRollup::Counts KeyRollup::counts(int64_t now_ms, int64_t duration_ms) const {
  duration_ms = std::clamp<int64_t>(duration_ms, 0, kMinuteSlots * kMinuteMs);
  const int64_t first = floor_div(now_ms - duration_ms, kMinuteMs);
  const int64_t last = floor_div(now_ms, kMinuteMs);
  Counts c;
  if (!s_) return c;
  for (size_t i = 0; i < s_->minutes.size(); ++i) {
    const MinuteBucket& b = s_->minutes[i];
    if (b.minute < first || b.minute > last) continue;
    c.requests += b.requests;
    c.client_errors += b.client_errors;
    c.server_errors += b.server_errors;
    c.auth_failures += b.auth_failures;
    c.not_found += b.not_found;
  }
  return c;
}

WindowSummary KeyRollup::window(int64_t now_ms, int64_t duration_ms, bool with_latency) const {
  duration_ms = std::clamp<int64_t>(duration_ms, 0, kMinuteSlots * kMinuteMs);
  const int64_t first = floor_div(now_ms - duration_ms, kMinuteMs);
  const int64_t last = floor_div(now_ms, kMinuteMs);
  WindowSummary w;
  w.start_ms = first * kMinuteMs;
  w.end_ms = (last + 1) * kMinuteMs;
  if (!s_) return w;
  DDSketch latency(kAccuracy);
  HyperLogLog ips(kHllPrecision), paths_404(kHllPrecision);
  SpaceSaving top(kWindowTopIpCapacity);
  bool seen = false;
  for (size_t i = 0; i < s_->minutes.size(); ++i) {
    const MinuteBucket& b = s_->minutes[i];
    if (b.minute < first || b.minute > last) continue;
    w.requests += b.requests;
    w.client_errors += b.client_errors;
    w.server_errors += b.server_errors;
    w.auth_failures += b.auth_failures;
    w.not_found += b.not_found;
    w.bytes += b.bytes;
    b.statuses.for_each([&](uint16_t code, uint32_t count) {
      auto it = w.statuses.begin();
      while (it != w.statuses.end() && it->status < code) ++it;
      if (it != w.statuses.end() && it->status == code) {
        it->count += count;
      } else {
        w.statuses.insert(it, StatusCount{code, count});
      }
    });
    if (with_latency) b.merge_latency_into(&latency);
    b.merge_ips_into(&ips);
    if (b.paths_404) paths_404.merge(*b.paths_404);
    b.merge_top_into(&top);
    if (b.requests > 0) {
      w.first_ts_ms = seen ? std::min(w.first_ts_ms, b.first_ts()) : b.first_ts();
      w.last_ts_ms = seen ? std::max(w.last_ts_ms, b.last_ts()) : b.last_ts();
      seen = true;
    }
  }
  w.errors = w.client_errors + w.server_errors;
  if (latency.count() > 0) {
    w.latency_avg_ms = latency.sum() / static_cast<double>(latency.count());
    w.p50_ms = latency.quantile(0.50);
    w.p95_ms = latency.quantile(0.95);
    w.p99_ms = latency.quantile(0.99);
    w.latency_max_ms = latency.max();
  }
  w.unique_ips = static_cast<int64_t>(ips.estimate());
  w.unique_404_paths = static_cast<int64_t>(paths_404.estimate());
  for (auto& [ip, count] : top.top(kTopIpsReported)) {
    w.top_ips.emplace_back(std::move(ip), static_cast<int64_t>(count));
  }
  return w;
}

std::vector<PeriodPoint> KeyRollup::hours(int64_t since_ms) const {
  return s_ ? s_->points(s_->hours, since_ms) : std::vector<PeriodPoint>{};
}

std::vector<PeriodPoint> KeyRollup::days(int64_t since_ms) const {
  return s_ ? s_->points(s_->days, since_ms) : std::vector<PeriodPoint>{};
}

std::vector<PeriodPoint> KeyRollup::minutes(int64_t since_ms) const {
  std::vector<PeriodPoint> out;
  if (!s_) return out;
  for (size_t i = 0; i < s_->minutes.size(); ++i) {
    const MinuteBucket& b = s_->minutes[i];
    if (b.minute * kMinuteMs >= since_ms) out.push_back(b.point());
  }
  return out;
}

void KeyRollup::note_anomaly_score(int64_t ts_ms, double score) {
  if (!s_ || !(score >= 0)) return;
  if (MinuteBucket* b = s_->minute_bucket(floor_div(ts_ms, kMinuteMs), false)) {
    b->max_score = std::max(b->max_score, score);
  }
  if (PeriodBucket* b = s_->hours.get(floor_div(ts_ms, kHourMs), false)) {
    b->max_score = std::max(b->max_score, score);
  }
  if (PeriodBucket* b = s_->days.get(floor_div(ts_ms, kDayMs), false)) {
    b->max_score = std::max(b->max_score, score);
  }
}

void KeyRollup::expire(int64_t now_ms) {
  if (!s_) return;
  const int64_t minute = floor_div(now_ms, kMinuteMs);
  if (s_->any_minute && minute > s_->newest_minute) {
    s_->advance_minutes(minute);
    if (s_->minutes.empty()) s_->minutes.release();
  }
  s_->hours.advance(floor_div(now_ms, kHourMs));
  s_->days.advance(floor_div(now_ms, kDayMs));
}

namespace {
constexpr uint32_t kRollupFormat = 0x53524b31;  // "SRK1"
}

std::string KeyRollup::encode() const {
  ByteWriter w;
  w.u32(kRollupFormat);
  if (!s_) {
    w.u8(0);
    return std::move(w.str());
  }
  w.u8(1);
  const State& s = *s_;
  for (int64_t v : {s.first_seen, s.last_seen, s.total, s.late, s.late_dropped, s.newest_minute})
    w.i64(v);
  w.u8(s.any_minute ? 1 : 0);
  w.u32(static_cast<uint32_t>(s.minutes.size()));
  s.minutes.for_each([&](const MinuteBucket& b) { b.encode(w); });
  s.hours.encode(w);
  s.days.encode(w);
  return std::move(w.str());
}

std::optional<KeyRollup> KeyRollup::decode(std::string_view data) {
  ByteReader r(data);
  if (r.u32() != kRollupFormat) return std::nullopt;
  KeyRollup out;
  const uint8_t present = r.u8();
  if (!r.ok()) return std::nullopt;
  if (present == 0) return r.done() ? std::optional<KeyRollup>(std::move(out)) : std::nullopt;
  State& s = *out.s_;
  for (int64_t* v : {&s.first_seen, &s.last_seen, &s.total, &s.late, &s.late_dropped,
                     &s.newest_minute})
    *v = r.i64();
  s.any_minute = r.u8() == 1;
  const uint32_t n = r.u32();
  if (!r.ok() || n > kMinuteSlots) return std::nullopt;
  for (uint32_t k = 0; k < n; ++k) {
    MinuteBucket b;
    if (!b.decode(r)) return std::nullopt;
    if (!s.minutes.empty() && s.minutes.back().minute >= b.minute) return std::nullopt;
    if (b.minute <= s.newest_minute - kMinuteSlots || b.minute > s.newest_minute)
      return std::nullopt;
    s.minutes.insert(s.minutes.size(), b.minute) = std::move(b);
  }
  if (!s.hours.decode(r) || !s.days.decode(r) || !r.done()) return std::nullopt;
  return out;
}

int64_t KeyRollup::first_seen_ms() const {
  return s_ ? s_->first_seen : 0;
}
int64_t KeyRollup::last_seen_ms() const {
  return s_ ? s_->last_seen : 0;
}
int64_t KeyRollup::total_requests() const {
  return s_ ? s_->total : 0;
}
int64_t KeyRollup::late_records() const {
  return s_ ? s_->late : 0;
}
int64_t KeyRollup::late_dropped() const {
  return s_ ? s_->late_dropped : 0;
}

size_t KeyRollup::memory_bytes() const {
  size_t total = sizeof(*this);
  if (!s_) return total;
  total += sizeof(State) + (s_->minutes.capacity() - s_->minutes.size()) * sizeof(MinuteBucket);
  s_->minutes.for_each([&](const MinuteBucket& b) { total += b.memory_bytes(); });
  total += s_->hours.memory_bytes() + s_->days.memory_bytes();
  return total;
}

// ---------------------------------------------------------------------------------------------

KeyRollup& Rollups::key(std::string_view key_id) {
  auto it = keys_.find(key_id);
  if (it != keys_.end()) return it->second;
  return keys_.emplace(std::string(key_id), KeyRollup()).first->second;
}

const KeyRollup* Rollups::find(std::string_view key_id) const {
  auto it = keys_.find(key_id);
  return it == keys_.end() ? nullptr : &it->second;
}

size_t Rollups::evict_idle(int64_t idle_before_ms) {
  return std::erase_if(keys_,
                       [&](const auto& kv) { return kv.second.last_seen_ms() < idle_before_ms; });
}

void Rollups::expire(int64_t now_ms) {
  for (auto& [k, v] : keys_) v.expire(now_ms);
}

std::vector<std::string> Rollups::key_ids() const {
  std::vector<std::string> out;
  out.reserve(keys_.size());
  for (const auto& [k, v] : keys_) out.push_back(k);
  std::sort(out.begin(), out.end());
  return out;
}

size_t Rollups::memory_bytes() const {
  // Node: the key string, the KeyRollup handle, the next pointer and the cached hash.
  constexpr size_t kNodeOverhead = sizeof(std::string) + 2 * sizeof(void*);
  size_t total = sizeof(*this) + keys_.bucket_count() * sizeof(void*);
  for (const auto& [k, v] : keys_) {
    total += kNodeOverhead + (k.capacity() > 15 ? k.capacity() + 1 : 0) + v.memory_bytes();
  }
  return total;
}

}  // namespace sira::signals
