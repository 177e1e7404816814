// Time source. No module reads the system clock directly: it receives a Clock&.
// SystemClock is the real one; ManualClock lets tests move time by hand.
// Thread-safety: both implementations are safe to call from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace sira {

using TimePoint = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  int64_t now_ms() const;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::system_clock::now(); }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start) : ns_(start.time_since_epoch().count()) {}
  TimePoint now() const override { return TimePoint(TimePoint::duration(ns_.load())); }
  void advance(std::chrono::nanoseconds d) { ns_ += std::chrono::duration_cast<TimePoint::duration>(d).count(); }
  void set(TimePoint t) { ns_ = t.time_since_epoch().count(); }

 private:
  std::atomic<TimePoint::rep> ns_;
};

// RFC 3339 in UTC with millisecond precision: 2026-01-02T03:04:05.678Z.
std::string format_rfc3339(TimePoint t);
std::string format_rfc3339_ms(int64_t unix_ms);
// Parses RFC 3339 (Z or ±hh:mm offset, optional fraction). Returns false on bad input.
bool parse_rfc3339(std::string_view text, int64_t* unix_ms);

}  // namespace sira
