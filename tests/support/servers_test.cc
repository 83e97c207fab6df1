#include "tests/support/servers.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <pqxx/pqxx>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace samplan::testing {
namespace {



std::string TempPath(const std::string& name) {
  const char* base = std::getenv("TMPDIR");
  return absl::StrCat(base != nullptr && *base != '\0' ? base : "/tmp", "/", name,
                      "-", getpid(), "-", absl::ToUnixNanos(absl::Now()));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// ---------------------------------------------------------------------------
// FreePort

TEST(FreePortTest, ReturnsABindablePort) {
  int port = FreePort();
  ASSERT_GT(port, 0);
  ASSERT_LT(port, 65536);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);
}

// ---------------------------------------------------------------------------
// PostgresServer

TEST(PostgresServerTest, StartsAndCreatesDatabases) {
  const absl::Time begin = absl::Now();
  absl::StatusOr<std::unique_ptr<PostgresServer>> server = PostgresServer::Start();
  const absl::Duration took = absl::Now() - begin;
  ASSERT_TRUE(server.ok()) << server.status();
  std::cout << "PostgresServer::Start took " << absl::FormatDuration(took) << "\n";
  RecordProperty("postgres_start_ms", absl::ToInt64Milliseconds(took));
  EXPECT_GT((*server)->port(), 0);

  absl::StatusOr<std::string> dsn = (*server)->CreateDatabase();
  ASSERT_TRUE(dsn.ok()) << dsn.status();
  absl::StatusOr<std::string> other = (*server)->CreateDatabase();
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_NE(*dsn, *other);

  pqxx::connection connection(*dsn);
  pqxx::work work(connection);
  EXPECT_EQ(work.exec1("SELECT 1")[0].as<int>(), 1);
  EXPECT_EQ(work.exec1("SELECT current_user")[0].as<std::string>(), "postgres");
  EXPECT_EQ(work.exec1("SHOW server_encoding")[0].as<std::string>(), "UTF8");
  EXPECT_EQ(work.exec1("SHOW fsync")[0].as<std::string>(), "on");
  EXPECT_EQ(work.exec1("SHOW max_connections")[0].as<int>(), 200);
  EXPECT_NE(work.exec1("SELECT current_database()")[0].as<std::string>(),
            pqxx::connection(*other).dbname());
  work.commit();

  pqxx::connection admin((*server)->Dsn());
  EXPECT_EQ(std::string(admin.dbname()), "postgres");
}

TEST(PostgresServerTest, CommittedDataSurvivesKillAndRestart) {
  absl::StatusOr<std::unique_ptr<PostgresServer>> server = PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  absl::StatusOr<std::string> dsn = (*server)->CreateDatabase();
  ASSERT_TRUE(dsn.ok()) << dsn.status();

  pqxx::connection connection(*dsn);
  std::string started_before;
  int backend_pid = 0;
  {
    pqxx::work work(connection);
    work.exec("CREATE TABLE items (id INT PRIMARY KEY, name TEXT NOT NULL)");
    work.exec("INSERT INTO items VALUES (1, 'committed')");
    work.commit();
  }
  {
    pqxx::nontransaction work(connection);
    started_before = work.exec1("SELECT pg_postmaster_start_time()")[0].c_str();
    backend_pid = work.exec1("SELECT pg_backend_pid()")[0].as<int>();
  }
  // An open transaction whose row must not survive.
  pqxx::connection uncommitted_connection(*dsn);
  pqxx::work uncommitted(uncommitted_connection);
  uncommitted.exec("INSERT INTO items VALUES (2, 'uncommitted')");

  const int port = (*server)->port();
  const absl::Time begin = absl::Now();
  absl::Status killed = (*server)->Kill();
  ASSERT_TRUE(killed.ok()) << killed;
  std::cout << "PostgresServer::Kill took "
            << absl::FormatDuration(absl::Now() - begin) << "\n";
  EXPECT_FALSE(PortAcceptsConnections(port));
  EXPECT_TRUE(ProcessGone(backend_pid)) << "backend " << backend_pid;
  EXPECT_THROW(pqxx::connection{*dsn}, pqxx::broken_connection);
  // Restart refuses while running, Kill refuses while stopped.
  EXPECT_EQ((*server)->Kill().code(), absl::StatusCode::kFailedPrecondition);

  const absl::Time restart_begin = absl::Now();
  absl::Status restarted = (*server)->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  std::cout << "PostgresServer::Restart (crash recovery) took "
            << absl::FormatDuration(absl::Now() - restart_begin) << "\n";
  EXPECT_EQ((*server)->port(), port);
  EXPECT_EQ((*server)->Restart().code(), absl::StatusCode::kFailedPrecondition);

  pqxx::connection after(*dsn);
  pqxx::work work(after);
  pqxx::result rows = work.exec("SELECT id, name FROM items ORDER BY id");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0].as<int>(), 1);
  EXPECT_EQ(rows[0][1].as<std::string>(), "committed");
  EXPECT_NE(std::string(work.exec1("SELECT pg_postmaster_start_time()")[0].c_str()),
            started_before);
  // Still writable after recovery.
  work.exec("INSERT INTO items VALUES (3, 'after restart')");
  work.commit();
}

