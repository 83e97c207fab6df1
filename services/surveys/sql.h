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
// statistics keep only the band). Read from outcome_counts, which a trigger
// keeps as records change (migration 0003), so 100,000 records are a few
// thousand rows to read, not 100,000 to group.
inline constexpr PreparedStatement kOutcomeFacts{
    "surveys_outcome_facts",
    "SELECT gender, age_band, activity_kind, owner_organization, entry_occupation,"
    "  exit_occupation, three_months_source, six_months_source, six_months_occupation,"
    "  extent_grew, sum(count)::bigint"
    " FROM surveys.outcome_counts"
    " WHERE municipality = $1 AND count > 0"
    "   AND ($2 = '' OR entry_date >= NULLIF($2, '')::date)"
    "   AND ($3 = '' OR entry_date <= NULLIF($3, '')::date)"
    "   AND ($4 = '' OR owner_organization = $4) AND ($5 = '' OR activity_kind = $5)"
    " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10"};

// ---- Invitations ("Vad hände sen?")

// $1 event type, $2 municipality: the rules an event of that type triggers.
inline constexpr PreparedStatement kSelectInvitationRules{
    "surveys_select_invitation_rules",
    "SELECT id, event_type, plan_status, amount, unit, questionnaire, wave"
    " FROM surveys.invitation_rules WHERE event_type = $1 AND municipality IN ($2, '')"
    " ORDER BY id"};

// $1 id, $2 rule, $3 municipality, $4 person, $5 owner, $6 activity, $7 wave,
// $8 questionnaire, $9 due_time, $10 source event, $11 now. Returns nothing
// when this rule invited this person for this activity before.
inline constexpr PreparedStatement kInsertInvitation{
    "surveys_insert_invitation",
    "INSERT INTO surveys.invitations (id, rule, municipality, person, owner_organization,"
    "  activity, wave, questionnaire, status, due_time, source_event, create_time, update_time)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'scheduled', $9, $10, $11, $11)"
    " ON CONFLICT (rule, person, activity) DO NOTHING RETURNING id"};

// Invitation rows: (id, municipality, person, owner, activity, wave,
// questionnaire, questionnaire_version, status, reminders_sent, version,
// sent_micros, expire_micros, answers).
#define SAMPLAN_INVITATION_COLUMNS                                                         \
  "id::text, municipality, person, owner_organization, activity, wave, questionnaire,"    \
  " questionnaire_version, status, reminders_sent, version,"                              \
  " coalesce(" SAMPLAN_SURVEYS_MICROS("sent_time") ", 0),"                                \
  " coalesce(" SAMPLAN_SURVEYS_MICROS("expire_time") ", 0), answers"

// $1 now, $2 limit: invitations due to be sent or reminded, locked; rows
// another replica holds are skipped. The conditions are on the locked rows
// themselves, not in a subquery: a row another replica sent and committed
// after this statement's snapshot is checked again in its new version (and
// dropped) when locked, where a subquery's answer would stand and the just
// sent invitation would go out again as a "reminder".
inline constexpr PreparedStatement kLockDueInvitations{
    "surveys_lock_due_invitations",
    "SELECT " SAMPLAN_INVITATION_COLUMNS " FROM surveys.invitations"
    " WHERE (status = 'scheduled' AND due_time <= $1)"
    "    OR (status = 'sent' AND next_reminder_time <= $1)"
    " ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED"};

// $1 now, $2 limit: sent invitations past their expiry, locked.
inline constexpr PreparedStatement kLockExpiredInvitations{
    "surveys_lock_expired_invitations",
    "SELECT " SAMPLAN_INVITATION_COLUMNS " FROM surveys.invitations"
    " WHERE status = 'sent' AND expire_time <= $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED"};

// $1 person: the person's invitations still to be sent or answered, locked.
inline constexpr PreparedStatement kLockOpenInvitationsOfPerson{
    "surveys_lock_open_invitations_of_person",
    "SELECT " SAMPLAN_INVITATION_COLUMNS " FROM surveys.invitations"
    " WHERE person = $1 AND status IN ('scheduled', 'sent') ORDER BY id FOR UPDATE"};

// $1 id: one invitation, locked.
inline constexpr PreparedStatement kLockInvitation{
    "surveys_lock_invitation",
    "SELECT " SAMPLAN_INVITATION_COLUMNS " FROM surveys.invitations WHERE id = $1 FOR UPDATE"};

// $1 token hash: the invitation the token is for.
inline constexpr PreparedStatement kSelectInvitationByToken{
    "surveys_select_invitation_by_token",
    "SELECT " SAMPLAN_INVITATION_COLUMNS " FROM surveys.invitations"
    " WHERE id = (SELECT invitation_id FROM surveys.invitation_tokens WHERE token_hash = $1)"};

// $1 id, $2 questionnaire_version, $3 sent_time, $4 expire_time,
// $5 next_reminder_time ('' none), $6 now: the invitation was sent.
inline constexpr PreparedStatement kMarkInvitationSent{
    "surveys_mark_invitation_sent",
    "UPDATE surveys.invitations SET status = 'sent', questionnaire_version = $2,"
    "  sent_time = $3, expire_time = $4, next_reminder_time = NULLIF($5, '')::timestamptz,"
    "  update_time = $6,"
    "  version = version + 1 WHERE id = $1 RETURNING version"};

// $1 id, $2 next_reminder_time ('' none), $3 now: a reminder was sent.
inline constexpr PreparedStatement kMarkReminderSent{
    "surveys_mark_reminder_sent",
    "UPDATE surveys.invitations SET reminders_sent = reminders_sent + 1,"
    "  next_reminder_time = NULLIF($2, '')::timestamptz, update_time = $3,"
    "  version = version + 1 WHERE id = $1 RETURNING version"};

