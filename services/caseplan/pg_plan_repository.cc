#include "services/caseplan/pg_plan_repository.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "services/caseplan/sql.h"

namespace samplan {
const std::vector<Migration>& caseplan_migrations();
}  // namespace samplan

namespace samplan::caseplan {
namespace {

using ::google::protobuf::util::TimeUtil;

std::vector<std::string> ParticipantOrganizations(const Plan& plan) {
  std::vector<std::string> out;
  for (const auto& participant : plan.participants()) out.push_back(participant.organization());
  return out;
}

absl::StatusOr<Plan> ParseContent(const pqxx::field& field) {
  Plan plan;
  // Fields written by a newer version are kept as unknown fields, not lost.
  const pqxx::binarystring bytes(field);
  if (!plan.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("a stored plan could not be read");
  }
  return plan;
}

// Reads a row of (id, version, content, create_micros, update_micros).
absl::StatusOr<Plan> PlanFromRow(const pqxx::row& row) {
  absl::StatusOr<Plan> plan = ParseContent(row[2]);
  if (!plan.ok()) return plan;
  plan->set_name(absl::StrCat("plans/", row[0].as<std::string>()));
  plan->set_version(row[1].as<int64_t>());
  plan->set_etag(absl::StrCat(plan->version()));
  *plan->mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(row[3].as<int64_t>());
  *plan->mutable_update_time() = TimeUtil::MicrosecondsToTimestamp(row[4].as<int64_t>());
  return plan;
}

// Reads a row of (version, create_micros, actor_user, actor_organization,
// request_id, changed_fields, content, event_id) of plan `id`.
absl::StatusOr<PlanRevision> RevisionFromRow(const std::string& id, const pqxx::row& row) {
  PlanRevision revision;
  revision.set_version(row[0].as<int64_t>());
  revision.set_name(absl::StrCat("plans/", id, "/revisions/", revision.version()));
  *revision.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(row[1].as<int64_t>());
  revision.set_actor_user(row[2].as<std::string>());
  revision.set_actor_organization(row[3].as<std::string>());
  revision.set_request_id(row[4].as<std::string>());
  for (std::string& field : ParsePgTextArray(row[5])) revision.add_changed_fields(field);
  absl::StatusOr<Plan> plan = ParseContent(row[6]);
  if (!plan.ok()) return plan.status();
  plan->set_name(absl::StrCat("plans/", id));
  plan->set_version(revision.version());
  plan->set_etag(absl::StrCat(revision.version()));
  *plan->mutable_update_time() = revision.create_time();
  *revision.mutable_plan() = *std::move(plan);
  revision.set_event_id(row[7].as<std::string>());
  return revision;
}

std::string IdOf(const Plan& plan) {
  absl::string_view name = plan.name();
  return std::string(name.substr(name.find('/') + 1));
}

AccessFacts FactsOf(pqxx::transaction_base& tx, const Caller& caller,
                    absl::string_view organization, const Plan& plan) {
  return ReadAccessFacts(tx, organization, plan.person(), kPlanDataCategory, kPlanPurpose,
                         caller.now);
}

// Decides `caller`'s `action` on `plan` (null: there is no plan `id`) and appends
// the audit record within `tx`. `known` are the facts when a query already read
// them. Returns OK or the denial to answer with once `tx` has committed the record.
absl::Status Guard(pqxx::transaction_base& tx, const Caller& caller, const Plan* plan,
                   const std::string& id, AccessAction action,
                   const AccessFacts* known = nullptr) {
  GuardedAccess access;
  if (plan == nullptr) {
    access = MissingPlanAccess(caller, id, action);
  } else {
    const AccessFacts facts = known != nullptr ? *known
                              : NeedsAccessFacts(caller, *plan, action)
                                  ? FactsOf(tx, caller, caller.principal.organization, *plan)
                                  : AccessFacts{};
    access = DecidePlanAccess(caller, *plan, action, facts);
  }
  AppendAudit(tx, access.audit);
  return StatusOf(access.decision, access.audit.resource);
}

// Reads plan `id` for `caller` within `tx`: `plan` becomes the plan, or the denial
// to answer with once `tx` has committed its audit record. Returns a status other
// than OK only when the transaction must roll back.
absl::Status ReadGuarded(pqxx::transaction_base& tx, const Caller& caller,
                         const std::string& id, absl::StatusOr<Plan>& plan) {
  pqxx::result rows = tx.exec_prepared(sql::kSelectPlan.name, id);
  plan = absl::NotFoundError("plan not found");
  if (!rows.empty()) plan = PlanFromRow(rows[0]);
  if (!rows.empty() && !plan.ok()) return plan.status();
  absl::Status access = Guard(tx, caller, plan.ok() ? &*plan : nullptr, id, AccessAction::kRead);
  if (!access.ok()) plan = access;
  return absl::OkStatus();
}

}  // namespace

std::vector<MigrationSet> PlanMigrationSets() {
  return PublishingServiceMigrationSets("caseplan", caseplan_migrations());
}

std::vector<PreparedStatement> PlanRepositoryStatements(const Outbox& outbox) {
  return RepositoryStatements(sql::kAll, outbox);
}

std::string PlanContent(const Plan& plan) {
  Plan content = plan;
  content.clear_version();
  content.clear_etag();
  content.clear_update_time();
  return content.SerializeAsString();
}

absl::StatusOr<CreateResult> PgPlanRepository::CreatePlan(const Caller& caller,
                                                          const PlanWrite& write) {
  CreateResult result;
  absl::Status denied;
  absl::Status status = pool_.Transaction(caller.deadline, [&](pqxx::transaction_base& tx) {
    const Plan& plan = write.plan;
    const AccessFacts facts = FactsOf(tx, caller, caller.principal.organization, plan);
    if (absl::Status registered = CheckPersonRegistered(facts, plan.municipality(), "plan.person");
        !registered.ok()) {
      return registered;
    }
    const GuardedAccess access = DecidePlanAccess(caller, plan, AccessAction::kCreate, facts);
    AppendAudit(tx, access.audit);
    denied = StatusOf(access.decision, plan.name());
    if (!denied.ok()) return absl::OkStatus();
    pqxx::result inserted = tx.exec_prepared(
        sql::kInsertPlan.name, IdOf(plan), plan.municipality(), plan.person(),
        plan.lead_organization(), PgTextArray(ParticipantOrganizations(plan)),
        v1::PlanStatus_Name(plan.status()), PgBytes(PlanContent(plan)), PgTimestamp(write.time),
        write.request_id, write.actor_user, PgTextArray(write.changed_fields),
        write.event.event_id(), write.fingerprint);
    if (inserted.empty()) {
      // The organization sent this request id before: answer with that plan.
      pqxx::result existing = tx.exec_prepared(sql::kSelectPlanByRequest.name,
                                               plan.lead_organization(), write.request_id);
      if (existing.empty()) return absl::AbortedError("concurrent create; retry");
      if (existing[0][5].as<std::string>() != write.fingerprint) {
        return InvalidField("request_id",
                            "was already used by this organization for a different plan; "
                            "send a new request id for a new plan");
      }
      absl::StatusOr<Plan> stored = PlanFromRow(existing[0]);
      if (!stored.ok()) return stored.status();
      result.plan = *std::move(stored);
      result.created = false;
      return absl::OkStatus();
    }
    outbox_.Append(tx, write.event);
    result.plan = plan;
    result.plan.set_version(1);
    result.plan.set_etag("1");
    *result.plan.mutable_create_time() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(write.time));
    *result.plan.mutable_update_time() = result.plan.create_time();
    result.created = true;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!denied.ok()) return denied;
  return result;
}

// One statement reads the plan and, when the rule needs them, the caller's access
// facts; the audit record then joins the next batch of the audit log, and the
// plan is answered only once that batch is durable.
absl::StatusOr<Plan> PgPlanRepository::GetPlan(const Caller& caller,
                                               const std::string& id) {
  absl::StatusOr<Plan> plan = absl::NotFoundError("plan not found");
  GuardedAccess access;
  absl::Status status = pool_.Read(caller.deadline, [&](pqxx::transaction_base& tx) {
    const Principal& principal = caller.principal;
    pqxx::result rows = tx.exec_prepared(
        sql::kSelectPlanWithFacts.name, id, principal.organization, principal.municipality,
        MayHandlePersonalData(principal), kPlanDataCategory, kPlanPurpose,
        PgTimestamp(caller.now));
    if (rows.empty()) {
      access = MissingPlanAccess(caller, id, AccessAction::kRead);
      return absl::OkStatus();
    }
    plan = PlanFromRow(rows[0]);
    if (!plan.ok()) return plan.status();
    access = DecidePlanAccess(caller, *plan, AccessAction::kRead, AccessFactsFromRow(rows[0], 5));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (absl::Status audited = audit_log_.Append(access.audit, caller.deadline); !audited.ok()) {
    return audited;
  }
  if (absl::Status denied = StatusOf(access.decision, access.audit.resource); !denied.ok()) {
    return denied;
  }
  return plan;
}

absl::StatusOr<UpdateResult> PgPlanRepository::UpdatePlan(const Caller& caller,
                                                          const std::string& id,
                                                          const std::string& retry_request_id,
                                                          const PlanChange& change) {
  UpdateResult result;
  Plan& stored = result.plan;
  absl::Status denied;
  absl::Status status = pool_.Transaction(caller.deadline, [&](pqxx::transaction_base& tx) {
    pqxx::result rows = tx.exec_prepared(sql::kSelectPlanForUpdate.name, id);
    absl::StatusOr<Plan> current = absl::NotFoundError("plan not found");
    if (!rows.empty()) current = PlanFromRow(rows[0]);
    if (!rows.empty() && !current.ok()) return current.status();
    // A denial commits its audit record; a permitted change that then fails
    // (invalid, stale etag) rolls back with it, having changed and shown nothing.
    denied = Guard(tx, caller, current.ok() ? &*current : nullptr, id, AccessAction::kUpdate);
    if (!denied.ok()) return absl::OkStatus();
    // Looked up under the row lock: a retry sent while its first attempt is still
    // running waits for it, then finds its revision instead of applying the
    // change again.
    if (!retry_request_id.empty()) {
      pqxx::result earlier =
          tx.exec_prepared(sql::kSelectRevisionByRequest.name, id, retry_request_id);
      if (!earlier.empty()) {
        absl::StatusOr<PlanRevision> revision = RevisionFromRow(id, earlier[0]);
        if (!revision.ok()) return revision.status();
        result.earlier = EarlierUpdate{*std::move(revision), earlier[0][8].as<std::string>()};
        return absl::OkStatus();
      }
    }
    const FactsFor facts_for = [&](absl::string_view organization) {
      return FactsOf(tx, caller, organization, *current);
    };
    absl::StatusOr<std::optional<PlanWrite>> write = change(*current, facts_for);
    if (!write.ok()) return write.status();
    if (!write->has_value()) {
      stored = *std::move(current);
      return absl::OkStatus();
    }
    const PlanWrite& w = **write;
    pqxx::result updated = tx.exec_prepared(
        sql::kUpdatePlan.name, id, current->version(),
        PgTextArray(ParticipantOrganizations(w.plan)), v1::PlanStatus_Name(w.plan.status()),
        PgBytes(PlanContent(w.plan)), PgTimestamp(w.time), w.actor_user, w.actor_organization,
        w.request_id, PgTextArray(w.changed_fields), w.event.event_id(), w.fingerprint);
    // The row is locked: its version cannot have moved.
    if (updated.empty()) return absl::InternalError("a locked plan changed its version");
    outbox_.Append(tx, w.event);
    stored = w.plan;
    stored.set_version(updated[0][0].as<int64_t>());
    stored.set_etag(absl::StrCat(stored.version()));
    *stored.mutable_update_time() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(w.time));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!denied.ok()) return denied;
  return result;
}

absl::StatusOr<std::vector<Plan>> PgPlanRepository::ListPlans(const Caller& caller,
                                                              const PlanQuery& query) {
  std::vector<Plan> plans;
  absl::Status status = pool_.Transaction(caller.deadline, [&](pqxx::transaction_base& tx) {
    std::string after_time, after_id;
    if (query.after_create_time.has_value()) {
      after_time = PgTimestamp(*query.after_create_time);
      after_id = query.after_id;
    }
    pqxx::result rows = tx.exec_prepared(
        sql::kListPlans.name, query.municipality, query.viewer_organization, query.person,
        query.organization, query.status, after_time, after_id, query.limit,
        PgTimestamp(caller.now));
    for (const pqxx::row& row : rows) {
      absl::StatusOr<Plan> plan = PlanFromRow(row);
      if (!plan.ok()) return plan.status();
      // The query left out what the caller may not see, and read the facts of
      // the rest; the rule decides on them for the audit record.
      AccessFacts facts;
      facts.consent = row[5].is_null() ? "" : row[5].as<std::string>();
      facts.break_glass = row[6].is_null() ? "" : row[6].as<std::string>();
      facts.consent_gap = row[7].is_null() ? "" : row[7].as<std::string>();
      if (!Guard(tx, caller, &*plan, IdOf(*plan), AccessAction::kRead, &facts).ok()) continue;
      plans.push_back(*std::move(plan));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return plans;
}

absl::StatusOr<std::vector<PlanRevision>> PgPlanRepository::ListRevisions(
    const Caller& caller, const std::string& id, std::optional<int64_t> before_version,
    int limit) {
  std::vector<PlanRevision> revisions;
  absl::Status denied;
  absl::Status status = pool_.Transaction(caller.deadline, [&](pqxx::transaction_base& tx) {
    absl::StatusOr<Plan> plan;
    if (absl::Status read = ReadGuarded(tx, caller, id, plan); !read.ok()) return read;
    denied = plan.status();
    if (!denied.ok()) return absl::OkStatus();
    pqxx::result rows =
        tx.exec_prepared(sql::kListRevisions.name, id, before_version.value_or(0), limit);
    for (const pqxx::row& row : rows) {
      absl::StatusOr<PlanRevision> revision = RevisionFromRow(id, row);
      if (!revision.ok()) return revision.status();
      revisions.push_back(*std::move(revision));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!denied.ok()) return denied;
  return revisions;
}

}  // namespace samplan::caseplan
