#include "tests/support/servers.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <locale.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <pqxx/pqxx>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

extern char** environ;

namespace samplan::testing {
namespace {

constexpr char kPostgresBinDir[] = "/usr/lib/postgresql/15/bin";
// How long a server may take to accept connections (crash recovery included).
constexpr absl::Duration kReadyTimeout = absl::Seconds(60);
// How long a graceful shutdown may take before we fall back to SIGKILL.
constexpr absl::Duration kStopTimeout = absl::Seconds(30);
// How many free ports Start tries when another process takes the port first.
constexpr int kPortAttempts = 3;

std::string ErrnoText(int err) { return std::strerror(err); }

// The last `max_bytes` of a log file, for error messages.
std::string LogTail(const std::string& path, size_t max_bytes = 4000) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::StrCat("(no log at ", path, ")");
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  if (text.size() > max_bytes) {
    text = "..." + text.substr(text.size() - max_bytes);
  }
  if (text.empty()) return absl::StrCat("(", path, " is empty)");
  return absl::StrCat("last lines of ", path, ":\n", text);
}

absl::StatusOr<std::string> MakeTempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = absl::StrCat(base != nullptr && *base != '\0' ? base : "/tmp",
                                     "/samplan-test-XXXXXX");
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("mkdtemp(", pattern, "): ", ErrnoText(errno)));
  }
  return std::string(buffer.data());
}

void RemoveTree(const std::string& path) {
  if (path.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
}

// The OS user a child runs as; nullopt means the current user.
struct RunAs {
  uid_t uid;
  gid_t gid;
  std::vector<gid_t> groups;
  std::string home;
  std::string name;
};

absl::StatusOr<RunAs> LookUpUser(const std::string& name) {
  struct passwd pwd;
  struct passwd* result = nullptr;
  std::vector<char> buffer(16384);
  int rc = getpwnam_r(name.c_str(), &pwd, buffer.data(), buffer.size(), &result);
  if (rc != 0 || result == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "running as root, but there is no `", name,
        "` OS user to run PostgreSQL as (install the postgresql package)",
        rc != 0 ? absl::StrCat(": ", ErrnoText(rc)) : ""));
  }
  RunAs user{pwd.pw_uid, pwd.pw_gid, {}, pwd.pw_dir, pwd.pw_name};
  int count = 64;
  user.groups.resize(count);
  if (getgrouplist(pwd.pw_name, pwd.pw_gid, user.groups.data(), &count) < 0) {
    user.groups.resize(count);
    getgrouplist(pwd.pw_name, pwd.pw_gid, user.groups.data(), &count);
  }
  user.groups.resize(count);
  return user;
}

// Looks `name` up in PATH (as in `env`) unless it contains a slash.
std::string ResolveExecutable(const std::string& name,
                              const std::map<std::string, std::string>& env) {
  if (name.find('/') != std::string::npos) return name;
  auto it = env.find("PATH");
  std::string path = it != env.end() ? it->second : "/usr/local/bin:/usr/bin:/bin";
  path += ":/usr/local/sbin:/usr/sbin:/sbin";
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    if (dir.empty()) continue;
    std::string candidate = absl::StrCat(dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return name;  // execve will report ENOENT.
}

std::map<std::string, std::string> CurrentEnvironment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    absl::string_view text(*entry);
    size_t eq = text.find('=');
    if (eq == absl::string_view::npos) continue;
    env.emplace(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
  }
  return env;
}

struct SpawnOptions {
  std::string path;
  std::vector<std::string> args;  // Without argv[0].
  std::map<std::string, std::string> env;  // Complete environment.
  std::string log_path;  // Empty: inherit stdout and stderr.
  std::string cwd;       // Empty: inherit.
  std::optional<RunAs> run_as;
};

void CloseFdsFrom(int first, int keep) {
  // close_range is Linux 5.9+; fall back to a loop on older kernels.
  if (keep >= first) {
    if (keep > first && syscall(SYS_close_range, first, keep - 1, 0) != 0) {
      for (int fd = first; fd < keep; ++fd) close(fd);
    }
    first = keep + 1;
  }
  if (syscall(SYS_close_range, first, ~0U, 0) != 0) {
    for (int fd = first; fd < 65536; ++fd) close(fd);
  }
}

