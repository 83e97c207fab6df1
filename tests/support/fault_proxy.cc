#include "tests/support/fault_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace samplan::testing {
namespace {

// How much one direction may hold before the proxy stops reading from its
// sender, so that a delayed direction pushes back as a slow network does.
constexpr size_t kMaxQueuedBytes = 1 << 20;

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Closes `fd`, with an RST instead of a FIN when `reset`.
void CloseSocket(int fd, bool reset) {
  if (fd < 0) return;
  if (reset) {
    linger option{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, sizeof(option));
  }
  close(fd);
}

int ConnectLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

// Bytes read from one side, to be written to the other once `due`; an empty
// chunk with `eof` passes on the sender's FIN.
struct Chunk {
  absl::Time due;
  std::string bytes;
  size_t offset = 0;
  bool eof = false;
};

// One direction of a connection.
struct Direction {
  int from = -1;
  int to = -1;
  std::deque<Chunk> queue;
  size_t queued = 0;
  bool read_closed = false;
};

}  // namespace

struct FaultProxy::Connection {
  int client = -1;
  int upstream = -1;
  int wake = -1;  // eventfd: written when the fault changes
};

absl::StatusOr<std::unique_ptr<FaultProxy>> FaultProxy::Start(int upstream_port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = 0;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(fd, 128) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int error = errno;
    close(fd);
    return absl::InternalError(absl::StrCat("listening on loopback: ", std::strerror(error)));
  }
  std::unique_ptr<FaultProxy> proxy(new FaultProxy(fd, ntohs(address.sin_port), upstream_port));
  proxy->acceptor_ = std::thread([p = proxy.get()] { p->AcceptLoop(); });
  return proxy;
}

FaultProxy::FaultProxy(int listen_fd, int port, int upstream_port)
    : listen_fd_(listen_fd),
      port_(port),
      upstream_port_(upstream_port),
      stop_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

FaultProxy::~FaultProxy() {
  // Never read: once written it stays readable for every poll that includes it.
  const uint64_t one = 1;
  ssize_t ignored = write(stop_fd_, &one, sizeof(one));
  (void)ignored;
  acceptor_.join();
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* running) { return *running == 0; }, &pumps_running_));
  }
  close(listen_fd_);
  close(stop_fd_);
}

void FaultProxy::Inject(Fault fault) {
  absl::MutexLock lock(&mu_);
  fault_ = fault;
  WakeAll();
}

void FaultProxy::SetDelay(absl::Duration each_way) {
  absl::MutexLock lock(&mu_);
  delay_ = each_way;
  WakeAll();
}

int FaultProxy::open_connections() {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(connections_.size());
}

void FaultProxy::WakeAll() {
  const uint64_t one = 1;
  for (Connection* connection : connections_) {
    ssize_t ignored = write(connection->wake, &one, sizeof(one));
    (void)ignored;
  }
}

void FaultProxy::AcceptLoop() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;
    const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    ++accepted_;
    absl::MutexLock lock(&mu_);
    if (fault_ == Fault::kClose || fault_ == Fault::kReset) {
      CloseSocket(client, fault_ == Fault::kReset);
      continue;
    }
    auto* connection = new Connection{client, -1, eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
    connections_.insert(connection);
    ++pumps_running_;
    std::thread([this, connection] {
      Pump(*connection);
      CloseSocket(connection->client, false);
      CloseSocket(connection->upstream, false);
      close(connection->wake);
      absl::MutexLock lock(&mu_);
      connections_.erase(connection);
      delete connection;
      --pumps_running_;
    }).detach();
  }
}

