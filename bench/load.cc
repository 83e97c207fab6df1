#include "bench/load.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace samplan::bench {
namespace {

int64_t TicksToMicros(int64_t ticks) { return ticks * 1000000 / sysconf(_SC_CLK_TCK); }

int64_t StatFileMicros(const std::string& path) {
  std::ifstream file(path);
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const size_t paren = text.rfind(')');
  if (paren == std::string::npos || paren + 2 > text.size()) return 0;
  // Fields after the command name (which may hold spaces) start after ')'.
  std::istringstream rest(text.substr(paren + 2));
  std::string field;
  int64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  return TicksToMicros(utime + stime);
}

}  // namespace

int64_t ProcessCpuMicros(pid_t pid) { return StatFileMicros(absl::StrCat("/proc/", pid, "/stat")); }

CpuSample SampleCpu(const std::vector<ProcessGroup>& groups) {
  CpuSample sample;
  std::ifstream stat("/proc/stat");
  std::string cpu;
  int64_t user, nice, system, idle, iowait, irq, softirq, steal;
  stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  sample.machine_busy_us = TicksToMicros(user + nice + system + irq + softirq + steal);
  for (std::string line; std::getline(stat, line);) {
    if (line.rfind("ctxt ", 0) == 0) sample.context_switches = std::stoll(line.substr(5));
  }
  sample.self_us = StatFileMicros("/proc/self/stat");
  for (const ProcessGroup& group : groups) {
    int64_t total = 0;
    for (pid_t pid : group.pids) total += ProcessCpuMicros(pid);
    sample.group_us.push_back(total);
  }
  return sample;
}

double Result::Percentile(double p) const {
  if (latencies_ms.empty()) return 0;
  const size_t index = std::min(latencies_ms.size() - 1,
                                static_cast<size_t>(p * (latencies_ms.size() - 1) + 0.5));
  return latencies_ms[index];
}

double Result::MachinePerOp() const {
  return double(cpu_after.machine_busy_us - cpu_before.machine_busy_us) /
         std::max<int64_t>(1, operations);
}

double Result::SelfPerOp() const {
  return double(cpu_after.self_us - cpu_before.self_us) / std::max<int64_t>(1, operations);
}

double Result::GroupPerOp(size_t i) const {
  if (i >= cpu_after.group_us.size() || i >= cpu_before.group_us.size()) return 0;
  return double(cpu_after.group_us[i] - cpu_before.group_us[i]) /
         std::max<int64_t>(1, operations);
}

double Result::MachineBusyFraction() const {
  return (cpu_after.machine_busy_us - cpu_before.machine_busy_us) /
         (seconds * 1e6 * std::max(1u, std::thread::hardware_concurrency()));
}

Result MeasureWindow(const std::vector<ProcessGroup>& groups, absl::Duration warmup,
                     absl::Duration seconds, std::atomic<int>& phase) {
  absl::SleepFor(warmup);
  std::vector<ProcessGroup> current = groups;
  for (ProcessGroup& group : current) {
    if (group.refresh) group.pids = group.refresh();
  }
  phase.store(1);
  Result result;
  result.cpu_before = SampleCpu(current);
  const absl::Time start = absl::Now();
  absl::SleepFor(seconds);
  result.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  result.cpu_after = SampleCpu(current);
  phase.store(2);
  return result;
}

void Add(Result& result, const std::vector<double>& latencies, int64_t errors) {
  result.latencies_ms.insert(result.latencies_ms.end(), latencies.begin(), latencies.end());
  result.errors += errors;
}

void Finish(Result& result) {
  std::sort(result.latencies_ms.begin(), result.latencies_ms.end());
  result.operations = static_cast<int64_t>(result.latencies_ms.size());
}

Result RunThreads(const std::vector<ProcessGroup>& groups, int threads, absl::Duration warmup,
                  absl::Duration seconds, const std::function<bool(int, int64_t)>& operation) {
  std::atomic<int> phase{0};
  std::vector<std::vector<double>> latencies(threads);
  std::vector<int64_t> errors(threads, 0);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int64_t i = 0; phase.load() < 2; ++i) {
        const absl::Time start = absl::Now();
        const bool ok = operation(t, i);
        if (phase.load() != 1) continue;
        if (ok) {
          latencies[t].push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
        } else {
          ++errors[t];
        }
      }
    });
  }
  Result result = MeasureWindow(groups, warmup, seconds, phase);
  for (auto& worker : workers) worker.join();
  for (int t = 0; t < threads; ++t) Add(result, latencies[t], errors[t]);
  Finish(result);
  return result;
}

Result RunAsync(const std::vector<ProcessGroup>& groups, int in_flight, absl::Duration warmup,
                absl::Duration seconds, const AsyncOperation& start) {
  struct Slot {
    absl::Time start;
    std::vector<double> latencies;
    int64_t errors = 0;
  };
  std::atomic<int> phase{0};
  std::atomic<int> running{in_flight};
  std::vector<Slot> slots(in_flight);
  auto begin = std::make_shared<std::function<void(int)>>();
  *begin = [&, begin_ref = std::weak_ptr<std::function<void(int)>>(begin)](int s) {
    slots[s].start = absl::Now();
    start(s, [&, s, begin_ref](bool ok) {
      Slot& slot = slots[s];
      const int current = phase.load();
      if (current == 1) {
        if (ok) {
          slot.latencies.push_back(absl::ToDoubleMilliseconds(absl::Now() - slot.start));
        } else {
          ++slot.errors;
        }
      }
      if (current == 2) {
        --running;
      } else if (auto next = begin_ref.lock()) {
        (*next)(s);
      }
    });
  };
  for (int s = 0; s < in_flight; ++s) (*begin)(s);
  Result result = MeasureWindow(groups, warmup, seconds, phase);
  while (running.load() > 0) absl::SleepFor(absl::Milliseconds(5));
  for (const Slot& slot : slots) Add(result, slot.latencies, slot.errors);
  Finish(result);
  return result;
}

}  // namespace samplan::bench
