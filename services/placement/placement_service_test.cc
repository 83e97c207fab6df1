// Tier 2: the PlacementService over gRPC, in-process on port 0 with a real client
// stub and real token verification, over an in-memory bank: page tokens and
// sizes, update masks and the role checks, without a database.

#include "services/placement/placement_service.h"

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "absl/synchronization/mutex.h"
#include "common/ids.h"
#include "common/rpc_details.h"
#include "common/server.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "tests/support/fixtures.h"
#include "tests/support/middle_tier.h"

namespace samplan::placement {
namespace {

using ::google::protobuf::util::TimeUtil;

// Keeps the bank (employers and placements) in memory with the contract of
// PgPlacementRepository; needs and agreements are not kept here (their access
// rule runs against PostgreSQL in tests/placement_store_test).
class InMemoryBank final : public PlacementRepository {
 public:
  absl::StatusOr<v1::Employer> CreateEmployer(const CreateMeta& meta,
                                              const v1::Employer& employer) override {
    absl::MutexLock lock(&mu_);
    const auto key = std::make_pair(meta.organization, meta.request_id);
    if (auto it = by_request_.find(key); it != by_request_.end()) return employers_.at(it->second);
    v1::Employer stored = employer;
    const std::string id = NewUuid();
    stored.set_name("employers/" + id);
    stored.set_etag("1");
    *stored.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(meta.time));
    *stored.mutable_update_time() = stored.create_time();
    employers_[id] = stored;
    by_request_[key] = id;
    return stored;
  }
  absl::StatusOr<v1::Employer> GetEmployer(const std::string& municipality, const std::string& id,
                                           absl::Time) override {
    absl::MutexLock lock(&mu_);
    auto it = employers_.find(id);
    if (it == employers_.end() || it->second.municipality() != municipality) {
      return absl::NotFoundError("no such employer");
    }
    return it->second;
  }
  absl::StatusOr<std::vector<v1::Employer>> ListEmployers(const std::string& municipality,
                                                          const std::string& industry,
                                                          const std::optional<NameKey>& after,
                                                          int limit, absl::Time) override {
    absl::MutexLock lock(&mu_);
    std::vector<std::pair<NameKey, const v1::Employer*>> rows;
    for (const auto& [id, employer] : employers_) {
      if (employer.municipality() != municipality) continue;
      if (!industry.empty() && employer.industry() != industry) continue;
      rows.push_back({{employer.display_name(), id}, &employer});
    }
    auto key = [](const NameKey& k) { return std::tie(k.display_name, k.id); };
    std::sort(rows.begin(), rows.end(),
              [&](const auto& a, const auto& b) { return key(a.first) < key(b.first); });
    std::vector<v1::Employer> out;
    for (const auto& [k, employer] : rows) {
      if (after.has_value() && !(key(*after) < key(k))) continue;
      if (static_cast<int>(out.size()) == limit) break;
      out.push_back(*employer);
    }
    return out;
  }
  absl::StatusOr<v1::Employer> UpdateEmployer(const std::string& municipality,
                                              const std::string& id, absl::Time time, absl::Time,
                                              const EmployerChange& change) override {
    absl::MutexLock lock(&mu_);
    auto it = employers_.find(id);
    if (it == employers_.end() || it->second.municipality() != municipality) {
      return absl::NotFoundError("no such employer");
    }
    std::vector<std::string> in_use;
    for (const auto& [pid, placement] : placements_) {
      if (placement.employer() == it->second.name()) in_use.push_back(placement.workplace());
    }
    absl::StatusOr<std::optional<v1::Employer>> next = change(it->second, in_use);
    if (!next.ok()) return next.status();
    if (!next->has_value()) return it->second;
    const int64_t version = std::stoll(it->second.etag()) + 1;
    it->second = **next;
    it->second.set_etag(std::to_string(version));
    *it->second.mutable_update_time() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(time));
    return it->second;
  }
  absl::StatusOr<v1::Placement> CreatePlacement(const CreateMeta& meta,
                                                const std::string& employer_id,
                                                const PlacementBuild& build) override {
    absl::MutexLock lock(&mu_);
    auto employer = employers_.find(employer_id);
    if (employer == employers_.end()) {
      return InvalidField("placement.employer", "is not an employer in this municipality's bank");
    }
    absl::StatusOr<v1::Placement> placement = build(employer->second);
    if (!placement.ok()) return placement.status();
    const std::string id = NewUuid();
    placement->set_name("placements/" + id);
    placement->set_etag("1");
    *placement->mutable_create_time() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(meta.time));
    placements_[id] = *placement;
    return *placement;
  }
  absl::StatusOr<v1::Placement> UpdatePlacement(const std::string& municipality,
                                                const std::string& id, absl::Time, absl::Time,
                                                const PlacementChange& change) override {
    absl::MutexLock lock(&mu_);
    auto it = placements_.find(id);
    if (it == placements_.end() || it->second.municipality() != municipality) {
      return absl::NotFoundError("no such placement");
    }
    const v1::Employer& employer =
        employers_.at(std::string(ResourceId(it->second.employer(), "employers")));
    absl::StatusOr<std::optional<v1::Placement>> next = change(it->second, employer, {});
    if (!next.ok()) return next.status();
    if (!next->has_value()) return it->second;
    const int64_t version = std::stoll(it->second.etag()) + 1;
    it->second = **next;
    it->second.set_etag(std::to_string(version));
    return it->second;
  }

  // Not kept here: a handler that reaches one of these is a test's mistake.
  absl::StatusOr<v1::Contact> LogContact(const std::string&, const std::string&,
                                         const v1::Contact&, absl::Time) override {
    return NotKept();
  }
  absl::StatusOr<std::vector<v1::Contact>> ListContacts(const std::string&, const std::string&,
                                                        const std::optional<TimeKey>&, int,
                                                        absl::Time) override {
    return NotKept();
  }
  absl::StatusOr<std::vector<v1::Employer>> ListColdEmployers(const std::string&, absl::Time, int,
                                                              absl::Time) override {
    return NotKept();
  }
  absl::StatusOr<v1::Placement> GetPlacement(const std::string&, const std::string&,
                                             absl::Time) override {
    return NotKept();
  }
  absl::StatusOr<std::vector<v1::Placement>> ListPlacements(const PlacementQuery&,
                                                            absl::Time) override {
    return NotKept();
  }
  absl::StatusOr<Bank> LoadOpenPlacements(const std::string&, absl::Time) override {
    return NotKept();
  }
  absl::StatusOr<v1::PlacementNeed> CreateNeed(const Caller&, const CreateMeta&,
                                               const v1::PlacementNeed&) override {
    return NotKept();
  }
  absl::StatusOr<v1::PlacementNeed> GetNeed(const Caller&, const std::string&) override {
    return NotKept();
  }
  absl::StatusOr<std::vector<v1::MatchProfile>> ListWaitingProfiles(const std::string&,
                                                                    absl::Time) override {
    return NotKept();
  }
  absl::StatusOr<v1::Agreement> CreateAgreement(const Caller&, const CreateMeta&,
                                                const std::string&,
                                                const AgreementBuild&) override {
    return NotKept();
  }
  absl::StatusOr<v1::Agreement> GetAgreement(const Caller&, const std::string&) override {
    return NotKept();
  }
  absl::StatusOr<std::vector<v1::Agreement>> ListAgreements(const Caller&, const std::string&,
                                                            const std::optional<TimeKey>&,
                                                            int) override {
    return NotKept();
  }
  absl::StatusOr<v1::Agreement> StepAgreement(const Caller&, const std::string&,
                                              const std::string&,
                                              const AgreementStepFn&) override {
    return NotKept();
  }

 private:
  static absl::Status NotKept() { return absl::UnimplementedError("not kept in memory"); }

  absl::Mutex mu_;
  std::map<std::string, v1::Employer> employers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::Placement> placements_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, std::string> by_request_ ABSL_GUARDED_BY(mu_);
};


