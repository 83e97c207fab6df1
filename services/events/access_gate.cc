#include "services/events/access_gate.h"

#include "absl/strings/str_cat.h"
#include "common/metrics.h"

namespace samplan::events {
namespace {

// Past this many persons, facts that have run out are dropped.
constexpr size_t kMaxPersons = 100000;

std::string ReaderKey(const Principal& principal, const AccessRequest& request) {
  return absl::StrCat(principal.organization, "\n", principal.user, "\n",
                      request.data_category, "\n", request.purpose);
}

}  // namespace

AccessGate::AccessGate(PgPool& pool, const Clock& clock, absl::Duration ttl)
    : pool_(pool), clock_(clock), ttl_(ttl) {
  Metrics::Global().Describe("samplan_events_access_reads_total", "counter",
                             "Reads of consent facts (with their audit records) for deliveries.");
  refresher_ = std::thread([this] { RefreshLoop(); });
}

AccessGate::~AccessGate() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  refresher_.join();
}

absl::StatusOr<bool> AccessGate::MayDeliver(const Principal& principal,
                                            const AccessRequest& request,
                                            int64_t access_version,
                                            absl::string_view action,
                                            absl::string_view request_id) {
  const std::string key = ReaderKey(principal, request);
  uint64_t generation = 0;
  {
    absl::MutexLock lock(&mu_);
    while (true) {
      const absl::Time now = clock_.Now();
      PersonFacts& person = Person(request.person);
      generation = person.generation;
      auto it = person.by_reader.find(key);
      if (it != person.by_reader.end() &&
          Usable(it->second, principal, request, access_version, now)) {
        Facts& facts = it->second;
        RefreshSoon(facts, principal, request, action, request_id, generation, now);
        if (!DecideAccess(principal, request, facts.facts).permitted) return false;
        if (facts.audited) return true;
      }
      if (!person.reading.contains(key)) {
        person.reading.insert(key);
        break;
      }
      // Another subscriber of the same reader is reading these facts: use its.
      const std::string& wanted = request.person;
      auto read = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        auto p = by_person_.find(wanted);
        return p == by_person_.end() || !p->second.reading.contains(key);
      };
      mu_.Await(absl::Condition(&read));
    }
  }

  absl::StatusOr<Facts> facts = Read(principal, request, action, request_id);
  absl::MutexLock lock(&mu_);
  Person(request.person).reading.erase(key);
  if (!facts.ok()) return facts.status();
  const bool permitted = facts->audited;
  Keep(request.person, key, generation, *std::move(facts));
  return permitted;
}

bool AccessGate::KnownRefused(const Principal& principal, const AccessRequest& request,
                              int64_t access_version, absl::string_view action,
                              absl::string_view request_id) {
  absl::MutexLock lock(&mu_);
  auto person = by_person_.find(request.person);
  if (person == by_person_.end()) return false;
  auto it = person->second.by_reader.find(ReaderKey(principal, request));
  const absl::Time now = clock_.Now();
  if (it == person->second.by_reader.end() ||
      !Usable(it->second, principal, request, access_version, now)) {
    return false;
  }
  RefreshSoon(it->second, principal, request, action, request_id, person->second.generation,
              now);
  return !DecideAccess(principal, request, it->second.facts).permitted;
}

void AccessGate::RefreshSoon(Facts& facts, const Principal& principal,
                             const AccessRequest& request, absl::string_view action,
                             absl::string_view request_id, uint64_t generation, absl::Time now) {
  // Facts in use, refusing or permitting, are read again before they run out, so
  // that no delivery waits for the database when they would.
  if (facts.refreshing || facts.expires - now >= ttl_ / 3) return;
  facts.refreshing = true;
  refreshes_.push_back(
      {principal, request, std::string(action), std::string(request_id), generation});
}

absl::StatusOr<AccessGate::Facts> AccessGate::Read(const Principal& principal,
                                                   const AccessRequest& request,
                                                   absl::string_view action,
                                                   absl::string_view request_id) {
  const absl::Time now = clock_.Now();
  Facts fresh;
  absl::Status status =
      pool_.Transaction(now + absl::Seconds(5), [&](pqxx::transaction_base& tx) {
        fresh.read = NeedsAccessFacts(principal, request);
        if (fresh.read) {
          fresh.facts = ReadAccessFacts(tx, principal.organization, request.person,
                                        request.data_category, request.purpose, now);
        }
        const AccessDecision decision = DecideAccess(principal, request, fresh.facts);
        fresh.audited = decision.permitted;
        if (decision.permitted) {
          AppendAudit(tx, AuditOf(principal, action, request, decision, now, request_id));
        }
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  Metrics::Global().Add("samplan_events_access_reads_total", "");
  fresh.expires = now + ttl_;
  return fresh;
}

void AccessGate::Keep(const std::string& person, const std::string& key, uint64_t generation,
                      Facts facts) {
  const absl::Time now = clock_.Now();
  if (by_person_.size() > kMaxPersons) {
    for (auto it = by_person_.begin(); it != by_person_.end();) {
      absl::erase_if(it->second.by_reader,
                     [&](const auto& entry) { return entry.second.expires <= now; });
      if (it->second.by_reader.empty() && it->second.reading.empty()) {
        by_person_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  PersonFacts& entry = Person(person);
  if (entry.generation == generation) entry.by_reader[key] = std::move(facts);
}

void AccessGate::RefreshLoop() {
  while (true) {
    Refresh refresh;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !refreshes_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      refresh = std::move(refreshes_.front());
      refreshes_.pop_front();
    }
    absl::StatusOr<Facts> facts =
        Read(refresh.principal, refresh.request, refresh.action, refresh.request_id);
    const std::string key = ReaderKey(refresh.principal, refresh.request);
    absl::MutexLock lock(&mu_);
    if (facts.ok()) {
      Keep(refresh.request.person, key, refresh.generation, *std::move(facts));
    } else {
      // The facts in use run out as they would have; the next delivery reads.
      auto& readers = Person(refresh.request.person).by_reader;
      if (auto it = readers.find(key); it != readers.end()) it->second.refreshing = false;
    }
  }
}

bool AccessGate::Usable(const Facts& facts, const Principal& principal,
                        const AccessRequest& request, int64_t access_version, absl::Time now) {
  if (facts.expires <= now) return false;
  if (!NeedsAccessFacts(principal, request)) return true;
  return facts.read && facts.facts.access_version >= access_version;
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
  return by_person_.try_emplace(person, PersonFacts{generation_, {}, {}}).first->second;
}

}  // namespace samplan::events
