#ifndef SAMPLAN_SERVICES_EVENTS_ACCESS_GATE_H_
#define SAMPLAN_SERVICES_EVENTS_ACCESS_GATE_H_

// Decides, per event and subscriber, whether the subscriber may see the person's
// data the event is about — by common/access.h's rule, on facts read from the
// identity schema — without a database round trip per event.
//
// The facts of (subscriber, person, data category, purpose) are kept for at most
// `ttl`, and decide an event only when they are at least as new as the person's
// access version the event was written under: an event committed after a consent
// changed is decided on facts read after that change, whether or not the change's
// own event has reached the stream yet (each service's relay publishes on its
// own, so the stream's order is not the commit order across services). Facts are
// also forgotten when the stream carries a consent or break-glass event of the
// person (StreamHub's observer calls ForgetPerson before any later event is handed
// on).
// Each fresh read of facts that permits a delivery appends an audit record in the
// same transaction: "who has seen my data" names every subscriber that was told of
// the person. Facts in use are read again in the background before they run out,
// so deliveries do not wait for the database once a subscriber is under way; many
// subscribers of one organization asking at once cause one read, not one each.

#include <cstdint>
#include <deque>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/access.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/pg.h"

namespace samplan::events {

// Decides whether a subscriber may be told of an event about a person: the
// AccessGate below, or a stand-in where the consent facts are not the question.
class DeliveryGate {
 public:
  virtual ~DeliveryGate() = default;

  // Returns whether `principal` may see the event described by `request` (a read of
  // its data category), written under the person's `access_version`. `action` and
  // `request_id` go into the audit record. UNAVAILABLE and the like when the facts
  // cannot be read; the caller then delivers nothing rather than guess.
  virtual absl::StatusOr<bool> MayDeliver(const Principal& principal,
                                          const AccessRequest& request, int64_t access_version,
                                          absl::string_view action,
                                          absl::string_view request_id) = 0;

  // Returns whether facts at hand, at least `access_version` new, already refuse
  // `principal` the event, without waiting for the database (false when they
  // permit it or are not at hand).
  virtual bool KnownRefused(const Principal& principal, const AccessRequest& request,
                            int64_t access_version, absl::string_view action,
                            absl::string_view request_id) = 0;
};

class AccessGate final : public DeliveryGate {
 public:
  // `pool` prepares AccessStatements(); `pool` and `clock` must outlive the gate.
  AccessGate(PgPool& pool, const Clock& clock, absl::Duration ttl);
  ~AccessGate();

  absl::StatusOr<bool> MayDeliver(const Principal& principal, const AccessRequest& request,
                                  int64_t access_version, absl::string_view action,
                                  absl::string_view request_id) override;
  bool KnownRefused(const Principal& principal, const AccessRequest& request,
                    int64_t access_version, absl::string_view action,
                    absl::string_view request_id) override;

  // Forgets the facts of `person`: the next decision reads them again.
  void ForgetPerson(const std::string& person);

 private:
  struct Facts {
    AccessFacts facts;
    // Whether `facts` were read (not needed when ownership, role or municipality
    // settles the decision).
    bool read = false;
    absl::Time expires;
    // Whether a permit on these facts has been audited.
    bool audited = false;
    // Whether a background read of fresher facts is under way.
    bool refreshing = false;
  };
  struct PersonFacts {
    // Set anew by ForgetPerson, so that a read that began before it is not kept.
    uint64_t generation = 0;
    // By organization, user, data category and purpose.
    absl::flat_hash_map<std::string, Facts> by_reader;
    // Readers whose facts are being read now.
    absl::flat_hash_set<std::string> reading;
  };
  // A read to do in the background.
  struct Refresh {
    Principal principal;
    AccessRequest request;
    std::string action;
    std::string request_id;
    uint64_t generation;
  };

  PersonFacts& Person(const std::string& person) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Returns whether `facts` may decide `request`, written under `access_version`,
  // at `now`: not run out, and, where the decision rests on them, at least as new.
  static bool Usable(const Facts& facts, const Principal& principal,
                     const AccessRequest& request, int64_t access_version, absl::Time now);
  // Queues a background read of `facts` when they are about to run out.
  void RefreshSoon(Facts& facts, const Principal& principal, const AccessRequest& request,
                   absl::string_view action, absl::string_view request_id,
                   uint64_t generation, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reads the facts and, when they permit, audits the delivery, in one transaction.
  absl::StatusOr<Facts> Read(const Principal& principal, const AccessRequest& request,
                             absl::string_view action, absl::string_view request_id);
  void Keep(const std::string& person, const std::string& key, uint64_t generation,
            Facts facts) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RefreshLoop();

  PgPool& pool_;
  const Clock& clock_;
  const absl::Duration ttl_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, PersonFacts> by_person_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Refresh> refreshes_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread refresher_;
};

}  // namespace samplan::events

#endif  // SAMPLAN_SERVICES_EVENTS_ACCESS_GATE_H_