// fork + execve. Everything the child needs is prepared before fork, so the child
// only makes async-signal-safe calls (the test process may have threads). The
// child gets SIGKILL when the thread that spawned it dies, so a crashed test binary
// leaves no servers behind. An exec failure is reported through a CLOEXEC pipe.
absl::StatusOr<pid_t> SpawnProcess(const SpawnOptions& options) {
  std::string path = ResolveExecutable(options.path, options.env);
  std::vector<std::string> argv_storage;
  argv_storage.push_back(path);
  argv_storage.insert(argv_storage.end(), options.args.begin(), options.args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (const auto& [key, value] : options.env) {
    env_storage.push_back(absl::StrCat(key, "=", value));
  }
  std::vector<char*> envp;
  for (std::string& entry : env_storage) envp.push_back(entry.data());
  envp.push_back(nullptr);

  int error_pipe[2];
  if (pipe2(error_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", ErrnoText(errno)));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(error_pipe[0]);
    close(error_pipe[1]);
    return absl::InternalError(absl::StrCat("fork: ", ErrnoText(err)));
  }
  if (pid == 0) {
    // Child. Report (step, errno) and exit on failure.
    auto fail = [&](int step) {
      int report[2] = {step, errno};
      ssize_t ignored = write(error_pipe[1], report, sizeof(report));
      (void)ignored;
      _exit(127);
    };
    close(error_pipe[0]);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    struct sigaction dfl;
    std::memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
    }
    if (!options.log_path.empty()) {
      int fd = open(options.log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
      if (fd < 0) fail(1);
      if (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0) fail(2);
      if (fd > STDERR_FILENO) close(fd);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
      dup2(devnull, STDIN_FILENO);
      if (devnull > STDERR_FILENO) close(devnull);
    }
    CloseFdsFrom(STDERR_FILENO + 1, error_pipe[1]);
    if (!options.cwd.empty() && chdir(options.cwd.c_str()) != 0) fail(3);
    if (options.run_as.has_value()) {
      const RunAs& user = *options.run_as;
      if (setgroups(user.groups.size(), user.groups.data()) != 0) fail(4);
      if (setgid(user.gid) != 0) fail(5);
      if (setuid(user.uid) != 0) fail(6);
    }
    // After setuid, which clears it.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(7);
    if (getppid() != parent) _exit(127);  // The parent died before prctl.
    execve(argv[0], argv.data(), envp.data());
    fail(8);
  }
  close(error_pipe[1]);
  int report[2] = {0, 0};
  ssize_t n;
  do {
    n = read(error_pipe[0], report, sizeof(report));
  } while (n < 0 && errno == EINTR);
  close(error_pipe[0]);
  if (n > 0) {
    int status;
    waitpid(pid, &status, 0);
    static constexpr const char* kSteps[] = {
        "",       "open log file", "redirect output", "chdir",  "setgroups",
        "setgid", "setuid",        "prctl",           "execve"};
    const char* step = report[0] >= 1 && report[0] <= 8 ? kSteps[report[0]] : "?";
    return absl::InternalError(absl::StrCat(
        "starting ", path, ": ", step, " failed: ", ErrnoText(report[1]),
        report[0] == 1 ? absl::StrCat(" (", options.log_path, ")") : "",
        report[0] == 3 ? absl::StrCat(" (", options.cwd, ")") : ""));
  }
  return pid;
}

// Polls waitpid(WNOHANG) until `pid` exits or `timeout` passes; nullopt on timeout.
std::optional<int> WaitForExit(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return -1;  // Not our child (already reaped).
    if (absl::Now() >= deadline) return std::nullopt;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exited with status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("was killed by signal ", WTERMSIG(status));
  return absl::StrCat("ended with wait status ", status);
}


// The pids whose parent is `parent`, from /proc.
std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> children;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return children;
  while (struct dirent* entry = readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') continue;
    std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
    std::string text;
    if (!std::getline(stat, text)) continue;
    size_t paren = text.rfind(')');
    if (paren == std::string::npos) continue;
    // After ") " come the state and the parent pid.
    std::istringstream fields(text.substr(paren + 1));
    std::string state;
    long ppid = 0;
    if (fields >> state >> ppid && ppid == parent) children.push_back(pid);
  }
  closedir(proc);
  return children;
}


// The SysV shared memory segment a postmaster uses as an interlock against a
// second postmaster on the same data folder: line 7 of postmaster.pid holds its
// key and id. A crashed postmaster leaves both behind.
struct Segment {
  key_t key;
  int id;
};
std::optional<Segment> InterlockSegment(const std::string& data_dir) {
  std::ifstream pid_file(absl::StrCat(data_dir, "/postmaster.pid"));
  std::string line;
  for (int i = 0; i < 7; ++i) {
    if (!std::getline(pid_file, line)) return std::nullopt;
  }
  long key = 0;
  long shmid = -1;
  std::istringstream fields(line);
  if (!(fields >> key >> shmid) || shmid < 0) return std::nullopt;
  return Segment{static_cast<key_t>(key), static_cast<int>(shmid)};
}

bool LocaleAvailable(const char* name) {
  locale_t locale = newlocale(LC_ALL_MASK, name, static_cast<locale_t>(0));
  if (locale == static_cast<locale_t>(0)) return false;
  freelocale(locale);
  return true;
}

}  // namespace

