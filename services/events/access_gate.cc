#include "services/events/access_gate.h"

#include "absl/strings/str_cat.h"
#include "common/metrics.h"

namespace samplan::events {
namespace {

// Past this many persons, facts that have expired are dropped; the cache never
// holds more than a few minutes of a busy municipality.
constexpr size_t kMaxPersons = 100000;

std::string ReaderKey(const Principal& principal, const AccessRequest& request) {
  return absl::StrCat(principal.organization, "\n", principal.user, "\n",
                      request.data_category, "\n", request.purpose);
}

}  // namespace

AccessGate::AccessGate(PgPool& pool, const Clock& clock, absl::Duration ttl)
    : pool_(pool), clock_(clock), ttl_(ttl) {
  Metrics::Global().Describe("samplan_events_access_reads_total", "counter",
                             "Reads of consent facts (and audit appends) for deliveries.");
}

absl::StatusOr<bool> AccessGate::MayDeliver(const Principal& principal,
                                            const AccessRequest& request,
                                            absl::string_view action,
                                            absl::string_view request_id) {
  const std::string key = ReaderKey(principal, request);
  const absl::Time now = clock_.Now();
  uint64_t generation = 0;
  {
    absl::MutexLock lock(&mu_);
    PersonFacts& person = Person(request.person);
    generation = person.generation;
    auto it = person.by_reader.find(key);
    if (it != person.by_reader.end() && it->second.expires > now) {
      const AccessDecision decision = DecideAccess(principal, request, it->second.facts);
      if (!decision.permitted) return false;
      if (it->second.audited) return true;
    }
  }

  // Read the facts afresh and, when they permit, record the delivery with them.
  Facts fresh;
  bool permitted = false;
  absl::Status status = pool_.Transaction(now + absl::Seconds(5), [&](pqxx::transaction_base& tx) {
    if (NeedsAccessFacts(principal, request)) {
      fresh.facts = ReadAccessFacts(tx, principal.organization, request.person,
                                    request.data_category, request.purpose, now);
    }
    const AccessDecision decision = DecideAccess(principal, request, fresh.facts);
    permitted = decision.permitted;
    if (permitted) {
      AppendAudit(tx, AuditOf(principal, action, request, decision, now, request_id));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  Metrics::Global().Add("samplan_events_access_reads_total", "");
  fresh.expires = now + ttl_;
  fresh.audited = permitted;

  absl::MutexLock lock(&mu_);
  if (by_person_.size() > kMaxPersons) {
    for (auto it = by_person_.begin(); it != by_person_.end();) {
      absl::erase_if(it->second.by_reader,
                     [&](const auto& entry) { return entry.second.expires <= now; });
      if (it->second.by_reader.empty()) {
        by_person_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  PersonFacts& person = Person(request.person);
  if (person.generation == generation) person.by_reader[key] = std::move(fresh);
  return permitted;
}

void AccessGate::ForgetPerson(const std::string& person) {
  absl::MutexLock lock(&mu_);
  PersonFacts& facts = Person(person);
  facts.generation = ++generation_;
  facts.by_reader.clear();
}

AccessGate::PersonFacts& AccessGate::Person(const std::string& person) {
  // A person's entry starts at the latest generation, so a read that began before
  // an entry was pruned and made again is still recognised as stale.
  return by_person_.try_emplace(person, PersonFacts{generation_, {}}).first->second;
}

}  // namespace samplan::events