TEST(PostgresServerTest, SurvivesTwoCrashesInARow) {
  absl::StatusOr<std::unique_ptr<PostgresServer>> server = PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  absl::StatusOr<std::string> dsn = (*server)->CreateDatabase();
  ASSERT_TRUE(dsn.ok()) << dsn.status();
  for (int round = 0; round < 2; ++round) {
    {
      pqxx::connection connection(*dsn);
      pqxx::work work(connection);
      work.exec("CREATE TABLE IF NOT EXISTS t (n INT)");
      work.exec(absl::StrCat("INSERT INTO t VALUES (", round, ")"));
      work.commit();
    }
    ASSERT_TRUE((*server)->Kill().ok());
    absl::Status restarted = (*server)->Restart();
    ASSERT_TRUE(restarted.ok()) << restarted;
  }
  pqxx::connection connection(*dsn);
  pqxx::work work(connection);
  EXPECT_EQ(work.exec1("SELECT count(*) FROM t")[0].as<int>(), 2);
}

TEST(PostgresServerTest, DestructionStopsTheServer) {
  absl::StatusOr<std::unique_ptr<PostgresServer>> server = PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  int backend_pid = 0;
  {
    pqxx::connection connection((*server)->Dsn());
    pqxx::nontransaction work(connection);
    backend_pid = work.exec1("SELECT pg_backend_pid()")[0].as<int>();
  }
  server->reset();
  EXPECT_FALSE(PortAcceptsConnections(port));
  EXPECT_TRUE(ProcessGone(backend_pid));
}

TEST(PostgresServerTest, DestructionAfterKillCleansUp) {
  absl::StatusOr<std::unique_ptr<PostgresServer>> server = PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  ASSERT_TRUE((*server)->Kill().ok());
  server->reset();
  EXPECT_FALSE(PortAcceptsConnections(port));
}

// Holds a listening socket on 127.0.0.1:port.
class PortBlocker {
 public:
  explicit PortBlocker(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
          listen(fd_, 1) == 0;
  }
  ~PortBlocker() { close(fd_); }
  bool ok() const { return ok_; }

 private:
  int fd_;
  bool ok_ = false;
};

TEST(PostgresServerTest, FailedRestartReportsTheServerLog) {
  absl::StatusOr<std::unique_ptr<PostgresServer>> server = PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->Kill().ok());
  {
    PortBlocker blocker((*server)->port());
    ASSERT_TRUE(blocker.ok());
    absl::Status restarted = (*server)->Restart();
    EXPECT_FALSE(restarted.ok());
    EXPECT_NE(restarted.message().find("could not bind"), std::string::npos)
        << restarted;
  }
  absl::Status restarted = (*server)->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  pqxx::connection connection((*server)->Dsn());
  EXPECT_TRUE(connection.is_open());
}

