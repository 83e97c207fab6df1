// Tier 3: least privilege in the database. Each service's server logs in as a
// member of its own role (samplan_<service>, identity migration 0007), which owns
// nothing. Here each role tries what a compromised or mistaken server must never
// do — change identity's persons, consents or the audit log, drop the trigger
// that keeps the log append-only, write into another service's schema, change a
// schema — and is refused by PostgreSQL every time; and each may still do what
// its service needs from the identity schema (the access facts, the audit
// appends). That the grants are enough for the services' work is shown by the
// other tier-3 tests, whose in-process services run as these roles.

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "common/migrations.h"
#include "services/placement/pg_placement_repository.h"
#include "services/surveys/pg_surveys_repository.h"
#include "tests/support/fixtures.h"
#include "tests/support/scheduling_stack.h"
#include "tests/support/service_roles.h"
#include "tests/support/suite.h"

namespace samplan {
namespace {

const std::vector<std::string> kServices = {"identity",   "caseplan", "placement",
                                            "scheduling", "surveys",  "events"};
const std::vector<std::string> kPublishingSchemas = {"identity", "caseplan", "placement",
                                                     "scheduling", "surveys"};

constexpr char kDenied[] = "permission denied";

class ServiceRolesTest : public testing::ServersSuite {
 protected:
  void SetUp() override {
    auto dsn = pg_->CreateDatabase();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
    ASSERT_TRUE(testing::MigrateIdentityAndCasePlan(dsn_).ok());
    ASSERT_TRUE(testing::InProcessScheduling::ApplyMigrations(dsn_).ok());
    ASSERT_TRUE(ApplyMigrations(dsn_, placement::kSchema, placement::PlacementMigrationSets()).ok());
    ASSERT_TRUE(ApplyMigrations(dsn_, surveys::kSchema, surveys::SurveysMigrationSets()).ok());
    // A person, a consent and an audit record, so that a refused change has rows
    // it would have changed.
    pqxx::connection owner(dsn_);
    pqxx::work tx(owner);
    tx.exec(
        "INSERT INTO identity.municipalities VALUES ('1885', 'Lindesberg', now());"
        "INSERT INTO identity.persons (id, municipality, owner_organization,"
        "  identity_number_kind, identity_number_sealed, identity_number_hash, given_name,"
        "  family_name, birth_date, create_time, update_time, create_request_id)"
        " VALUES ('7b6f1c1e-0d4c-4a7e-9a51-0a4c2b8e9f10', '1885', 'organizations/soc',"
        "  'personnummer', '\\x00', 'h', 'A', 'B', '1990-01-01', now(), now(), 'r');"
        "INSERT INTO identity.consents (id, person_id, municipality, grantee_organizations,"
        "  purpose, data_categories, valid_from, valid_until, given_by, method,"
        "  recorded_by_user, recorded_by_organization, create_time, create_request_id)"
        " VALUES ('5d0c4a77-3e0b-4f55-8f4b-6f5e8a7c2b11',"
        "  '7b6f1c1e-0d4c-4a7e-9a51-0a4c2b8e9f10', '1885', '{organizations/af}',"
        "  'coordination', '{plan}', now(), now() + interval '1 year', 'person', 'written',"
        "  'users/u', 'organizations/soc', now(), 'r');"
        "SELECT identity.append_audit(now(), '1885', 'users/u', 'organizations/soc',"
        "  'caseplan.GetPlan', 'plans/p', 'persons/7b6f1c1e-0d4c-4a7e-9a51-0a4c2b8e9f10',"
        "  'plan', 'coordination', '', 'permit', 'owner', 'req');");
    tx.commit();
  }

  // Runs `sql` as `service`'s role; returns kDenied when PostgreSQL refused it for
  // want of privilege (SQLSTATE 42501: "permission denied", "must be owner"), ""
  // when it succeeded (and then rolls it back), and any other error's message.
  std::string SqlStateAs(const std::string& service, const std::string& sql) {
    auto [known, inserted] = logins_.try_emplace(service);
    if (inserted) {
      absl::StatusOr<std::string> dsn = testing::ServiceRoleDsn(dsn_, service);
      EXPECT_TRUE(dsn.ok()) << dsn.status();
      if (!dsn.ok()) return "no login";
      known->second = *dsn;
    }
    pqxx::connection connection(known->second);
    pqxx::work tx(connection);
    try {
      tx.exec(sql);
      tx.abort();
      return "";
    } catch (const pqxx::insufficient_privilege&) {
      return kDenied;
    } catch (const pqxx::sql_error& e) {
      return e.what();
    }
  }

