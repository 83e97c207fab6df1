#ifndef SAMPLAN_COMMON_METRICS_H_
#define SAMPLAN_COMMON_METRICS_H_

// Process metrics in the Prometheus text format, served over plain HTTP on
// SAMPLAN_METRICS_ADDRESS (GET /metrics). Labels carry method names and status
// codes only — never ids or personal data.

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace samplan {

// The metrics of one process. Thread-safe.
class Metrics {
 public:
  // Returns the process-wide registry.
  static Metrics& Global();

  // Adds `delta` to counter `name` with `labels` ("method=\"GetPlan\",code=\"OK\"").
  void Add(absl::string_view name, absl::string_view labels, int64_t delta = 1);
  // Records `seconds` in histogram `name` with `labels`.
  void Observe(absl::string_view name, absl::string_view labels, double seconds);
  // Sets gauge `name` (no labels).
  void Set(absl::string_view name, double value);
  // Sets the help text of `name`, printed as # HELP and # TYPE.
  void Describe(absl::string_view name, absl::string_view type, absl::string_view help);

  // Returns every metric in the Prometheus text exposition format.
  std::string Render() const;

 private:
  struct Histogram {
    std::vector<int64_t> buckets;
    int64_t count = 0;
    double sum = 0;
  };
  mutable absl::Mutex mu_;
  std::map<std::string, std::pair<std::string, std::string>> help_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::map<std::string, int64_t>> counters_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::map<std::string, Histogram>> histograms_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, double> gauges_ ABSL_GUARDED_BY(mu_);
};

// Serves GET /metrics of Metrics::Global() on a TCP address until destroyed.
class MetricsServer {
 public:
  // Listens on `address` ("host:port"; port 0 picks one); UNAVAILABLE if it cannot.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(absl::string_view address);
  ~MetricsServer();

  int port() const { return port_; }

 private:
  MetricsServer(int fd, int port);
  void Serve();

  int fd_;
  int port_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace samplan

#endif  // SAMPLAN_COMMON_METRICS_H_
