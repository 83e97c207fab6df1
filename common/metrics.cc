#include "common/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/config.h"

namespace samplan {
namespace {

// Upper bounds of the latency histogram, in seconds: 1 ms to 10 s.
constexpr double kBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                               0.1,   0.25,   0.5,   1.0,  2.5,   10.0};

std::string Labeled(absl::string_view name, absl::string_view labels,
                    absl::string_view extra = "") {
  std::string joined(labels);
  if (!extra.empty()) joined = joined.empty() ? std::string(extra) : absl::StrCat(joined, ",", extra);
  return joined.empty() ? std::string(name) : absl::StrCat(name, "{", joined, "}");
}

}  // namespace

Metrics& Metrics::Global() {
  static Metrics* metrics = new Metrics();
  return *metrics;
}

void Metrics::Add(absl::string_view name, absl::string_view labels, int64_t delta) {
  absl::MutexLock lock(&mu_);
  counters_[std::string(name)][std::string(labels)] += delta;
}

void Metrics::Observe(absl::string_view name, absl::string_view labels, double seconds) {
  absl::MutexLock lock(&mu_);
  Histogram& histogram = histograms_[std::string(name)][std::string(labels)];
  if (histogram.buckets.empty()) histogram.buckets.resize(std::size(kBuckets));
  for (size_t i = 0; i < std::size(kBuckets); ++i) {
    if (seconds <= kBuckets[i]) ++histogram.buckets[i];
  }
  ++histogram.count;
  histogram.sum += seconds;
}

void Metrics::Set(absl::string_view name, double value) {
  absl::MutexLock lock(&mu_);
  gauges_[std::string(name)] = value;
}

void Metrics::Describe(absl::string_view name, absl::string_view type, absl::string_view help) {
  absl::MutexLock lock(&mu_);
  help_[std::string(name)] = {std::string(type), std::string(help)};
}

std::string Metrics::Render() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  auto header = [&](const std::string& name) {
    auto it = help_.find(name);
    if (it == help_.end()) return;
    absl::StrAppend(&out, "# HELP ", name, " ", it->second.second, "\n# TYPE ", name, " ",
                    it->second.first, "\n");
  };
  for (const auto& [name, series] : counters_) {
    header(name);
    for (const auto& [labels, value] : series) {
      absl::StrAppend(&out, Labeled(name, labels), " ", value, "\n");
    }
  }
  for (const auto& [name, series] : histograms_) {
    header(name);
    for (const auto& [labels, histogram] : series) {
      for (size_t i = 0; i < std::size(kBuckets); ++i) {
        absl::StrAppend(&out,
                        Labeled(absl::StrCat(name, "_bucket"), labels,
                                absl::StrFormat("le=\"%g\"", kBuckets[i])),
                        " ", histogram.buckets[i], "\n");
      }
      absl::StrAppend(&out, Labeled(absl::StrCat(name, "_bucket"), labels, "le=\"+Inf\""), " ",
                      histogram.count, "\n");
      absl::StrAppend(&out, Labeled(absl::StrCat(name, "_sum"), labels), " ",
                      absl::StrFormat("%.6f", histogram.sum), "\n");
      absl::StrAppend(&out, Labeled(absl::StrCat(name, "_count"), labels), " ", histogram.count,
                      "\n");
    }
  }
  for (const auto& [name, value] : gauges_) {
    header(name);
    absl::StrAppend(&out, name, " ", absl::StrFormat("%.3f", value), "\n");
  }
  return out;
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(absl::string_view address) {
  absl::StatusOr<std::pair<std::string, int>> host_port =
      address.size() > 2 && address.substr(address.size() - 2) == ":0"
          ? std::make_pair(std::string(address.substr(0, address.size() - 2)), 0)
          : ParseHostPort(address);
  if (!host_port.ok()) return host_port.status();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(host_port->second));
  if (inet_pton(AF_INET, host_port->first.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("SAMPLAN_METRICS_ADDRESS: \"", address, "\" is not an IPv4 host:port"));
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  socklen_t length = sizeof addr;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(fd, 16) != 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    if (fd >= 0) close(fd);
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address, " (SAMPLAN_METRICS_ADDRESS)"));
  }
  return std::unique_ptr<MetricsServer>(new MetricsServer(fd, ntohs(addr.sin_port)));
}

MetricsServer::MetricsServer(int fd, int port) : fd_(fd), port_(port) {
  thread_ = std::thread([this] { Serve(); });
}

MetricsServer::~MetricsServer() {
  stop_.store(true);
  thread_.join();
  close(fd_);
}

void MetricsServer::Serve() {
  while (!stop_.load()) {
    pollfd waiting{fd_, POLLIN, 0};
    if (poll(&waiting, 1, 200) <= 0) continue;
    int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    // One short request per connection, as Prometheus and kubectl make them; a
    // client that sends nothing for a second is dropped.
    timeval timeout{1, 0};
    setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    char request[1024];
    ssize_t got = recv(client, request, sizeof request - 1, 0);
    std::string response;
    if (got > 0 && absl::string_view(request, got).substr(0, 13) == "GET /metrics ") {
      const std::string body = Metrics::Global().Render();
      response = absl::StrCat(
          "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: ",
          body.size(), "\r\n\r\n", body);
    } else {
      response = "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    }
    for (size_t sent = 0; sent < response.size();) {
      ssize_t n = send(client, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    close(client);
  }
}

}  // namespace samplan