// Moves bytes both ways until either side ends the connection, the fault closes
// or resets it, or the proxy stops. Closes the sockets it ends itself and sets
// them to -1; the caller closes the rest.
void FaultProxy::Pump(Connection& connection) {
  // The upstream is reached when the client arrives, as a router would: a
  // refused upstream closes the client's connection.
  connection.upstream = ConnectLoopback(upstream_port_);
  if (connection.upstream < 0) return;
  SetNonBlocking(connection.client);
  SetNonBlocking(connection.upstream);
  Direction directions[2];
  directions[0].from = connection.client;
  directions[0].to = connection.upstream;
  directions[1].from = connection.upstream;
  directions[1].to = connection.client;
  std::string buffer(64 * 1024, '\0');
  while (true) {
    Fault fault;
    absl::Duration delay;
    {
      absl::MutexLock lock(&mu_);
      fault = fault_;
      delay = delay_;
    }
    if (fault == Fault::kClose || fault == Fault::kReset) {
      CloseSocket(connection.client, fault == Fault::kReset);
      CloseSocket(connection.upstream, fault == Fault::kReset);
      connection.client = connection.upstream = -1;
      return;
    }
    const bool forwarding = fault == Fault::kNone;
    const absl::Time now = absl::Now();
    // FINs that are due pass on at once.
    for (Direction& d : directions) {
      while (forwarding && !d.queue.empty() && d.queue.front().eof && d.queue.front().due <= now) {
        shutdown(d.to, SHUT_WR);
        d.queue.pop_front();
      }
    }
    if (directions[0].read_closed && directions[1].read_closed && directions[0].queue.empty() &&
        directions[1].queue.empty()) {
      return;
    }
    // One entry per socket: the client is the first direction's sender and the
    // second's receiver. A socket with nothing to wait for is left out (fd -1),
    // so that a hung-up peer does not wake the loop while the proxy holds still.
    short events[2] = {0, 0};
    int timeout_ms = -1;
    for (int i = 0; i < 2; ++i) {
      Direction& d = directions[i];
      if (!forwarding) continue;
      if (!d.read_closed && d.queued < kMaxQueuedBytes) events[i] |= POLLIN;
      if (!d.queue.empty()) {
        const Chunk& head = d.queue.front();
        if (head.due <= now) {
          if (!head.eof) events[1 - i] |= POLLOUT;
        } else {
          const int wait =
              static_cast<int>(absl::ToInt64Milliseconds(absl::Ceil(head.due - now, absl::Milliseconds(1))));
          timeout_ms = timeout_ms < 0 ? wait : std::min(timeout_ms, wait);
        }
      }
    }
    pollfd fds[4] = {{events[0] != 0 ? connection.client : -1, events[0], 0},
                     {events[1] != 0 ? connection.upstream : -1, events[1], 0},
                     {connection.wake, POLLIN, 0},
                     {stop_fd_, POLLIN, 0}};
    if (poll(fds, 4, timeout_ms) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[3].revents != 0) return;
    if (fds[2].revents != 0) {
      uint64_t count;
      ssize_t ignored = read(connection.wake, &count, sizeof(count));
      (void)ignored;
      continue;  // the fault may have changed
    }
    const absl::Time read_at = absl::Now();
    for (int i = 0; i < 2; ++i) {
      Direction& d = directions[i];
      const short revents = fds[i].revents;
      if ((events[i] & POLLIN) != 0 && (revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        const ssize_t n = read(d.from, buffer.data(), buffer.size());
        if (n > 0) {
          d.queue.push_back({read_at + delay, buffer.substr(0, static_cast<size_t>(n))});
          d.queued += static_cast<size_t>(n);
        } else if (n == 0) {
          d.queue.push_back({read_at + delay, "", 0, true});
          d.read_closed = true;
        } else if (errno != EAGAIN && errno != EINTR) {
          // The sender reset: so does the proxy, to the other side.
          CloseSocket(connection.client, true);
          CloseSocket(connection.upstream, true);
          connection.client = connection.upstream = -1;
          return;
        }
      }
    }
    for (int i = 0; i < 2; ++i) {
      Direction& d = directions[i];
      while (!d.queue.empty() && !d.queue.front().eof && d.queue.front().due <= absl::Now()) {
        Chunk& head = d.queue.front();
        const ssize_t n = send(d.to, head.bytes.data() + head.offset,
                               head.bytes.size() - head.offset, MSG_NOSIGNAL);
        if (n < 0) {
          if (errno == EAGAIN || errno == EINTR) break;
          CloseSocket(connection.client, true);
          CloseSocket(connection.upstream, true);
          connection.client = connection.upstream = -1;
          return;
        }
        head.offset += static_cast<size_t>(n);
        d.queued -= static_cast<size_t>(n);
        if (head.offset < head.bytes.size()) break;
        d.queue.pop_front();
      }
    }
  }
}

}  // namespace samplan::testing
