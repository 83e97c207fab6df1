#include "tests/support/middle_tier.h"

namespace samplan::testing {

TestKeys* ServedServiceTest::keys_ = nullptr;

void ServedServiceTest::SetUpTestSuite() {
  absl::StatusOr<TestKeys> keys = TestKeys::Create();
  ASSERT_TRUE(keys.ok()) << keys.status();
  keys_ = new TestKeys(*std::move(keys));
}

void ServedServiceTest::TearDownTestSuite() {
  delete keys_;
  keys_ = nullptr;
}

void ServedServiceTest::SetUp() {
  absl::StatusOr<std::unique_ptr<ServedService>> served =
      ServedService::Create(keys_->VerifierOptions(), absl::Seconds(5));
  ASSERT_TRUE(served.ok()) << served.status();
  served_ = *std::move(served);
}

}  // namespace samplan::testing
