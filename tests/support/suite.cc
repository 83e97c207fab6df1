#include "tests/support/suite.h"

namespace samplan::testing {

absl::StatusOr<std::unique_ptr<TestServers>> TestServers::Start() {
  auto servers = std::make_unique<TestServers>();
  absl::StatusOr<std::unique_ptr<PostgresServer>> pg = PostgresServer::Start();
  if (!pg.ok()) return pg.status();
  servers->pg = *std::move(pg);
  absl::StatusOr<std::unique_ptr<RedisServer>> redis = RedisServer::Start();
  if (!redis.ok()) return redis.status();
  servers->redis = *std::move(redis);
  absl::StatusOr<TestKeys> keys = TestKeys::Create();
  if (!keys.ok()) return keys.status();
  servers->keys = std::make_unique<TestKeys>(*std::move(keys));
  return servers;
}

PostgresServer* ServersSuite::pg_ = nullptr;
RedisServer* ServersSuite::redis_ = nullptr;
TestKeys* ServersSuite::keys_ = nullptr;
TestServers* ServersSuite::servers_ = nullptr;

void ServersSuite::SetUpTestSuite() {
  absl::StatusOr<std::unique_ptr<TestServers>> servers = TestServers::Start();
  ASSERT_TRUE(servers.ok()) << servers.status();
  servers_ = servers->release();
  pg_ = servers_->pg.get();
  redis_ = servers_->redis.get();
  keys_ = servers_->keys.get();
}

void ServersSuite::TearDownTestSuite() {
  delete servers_;
  servers_ = nullptr;
  pg_ = nullptr;
  redis_ = nullptr;
  keys_ = nullptr;
}

}  // namespace samplan::testing
