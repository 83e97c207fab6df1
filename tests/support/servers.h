#ifndef SAMPLAN_TESTS_SUPPORT_SERVERS_H_
#define SAMPLAN_TESTS_SUPPORT_SERVERS_H_

// Real PostgreSQL and Redis processes for tests, started on loopback on free ports
// with their data in a throwaway folder, and child processes a test can kill -9.

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace samplan::testing {

// Returns a TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

// Returns whether something accepts TCP connections on 127.0.0.1:`port`.
bool PortAcceptsConnections(int port);

// Returns whether process `pid` is gone or a zombie (dead, not yet reaped).
bool ProcessGone(pid_t pid);

// A PostgreSQL 15 cluster of its own (initdb in a temporary folder, `postgres` on
// 127.0.0.1:<free port>, trust authentication, superuser "postgres"). When the
// process runs as root, initdb and postgres run as the `postgres` OS user. The
// cluster is stopped and its folder removed on destruction.
class PostgresServer {
 public:
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start();
  // Starts a hot standby of `primary` that streams its WAL, copied with
  // pg_basebackup; it connects as application_name kStandbyName, so that the
  // primary can make it synchronous (synchronous_standby_names).
  static absl::StatusOr<std::unique_ptr<PostgresServer>> StartStandbyOf(
      const PostgresServer& primary);
  static constexpr char kStandbyName[] = "samplan_standby";
  ~PostgresServer();

  int port() const;
  // Returns a libpq connection string for `database` on this server.
  std::string Dsn(const std::string& database = "postgres") const;
  // Creates a new empty database with a unique name and returns its DSN.
  absl::StatusOr<std::string> CreateDatabase();
  // Sends SIGKILL to the postmaster and waits until it is gone (a crash).
  absl::Status Kill();
  // Starts the server again on the same folder and port; waits until it accepts
  // connections (crash recovery included).
  absl::Status Restart();
  // Stops it with a fast shutdown (SIGINT) and waits until it is gone.
  absl::Status Stop();
  // Makes a standby the primary (pg_ctl promote) and waits until it takes writes.
  absl::Status Promote();

 private:
  PostgresServer() = default;
  static absl::StatusOr<std::unique_ptr<PostgresServer>> StartWith(
      const PostgresServer* primary);
  struct State;
  std::unique_ptr<State> state_;
};

// A Redis 7 server of its own on 127.0.0.1:<free port>, with append-only
// persistence (appendfsync always) in a temporary folder, so a restart keeps the
// streams. Stopped and removed on destruction.
class RedisServer {
 public:
  // `extra_args` are added to redis-server's command line, e.g. {"--replicaof",
  // "127.0.0.1", "<port>"} for a replica or {"--aclfile", path} for ACL users.
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start(
      std::vector<std::string> extra_args = {});
  // Starts a Sentinel (redis-server --sentinel) that watches the primary at
  // 127.0.0.1:`primary_port` under `master_name`, declaring it down after
  // `down_after` and agreeing a failover with `quorum` Sentinels.
  static absl::StatusOr<std::unique_ptr<RedisServer>> StartSentinel(
      const std::string& master_name, int primary_port, int quorum,
      absl::Duration down_after);
  ~RedisServer();

  int port() const;
  std::string host() const { return "127.0.0.1"; }
  // "127.0.0.1:<port>".
  std::string Address() const;
  // Sends SIGKILL and waits until it is gone.
  absl::Status Kill();
  // Stops it gracefully (SIGTERM) and waits until it is gone.
  absl::Status Stop();
  // Starts it again on the same port and folder; waits until it answers PING.
  absl::Status Restart();

 private:
  RedisServer() = default;
  static absl::StatusOr<std::unique_ptr<RedisServer>> StartWith(
      std::vector<std::string> extra_args, std::string sentinel_config);
  struct State;
  std::unique_ptr<State> state_;
};

// A child process started with fork/exec, its stdout and stderr appended to a log
// file. Killed with SIGKILL on destruction if still running.
class ChildProcess {
 public:
  // Starts `path` with `args` (not including argv[0]) and the current environment
  // plus `env` (which overrides). `log_path` receives stdout and stderr; empty
  // means inherit.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(
      const std::string& path, const std::vector<std::string>& args,
      const std::map<std::string, std::string>& env,
      const std::string& log_path = "");
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  bool Running();
  // Sends `signal` (SIGKILL by default).
  void Signal(int signal);
  // Waits up to `timeout` for the process to exit; returns its exit status as from
  // waitpid, or DEADLINE_EXCEEDED.
  absl::StatusOr<int> Wait(absl::Duration timeout);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  bool reaped_ = false;
};

}  // namespace samplan::testing

#endif  // SAMPLAN_TESTS_SUPPORT_SERVERS_H_
