// Tier 3: group intakes through the scheduling service in-process, over real
// PostgreSQL and the identity schema's persons, consents and audit log: the
// last seat taken by many enrolments at once has exactly one winner, a freed
// seat goes to the first on the waiting list (by priority when the session
// says so), consent decides who enrols and who sees the start list, the split
// into teaching groups is stored and announced, and bad input changes nothing.

#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <barrier>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "services/scheduling/meeting_rules.h"
#include "tests/support/fixtures.h"
#include "tests/support/scheduling_suite.h"
#include "tests/support/served_service.h"
#include "tests/support/suite.h"

namespace samplan::scheduling {
namespace {

using testing::ViolatedFields;

class SchedulingIntakeTest : public testing::SchedulingSuite {
 protected:
  // vux runs the intakes; its teachers call.
  SchedulingIntakeTest() {
    default_role_ = "teacher";
    consented_organizations_ = {"vux", "af"};
  }

  v1::IntakeSession Session(int capacity, v1::WaitlistPolicy policy) {
    v1::CreateIntakeSessionRequest r;
    r.set_request_id(NewUuid());
    r.mutable_intake_session()->set_title("SFI-start");
    *r.mutable_intake_session()->mutable_start_time() =
        TimestampOf(absl::Now() + absl::Hours(24 * 14));
    r.mutable_intake_session()->set_capacity(capacity);
    r.mutable_intake_session()->set_waitlist_policy(policy);
    v1::IntakeSession s;
    grpc::Status status = stub_->CreateIntakeSession(As("vux").get(), r, &s);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return s;
  }

