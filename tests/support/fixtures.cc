#include "tests/support/fixtures.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "google/rpc/status.pb.h"

#include "google/rpc/error_details.pb.h"

#include "common/rpc_details.h"

#include <unistd.h>

#include <fstream>
#include <set>

#include <pqxx/pqxx>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/config.h"
#include "common/ids.h"
#include "common/migrations.h"
#include "common/stream_mac.h"
#include "services/caseplan/pg_plan_repository.h"
#include "services/identity/pg_identity_repository.h"
#include "common/outbox.h"
#include "common/redis.h"
#include "samplan/events/v1/event.pb.h"

namespace samplan::testing {

absl::Status MigrateIdentityAndCasePlan(const std::string& dsn) {
  absl::Status identity =
      ApplyMigrations(dsn, identity::kSchema, identity::IdentityMigrationSets());
  if (!identity.ok()) return identity;
  return ApplyMigrations(dsn, caseplan::kSchema, caseplan::PlanMigrationSets());
}

std::string TestPersons::operator()(absl::string_view label) {
  if (absl::ConsumePrefix(&label, "persons/")) {
  }
  absl::MutexLock lock(&mu_);
  if (auto it = ids_.find(label); it != ids_.end()) return it->second;
  const std::string id = NewUuid();
  pqxx::connection connection(dsn_);
  pqxx::work tx(connection);
  tx.exec_params("INSERT INTO identity.municipalities (code, display_name, create_time)"
                 " VALUES ($1, $1, now()) ON CONFLICT DO NOTHING",
                 municipality_);
  tx.exec_params(
      "INSERT INTO identity.persons (id, municipality, owner_organization, identity_number_kind,"
      "  identity_number_sealed, identity_number_hash, given_name, family_name, birth_date,"
      "  create_time, update_time, create_request_id)"
      " VALUES ($1::uuid, $2, $3, 'personnummer', '\\x00', $1::text, 'Test', $4, '1990-01-01',"
      "  now(), now(), $1::text)",
      id, municipality_, owner_, std::string(label));
  tx.commit();
  return ids_[std::string(label)] = absl::StrCat("persons/", id);
}

std::string TestPersons::GrantConsent(const std::string& person, const std::string& organization,
                                      const std::string& data_category,
                                      const std::string& purpose) {
  const std::string id = NewUuid();
  pqxx::connection connection(dsn_);
  pqxx::work tx(connection);
  tx.exec_params(
      "INSERT INTO identity.consents (id, person_id, municipality, grantee_organizations,"
      "  purpose, data_categories, valid_from, valid_until, given_by, method,"
      "  recorded_by_user, recorded_by_organization, create_time, create_request_id)"
      " VALUES ($1::uuid, substr($2, 9)::uuid, $3, ARRAY[$4], $5, ARRAY[$6],"
      "  now() - interval '1 hour', now() + interval '1 year', 'person', 'written',"
      "  'users/test', $7, now(), $1::text)",
      id, person, municipality_, organization, purpose, data_category, owner_);
  tx.commit();
  return absl::StrCat("consents/", id);
}

// Returns the raw HTTP/1.0 answer of GET `path` on 127.0.0.1:`port` (empty when
// nothing listens there).
std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request = "GET " + path + " HTTP/1.0\r\n\r\n";
    (void)!send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    char buffer[4096];
    for (ssize_t n; (n = recv(fd, buffer, sizeof buffer, 0)) > 0;) answer.append(buffer, n);
  }
  close(fd);
  return answer;
}

absl::StatusOr<TestKeys> TestKeys::Create() {
  TestKeys keys;
  absl::StatusOr<KeyPairPem> pair = GenerateEs256KeyPair();
  if (!pair.ok()) return pair.status();
  keys.keys_ = *std::move(pair);
  char path[] = "/tmp/samplan-test-key-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return absl::InternalError("cannot create a key file");
  close(fd);
  std::ofstream(path) << keys.keys_.public_key_pem;
  keys.public_key_path_ = path;
  return keys;
}

std::string TestKeys::Token(const std::string& org, const std::string& role,
                            const std::string& municipality) const {
  return TokenValidFor(org, absl::Hours(1), role, municipality);
}

std::string TestKeys::TokenValidFor(const std::string& org, absl::Duration lifetime,
                                    const std::string& role,
                                    const std::string& municipality) const {
  TokenClaims claims;
  claims.issuer = kTestIssuer;
  claims.audience = kTestAudience;
  claims.subject = absl::StrCat("users/u-", org);
  claims.organization = absl::StrCat("organizations/", org);
  claims.municipality = municipality;
  claims.roles = {role};
  // Issued before it expires, even when it expired long ago.
  claims.issued_at = absl::Now() - absl::Hours(2);
  claims.expires_at = absl::Now() + lifetime;
  return *MintToken(keys_.private_key_pem, kTestKid, claims);
}

TokenVerifierOptions TestKeys::VerifierOptions() const {
  TokenVerifierOptions options;
  options.issuer = kTestIssuer;
  options.audience = kTestAudience;
  options.public_keys_pem[kTestKid] = keys_.public_key_pem;
  return options;
}

std::map<std::string, std::string> TestKeys::Environment() const {
  return {{"SAMPLAN_JWT_ISSUER", kTestIssuer},
          {"SAMPLAN_JWT_AUDIENCE", kTestAudience},
          {"SAMPLAN_JWT_PUBLIC_KEYS", absl::StrCat(kTestKid, "=", public_key_path_)},
          // Tests reach service processes over loopback in plaintext, which a
          // process serves only when told so (tests/tls_test.cc covers TLS).
          {"SAMPLAN_PLAINTEXT", "true"},
          {"SAMPLAN_STREAM_KEYS", StreamKeys::ProcessLocal().Setting()}};
}

