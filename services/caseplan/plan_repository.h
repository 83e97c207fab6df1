#ifndef SAMPLAN_SERVICES_CASEPLAN_PLAN_REPOSITORY_H_
#define SAMPLAN_SERVICES_CASEPLAN_PLAN_REPOSITORY_H_

// Storage of plans, their revisions and their events, guarded by the access rule.
// The service decides what a change is; the repository stores it atomically: the
// plan, a revision, the outbox event and the audit record commit together or not
// at all. Every call that reads or writes a plan reads the identity facts the
// access decision needs (DecidePlanAccess) and appends its audit record in the
// same transaction, denials included: a denied call commits its audit record and
// then returns PERMISSION_DENIED.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "samplan/caseplan/v1/caseplan.pb.h"
#include "samplan/events/v1/event.pb.h"
#include "services/caseplan/plan_rules.h"

namespace samplan::caseplan {

using ::samplan::caseplan::v1::Plan;
using ::samplan::caseplan::v1::PlanRevision;

// One change to store: the plan as it is to be after the change, and its trail.
struct PlanWrite {
  Plan plan;  // complete new state; version and etag are ignored
  std::vector<std::string> changed_fields;
  std::string request_id;
  std::string actor_user;
  std::string actor_organization;
  absl::Time time;
  events::v1::Event event;
  absl::Time deadline;
  // RequestFingerprint of the call's request, so that a retry can be told from a
  // reused request id.
  std::string fingerprint;
};

// An update found by its request id, with the fingerprint of its request.
struct EarlierUpdate {
  PlanRevision revision;
  std::string fingerprint;
};

// What UpdatePlan did.
struct UpdateResult {
  // The plan as stored, or as it was when nothing changed.
  Plan plan;
  // Set when the call is a retry: an earlier update of the plan carries its
  // request id. Then nothing was changed and `plan` is unset.
  std::optional<EarlierUpdate> earlier;
};

struct CreateResult {
  Plan plan;
  // False when a plan with the same creating organization and request id existed,
  // and `plan` is that one.
  bool created = false;
};

// Which plans a list call returns; every filter is optional but the viewer.
struct PlanQuery {
  std::string municipality;
  std::string viewer_organization;
  std::string person;
  std::string organization;
  std::string status;  // PlanStatus name, or empty
  // Where the previous page ended: create_time and id of its last plan.
  std::optional<absl::Time> after_create_time;
  std::string after_id;
  int limit = 25;
};

// Reads the identity facts for another organization within the call's
// transaction (used by a handover to check the new lead's consent).
using FactsFor = std::function<AccessFacts(absl::string_view organization)>;

class PlanRepository {
 public:
  virtual ~PlanRepository() = default;

  // Stores a new plan (version 1), its first revision and the event, unless the
  // same organization already created one with `write.request_id`; returns that one
  // then, with `created` false and no new event, if it was created from the same
  // request (same fingerprint), and INVALID_ARGUMENT naming request_id if not.
  // INVALID_ARGUMENT naming plan.person unless the person is registered in the
  // plan's municipality.
  virtual absl::StatusOr<CreateResult> CreatePlan(const Caller& caller,
                                                  const PlanWrite& write) = 0;

  // Returns the plan with `id` if `caller` may read it; PERMISSION_DENIED if not,
  // and also if there is no such plan.
  virtual absl::StatusOr<Plan> GetPlan(const Caller& caller, const std::string& id) = 0;

  // The change an update makes to the plan as it is now: what to store, or nothing
  // when nothing changes, or a status (invalid, stale etag) that stores nothing.
  using PlanChange =
      std::function<absl::StatusOr<std::optional<PlanWrite>>(const Plan&, const FactsFor&)>;

  // In one transaction: locks plan `id`, decides whether `caller` may update it,
  // and, unless an earlier update of the plan carries `retry_request_id` (a
  // caller's x-request-id; empty when the caller sent none), runs `change` on it
  // and stores what it returns as the next version with its revision, event and
  // audit record. Concurrent updates of one plan take turns, so concurrent retries
  // of one request find the update the first of them made. Returns the plan as
  // stored (or as it was, when `change` changed nothing), or the earlier update;
  // PERMISSION_DENIED if the caller may not or there is no such plan; `change`'s
  // status if it fails, with nothing written.
  virtual absl::StatusOr<UpdateResult> UpdatePlan(const Caller& caller,
                                                  const std::string& id,
                                                  const std::string& retry_request_id,
                                                  const PlanChange& change) = 0;

  // Returns up to `query.limit` plans that `caller` may read, newest created first,
  // with an audit record for each.
  virtual absl::StatusOr<std::vector<Plan>> ListPlans(const Caller& caller,
                                                      const PlanQuery& query) = 0;

  // Returns up to `limit` revisions of plan `id`, newest first, older than
  // `before_version` when given, if `caller` may read the plan (as GetPlan).
  virtual absl::StatusOr<std::vector<PlanRevision>> ListRevisions(
      const Caller& caller, const std::string& id, std::optional<int64_t> before_version,
      int limit) = 0;
};

}  // namespace samplan::caseplan

#endif  // SAMPLAN_SERVICES_CASEPLAN_PLAN_REPOSITORY_H_
