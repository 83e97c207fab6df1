// The fault proxy against an echo server of its own: each fault does to a
// client's connection what it says, and the proxy gives way again afterwards.

#include "tests/support/fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace samplan::testing {
namespace {

// Echoes every byte back on each connection, a thread per connection.
class EchoServer {
 public:
  EchoServer() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    listen(fd_, 16);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] {
      while (true) {
        const int client = accept(fd_, nullptr, nullptr);
        if (client < 0) return;
        if (stop_) {
          close(client);
          return;
        }
        echoes_.emplace_back([client] {
          char buffer[4096];
          ssize_t n;
          while ((n = read(client, buffer, sizeof(buffer))) > 0) {
            if (write(client, buffer, static_cast<size_t>(n)) != n) break;
          }
          close(client);
        });
      }
    });
  }
  ~EchoServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    acceptor_.join();
    close(fd_);
    for (std::thread& echo : echoes_) echo.join();
  }
  int port() const { return port_; }

 private:
  int fd_;
  int port_;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::vector<std::thread> echoes_;
};

int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  return fd;
}

// What a read on `fd` sees within `timeout`.
struct ReadResult {
  bool timed_out = false;
  ssize_t n = 0;
  int error = 0;
  std::string bytes;
};
ReadResult ReadWithin(int fd, absl::Duration timeout) {
  ReadResult result;
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) == 0) {
    result.timed_out = true;
    return result;
  }
  char buffer[4096];
  result.n = read(fd, buffer, sizeof(buffer));
  if (result.n < 0) result.error = errno;
  if (result.n > 0) result.bytes.assign(buffer, static_cast<size_t>(result.n));
  return result;
}

void Send(int fd, const std::string& bytes) {
  ASSERT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
}

class FaultProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto proxy = FaultProxy::Start(echo_.port());
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = *std::move(proxy);
  }
  EchoServer echo_;
  std::unique_ptr<FaultProxy> proxy_;
};

TEST_F(FaultProxyTest, PassesBytesBothWays) {
  const int fd = Connect(proxy_->port());
  Send(fd, "hello");
  EXPECT_EQ(ReadWithin(fd, absl::Seconds(2)).bytes, "hello");
  close(fd);
}

TEST_F(FaultProxyTest, DelayIsAddedEachWay) {
  proxy_->SetDelay(absl::Milliseconds(100));
  const int fd = Connect(proxy_->port());
  const absl::Time start = absl::Now();
  Send(fd, "slow");
  EXPECT_EQ(ReadWithin(fd, absl::Seconds(2)).bytes, "slow");
  const absl::Duration round_trip = absl::Now() - start;
  EXPECT_GE(round_trip, absl::Milliseconds(200));
  EXPECT_LT(round_trip, absl::Milliseconds(1000));
  proxy_->SetDelay(absl::ZeroDuration());
  close(fd);
}

TEST_F(FaultProxyTest, BlackholeHoldsEverythingWithoutClosingAndResumes) {
  const int open = Connect(proxy_->port());
  Send(open, "a");
  ASSERT_EQ(ReadWithin(open, absl::Seconds(2)).bytes, "a");
  proxy_->Inject(FaultProxy::Fault::kBlackhole);
  Send(open, "b");
  EXPECT_TRUE(ReadWithin(open, absl::Milliseconds(300)).timed_out) << "no answer, no close";
  // A new connection is accepted and never answered either.
  const int fresh = Connect(proxy_->port());
  Send(fresh, "c");
  EXPECT_TRUE(ReadWithin(fresh, absl::Milliseconds(300)).timed_out);
  proxy_->Inject(FaultProxy::Fault::kNone);
  EXPECT_EQ(ReadWithin(open, absl::Seconds(2)).bytes, "b");
  EXPECT_EQ(ReadWithin(fresh, absl::Seconds(2)).bytes, "c");
  close(open);
  close(fresh);
}

TEST_F(FaultProxyTest, CloseEndsOpenAndNewConnections) {
  const int open = Connect(proxy_->port());
  Send(open, "a");
  ASSERT_EQ(ReadWithin(open, absl::Seconds(2)).bytes, "a");
  proxy_->Inject(FaultProxy::Fault::kClose);
  ReadResult ended = ReadWithin(open, absl::Seconds(2));
  EXPECT_FALSE(ended.timed_out);
  EXPECT_EQ(ended.n, 0) << "a FIN, not an error";
  const int fresh = Connect(proxy_->port());
  EXPECT_EQ(ReadWithin(fresh, absl::Seconds(2)).n, 0);
  close(open);
  close(fresh);
  proxy_->Inject(FaultProxy::Fault::kNone);
  const int after = Connect(proxy_->port());
  Send(after, "again");
  EXPECT_EQ(ReadWithin(after, absl::Seconds(2)).bytes, "again");
  close(after);
}

TEST_F(FaultProxyTest, ResetSendsRst) {
  const int open = Connect(proxy_->port());
  Send(open, "a");
  ASSERT_EQ(ReadWithin(open, absl::Seconds(2)).bytes, "a");
  proxy_->Inject(FaultProxy::Fault::kReset);
  ReadResult ended = ReadWithin(open, absl::Seconds(2));
  EXPECT_EQ(ended.n, -1);
  EXPECT_EQ(ended.error, ECONNRESET);
  close(open);
  const absl::Time deadline = absl::Now() + absl::Seconds(2);
  while (proxy_->open_connections() > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(proxy_->open_connections(), 0);
}

TEST(FaultProxyUpstreamTest, AnUpstreamThatIsDownClosesTheClient) {
  int port;
  {
    EchoServer gone;
    port = gone.port();
  }
  auto proxy = FaultProxy::Start(port);
  ASSERT_TRUE(proxy.ok());
  const int fd = Connect((*proxy)->port());
  EXPECT_EQ(ReadWithin(fd, absl::Seconds(2)).n, 0);
  close(fd);
}

}  // namespace
}  // namespace samplan::testing