// ---------------------------------------------------------------------------
// RedisServer

struct RedisFree {
  void operator()(redisContext* context) const { redisFree(context); }
};
using RedisConnection = std::unique_ptr<redisContext, RedisFree>;
struct ReplyFree {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

RedisConnection Connect(const RedisServer& server) {
  timeval timeout{5, 0};
  RedisConnection connection(
      redisConnectWithTimeout(server.host().c_str(), server.port(), timeout));
  EXPECT_NE(connection, nullptr);
  if (connection != nullptr) {
    EXPECT_EQ(connection->err, 0) << connection->errstr;
  }
  return connection;
}

// The ids of the entries of `stream`.
std::vector<std::string> StreamIds(const RedisServer& server, const std::string& stream) {
  std::vector<std::string> ids;
  RedisConnection connection = Connect(server);
  if (connection == nullptr || connection->err != 0) return ids;
  Reply reply(static_cast<redisReply*>(
      redisCommand(connection.get(), "XRANGE %s - +", stream.c_str())));
  EXPECT_NE(reply, nullptr);
  if (reply == nullptr) return ids;
  EXPECT_EQ(reply->type, REDIS_REPLY_ARRAY);
  if (reply->type != REDIS_REPLY_ARRAY) return ids;
  for (size_t i = 0; i < reply->elements; ++i) {
    ids.emplace_back(reply->element[i]->element[0]->str,
                     reply->element[i]->element[0]->len);
  }
  return ids;
}

std::string Xadd(const RedisServer& server, const std::string& stream,
                 const std::string& value) {
  RedisConnection connection = Connect(server);
  if (connection == nullptr || connection->err != 0) return "";
  Reply reply(static_cast<redisReply*>(redisCommand(
      connection.get(), "XADD %s * field %s", stream.c_str(), value.c_str())));
  EXPECT_NE(reply, nullptr);
  if (reply == nullptr) return "";
  EXPECT_EQ(reply->type, REDIS_REPLY_STRING);
  return reply->type == REDIS_REPLY_STRING ? std::string(reply->str, reply->len) : "";
}

TEST(RedisServerTest, StartsAndAnswersPing) {
  const absl::Time begin = absl::Now();
  absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  std::cout << "RedisServer::Start took " << absl::FormatDuration(absl::Now() - begin)
            << "\n";
  EXPECT_EQ((*server)->Address(), absl::StrCat("127.0.0.1:", (*server)->port()));
  RedisConnection connection = Connect(**server);
  ASSERT_NE(connection, nullptr);
  Reply reply(static_cast<redisReply*>(redisCommand(connection.get(), "PING")));
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(reply->type, REDIS_REPLY_STATUS);
  EXPECT_EQ(std::string(reply->str, reply->len), "PONG");
  Reply config(static_cast<redisReply*>(
      redisCommand(connection.get(), "CONFIG GET appendfsync")));
  ASSERT_NE(config, nullptr);
  ASSERT_EQ(config->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(config->elements, 2u);
  EXPECT_EQ(std::string(config->element[1]->str), "always");
}

TEST(RedisServerTest, StreamSurvivesKillAndStop) {
  absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  const std::string first = Xadd(**server, "events", "one");
  ASSERT_FALSE(first.empty());

  absl::Status killed = (*server)->Kill();
  ASSERT_TRUE(killed.ok()) << killed;
  EXPECT_FALSE(PortAcceptsConnections(port));
  EXPECT_EQ((*server)->Kill().code(), absl::StatusCode::kFailedPrecondition);
  absl::Status restarted = (*server)->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  EXPECT_EQ((*server)->port(), port);
  EXPECT_EQ(StreamIds(**server, "events"), std::vector<std::string>{first});

  const std::string second = Xadd(**server, "events", "two");
  ASSERT_FALSE(second.empty());
  absl::Status stopped = (*server)->Stop();
  ASSERT_TRUE(stopped.ok()) << stopped;
  EXPECT_FALSE(PortAcceptsConnections(port));
  restarted = (*server)->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  EXPECT_EQ((*server)->Restart().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(StreamIds(**server, "events"), (std::vector<std::string>{first, second}));

  server->reset();
  EXPECT_FALSE(PortAcceptsConnections(port));
}

TEST(RedisServerTest, FailedRestartReportsTheServerLog) {
  absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->Stop().ok());
  {
    PortBlocker blocker((*server)->port());
    ASSERT_TRUE(blocker.ok());
    absl::Status restarted = (*server)->Restart();
    EXPECT_FALSE(restarted.ok());
    EXPECT_NE(restarted.message().find("redis.log"), std::string::npos) << restarted;
  }
  absl::Status restarted = (*server)->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
}

// ---------------------------------------------------------------------------
// ChildProcess

TEST(ChildProcessTest, WaitReturnsExitStatus) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Spawn("/bin/sh", {"-c", "exit 3"}, {});
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_GT((*child)->pid(), 0);
  absl::StatusOr<int> status = (*child)->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 3);
  EXPECT_FALSE((*child)->Running());
}

