#ifndef SAMPLAN_BENCH_LOAD_H_
#define SAMPLAN_BENCH_LOAD_H_

// What the closed-loop benchmarks share: a measured window after a warm-up, the
// latencies of its operations, and the CPU each process spent in it (read from
// /proc, so the figures include what the kernel did for it).

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace samplan::bench {

// Returns the user + system CPU time of process `pid` in microseconds (0 when it
// is gone).
int64_t ProcessCpuMicros(pid_t pid);

// CPU time in microseconds at one moment: the whole machine (busy, from
// /proc/stat), this process, and each watched group of processes.
struct CpuSample {
  int64_t context_switches = 0;
  int64_t machine_busy_us = 0;
  int64_t self_us = 0;
  std::vector<int64_t> group_us;
};

// Named groups of processes whose CPU a benchmark reports ("service", "postgres").
struct ProcessGroup {
  std::string name;
  std::vector<pid_t> pids;
  // When set, asked for the pids at the start of each measured window (a pool
  // opens its connections, so its database backends, as the load needs them).
  std::function<std::vector<pid_t>()> refresh = nullptr;
};

CpuSample SampleCpu(const std::vector<ProcessGroup>& groups);

struct Result {
  int64_t operations = 0;
  int64_t errors = 0;
  double seconds = 0;
  CpuSample cpu_before, cpu_after;
  std::vector<double> latencies_ms;

  double Throughput() const { return operations / seconds; }
  // The `p` quantile (0..1) of the latencies, after Finish.
  double Percentile(double p) const;
  // CPU per operation, in microseconds: of the whole machine, of this process,
  // and of group `i`.
  double MachinePerOp() const;
  double SelfPerOp() const;
  double GroupPerOp(size_t i) const;
  double MachineBusyFraction() const;
};

// Lets the load run unmeasured for `warmup`, then measures `seconds` of it:
// `phase` goes 0 (warm-up) → 1 (measured) → 2 (stop). Returns the result with
// its window and CPU samples; the caller adds the latencies.
Result MeasureWindow(const std::vector<ProcessGroup>& groups, absl::Duration warmup,
                     absl::Duration seconds, std::atomic<int>& phase);

// Adds one load source's latencies and errors to `result`; call Finish after all.
void Add(Result& result, const std::vector<double>& latencies, int64_t errors);
void Finish(Result& result);

// Runs `operation(thread, iteration)` on `threads` threads, each in a closed loop:
// first for `warmup` unmeasured, then for `seconds` measured.
Result RunThreads(const std::vector<ProcessGroup>& groups, int threads, absl::Duration warmup,
                  absl::Duration seconds, const std::function<bool(int, int64_t)>& operation);

// Keeps `in_flight` asynchronous operations going: `start(slot, done)` begins one
// and calls `done(ok)` when it completes (on any thread), which starts the next on
// that slot. Costs the load generator far less CPU than a thread per call.
using AsyncOperation = std::function<void(int slot, std::function<void(bool ok)> done)>;
Result RunAsync(const std::vector<ProcessGroup>& groups, int in_flight, absl::Duration warmup,
                absl::Duration seconds, const AsyncOperation& start);

}  // namespace samplan::bench

#endif  // SAMPLAN_BENCH_LOAD_H_
