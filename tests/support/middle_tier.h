#ifndef SAMPLAN_TESTS_SUPPORT_MIDDLE_TIER_H_
#define SAMPLAN_TESTS_SUPPORT_MIDDLE_TIER_H_

// The middle test tier's fixture: a service over an in-memory repository, served
// in-process through the real call wrapper (tests/support/served_service.h).

#include <memory>

#include <gtest/gtest.h>

#include "tests/support/fixtures.h"
#include "tests/support/served_service.h"

namespace samplan::testing {

// The fixture of a middle-tier test: a signing key for the suite, and before
// each test a ServedService trusting it. A derived SetUp calls this one first,
// then serves its service: `served_->Serve(std::make_unique<...>(..., served_->calls()))`.
class ServedServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;

  static TestKeys* keys_;
  std::unique_ptr<ServedService> served_;
};

}  // namespace samplan::testing

#endif  // SAMPLAN_TESTS_SUPPORT_MIDDLE_TIER_H_