bool ProcessGone(pid_t pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return true;
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string text;
  if (!std::getline(stat, text)) return true;
  size_t paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() &&
         (text[paren + 2] == 'Z' || text[paren + 2] == 'X');
}

bool PortAcceptsConnections(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    socklen_t len = sizeof(addr);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
  }
  close(fd);
  return port;
}

// ---------------------------------------------------------------------------
// PostgresServer

struct PostgresServer::State {
  std::string root;     // The temporary folder.
  std::string data_dir;  // root/data
  std::string socket_dir;  // root, or empty when the path is too long.
  std::string log_path;  // root/postgres.log
  int port = 0;
  pid_t postmaster = -1;  // Our child; exec'd directly, so the postmaster itself.
  std::optional<RunAs> run_as;
  std::map<std::string, std::string> env;
  int next_database = 0;

  // Starts the postmaster and waits until it accepts connections. Returns
  // UNAVAILABLE when it exits early (e.g. the port was taken).
  absl::Status Launch();
  // SIGKILLs the postmaster and its children; waits until they are all gone.
  absl::Status KillAll();
  // Fast shutdown; falls back to KillAll.
  void Shutdown();
};

absl::Status PostgresServer::State::Launch() {
  SpawnOptions options;
  options.path = absl::StrCat(kPostgresBinDir, "/postgres");
  options.args = {"-D", data_dir,
                  "-p", absl::StrCat(port),
                  "-c", "listen_addresses=127.0.0.1",
                  "-k", socket_dir,
                  "-c", "fsync=on",
                  "-c", "max_connections=200",
                  "-c", "shared_buffers=128MB",
                  "-c", "logging_collector=off",
                  "-c", "log_checkpoints=off",
                  "-c", "log_line_prefix=%m [%p] ",
                  "-c", "unix_socket_permissions=0777"};
  options.env = env;
  options.log_path = log_path;
  options.cwd = root;
  options.run_as = run_as;
  absl::StatusOr<pid_t> pid = SpawnProcess(options);
  if (!pid.ok()) return pid.status();
  postmaster = *pid;

  // connect_timeout: something else listening on the port must not hang us.
  const std::string dsn = absl::StrCat("host=127.0.0.1 port=", port,
                                       " user=postgres dbname=postgres connect_timeout=2");
  const absl::Time deadline = absl::Now() + kReadyTimeout;
  std::string last_error;
  while (true) {
    int status = 0;
    if (waitpid(postmaster, &status, WNOHANG) == postmaster) {
      postmaster = -1;
      return absl::UnavailableError(absl::StrCat(
          "postgres on port ", port, " ", DescribeWaitStatus(status),
          " before accepting connections; ", LogTail(log_path)));
    }
    try {
      pqxx::connection connection(dsn);
      pqxx::nontransaction work(connection);
      work.exec("SELECT 1");
      return absl::OkStatus();
    } catch (const std::exception& e) {
      last_error = e.what();
    }
    if (absl::Now() >= deadline) {
      absl::Status error = absl::DeadlineExceededError(absl::StrCat(
          "postgres on port ", port, " did not accept connections within ",
          absl::FormatDuration(kReadyTimeout), " (last error: ", last_error, "); ",
          LogTail(log_path)));
      KillAll().IgnoreError();
      return error;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

absl::Status PostgresServer::State::KillAll() {
  if (postmaster <= 0) return absl::OkStatus();
  // Freeze the postmaster so it forks nothing while we list its children, then
  // kill it and them at once, as a crash of the machine would.
  kill(postmaster, SIGSTOP);
  std::vector<pid_t> children = ChildrenOf(postmaster);
  kill(postmaster, SIGKILL);
  for (pid_t child : children) kill(child, SIGKILL);
  std::optional<int> status = WaitForExit(postmaster, kStopTimeout);
  const pid_t killed = postmaster;
  postmaster = -1;
  if (!status.has_value()) {
    return absl::InternalError(absl::StrCat("postmaster ", killed,
                                            " survived SIGKILL"));
  }
  // The killed children now belong to init; wait until they are gone, since the
  // next postmaster refuses to start while they hold the old shared memory.
  const absl::Time deadline = absl::Now() + kStopTimeout;
  for (pid_t child : children) {
    while (!ProcessGone(child)) {
      if (absl::Now() >= deadline) {
        return absl::InternalError(absl::StrCat(
            "postgres child ", child, " of killed postmaster ", killed,
            " is still running"));
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
  }
  // Belt and braces: wait until nothing is attached to the interlock segment.
  if (std::optional<Segment> segment = InterlockSegment(data_dir);
      segment.has_value()) {
    struct shmid_ds info;
    while (shmctl(segment->id, IPC_STAT, &info) == 0 &&
           info.shm_perm.__key == segment->key && info.shm_nattch > 0) {
      if (absl::Now() >= deadline) {
        return absl::InternalError(absl::StrCat(
            "shared memory of killed postmaster ", killed, " is still attached"));
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
  }
  while (PortAcceptsConnections(port)) {
    if (absl::Now() >= deadline) {
      return absl::InternalError(absl::StrCat(
          "port ", port, " still accepts connections after killing postgres"));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return absl::OkStatus();
}

void PostgresServer::State::Shutdown() {
  if (postmaster <= 0) return;
  kill(postmaster, SIGINT);  // Fast shutdown.
  if (WaitForExit(postmaster, kStopTimeout).has_value()) {
    postmaster = -1;
    return;
  }
  KillAll().IgnoreError();
}

// Runs initdb into `data_dir`. --no-sync: the tests crash processes, not the
// machine, so the page cache keeps what initdb wrote; this saves seconds.
absl::Status RunInitdb(const std::map<std::string, std::string>& env,
                       const std::optional<RunAs>& run_as, const char* locale,
                       const std::string& data_dir, const std::string& work_dir) {
  SpawnOptions initdb;
  initdb.path = absl::StrCat(kPostgresBinDir, "/initdb");
  initdb.args = {"-D", data_dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"};
  if (std::string(locale) == "C") {
    initdb.args.push_back("--no-locale");
  } else {
    initdb.args.push_back("--locale=C.UTF-8");
  }
  initdb.env = env;
  const std::string initdb_log = work_dir + "/initdb.log";
  initdb.log_path = initdb_log;
  initdb.cwd = work_dir;
  initdb.run_as = run_as;
  absl::StatusOr<pid_t> initdb_pid = SpawnProcess(initdb);
  if (!initdb_pid.ok()) return initdb_pid.status();
  std::optional<int> initdb_status = WaitForExit(*initdb_pid, absl::Seconds(120));
  if (!initdb_status.has_value()) {
    kill(*initdb_pid, SIGKILL);
    waitpid(*initdb_pid, nullptr, 0);
    return absl::DeadlineExceededError(
        absl::StrCat("initdb did not finish within 120s; ", LogTail(initdb_log)));
  }
  if (!WIFEXITED(*initdb_status) || WEXITSTATUS(*initdb_status) != 0) {
    return absl::InternalError(absl::StrCat(
        "initdb -D ", data_dir, " ", DescribeWaitStatus(*initdb_status),
        run_as.has_value()
            ? " (it runs as the postgres OS user, who must be able to reach the "
              "folder: point TMPDIR elsewhere if the folders above are private)"
            : "",
        "; ", LogTail(initdb_log)));
  }
  return absl::OkStatus();
}

// Makes the server's data folder as a copy of a cluster that initdb made once
// for this machine (per PostgreSQL version, locale and OS user): initdb is most
// of a server's start, and a suite starts many. The template is made in a
// folder of its own and renamed into place, so a test that starts at the same
// moment finds either no template or a whole one.
absl::Status MakeDataDir(const std::map<std::string, std::string>& env,
                         const std::optional<RunAs>& run_as, const char* locale,
                         const std::string& root, const std::string& data_dir) {
  const char* base = std::getenv("TMPDIR");
  const std::string template_dir = absl::StrCat(
      base != nullptr && *base != '\0' ? base : "/tmp", "/samplan-pg-template-v1-",
      std::filesystem::path(kPostgresBinDir).parent_path().filename().string(), "-", locale, "-",
      run_as.has_value() ? run_as->uid : geteuid());
  std::error_code ignored;
  if (!std::filesystem::exists(template_dir + "/global/pg_control", ignored)) {
    absl::StatusOr<std::string> work = MakeTempDir();
    if (!work.ok()) return work.status();
    if (run_as.has_value() && chown(work->c_str(), run_as->uid, run_as->gid) != 0) {
      RemoveTree(*work);
      return absl::InternalError(absl::StrCat("chown ", *work, ": ", ErrnoText(errno)));
    }
    absl::Status made = RunInitdb(env, run_as, locale, *work + "/data", *work);
    if (made.ok() && rename((*work + "/data").c_str(), template_dir.c_str()) != 0 &&
        errno != EEXIST && errno != ENOTEMPTY) {
      made = absl::InternalError(
          absl::StrCat("rename to ", template_dir, ": ", ErrnoText(errno)));
    }
    RemoveTree(*work);
    if (!made.ok()) return made;
  }
  SpawnOptions copy;
  copy.path = "/bin/cp";
  copy.args = {"-a", template_dir, data_dir};
  copy.env = env;
  copy.log_path = root + "/copy.log";
  copy.run_as = run_as;
  absl::StatusOr<pid_t> pid = SpawnProcess(copy);
  if (!pid.ok()) return pid.status();
  std::optional<int> status = WaitForExit(*pid, absl::Seconds(60));
  if (!status.has_value() || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    if (!status.has_value()) {
      kill(*pid, SIGKILL);
      waitpid(*pid, nullptr, 0);
    }
    return absl::InternalError(absl::StrCat("copying the cluster template ", template_dir,
                                            " failed; ", LogTail(copy.log_path)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start() {
  return StartWith(nullptr);
}

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::StartStandbyOf(
    const PostgresServer& primary) {
  return StartWith(&primary);
}

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::StartWith(
    const PostgresServer* primary) {
  auto state = std::make_unique<State>();
  if (geteuid() == 0) {
    absl::StatusOr<RunAs> user = LookUpUser("postgres");
    if (!user.ok()) return user.status();
    state->run_as = *std::move(user);
  }
  absl::StatusOr<std::string> root = MakeTempDir();
  if (!root.ok()) return root.status();
  state->root = *root;
  // From here on the server's destructor cleans up.
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  server->state_ = std::move(state);
  State& s = *server->state_;
  s.data_dir = s.root + "/data";
  s.log_path = s.root + "/postgres.log";
  // Unix socket paths are limited to 107 bytes; without one, TCP only.
  s.socket_dir = s.root.size() + sizeof("/.s.PGSQL.65535") <= 100 ? s.root : "";
  if (s.run_as.has_value()) {
    if (chown(s.root.c_str(), s.run_as->uid, s.run_as->gid) != 0) {
      return absl::InternalError(absl::StrCat("chown ", s.root, " to postgres: ",
                                              ErrnoText(errno)));
    }
  }

  const char* locale = LocaleAvailable("C.UTF-8") ? "C.UTF-8" : "C";
  s.env = CurrentEnvironment();
  for (auto it = s.env.begin(); it != s.env.end();) {
    bool drop = absl::StartsWith(it->first, "PG") || absl::StartsWith(it->first, "LC_") ||
                it->first == "LANG" || it->first == "LANGUAGE";
    it = drop ? s.env.erase(it) : std::next(it);
  }
  s.env["LC_ALL"] = locale;
  if (s.run_as.has_value()) {
    s.env["HOME"] = s.run_as->home;
    s.env["USER"] = s.run_as->name;
    s.env["LOGNAME"] = s.run_as->name;
  }

  if (primary == nullptr) {
    if (absl::Status made = MakeDataDir(s.env, s.run_as, locale, s.root, s.data_dir);
        !made.ok()) {
      return made;
    }
  } else {
    // A copy of the primary that follows it (-R: standby.signal and
    // primary_conninfo), named so that synchronous_standby_names can name it.
    SpawnOptions copy;
    copy.path = absl::StrCat(kPostgresBinDir, "/pg_basebackup");
    copy.args = {"-d", absl::StrCat(primary->Dsn(), " application_name=", kStandbyName),
                 "-D", s.data_dir, "-R", "-X", "stream", "--checkpoint=fast", "--no-sync"};
    copy.env = s.env;
    copy.log_path = s.root + "/basebackup.log";
    copy.cwd = s.root;
    copy.run_as = s.run_as;
    absl::StatusOr<pid_t> pid = SpawnProcess(copy);
    if (!pid.ok()) return pid.status();
    std::optional<int> status = WaitForExit(*pid, absl::Seconds(60));
    if (!status.has_value() || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
      if (!status.has_value()) {
        kill(*pid, SIGKILL);
        waitpid(*pid, nullptr, 0);
      }
      return absl::InternalError(
          absl::StrCat("pg_basebackup failed; ", LogTail(copy.log_path)));
    }
  }

  absl::Status launched;
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    s.port = FreePort();
    if (s.port <= 0) return absl::InternalError("no free port on 127.0.0.1");
    launched = s.Launch();
    if (!absl::IsUnavailable(launched)) break;  // Retry only early exits.
  }
  if (!launched.ok()) return launched;
  return server;
}

PostgresServer::~PostgresServer() {
  if (state_ == nullptr) return;
  state_->Shutdown();
  // After a Kill without Restart, the interlock segment would outlive the folder.
  if (std::optional<Segment> segment = InterlockSegment(state_->data_dir);
      segment.has_value()) {
    struct shmid_ds info;
    if (shmctl(segment->id, IPC_STAT, &info) == 0 &&
        info.shm_perm.__key == segment->key && info.shm_nattch == 0) {
      shmctl(segment->id, IPC_RMID, nullptr);
    }
  }
  RemoveTree(state_->root);
}

int PostgresServer::port() const { return state_->port; }

std::string PostgresServer::Dsn(const std::string& database) const {
  return absl::StrCat("host=127.0.0.1 port=", state_->port,
                      " user=postgres dbname=", database);
}

absl::StatusOr<std::string> PostgresServer::CreateDatabase() {
  const std::string name = absl::StrCat("samplan_test_", ++state_->next_database);
  try {
    pqxx::connection connection(Dsn());
    pqxx::nontransaction work(connection);
    work.exec(absl::StrCat("CREATE DATABASE ", name));
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("CREATE DATABASE ", name, " on port ", state_->port, ": ",
                     e.what()));
  }
  return Dsn(name);
}

absl::Status PostgresServer::Kill() {
  if (state_->postmaster <= 0) {
    return absl::FailedPreconditionError("postgres is not running");
  }
  return state_->KillAll();
}

absl::Status PostgresServer::Stop() {
  if (state_->postmaster <= 0) {
    return absl::FailedPreconditionError("postgres is not running");
  }
  state_->Shutdown();
  return absl::OkStatus();
}

absl::Status PostgresServer::Promote() {
  SpawnOptions promote;
  promote.path = absl::StrCat(kPostgresBinDir, "/pg_ctl");
  promote.args = {"promote", "-w", "-t", "30", "-D", state_->data_dir};
  promote.env = state_->env;
  promote.log_path = state_->root + "/promote.log";
  promote.cwd = state_->root;
  promote.run_as = state_->run_as;
  absl::StatusOr<pid_t> pid = SpawnProcess(promote);
  if (!pid.ok()) return pid.status();
  std::optional<int> status = WaitForExit(*pid, absl::Seconds(40));
  if (!status.has_value() || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    if (!status.has_value()) {
      kill(*pid, SIGKILL);
      waitpid(*pid, nullptr, 0);
    }
    return absl::InternalError(absl::StrCat("pg_ctl promote failed; ",
                                            LogTail(promote.log_path), LogTail(state_->log_path)));
  }
  return absl::OkStatus();
}

absl::Status PostgresServer::Restart() {
  if (state_->postmaster > 0 &&
      waitpid(state_->postmaster, nullptr, WNOHANG) == state_->postmaster) {
    state_->postmaster = -1;  // It died on its own.
  }
  if (state_->postmaster > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("postgres is still running on port ", state_->port));
  }
  absl::Status status = state_->Launch();
  if (absl::IsUnavailable(status)) {
    // Same port, so no retry; report it as the failure it is.
    return absl::InternalError(status.message());
  }
  return status;
}

// ---------------------------------------------------------------------------
// RedisServer

struct RedisServer::State {
  std::string root;
  std::string log_path;
  std::vector<std::string> extra_args;
  std::string sentinel_config;  // not empty: a Sentinel with this configuration
  int port = 0;
  pid_t pid = -1;

  absl::Status Launch();
  // Sends `signal` and waits up to `timeout`; SIGKILLs after that.
  absl::Status StopWith(int signal, absl::Duration timeout);
};

absl::Status RedisServer::State::Launch() {
  SpawnOptions options;
  options.path = "redis-server";
  if (!sentinel_config.empty()) {
    // A Sentinel rewrites its configuration file: it is written afresh only once.
    const std::string config_path = root + "/sentinel.conf";
    if (access(config_path.c_str(), F_OK) != 0) {
      std::ofstream(config_path) << sentinel_config;
    }
    options.args = {config_path, "--sentinel"};
  } else {
    options.args = {"--appendonly", "yes", "--appendfsync", "always", "--save", ""};
  }
  options.args.insert(options.args.end(),
                      {"--port", absl::StrCat(port),
                       "--bind", "127.0.0.1",
                       "--dir", root,
                       "--daemonize", "no",
                       "--protected-mode", "no",
                       "--logfile", log_path});
  options.args.insert(options.args.end(), extra_args.begin(), extra_args.end());
  options.env = CurrentEnvironment();
  options.cwd = root;
  // Redis writes to its log file; anything before that (bad arguments) goes here.
  options.log_path = log_path;
  absl::StatusOr<pid_t> spawned = SpawnProcess(options);
  if (!spawned.ok()) return spawned.status();
  pid = *spawned;

  const absl::Time deadline = absl::Now() + kReadyTimeout;
  std::string last_error;
  while (true) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      pid = -1;
      return absl::UnavailableError(absl::StrCat(
          "redis-server on port ", port, " ", DescribeWaitStatus(status),
          " before answering PING; ", LogTail(log_path)));
    }
    timeval timeout{1, 0};
    redisContext* context = redisConnectWithTimeout("127.0.0.1", port, timeout);
    if (context != nullptr && context->err == 0) {
      // Something else listening on the port must not hang us.
      redisSetTimeout(context, timeout);
      auto* reply = static_cast<redisReply*>(redisCommand(context, "PING"));
      if (reply != nullptr && reply->type == REDIS_REPLY_STATUS &&
          std::string(reply->str, reply->len) == "PONG") {
        freeReplyObject(reply);
        redisFree(context);
        return absl::OkStatus();
      }
      last_error = reply == nullptr        ? std::string(context->errstr)
                   : reply->str != nullptr ? std::string(reply->str, reply->len)
                                           : "unexpected reply";
      if (reply != nullptr) freeReplyObject(reply);
    } else {
      last_error = context != nullptr ? context->errstr : "out of memory";
    }
    if (context != nullptr) redisFree(context);
    if (absl::Now() >= deadline) {
      absl::Status error = absl::DeadlineExceededError(absl::StrCat(
          "redis-server on port ", port, " did not answer PING within ",
          absl::FormatDuration(kReadyTimeout), " (last error: ", last_error, "); ",
          LogTail(log_path)));
      StopWith(SIGKILL, kStopTimeout).IgnoreError();
      return error;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

absl::Status RedisServer::State::StopWith(int signal, absl::Duration timeout) {
  if (pid <= 0) return absl::FailedPreconditionError("redis-server is not running");
  kill(pid, signal);
  std::optional<int> status = WaitForExit(pid, timeout);
  absl::Status result = absl::OkStatus();
  if (!status.has_value()) {
    result = absl::DeadlineExceededError(absl::StrCat(
        "redis-server ", pid, " did not exit within ", absl::FormatDuration(timeout),
        " of signal ", signal, "; killed it; ", LogTail(log_path)));
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  pid = -1;
  return result;
}

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::StartSentinel(
    const std::string& master_name, int primary_port, int quorum, absl::Duration down_after) {
  return StartWith({}, absl::StrCat(
      "sentinel monitor ", master_name, " 127.0.0.1 ", primary_port, " ", quorum, "\n",
      "sentinel down-after-milliseconds ", master_name, " ",
      absl::ToInt64Milliseconds(down_after), "\n",
      "sentinel failover-timeout ", master_name, " 10000\n",
      "sentinel parallel-syncs ", master_name, " 1\n"));
}

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::Start(
    std::vector<std::string> extra_args) {
  return StartWith(std::move(extra_args), "");
}

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::StartWith(
    std::vector<std::string> extra_args, std::string sentinel_config) {
  absl::StatusOr<std::string> root = MakeTempDir();
  if (!root.ok()) return root.status();
  std::unique_ptr<RedisServer> server(new RedisServer());
  server->state_ = std::make_unique<State>();
  State& s = *server->state_;
  s.root = *root;
  s.extra_args = std::move(extra_args);
  s.sentinel_config = std::move(sentinel_config);
  s.log_path = s.root + "/redis.log";
  absl::Status launched;
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    s.port = FreePort();
    if (s.port <= 0) return absl::InternalError("no free port on 127.0.0.1");
    launched = s.Launch();
    if (!absl::IsUnavailable(launched)) break;
  }
  if (!launched.ok()) return launched;
  return server;
}

RedisServer::~RedisServer() {
  if (state_ == nullptr) return;
  if (state_->pid > 0) state_->StopWith(SIGTERM, kStopTimeout).IgnoreError();
  RemoveTree(state_->root);
}

int RedisServer::port() const { return state_->port; }

std::string RedisServer::Address() const {
  return absl::StrCat(host(), ":", state_->port);
}

absl::Status RedisServer::Kill() { return state_->StopWith(SIGKILL, kStopTimeout); }

absl::Status RedisServer::Stop() { return state_->StopWith(SIGTERM, kStopTimeout); }

absl::Status RedisServer::Restart() {
  if (state_->pid > 0 && waitpid(state_->pid, nullptr, WNOHANG) == state_->pid) {
    state_->pid = -1;  // It died on its own.
  }
  if (state_->pid > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("redis-server is still running on port ", state_->port));
  }
  absl::Status status = state_->Launch();
  if (absl::IsUnavailable(status)) return absl::InternalError(status.message());
  return status;
}

// ---------------------------------------------------------------------------
// ChildProcess

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(
    const std::string& path, const std::vector<std::string>& args,
    const std::map<std::string, std::string>& env, const std::string& log_path) {
  SpawnOptions options;
  options.path = path;
  options.args = args;
  options.env = CurrentEnvironment();
  for (const auto& [key, value] : env) options.env[key] = value;
  options.log_path = log_path;
  absl::StatusOr<pid_t> pid = SpawnProcess(options);
  if (!pid.ok()) return pid.status();
  return std::unique_ptr<ChildProcess>(new ChildProcess(*pid));
}

ChildProcess::~ChildProcess() {
  if (reaped_) return;
  kill(pid_, SIGKILL);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

bool ChildProcess::Running() {
  if (reaped_) return false;
  // WNOWAIT: look without reaping, so a later Wait still gets the status.
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  if (waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT) != 0) return false;
  return info.si_pid == 0;
}

void ChildProcess::Signal(int signal) {
  if (!reaped_) kill(pid_, signal);
}

absl::StatusOr<int> ChildProcess::Wait(absl::Duration timeout) {
  if (reaped_) {
    return absl::FailedPreconditionError(
        absl::StrCat("process ", pid_, " was already waited for"));
  }
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      return status;
    }
    if (r < 0 && errno != EINTR) {
      return absl::InternalError(
          absl::StrCat("waitpid(", pid_, "): ", ErrnoText(errno)));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "process ", pid_, " still running after ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
}

}  // namespace samplan::testing
