#ifndef SAMPLAN_COMMON_MIGRATIONS_H_
#define SAMPLAN_COMMON_MIGRATIONS_H_

// The schema of a service is a list of numbered .sql files (migrations/NNNN_*.sql),
// compiled into its binary (cmake: samplan_embed_migrations) and applied at start.

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace samplan {

// One migration: its file name ("0001_plans.sql") and its SQL.
struct Migration {
  std::string name;
  std::string sql;
};

// A named, ordered list of migrations, applied into one schema. A service applies
// its own set and the sets of the common parts it uses (for example the outbox).
struct MigrationSet {
  std::string name;
  const std::vector<Migration>* migrations;
};

// Creates `schema` if needed and applies, in file-name order, every migration of
// `sets` not yet recorded in `<schema>.schema_migrations`, each in its own
// transaction with `search_path` set to the schema, so migrations name their
// tables without the schema. A PostgreSQL advisory lock per schema makes replicas
// that start at once apply each migration exactly once. A migration whose text
// changed after it was applied is FAILED_PRECONDITION: the database and the code no
// longer agree, and starting anyway would hide it.
absl::Status ApplyMigrations(const std::string& dsn, const std::string& schema,
                             const std::vector<MigrationSet>& sets);

// The migrations of the transactional outbox (common/migrations/outbox).
const std::vector<Migration>& outbox_migrations();

// Returns the sets a service that publishes events applies into its schema: its
// own (`name`, `own`) and the outbox's.
std::vector<MigrationSet> PublishingServiceMigrationSets(std::string name,
                                                         const std::vector<Migration>& own);

// The migrations of the consumers' record of handled events
// (common/migrations/processed_events), for services that consume events.
const std::vector<Migration>& processed_events_migrations();

}  // namespace samplan

#endif  // SAMPLAN_COMMON_MIGRATIONS_H_