absl::StatusOr<std::string> AppendSignedEvent(RedisClient& redis, const std::string& stream,
                                              const events::v1::Event& event,
                                              const StreamKeys& keys) {
  const std::string envelope = event.SerializeAsString();
  absl::StatusOr<RedisReply> reply = redis.Command(
      {"XADD", stream, "*", "event_id", event.event_id(), "type", event.type(), "event",
       envelope, "access_version", "0", kStreamMacField,
       keys.Sign(stream, event.event_id(), event.type(), envelope, "0")});
  if (!reply.ok()) return reply.status();
  if (reply->is_error()) return absl::UnavailableError(reply->text);
  return reply->text;
}

absl::StatusOr<std::vector<StreamedEvent>> ReadStream(const std::string& redis_address,
                                                      const std::string& municipality) {
  absl::StatusOr<std::pair<std::string, int>> address = ParseHostPort(redis_address);
  if (!address.ok()) return address.status();
  RedisClient redis({address->first, address->second});
  absl::StatusOr<RedisReply> reply =
      redis.Command({"XRANGE", EventStreamKey(municipality), "-", "+"});
  if (!reply.ok()) return reply.status();
  std::vector<StreamedEvent> events;
  for (const StreamEntry& entry : ParseStreamEntries(*reply)) {
    events::v1::Event envelope;
    if (!envelope.ParseFromString(entry.Field("event"))) {
      return absl::DataLossError(absl::StrCat("entry ", entry.id, " holds no event"));
    }
    if (envelope.event_id() != entry.Field("event_id")) {
      return absl::DataLossError(absl::StrCat("entry ", entry.id, " has two event ids"));
    }
    if (!StreamKeys::ProcessLocal().Verify(EventStreamKey(municipality), entry)) {
      return absl::DataLossError(absl::StrCat("entry ", entry.id, " carries no valid MAC"));
    }
    events.push_back({entry.id, envelope.event_id(), envelope.type(), envelope.aggregate(),
                      envelope.aggregate_version()});
  }
  return events;
}

absl::Status VerifyStreamMatchesDatabase(const std::string& pg_dsn,
                                         const std::string& redis_address,
                                         const std::string& municipality) {
  absl::StatusOr<std::vector<StreamedEvent>> events = ReadStream(redis_address, municipality);
  if (!events.ok()) return events.status();

  std::set<std::pair<std::string, int64_t>> committed;
  absl::flat_hash_set<std::string> committed_event_ids;
  pqxx::connection connection(pg_dsn);
  pqxx::nontransaction tx(connection);
  for (const pqxx::row& row : tx.exec_params(
           "SELECT 'plans/' || r.plan_id::text, r.version, r.event_id::text "
           "FROM caseplan.plan_revisions r JOIN caseplan.plans p ON p.id = r.plan_id "
           "WHERE p.municipality = $1",
           municipality)) {
    committed.emplace(row[0].as<std::string>(), row[1].as<int64_t>());
    committed_event_ids.insert(row[2].as<std::string>());
  }

  absl::flat_hash_set<std::string> seen_ids;
  absl::flat_hash_map<std::string, int64_t> last_version;
  std::set<std::pair<std::string, int64_t>> streamed;
  for (const StreamedEvent& event : *events) {
    if (!seen_ids.insert(event.event_id).second) {
      return absl::FailedPreconditionError(
          absl::StrCat("event ", event.event_id, " is on the stream twice"));
    }
    if (!committed_event_ids.contains(event.event_id)) {
      return absl::FailedPreconditionError(
          absl::StrCat("event ", event.event_id, " is on the stream but never committed"));
    }
    if (!streamed.emplace(event.aggregate, event.version).second) {
      return absl::FailedPreconditionError(absl::StrCat(
          event.aggregate, " version ", event.version, " has two events on the stream"));
    }
    int64_t& last = last_version[event.aggregate];
    if (event.version <= last) {
      return absl::FailedPreconditionError(absl::StrCat(event.aggregate, " version ",
                                                        event.version, " came after version ",
                                                        last));
    }
    last = event.version;
  }
  for (const auto& change : committed) {
    if (!streamed.contains(change)) {
      return absl::FailedPreconditionError(absl::StrCat(
          change.first, " version ", change.second, " committed but its event is missing"));
    }
  }
  if (streamed.size() != committed.size()) {
    return absl::FailedPreconditionError(
        absl::StrCat(streamed.size(), " events on the stream for ", committed.size(),
                     " committed changes"));
  }
  return absl::OkStatus();
}

absl::Status WaitForOutboxDrained(const std::string& pg_dsn, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  int64_t pending = -1;
  while (absl::Now() < deadline) {
    try {
      pqxx::connection connection(pg_dsn);
      pqxx::nontransaction tx(connection);
      pending = tx.exec("SELECT count(*) FROM caseplan.outbox")[0][0].as<int64_t>();
      if (pending == 0) return absl::OkStatus();
    } catch (const std::exception&) {
      // The database may be restarting in a crash test; try again.
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("the outbox still had ", pending, " unpublished events"));
}

std::vector<std::string> ViolatedFields(const grpc::Status& status) {
  google::rpc::Status details;
  google::rpc::BadRequest bad_request;
  std::vector<std::string> fields;
  if (details.ParseFromString(status.error_details()) && UnpackDetail(details, &bad_request)) {
    for (const auto& violation : bad_request.field_violations()) {
      fields.push_back(violation.field());
    }
  }
  return fields;
}

}  // namespace samplan::testing
