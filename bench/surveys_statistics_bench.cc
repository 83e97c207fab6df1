// GetOutcomeStatistics over 100,000 outcome records, grouped by each dimension,
// with primary and complementary suppression:
//
// 1. pure: BuildStatistics (services/surveys/statistics.h) over facts generated
//    in memory — the cost of counting and suppressing;
// 2. PostgreSQL: the same records inserted into a PostgreSQL the benchmark
//    starts, then what the call does after authentication — the facts read
//    with the repository's statement (PgSurveysRepository::LoadOutcomeFacts),
//    counted and suppressed.
//
// Prints p50, p99 and max per call and whether the goal (p99 <= 200 ms) is met.
//
//   build/bench/surveys_statistics_bench [records] [calls]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/migrations.h"
#include "common/outbox.h"
#include "services/surveys/pg_surveys_repository.h"
#include "services/surveys/statistics.h"
#include "tests/support/identity_stack.h"
#include "tests/support/servers.h"

namespace {

using namespace samplan;
using namespace samplan::surveys;
using Steady = std::chrono::steady_clock;

const v1::Dimension kDimensions[] = {v1::DIMENSION_UNSPECIFIED, v1::DIMENSION_GENDER,
                                     v1::DIMENSION_AGE_BAND, v1::DIMENSION_ACTIVITY_KIND,
                                     v1::DIMENSION_ORGANIZATION};

struct Figures {
  double p50, p99, max;
};

Figures Of(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 99 / 100)], ms.back()};
}

void Print(const char* what, v1::Dimension d, const Figures& f) {
  std::printf("%-10s %-24s p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  %s\n", what,
              v1::Dimension_Name(d).c_str(), f.p50, f.p99, f.max,
              f.p99 <= 200 ? "goal met (p99 <= 200 ms)" : "GOAL MISSED (p99 > 200 ms)");
}

}  // namespace

