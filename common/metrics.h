#ifndef SAMPLAN_COMMON_METRICS_H_
#define SAMPLAN_COMMON_METRICS_H_

// Process metrics with prometheus-cpp: a registry per Metrics, rendered in the
// Prometheus text exposition format by the library's serializer and served on
// SAMPLAN_METRICS_ADDRESS (GET /metrics) by its Exposer. Labels carry method
// names, status codes, schema and group names only — never ids or personal data.

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace prometheus {
class Counter;
class Exposer;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace samplan {

// The metrics of one process. Thread-safe. A metric is one prometheus-cpp family,
// typed by its Describe (or, undescribed, by its first use); using a name as
// another type than it has is a programming error, logged once and dropped.
class Metrics {
 public:
  // Label names to values ({"method", "GetPlan"}, {"code", "OK"}).
  using Labels = std::map<std::string, std::string>;

  // Upper bounds of every histogram's buckets, in seconds: 1 ms to 10 s.
  static constexpr double kBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                        0.25,  0.5,    1.0,   2.5,  5.0,   10.0};

  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Returns the process-wide registry, the one MetricsServer serves.
  static Metrics& Global();

  // Adds `delta` to counter `name` with `labels`, written as in the exposition
  // format: "method=\"GetPlan\",code=\"OK\"" (empty: no labels).
  void Add(absl::string_view name, absl::string_view labels, int64_t delta = 1);
  void Add(absl::string_view name, const Labels& labels, int64_t delta = 1);
  // Records `seconds` in histogram `name` with `labels` (buckets: kBuckets).
  void Observe(absl::string_view name, absl::string_view labels, double seconds);
  void Observe(absl::string_view name, const Labels& labels, double seconds);
  // Sets gauge `name` (no labels).
  void Set(absl::string_view name, double value);
  // Declares `name` with `type` ("counter", "gauge" or "histogram") and the help
  // text printed as # HELP. The first description of a name stands.
  void Describe(absl::string_view name, absl::string_view type, absl::string_view help);

  // Returns every metric with at least one series, in the text exposition format.
  std::string Render() const;

  // The prometheus-cpp registry behind this, for an Exposer.
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct FamilyRef {
    Type type;
    prometheus::Family<prometheus::Counter>* counters = nullptr;
    prometheus::Family<prometheus::Gauge>* gauges = nullptr;
    prometheus::Family<prometheus::Histogram>* histograms = nullptr;
  };

  // Returns the family `name` of `type`, made (with `help`) when new; null, logged
  // once, when `name` is another type or not a valid metric name.
  const FamilyRef* FamilyOf(absl::string_view name, Type type, absl::string_view help = "")
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  prometheus::Counter* CounterOf(absl::string_view name, const Labels& labels)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  prometheus::Histogram* HistogramOf(absl::string_view name, const Labels& labels)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Logs `what` about `key` the first time only.
  void Complain(const std::string& key, absl::string_view what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::shared_ptr<prometheus::Registry> registry_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, FamilyRef> families_ ABSL_GUARDED_BY(mu_);
  // Series by name and label text, so that a hot path parses its labels once.
  absl::flat_hash_map<std::string, prometheus::Counter*> counters_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, prometheus::Histogram*> histograms_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, prometheus::Gauge*> gauges_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> complained_ ABSL_GUARDED_BY(mu_);
};

// Parses labels written as in the exposition format ("a=\"x\",b=\"y\\\"z\"").
absl::StatusOr<Metrics::Labels> ParseMetricLabels(absl::string_view text);

// Serves GET /metrics of Metrics::Global() on a TCP address until destroyed,
// with prometheus-cpp's Exposer (civetweb): other paths get 404.
class MetricsServer {
 public:
  // Listens on `address` ("host:port", IPv4; port 0 picks one); UNAVAILABLE if it
  // cannot.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(absl::string_view address);
  ~MetricsServer();

  int port() const { return port_; }

 private:
  MetricsServer(std::unique_ptr<prometheus::Exposer> exposer, int port);

  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_;
};

}  // namespace samplan

#endif  // SAMPLAN_COMMON_METRICS_H_