  grpc::Status Enrol(const std::string& org, const v1::IntakeSession& s,
                     const std::string& person, v1::IntakeEnrolment* out, int priority = 0,
                     const std::string& level = "") {
    v1::EnrolInIntakeRequest r;
    r.set_parent(s.name());
    r.mutable_enrolment()->set_person(person);
    r.mutable_enrolment()->set_priority(priority);
    if (priority > 0) r.mutable_enrolment()->set_priority_reason("akut behov");
    if (!level.empty()) (*r.mutable_enrolment()->mutable_attributes())["swedish_level"] = level;
    return stub_->EnrolInIntake(As(org).get(), r, out);
  }
};

TEST_F(SchedulingIntakeTest, ManyEnrolmentsForTheLastSeatAtOnceHaveExactlyOneWinner) {
  constexpr int kAtOnce = 8;
  std::vector<std::string> persons;
  for (int i = 0; i < 2 + kAtOnce * 3; ++i) persons.push_back(ConsentingPerson(absl::StrCat("p", i)));
  for (int round = 0; round < 3; ++round) {
    const v1::IntakeSession s = Session(3, v1::WAITLIST_POLICY_FIRST_COME);
    v1::IntakeEnrolment first;
    ASSERT_TRUE(Enrol("vux", s, persons[0], &first).ok());
    ASSERT_TRUE(Enrol("vux", s, persons[1], &first).ok());
    std::barrier start(kAtOnce);
    std::vector<grpc::Status> results(kAtOnce);
    std::vector<v1::IntakeEnrolment> enrolments(kAtOnce);
    std::vector<std::thread> threads;
    for (int i = 0; i < kAtOnce; ++i) {
      threads.emplace_back([&, i] {
        v1::EnrolInIntakeRequest r;
        r.set_parent(s.name());
        r.mutable_enrolment()->set_person(persons[2 + round * kAtOnce + i]);
        auto context = As(i % 2 == 0 ? "vux" : "af");
        start.arrive_and_wait();
        results[i] = stub_->EnrolInIntake(context.get(), r, &enrolments[i]);
      });
    }
    for (std::thread& t : threads) t.join();
    int seats = 0;
    std::set<int> positions;
    for (int i = 0; i < kAtOnce; ++i) {
      ASSERT_TRUE(results[i].ok()) << results[i].error_message();
      if (enrolments[i].status() == v1::ENROLMENT_STATUS_ENROLLED) {
        ++seats;
      } else {
        EXPECT_EQ(enrolments[i].status(), v1::ENROLMENT_STATUS_WAITLISTED);
        positions.insert(enrolments[i].waitlist_position());
      }
    }
    EXPECT_EQ(seats, 1) << "round " << round;
    EXPECT_EQ(positions, (std::set<int>{1, 2, 3, 4, 5, 6, 7}));
    v1::GetIntakeSessionRequest get;
    get.set_name(s.name());
    v1::IntakeSession after;
    ASSERT_TRUE(stub_->GetIntakeSession(As("af").get(), get, &after).ok());
    EXPECT_EQ(after.enrolled_count(), 3);
    EXPECT_EQ(after.waitlisted_count(), kAtOnce - 1);
    EXPECT_EQ(after.revision(), 1 + 2 + kAtOnce);
  }
  EXPECT_EQ(Count("SELECT count(*) FROM scheduling.intake_enrolments"
                  " WHERE status = 'ENROLMENT_STATUS_ENROLLED'"),
            9);
}

TEST_F(SchedulingIntakeTest, AFreedSeatGoesToTheFirstOnTheWaitingListByPriority) {
  const v1::IntakeSession s = Session(2, v1::WAITLIST_POLICY_PRIORITY);
  const std::string anna = ConsentingPerson("anna"), bo = ConsentingPerson("bo"),
                    cem = ConsentingPerson("cem"), dana = ConsentingPerson("dana");
  v1::IntakeEnrolment a, b, c, d;
  ASSERT_TRUE(Enrol("vux", s, anna, &a).ok());
  ASSERT_TRUE(Enrol("af", s, bo, &b).ok());
  ASSERT_TRUE(Enrol("vux", s, cem, &c, 10).ok());
  ASSERT_TRUE(Enrol("af", s, dana, &d, 50).ok());
  EXPECT_EQ(c.status(), v1::ENROLMENT_STATUS_WAITLISTED);
  EXPECT_EQ(c.waitlist_position(), 1);
  EXPECT_EQ(d.waitlist_position(), 1);  // higher priority: ahead of cem

  // af enrolled bo and may withdraw the enrolment; dana moves up.
  v1::WithdrawFromIntakeRequest withdraw;
  withdraw.set_name(b.name());
  withdraw.set_reason("fick arbete");
  withdraw.set_etag(b.etag());
  v1::IntakeEnrolment withdrawn;
  grpc::Status status = stub_->WithdrawFromIntake(As("af").get(), withdraw, &withdrawn);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(withdrawn.status(), v1::ENROLMENT_STATUS_WITHDRAWN);
  EXPECT_EQ(withdrawn.revision(), 2);
  // Twice is refused and changes nothing.
  EXPECT_EQ(stub_->WithdrawFromIntake(As("af").get(), withdraw, &withdrawn).error_code(),
            grpc::StatusCode::ABORTED);

  v1::ListIntakeEnrolmentsRequest list;
  list.set_parent(s.name());
  v1::ListIntakeEnrolmentsResponse page;
  ASSERT_TRUE(stub_->ListIntakeEnrolments(As("vux").get(), list, &page).ok());
  ASSERT_EQ(page.enrolments_size(), 4);
  EXPECT_EQ(page.enrolments(0).person(), anna);
  EXPECT_EQ(page.enrolments(1).person(), dana);
  EXPECT_EQ(page.enrolments(1).status(), v1::ENROLMENT_STATUS_ENROLLED);
  EXPECT_EQ(page.enrolments(2).person(), cem);
  EXPECT_EQ(page.enrolments(2).waitlist_position(), 1);
  EXPECT_EQ(page.enrolments(3).person(), bo);
  // Announced through the outbox, each naming its person; the move up audited.
  EXPECT_EQ(Count("SELECT count(*) FROM scheduling.outbox"
                  " WHERE event_type = 'scheduling.intake.enrolled'"),
            3);
  EXPECT_EQ(Count("SELECT count(*) FROM scheduling.outbox"
                  " WHERE event_type = 'scheduling.intake.waitlisted'"),
            2);
  EXPECT_EQ(Count("SELECT count(*) FROM scheduling.outbox"
                  " WHERE event_type = 'scheduling.intake.withdrawn'"),
            1);
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM identity.audit_records WHERE resource = '",
                               page.enrolments(1).name(),
                               "' AND reason = 'waitlist_moved_up'")),
            1);
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM scheduling.intake_revisions"
                               " WHERE resource = '", s.name(), "'")),
            6);
}

