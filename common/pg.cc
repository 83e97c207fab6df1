#include "common/pg.h"

#include <sys/socket.h>

#include <algorithm>
#include <map>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status.h"

namespace samplan {

std::string PgTextArray(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::vector<std::string> ParsePgTextArray(const pqxx::field& field) {
  std::vector<std::string> out;
  if (field.is_null()) return out;
  pqxx::array_parser parser = field.as_array();
  for (auto [juncture, value] = parser.get_next();
       juncture != pqxx::array_parser::juncture::done; std::tie(juncture, value) = parser.get_next()) {
    if (juncture == pqxx::array_parser::juncture::string_value) out.push_back(value);
  }
  return out;
}

std::string PgTimestamp(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", time, absl::UTCTimeZone());
}

bool IsPlainIdentifier(absl::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (!(name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z'))) return false;
  for (char c : name) {
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

// Returns `dsn` with libpq's connect_timeout added, unless it sets one; both of
// libpq's forms, "key=value ..." and a postgresql:// URI.
std::string WithConnectTimeout(const std::string& dsn, absl::Duration timeout) {
  if (absl::StrContains(dsn, "connect_timeout")) return dsn;
  const int64_t seconds = std::max<int64_t>(2, absl::ToInt64Seconds(absl::Ceil(timeout, absl::Seconds(1))));
  if (absl::StartsWith(dsn, "postgresql://") || absl::StartsWith(dsn, "postgres://")) {
    return absl::StrCat(dsn, absl::StrContains(dsn, "?") ? "&" : "?", "connect_timeout=", seconds);
  }
  return absl::StrCat(dsn, " connect_timeout=", seconds);
}

absl::StatusOr<std::unique_ptr<pqxx::connection>> OpenConnection(
    const std::string& dsn, absl::string_view application_name) {
  try {
    auto connection = std::make_unique<pqxx::connection>(dsn);
    pqxx::nontransaction tx(*connection);
    tx.exec(absl::StrCat("SET application_name = ", tx.quote(std::string(application_name))));
    // The server notices within about 25 s that this client is gone (a crashed
    // pod, a network partition) and ends the session, releasing its advisory locks:
    // the relay's leadership passes on instead of waiting for the kernel's two hours.
    tx.exec("SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; "
            "SET tcp_keepalives_count = 3");
    return connection;
  } catch (const std::exception& e) {
    // The libpq message can contain the host and user but not the password.
    Log(LogLevel::kWarning, "cannot connect to PostgreSQL", {{"error", e.what()}});
    return absl::UnavailableError("the database is unavailable; retry later");
  }
}

// Cuts the connections whose call's deadline has passed. libpq waits for an
// answer in poll() without a timeout; shutting the socket down (not closing it:
// the descriptor stays the connection's) wakes it with end-of-file, so the call
// fails with a broken connection and the slot is reopened for the next one.
class PgPool::DeadlineWatch {
 public:
  DeadlineWatch() : thread_([this] { Run(); }) {}
  ~DeadlineWatch() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
      changed_.Signal();
    }
    thread_.join();
  }

  // Shuts `socket` down once `cut_at` has passed, unless Forget(ticket) comes
  // first; returns the ticket.
  int64_t Watch(int socket, absl::Time cut_at) {
    absl::MutexLock lock(&mu_);
    const int64_t ticket = ++last_ticket_;
    watched_[ticket] = {socket, cut_at, false};
    changed_.Signal();
    return ticket;
  }

  // Stops watching; returns whether the socket was cut. After it returns the
  // socket is not touched again.
  bool Forget(int64_t ticket) {
    absl::MutexLock lock(&mu_);
    auto it = watched_.find(ticket);
    const bool cut = it != watched_.end() && it->second.cut;
    if (it != watched_.end()) watched_.erase(it);
    return cut;
  }

 private:
  struct Watched {
    int socket;
    absl::Time cut_at;
    bool cut;
  };
  void Run() {
    absl::MutexLock lock(&mu_);
    while (!stop_) {
      const absl::Time now = absl::Now();
      absl::Time next = absl::InfiniteFuture();
      for (auto& [ticket, watched] : watched_) {
        if (watched.cut) continue;
        if (watched.cut_at <= now) {
          shutdown(watched.socket, SHUT_RDWR);
          watched.cut = true;
          Log(LogLevel::kWarning, "cut a database connection that did not answer by the call's deadline");
        } else {
          next = std::min(next, watched.cut_at);
        }
      }
      changed_.WaitWithDeadline(&mu_, next);
    }
  }

  absl::Mutex mu_;
  absl::CondVar changed_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  int64_t last_ticket_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int64_t, Watched> watched_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

PgPool::PgPool(PgPoolOptions options)
    : options_(std::move(options)), watch_(std::make_unique<DeadlineWatch>()) {
  slots_.resize(options_.size);
}

PgPool::~PgPool() {
  // A connect still running in the background writes into its slot.
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* in_flight) { return *in_flight == 0; }, &connects_in_flight_));
}

absl::StatusOr<std::unique_ptr<PgPool>> PgPool::Create(PgPoolOptions options) {
  if (options.size < 1) return absl::InvalidArgumentError("pool size must be at least 1");
  std::unique_ptr<PgPool> pool(new PgPool(std::move(options)));
  absl::MutexLock lock(&pool->mu_);
  absl::StatusOr<std::unique_ptr<pqxx::connection>> first = pool->Connect();
  if (!first.ok()) return first.status();
  pool->slots_[0].connection = *std::move(first);
  // libpqxx prepares a statement when it is first used. Preparing every one now
  // on the first connection makes a schema that is missing or older than the
  // code (another service's migrations not yet applied) stop the start, with the
  // statement named, instead of serving calls that fail with INTERNAL.
  for (const PreparedStatement& statement : pool->options_.statements) {
    try {
      pool->slots_[0].connection->prepare_now(statement.name);
    } catch (const std::exception& e) {
      return absl::FailedPreconditionError(absl::StrCat(
          "statement ", statement.name,
          " cannot be prepared; are the migrations it needs applied? ", ErrorSummary(e)));
    }
  }
  return pool;
}

absl::StatusOr<std::unique_ptr<pqxx::connection>> PgPool::Connect() const {
  absl::StatusOr<std::unique_ptr<pqxx::connection>> connection = OpenConnection(
      WithConnectTimeout(options_.dsn, options_.connect_timeout), options_.application_name);
  if (!connection.ok()) return connection.status();
  try {
    pqxx::nontransaction tx(**connection);
    tx.exec(absl::StrCat("SET statement_timeout = ",
                         absl::ToInt64Milliseconds(options_.statement_timeout)));
    for (const PreparedStatement& statement : options_.statements) {
      (*connection)->prepare(statement.name, statement.sql);
    }
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
  return connection;
}

absl::StatusOr<PgPool::Slot*> PgPool::Acquire(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  Slot* free_slot = nullptr;
  auto has_free = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    free_slot = nullptr;
    for (Slot& slot : slots_) {
      // Prefer a slot with an open connection over one that must connect.
      if (!slot.busy &&
          (free_slot == nullptr || (slot.connection && !free_slot->connection))) {
        free_slot = &slot;
      }
    }
    return free_slot != nullptr;
  };
  if (!mu_.AwaitWithDeadline(absl::Condition(&has_free), deadline)) {
    return absl::DeadlineExceededError(
        "no database connection became free before the call's deadline");
  }
  free_slot->busy = true;
  if (free_slot->connection != nullptr && free_slot->connection->is_open()) return free_slot;
  free_slot->connection.reset();
  // Connecting on a thread of its own, outside the lock: the other threads go on
  // with the connections that work, and this call waits only until its deadline
  // (a database that accepts and never answers holds the connect for the
  // connect timeout, not the call).
  free_slot->connecting = true;
  free_slot->abandoned = false;
  ++connects_in_flight_;
  std::thread([this, slot = free_slot] {
    absl::StatusOr<std::unique_ptr<pqxx::connection>> connection = Connect();
    absl::MutexLock lock(&mu_);
    slot->connecting = false;
    slot->connect_status = connection.status();
    if (connection.ok()) slot->connection = *std::move(connection);
    if (slot->abandoned) slot->busy = false;  // its call has gone: free for the next
    --connects_in_flight_;
  }).detach();
  auto connected = [slot = free_slot]() { return !slot->connecting; };
  if (!mu_.AwaitWithDeadline(absl::Condition(&connected), deadline)) {
    free_slot->abandoned = true;
    return absl::DeadlineExceededError(
        "the database did not accept a connection before the call's deadline");
  }
  if (free_slot->connection == nullptr) {
    free_slot->busy = false;
    return free_slot->connect_status;
  }
  return free_slot;
}

void PgPool::Release(Slot* slot, bool broken) {
  absl::MutexLock lock(&mu_);
  if (broken) slot->connection.reset();
  slot->busy = false;
}

template <typename Tx>
absl::Status PgPool::Run(absl::Time deadline,
                         absl::FunctionRef<absl::Status(pqxx::transaction_base&)> work) {
  absl::StatusOr<Slot*> slot = Acquire(deadline);
  if (!slot.ok()) return slot.status();
  const bool watched = deadline != absl::InfiniteFuture();
  const int64_t ticket =
      watched ? watch_->Watch((*slot)->connection->sock(), deadline + kPgDeadlineGrace) : 0;
  absl::Status status;
  bool broken = false;
  bool threw = false;
  bool in_doubt = false;
  try {
    Tx tx(*(*slot)->connection);
    status = work(tx);
    if (status.ok()) {
      tx.commit();
      if (options_.after_commit) options_.after_commit();
    }
  } catch (const std::exception& e) {
    status = StatusFromException(e);
    threw = true;
    in_doubt = dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr;
    broken = !(*slot)->connection->is_open() ||
             dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr || in_doubt;
  }
  if (watched && watch_->Forget(ticket)) {
    // Cut after the work had finished, the answer stands; either way the
    // connection is gone.
    broken = true;
    if (threw && !in_doubt) {
      status = absl::DeadlineExceededError("the database did not answer before the call's deadline");
    }
  }
  Release(*slot, broken);
  return status;
}

absl::Status PgPool::Transaction(
    absl::Time deadline, absl::FunctionRef<absl::Status(pqxx::transaction_base&)> work) {
  return Run<pqxx::work>(deadline, work);
}

absl::Status PgPool::Read(absl::Time deadline,
                          absl::FunctionRef<absl::Status(pqxx::transaction_base&)> work) {
  return Run<pqxx::nontransaction>(deadline, work);
}

pqxx::binarystring PgBytes(const std::string& bytes) {
  return pqxx::binarystring(bytes.data(), bytes.size());
}

}  // namespace samplan
