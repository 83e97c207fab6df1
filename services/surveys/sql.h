#ifndef SAMPLAN_SERVICES_SURVEYS_SQL_H_
#define SAMPLAN_SERVICES_SURVEYS_SQL_H_

// Every statement the surveys service runs, prepared under its name on each
// pooled connection. User input reaches them only as $n parameters.

#include "common/pg.h"

namespace samplan::surveys::sql {

#define SAMPLAN_SURVEYS_MICROS(column) "(extract(epoch FROM " column ") * 1000000)::bigint"

// Questionnaire rows: (municipality, id, version, content, create_micros).
#define SAMPLAN_QUESTIONNAIRE_COLUMNS \
  "municipality, id, version, content, " SAMPLAN_SURVEYS_MICROS("create_time")

// $1 municipality ('' shipped), $2 id, $3 version, $4 content, $5 time. Returns
// nothing when that version is stored already.
inline constexpr PreparedStatement kInsertQuestionnaire{
    "surveys_insert_questionnaire",
    "INSERT INTO surveys.questionnaires (municipality, id, version, content, create_time)"
    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING version"};

// $1 municipality, $2 id, $3 version or 0 for the latest: the municipality's
// own or a shipped one.
inline constexpr PreparedStatement kSelectQuestionnaire{
    "surveys_select_questionnaire",
    "SELECT " SAMPLAN_QUESTIONNAIRE_COLUMNS
    " FROM surveys.questionnaires"
    " WHERE municipality IN ($1, '') AND id = $2 AND ($3 = 0 OR version = $3)"
    " ORDER BY version DESC LIMIT 1"};

// $1 municipality, $2 id: locks the latest version of the municipality's own
// questionnaire, so two publishers take turns.
inline constexpr PreparedStatement kLockLatestQuestionnaire{
    "surveys_lock_latest_questionnaire",
    "SELECT version FROM surveys.questionnaires WHERE municipality = $1 AND id = $2"
    " ORDER BY version DESC LIMIT 1 FOR UPDATE"};

// $1 municipality, $2 id: whether the id is taken, here or by a shipped one.
inline constexpr PreparedStatement kQuestionnaireIdTaken{
    "surveys_questionnaire_id_taken",
    "SELECT 1 FROM surveys.questionnaires WHERE municipality IN ($1, '') AND id = $2 LIMIT 1"};

// $1 municipality: the latest version of each, by id.
inline constexpr PreparedStatement kListQuestionnaires{
    "surveys_list_questionnaires",
    "SELECT DISTINCT ON (id) " SAMPLAN_QUESTIONNAIRE_COLUMNS
    " FROM surveys.questionnaires WHERE municipality IN ($1, '')"
    " ORDER BY id, version DESC"};

// Outcome rows: (id, version, content, create_micros, update_micros,
// create_fingerprint, municipality).
#define SAMPLAN_OUTCOME_COLUMNS                                                          \
  "id::text, version, content, " SAMPLAN_SURVEYS_MICROS("create_time") ", "              \
  SAMPLAN_SURVEYS_MICROS("update_time") ", create_fingerprint, municipality"

// $1 id, $2 municipality, $3 person, $4 owner, $5 activity, $6 activity_kind,
// $7 gender, $8 age, $9 entry_date, $10 entry_occupation, $11 entry_extent,
// $12 content, $13 time, $14 request_id, $15 fingerprint. Returns nothing when
// the organization already sent this request id.
inline constexpr PreparedStatement kInsertOutcome{
    "surveys_insert_outcome",
    "INSERT INTO surveys.outcomes (id, municipality, person, owner_organization, activity,"
    "  activity_kind, gender, age_at_entry, entry_date, entry_occupation, entry_extent,"
    "  version, content, create_time, update_time, create_request_id, create_fingerprint)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $13, $13, $14, $15)"
    " ON CONFLICT (owner_organization, create_request_id) DO NOTHING RETURNING id"};

// $1 organization, $2 request_id.
inline constexpr PreparedStatement kSelectOutcomeByRequest{
    "surveys_select_outcome_by_request",
    "SELECT " SAMPLAN_OUTCOME_COLUMNS
    " FROM surveys.outcomes WHERE owner_organization = $1 AND create_request_id = $2"};

// $1 id.
inline constexpr PreparedStatement kSelectOutcome{
    "surveys_select_outcome",
    "SELECT " SAMPLAN_OUTCOME_COLUMNS " FROM surveys.outcomes WHERE id = $1"};

// $1 id. Locks the row: status updates take turns.
inline constexpr PreparedStatement kSelectOutcomeForUpdate{
    "surveys_select_outcome_for_update",
    "SELECT " SAMPLAN_OUTCOME_COLUMNS " FROM surveys.outcomes WHERE id = $1 FOR UPDATE"};

// $1 id, $2 content, $3 time, $4 exit_occupation, $5 three_months_source,
// $6 six_months_source, $7 six_months_occupation, $8 six_months_extent; ''
// for a status not recorded (the extent is then NULL).
inline constexpr PreparedStatement kUpdateOutcome{
    "surveys_update_outcome",
    "UPDATE surveys.outcomes SET content = $2, update_time = $3, version = version + 1,"
    "  exit_occupation = NULLIF($4, ''), three_months_source = NULLIF($5, ''),"
    "  six_months_source = NULLIF($6, ''), six_months_occupation = NULLIF($7, ''),"
    "  six_months_extent = CASE WHEN $7 = '' THEN NULL ELSE $8::integer END"
    " WHERE id = $1 RETURNING version"};

// $1 municipality, $2 from ('' open), $3 to ('' open), $4 organization or '',
// $5 activity_kind or '': what statistics count, no person, counted in groups of
// records that agree in all of it (the age as the first age of its band:
// statistics keep only the band), so that 100,000 records come back as at most
// a few thousand rows.
inline constexpr PreparedStatement kOutcomeFacts{
    "surveys_outcome_facts",
    "SELECT gender,"
    "  CASE WHEN age_at_entry < 18 THEN 0 WHEN age_at_entry < 30 THEN 18"
    "       WHEN age_at_entry < 55 THEN 30 ELSE 55 END,"
    "  activity_kind, owner_organization, entry_occupation,"
    "  coalesce(exit_occupation, ''), coalesce(three_months_source, ''),"
    "  coalesce(six_months_source, ''), coalesce(six_months_occupation, ''),"
    "  coalesce(six_months_extent > entry_extent, false), count(*)"
    " FROM surveys.outcomes"
    " WHERE municipality = $1 AND ($2 = '' OR entry_date >= NULLIF($2, '')::date)"
    "   AND ($3 = '' OR entry_date <= NULLIF($3, '')::date)"
    "   AND ($4 = '' OR owner_organization = $4) AND ($5 = '' OR activity_kind = $5)"
    " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10"};

inline constexpr PreparedStatement kAll[] = {
    kInsertQuestionnaire, kSelectQuestionnaire, kLockLatestQuestionnaire,
    kQuestionnaireIdTaken, kListQuestionnaires,  kInsertOutcome,
    kSelectOutcomeByRequest, kSelectOutcome,    kSelectOutcomeForUpdate,
    kUpdateOutcome,         kOutcomeFacts,
};

}  // namespace samplan::surveys::sql

#endif  // SAMPLAN_SERVICES_SURVEYS_SQL_H_
