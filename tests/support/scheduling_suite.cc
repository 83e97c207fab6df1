#include "tests/support/scheduling_suite.h"

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"

namespace samplan::testing {

void SchedulingSuite::SetUp() {
  auto dsn = pg_->CreateDatabase();
  ASSERT_TRUE(dsn.ok()) << dsn.status();
  dsn_ = *dsn;
  ASSERT_TRUE(InProcessScheduling::ApplyMigrations(dsn_).ok());
  persons_ = std::make_unique<TestPersons>(dsn_);
  StartService();
}

void SchedulingSuite::TearDown() {
  stub_.reset();
  service_.reset();
}

void SchedulingSuite::StartService() {
  stub_.reset();
  service_.reset();
  auto service = InProcessScheduling::Start(dsn_, keys_->VerifierOptions(), ServiceClock());
  ASSERT_TRUE(service.ok()) << service.status();
  service_ = *std::move(service);
  stub_ = service_->NewStub();
}

std::unique_ptr<grpc::ClientContext> SchedulingSuite::As(const std::string& org,
                                                         const std::string& role) const {
  return CallWithToken(keys_->Token(org, role.empty() ? default_role_ : role));
}

std::string SchedulingSuite::ConsentingPerson(const std::string& label) {
  const std::string person = (*persons_)(label);
  for (const std::string& organization : consented_organizations_) {
    persons_->GrantConsent(person, absl::StrCat("organizations/", organization), "attendance",
                           "coordination");
  }
  return person;
}

int64_t SchedulingSuite::Count(const std::string& sql) const {
  pqxx::connection connection(dsn_);
  pqxx::nontransaction tx(connection);
  return tx.exec(sql)[0][0].as<int64_t>();
}

}  // namespace samplan::testing