TEST(ChildProcessTest, SignalKills) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Spawn("sleep", {"100"}, {});  // Found on PATH.
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_TRUE((*child)->Running());
  absl::StatusOr<int> early = (*child)->Wait(absl::Milliseconds(50));
  EXPECT_EQ(early.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE((*child)->Running());
  (*child)->Signal(SIGKILL);
  absl::StatusOr<int> status = (*child)->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_TRUE(WIFSIGNALED(*status));
  EXPECT_EQ(WTERMSIG(*status), SIGKILL);
  EXPECT_FALSE((*child)->Running());
}

TEST(ChildProcessTest, RunningDoesNotSwallowTheExitStatus) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Spawn("/bin/sh", {"-c", "exit 7"}, {});
  ASSERT_TRUE(child.ok()) << child.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while ((*child)->Running() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_FALSE((*child)->Running());
  absl::StatusOr<int> status = (*child)->Wait(absl::Seconds(1));
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 7);
}

TEST(ChildProcessTest, PassesEnvironmentAndLogsOutput) {
  const std::string out = TempPath("samplan-child-env");
  const std::string log = TempPath("samplan-child-log");
  setenv("SAMPLAN_SERVERS_TEST_INHERITED", "inherited", 1);
  setenv("SAMPLAN_SERVERS_TEST_OVERRIDDEN", "old", 1);
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Spawn(
      "/bin/sh",
      {"-c",
       "printf '%s' \"$FOO\" > \"$OUT\"; "
       "echo \"$SAMPLAN_SERVERS_TEST_INHERITED $SAMPLAN_SERVERS_TEST_OVERRIDDEN\"; "
       "echo to-stderr >&2"},
      {{"FOO", "bar baz"}, {"OUT", out}, {"SAMPLAN_SERVERS_TEST_OVERRIDDEN", "new"}},
      log);
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<int> status = (*child)->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  EXPECT_EQ(ReadFile(out), "bar baz");
  EXPECT_EQ(ReadFile(log), "inherited new\nto-stderr\n");
  unlink(out.c_str());
  unlink(log.c_str());
}

TEST(ChildProcessTest, MissingExecutableIsAnError) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Spawn("/nonexistent/samplan-binary", {}, {});
  ASSERT_FALSE(child.ok());
  EXPECT_NE(child.status().message().find("No such file"), std::string::npos)
      << child.status();
}

TEST(ChildProcessTest, DestructorKillsARunningChild) {
  pid_t pid = 0;
  {
    absl::StatusOr<std::unique_ptr<ChildProcess>> child =
        ChildProcess::Spawn("/bin/sleep", {"100"}, {});
    ASSERT_TRUE(child.ok()) << child.status();
    pid = (*child)->pid();
  }
  EXPECT_TRUE(ProcessGone(pid));
}

}  // namespace
}  // namespace samplan::testing
