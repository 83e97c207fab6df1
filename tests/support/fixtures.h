#ifndef SAMPLAN_TESTS_SUPPORT_FIXTURES_H_
#define SAMPLAN_TESTS_SUPPORT_FIXTURES_H_

// What the real-server tests share: a key pair and tokens, the environment of a
// service process, and the check that a municipality's stream holds exactly the
// committed changes.

#include <map>
#include <string>

#include <grpcpp/support/status.h>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/auth.h"
#include "common/redis.h"
#include "common/stream_mac.h"
#include "samplan/events/v1/event.pb.h"

namespace samplan::testing {

inline constexpr char kTestIssuer[] = "samplan-test";
inline constexpr char kTestAudience[] = "samplan";
inline constexpr char kTestKid[] = "test";

// A signing key for tests, with its public half written to a file so that service
// processes can be pointed at it.
class TestKeys {
 public:
  static absl::StatusOr<TestKeys> Create();
  // Returns a token for `org` ("soc" → organizations/soc) in `municipality`.
  std::string Token(const std::string& org, const std::string& role = "caseworker",
                    const std::string& municipality = "1885") const;
  // The same, expiring `lifetime` from now (negative: expired that long ago).
  std::string TokenValidFor(const std::string& org, absl::Duration lifetime,
                            const std::string& role = "caseworker",
                            const std::string& municipality = "1885") const;
  // Options for an in-process verifier that trusts these keys.
  TokenVerifierOptions VerifierOptions() const;
  // SAMPLAN_JWT_* variables for a service process, and SAMPLAN_PLAINTEXT=true.
  std::map<std::string, std::string> Environment() const;

 private:
  KeyPairPem keys_;
  std::string public_key_path_;
};

// Returns the raw HTTP/1.0 answer of GET `path` on 127.0.0.1:`port` (empty when
// nothing listens there).
std::string HttpGet(int port, const std::string& path);

// One event read back from a stream.
struct StreamedEvent {
  std::string stream_id;
  std::string event_id;
  std::string type;
  std::string aggregate;
  int64_t version = 0;
};

// Returns every event on the stream of `municipality`, in stream order.
absl::StatusOr<std::vector<StreamedEvent>> ReadStream(const std::string& redis_address,
                                                      const std::string& municipality);

// Appends `event` to `stream` as a relay holding `keys` would (fields event_id,
// type, event, access_version 0 and its MAC) and returns the entry id: for tests
// that play the publishing service.
absl::StatusOr<std::string> AppendSignedEvent(
    RedisClient& redis, const std::string& stream, const events::v1::Event& event,
    const StreamKeys& keys = StreamKeys::ProcessLocal());

// Checks the promise of the outbox against reality: every plan revision committed
// in PostgreSQL has exactly one event on the stream, no event id is there twice,
// nothing is there that did not commit, and per plan the versions come in order.
// Returns OK or a FAILED_PRECONDITION describing the first difference.
absl::Status VerifyStreamMatchesDatabase(const std::string& pg_dsn,
                                         const std::string& redis_address,
                                         const std::string& municipality);

// Applies the identity schema (caseplan's access checks and audit records live
// there) and then caseplan's, as the services do when they start.
absl::Status MigrateIdentityAndCasePlan(const std::string& dsn);

// Invented persons registered straight into identity.persons, for tests whose
// subject is not registration (the identity service's own tests register through
// its API). A label names one person for the life of the object.
class TestPersons {
 public:
  explicit TestPersons(std::string dsn, std::string municipality = "1885",
                       std::string owner = "organizations/soc")
      : dsn_(std::move(dsn)), municipality_(std::move(municipality)), owner_(std::move(owner)) {}

  // Returns "persons/{uuid}" of the person labelled `label` ("anna", or
  // "persons/anna"), registering it on first use. Thread-safe.
  std::string operator()(absl::string_view label);

  // Records an active consent of `person` for `organization` (data category
  // "plan", purpose "coordination" unless told), valid from an hour ago for a year.
  // Returns "consents/{uuid}".
  std::string GrantConsent(const std::string& person, const std::string& organization,
                           const std::string& data_category = "plan",
                           const std::string& purpose = "coordination");

 private:
  const std::string dsn_, municipality_, owner_;
  absl::Mutex mu_;
  std::map<std::string, std::string, std::less<>> ids_ ABSL_GUARDED_BY(mu_);
};

// Waits until the caseplan outbox has no unpublished row, up to `timeout`.
absl::Status WaitForOutboxDrained(const std::string& pg_dsn, absl::Duration timeout);

// Returns the fields named by the google.rpc.BadRequest detail of `status`, in
// order; empty when it carries none.
std::vector<std::string> ViolatedFields(const grpc::Status& status);

}  // namespace samplan::testing

#endif  // SAMPLAN_TESTS_SUPPORT_FIXTURES_H_