  std::string dsn_;
  // The DSN of each service's login, by service.
  std::map<std::string, std::string> logins_;
};

TEST_F(ServiceRolesTest, NoServiceChangesWhatIdentityAloneMayChange) {
  const std::string person = "id = '7b6f1c1e-0d4c-4a7e-9a51-0a4c2b8e9f10'";
  for (const std::string& service : kServices) {
    SCOPED_TRACE(service);
    if (service != "identity") {
      EXPECT_EQ(SqlStateAs(service, "UPDATE identity.persons SET owner_organization = "
                                    "'organizations/mine' WHERE " + person),
                kDenied);
      EXPECT_EQ(SqlStateAs(service, "UPDATE identity.consents SET grantee_organizations = "
                                    "'{organizations/mine}'"),
                kDenied);
      EXPECT_EQ(SqlStateAs(service, "SELECT given_name FROM identity.persons"),
                kDenied);
      EXPECT_EQ(SqlStateAs(service, "INSERT INTO identity.outbox (event_id, event_type,"
                                    " municipality, aggregate, aggregate_version, envelope)"
                                    " VALUES (gen_random_uuid(), 't', '1885', 'a', 1, '')"),
                kDenied);
    }
    if (service != "surveys") {
      EXPECT_EQ(SqlStateAs(service, "SELECT * FROM identity.survey_recipient("
                                    "'persons/7b6f1c1e-0d4c-4a7e-9a51-0a4c2b8e9f10',"
                                    " 'organizations/af', now())"),
                kDenied);
    }
    // Nobody, identity's server included, deletes persons or consents.
    EXPECT_EQ(SqlStateAs(service, "DELETE FROM identity.persons WHERE " + person),
              kDenied);
    EXPECT_EQ(SqlStateAs(service, "DELETE FROM identity.consents"), kDenied);
  }
}

TEST_F(ServiceRolesTest, NoServiceRewritesTheAuditLogOrItsGuard) {
  for (const std::string& service : kServices) {
    SCOPED_TRACE(service);
    for (const std::string& sql : std::vector<std::string>{
             "UPDATE identity.audit_records SET decision = 'deny'",
             "DELETE FROM identity.audit_records",
             "TRUNCATE identity.audit_records",
             "INSERT INTO identity.audit_records SELECT * FROM identity.audit_records",
             "UPDATE identity.audit_heads SET sequence = 0",
             "DELETE FROM identity.audit_heads",
             "DROP TRIGGER audit_records_append_only ON identity.audit_records",
             "ALTER TABLE identity.audit_records DISABLE TRIGGER audit_records_append_only",
             "CREATE OR REPLACE FUNCTION identity.audit_records_are_append_only()"
             " RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
         }) {
      EXPECT_EQ(SqlStateAs(service, sql), kDenied) << sql;
    }
  }
}

TEST_F(ServiceRolesTest, NoServiceWritesAnotherServicesSchemaOrChangesItsOwn) {
  for (const std::string& service : kServices) {
    SCOPED_TRACE(service);
    for (const std::string& schema : kPublishingSchemas) {
      if (schema == service) {
        EXPECT_EQ(SqlStateAs(service, "INSERT INTO " + schema + ".outbox (event_id, event_type,"
                                      " municipality, aggregate, aggregate_version, envelope)"
                                      " VALUES (gen_random_uuid(), 't', '1885', 'a', 1, '')"),
                  "");
      } else {
        EXPECT_EQ(SqlStateAs(service, "INSERT INTO " + schema + ".outbox (event_id, event_type,"
                                      " municipality, aggregate, aggregate_version, envelope)"
                                      " VALUES (gen_random_uuid(), 't', '1885', 'a', 1, '')"),
                  kDenied)
            << schema;
        EXPECT_EQ(SqlStateAs(service, "DELETE FROM " + schema + ".outbox"),
                  kDenied)
            << schema;
      }
      EXPECT_EQ(SqlStateAs(service, "CREATE TABLE " + schema + ".planted (x int)"),
                kDenied)
          << schema;
      EXPECT_EQ(SqlStateAs(service, "DELETE FROM " + schema + ".schema_migrations"),
                kDenied)
          << schema;
    }
    // Plans are never deleted, not even by caseplan's server.
    EXPECT_EQ(SqlStateAs(service, "DELETE FROM caseplan.plans"), kDenied);
    EXPECT_EQ(SqlStateAs(service, "CREATE SCHEMA planted"), kDenied);
  }
}

TEST_F(ServiceRolesTest, EveryServiceReadsFactsAndAppendsAuditThroughIdentitysFunctions) {
  for (const std::string& service : kServices) {
    SCOPED_TRACE(service);
    EXPECT_EQ(SqlStateAs(service, "SELECT * FROM identity.access_facts('organizations/af',"
                                  " 'persons/7b6f1c1e-0d4c-4a7e-9a51-0a4c2b8e9f10', 'plan',"
                                  " 'coordination', now())"),
              "");
    EXPECT_EQ(SqlStateAs(service, "SELECT identity.person_access_version("
                                  "'persons/7b6f1c1e-0d4c-4a7e-9a51-0a4c2b8e9f10')"),
              "");
    EXPECT_EQ(SqlStateAs(service, "SELECT identity.append_audit(now(), '1885', 'users/u',"
                                  " 'organizations/af', 'x.Y', 'plans/p',"
                                  " 'persons/7b6f1c1e-0d4c-4a7e-9a51-0a4c2b8e9f10', 'plan',"
                                  " 'coordination', '', 'deny', 'no_consent', 'req')"),
              "");
    EXPECT_EQ(SqlStateAs(service, "SELECT identity.append_audit_batch(ARRAY[now()],"
                                  " '{1885}', '{users/u}', '{organizations/af}', '{x.Y}',"
                                  " '{plans/p}', '{\"\"}', '{plan}', '{coordination}', '{\"\"}',"
                                  " '{deny}', '{not_found}', '{req}')"),
              "");
  }
  EXPECT_EQ(SqlStateAs("surveys", "SELECT * FROM identity.survey_recipient("
                                  "'persons/7b6f1c1e-0d4c-4a7e-9a51-0a4c2b8e9f10',"
                                  " 'organizations/af', now())"),
            "");
}

TEST_F(ServiceRolesTest, AServerRunningAsItsRoleFindsItsSchemaCurrentWithoutMigrating) {
  for (const auto& [schema, sets] : std::vector<std::pair<std::string, std::vector<MigrationSet>>>{
           {placement::kSchema, placement::PlacementMigrationSets()},
           {surveys::kSchema, surveys::SurveysMigrationSets()}}) {
    absl::StatusOr<std::string> dsn = testing::ServiceRoleDsn(dsn_, schema);
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    EXPECT_TRUE(ApplyMigrations(*dsn, schema, sets).ok()) << schema;
  }
}

}  // namespace
}  // namespace samplan
