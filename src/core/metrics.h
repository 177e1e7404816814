// Metrics registry rendered in the Prometheus text exposition format (version 0.0.4).
//
// Families are created once (usually at start-up) and live as long as the registry; label
// children are created on first use. Counter/Gauge/Histogram handles returned by the registry
// stay valid for the registry's lifetime. Every method is thread-safe; the hot paths (inc,
// observe) take a per-family mutex only to find the child, then use atomics.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sira {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(double v = 1.0);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds);
  void observe(double v);
  // Snapshot for rendering: cumulative counts per bound plus +Inf, sum and count.
  void snapshot(std::vector<uint64_t>* cumulative, double* sum, uint64_t* count) const;

 private:
  const std::vector<double>* bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_->size() + 1
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Returns the child for these label values, creating family and child when needed.
  // Label order must be the same on every call for a family.
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help,
                       const std::vector<double>& bounds, const Labels& labels = {});

  // Called at the start of every render(), e.g. to refresh gauges computed on demand.
  void add_collector(std::function<void()> collector);

  std::string render() const;

  static const std::vector<double>& default_latency_buckets();

 private:
  struct Family;
  Family& family(const std::string& name, const std::string& help, int kind,
                 const std::vector<double>* bounds);
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>> families_;
  std::vector<std::function<void()>> collectors_;
};

}  // namespace sira