// The fields a status's BadRequest names.
std::vector<std::string> Violated(const grpc::Status& status) {
  std::vector<std::string> fields;
  google::rpc::Status details;
  google::rpc::BadRequest bad_request;
  if (!details.ParseFromString(status.error_details()) || !UnpackDetail(details, &bad_request)) {
    return fields;
  }
  for (const auto& v : bad_request.field_violations()) fields.push_back(v.field());
  return fields;
}

class PlacementServiceTest : public testing::ServedServiceTest {
 protected:
  void SetUp() override {
    ServedServiceTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(served_
                    ->Serve(std::make_unique<PlacementService>(repository_, served_->calls(),
                                                               NewWorkplaceId, 90))
                    .ok());
    stub_ = v1::PlacementService::NewStub(served_->NewChannel());
  }

  std::unique_ptr<grpc::ClientContext> As(const std::string& org,
                                          const std::string& role = "placement_coordinator") {
    return testing::CallWithToken(keys_->Token(org, role), absl::Seconds(5));
  }

  v1::Employer NewEmployer(const std::string& display_name, const std::string& industry = "handel") {
    v1::CreateEmployerRequest request;
    request.set_request_id(NewUuid());
    v1::Employer* e = request.mutable_employer();
    e->set_organization_number("556036-0793");
    e->set_display_name(display_name);
    e->set_industry(industry);
    v1::Workplace* w = e->add_workplaces();
    w->set_id("butik");
    w->set_display_name("Butiken");
    w->set_address("Kristinavägen 2, 711 30 Lindesberg");
    w->mutable_location()->set_latitude(59.594);
    w->mutable_location()->set_longitude(15.230);
    v1::Employer out;
    grpc::Status status = stub_->CreateEmployer(As("prakt").get(), request, &out);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return out;
  }

