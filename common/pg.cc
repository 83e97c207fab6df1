#include "common/pg.h"

#include <algorithm>

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

PgPool::PgPool(PgPoolOptions options) : options_(std::move(options)) {
  slots_.resize(options_.size);
}

PgPool::~PgPool() = default;

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
  Slot* free_slot = nullptr;
  {
    absl::MutexLock lock(&mu_);
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
  }
  // Connecting outside the lock: the slot is this thread's while busy, and the
  // other threads go on with the connections that work while this one waits for
  // the database (at most the connect timeout).
  absl::StatusOr<std::unique_ptr<pqxx::connection>> connection = Connect();
  absl::MutexLock lock(&mu_);
  if (!connection.ok()) {
    free_slot->busy = false;
    return connection.status();
  }
  free_slot->connection = *std::move(connection);
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
  absl::Status status;
  bool broken = false;
  try {
    Tx tx(*(*slot)->connection);
    status = work(tx);
    if (status.ok()) {
      tx.commit();
      if (options_.after_commit) options_.after_commit();
    }
  } catch (const std::exception& e) {
    status = StatusFromException(e);
    broken = !(*slot)->connection->is_open() ||
             dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
             dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr;
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
