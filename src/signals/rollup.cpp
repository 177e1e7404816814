// Per-key minute/hour/day rings (lazily allocated, sparse) and the Rollups map of one tenant.
#include "signals/rollup.h"

#include <algorithm>
#include <array>
#include <optional>

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
constexpr int kHllPrecision = 12;
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
      if (inline_[i].first == code) {
        inline_[i].second += count;
        return;
      }
    }
    if (n_inline_ < inline_.size()) {
      inline_[n_inline_++] = {code, count};
      return;
    }
    for (auto& e : more_) {
      if (e.first == code) {
        e.second += count;
        return;
      }
    }
    more_.emplace_back(code, count);
  }
  template <typename F>
  void for_each(F&& f) const {
    for (uint8_t i = 0; i < n_inline_; ++i) f(inline_[i].first, inline_[i].second);
    for (const auto& e : more_) f(e.first, e.second);
  }
  void clear() {
    n_inline_ = 0;
    more_.clear();
  }
  size_t heap_bytes() const { return more_.capacity() * sizeof(more_[0]); }

 private:
  std::array<std::pair<uint16_t, uint32_t>, 4> inline_{};
  uint8_t n_inline_ = 0;
  std::vector<std::pair<uint16_t, uint32_t>> more_;
};

// One minute of one key. Sketches start empty (no heap) and grow with traffic.
struct MinuteBucket {
  int64_t minute = 0;
  int64_t bytes = 0;
  uint32_t requests = 0, client_errors = 0, server_errors = 0, auth_failures = 0, not_found = 0;
  uint16_t first_offset = 0, last_offset = 0;  // ms into the minute of the first/last record
  double max_score = 0;
  StatusCounts statuses;
  DDSketch latency{kAccuracy};
  SpaceSaving top_ips{kTopIpCapacity};
  // Distinct IPs: while top_ips never evicted (at most kTopIpCapacity IPs) it is the exact set
  // and this stays null; the HyperLogLog starts with its items when the next IP arrives.
  std::unique_ptr<HyperLogLog> ips;
  std::unique_ptr<HyperLogLog> paths_404;  // only once the minute saw a 404

  // Recycles the bucket for minute `m`, keeping the capacity of its small vectors.
  void reset(int64_t m) {
    minute = m;
    bytes = 0;
    requests = client_errors = server_errors = auth_failures = not_found = 0;
    first_offset = last_offset = 0;
    max_score = 0;
    statuses.clear();
    latency.clear();
    top_ips = SpaceSaving(kTopIpCapacity);
    ips.reset();
    paths_404.reset();
  }

  void add_ip(std::string_view ip) {
    if (ips) {
      ips->add(ip);
    } else if (top_ips.size() == top_ips.capacity() && !top_ips.contains(ip)) {
      ips = std::make_unique<HyperLogLog>(kHllPrecision);
      for (const auto& [known, count] : top_ips.items()) ips->add(known);
      ips->add(ip);
    }
    top_ips.add(ip);
  }

  void merge_ips_into(HyperLogLog* out) const {
    if (ips) {
      out->merge(*ips);
    } else {
      for (const auto& [ip, count] : top_ips.items()) out->add(ip);
    }
  }

  int64_t first_ts() const { return minute * kMinuteMs + first_offset; }
  int64_t last_ts() const { return minute * kMinuteMs + last_offset; }

  int64_t errors() const { return int64_t{client_errors} + server_errors; }

  size_t memory_bytes() const {
    return sizeof(*this) + statuses.heap_bytes() + (latency.memory_bytes() - sizeof(DDSketch)) +
           (ips ? ips->memory_bytes() : 0) + (paths_404 ? paths_404->memory_bytes() : 0) +
           (top_ips.memory_bytes() - sizeof(SpaceSaving));
  }

  PeriodPoint point() const {
    PeriodPoint p;
    p.start_ms = minute * kMinuteMs;
    p.requests = requests;
    p.errors = errors();
    p.latency_avg_ms =
        latency.count() > 0 ? latency.sum() / static_cast<double>(latency.count()) : 0;
    p.p50_ms = latency.quantile(0.50);
    p.p95_ms = latency.quantile(0.95);
    p.p99_ms = latency.quantile(0.99);
    p.max_anomaly_score = max_score;
    return p;
  }
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
  std::unique_ptr<DDSketch> sketch;

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
    b.sketch = std::make_unique<DDSketch>(kAccuracy);
    return &*buckets_.insert(it, std::move(b));
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
    b->latency_sum += m.latency.sum();
    if (b->sketch) b->sketch->merge(m.latency);
  }

  size_t memory_bytes() const {
    size_t total = buckets_.capacity() * sizeof(PeriodBucket);
    for (const auto& b : buckets_) {
      if (b.sketch) total += b.sketch->memory_bytes();
    }
    return total;
  }

 private:
  int64_t period_ms_, slots_;
  int64_t newest_ = 0;
  bool any_ = false;
  std::vector<PeriodBucket> buckets_;  // ascending index, all > newest_ - slots_
};

}  // namespace

