// "Vad hände sen?" invitations at volume: N invitations due at once (default
// 10,000), each sent (consent and address checked in identity, a token made,
// the notification written) and delivered over SMTP to a real sink
// (python3-aiosmtpd, as the tests and the local stack run it), by S senders
// working side by side as replicas would (FOR UPDATE SKIP LOCKED).
//
// Prints how long the queueing (ScheduleDue) and the delivery took, and checks
// that the sink got each notification exactly once (one message per
// Message-ID, as many as invitations) — goal: all of it within 30 s.
//
//   build/bench/surveys_invitations_bench [invitations] [senders]

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/migrations.h"
#include "common/outbox.h"
#include "services/surveys/invitation_dispatcher.h"
#include "services/surveys/mailer.h"
#include "services/surveys/pg_invitation_repository.h"
#include "services/surveys/pg_surveys_repository.h"
#include "services/surveys/questionnaire_rules.h"
#include "tests/support/identity_stack.h"
#include "tests/support/servers.h"
#include "tests/support/smtp_sink.h"

namespace {

using namespace samplan;
using namespace samplan::surveys;
using Steady = std::chrono::steady_clock;

double Seconds(Steady::time_point since) {
  return std::chrono::duration<double>(Steady::now() - since).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int invitations = argc > 1 ? std::atoi(argv[1]) : 10000;
  const int senders = argc > 2 ? std::atoi(argv[2]) : 2;
  auto pg = testing::PostgresServer::Start();
  auto sink = testing::SmtpSink::Start();
  if (!pg.ok() || !sink.ok()) {
    std::fprintf(stderr, "servers: %s %s\n", pg.status().ToString().c_str(),
                 sink.status().ToString().c_str());
    return 1;
  }
  auto dsn = (*pg)->CreateDatabase();
  if (!dsn.ok() || !testing::InProcessIdentity::ApplyIdentityMigrations(*dsn).ok() ||
      !ApplyMigrations(*dsn, kSchema, SurveysMigrationSets()).ok()) {
    std::fprintf(stderr, "migrations failed\n");
    return 1;
  }
  {
    // N persons of 1885 with an address and a consent for prakt to follow them
    // up, and an invitation of each that fell due an hour ago.
    pqxx::connection c(*dsn);
    pqxx::work tx(c);
    tx.exec("INSERT INTO identity.municipalities (code, display_name, create_time)"
            " VALUES ('1885', '1885', now()) ON CONFLICT DO NOTHING");
    tx.exec_params(
        "INSERT INTO identity.persons (id, municipality, owner_organization, identity_number_kind,"
        "  identity_number_sealed, identity_number_hash, given_name, family_name, birth_date,"
        "  email, create_time, update_time, create_request_id)"
        " SELECT md5(i::text)::uuid, '1885', 'organizations/soc', 'personnummer', '\\x00',"
        "  'bench-' || i, 'Test', 'Person', '1990-01-01', 'p' || i || '@example.org',"
        "  now(), now(), 'bench-' || i FROM generate_series(1, $1) AS i",
        invitations);
    tx.exec("INSERT INTO identity.consents (id, person_id, municipality, grantee_organizations,"
            "  purpose, data_categories, valid_from, valid_until, given_by, method,"
            "  recorded_by_user, recorded_by_organization, create_time, create_request_id)"
            " SELECT gen_random_uuid(), id, '1885', ARRAY['organizations/prakt'], 'follow_up',"
            "  ARRAY['outcome'], now() - interval '1 day', now() + interval '1 year', 'person',"
            "  'written', 'users/test', 'organizations/soc', now(), id::text"
            " FROM identity.persons");
    tx.exec("INSERT INTO surveys.invitations (id, rule, municipality, person, owner_organization,"
            "  activity, wave, questionnaire, status, due_time, source_event, create_time,"
            "  update_time)"
            " SELECT gen_random_uuid(), 'agreement-completed-3m', '1885', 'persons/' || id,"
            "  'organizations/prakt', 'agreements/' || id, 'three_months', 'vad-hande-sen',"
            "  'scheduled', now() - interval '1 hour', 'bench', now(), now()"
            " FROM identity.persons");
    tx.exec("ANALYZE");
    tx.commit();
  }
  Outbox outbox(kSchema);
  auto pool = PgPool::Create({*dsn, senders + 1, absl::Seconds(30), "bench",
                              SurveysRepositoryStatements(outbox)});
  if (!pool.ok()) return 1;
  PgSurveysRepository surveys(**pool, outbox);
  if (!surveys.InstallShipped(ShippedQuestionnaires(), absl::Now() + absl::Seconds(10)).ok()) return 1;
  PgInvitationRepository repository(**pool, outbox,
                                    DeliveryOptions{"https://samplan.example", "vhs@bench.example", 100});

  std::printf("%d invitations due, %d senders\n", invitations, senders);
  const auto start = Steady::now();
  // Each sender is what one replica's loop does: send what is due, then deliver.
  std::vector<std::unique_ptr<CurlMailer>> mailers;
  std::vector<std::unique_ptr<InvitationDispatcher>> dispatchers;
  for (int i = 0; i < senders; ++i) {
    mailers.push_back(std::make_unique<CurlMailer>(SmtpOptions{(*sink)->Url(), absl::Seconds(30)}));
    dispatchers.push_back(std::make_unique<InvitationDispatcher>(repository, *mailers.back(),
                                                                 absl::Seconds(1)));
  }
  std::vector<double> queued(senders), delivered(senders);
  std::vector<int> handled(senders);
  std::vector<std::thread> threads;
  bool failed = false;
  for (int i = 0; i < senders; ++i) {
    threads.emplace_back([&, i] {
      // RunOnce: ScheduleDue until nothing is due, then DeliverNext until none.
      for (;;) {
        auto written = repository.ScheduleDue(absl::Now(), absl::Now() + absl::Seconds(30));
        if (!written.ok()) { failed = true; return; }
        if (*written == 0) break;
      }
      queued[i] = Seconds(start);
      auto round = dispatchers[i]->RunOnce(invitations);
      if (!round.ok()) { failed = true; return; }
      handled[i] = *round;
      delivered[i] = Seconds(start);
    });
  }
  for (std::thread& t : threads) t.join();
  if (failed) {
    std::fprintf(stderr, "a round failed\n");
    return 1;
  }
  const size_t received = (*sink)->WaitForMessages(invitations, absl::Seconds(60));
  const double total = Seconds(start);
  std::set<std::string> ids;
  for (const std::string& m : (*sink)->Messages()) ids.insert(testing::MailHeader(m, "Message-ID"));
  double queue_end = 0, deliver_end = 0;
  for (int i = 0; i < senders; ++i) {
    queue_end = std::max(queue_end, queued[i]);
    deliver_end = std::max(deliver_end, delivered[i]);
    std::printf("sender %d: delivered %d\n", i, handled[i]);
  }
  std::printf("queued (sent to the notifications outbox): %.2f s\n", queue_end);
  std::printf("handed to the SMTP sink:                   %.2f s\n", deliver_end);
  std::printf("in the sink:                               %zu messages, %zu Message-IDs, %.2f s\n",
              received, ids.size(), total);
  {
    pqxx::connection c(*dsn);
    pqxx::nontransaction tx(c);
    for (const pqxx::row& r : tx.exec("SELECT reminder, status, count(*) FROM surveys.notifications"
                                      " GROUP BY 1, 2 ORDER BY 1, 2")) {
      std::printf("notifications: reminder %s %s: %s\n", r[0].c_str(), r[1].c_str(), r[2].c_str());
    }
  }
  const bool once = received == static_cast<size_t>(invitations) && ids.size() == received;
  std::printf("%s; %s\n", once ? "each exactly once" : "NOT EXACTLY ONCE",
              total <= 30 ? "goal met (<= 30 s)" : "GOAL MISSED (> 30 s)");
  return once ? 0 : 1;
}
