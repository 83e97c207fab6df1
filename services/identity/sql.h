#ifndef SAMPLAN_SERVICES_IDENTITY_SQL_H_
#define SAMPLAN_SERVICES_IDENTITY_SQL_H_

// Every statement the identity service runs, prepared under its name on each
// pooled connection. User input reaches them only as $n parameters. Timestamps
// leave the database as microseconds since the epoch and enter it as RFC 3339 text.

#include "common/pg.h"

namespace samplan::identity::sql {

#define SAMPLAN_SQL_MICROS(column) "(extract(epoch FROM " column ") * 1000000)::bigint"

// --- Municipalities -------------------------------------------------------------

// $1 code, $2 display_name, $3 create_time. Returns no row when the code exists.
inline constexpr PreparedStatement kInsertMunicipality{
    "identity_insert_municipality",
    "INSERT INTO identity.municipalities (code, display_name, create_time)"
    " VALUES ($1, $2, $3) ON CONFLICT (code) DO NOTHING RETURNING code"};

// $1 code.
inline constexpr PreparedStatement kSelectMunicipality{
    "identity_select_municipality",
    "SELECT code, display_name, " SAMPLAN_SQL_MICROS("create_time")
    " FROM identity.municipalities WHERE code = $1"};

// $1 after code or '', $2 limit.
inline constexpr PreparedStatement kListMunicipalities{
    "identity_list_municipalities",
    "SELECT code, display_name, " SAMPLAN_SQL_MICROS("create_time")
    " FROM identity.municipalities WHERE code > $1 ORDER BY code LIMIT $2"};

// $1 codes (text[]). Returns those not registered.
inline constexpr PreparedStatement kUnknownMunicipalities{
    "identity_unknown_municipalities",
    "SELECT c FROM unnest($1::text[]) AS c"
    " WHERE NOT EXISTS (SELECT 1 FROM identity.municipalities m WHERE m.code = c)"};

// --- Organizations --------------------------------------------------------------

#define SAMPLAN_ORGANIZATION_COLUMNS                                          \
  "id, display_name, kind, description, municipalities, version, "            \
  SAMPLAN_SQL_MICROS("create_time") ", " SAMPLAN_SQL_MICROS("update_time")

// $1 id, $2 display_name, $3 kind, $4 description, $5 municipalities (text[]),
// $6 create_time. Returns no row when the id is taken.
inline constexpr PreparedStatement kInsertOrganization{
    "identity_insert_organization",
    "INSERT INTO identity.organizations (id, display_name, kind, description,"
    "  municipalities, version, create_time, update_time)"
    " VALUES ($1, $2, $3, $4, $5, 1, $6, $6) ON CONFLICT (id) DO NOTHING RETURNING id"};

// $1 id.
inline constexpr PreparedStatement kSelectOrganization{
    "identity_select_organization",
    "SELECT " SAMPLAN_ORGANIZATION_COLUMNS " FROM identity.organizations WHERE id = $1"};

// $1 id. Locks the row until the transaction ends: updates take turns.
inline constexpr PreparedStatement kSelectOrganizationForUpdate{
    "identity_select_organization_for_update",
    "SELECT " SAMPLAN_ORGANIZATION_COLUMNS
    " FROM identity.organizations WHERE id = $1 FOR UPDATE"};

// $1 id, $2 display_name, $3 kind, $4 description, $5 municipalities, $6 update_time.
inline constexpr PreparedStatement kUpdateOrganization{
    "identity_update_organization",
    "UPDATE identity.organizations SET display_name = $2, kind = $3, description = $4,"
    "  municipalities = $5, update_time = $6, version = version + 1"
    " WHERE id = $1 RETURNING version"};

// $1 municipality or '', $2 after id or '', $3 limit.
inline constexpr PreparedStatement kListOrganizations{
    "identity_list_organizations",
    "SELECT " SAMPLAN_ORGANIZATION_COLUMNS " FROM identity.organizations"
    " WHERE ($1 = '' OR municipalities @> ARRAY[$1]) AND id > $2 ORDER BY id LIMIT $3"};

// $1 ids (text[]). Returns those not registered.
inline constexpr PreparedStatement kUnknownOrganizations{
    "identity_unknown_organizations",
    "SELECT o FROM unnest($1::text[]) AS o"
    " WHERE NOT EXISTS (SELECT 1 FROM identity.organizations x WHERE x.id = o)"};

// --- Users ----------------------------------------------------------------------

// $1 id, $2 display_name, $3 email, $4 create_time. No row when the id is taken.
inline constexpr PreparedStatement kInsertUser{
    "identity_insert_user",
    "INSERT INTO identity.users (id, display_name, email, version, create_time, update_time)"
    " VALUES ($1, $2, $3, 1, $4, $4) ON CONFLICT (id) DO NOTHING RETURNING id"};

// $1 user id, $2 organization id, $3 roles (text[]).
inline constexpr PreparedStatement kInsertMembership{
    "identity_insert_membership",
    "INSERT INTO identity.memberships (user_id, organization_id, roles) VALUES ($1, $2, $3)"};

// $1 id.
inline constexpr PreparedStatement kSelectUser{
    "identity_select_user",
    "SELECT id, display_name, email, version, " SAMPLAN_SQL_MICROS("create_time") ", "
    SAMPLAN_SQL_MICROS("update_time") " FROM identity.users WHERE id = $1"};

// $1 user id.
inline constexpr PreparedStatement kSelectMemberships{
    "identity_select_memberships",
    "SELECT organization_id, roles FROM identity.memberships WHERE user_id = $1"
    " ORDER BY organization_id"};

// --- Persons --------------------------------------------------------------------

#define SAMPLAN_PERSON_COLUMNS                                                  \
  "id::text, municipality, owner_organization, identity_number_kind,"          \
  " identity_number_sealed, identity_number_hash, given_name, family_name,"     \
  " birth_date::text, address, phone, email, protected_identity, version, "     \
  SAMPLAN_SQL_MICROS("create_time") ", " SAMPLAN_SQL_MICROS("update_time")      \
  ", create_request_id"

// $1 id, $2 municipality, $3 owner, $4 kind, $5 sealed (bytea), $6 hash,
// $7 given_name, $8 family_name, $9 birth_date, $10 address, $11 phone, $12 email,
// $13 protected_identity, $14 create_time, $15 create_request_id.
inline constexpr PreparedStatement kInsertPerson{
    "identity_insert_person",
    "INSERT INTO identity.persons (id, municipality, owner_organization,"
    "  identity_number_kind, identity_number_sealed, identity_number_hash, given_name,"
    "  family_name, birth_date, address, phone, email, protected_identity, version,"
    "  create_time, update_time, create_request_id)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::date, $10, $11, $12, $13, 1, $14, $14, $15)"};

// $1 id (a UUID, checked by the caller).
inline constexpr PreparedStatement kSelectPerson{
    "identity_select_person",
    "SELECT " SAMPLAN_PERSON_COLUMNS " FROM identity.persons WHERE id = $1::uuid"};

// $1 municipality, $2 identity_number_hash.
inline constexpr PreparedStatement kSelectPersonByHash{
    "identity_select_person_by_hash",
    "SELECT " SAMPLAN_PERSON_COLUMNS " FROM identity.persons"
    " WHERE municipality = $1 AND identity_number_hash = $2"};

// $1 owner organization, $2 create_request_id.
inline constexpr PreparedStatement kSelectPersonByRequest{
    "identity_select_person_by_request",
    "SELECT " SAMPLAN_PERSON_COLUMNS " FROM identity.persons"
    " WHERE owner_organization = $1 AND create_request_id = $2"};

// --- Consents -------------------------------------------------------------------

#define SAMPLAN_CONSENT_COLUMNS                                                     \
  "id::text, person_id::text, municipality, grantee_organizations, purpose,"        \
  " data_categories, " SAMPLAN_SQL_MICROS("valid_from") ", "                        \
  SAMPLAN_SQL_MICROS("valid_until") ", given_by, guardian_name, method,"            \
  " recorded_by_user, recorded_by_organization, " SAMPLAN_SQL_MICROS("create_time") \
  ", " SAMPLAN_SQL_MICROS("withdraw_time") ", withdrawn_by_user,"                   \
  " withdrawn_by_organization, withdraw_reason, version, create_request_id"

// $1 id, $2 person_id, $3 municipality, $4 grantees (text[]), $5 purpose,
// $6 data_categories (text[]), $7 valid_from, $8 valid_until, $9 given_by,
// $10 guardian_name, $11 method, $12 recorded_by_user, $13 recorded_by_organization,
// $14 create_time, $15 create_request_id.
inline constexpr PreparedStatement kInsertConsent{
    "identity_insert_consent",
    "INSERT INTO identity.consents (id, person_id, municipality, grantee_organizations,"
    "  purpose, data_categories, valid_from, valid_until, given_by, guardian_name, method,"
    "  recorded_by_user, recorded_by_organization, create_time, version, create_request_id)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1, $15)"};

// $1 id (a UUID, checked by the caller).
inline constexpr PreparedStatement kSelectConsent{
    "identity_select_consent",
    "SELECT " SAMPLAN_CONSENT_COLUMNS " FROM identity.consents WHERE id = $1::uuid"};

// $1 id. Locks the row: withdrawals take turns.
inline constexpr PreparedStatement kSelectConsentForUpdate{
    "identity_select_consent_for_update",
    "SELECT " SAMPLAN_CONSENT_COLUMNS " FROM identity.consents WHERE id = $1::uuid FOR UPDATE"};

// $1 recorded_by_organization, $2 create_request_id.
inline constexpr PreparedStatement kSelectConsentByRequest{
    "identity_select_consent_by_request",
    "SELECT " SAMPLAN_CONSENT_COLUMNS " FROM identity.consents"
    " WHERE recorded_by_organization = $1 AND create_request_id = $2"};

// $1 person_id, $2 grantee or '' for all, $3 cursor create_time or '', $4 cursor id
// or '', $5 limit. Newest recorded first.
inline constexpr PreparedStatement kListConsents{
    "identity_list_consents",
    "SELECT " SAMPLAN_CONSENT_COLUMNS " FROM identity.consents"
    " WHERE person_id = $1::uuid AND ($2 = '' OR grantee_organizations @> ARRAY[$2])"
    "   AND ($3 = '' OR (create_time, id) <"
    "        (NULLIF($3, '')::timestamptz, NULLIF($4, '')::uuid))"
    " ORDER BY create_time DESC, id DESC LIMIT $5"};

// $1 id, $2 withdraw_time, $3 user, $4 organization, $5 reason.
inline constexpr PreparedStatement kWithdrawConsent{
    "identity_withdraw_consent",
    "UPDATE identity.consents SET withdraw_time = $2, withdrawn_by_user = $3,"
    "  withdrawn_by_organization = $4, withdraw_reason = $5, version = version + 1"
    " WHERE id = $1::uuid AND withdraw_time IS NULL RETURNING version"};

// --- Break-glass ----------------------------------------------------------------

// $1 id, $2 person_id, $3 municipality, $4 organization, $5 user, $6 data_category,
// $7 reason, $8 create_time, $9 expire_time.
inline constexpr PreparedStatement kInsertBreakGlass{
    "identity_insert_break_glass",
    "INSERT INTO identity.break_glass_accesses (id, person_id, municipality, organization,"
    "  user_id, data_category, reason, create_time, expire_time)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"};

// --- Audit log ------------------------------------------------------------------

#define SAMPLAN_AUDIT_COLUMNS                                                        \
  "subject_person, sequence, " SAMPLAN_SQL_MICROS("time") ", municipality, actor_user," \
  " actor_organization, action, resource, data_category, purpose, consent, decision,"   \
  " reason, request_id, previous_hash, hash"

// $1 subject_person, $2 shard, $3 after sequence, $4 up to sequence, $5 limit.
// Oldest first.
inline constexpr PreparedStatement kAuditChainPage{
    "identity_audit_chain_page",
    "SELECT " SAMPLAN_AUDIT_COLUMNS " FROM identity.audit_records"
    " WHERE subject_person = $1 AND shard = $2 AND sequence > $3 AND sequence <= $4"
    " ORDER BY sequence LIMIT $5"};

// $1 subject_person, $2 before sequence (0: from the newest), $3 limit. Newest first.
inline constexpr PreparedStatement kAuditNewestFirst{
    "identity_audit_newest_first",
    "SELECT " SAMPLAN_AUDIT_COLUMNS " FROM identity.audit_records"
    " WHERE subject_person = $1 AND shard = '' AND ($2::bigint = 0 OR sequence < $2::bigint)"
    " ORDER BY sequence DESC LIMIT $3"};

// $1 municipality, $2 subject_person or '' for all. The heads of the chains of the
// municipality's persons, of its chains of attempts that named no person (shard
// "<municipality>/<n>"), and of the one such chain from before the shards (shard
// ''), each with its seal or NULLs.
inline constexpr PreparedStatement kAuditHeads{
    "identity_audit_heads",
    "SELECT h.subject_person, h.shard, h.sequence, h.hash, s.sequence, s.hash, s.mac"
    " FROM identity.audit_heads h"
    " LEFT JOIN identity.audit_seals s USING (subject_person, shard)"
    " WHERE ($2 = '' OR h.subject_person = $2)"
    "   AND (CASE WHEN h.subject_person = ''"
    "          THEN h.shard = '' OR starts_with(h.shard, $1 || '/')"
    "          ELSE EXISTS (SELECT 1 FROM identity.persons p"
    "               WHERE 'persons/' || p.id::text = h.subject_person"
    "                 AND p.municipality = $1) END)"
    " ORDER BY h.subject_person, h.shard"};

// $1 limit. Chain ends not sealed where they end.
inline constexpr PreparedStatement kUnsealedAuditHeads{
    "identity_unsealed_audit_heads",
    "SELECT h.subject_person, h.shard, h.sequence, h.hash FROM identity.audit_heads h"
    " LEFT JOIN identity.audit_seals s USING (subject_person, shard)"
    " WHERE h.sequence > 0 AND (s.sequence IS NULL OR s.sequence <> h.sequence)"
    " LIMIT $1"};

// $1 subject_person[], $2 shard[], $3 sequence[], $4 hash[], $5 mac[], $6 time. A
// seal replaces only an older one of its chain (two replicas may seal at once).
inline constexpr PreparedStatement kPutAuditSeals{
    "identity_put_audit_seals",
    "INSERT INTO identity.audit_seals AS s (subject_person, shard, sequence, hash, mac,"
    "  seal_time)"
    " SELECT x.subject_person, x.shard, x.sequence, x.hash, x.mac, $6"
    " FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[])"
    "   AS x(subject_person, shard, sequence, hash, mac)"
    " ON CONFLICT (subject_person, shard) DO UPDATE"
    "   SET sequence = excluded.sequence, hash = excluded.hash, mac = excluded.mac,"
    "       seal_time = excluded.seal_time"
    "   WHERE s.sequence < excluded.sequence"};

// $1 municipality, $2 start, $3 end, $4 volume threshold, $5 limit.
// What a supervisor should look at: refusals, break-glass, use of a consent outside
// its period, and actors who touched more distinct persons than the threshold.
inline constexpr PreparedStatement kReviewFindings{
    "identity_review_findings",
    "WITH window_records AS ("
    "  SELECT * FROM identity.audit_records"
    "  WHERE municipality = $1 AND time >= $2::timestamptz AND time < $3::timestamptz)"
    " SELECT * FROM ("
    "  SELECT 1 AS kind, actor_organization, actor_user, subject_person,"
    "    " SAMPLAN_SQL_MICROS("time") " AS micros, 1::bigint AS n, request_id, action, reason"
    "  FROM window_records WHERE decision = 'deny'"
    "  UNION ALL"
    "  SELECT 2, actor_organization, actor_user, subject_person, " SAMPLAN_SQL_MICROS("time")
    "    , 1, request_id, action, reason"
    "  FROM window_records WHERE reason IN ('break_glass', 'break_glass_granted')"
    "  UNION ALL"
    "  SELECT 3, a.actor_organization, a.actor_user, a.subject_person, "
    SAMPLAN_SQL_MICROS("a.time") ", 1, a.request_id, a.action, a.reason"
    "  FROM window_records a JOIN identity.consents c"
    "    ON a.consent = 'consents/' || c.id::text"
    "  WHERE a.decision = 'permit' AND NOT (c.valid_from <= a.time AND a.time < c.valid_until"
    "    AND (c.withdraw_time IS NULL OR a.time < c.withdraw_time))"
    "  UNION ALL"
    "  SELECT 4, actor_organization, actor_user, '', " SAMPLAN_SQL_MICROS("max(time)") ","
    "    count(DISTINCT subject_person), '', '', ''"
    "  FROM window_records WHERE subject_person <> ''"
    "  GROUP BY actor_organization, actor_user"
    "  HAVING count(DISTINCT subject_person) > $4"
    " ) f ORDER BY kind, micros, request_id LIMIT $5"};

inline constexpr PreparedStatement kAll[] = {
    kInsertMunicipality, kSelectMunicipality, kListMunicipalities, kUnknownMunicipalities,
    kInsertOrganization, kSelectOrganization, kSelectOrganizationForUpdate,
    kUpdateOrganization, kListOrganizations, kUnknownOrganizations,
    kInsertUser, kInsertMembership, kSelectUser, kSelectMemberships,
    kInsertPerson, kSelectPerson, kSelectPersonByHash, kSelectPersonByRequest,
    kInsertConsent, kSelectConsent, kSelectConsentForUpdate, kSelectConsentByRequest,
    kListConsents, kWithdrawConsent,
    kInsertBreakGlass,
    kAuditChainPage, kAuditNewestFirst, kAuditHeads, kUnsealedAuditHeads, kPutAuditSeals,
    kReviewFindings};

#undef SAMPLAN_AUDIT_COLUMNS
#undef SAMPLAN_CONSENT_COLUMNS
#undef SAMPLAN_PERSON_COLUMNS
#undef SAMPLAN_ORGANIZATION_COLUMNS
#undef SAMPLAN_SQL_MICROS

}  // namespace samplan::identity::sql

#endif  // SAMPLAN_SERVICES_IDENTITY_SQL_H_