  v1::Placement NewPlacement(const v1::Employer& employer) {
    v1::CreatePlacementRequest request;
    request.set_request_id(NewUuid());
    v1::Placement* p = request.mutable_placement();
    p->set_employer(employer.name());
    p->set_workplace("butik");
    p->set_kind(v1::PLACEMENT_KIND_WORK_PRACTICE);
    p->set_title("Butiksbiträde");
    p->set_seats(2);
    v1::DateRange* range = p->add_availability();
    *range->mutable_start_date() = DateOf(absl::CivilDay(2027, 1, 1));
    *range->mutable_end_date() = DateOf(absl::CivilDay(2027, 12, 31));
    p->set_hours_per_week(20);
    v1::Placement out;
    grpc::Status status = stub_->CreatePlacement(As("prakt").get(), request, &out);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return out;
  }

  std::vector<std::string> Names(const v1::ListEmployersResponse& page) {
    std::vector<std::string> names;
    for (const v1::Employer& e : page.employers()) names.push_back(e.display_name());
    return names;
  }

  InMemoryBank repository_;
  std::unique_ptr<v1::PlacementService::Stub> stub_;
};

TEST_F(PlacementServiceTest, EmployerPagesFollowOnFromTheLastNameEvenWhenOneIsAddedBefore) {
  for (const char* name : {"B Bageri", "D Djurklinik", "F Frisör"}) NewEmployer(name);
  NewEmployer("V Vårdcentral", "vård");
  v1::ListEmployersRequest request;
  request.set_industry("handel");
  request.set_page_size(2);
  v1::ListEmployersResponse page;
  ASSERT_TRUE(stub_->ListEmployers(As("prakt").get(), request, &page).ok());
  EXPECT_EQ(Names(page), (std::vector<std::string>{"B Bageri", "D Djurklinik"}));
  NewEmployer("A Apotek");
  request.set_page_token(page.next_page_token());
  ASSERT_TRUE(stub_->ListEmployers(As("prakt").get(), request, &page).ok());
  EXPECT_EQ(Names(page), std::vector<std::string>{"F Frisör"});
  EXPECT_TRUE(page.next_page_token().empty());
}

