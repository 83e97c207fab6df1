#ifndef SAMPLAN_SERVICES_PLACEMENT_SQL_H_
#define SAMPLAN_SERVICES_PLACEMENT_SQL_H_

// Every statement the placement service runs, prepared under its name on each
// pooled connection. User input reaches them only as $n parameters.

#include "common/pg.h"

namespace samplan::placement::sql {

#define SAMPLAN_SQL_MICROS(column) "(extract(epoch FROM " column ") * 1000000)::bigint"

// Employer rows: (id, version, content, create_micros, update_micros,
// last_contact_micros or NULL).
#define SAMPLAN_EMPLOYER_COLUMNS \
  "id::text, version, content, " SAMPLAN_SQL_MICROS(                           \
      "create_time") ", " SAMPLAN_SQL_MICROS("update_time") ","                \
                                                            " " SAMPLAN_SQL_MICROS("last_contact_time")

// $1 id, $2 municipality, $3 organization_number, $4 display_name, $5 industry,
// $6 content, $7 time, $8 organization, $9 request_id, $10 fingerprint. Returns
// nothing when the organization already sent this request id.
inline constexpr PreparedStatement kInsertEmployer{
    "placement_insert_employer",
    "INSERT INTO placement.employers (id, municipality, organization_number, "
    "display_name,"
    "  industry, version, content, create_time, update_time, "
    "created_by_organization,"
    "  create_request_id, create_fingerprint)"
    " VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7, $8, $9, $10)"
    " ON CONFLICT (created_by_organization, create_request_id) DO NOTHING "
    "RETURNING id"};

// $1 organization, $2 request_id.
inline constexpr PreparedStatement kSelectEmployerByRequest{
    "placement_select_employer_by_request",
    "SELECT " SAMPLAN_EMPLOYER_COLUMNS
    ", create_fingerprint, municipality"
    " FROM placement.employers WHERE created_by_organization = $1 AND "
    "create_request_id = $2"};

// $1 id, $2 municipality.
inline constexpr PreparedStatement kSelectEmployer{
    "placement_select_employer", "SELECT " SAMPLAN_EMPLOYER_COLUMNS
                                 " FROM placement.employers WHERE id = $1 AND municipality = $2"};

// $1 id, $2 municipality. Locks the row: updates and contacts take turns.
inline constexpr PreparedStatement kSelectEmployerForUpdate{
    "placement_select_employer_for_update",
    "SELECT " SAMPLAN_EMPLOYER_COLUMNS
    " FROM placement.employers WHERE id = $1 AND municipality = $2 FOR UPDATE"};

// $1 municipality, $2 industry or '', $3 and $4 the (display_name, id) the
// previous page ended with, or '' and '' for the first page, $5 limit.
inline constexpr PreparedStatement kListEmployers{
    "placement_list_employers",
    "SELECT " SAMPLAN_EMPLOYER_COLUMNS
    " FROM placement.employers"
    " WHERE municipality = $1 AND ($2 = '' OR industry = $2)"
    "   AND ($4 = '' OR (display_name, id) > ($3, NULLIF($4, '')::uuid))"
    " ORDER BY display_name, id LIMIT $5"};

// $1 municipality: every employer, for resolving placements' workplaces.
inline constexpr PreparedStatement kListAllEmployers{
    "placement_list_all_employers",
    "SELECT " SAMPLAN_EMPLOYER_COLUMNS " FROM placement.employers WHERE municipality = $1"};

// $1 id, $2 organization_number, $3 display_name, $4 industry, $5 content, $6
// time.
inline constexpr PreparedStatement kUpdateEmployer{
    "placement_update_employer",
    "UPDATE placement.employers SET organization_number = $2, display_name = "
    "$3,"
    "  industry = $4, content = $5, update_time = $6, version = version + 1"
    " WHERE id = $1 RETURNING version"};

// $1 municipality, $2 cutoff, $3 limit: employers whose latest contact (or,
// never contacted, registration) is before the cutoff, longest ago first.
inline constexpr PreparedStatement kListColdEmployers{
    "placement_list_cold_employers",
    "SELECT " SAMPLAN_EMPLOYER_COLUMNS
    " FROM placement.employers"
    " WHERE municipality = $1 AND coalesce(last_contact_time, create_time) < "
    "$2::timestamptz"
    " ORDER BY coalesce(last_contact_time, create_time), display_name, id "
    "LIMIT $3"};

// $1 id, $2 employer_id, $3 contact_time, $4 content.
inline constexpr PreparedStatement kInsertContact{
    "placement_insert_contact",
    "WITH inserted AS (INSERT INTO placement.contacts (id, employer_id, "
    "contact_time, content)"
    "  VALUES ($1, $2, $3, $4) RETURNING employer_id, contact_time)"
    " UPDATE placement.employers e SET last_contact_time ="
    "   greatest(e.last_contact_time, i.contact_time)"
    " FROM inserted i WHERE e.id = i.employer_id RETURNING e.id"};

// $1 employer_id, $2 and $3 the (contact_time, id) the previous page ended
// with, or '' and '' for the first page, $4 limit. Newest first.
inline constexpr PreparedStatement kListContacts{
    "placement_list_contacts",
    "SELECT id::text, content FROM placement.contacts WHERE employer_id = $1"
    "   AND ($3 = '' OR (contact_time, id) < (NULLIF($2, '')::timestamptz, NULLIF($3, '')::uuid))"
    " ORDER BY contact_time DESC, id DESC LIMIT $4"};

// Placement rows: (id, version, content, create_micros, update_micros,
// employer_id, municipality).
#define SAMPLAN_PLACEMENT_COLUMNS \
  "id::text, version, content, " SAMPLAN_SQL_MICROS(                           \
      "create_time") ", " SAMPLAN_SQL_MICROS("update_time") ", "               \
                                                            "employer_id::"    \
                                                            "text, "           \
                                                            "municipality"

// $1 id, $2 municipality, $3 employer_id, $4 kind, $5 status, $6 content, $7
// time, $8 organization, $9 request_id, $10 fingerprint.
inline constexpr PreparedStatement kInsertPlacement{
    "placement_insert_placement",
    "INSERT INTO placement.placements (id, municipality, employer_id, kind, "
    "status, version,"
    "  content, create_time, update_time, created_by_organization, "
    "create_request_id,"
    "  create_fingerprint)"
    " VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7, $8, $9, $10)"
    " ON CONFLICT (created_by_organization, create_request_id) DO NOTHING "
    "RETURNING id"};

// $1 organization, $2 request_id.
inline constexpr PreparedStatement kSelectPlacementByRequest{
    "placement_select_placement_by_request",
    "SELECT " SAMPLAN_PLACEMENT_COLUMNS
    ", create_fingerprint FROM placement.placements"
    " WHERE created_by_organization = $1 AND create_request_id = $2"};

// $1 id, $2 municipality.
inline constexpr PreparedStatement kSelectPlacement{
    "placement_select_placement", "SELECT " SAMPLAN_PLACEMENT_COLUMNS
                                  " FROM placement.placements WHERE id = $1 AND municipality = $2"};

// $1 id, $2 municipality. Locks the placement: signings for its seats take
// turns.
inline constexpr PreparedStatement kSelectPlacementForUpdate{
    "placement_select_placement_for_update", "SELECT " SAMPLAN_PLACEMENT_COLUMNS
                                             " FROM placement.placements WHERE id = "
                                             "$1 AND municipality = $2 FOR UPDATE"};

// $1 municipality, $2 employer_id or '', $3 kind or '', $4 status or '', $5 and
// $6 the (create_time, id) the previous page ended with, or '' and '' for the
// first page, $7 limit. Oldest first.
inline constexpr PreparedStatement kListPlacements{
    "placement_list_placements",
    "SELECT " SAMPLAN_PLACEMENT_COLUMNS
    " FROM placement.placements"
    " WHERE municipality = $1 AND ($2 = '' OR employer_id = NULLIF($2, '')::uuid)"
    "   AND ($3 = '' OR kind = $3) AND ($4 = '' OR status = $4)"
    "   AND ($6 = '' OR (create_time, id) > (NULLIF($5, '')::timestamptz, NULLIF($6, '')::uuid))"
    " ORDER BY create_time, id LIMIT $7"};

// $1 employer_id: the workplaces its placements are at.
inline constexpr PreparedStatement kListPlacementsOfEmployer{
    "placement_list_placements_of_employer",
    "SELECT " SAMPLAN_PLACEMENT_COLUMNS " FROM placement.placements WHERE employer_id = $1"};

// $1 id, $2 kind, $3 status, $4 content, $5 time.
inline constexpr PreparedStatement kUpdatePlacement{
    "placement_update_placement",
    "UPDATE placement.placements SET kind = $2, status = $3, content = $4, "
    "update_time = $5,"
    "  version = version + 1 WHERE id = $1 RETURNING version"};

// $1 placement ids (uuid[]): the periods of the agreements holding their seats,
// as (placement_id, start, end, agreement id).
inline constexpr PreparedStatement kSeatsTaken{
    "placement_seats_taken",
    "SELECT placement_id::text, start_date::text, end_date::text, id::text"
    " FROM placement.agreements WHERE placement_id = ANY($1::uuid[])"
    "   AND status IN ('AGREEMENT_STATUS_SIGNED', 'AGREEMENT_STATUS_ACTIVE')"};

// $1 municipality: every agreement holding a seat in the municipality.
inline constexpr PreparedStatement kSeatsTakenInMunicipality{
    "placement_seats_taken_in_municipality",
    "SELECT placement_id::text, start_date::text, end_date::text, id::text"
    " FROM placement.agreements WHERE municipality = $1"
    "   AND status IN ('AGREEMENT_STATUS_SIGNED', 'AGREEMENT_STATUS_ACTIVE')"};

// $1 municipality: every open placement, for matching and statistics.
inline constexpr PreparedStatement kListOpenPlacements{
    "placement_list_open_placements",
    "SELECT " SAMPLAN_PLACEMENT_COLUMNS
    " FROM placement.placements"
    " WHERE municipality = $1 AND status = 'PLACEMENT_STATUS_OPEN'"};

// $1 id, $2 municipality, $3 person, $4 owner_organization, $5 content, $6
// time, $7 request_id, $8 fingerprint.
inline constexpr PreparedStatement kInsertNeed{
    "placement_insert_need",
    "INSERT INTO placement.placement_needs (id, municipality, person, "
    "owner_organization,"
    "  status, content, create_time, create_request_id, create_fingerprint)"
    " VALUES ($1, $2, $3, $4, 'PLACEMENT_NEED_STATUS_WAITING', $5, $6, $7, $8)"
    " ON CONFLICT (owner_organization, create_request_id) DO NOTHING RETURNING "
    "id"};

// Need rows: (id, content, status, create_micros, person, owner, municipality).
#define SAMPLAN_NEED_COLUMNS                        \
  "id::text, content, status, " SAMPLAN_SQL_MICROS( \
      "create_time") ", person, owner_organization, municipality"

// $1 owner_organization, $2 request_id.
inline constexpr PreparedStatement kSelectNeedByRequest{
    "placement_select_need_by_request",
    "SELECT " SAMPLAN_NEED_COLUMNS
    ", create_fingerprint FROM placement.placement_needs"
    " WHERE owner_organization = $1 AND create_request_id = $2"};

// $1 id.
inline constexpr PreparedStatement kSelectNeed{"placement_select_need",
                                               "SELECT " SAMPLAN_NEED_COLUMNS
                                               " FROM placement.placement_needs WHERE id = $1"};

// $1 municipality: the profiles of everyone waiting, for the statistics.
inline constexpr PreparedStatement kListWaitingProfiles{
    "placement_list_waiting_profiles",
    "SELECT content FROM placement.placement_needs"
    " WHERE municipality = $1 AND status = 'PLACEMENT_NEED_STATUS_WAITING'"};

// $1 person, $2 municipality: a signed agreement places the person.
inline constexpr PreparedStatement kMarkNeedsPlaced{
    "placement_mark_needs_placed",
    "UPDATE placement.placement_needs SET status = "
    "'PLACEMENT_NEED_STATUS_PLACED'"
    " WHERE person = $1 AND municipality = $2 AND status = "
    "'PLACEMENT_NEED_STATUS_WAITING'"};

// Agreement rows: (id, version, content, create_micros, update_micros).
#define SAMPLAN_AGREEMENT_COLUMNS                                                           \
  "id::text, version, content, " SAMPLAN_SQL_MICROS("create_time") ", " SAMPLAN_SQL_MICROS( \
      "update_time")

// $1 id, $2 municipality, $3 person, $4 placement_id, $5 owner, $6 status,
// $7 start_date, $8 end_date, $9 content, $10 time, $11 request_id,
// $12 fingerprint.
inline constexpr PreparedStatement kInsertAgreement{
    "placement_insert_agreement",
    "INSERT INTO placement.agreements (id, municipality, person, placement_id,"
    "  owner_organization, status, start_date, end_date, version, content, "
    "create_time,"
    "  update_time, create_request_id, create_fingerprint)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7::date, $8::date, 1, $9, $10, $10, "
    "$11, $12)"
    " ON CONFLICT (owner_organization, create_request_id) DO NOTHING RETURNING "
    "id"};

// $1 owner, $2 request_id.
inline constexpr PreparedStatement kSelectAgreementByRequest{
    "placement_select_agreement_by_request",
    "SELECT " SAMPLAN_AGREEMENT_COLUMNS
    ", create_fingerprint FROM placement.agreements"
    " WHERE owner_organization = $1 AND create_request_id = $2"};

// $1 id.
inline constexpr PreparedStatement kSelectAgreement{"placement_select_agreement",
                                                    "SELECT " SAMPLAN_AGREEMENT_COLUMNS
                                                    " FROM placement.agreements WHERE id = $1"};

// $1 id. Locks the agreement: its steps take turns.
inline constexpr PreparedStatement kSelectAgreementForUpdate{
    "placement_select_agreement_for_update",
    "SELECT " SAMPLAN_AGREEMENT_COLUMNS " FROM placement.agreements WHERE id = $1 FOR UPDATE"};

// $1 owner, $2 municipality, $3 status or '', $4 and $5 the (create_time, id)
// the previous page ended with, or '' and '' for the first page, $6 limit.
// Newest first.
inline constexpr PreparedStatement kListAgreements{
    "placement_list_agreements",
    "SELECT " SAMPLAN_AGREEMENT_COLUMNS
    " FROM placement.agreements"
    " WHERE owner_organization = $1 AND municipality = $2 AND ($3 = '' OR status = $3)"
    "   AND ($5 = '' OR (create_time, id) < (NULLIF($4, '')::timestamptz, NULLIF($5, '')::uuid))"
    " ORDER BY create_time DESC, id DESC LIMIT $6"};

// $1 id, $2 status, $3 content, $4 time.
inline constexpr PreparedStatement kUpdateAgreement{
    "placement_update_agreement",
    "UPDATE placement.agreements SET status = $2, content = $3, update_time = "
    "$4,"
    "  version = version + 1 WHERE id = $1 RETURNING version"};

inline constexpr PreparedStatement kAll[] = {kInsertEmployer,
                                             kSelectEmployerByRequest,
                                             kSelectEmployer,
                                             kSelectEmployerForUpdate,
                                             kListEmployers,
                                             kListAllEmployers,
                                             kUpdateEmployer,
                                             kListColdEmployers,
                                             kInsertContact,
                                             kListContacts,
                                             kInsertPlacement,
                                             kSelectPlacementByRequest,
                                             kSelectPlacement,
                                             kSelectPlacementForUpdate,
                                             kListPlacements,
                                             kListPlacementsOfEmployer,
                                             kUpdatePlacement,
                                             kSeatsTaken,
                                             kSeatsTakenInMunicipality,
                                             kListOpenPlacements,
                                             kInsertNeed,
                                             kSelectNeedByRequest,
                                             kSelectNeed,
                                             kListWaitingProfiles,
                                             kMarkNeedsPlaced,
                                             kInsertAgreement,
                                             kSelectAgreementByRequest,
                                             kSelectAgreement,
                                             kSelectAgreementForUpdate,
                                             kListAgreements,
                                             kUpdateAgreement};

#undef SAMPLAN_AGREEMENT_COLUMNS
#undef SAMPLAN_NEED_COLUMNS
#undef SAMPLAN_PLACEMENT_COLUMNS
#undef SAMPLAN_EMPLOYER_COLUMNS
#undef SAMPLAN_SQL_MICROS

}  // namespace samplan::placement::sql

#endif  // SAMPLAN_SERVICES_PLACEMENT_SQL_H_
