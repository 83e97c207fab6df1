#ifndef SAMPLAN_COMMON_PG_H_
#define SAMPLAN_COMMON_PG_H_

// A pool of PostgreSQL connections with named prepared statements, and the one
// place where libpqxx exceptions become statuses.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace samplan {

// One SQL statement, prepared under `name` on every pooled connection. User input
// reaches it only as $n parameters.
struct PreparedStatement {
  const char* name;
  const char* sql;
};

struct PgPoolOptions {
  std::string dsn;
  int size = 8;
  // Server-side limit on any one statement, so a stuck query cannot outlive the
  // calls waiting for it.
  absl::Duration statement_timeout = absl::Seconds(10);
  std::string application_name = "samplan";
  std::vector<PreparedStatement> statements;
  // How long opening a connection may take (libpq's connect_timeout, whole
  // seconds, at least 2) unless the DSN sets its own: a database that accepts
  // and never answers must not hold a call, or the pool, forever.
  absl::Duration connect_timeout = absl::Seconds(5);
  // Called on the committing thread right after each Transaction has committed
  // (the service wakes its outbox relay with it); may be empty.
  std::function<void()> after_commit = nullptr;
};

// How long after a call's deadline the pool cuts the connection the call is
// still waiting on (see PgPool::Transaction).
inline constexpr absl::Duration kPgDeadlineGrace = absl::Milliseconds(100);

// A fixed number of connections shared by the threads of a server. Connections are
// opened on first use and reopened after a failure, so the pool survives a database
// restart without a process restart. No call waits on the database past its
// deadline: neither for a connection to open (that goes on in the background)
// nor for an answer (a connection that has not answered by then is cut).
// Thread-safe.
class PgPool {
 public:
  // Opens one connection to check the DSN, prepares every statement on it, and
  // returns the pool; UNAVAILABLE when the database cannot be reached,
  // FAILED_PRECONDITION naming the statement when one cannot be prepared (the
  // schema it needs is missing or older than the code).
  static absl::StatusOr<std::unique_ptr<PgPool>> Create(PgPoolOptions options);
  ~PgPool();

  // Runs `work` in one READ COMMITTED transaction and commits it when `work`
  // returns OK; any other status or any exception rolls it back. Waits for a free
  // connection until `deadline` (DEADLINE_EXCEEDED after that). Exceptions are
  // mapped by StatusFromException. A database that has not answered by
  // `deadline` + kPgDeadlineGrace (a path that stalls without closing, which
  // neither TCP keepalives nor statement_timeout notice, since the kernel and
  // the server never hear of it) has its connection cut: DEADLINE_EXCEEDED, or
  // UNAVAILABLE "may or may not have been applied" when the commit was under way.
  absl::Status Transaction(absl::Time deadline,
                           absl::FunctionRef<absl::Status(pqxx::transaction_base&)> work);

  // Runs `work` without a surrounding transaction, each statement on its own: one
  // round trip for a single-statement read.
  absl::Status Read(absl::Time deadline,
                    absl::FunctionRef<absl::Status(pqxx::transaction_base&)> work);

  int size() const { return static_cast<int>(slots_.size()); }

 private:
  struct Slot {
    std::unique_ptr<pqxx::connection> connection;
    bool busy = false;
    // A connect runs on a thread of its own while the call waits for it until
    // its deadline; a call that gave up leaves the slot to the connect, which
    // frees it when done.
    bool connecting = false;
    bool abandoned = false;
    absl::Status connect_status;
  };
  class DeadlineWatch;
  explicit PgPool(PgPoolOptions options);
  absl::StatusOr<Slot*> Acquire(absl::Time deadline);
  void Release(Slot* slot, bool broken);
  // Opens a connection with the session settings and every statement prepared.
  absl::StatusOr<std::unique_ptr<pqxx::connection>> Connect() const;
  template <typename Tx>
  absl::Status Run(absl::Time deadline,
                   absl::FunctionRef<absl::Status(pqxx::transaction_base&)> work);

  const PgPoolOptions options_;
  std::unique_ptr<DeadlineWatch> watch_;
  absl::Mutex mu_;
  std::vector<Slot> slots_ ABSL_GUARDED_BY(mu_);
  int connects_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

// Opens a single connection with the pool's session settings, for components that
// hold one connection for a long time (the relay, the migration runner).
absl::StatusOr<std::unique_ptr<pqxx::connection>> OpenConnection(
    const std::string& dsn, absl::string_view application_name);

// Returns a PostgreSQL array literal of `values` for a text[] parameter.
std::string PgTextArray(const std::vector<std::string>& values);

// Returns `bytes` as a bytea parameter (serialized protobuf, sealed values).
pqxx::binarystring PgBytes(const std::string& bytes);

// Returns the elements of a text[] value read from the database.
std::vector<std::string> ParsePgTextArray(const pqxx::field& field);

// Returns `time` as RFC 3339 text with microseconds, for a timestamptz parameter.
std::string PgTimestamp(absl::Time time);

// Returns whether `name` is a plain lower-case SQL identifier ([a-z_][a-z0-9_]*, at
// most 63 characters), for schema names that are spliced into SQL text; such names
// come from code, never from requests.
bool IsPlainIdentifier(absl::string_view name);

}  // namespace samplan

#endif  // SAMPLAN_COMMON_PG_H_