TEST_F(PlacementServiceTest, PageTokensAndSizesFollowTheCommonRule) {
  for (const char* name : {"B Bageri", "D Djurklinik"}) NewEmployer(name);
  v1::ListEmployersRequest request;
  request.set_industry("handel");
  request.set_page_size(1);
  v1::ListEmployersResponse page;
  ASSERT_TRUE(stub_->ListEmployers(As("prakt").get(), request, &page).ok());
  ASSERT_FALSE(page.next_page_token().empty());
  // With other filters, or not a token at all: refused naming page_token.
  v1::ListEmployersRequest other = request;
  other.set_industry("vård");
  other.set_page_token(page.next_page_token());
  EXPECT_EQ(Violated(stub_->ListEmployers(As("prakt").get(), other, &page)),
            std::vector<std::string>{"page_token"});
  other = request;
  other.set_page_token("garbage");
  EXPECT_EQ(Violated(stub_->ListEmployers(As("prakt").get(), other, &page)),
            std::vector<std::string>{"page_token"});
  // A negative size is refused; one above the maximum is lowered to it.
  request.set_page_size(-1);
  EXPECT_EQ(Violated(stub_->ListEmployers(As("prakt").get(), request, &page)),
            std::vector<std::string>{"page_size"});
  request.set_page_size(100000);
  ASSERT_TRUE(stub_->ListEmployers(As("prakt").get(), request, &page).ok());
  EXPECT_EQ(page.employers_size(), 2);
}

TEST_F(PlacementServiceTest, UpdateMaskIgnoresOutputOnlyFieldsAndTakesStar) {
  const v1::Employer employer = NewEmployer("B Bageri");
  // A client that sends back the employer it read, with its mask built from a
  // diff that includes etag and times, changes only the display name.
  v1::UpdateEmployerRequest request;
  *request.mutable_employer() = employer;
  request.mutable_employer()->set_display_name("B Bageri och Konditori");
  request.mutable_employer()->set_municipality("0180");
  for (const char* path : {"display_name", "etag", "update_time", "municipality"}) {
    request.mutable_update_mask()->add_paths(path);
  }
  v1::Employer updated;
  grpc::Status status = stub_->UpdateEmployer(As("prakt").get(), request, &updated);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(updated.display_name(), "B Bageri och Konditori");
  EXPECT_EQ(updated.municipality(), "1885");
  EXPECT_EQ(updated.etag(), "2");
  // "*": every updatable field, replaced whole by the request's.
  request.mutable_employer()->set_etag(updated.etag());
  request.mutable_employer()->set_notes("Tar gärna praktikanter på våren");
  request.mutable_update_mask()->Clear();
  request.mutable_update_mask()->add_paths("*");
  status = stub_->UpdateEmployer(As("prakt").get(), request, &updated);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(updated.notes(), "Tar gärna praktikanter på våren");
  EXPECT_EQ(updated.municipality(), "1885");
}

TEST_F(PlacementServiceTest, APlacementsEmployerCannotBeChanged) {
  const v1::Employer employer = NewEmployer("B Bageri");
  const v1::Employer other = NewEmployer("D Djurklinik");
  const v1::Placement placement = NewPlacement(employer);
  v1::UpdatePlacementRequest request;
  request.mutable_placement()->set_name(placement.name());
  request.mutable_placement()->set_employer(other.name());
  request.mutable_update_mask()->add_paths("employer");
  request.mutable_update_mask()->add_paths("no_such_field");
  v1::Placement out;
  grpc::Status status = stub_->UpdatePlacement(As("prakt").get(), request, &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Violated(status), (std::vector<std::string>{"update_mask", "update_mask"}));
  // An empty mask names nothing to change.
  request.mutable_update_mask()->Clear();
  EXPECT_EQ(Violated(stub_->UpdatePlacement(As("prakt").get(), request, &out)),
            std::vector<std::string>{"update_mask"});
}

TEST_F(PlacementServiceTest, RolesWithoutPersonalDataAreRefusedBeforeAnythingIsRead) {
  // The in-memory bank keeps no agreements: a call that reached it would fail
  // as UNIMPLEMENTED, not PERMISSION_DENIED.
  v1::ListAgreementsRequest list;
  v1::ListAgreementsResponse agreements;
  EXPECT_EQ(stub_->ListAgreements(As("soc", "manager").get(), list, &agreements).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::CreatePlacementNeedRequest need;
  v1::PlacementNeed created;
  EXPECT_EQ(
      stub_->CreatePlacementNeed(As("soc", "manager").get(), need, &created).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  // The bank is changed by coordinators only.
  v1::CreateEmployerRequest employer;
  employer.set_request_id(NewUuid());
  v1::Employer out;
  EXPECT_EQ(stub_->CreateEmployer(As("soc", "caseworker").get(), employer, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace samplan::placement
