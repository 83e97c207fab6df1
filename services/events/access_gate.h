#ifndef SAMPLAN_SERVICES_EVENTS_ACCESS_GATE_H_
#define SAMPLAN_SERVICES_EVENTS_ACCESS_GATE_H_

// Decides, per event and subscriber, whether the subscriber may see the person's
// data the event is about — by common/access.h's rule, on facts read from the
// identity schema — without a database round trip per event.
//
// The facts of (subscriber, person, data category, purpose) are kept for at most
// `ttl` and forgotten at once when the stream carries a consent or break-glass
// event of the person (StreamHub calls ForgetPerson before it hands on any later
// event), so a withdrawal stops deliveries from the next event on. Each fresh read
// of facts that permits a delivery appends an audit record in the same transaction:
// "who has seen my data" names every subscription that was told of the person.

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/access.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/pg.h"

namespace samplan::events {

class AccessGate {
 public:
  // `pool` prepares AccessStatements(); `pool` and `clock` must outlive the gate.
  AccessGate(PgPool& pool, const Clock& clock, absl::Duration ttl);

  // Returns whether `principal` may see the event described by `request` (a read of
  // its data category). `action` and `request_id` go into the audit record.
  // UNAVAILABLE and the like when the facts cannot be read; the caller then
  // delivers nothing rather than guess.
  absl::StatusOr<bool> MayDeliver(const Principal& principal, const AccessRequest& request,
                                  absl::string_view action, absl::string_view request_id);

  // Forgets the facts of `person`: the next decision reads them again.
  void ForgetPerson(const std::string& person);

 private:
  struct Facts {
    AccessFacts facts;
    absl::Time expires;
    // Whether a permit on these facts has been audited.
    bool audited = false;
  };
  struct PersonFacts {
    // Bumped by ForgetPerson, so that a read that began before it is not kept.
    uint64_t generation = 0;
    // By organization, user, data category and purpose.
    absl::flat_hash_map<std::string, Facts> by_reader;
  };

  PersonFacts& Person(const std::string& person) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  PgPool& pool_;
  const Clock& clock_;
  const absl::Duration ttl_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, PersonFacts> by_person_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace samplan::events

#endif  // SAMPLAN_SERVICES_EVENTS_ACCESS_GATE_H_