struct KeyRollup::State {
  // Minute ring, stored sparsely: only minutes with data, ascending, all > newest - 60. This is
  // the 60-slot ring (slot = minute % 60) without paying for empty slots.
  struct MinuteSlot {
    int64_t minute;  // copy of bucket->minute: searches do not touch the buckets
    std::unique_ptr<MinuteBucket> bucket;
  };
  std::vector<MinuteSlot> minutes;
  int64_t newest_minute = 0;
  bool any_minute = false;
  PeriodRing hours{kHourMs, kHourSlots};
  PeriodRing days{kDayMs, kDaySlots};
  int64_t first_seen = 0, last_seen = 0, total = 0, late = 0, late_dropped = 0;

  // Recycles minutes older than the ring when `m` is newer, folding them into their hour and
  // day; returns one recycled bucket for reuse.
  std::unique_ptr<MinuteBucket> advance_minutes(int64_t m) {
    std::unique_ptr<MinuteBucket> spare;
    if (any_minute && m <= newest_minute) return spare;
    newest_minute = m;
    any_minute = true;
    size_t expired = 0;
    while (expired < minutes.size() && minutes[expired].minute <= m - kMinuteSlots) {
      hours.fold(*minutes[expired].bucket);
      days.fold(*minutes[expired].bucket);
      ++expired;
    }
    if (expired > 0) {
      spare = std::move(minutes[0].bucket);
      minutes.erase(minutes.begin(), minutes.begin() + static_cast<ptrdiff_t>(expired));
    }
    return spare;
  }

  // The bucket of minute `m`, created if the ring holds it (the ring moves on first when `m` is
  // newer and may_advance). Creating a bucket makes sure its hour and day exist, so per-record
  // work never touches them.
  MinuteBucket* minute_bucket(int64_t m, bool may_advance) {
    if (any_minute && m == newest_minute && !minutes.empty() && minutes.back().minute == m)
      return minutes.back().bucket.get();
    std::unique_ptr<MinuteBucket> spare;
    if (!any_minute || m > newest_minute) {
      if (!may_advance) return nullptr;
      spare = advance_minutes(m);
    }
    if (m <= newest_minute - kMinuteSlots) return nullptr;
    auto it = std::lower_bound(minutes.begin(), minutes.end(), m,
                               [](const MinuteSlot& slot, int64_t v) { return slot.minute < v; });
    if (it != minutes.end() && it->minute == m) return it->bucket.get();
    if (spare) {
      spare->reset(m);
    } else {
      spare = std::make_unique<MinuteBucket>();
      spare->minute = m;
    }
    hours.get(floor_div(m * kMinuteMs, kHourMs), true);
    days.get(floor_div(m * kMinuteMs, kDayMs), true);
    return minutes.insert(it, MinuteSlot{m, std::move(spare)})->bucket.get();
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
      for (const auto& slot : minutes) {
        if (slot.minute * kMinuteMs < start || slot.minute * kMinuteMs >= end) continue;
        const MinuteBucket& m = *slot.bucket;
        p.requests += m.requests;
        p.errors += m.errors();
        latency_sum += m.latency.sum();
        if (b.sketch) {
          if (!merged) merged = *b.sketch;
          merged->merge(m.latency);
        }
      }
      p.latency_avg_ms = p.requests > 0 ? latency_sum / static_cast<double>(p.requests) : 0;
      const DDSketch* sketch = merged ? &*merged : b.sketch.get();
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
  b.latency.add(r.latency_ms);
  b.add_ip(r.ip);
  b.bytes += r.bytes;
}

KeyRollup::Counts KeyRollup::counts(int64_t now_ms, int64_t duration_ms) const {
  duration_ms = std::clamp<int64_t>(duration_ms, 0, kMinuteSlots * kMinuteMs);
  const int64_t first = floor_div(now_ms - duration_ms, kMinuteMs);
  const int64_t last = floor_div(now_ms, kMinuteMs);
  Counts c;
  if (!s_) return c;
  for (const auto& slot : s_->minutes) {
    if (slot.minute < first || slot.minute > last) continue;
    const MinuteBucket& b = *slot.bucket;
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
  for (const auto& slot : s_->minutes) {
    if (slot.minute < first || slot.minute > last) continue;
    const MinuteBucket& b = *slot.bucket;
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
    if (with_latency) latency.merge(b.latency);
    b.merge_ips_into(&ips);
    if (b.paths_404) paths_404.merge(*b.paths_404);
    top.merge(b.top_ips);
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
  for (const auto& slot : s_->minutes) {
    if (slot.minute * kMinuteMs >= since_ms) out.push_back(slot.bucket->point());
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
    if (s_->minutes.empty()) std::vector<State::MinuteSlot>().swap(s_->minutes);
  }
  s_->hours.advance(floor_div(now_ms, kHourMs));
  s_->days.advance(floor_div(now_ms, kDayMs));
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
  total += sizeof(State) + s_->minutes.capacity() * sizeof(s_->minutes[0]);
  for (const auto& slot : s_->minutes) total += slot.bucket->memory_bytes();
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
