// The audit log's group commit against a real PostgreSQL: concurrent reads each
// get exactly one record, on chains that verify, mixed with writes that append in
// their own transactions; and no read answered OK lacks its record when the
// database is killed in the middle of the batches.

#include "common/audit_log.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/access.h"
#include "common/pg.h"
#include "services/identity/audit_chain.h"
#include "tests/support/fixtures.h"
#include "tests/support/servers.h"

namespace samplan {
namespace {

using identity::AuditRecord;

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pg = testing::PostgresServer::Start();
    ASSERT_TRUE(pg.ok()) << pg.status();
    pg_ = *std::move(pg);
    auto dsn = pg_->CreateDatabase();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
    ASSERT_TRUE(testing::MigrateIdentityAndCasePlan(dsn_).ok());
    PgPoolOptions options;
    options.dsn = dsn_;
    options.size = 4;
    options.statements = AccessStatements();
    auto pool = PgPool::Create(options);
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *std::move(pool);
  }

  static AuditEntry Entry(const std::string& person, const std::string& request_id) {
    return {absl::Now(), "1885", "users/u-af", "organizations/af", "caseplan.GetPlan",
            "plans/00000000-0000-4000-8000-000000000001", person, "plan", "coordination",
            "", "permit", "consent", request_id};
  }

  // The chain of `person` as stored, in sequence order.
  // Returns the records of one chain: a person's, or (person "") one of the
  // chains of attempts that named no person, by its shard.
  std::vector<AuditRecord> Chain(const std::string& person, const std::string& shard = "") {
    pqxx::connection connection(dsn_);
    pqxx::work tx(connection);
    std::vector<AuditRecord> records;
    for (const pqxx::row& row : tx.exec_params(
             "SELECT sequence, (extract(epoch FROM time) * 1000000)::bigint, municipality, "
             "actor_user, actor_organization, action, resource, subject_person, data_category, "
             "purpose, consent, decision, reason, request_id, previous_hash, hash "
             "FROM identity.audit_records WHERE subject_person = $1 AND shard = $2"
             " ORDER BY sequence",
             person, shard)) {
      AuditRecord r;
      r.sequence = row[0].as<int64_t>();
      r.time = absl::FromUnixMicros(row[1].as<int64_t>());
      r.municipality = row[2].as<std::string>();
      r.actor_user = row[3].as<std::string>();
      r.actor_organization = row[4].as<std::string>();
      r.action = row[5].as<std::string>();
      r.resource = row[6].as<std::string>();
      r.subject_person = row[7].as<std::string>();
      r.data_category = row[8].as<std::string>();
      r.purpose = row[9].as<std::string>();
      r.consent = row[10].as<std::string>();
      r.decision = row[11].as<std::string>();
      r.reason = row[12].as<std::string>();
      r.request_id = row[13].as<std::string>();
      r.previous_hash = row[14].as<std::string>();
      r.hash = row[15].as<std::string>();
      records.push_back(std::move(r));
    }
    return records;
  }

  std::unique_ptr<testing::PostgresServer> pg_;
  std::string dsn_;
  std::unique_ptr<PgPool> pool_;
};

TEST_F(AuditLogTest, ConcurrentReadsAndWritesEachLeaveOneRecordOnChainsThatVerify) {
  AuditLog log(*pool_);
  const std::vector<std::string> persons = {
      "persons/00000000-0000-4000-8000-00000000000a",
      "persons/00000000-0000-4000-8000-00000000000b", ""};
  constexpr int kThreads = 8;
  constexpr int kEach = 60;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const AuditEntry entry =
            Entry(persons[(t + i) % persons.size()], absl::StrCat("read-", t, "-", i));
        if (!log.Append(entry, absl::Now() + absl::Seconds(20)).ok()) ++failures;
      }
    });
  }
  // A write appends in its own transaction, to the same chains, meanwhile.
  threads.emplace_back([&] {
    for (int i = 0; i < kEach; ++i) {
      absl::Status status = pool_->Transaction(
          absl::Now() + absl::Seconds(20), [&](pqxx::transaction_base& tx) {
            AppendAudit(tx, Entry(persons[i % persons.size()], absl::StrCat("write-", i)));
            return absl::OkStatus();
          });
      if (!status.ok()) ++failures;
    }
  });
  for (std::thread& thread : threads) thread.join();
  ASSERT_EQ(failures.load(), 0);

  std::multiset<std::string> ids;
  size_t total = 0;
  std::vector<std::pair<std::string, std::string>> chains;
  {
    pqxx::connection connection(dsn_);
    pqxx::work tx(connection);
    for (const pqxx::row& row :
         tx.exec("SELECT DISTINCT subject_person, shard FROM identity.audit_records")) {
      chains.emplace_back(row[0].as<std::string>(), row[1].as<std::string>());
    }
  }
  for (const auto& [person, shard] : chains) {
    const std::vector<AuditRecord> chain = Chain(person, shard);
    EXPECT_TRUE(identity::VerifyChain(chain).ok()) << identity::VerifyChain(chain);
    for (const AuditRecord& record : chain) ids.insert(record.request_id);
    total += chain.size();
  }
  EXPECT_EQ(total, size_t{kThreads * kEach + kEach});
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kEach; ++i) {
      ASSERT_EQ(ids.count(absl::StrCat("read-", t, "-", i)), 1u) << t << " " << i;
    }
  }
  for (int i = 0; i < kEach; ++i) ASSERT_EQ(ids.count(absl::StrCat("write-", i)), 1u);
}

TEST_F(AuditLogTest, NoReadAnsweredOkLacksItsRecordWhenTheDatabaseIsKilledMidBatch) {
  AuditLog log(*pool_);
  const std::string person = "persons/00000000-0000-4000-8000-00000000000c";
  std::atomic<bool> stop{false};
  absl::Mutex mu;
  std::vector<std::string> answered;  // request ids whose Append returned OK
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        const std::string id = absl::StrCat("read-", t, "-", i);
        if (log.Append(Entry(person, id), absl::Now() + absl::Milliseconds(500)).ok()) {
          absl::MutexLock lock(&mu);
          answered.push_back(id);
        } else {
          ++refused;
          absl::SleepFor(absl::Milliseconds(20));
        }
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(700));
  ASSERT_TRUE(pg_->Kill().ok());
  absl::SleepFor(absl::Milliseconds(700));
  ASSERT_TRUE(pg_->Restart().ok());
  absl::SleepFor(absl::Milliseconds(700));
  stop = true;
  for (std::thread& thread : threads) thread.join();

  EXPECT_GT(refused.load(), 0) << "the kill refused no read: it proved nothing";
  const std::vector<AuditRecord> chain = Chain(person);
  EXPECT_TRUE(identity::VerifyChain(chain).ok()) << identity::VerifyChain(chain);
  std::set<std::string> stored;
  for (const AuditRecord& record : chain) stored.insert(record.request_id);
  absl::MutexLock lock(&mu);
  EXPECT_GT(answered.size(), 20u);
  for (const std::string& id : answered) {
    EXPECT_EQ(stored.count(id), 1u) << id << " was answered without its audit record";
  }
}

}  // namespace
}  // namespace samplan
