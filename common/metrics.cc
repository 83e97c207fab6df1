#include "common/metrics.h"

#include <arpa/inet.h>

#include <exception>
#include <utility>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/log.h"

namespace samplan {
namespace {

// The key of one series in the caches: name, a NUL, and the label text.
std::string SeriesKey(absl::string_view name, absl::string_view labels) {
  return absl::StrCat(name, absl::string_view("\0", 1), labels);
}

// The key of one series given as a label map; \x01 and \x02 stand in no label text.
std::string SeriesKey(absl::string_view name, const Metrics::Labels& labels) {
  std::string key = absl::StrCat(name, absl::string_view("\0\x01", 2));
  for (const auto& [label, value] : labels) absl::StrAppend(&key, label, "\x01", value, "\x02");
  return key;
}

const prometheus::Histogram::BucketBoundaries& Buckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries(
      std::begin(Metrics::kBuckets), std::end(Metrics::kBuckets));
  return *buckets;
}

}  // namespace

absl::StatusOr<Metrics::Labels> ParseMetricLabels(absl::string_view text) {
  Metrics::Labels labels;
  size_t i = 0;
  while (i < text.size()) {
    const size_t equals = text.find('=', i);
    if (equals == absl::string_view::npos || equals == i || equals + 1 >= text.size() ||
        text[equals + 1] != '"') {
      return absl::InvalidArgumentError(
          absl::StrCat("labels \"", text, "\": expected name=\"value\""));
    }
    std::string name(text.substr(i, equals - i));
    std::string value;
    size_t j = equals + 2;
    for (; j < text.size() && text[j] != '"'; ++j) {
      if (text[j] == '\\' && j + 1 < text.size()) {
        ++j;
        value.push_back(text[j] == 'n' ? '\n' : text[j]);
      } else {
        value.push_back(text[j]);
      }
    }
    if (j >= text.size()) {
      return absl::InvalidArgumentError(absl::StrCat("labels \"", text, "\": unterminated value"));
    }
    labels[std::move(name)] = std::move(value);
    i = j + 1;
    if (i < text.size()) {
      if (text[i] != ',') {
        return absl::InvalidArgumentError(absl::StrCat("labels \"", text, "\": expected ','"));
      }
      ++i;
    }
  }
  return labels;
}

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {}

Metrics::~Metrics() = default;

Metrics& Metrics::Global() {
  static Metrics* metrics = new Metrics();
  return *metrics;
}

void Metrics::Complain(const std::string& key, absl::string_view what) {
  if (!complained_.insert(key).second) return;
  const size_t nul = key.find('\0');
  Log(LogLevel::kError, "metric dropped",
      {{"metric", absl::string_view(key).substr(0, nul)}, {"detail", what}});
}

const Metrics::FamilyRef* Metrics::FamilyOf(absl::string_view name, Type type,
                                            absl::string_view help) {
  auto it = families_.find(name);
  if (it != families_.end()) {
    if (it->second.type == type) return &it->second;
    Complain(std::string(name), "used as another type than it was declared");
    return nullptr;
  }
  FamilyRef family{type};
  try {
    const std::string name_text(name);
    const std::string help_text(help);
    switch (type) {
      case Type::kCounter:
        family.counters =
            &prometheus::BuildCounter().Name(name_text).Help(help_text).Register(*registry_);
        break;
      case Type::kGauge:
        family.gauges =
            &prometheus::BuildGauge().Name(name_text).Help(help_text).Register(*registry_);
        break;
      case Type::kHistogram:
        family.histograms =
            &prometheus::BuildHistogram().Name(name_text).Help(help_text).Register(*registry_);
        break;
    }
  } catch (const std::exception& e) {
    Complain(std::string(name), e.what());
    return nullptr;
  }
  return &families_.emplace(std::string(name), family).first->second;
}

prometheus::Counter* Metrics::CounterOf(absl::string_view name, const Labels& labels) {
  const FamilyRef* family = FamilyOf(name, Type::kCounter);
  if (family == nullptr) return nullptr;
  try {
    return &family->counters->Add(labels);
  } catch (const std::exception& e) {
    Complain(std::string(name), e.what());
    return nullptr;
  }
}

prometheus::Histogram* Metrics::HistogramOf(absl::string_view name, const Labels& labels) {
  const FamilyRef* family = FamilyOf(name, Type::kHistogram);
  if (family == nullptr) return nullptr;
  try {
    return &family->histograms->Add(labels, Buckets());
  } catch (const std::exception& e) {
    Complain(std::string(name), e.what());
    return nullptr;
  }
}