TEST_F(SchedulingIntakeTest, ConsentDecidesWhoEnrolsAndWhoSeesTheStartList) {
  const v1::IntakeSession s = Session(20, v1::WAITLIST_POLICY_FIRST_COME);
  // Only af has the person's consent; vux, which runs the intake, has none.
  const std::string erik = (*persons_)("erik");
  persons_->GrantConsent(erik, "organizations/af", "attendance", "coordination");
  v1::IntakeEnrolment e;
  grpc::Status status = Enrol("af", s, erik, &e);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("organizations/vux"), std::string::npos);
  // fk has no consent at all: refused, and the refusal audited.
  EXPECT_EQ(Enrol("fk", s, erik, &e).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Count("SELECT count(*) FROM identity.audit_records"
                  " WHERE action = 'scheduling.EnrolInIntake' AND decision = 'deny'"
                  " AND reason = 'no_consent'"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM scheduling.intake_enrolments"), 0);

  // With vux's consent too, af enrols erik; fk's list is empty, vux's not.
  persons_->GrantConsent(erik, "organizations/vux", "attendance", "coordination");
  ASSERT_TRUE(Enrol("af", s, erik, &e).ok());
  EXPECT_EQ(Enrol("vux", s, erik, &e).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  v1::ListIntakeEnrolmentsRequest list;
  list.set_parent(s.name());
  v1::ListIntakeEnrolmentsResponse page;
  ASSERT_TRUE(stub_->ListIntakeEnrolments(As("fk").get(), list, &page).ok());
  EXPECT_EQ(page.enrolments_size(), 0);
  ASSERT_TRUE(stub_->ListIntakeEnrolments(As("vux").get(), list, &page).ok());
  EXPECT_EQ(page.enrolments_size(), 1);
  // Managers see no personal data; another municipality sees no session.
  EXPECT_EQ(stub_->ListIntakeEnrolments(As("vux", "manager").get(), list, &page).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::GetIntakeSessionRequest get;
  get.set_name(s.name());
  v1::IntakeSession other;
  EXPECT_EQ(stub_->GetIntakeSession(
                    testing::CallWithToken(keys_->Token("vux", "teacher", "0180")).get(), get,
                    &other)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(SchedulingIntakeTest, TheStartListSplitsIntoBalancedTeachingGroups) {
  const v1::IntakeSession s = Session(20, v1::WAITLIST_POLICY_FIRST_COME);
  const char* levels = "AABBBBCCCDAABBBBCCCD";
  for (int i = 0; i < 20; ++i) {
    v1::IntakeEnrolment e;
    ASSERT_TRUE(
        Enrol("vux", s, ConsentingPerson(absl::StrCat("s", i)), &e, 0, std::string(1, levels[i]))
            .ok());
  }
  v1::SplitIntakeGroupsRequest split;
  split.set_name(s.name());
  split.set_balance_attribute("swedish_level");
  v1::IntakeGroups groups;
  // Only the session's owner splits.
  EXPECT_EQ(stub_->SplitIntakeGroups(As("af").get(), split, &groups).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status status = stub_->SplitIntakeGroups(As("vux").get(), split, &groups);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(groups.groups_size(), 3);
  std::multiset<int> sizes;
  for (const v1::IntakeGroup& g : groups.groups()) {
    sizes.insert(g.enrolments_size());
    EXPECT_EQ(g.attribute_counts().at("C"), 2);
  }
  EXPECT_EQ(sizes, (std::multiset<int>{6, 7, 7}));
  EXPECT_EQ(groups.intake_session().group_count(), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM scheduling.outbox"
                  " WHERE event_type = 'scheduling.intake.grouped'"),
            20);
  v1::ListIntakeEnrolmentsRequest list;
  list.set_parent(s.name());
  v1::ListIntakeEnrolmentsResponse page;
  ASSERT_TRUE(stub_->ListIntakeEnrolments(As("vux").get(), list, &page).ok());
  for (const v1::IntakeEnrolment& e : page.enrolments()) {
    EXPECT_GE(e.group(), 1);
    EXPECT_LE(e.group(), 3);
  }
  // A stale etag is refused.
  split.set_etag(s.etag());
  EXPECT_EQ(stub_->SplitIntakeGroups(As("vux").get(), split, &groups).error_code(),
            grpc::StatusCode::ABORTED);
}

TEST_F(SchedulingIntakeTest, BadIntakeInputNamesEachFieldAndStoresNothing) {
  v1::CreateIntakeSessionRequest create;
  create.mutable_intake_session()->set_capacity(500);
  v1::IntakeSession s;
  grpc::Status status = stub_->CreateIntakeSession(As("vux").get(), create, &s);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(status),
            (std::vector<std::string>{"request_id", "intake_session.title",
                                      "intake_session.start_time", "intake_session.capacity"}));
  EXPECT_EQ(Count("SELECT count(*) FROM scheduling.intake_sessions"), 0);

  const v1::IntakeSession first_come = Session(2, v1::WAITLIST_POLICY_FIRST_COME);
  v1::IntakeEnrolment e;
  status = Enrol("vux", first_come, ConsentingPerson("x"), &e, 30);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(status), (std::vector<std::string>{"enrolment.priority"}));
  v1::SplitIntakeGroupsRequest split;
  split.set_name(first_come.name());
  split.set_max_group_size(1);
  v1::IntakeGroups groups;
  status = stub_->SplitIntakeGroups(As("vux").get(), split, &groups);
  EXPECT_EQ(ViolatedFields(status), (std::vector<std::string>{"max_group_size"}));
  EXPECT_EQ(Count("SELECT count(*) FROM scheduling.intake_enrolments"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM scheduling.outbox"
                  " WHERE event_type <> 'scheduling.intake.created'"),
            0);
}

}  // namespace
}  // namespace samplan::scheduling
