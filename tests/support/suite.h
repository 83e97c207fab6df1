#ifndef SAMPLAN_TESTS_SUPPORT_SUITE_H_
#define SAMPLAN_TESTS_SUPPORT_SUITE_H_

// The servers a real-server test needs, started in one place: a PostgreSQL, a
// Redis and a signing key, each the test's own, on free loopback ports, removed
// when the test is done with them.

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "absl/status/statusor.h"
#include "tests/support/fixtures.h"
#include "tests/support/servers.h"

namespace samplan::testing {

// PostgreSQL, Redis and a key pair, started together.
struct TestServers {
  static absl::StatusOr<std::unique_ptr<TestServers>> Start();

  std::unique_ptr<PostgresServer> pg;
  std::unique_ptr<RedisServer> redis;
  std::unique_ptr<TestKeys> keys;
};

// A fixture whose tests share one TestServers, started before the suite's first
// test and removed after its last; each test makes its own database
// (`pg_->CreateDatabase()`) and flushes Redis if it needs it empty.
class ServersSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();

  static PostgresServer* pg_;
  static RedisServer* redis_;
  static TestKeys* keys_;

 private:
  static TestServers* servers_;
};

}  // namespace samplan::testing

#endif  // SAMPLAN_TESTS_SUPPORT_SUITE_H_
