#include "common/migrations.h"

#include <openssl/sha.h>

#include <algorithm>

#include <pqxx/pqxx>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/status.h"

namespace samplan {
namespace {

std::string Sha256Hex(const std::string& text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

absl::Status ApplyLocked(pqxx::connection& connection, const std::string& schema,
                         const std::vector<MigrationSet>& sets) {
  {
    pqxx::work tx(connection);
    tx.exec(absl::StrCat("CREATE SCHEMA IF NOT EXISTS ", schema));
    tx.exec(absl::StrCat("CREATE TABLE IF NOT EXISTS ", schema, ".schema_migrations (",
                         "  migration_set text NOT NULL,"
                         "  name text NOT NULL,"
                         "  checksum text NOT NULL,"
                         "  applied_at timestamptz NOT NULL DEFAULT now(),"
                         "  PRIMARY KEY (migration_set, name))"));
    tx.commit();
  }
  for (const MigrationSet& set : sets) {
    std::vector<const Migration*> ordered;
    for (const Migration& migration : *set.migrations) ordered.push_back(&migration);
    std::sort(ordered.begin(), ordered.end(),
              [](const Migration* a, const Migration* b) { return a->name < b->name; });
    for (const Migration* migration : ordered) {
      const std::string checksum = Sha256Hex(migration->sql);
      pqxx::work tx(connection);
      pqxx::result applied = tx.exec_params(
          absl::StrCat("SELECT checksum FROM ", schema,
                       ".schema_migrations WHERE migration_set = $1 AND name = $2"),
          set.name, migration->name);
      if (!applied.empty()) {
        if (applied[0][0].as<std::string>() != checksum) {
          return absl::FailedPreconditionError(absl::StrCat(
              "migration ", set.name, "/", migration->name, " of schema ", schema,
              " was changed after it was applied; add a new migration instead"));
        }
        continue;
      }
      tx.exec(absl::StrCat("SET LOCAL search_path TO ", schema, ", public"));
      tx.exec(migration->sql);
      tx.exec_params(absl::StrCat("INSERT INTO ", schema,
                                  ".schema_migrations (migration_set, name, checksum) "
                                  "VALUES ($1, $2, $3)"),
                     set.name, migration->name, checksum);
      tx.commit();
      Log(LogLevel::kInfo, "applied migration",
          {{"schema", schema}, {"set", set.name}, {"migration", migration->name}});
    }
  }
  return absl::OkStatus();
}

// Returns whether every migration of `sets` is recorded in `schema` with its
// text unchanged, reading only: a server that runs as its service's role, which
// may not create anything, starts when the schema is current. Any doubt (the
// table missing or not readable, a migration missing or changed) answers false,
// and ApplyLocked then migrates or says what is wrong.
bool AllApplied(pqxx::connection& connection, const std::string& schema,
                const std::vector<MigrationSet>& sets) {
  size_t wanted = 0;
  for (const MigrationSet& set : sets) wanted += set.migrations->size();
  if (wanted == 0) return true;
  try {
    pqxx::work tx(connection);
    if (tx.exec_params1("SELECT to_regclass($1) IS NULL",
                        absl::StrCat(schema, ".schema_migrations"))[0]
            .as<bool>()) {
      return false;
    }
    pqxx::result applied = tx.exec(absl::StrCat(
        "SELECT migration_set, name, checksum FROM ", schema, ".schema_migrations"));
    size_t found = 0;
    for (const MigrationSet& set : sets) {
      for (const Migration& migration : *set.migrations) {
        bool same = false;
        for (const pqxx::row& row : applied) {
          if (row[0].as<std::string>() == set.name && row[1].as<std::string>() == migration.name) {
            same = row[2].as<std::string>() == Sha256Hex(migration.sql);
            break;
          }
        }
        if (!same) return false;
        ++found;
      }
    }
    return found == wanted;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

absl::Status ApplyMigrations(const std::string& dsn, const std::string& schema,
                             const std::vector<MigrationSet>& sets) {
  if (!IsPlainIdentifier(schema)) {
    return absl::InvalidArgumentError(absl::StrCat("bad schema name \"", schema, "\""));
  }
  absl::StatusOr<std::unique_ptr<pqxx::connection>> connection =
      OpenConnection(dsn, absl::StrCat("samplan-migrate-", schema));
  if (!connection.ok()) return connection.status();
  if (AllApplied(**connection, schema, sets)) return absl::OkStatus();
  try {
    // A session lock, held across the per-migration transactions; it is released
    // when the connection closes, also if this process dies.
    const std::string key = absl::StrCat("samplan.migrations.", schema);
    pqxx::nontransaction(**connection).exec_params("SELECT pg_advisory_lock(hashtext($1))", key);
    absl::Status status = ApplyLocked(**connection, schema, sets);
    pqxx::nontransaction(**connection).exec_params("SELECT pg_advisory_unlock(hashtext($1))", key);
    return status;
  } catch (const std::exception& e) {
    Log(LogLevel::kError, "migration failed", {{"schema", schema}, {"error", ErrorSummary(e)}});
    absl::Status status = StatusFromException(e);
    return absl::Status(status.code(), absl::StrCat("applying migrations of ", schema,
                                                    " failed: ", ErrorSummary(e)));
  }
}

std::vector<MigrationSet> PublishingServiceMigrationSets(std::string name,
                                                         const std::vector<Migration>& own) {
  return {{std::move(name), &own}, {"outbox", &outbox_migrations()}};
}

}  // namespace samplan