// $1 id, $2 status (cancelled, expired, answered), $3 reason, $4 now.
inline constexpr PreparedStatement kCloseInvitation{
    "surveys_close_invitation",
    "UPDATE surveys.invitations SET status = $2, cancel_reason = $3, next_reminder_time = NULL,"
    "  answers = NULL, update_time = $4, version = version + 1 WHERE id = $1 RETURNING version"};

// $1 id, $2 answers, $3 now: partial answers saved.
inline constexpr PreparedStatement kSaveInvitationAnswers{
    "surveys_save_invitation_answers",
    "UPDATE surveys.invitations SET answers = $2, update_time = $3, version = version + 1"
    " WHERE id = $1 RETURNING version"};

// $1 token hash, $2 invitation id.
inline constexpr PreparedStatement kInsertInvitationToken{
    "surveys_insert_invitation_token",
    "INSERT INTO surveys.invitation_tokens (token_hash, invitation_id) VALUES ($1, $2)"};

// $1 id, $2 municipality, $3 questionnaire, $4 version, $5 invitation ('' none),
// $6 person, $7 wave, $8 answers, $9 day.
inline constexpr PreparedStatement kInsertResponse{
    "surveys_insert_response",
    "INSERT INTO surveys.responses (id, municipality, questionnaire, questionnaire_version,"
    "  invitation_id, person, wave, answers, submit_day)"
    " VALUES ($1, $2, $3, $4, NULLIF($5, '')::uuid, $6, $7, $8, $9::date)"};

// $1 person, $2 activity: the person's outcome record of the activity, locked.
inline constexpr PreparedStatement kLockOutcomeOfActivity{
    "surveys_lock_outcome_of_activity",
    "SELECT " SAMPLAN_OUTCOME_COLUMNS " FROM surveys.outcomes"
    " WHERE person = $1 AND activity = $2 ORDER BY create_time DESC LIMIT 1 FOR UPDATE"};

// ---- The notifications outbox

// $1 id, $2 invitation, $3 reminder, $4 subject, $5 body, $6 now.
inline constexpr PreparedStatement kInsertNotification{
    "surveys_insert_notification",
    "INSERT INTO surveys.notifications (id, invitation_id, reminder, channel, subject, body,"
    "  status, next_attempt_time, create_time)"
    " VALUES ($1, $2, $3, 'email', $4, $5, 'pending', $6, $6)"};

// $1 now: the next notification due, locked; one another sender holds is skipped.
// Returns (id, invitation, reminder, subject, body, attempts, person, owner,
// invitation status, municipality).
inline constexpr PreparedStatement kLockDueNotification{
    "surveys_lock_due_notification",
    "SELECT n.id::text, n.invitation_id::text, n.reminder, n.subject, n.body, n.attempts,"
    "  i.person, i.owner_organization, i.status, i.municipality"
    " FROM surveys.notifications n JOIN surveys.invitations i ON i.id = n.invitation_id"
    " WHERE n.status = 'pending' AND n.next_attempt_time <= $1"
    " ORDER BY n.next_attempt_time, n.id LIMIT 1 FOR UPDATE OF n SKIP LOCKED"};

// $1 id, $2 now: sent; the body, which holds the link, is dropped.
inline constexpr PreparedStatement kMarkNotificationSent{
    "surveys_mark_notification_sent",
    "UPDATE surveys.notifications SET status = 'sent', body = NULL, sent_time = $2,"
    "  attempts = attempts + 1 WHERE id = $1"};

// $1 id, $2 status (pending or failed), $3 next attempt, $4 failure.
inline constexpr PreparedStatement kMarkNotificationFailed{
    "surveys_mark_notification_failed",
    "UPDATE surveys.notifications SET status = $2, next_attempt_time = $3,"
    "  attempts = attempts + 1, last_failure = $4,"
    "  body = CASE WHEN $2 = 'failed' THEN NULL ELSE body END WHERE id = $1"};

// $1 invitation: its notifications not sent yet are not to be sent.
inline constexpr PreparedStatement kCancelNotifications{
    "surveys_cancel_notifications",
    "UPDATE surveys.notifications SET status = 'cancelled', body = NULL"
    " WHERE invitation_id = $1 AND status = 'pending'"};

// $1 person, $2 organization, $3 now: identity's answer for delivery (consent
// for follow_up, the e-mail address, protected identity).
inline constexpr PreparedStatement kSurveyRecipient{
    "surveys_survey_recipient",
    "SELECT consent, email, protected_identity FROM identity.survey_recipient($1, $2, $3)"};

inline constexpr PreparedStatement kAll[] = {
    kInsertQuestionnaire, kSelectQuestionnaire, kLockLatestQuestionnaire,
    kQuestionnaireIdTaken, kListQuestionnaires,  kInsertOutcome,
    kSelectOutcomeByRequest, kSelectOutcome,    kSelectOutcomeForUpdate,
    kUpdateOutcome,         kOutcomeFacts,
    kSelectInvitationRules, kInsertInvitation,   kLockDueInvitations,
    kLockExpiredInvitations,
    kLockOpenInvitationsOfPerson, kLockInvitation, kSelectInvitationByToken,
    kMarkInvitationSent,    kMarkReminderSent,   kCloseInvitation,
    kSaveInvitationAnswers, kInsertInvitationToken, kInsertResponse,
    kLockOutcomeOfActivity, kInsertNotification, kLockDueNotification,
    kMarkNotificationSent,  kMarkNotificationFailed, kCancelNotifications,
    kSurveyRecipient,
};

}  // namespace samplan::surveys::sql

#endif  // SAMPLAN_SERVICES_SURVEYS_SQL_H_
