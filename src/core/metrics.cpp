// Prometheus text rendering and lock-light metric updates.
#include "core/metrics.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace sira {

namespace {
enum Kind { kCounter = 0, kGauge = 1, kHistogram = 2 };

void atomic_add(std::atomic<double>& a, double v) {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

std::string escape_label(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  char buf[32];
  for (int precision : {6, 15, 17}) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string render_labels(const Labels& labels, const std::string& extra_name = {},
                          const std::string& extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ",";
    first = false;
    out += k + "=\"" + escape_label(v) + "\"";
  }
  if (!extra_name.empty()) {
    if (!first) out += ",";
    out += extra_name + "=\"" + extra_value + "\"";
  }
  return out + "}";
}
}  // namespace

void Counter::inc(double v) { atomic_add(value_, v); }
void Gauge::add(double v) { atomic_add(value_, v); }

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), buckets_(new std::atomic<uint64_t>[bounds->size() + 1]) {
  for (size_t i = 0; i <= bounds_->size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_->size() && v > (*bounds_)[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  atomic_add(sum_, v);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void Histogram::snapshot(std::vector<uint64_t>* cumulative, double* sum, uint64_t* count) const {
  cumulative->assign(bounds_->size() + 1, 0);
  uint64_t acc = 0;
  for (size_t i = 0; i <= bounds_->size(); ++i) {
    acc += buckets_[i].load(std::memory_order_relaxed);
    (*cumulative)[i] = acc;
  }
  *sum = sum_.load(std::memory_order_relaxed);
  *count = acc;
}

struct MetricsRegistry::Family {
  std::string name;
  std::string help;
  int kind = kCounter;
  std::vector<double> bounds;
  std::mutex mu;
  std::map<Labels, std::unique_ptr<Counter>> counters;
  std::map<Labels, std::unique_ptr<Gauge>> gauges;
  std::map<Labels, std::unique_ptr<Histogram>> histograms;
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Family& MetricsRegistry::family(const std::string& name, const std::string& help,
                                                 int kind, const std::vector<double>* bounds) {
  std::lock_guard lock(mu_);
  auto& f = families_[name];
  if (!f) {
    f = std::make_unique<Family>();
    f->name = name;
    f->help = help;
    f->kind = kind;
    if (bounds) f->bounds = *bounds;
  }
  return *f;
}

Counter& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                  const Labels& labels) {
  Family& f = family(name, help, kCounter, nullptr);
  std::lock_guard lock(f.mu);
  auto& c = f.counters[labels];
  if (!c) c = std::make_unique<Counter>();
  return *c;
}

Gauge& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                              const Labels& labels) {
  Family& f = family(name, help, kGauge, nullptr);
  std::lock_guard lock(f.mu);
  auto& g = f.gauges[labels];
  if (!g) g = std::make_unique<Gauge>();
  return *g;
}

Histogram& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                      const std::vector<double>& bounds, const Labels& labels) {
  Family& f = family(name, help, kHistogram, &bounds);
  std::lock_guard lock(f.mu);
  auto& h = f.histograms[labels];
  if (!h) h = std::make_unique<Histogram>(&f.bounds);
  return *h;
}

void MetricsRegistry::add_collector(std::function<void()> collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

const std::vector<double>& MetricsRegistry::default_latency_buckets() {
  static const std::vector<double> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  return kBuckets;
}

std::string MetricsRegistry::render() const {
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard lock(mu_);
    collectors = collectors_;
  }
  for (auto& c : collectors) c();
  std::ostringstream out;
  std::lock_guard lock(mu_);
  for (const auto& [name, f] : families_) {
    std::lock_guard flock(f->mu);
    static const char* kTypes[] = {"counter", "gauge", "histogram"};
    out << "# HELP " << name << " " << f->help << "\n# TYPE " << name << " " << kTypes[f->kind]
        << "\n";
    if (f->kind == kCounter) {
      for (const auto& [labels, c] : f->counters)
        out << name << render_labels(labels) << " " << format_value(c->value()) << "\n";
    } else if (f->kind == kGauge) {
      for (const auto& [labels, g] : f->gauges)
        out << name << render_labels(labels) << " " << format_value(g->value()) << "\n";
    } else {
      for (const auto& [labels, h] : f->histograms) {
        std::vector<uint64_t> cum;
        double sum;
        uint64_t count;
        h->snapshot(&cum, &sum, &count);
        for (size_t i = 0; i < f->bounds.size(); ++i)
          out << name << "_bucket" << render_labels(labels, "le", format_value(f->bounds[i]))
              << " " << cum[i] << "\n";
        out << name << "_bucket" << render_labels(labels, "le", "+Inf") << " " << count << "\n";
        out << name << "_sum" << render_labels(labels) << " " << format_value(sum) << "\n";
        out << name << "_count" << render_labels(labels) << " " << count << "\n";
      }
    }
  }
  return out.str();
}

}  // namespace sira
