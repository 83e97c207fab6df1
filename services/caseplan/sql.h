#ifndef SAMPLAN_SERVICES_CASEPLAN_SQL_H_
#define SAMPLAN_SERVICES_CASEPLAN_SQL_H_

// Every statement the caseplan service runs, prepared under its name on each
// pooled connection. User input reaches them only as $n parameters.

#include "common/access.h"
#include "common/pg.h"

namespace samplan::caseplan::sql {

// Timestamps leave the database as microseconds since the epoch (exact, no time
// zone parsing) and enter it as RFC 3339 text.
#define SAMPLAN_SQL_MICROS(column) "(extract(epoch FROM " column ") * 1000000)::bigint"

// $1 id, $2 municipality, $3 person, $4 lead_organization,
// $5 participant_organizations (text[]), $6 status, $7 content (bytea),
// $8 create_time, $9 create_request_id, $10 actor_user, $11 changed_fields (text[]),
// $12 event_id, $13 create_fingerprint.
// Inserts the plan and its first revision in one statement; returns nothing when
// the organization already created a plan with this request id.
inline constexpr PreparedStatement kInsertPlan{
    "caseplan_insert_plan",
    "WITH inserted AS ("
    "  INSERT INTO caseplan.plans (id, municipality, person, lead_organization,"
    "    participant_organizations, status, version, content, create_time, update_time,"
    "    create_request_id, create_fingerprint)"
    "  VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $8, $9, $13)"
    "  ON CONFLICT (lead_organization, create_request_id) DO NOTHING"
    "  RETURNING id, version, create_time)"
    " INSERT INTO caseplan.plan_revisions (plan_id, version, create_time, actor_user,"
    "   actor_organization, request_id, changed_fields, content, event_id)"
    " SELECT id, version, create_time, $10, $4, $9, $11, $7, $12 FROM inserted"
    " RETURNING plan_id"};

// $1 lead_organization, $2 create_request_id.
inline constexpr PreparedStatement kSelectPlanByRequest{
    "caseplan_select_plan_by_request",
    "SELECT id::text, version, content, " SAMPLAN_SQL_MICROS("create_time") ", " SAMPLAN_SQL_MICROS("update_time")
    ", create_fingerprint"
    " FROM caseplan.plans WHERE lead_organization = $1 AND create_request_id = $2"};

// $1 id.
inline constexpr PreparedStatement kSelectPlan{
    "caseplan_select_plan",
    "SELECT id::text, version, content, " SAMPLAN_SQL_MICROS("create_time") ", " SAMPLAN_SQL_MICROS("update_time")
    " FROM caseplan.plans WHERE id = $1"};

// $1 id, $2 caller's organization, $3 caller's municipality, $4 whether the
// caller's roles handle personal data, $5 data category, $6 purpose, $7 time.
// The plan, and in the same statement (one snapshot, one round trip) the access
// facts of the caller for its person — only when the rule needs them, as
// NeedsAccessFacts says: a caller that may handle personal data, in the plan's
// municipality, that does not lead it. NULL facts otherwise.
inline constexpr PreparedStatement kSelectPlanWithFacts{
    "caseplan_select_plan_with_facts",
    "SELECT p.id::text, p.version, p.content, " SAMPLAN_SQL_MICROS("p.create_time") ", "
    SAMPLAN_SQL_MICROS("p.update_time") ", f.* FROM caseplan.plans p"
    " LEFT JOIN LATERAL (SELECT " SAMPLAN_ACCESS_FACTS_COLUMNS
    "   FROM identity.access_facts($2, p.person, $5, $6, $7)"
    "   WHERE $4::boolean AND p.municipality = $3 AND p.lead_organization <> $2) f ON true"
    " WHERE p.id = $1"};

// $1 id. Locks the plan's row until the transaction ends: concurrent updates of
// one plan take turns instead of failing each other.
inline constexpr PreparedStatement kSelectPlanForUpdate{
    "caseplan_select_plan_for_update",
    "SELECT id::text, version, content, " SAMPLAN_SQL_MICROS("create_time") ", "
    SAMPLAN_SQL_MICROS("update_time") " FROM caseplan.plans WHERE id = $1 FOR UPDATE"};

// $1 id, $2 expected version, $3 participant_organizations, $4 status,
// $5 content, $6 update_time, $7 actor_user, $8 actor_organization, $9 request_id,
// $10 changed_fields, $11 event_id, $12 request_fingerprint. Writes the new version and its revision only if the plan is
// still at the expected version; returns no row otherwise.
inline constexpr PreparedStatement kUpdatePlan{
    "caseplan_update_plan",
    "WITH updated AS ("
    "  UPDATE caseplan.plans SET participant_organizations = $3, status = $4,"
    "    content = $5, update_time = $6, version = version + 1"
    "  WHERE id = $1 AND version = $2"
    "  RETURNING id, version, update_time)"
    " INSERT INTO caseplan.plan_revisions (plan_id, version, create_time, actor_user,"
    "   actor_organization, request_id, changed_fields, content, event_id,"
    "   request_fingerprint)"
    " SELECT id, version, update_time, $7, $8, $9, $10, $5, $11, $12 FROM updated"
    " RETURNING version"};

// $1 municipality, $2 viewer organization, $3 person or '', $4 organization or '',
// $5 status or '', $6 cursor create_time or '', $7 cursor id or '', $8 limit,
// $9 now. Only plans the viewer leads, or takes part in with a consent of the
// person that covers plans for coordination now, or a break-glass access; nothing
// else is read or counted. Columns 5 to 7 are the access facts
// (identity.access_facts: consent, break_glass, consent_gap) of the plans the
// viewer takes part in, read once per such plan and NULL for its own.
inline constexpr PreparedStatement kListPlans{
    "caseplan_list_plans",
    "SELECT p.id::text, p.version, p.content, " SAMPLAN_SQL_MICROS("p.create_time") ", "
    SAMPLAN_SQL_MICROS("p.update_time") ", f.consent, f.break_glass, f.consent_gap"
    " FROM caseplan.plans p"
    // OFFSET 0 keeps the subquery whole, so that its WHERE gates the function
    // (a one-time filter per plan) instead of filtering its result afterwards.
    " LEFT JOIN LATERAL (SELECT * FROM identity.access_facts($2, p.person, 'plan',"
    "     'coordination', $9::timestamptz) WHERE p.lead_organization <> $2 OFFSET 0) f ON true"
    " WHERE municipality = $1"
    "   AND (lead_organization = $2 OR participant_organizations @> ARRAY[$2])"
    "   AND (lead_organization = $2 OR f.consent IS NOT NULL OR f.break_glass IS NOT NULL)"
    "   AND ($3 = '' OR person = $3)"
    "   AND ($4 = '' OR lead_organization = $4 OR participant_organizations @> ARRAY[$4])"
    "   AND ($5 = '' OR status = $5)"
    "   AND ($6 = '' OR (p.create_time, p.id) <"
    "        (NULLIF($6, '')::timestamptz, NULLIF($7, '')::uuid))"
    " ORDER BY p.create_time DESC, p.id DESC LIMIT $8"};

// $1 plan id, $2 cursor version or 0, $3 limit.
inline constexpr PreparedStatement kListRevisions{
    "caseplan_list_revisions",
    "SELECT version, " SAMPLAN_SQL_MICROS("create_time") ", actor_user, actor_organization, request_id,"
    "  changed_fields, content, event_id::text"
    " FROM caseplan.plan_revisions"
    " WHERE plan_id = $1 AND ($2::bigint = 0 OR version < $2::bigint)"
    " ORDER BY version DESC LIMIT $3"};

// $1 plan id, $2 request_id. Only revisions made by UpdatePlan.
inline constexpr PreparedStatement kSelectRevisionByRequest{
    "caseplan_select_revision_by_request",
    "SELECT version, " SAMPLAN_SQL_MICROS("create_time") ", actor_user, actor_organization,"
    "  request_id, changed_fields, content, event_id::text, request_fingerprint"
    " FROM caseplan.plan_revisions"
    " WHERE plan_id = $1 AND request_id = $2 AND request_fingerprint <> ''"
    " ORDER BY version LIMIT 1"};

inline constexpr PreparedStatement kAll[] = {
    kInsertPlan, kSelectPlanByRequest, kSelectPlan, kSelectPlanWithFacts, kSelectPlanForUpdate,
    kUpdatePlan,
    kListPlans, kListRevisions, kSelectRevisionByRequest};

#undef SAMPLAN_SQL_MICROS

}  // namespace samplan::caseplan::sql

#endif  // SAMPLAN_SERVICES_CASEPLAN_SQL_H_
