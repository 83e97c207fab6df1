#ifndef SAMPLAN_TESTS_SUPPORT_FAULT_PROXY_H_
#define SAMPLAN_TESTS_SUPPORT_FAULT_PROXY_H_

// A TCP proxy on loopback, put between the services and PostgreSQL or Redis, that
// injects the network's faults on command, as Toxiproxy does: added delay each
// way, connections closed or reset, and a blackhole that accepts and never
// answers. One thread accepts; each connection is pumped by a thread of its own
// with poll(), so a stalled direction never holds up another connection.

#include <atomic>
#include <memory>
#include <set>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace samplan::testing {

class FaultProxy {
 public:
  // What the proxy does to open connections and to new ones.
  enum class Fault {
    // Forwards every byte (after the delay, if one is set).
    kNone,
    // Forwards nothing and closes nothing: bytes wait in the kernel's buffers,
    // as on a path that stalls without closing. New connections are accepted and
    // never answered. Back to kNone, forwarding resumes where it stopped.
    kBlackhole,
    // Closes every open connection (FIN both ways) and each new one at once.
    kClose,
    // Resets every open connection (RST, SO_LINGER 0) and each new one at once.
    kReset,
  };

  // Listens on 127.0.0.1:<free port> and forwards to 127.0.0.1:`upstream_port`.
  static absl::StatusOr<std::unique_ptr<FaultProxy>> Start(int upstream_port);
  // Closes every connection and stops the threads.
  ~FaultProxy();

  int port() const { return port_; }
  // Applies `fault` from now on, to open connections and new ones.
  void Inject(Fault fault);
  // Holds every byte `each_way` before passing it on, in both directions (zero:
  // none). Applies to bytes read from now on.
  void SetDelay(absl::Duration each_way);
  // The connections open right now, and all ever accepted.
  int open_connections();
  int accepted() const { return accepted_.load(); }

 private:
  struct Connection;
  FaultProxy(int listen_fd, int port, int upstream_port);
  void AcceptLoop();
  void Pump(Connection& connection);
  // Wakes every pump to look at the fault again.
  void WakeAll() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int listen_fd_;
  const int port_;
  const int upstream_port_;
  int stop_fd_;  // eventfd: readable once the proxy stops
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  absl::Mutex mu_;
  Fault fault_ ABSL_GUARDED_BY(mu_) = Fault::kNone;
  absl::Duration delay_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  std::set<Connection*> connections_ ABSL_GUARDED_BY(mu_);
  int pumps_running_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace samplan::testing

#endif  // SAMPLAN_TESTS_SUPPORT_FAULT_PROXY_H_
