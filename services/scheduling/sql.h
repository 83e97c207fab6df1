#ifndef SAMPLAN_SERVICES_SCHEDULING_SQL_H_
#define SAMPLAN_SERVICES_SCHEDULING_SQL_H_

// Every statement the scheduling service runs, prepared under its name on each
// pooled connection. User input reaches them only as $n parameters.

#include "common/pg.h"

namespace samplan::scheduling::sql {

#define SAMPLAN_SQL_MICROS(column) "(extract(epoch FROM " column ") * 1000000)::bigint"

// Meeting rows: (id, version, content, create_micros, update_micros).
#define SAMPLAN_MEETING_COLUMNS                                               \
  "m.id::text, m.version, m.content, " SAMPLAN_SQL_MICROS("m.create_time") ", " \
      SAMPLAN_SQL_MICROS("m.update_time")

// $1 id, $2 municipality, $3 person or '', $4 owner, $5 kind, $6 status,
// $7 start, $8 end, $9 content, $10 time, $11 request_id, $12 fingerprint,
// $13 agreement or ''. Returns nothing when the owner already sent this
// request id.
inline constexpr PreparedStatement kInsertMeeting{
    "scheduling_insert_meeting",
    "INSERT INTO scheduling.meetings (id, municipality, person, owner_organization, kind,"
    "  status, start_time, end_time, version, content, create_time, update_time,"
    "  create_request_id, create_fingerprint, agreement)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $10, $11, $12, $13)"
    " ON CONFLICT (owner_organization, create_request_id) DO NOTHING RETURNING id"};

// $1 owner, $2 request_id. The meeting and its fingerprint.
inline constexpr PreparedStatement kSelectMeetingByRequest{
    "scheduling_select_meeting_by_request",
    "SELECT " SAMPLAN_MEETING_COLUMNS ", m.create_fingerprint FROM scheduling.meetings m"
    " WHERE m.owner_organization = $1 AND m.create_request_id = $2"};

// $1 id.
inline constexpr PreparedStatement kSelectMeeting{
    "scheduling_select_meeting",
    "SELECT " SAMPLAN_MEETING_COLUMNS " FROM scheduling.meetings m WHERE m.id = $1"};

// $1 id. Locks the meeting: its steps take turns.
inline constexpr PreparedStatement kSelectMeetingForUpdate{
    "scheduling_select_meeting_for_update",
    "SELECT " SAMPLAN_MEETING_COLUMNS " FROM scheduling.meetings m WHERE m.id = $1 FOR UPDATE"};

// $1 id, $2 status, $3 start, $4 end, $5 content, $6 time. Returns the new
// version.
inline constexpr PreparedStatement kUpdateMeeting{
    "scheduling_update_meeting",
    "UPDATE scheduling.meetings SET status = $2, start_time = $3, end_time = $4, content = $5,"
    "  update_time = $6, version = version + 1 WHERE id = $1 RETURNING version"};

// $1 attendee ("users/…" or "persons/…"). Holds the attendee's calendar until
// the transaction ends: bookings of one attendee take turns, so of two at once
// the second sees the first's committed time. Taken in sorted order.
inline constexpr PreparedStatement kLockAttendee{
    "scheduling_lock_attendee",
    "SELECT pg_advisory_xact_lock(hashtextextended('scheduling:' || $1, 0))"};

// $1 attendees (text[]), $2 start, $3 end, $4 the meeting's own id (left out).
// The first attendee already held by another meeting at that time.
inline constexpr PreparedStatement kFindHeldOverlap{
    "scheduling_find_held_overlap",
    "SELECT a.attendee FROM scheduling.meeting_attendees a"
    " WHERE a.attendee = ANY($1::text[]) AND a.holds_time AND a.meeting_id <> $4::uuid"
    "   AND a.start_time < $3 AND a.end_time > $2"
    " ORDER BY a.attendee LIMIT 1"};

// $1 meeting id.
inline constexpr PreparedStatement kDeleteAttendees{
    "scheduling_delete_attendees",
    "DELETE FROM scheduling.meeting_attendees WHERE meeting_id = $1"};

// $1 meeting id, $2 attendees (text[]), $3 start, $4 end, $5 holders (text[]):
// the attendees among them whose time the meeting holds.
inline constexpr PreparedStatement kInsertAttendees{
    "scheduling_insert_attendees",
    "INSERT INTO scheduling.meeting_attendees (meeting_id, attendee, start_time, end_time,"
    "  holds_time)"
    " SELECT $1, a, $3, $4, a = ANY($5::text[]) FROM unnest($2::text[]) AS a"};

// $1 meeting id, $2 version, $3 content, $4 event_type, $5 actor_user,
// $6 actor_organization, $7 request_id, $8 time.
inline constexpr PreparedStatement kInsertRevision{
    "scheduling_insert_revision",
    "INSERT INTO scheduling.meeting_revisions (meeting_id, version, content, event_type,"
    "  actor_user, actor_organization, request_id, create_time)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"};

// $1 municipality, $2 person, $3 from, $4 to, $5 and $6 the (start, id) the
// previous page ended with, or '' and '', $7 limit.
inline constexpr PreparedStatement kListMeetingsOfPerson{
    "scheduling_list_meetings_of_person",
    "SELECT " SAMPLAN_MEETING_COLUMNS ", " SAMPLAN_SQL_MICROS("m.start_time")
    " FROM scheduling.meetings m"
    " WHERE m.municipality = $1 AND m.person = $2 AND m.end_time > $3 AND m.start_time < $4"
    "   AND ($6 = '' OR (m.start_time, m.id) > (NULLIF($5, '')::timestamptz, NULLIF($6, '')::uuid))"
    " ORDER BY m.start_time, m.id LIMIT $7"};

// $1 municipality, $2 attendee, $3 from, $4 to, $5 and $6 as above, $7 limit.
inline constexpr PreparedStatement kListMeetingsOfAttendee{
    "scheduling_list_meetings_of_attendee",
    "SELECT " SAMPLAN_MEETING_COLUMNS ", " SAMPLAN_SQL_MICROS("m.start_time")
    " FROM scheduling.meeting_attendees a JOIN scheduling.meetings m ON m.id = a.meeting_id"
    " WHERE m.municipality = $1 AND a.attendee = $2 AND a.end_time > $3 AND a.start_time < $4"
    "   AND ($6 = '' OR (a.start_time, m.id) > (NULLIF($5, '')::timestamptz, NULLIF($6, '')::uuid))"
    " ORDER BY a.start_time, m.id LIMIT $7"};

// $1 agreement, $2 now. Locks the agreement's follow-ups still to come that
// are proposed or booked.
inline constexpr PreparedStatement kSelectFutureFollowUps{
    "scheduling_select_future_follow_ups",
    "SELECT " SAMPLAN_MEETING_COLUMNS " FROM scheduling.meetings m"
    " WHERE m.agreement = $1 AND m.start_time > $2"
    "   AND m.status IN ('MEETING_STATUS_PROPOSED', 'MEETING_STATUS_BOOKED')"
    " ORDER BY m.start_time, m.id FOR UPDATE"};

// ---- Availability

// $1 user, $2 the caller's municipality. (version, content); nothing for a
// user of another municipality.
inline constexpr PreparedStatement kSelectWorkingHours{
    "scheduling_select_working_hours",
    "SELECT version, content FROM scheduling.working_hours"
    " WHERE user_name = $1 AND municipality = $2"};

// $1 user, $2 municipality, $3 content, $4 time, $5 the version read or 0 for
// none. Returns the new version; nothing when the stored version differs.
inline constexpr PreparedStatement kUpsertWorkingHours{
    "scheduling_upsert_working_hours",
    "INSERT INTO scheduling.working_hours AS w (user_name, municipality, version, content,"
    "  update_time) VALUES ($1, $2, 1, $3, $4)"
    " ON CONFLICT (user_name) DO UPDATE SET content = $3, update_time = $4,"
    "  version = w.version + 1, municipality = $2"
    " WHERE $5 = 0 OR w.version = $5 RETURNING version"};

// $1 user, $2 source, $3 from, $4 to.
inline constexpr PreparedStatement kDeleteBusy{
    "scheduling_delete_busy",
    "DELETE FROM scheduling.busy_intervals WHERE user_name = $1 AND source = $2"
    "  AND start_time < $4 AND end_time > $3"};

// $1 user, $2 source, $3 starts (timestamptz[]), $4 ends (timestamptz[]),
// $5 the user's municipality.
inline constexpr PreparedStatement kInsertBusy{
    "scheduling_insert_busy",
    "INSERT INTO scheduling.busy_intervals (user_name, source, start_time, end_time,"
    "  municipality)"
    " SELECT $1, $2, s, e, $5 FROM unnest($3::timestamptz[], $4::timestamptz[]) AS t(s, e)"};

// $1 users (text[]), $2 the caller's municipality. (user, version, content) of
// those of the municipality who set working hours.
inline constexpr PreparedStatement kSelectWorkingHoursOf{
    "scheduling_select_working_hours_of",
    "SELECT user_name, version, content FROM scheduling.working_hours"
    " WHERE user_name = ANY($1::text[]) AND municipality = $2"};

// $1 users (text[]), $2 from, $3 to, $4 the caller's municipality. (user,
// start_micros, end_micros) of the imported busy time and the booked meetings
// that hold their time, of that municipality only.
inline constexpr PreparedStatement kSelectBusyOf{
    "scheduling_select_busy_of",
    "SELECT user_name, " SAMPLAN_SQL_MICROS("start_time") ", " SAMPLAN_SQL_MICROS("end_time")
    " FROM scheduling.busy_intervals"
    " WHERE user_name = ANY($1::text[]) AND start_time < $3 AND end_time > $2"
    "   AND municipality = $4"
    " UNION ALL"
    " SELECT a.attendee, " SAMPLAN_SQL_MICROS("a.start_time") ", " SAMPLAN_SQL_MICROS("a.end_time")
    " FROM scheduling.meeting_attendees a JOIN scheduling.meetings m ON m.id = a.meeting_id"
    " WHERE a.attendee = ANY($1::text[]) AND a.holds_time AND a.start_time < $3"
    "   AND a.end_time > $2 AND m.municipality = $4"};

inline constexpr PreparedStatement kAll[] = {
    kInsertMeeting,     kSelectMeetingByRequest, kSelectMeeting,   kSelectMeetingForUpdate,
    kUpdateMeeting,     kLockAttendee,           kFindHeldOverlap, kDeleteAttendees,
    kInsertAttendees,   kInsertRevision,         kListMeetingsOfPerson, kListMeetingsOfAttendee,
    kSelectWorkingHours, kUpsertWorkingHours,    kDeleteBusy,      kInsertBusy,
    kSelectWorkingHoursOf, kSelectBusyOf,   kSelectFutureFollowUps};

// ---- Group intakes

// Session rows: (id, version, content, create_micros, update_micros).
#define SAMPLAN_INTAKE_COLUMNS                                                \
  "s.id::text, s.version, s.content, " SAMPLAN_SQL_MICROS("s.create_time") ", " \
      SAMPLAN_SQL_MICROS("s.update_time")

// Enrolment rows: (id, version, content, create_micros, update_micros,
// arrival).
#define SAMPLAN_ENROLMENT_COLUMNS                                             \
  "e.id::text, e.version, e.content, " SAMPLAN_SQL_MICROS("e.create_time") ", " \
      SAMPLAN_SQL_MICROS("e.update_time") ", e.arrival"

// $1 id, $2 municipality, $3 owner, $4 capacity, $5 start, $6 content, $7 time,
// $8 request_id, $9 fingerprint. Nothing when the owner sent this request id.
inline constexpr PreparedStatement kInsertIntakeSession{
    "scheduling_insert_intake_session",
    "INSERT INTO scheduling.intake_sessions (id, municipality, owner_organization, capacity,"
    "  start_time, version, content, create_time, update_time, create_request_id,"
    "  create_fingerprint)"
    " VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7, $8, $9)"
    " ON CONFLICT (owner_organization, create_request_id) DO NOTHING RETURNING id"};

// $1 owner, $2 request_id. The session and its fingerprint.
inline constexpr PreparedStatement kSelectIntakeSessionByRequest{
    "scheduling_select_intake_session_by_request",
    "SELECT " SAMPLAN_INTAKE_COLUMNS ", s.create_fingerprint FROM scheduling.intake_sessions s"
    " WHERE s.owner_organization = $1 AND s.create_request_id = $2"};

// $1 id.
inline constexpr PreparedStatement kSelectIntakeSession{
    "scheduling_select_intake_session",
    "SELECT " SAMPLAN_INTAKE_COLUMNS " FROM scheduling.intake_sessions s WHERE s.id = $1"};

// $1 id. Locks the session: changes to its lists take turns.
inline constexpr PreparedStatement kLockIntakeSession{
    "scheduling_lock_intake_session",
    "SELECT " SAMPLAN_INTAKE_COLUMNS " FROM scheduling.intake_sessions s WHERE s.id = $1"
    " FOR UPDATE"};

// $1 session. (enrolled, waitlisted).
inline constexpr PreparedStatement kCountEnrolments{
    "scheduling_count_enrolments",
    "SELECT count(*) FILTER (WHERE status = 'ENROLMENT_STATUS_ENROLLED'),"
    "  count(*) FILTER (WHERE status = 'ENROLMENT_STATUS_WAITLISTED')"
    " FROM scheduling.intake_enrolments WHERE session_id = $1"};

// $1 id, $2 content, $3 time. Returns the new version.
inline constexpr PreparedStatement kUpdateIntakeSession{
    "scheduling_update_intake_session",
    "UPDATE scheduling.intake_sessions SET content = $2, update_time = $3,"
    "  version = version + 1 WHERE id = $1 RETURNING version"};

// $1 id, $2 session, $3 person, $4 status, $5 priority, $6 content, $7 time.
// Returns the arrival.
inline constexpr PreparedStatement kInsertEnrolment{
    "scheduling_insert_enrolment",
    "INSERT INTO scheduling.intake_enrolments (id, session_id, person, status, priority,"
    "  version, content, create_time, update_time)"
    " VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7) RETURNING arrival"};

// $1 session. Every enrolment, by arrival.
inline constexpr PreparedStatement kSelectEnrolments{
    "scheduling_select_enrolments",
    "SELECT " SAMPLAN_ENROLMENT_COLUMNS " FROM scheduling.intake_enrolments e"
    " WHERE e.session_id = $1 ORDER BY e.arrival"};

// $1 session, $2 id. Locks the enrolment.
inline constexpr PreparedStatement kLockEnrolment{
    "scheduling_lock_enrolment",
    "SELECT " SAMPLAN_ENROLMENT_COLUMNS " FROM scheduling.intake_enrolments e"
    " WHERE e.session_id = $1 AND e.id = $2 FOR UPDATE"};

// $1 id, $2 status, $3 content, $4 time. Returns the new version.
inline constexpr PreparedStatement kUpdateEnrolment{
    "scheduling_update_enrolment",
    "UPDATE scheduling.intake_enrolments SET status = $2, content = $3, update_time = $4,"
    "  version = version + 1 WHERE id = $1 RETURNING version"};

// $1 resource, $2 version, $3 content, $4 event_type, $5 actor_user,
// $6 actor_organization, $7 request_id, $8 time.
inline constexpr PreparedStatement kInsertIntakeRevision{
    "scheduling_insert_intake_revision",
    "INSERT INTO scheduling.intake_revisions (resource, version, content, event_type,"
    "  actor_user, actor_organization, request_id, create_time)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"};

inline constexpr PreparedStatement kIntakeAll[] = {
    kInsertIntakeSession, kSelectIntakeSessionByRequest, kSelectIntakeSession,
    kLockIntakeSession,   kCountEnrolments,              kUpdateIntakeSession,
    kInsertEnrolment,     kSelectEnrolments,             kLockEnrolment,
    kUpdateEnrolment,     kInsertIntakeRevision};

#undef SAMPLAN_INTAKE_COLUMNS
#undef SAMPLAN_ENROLMENT_COLUMNS
#undef SAMPLAN_MEETING_COLUMNS
#undef SAMPLAN_SQL_MICROS

// ---- Calendar feeds and overdue follow-ups

#define SAMPLAN_SQL_MICROS(column) "(extract(epoch FROM " column ") * 1000000)::bigint"
#define SAMPLAN_MEETING_COLUMNS                                               \
  "m.id::text, m.version, m.content, " SAMPLAN_SQL_MICROS("m.create_time") ", " \
      SAMPLAN_SQL_MICROS("m.update_time")

// $1 user. Locks the user's feed row: (version, active).
inline constexpr PreparedStatement kSelectFeedForUpdate{
    "scheduling_select_feed_for_update",
    "SELECT version, secret_sha256 IS NOT NULL FROM scheduling.calendar_feeds"
    " WHERE user_name = $1 FOR UPDATE"};

// $1 user, $2 municipality, $3 organization, $4 roles (text[]), $5 secret hash
// or '' (revoked), $6 time. Returns the new version.
inline constexpr PreparedStatement kUpsertFeed{
    "scheduling_upsert_feed",
    "INSERT INTO scheduling.calendar_feeds AS f (user_name, municipality, organization, roles,"
    "  secret_sha256, version, update_time) VALUES ($1, $2, $3, $4::text[], NULLIF($5, ''), 1, $6)"
    " ON CONFLICT (user_name) DO UPDATE SET municipality = $2, organization = $3,"
    "  roles = $4::text[], secret_sha256 = NULLIF($5, ''), version = f.version + 1, update_time = $6"
    " RETURNING version"};

// $1 secret hash. (user, municipality, organization, roles) of the feed.
inline constexpr PreparedStatement kSelectFeedBySecret{
    "scheduling_select_feed_by_secret",
    "SELECT user_name, municipality, organization, roles FROM scheduling.calendar_feeds"
    " WHERE secret_sha256 = $1"};

// $1 municipality, $2 coordinator, $3 now, $4 and $5 the (start, id) the
// previous page ended with, or '' and '', $6 limit. The coordinator's
// follow-ups that ended before now without being held.
inline constexpr PreparedStatement kListOverdueOfCoordinator{
    "scheduling_list_overdue_of_coordinator",
    "SELECT " SAMPLAN_MEETING_COLUMNS ", " SAMPLAN_SQL_MICROS("m.start_time")
    " FROM scheduling.meeting_attendees a JOIN scheduling.meetings m ON m.id = a.meeting_id"
    " WHERE m.municipality = $1 AND a.attendee = $2 AND m.kind = 'MEETING_KIND_FOLLOW_UP'"
    "   AND m.status IN ('MEETING_STATUS_PROPOSED', 'MEETING_STATUS_BOOKED')"
    "   AND m.end_time < $3"
    "   AND ($5 = '' OR (m.start_time, m.id) > (NULLIF($4, '')::timestamptz, NULLIF($5, '')::uuid))"
    " ORDER BY m.start_time, m.id LIMIT $6"};

// $1 now, $2 limit. Locks follow-ups that ended before now without being held
// and were not yet announced; replicas sweeping at once skip each other's.
inline constexpr PreparedStatement kSelectUnannouncedOverdue{
    "scheduling_select_unannounced_overdue",
    "SELECT " SAMPLAN_MEETING_COLUMNS " FROM scheduling.meetings m"
    " WHERE m.kind = 'MEETING_KIND_FOLLOW_UP'"
    "   AND m.status IN ('MEETING_STATUS_PROPOSED', 'MEETING_STATUS_BOOKED')"
    "   AND m.end_time < $1 AND m.overdue_announce_time IS NULL"
    " ORDER BY m.end_time, m.id LIMIT $2 FOR UPDATE SKIP LOCKED"};

// $1 meeting id, $2 time.
inline constexpr PreparedStatement kMarkOverdueAnnounced{
    "scheduling_mark_overdue_announced",
    "UPDATE scheduling.meetings SET overdue_announce_time = $2 WHERE id = $1"};

inline constexpr PreparedStatement kFeedAndOverdue[] = {
    kSelectFeedForUpdate, kUpsertFeed, kSelectFeedBySecret, kListOverdueOfCoordinator,
    kSelectUnannouncedOverdue, kMarkOverdueAnnounced};

#undef SAMPLAN_MEETING_COLUMNS
#undef SAMPLAN_SQL_MICROS

}  // namespace samplan::scheduling::sql

#endif  // SAMPLAN_SERVICES_SCHEDULING_SQL_H_