int main(int argc, char** argv) {
  const int records = argc > 1 ? std::atoi(argv[1]) : 100000;
  const int calls = argc > 2 ? std::atoi(argv[2]) : 50;

  // 1. Pure.
  std::mt19937 random(1885);
  std::vector<OutcomeFacts> facts(records);
  for (OutcomeFacts& f : facts) {
    // Mostly women and men; another or unknown gender rare, so that small
    // cells (and their complementary suppression) occur in every table.
    const uint32_t g = random() % 10000;
    f.gender = g < 3 ? v1::GENDER_OTHER : g < 12 ? v1::GENDER_UNKNOWN
               : g % 2 == 0 ? v1::GENDER_FEMALE : v1::GENDER_MALE;
    f.age_at_entry = 15 + static_cast<int>(random() % 50);
    f.activity_kind = static_cast<v1::ActivityKind>(1 + random() % 4);
    f.organization = absl::StrCat("organizations/org-", random() % 4000 == 0 ? 12 : random() % 12);
    f.entry_occupation = static_cast<v1::Occupation>(1 + random() % 4);
    f.has_exit = random() % 3 != 0;
    if (f.has_exit) {
      f.exit_occupation = static_cast<v1::Occupation>(1 + random() % 4);
      f.three_months = static_cast<v1::StatusSource>(random() % 3);
      f.six_months = static_cast<v1::StatusSource>(random() % 3);
      f.six_months_occupation = static_cast<v1::Occupation>(1 + random() % 4);
      f.extent_grew = random() % 2 == 0;
    }
  }
  std::printf("%d outcome records, %d calls per figure\n", records, calls);
  for (v1::Dimension d : kDimensions) {
    std::vector<double> ms;
    int suppressed = 0;
    for (int i = 0; i < calls; ++i) {
      v1::OutcomeStatistics out;
      const auto start = Steady::now();
      if (!BuildStatistics(facts, d, 5, {}, out).ok()) return 1;
      ms.push_back(std::chrono::duration<double, std::milli>(Steady::now() - start).count());
      if (i == 0) {
        for (const auto& t : out.tables()) {
          for (const auto& r : t.rows()) {
            for (const auto& c : r.cells()) suppressed += c.suppressed();
            suppressed += r.total().suppressed();
          }
        }
      }
    }
    Print("pure", d, Of(ms));
    std::printf("%-10s %-24s %d cells suppressed\n", "", "", suppressed);
  }

  // 2. PostgreSQL.
  auto pg = testing::PostgresServer::Start();
  if (!pg.ok()) {
    std::fprintf(stderr, "PostgreSQL: %s\n", pg.status().ToString().c_str());
    return 1;
  }
  auto dsn = (*pg)->CreateDatabase();
  if (!dsn.ok() || !testing::InProcessIdentity::ApplyIdentityMigrations(*dsn).ok() ||
      !ApplyMigrations(*dsn, kSchema, SurveysMigrationSets()).ok()) {
    std::fprintf(stderr, "migrations failed\n");
    return 1;
  }
  {
    pqxx::connection c(*dsn);
    pqxx::work tx(c);
    // The generated records as the repository stores them (content aside).
    tx.exec_params(
        "INSERT INTO surveys.outcomes (id, municipality, person, owner_organization, activity,"
        "  activity_kind, gender, age_at_entry, entry_date, entry_occupation, entry_extent,"
        "  exit_occupation, three_months_source, six_months_source, six_months_occupation,"
        "  six_months_extent, version, content, create_time, update_time, create_request_id,"
        "  create_fingerprint)"
        " SELECT gen_random_uuid(), '1885', '', 'organizations/org-' || (i % 12), 'agreements/x',"
        "  (ARRAY['ACTIVITY_KIND_WORK_PRACTICE','ACTIVITY_KIND_PRAO','ACTIVITY_KIND_EDUCATION',"
        "         'ACTIVITY_KIND_PLAN_ACTIVITY'])[1 + i % 4],"
        "  CASE WHEN i % 5000 = 7 THEN 'GENDER_OTHER' WHEN i % 1000 = 3 THEN 'GENDER_UNKNOWN'"
        "       WHEN i % 2 = 0 THEN 'GENDER_FEMALE' ELSE 'GENDER_MALE' END,"
        "  15 + i % 50, date '2025-01-01' + (i % 600),"
        "  (ARRAY['OCCUPATION_WORK','OCCUPATION_STUDIES','OCCUPATION_LOOKING_FOR_WORK',"
        "         'OCCUPATION_OTHER'])[1 + (i / 3) % 4], i % 101,"
        "  CASE WHEN i % 3 = 0 THEN NULL ELSE 'OCCUPATION_WORK' END,"
        "  CASE WHEN i % 3 = 0 THEN NULL ELSE 'STATUS_SOURCE_ANSWERS' END,"
        "  CASE WHEN i % 3 = 0 OR i % 5 = 0 THEN NULL ELSE 'STATUS_SOURCE_ANSWERS' END,"
        "  CASE WHEN i % 3 = 0 OR i % 5 = 0 THEN NULL ELSE"
        "    (ARRAY['OCCUPATION_WORK','OCCUPATION_STUDIES','OCCUPATION_LOOKING_FOR_WORK',"
        "           'OCCUPATION_OTHER'])[1 + (i / 11) % 4] END,"
        "  CASE WHEN i % 3 = 0 OR i % 5 = 0 THEN NULL ELSE (i * 7) % 101 END,"
        "  1, ''::bytea, now(), now(), 'bench-' || i, ''"
        " FROM generate_series(1, $1) AS i",
        records);
    tx.exec("ANALYZE surveys.outcomes");
    tx.commit();
  }
  Outbox outbox(kSchema);
  auto pool = PgPool::Create({*dsn, 2, absl::Seconds(30), "bench", SurveysRepositoryStatements(outbox)});
  if (!pool.ok()) return 1;
  PgSurveysRepository repository(**pool, outbox);
  for (v1::Dimension d : kDimensions) {
    std::vector<double> ms;
    for (int i = 0; i < calls; ++i) {
      const auto start = Steady::now();
      StatisticsQuery query;
      query.municipality = "1885";
      auto loaded = repository.LoadOutcomeFacts(query, absl::Now() + absl::Seconds(30));
      if (!loaded.ok()) return 1;
      int64_t counted = 0;
      for (const OutcomeFacts& f : *loaded) counted += f.count;
      if (counted != records) return 1;
      v1::OutcomeStatistics out;
      if (!BuildStatistics(*loaded, d, 5, {}, out).ok()) return 1;
      ms.push_back(std::chrono::duration<double, std::milli>(Steady::now() - start).count());
    }
    Print("postgres", d, Of(ms));
  }
  return 0;
}
