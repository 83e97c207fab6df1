// Overdue follow-ups against real PostgreSQL, with a clock the test moves: a
// follow-up still proposed or booked after its end is listed for its
// coordinator (paged, each row decided and audited) and announced once with
// scheduling.followup.overdue — once across sweeps, and across a restart.

#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/ids.h"
#include "tests/support/fixtures.h"
#include "tests/support/scheduling_suite.h"
#include "tests/support/served_service.h"
#include "tests/support/suite.h"

namespace samplan::scheduling {
namespace {

using ::google::protobuf::util::TimeUtil;

// 09:00 in Stockholm (08:00 UTC), from Tuesday 2 February 2027.
absl::Time Morning(int day_offset = 0) {
  return absl::FromCivil(absl::CivilSecond(2027, 2, 2 + day_offset, 8, 0, 0), absl::UTCTimeZone());
}

google::protobuf::Timestamp Ts(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

class SchedulingOverdueTest : public testing::SchedulingSuite {
 protected:
  const Clock& ServiceClock() const override { return clock_; }

  // A meeting of `kind` about `person` led by prakt's coordinator, with af's
  // caseworker, an hour from `start`.
  v1::Meeting Meeting(const std::string& person, absl::Time start,
                      v1::MeetingKind kind = v1::MEETING_KIND_FOLLOW_UP) {
    v1::CreateMeetingRequest r;
    r.set_request_id(NewUuid());
    v1::Meeting* m = r.mutable_meeting();
    m->set_kind(kind);
    m->set_person(person);
    *m->mutable_start_time() = Ts(start);
    *m->mutable_end_time() = Ts(start + absl::Hours(1));
    v1::Participant* af = m->add_participants();
    af->set_user("users/u-af");
    af->set_organization("organizations/af");
    m->add_participants()->set_is_person(true);
    v1::Meeting created;
    grpc::Status status =
        stub_->CreateMeeting(As("prakt", "placement_coordinator").get(), r, &created);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return created;
  }

  std::vector<std::string> Overdue(const std::string& org, const std::string& coordinator = "",
                                   int page_size = 0, grpc::Status* status_out = nullptr,
                                   const std::string& role = "caseworker") {
    std::vector<std::string> names;
    v1::ListOverdueFollowUpsRequest request;
    request.set_coordinator(coordinator);
    request.set_page_size(page_size);
    do {
      v1::ListOverdueFollowUpsResponse response;
      grpc::Status status = stub_->ListOverdueFollowUps(As(org, role).get(), request, &response);
      if (status_out != nullptr) *status_out = status;
      if (!status.ok()) return names;
      for (const v1::Meeting& m : response.meetings()) names.push_back(m.name());
      request.set_page_token(response.next_page_token());
    } while (!request.page_token().empty());
    return names;
  }

  int64_t Announced() {
    pqxx::connection connection(dsn_);
    pqxx::nontransaction tx(connection);
    return tx.exec("SELECT count(*) FROM scheduling.outbox"
                   " WHERE event_type = 'scheduling.followup.overdue'")[0][0]
        .as<int64_t>();
  }

  FakeClock clock_{Morning(-1)};
};

TEST_F(SchedulingOverdueTest, AFollowUpNotHeldByItsTimeIsListedForItsCoordinator) {
  const std::string anna = (*persons_)("anna");
  persons_->GrantConsent(anna, "organizations/prakt", "attendance", "coordination");
  persons_->GrantConsent(anna, "organizations/af", "attendance", "coordination");
  const v1::Meeting early = Meeting(anna, Morning() - absl::Hours(2));
  const v1::Meeting missed = Meeting(anna, Morning());
  const v1::Meeting held = Meeting(anna, Morning(1));
  const v1::Meeting later = Meeting(anna, Morning(5));
  Meeting(anna, Morning() + absl::Hours(3), v1::MEETING_KIND_PLANNING);  // not a follow-up

  // Before any has ended, nothing is overdue.
  EXPECT_TRUE(Overdue("prakt").empty());

  clock_.Set(Morning(1) + absl::Hours(2));
  v1::FulfilMeetingRequest fulfil;
  fulfil.set_name(held.name());
  v1::Meeting fulfilled;
  ASSERT_TRUE(stub_->FulfilMeeting(As("prakt").get(), fulfil, &fulfilled).ok());

  // The coordinator's own list (the caller's by default), page by page.
  EXPECT_EQ(Overdue("prakt", "", 1), (std::vector<std::string>{early.name(), missed.name()}));
  // af takes part with the person's consent and sees them too; an
  // organization without the consent sees none, and each refusal is audited.
  EXPECT_EQ(Overdue("af", "users/u-prakt"),
            (std::vector<std::string>{early.name(), missed.name()}));
  EXPECT_TRUE(Overdue("kom", "users/u-prakt").empty());
  {
    pqxx::connection connection(dsn_);
    pqxx::nontransaction tx(connection);
    EXPECT_EQ(tx.exec_params("SELECT count(*) FROM identity.audit_records WHERE action ="
                             " 'scheduling.ListOverdueFollowUps' AND actor_organization ="
                             " 'organizations/kom' AND decision = 'deny'")[0][0]
                  .as<int64_t>(),
              2);
  }
  // Held later, it leaves the list.
  fulfil.set_name(missed.name());
  ASSERT_TRUE(stub_->FulfilMeeting(As("prakt").get(), fulfil, &fulfilled).ok());
  EXPECT_EQ(Overdue("prakt"), std::vector<std::string>{early.name()});

  grpc::Status status;
  Overdue("prakt", "coordinators/x", 0, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(testing::ViolatedFields(status), std::vector<std::string>{"coordinator"});
  Overdue("mgr", "users/u-prakt", 0, &status, "manager");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  (void)later;
}

TEST_F(SchedulingOverdueTest, EachOverdueFollowUpIsAnnouncedOnceAcrossSweepsAndRestarts) {
  const std::string bo = (*persons_)("bo");
  persons_->GrantConsent(bo, "organizations/prakt", "attendance", "coordination");
  persons_->GrantConsent(bo, "organizations/af", "attendance", "coordination");
  Meeting(bo, Morning());
  Meeting(bo, Morning(1));
  const v1::Meeting later = Meeting(bo, Morning(5));

  auto sweep = [&] {
    absl::StatusOr<int> n =
        AnnounceOverdueFollowUps(service_->pool(), service_->outbox(), clock_.Now(), 100);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : -1;
  };
  EXPECT_EQ(sweep(), 0);
  clock_.Set(Morning(1) + absl::Hours(2));
  EXPECT_EQ(sweep(), 2);
  EXPECT_EQ(sweep(), 0);
  EXPECT_EQ(Announced(), 2);

  // A restarted process announces nothing again.
  StartService();
  EXPECT_EQ(sweep(), 0);
  EXPECT_EQ(Announced(), 2);

  // The process's own sweeper, on the same clock, takes the next one.
  clock_.Set(Morning(6));
  OverdueSweeper sweeper(service_->pool(), service_->outbox(), clock_, absl::Milliseconds(20));
  sweeper.Start();
  for (int i = 0; i < 250 && Announced() < 3; ++i) absl::SleepFor(absl::Milliseconds(20));
  absl::SleepFor(absl::Milliseconds(100));  // several more rounds
  sweeper.Stop();
  EXPECT_EQ(Announced(), 3);
  {
    pqxx::connection connection(dsn_);
    pqxx::nontransaction tx(connection);
    EXPECT_EQ(tx.exec_params("SELECT count(*) FROM scheduling.outbox WHERE event_type ="
                             " 'scheduling.followup.overdue' AND aggregate = $1",
                             later.name())[0][0]
                  .as<int64_t>(),
              1);
  }
}

}  // namespace
}  // namespace samplan::scheduling