void Metrics::Add(absl::string_view name, absl::string_view labels, int64_t delta) {
  prometheus::Counter* counter;
  {
    absl::MutexLock lock(&mu_);
    const std::string key = SeriesKey(name, labels);
    auto it = counters_.find(key);
    if (it == counters_.end()) {
      absl::StatusOr<Labels> parsed = ParseMetricLabels(labels);
      if (!parsed.ok()) Complain(key, parsed.status().message());
      it = counters_.emplace(key, parsed.ok() ? CounterOf(name, *parsed) : nullptr).first;
    }
    counter = it->second;
  }
  if (counter != nullptr) counter->Increment(static_cast<double>(delta));
}

void Metrics::Add(absl::string_view name, const Labels& labels, int64_t delta) {
  prometheus::Counter* counter;
  {
    absl::MutexLock lock(&mu_);
    const std::string key = SeriesKey(name, labels);
    auto it = counters_.find(key);
    if (it == counters_.end()) it = counters_.emplace(key, CounterOf(name, labels)).first;
    counter = it->second;
  }
  if (counter != nullptr) counter->Increment(static_cast<double>(delta));
}

void Metrics::Observe(absl::string_view name, absl::string_view labels, double seconds) {
  prometheus::Histogram* histogram;
  {
    absl::MutexLock lock(&mu_);
    const std::string key = SeriesKey(name, labels);
    auto it = histograms_.find(key);
    if (it == histograms_.end()) {
      absl::StatusOr<Labels> parsed = ParseMetricLabels(labels);
      if (!parsed.ok()) Complain(key, parsed.status().message());
      it = histograms_.emplace(key, parsed.ok() ? HistogramOf(name, *parsed) : nullptr).first;
    }
    histogram = it->second;
  }
  if (histogram != nullptr) histogram->Observe(seconds);
}

void Metrics::Observe(absl::string_view name, const Labels& labels, double seconds) {
  prometheus::Histogram* histogram;
  {
    absl::MutexLock lock(&mu_);
    const std::string key = SeriesKey(name, labels);
    auto it = histograms_.find(key);
    if (it == histograms_.end()) it = histograms_.emplace(key, HistogramOf(name, labels)).first;
    histogram = it->second;
  }
  if (histogram != nullptr) histogram->Observe(seconds);
}

void Metrics::Set(absl::string_view name, double value) {
  prometheus::Gauge* gauge;
  {
    absl::MutexLock lock(&mu_);
    auto it = gauges_.find(name);
    if (it == gauges_.end()) {
      prometheus::Gauge* made = nullptr;
      if (const FamilyRef* family = FamilyOf(name, Type::kGauge); family != nullptr) {
        made = &family->gauges->Add({});  // no labels: cannot throw
      }
      it = gauges_.emplace(std::string(name), made).first;
    }
    gauge = it->second;
  }
  if (gauge != nullptr) gauge->Set(value);
}

void Metrics::Describe(absl::string_view name, absl::string_view type, absl::string_view help) {
  absl::MutexLock lock(&mu_);
  if (families_.contains(name)) return;
  if (type == "counter") {
    FamilyOf(name, Type::kCounter, help);
  } else if (type == "gauge") {
    FamilyOf(name, Type::kGauge, help);
  } else if (type == "histogram") {
    FamilyOf(name, Type::kHistogram, help);
  } else {
    Complain(std::string(name), absl::StrCat("unknown metric type \"", type, "\""));
  }
}

std::string Metrics::Render() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(absl::string_view address) {
  absl::StatusOr<std::pair<std::string, int>> host_port =
      address.size() > 2 && address.substr(address.size() - 2) == ":0"
          ? std::make_pair(std::string(address.substr(0, address.size() - 2)), 0)
          : ParseHostPort(address);
  if (!host_port.ok()) return host_port.status();
  in_addr ipv4{};
  if (inet_pton(AF_INET, host_port->first.c_str(), &ipv4) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("SAMPLAN_METRICS_ADDRESS: \"", address, "\" is not an IPv4 host:port"));
  }
  std::unique_ptr<prometheus::Exposer> exposer;
  std::vector<int> ports;
  try {
    // Prometheus scrapes one at a time, kubectl now and then; a client that
    // sends no request within 5 s gives its thread back.
    exposer = std::make_unique<prometheus::Exposer>(std::vector<std::string>{
        "listening_ports", absl::StrCat(host_port->first, ":", host_port->second),
        "num_threads", "4", "request_timeout_ms", "5000"});
    exposer->RegisterCollectable(Metrics::Global().registry());
    ports = exposer->GetListeningPorts();
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address,
                                               " (SAMPLAN_METRICS_ADDRESS): ", e.what()));
  }
  if (ports.empty()) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address, " (SAMPLAN_METRICS_ADDRESS)"));
  }
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(exposer), ports.front()));
}

MetricsServer::MetricsServer(std::unique_ptr<prometheus::Exposer> exposer, int port)
    : exposer_(std::move(exposer)), port_(port) {}

MetricsServer::~MetricsServer() = default;

}  // namespace samplan
