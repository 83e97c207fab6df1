#include "services/placement/placement_rules.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/time_util.h>
#include <openssl/sha.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/ids.h"
#include "services/placement/organization_number.h"
#include "common/text.h"

namespace samplan::placement {
namespace {

using ::google::protobuf::util::TimeUtil;

bool ValidDate(const google::type::Date& date) {
  if (date.year() < 2000 || date.year() > 2100 || date.month() < 1 || date.month() > 12 ||
      date.day() < 1) {
    return false;
  }
  const absl::CivilDay day = DayOf(date);
  return day.year() == date.year() && day.month() == date.month() && day.day() == date.day();
}

void CheckRange(FieldViolations& v, const std::string& field, const v1::DateRange& range) {
  if (!ValidDate(range.start_date())) v.Add(field + ".start_date", "must be a real date");
  if (!ValidDate(range.end_date())) v.Add(field + ".end_date", "must be a real date");
  if (ValidDate(range.start_date()) && ValidDate(range.end_date()) &&
      DayOf(range.end_date()) < DayOf(range.start_date())) {
    v.Add(field + ".end_date", "must not be before start_date");
  }
}

void CheckPoint(FieldViolations& v, const std::string& field, const v1::GeoPoint& point,
                bool present) {
  if (!present) {
    v.Add(field, "is required");
    return;
  }
  if (!(point.latitude() >= -90 && point.latitude() <= 90)) {
    v.Add(field + ".latitude", "must be between -90 and 90");
  }
  if (!(point.longitude() >= -180 && point.longitude() <= 180)) {
    v.Add(field + ".longitude", "must be between -180 and 180");
  }
  if (point.latitude() == 0 && point.longitude() == 0) {
    v.Add(field, "is 0,0 (in the Gulf of Guinea); give the workplace's coordinates");
  }
}

absl::Status WrongStatus(const v1::Agreement& current, absl::string_view step,
                         absl::string_view allowed) {
  return absl::FailedPreconditionError(absl::StrCat("cannot ", step, " an agreement that is ",
                                                    v1::AgreementStatus_Name(current.status()),
                                                    "; it must be ", allowed));
}

google::protobuf::Timestamp TimestampOf(absl::Time time) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(time));
}

}  // namespace

absl::CivilDay Today(absl::Time time) { return absl::ToCivilDay(time, absl::UTCTimeZone()); }

void CheckRequestId(absl::string_view request_id, FieldViolations& v) {
  if (request_id.empty() || request_id.size() > 128) {
    v.Add("request_id",
          "is required, 1 to 128 characters, so that a retry "
          "creates nothing twice");
  }
}

absl::Status NormalizeEmployer(v1::Employer& employer, absl::CivilDay today,
                               const std::function<std::string()>& new_id) {
  FieldViolations v;
  absl::StatusOr<OrganizationNumber> number =
      ParseOrganizationNumber(employer.organization_number(), today);
  if (!number.ok()) {
    v.Add("employer.organization_number", std::string(number.status().message()));
  } else {
    employer.set_organization_number(number->canonical);
    employer.set_sole_trader(number->sole_trader);
  }
  CheckTextLength(v, "employer.display_name", employer.display_name(), 1, 200);
  employer.set_industry(absl::AsciiStrToLower(absl::StripAsciiWhitespace(employer.industry())));
  CheckTextLength(v, "employer.industry", employer.industry(), 1, 80);
  CheckTextLength(v, "employer.notes", employer.notes(), 0, 4000);
  if (employer.workplaces().empty()) v.Add("employer.workplaces", "needs at least one workplace");
  if (employer.workplaces_size() > 50) v.Add("employer.workplaces", "at most 50");
  std::vector<std::string> ids;
  for (int i = 0; i < employer.workplaces_size(); ++i) {
    v1::Workplace& w = *employer.mutable_workplaces(i);
    const std::string field = absl::StrCat("employer.workplaces[", i, "]");
    if (w.id().empty()) w.set_id(new_id());
    if (!IsResourceId(w.id())) v.Add(field + ".id", "must be 1 to 63 of [A-Za-z0-9_-]");
    if (std::find(ids.begin(), ids.end(), w.id()) != ids.end()) {
      v.Add(field + ".id", "is used by another workplace of the employer");
    }
    ids.push_back(w.id());
    CheckTextLength(v, field + ".display_name", w.display_name(), 1, 200);
    CheckTextLength(v, field + ".address", w.address(), 1, 300);
    CheckPoint(v, field + ".location", w.location(), w.has_location());
  }
  if (employer.contact_persons_size() > 20) v.Add("employer.contact_persons", "at most 20");
  for (int i = 0; i < employer.contact_persons_size(); ++i) {
    const v1::ContactPerson& c = employer.contact_persons(i);
    const std::string field = absl::StrCat("employer.contact_persons[", i, "]");
    CheckTextLength(v, field + ".display_name", c.display_name(), 1, 200);
    CheckTextLength(v, field + ".role", c.role(), 0, 100);
    CheckTextLength(v, field + ".phone", c.phone(), 0, 40);
    CheckTextLength(v, field + ".email", c.email(), 0, 200);
  }
  return v.ToStatus();
}

absl::Status NormalizePlacement(v1::Placement& placement, const v1::Employer& employer) {
  FieldViolations v;
  const v1::Workplace* workplace = nullptr;
  for (const v1::Workplace& w : employer.workplaces()) {
    if (w.id() == placement.workplace()) workplace = &w;
  }
  if (workplace == nullptr) {
    v.Add("placement.workplace", "must be the id of one of the employer's workplaces");
  }
  if (placement.kind() == v1::PLACEMENT_KIND_UNSPECIFIED ||
      !v1::PlacementKind_IsValid(placement.kind())) {
    v.Add("placement.kind", "is required");
  }
  CheckTextLength(v, "placement.title", placement.title(), 1, 200);
  CheckTextLength(v, "placement.tasks", placement.tasks(), 0, 4000);
  CheckTextLength(v, "placement.schedule", placement.schedule(), 0, 200);
  if (placement.seats() < 1 || placement.seats() > 100) {
    v.Add("placement.seats", "must be 1 to 100");
  }
  if (placement.availability().empty()) {
    v.Add("placement.availability", "needs at least one period");
  }
  if (placement.availability_size() > 52) v.Add("placement.availability", "at most 52 periods");
  for (int i = 0; i < placement.availability_size(); ++i) {
    CheckRange(v, absl::StrCat("placement.availability[", i, "]"), placement.availability(i));
  }
  if (placement.hours_per_week() < 1 || placement.hours_per_week() > 40) {
    v.Add("placement.hours_per_week", "must be 1 to 40");
  }
  const v1::Requirements& r = placement.requirements();
  if (!v1::SwedishLevel_IsValid(r.swedish_level())) {
    v.Add("placement.requirements.swedish_level", "is not a known level");
  }
  if (!v1::PhysicalDemand_IsValid(r.physical_demand())) {
    v.Add("placement.requirements.physical_demand", "is not a known demand");
  }
  if (r.minimum_age() < 0 || r.minimum_age() > 70) {
    v.Add("placement.requirements.minimum_age", "must be 0 to 70");
  }
  for (int i = 0; i < placement.adaptations_size(); ++i) {
    if (placement.adaptations(i) == 0 || !v1::Adaptation_IsValid(placement.adaptations(i))) {
      v.Add(absl::StrCat("placement.adaptations[", i, "]"), "is not a known adaptation");
    }
  }
  if (placement.status() == v1::PLACEMENT_STATUS_UNSPECIFIED ||
      !v1::PlacementStatus_IsValid(placement.status())) {
    v.Add("placement.status", "is required");
  }
  if (!v.empty()) return v.ToStatus();
  placement.set_industry(employer.industry());
  *placement.mutable_location() = workplace->location();
  return absl::OkStatus();
}

void ValidateProfile(const v1::MatchProfile& profile, absl::string_view prefix,
                     FieldViolations& v) {
  const std::string p(prefix);
  CheckPoint(v, p + ".home", profile.home(), profile.has_home());
  if (profile.interests_size() > 20) v.Add(p + ".interests", "at most 20");
  if (!v1::SwedishLevel_IsValid(profile.swedish_level())) {
    v.Add(p + ".swedish_level", "is not a known level");
  }
  if (profile.work_capacity_percent() != 0 &&
      (profile.work_capacity_percent() < 10 || profile.work_capacity_percent() > 100)) {
    v.Add(p + ".work_capacity_percent", "must be 10 to 100");
  }
  if (!v1::PhysicalDemand_IsValid(profile.max_physical_demand())) {
    v.Add(p + ".max_physical_demand", "is not a known demand");
  }
  for (int i = 0; i < profile.needed_adaptations_size(); ++i) {
    if (profile.needed_adaptations(i) == 0 ||
        !v1::Adaptation_IsValid(profile.needed_adaptations(i))) {
      v.Add(absl::StrCat(p, ".needed_adaptations[", i, "]"), "is not a known adaptation");
    }
  }
  if (!profile.has_period()) {
    v.Add(p + ".period", "is required");
  } else {
    CheckRange(v, p + ".period", profile.period());
  }
  if (profile.age() < 0 || profile.age() > 120) v.Add(p + ".age", "must be 0 to 120");
  for (int i = 0; i < profile.kinds_size(); ++i) {
    if (profile.kinds(i) == 0 || !v1::PlacementKind_IsValid(profile.kinds(i))) {
      v.Add(absl::StrCat(p, ".kinds[", i, "]"), "is not a known kind");
    }
  }
  if (profile.max_distance_km() < 0 || profile.max_distance_km() > 200) {
    v.Add(p + ".max_distance_km", "must be 1 to 200, or 0 for 30");
  }
}

absl::Status NormalizeContact(v1::Contact& contact, absl::Time now) {
  FieldViolations v;
  if (contact.kind() == v1::CONTACT_KIND_UNSPECIFIED || !v1::ContactKind_IsValid(contact.kind())) {
    v.Add("contact.kind", "is required: call, visit, mail or meeting");
  }
  if (!contact.has_contact_time()) {
    *contact.mutable_contact_time() = TimestampOf(now);
  } else if (TimeUtil::TimestampToMicroseconds(contact.contact_time()) >
             absl::ToUnixMicros(now + absl::Minutes(5))) {
    v.Add("contact.contact_time", "must not be in the future");
  }
  CheckTextLength(v, "contact.employer_contact", contact.employer_contact(), 0, 200);
  CheckTextLength(v, "contact.agreed", contact.agreed(), 0, 2000);
  return v.ToStatus();
}

const UpdatableFields& EmployerFields() {
  static const auto* fields = new UpdatableFields{
      {"organization_number", "display_name", "industry", "internal", "workplaces",
       "contact_persons", "notes"},
      {"name", "sole_trader", "municipality", "last_contact_time", "create_time", "update_time",
       "etag"}};
  return *fields;
}

const UpdatableFields& PlacementFields() {
  static const auto* fields = new UpdatableFields{
      {"workplace", "kind", "title", "tasks", "seats", "availability", "hours_per_week",
       "schedule", "requirements", "adaptations", "status"},
      {"name", "industry", "location", "seats_taken", "municipality", "create_time",
       "update_time", "etag"}};
  return *fields;
}

// ---- Agreements

absl::StatusOr<v1::Agreement> AgreementForCreate(const v1::CreateAgreementRequest& request,
                                                 const v1::Placement& placement,
                                                 const Principal& caller) {
  FieldViolations v;
  CheckRequestId(request.request_id(), v);
  const v1::Agreement& in = request.agreement();
  if (ResourceId(in.person(), "persons").empty()) {
    v.Add("agreement.person", "must be a person name, persons/{id}");
  }
  CheckTextLength(v, "agreement.supervisor.display_name", in.supervisor().display_name(), 1, 200);
  CheckTextLength(v, "agreement.supervisor.phone", in.supervisor().phone(), 0, 40);
  CheckTextLength(v, "agreement.supervisor.email", in.supervisor().email(), 0, 200);
  if (!in.has_period()) {
    v.Add("agreement.period", "is required");
  } else {
    CheckRange(v, "agreement.period", in.period());
    if (v.empty() && !Available(placement, RangeOf(in.period()))) {
      v.Add("agreement.period", "must lie within one of the placement's availability periods");
    }
  }
  if (in.hours_per_week() < 1 || in.hours_per_week() > 40) {
    v.Add("agreement.hours_per_week", "must be 1 to 40");
  }
  CheckTextLength(v, "agreement.schedule", in.schedule(), 0, 200);
  CheckTextLength(v, "agreement.goal", in.goal(), 1, 2000);
  if (in.sub_goals_size() > 20) v.Add("agreement.sub_goals", "at most 20");
  for (int i = 0; i < in.sub_goals_size(); ++i) {
    CheckTextLength(v, absl::StrCat("agreement.sub_goals[", i, "].description"), in.sub_goals(i).description(), 1, 1000);
  }
  if (in.follow_up_interval_days() < 0 || in.follow_up_interval_days() > 31) {
    v.Add("agreement.follow_up_interval_days",
          "must be 1 to 31: follow-up happens at least monthly (0 for every 30 "
          "days)");
  }
  if (placement.status() != v1::PLACEMENT_STATUS_OPEN && v.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(placement.name(), " is ", v1::PlacementStatus_Name(placement.status()),
                     "; agreements are made only for open placements"));
  }
  if (!v.empty()) return v.ToStatus();
  v1::Agreement agreement;
  agreement.set_person(in.person());
  agreement.set_placement(placement.name());
  agreement.set_employer(placement.employer());
  *agreement.mutable_supervisor() = in.supervisor();
  agreement.set_coordinator_organization(caller.organization);
  agreement.set_coordinator_user(caller.user);
  *agreement.mutable_period() = in.period();
  agreement.set_hours_per_week(in.hours_per_week());
  agreement.set_schedule(in.schedule());
  agreement.set_goal(in.goal());
  *agreement.mutable_sub_goals() = in.sub_goals();
  agreement.set_follow_up_interval_days(
      in.follow_up_interval_days() == 0 ? 30 : in.follow_up_interval_days());
  agreement.set_status(v1::AGREEMENT_STATUS_PROPOSED);
  agreement.set_municipality(caller.municipality);
  return agreement;
}

bool HoldsSeat(v1::AgreementStatus status) {
  return status == v1::AGREEMENT_STATUS_SIGNED || status == v1::AGREEMENT_STATUS_ACTIVE;
}

absl::StatusOr<AgreementStep> RecordVisit(const v1::Agreement& current,
                                          const google::type::Date& visit_date, absl::Time now) {
  if (current.status() != v1::AGREEMENT_STATUS_PROPOSED) {
    return WrongStatus(current, "record the workplace visit of", "AGREEMENT_STATUS_PROPOSED");
  }
  if (!ValidDate(visit_date)) return InvalidField("visit_date", "must be a real date");
  if (DayOf(visit_date) > Today(now))
    return InvalidField("visit_date", "must not be in the future");
  AgreementStep step{current, "placement.agreement.workplace_visited"};
  step.agreement.set_status(v1::AGREEMENT_STATUS_WORKPLACE_VISITED);
  *step.agreement.mutable_workplace_visit_date() = visit_date;
  return step;
}

absl::StatusOr<AgreementStep> Sign(const v1::Agreement& current, v1::Party party,
                                   const Principal& recorder, absl::Time now) {
  if (party == v1::PARTY_UNSPECIFIED || !v1::Party_IsValid(party)) {
    return InvalidField("party", "is required: participant, employer or coordinator");
  }
  if (current.status() != v1::AGREEMENT_STATUS_WORKPLACE_VISITED) {
    return WrongStatus(current, "sign", "AGREEMENT_STATUS_WORKPLACE_VISITED (visit first)");
  }
  AgreementStep step{current, "placement.agreement.party_signed"};
  v1::Agreement& a = step.agreement;
  const bool signed_before = party == v1::PARTY_PARTICIPANT ? a.has_participant_sign_time()
                             : party == v1::PARTY_EMPLOYER  ? a.has_employer_sign_time()
                                                            : a.has_coordinator_sign_time();
  if (signed_before) {
    return absl::FailedPreconditionError(
        absl::StrCat(v1::Party_Name(party), " has already signed this agreement"));
  }
  google::protobuf::Timestamp* time =
      party == v1::PARTY_PARTICIPANT ? a.mutable_participant_sign_time()
      : party == v1::PARTY_EMPLOYER  ? a.mutable_employer_sign_time()
                                     : a.mutable_coordinator_sign_time();
  *time = TimestampOf(now);
  v1::SignatureRecord* record = party == v1::PARTY_PARTICIPANT ? a.mutable_participant_signature()
                                : party == v1::PARTY_EMPLOYER  ? a.mutable_employer_signature()
                                                               : a.mutable_coordinator_signature();
  record->set_user(recorder.user);
  record->set_organization(recorder.organization);
  *record->mutable_time() = *time;
  if (a.has_participant_sign_time() && a.has_employer_sign_time() &&
      a.has_coordinator_sign_time()) {
    a.set_status(v1::AGREEMENT_STATUS_SIGNED);
    step.event_type = "placement.agreement.signed";
  }
  return step;
}

absl::StatusOr<AgreementStep> Start(const v1::Agreement& current, absl::Time now) {
  if (current.status() != v1::AGREEMENT_STATUS_SIGNED) {
    return WrongStatus(current, "start", "AGREEMENT_STATUS_SIGNED");
  }
  if (Today(now) < DayOf(current.period().start_date())) {
    return absl::FailedPreconditionError("the agreement's period has not begun yet");
  }
  AgreementStep step{current, "placement.agreement.started"};
  step.agreement.set_status(v1::AGREEMENT_STATUS_ACTIVE);
  return step;
}

absl::StatusOr<AgreementStep> Complete(const v1::Agreement& current, v1::Outcome outcome,
                                       absl::string_view note, absl::Time now) {
  FieldViolations v;
  if (outcome == v1::OUTCOME_UNSPECIFIED || !v1::Outcome_IsValid(outcome)) {
    v.Add("outcome", "is required");
  }
  CheckTextLength(v, "outcome_note", note, 0, 2000);
  if (!v.empty()) return v.ToStatus();
  if (current.status() != v1::AGREEMENT_STATUS_ACTIVE) {
    return WrongStatus(current, "complete", "AGREEMENT_STATUS_ACTIVE");
  }
  AgreementStep step{current, "placement.agreement.completed"};
  step.agreement.set_status(v1::AGREEMENT_STATUS_COMPLETED);
  step.agreement.set_outcome(outcome);
  step.agreement.set_outcome_note(std::string(note));
  *step.agreement.mutable_ended_date() = DateOf(Today(now));
  return step;
}

absl::StatusOr<AgreementStep> End(const v1::Agreement& current, v1::EndReason reason,
                                  v1::Outcome outcome, absl::string_view note, absl::Time now) {
  FieldViolations v;
  if (reason == v1::END_REASON_UNSPECIFIED || !v1::EndReason_IsValid(reason)) {
    v.Add("reason", "is required");
  }
  if (outcome == v1::OUTCOME_UNSPECIFIED || !v1::Outcome_IsValid(outcome)) {
    v.Add("outcome", "is required");
  }
  CheckTextLength(v, "outcome_note", note, (reason == v1::END_REASON_OTHER) ? 1 : 0, 2000);
  if (!v.empty()) return v.ToStatus();
  if (current.status() == v1::AGREEMENT_STATUS_COMPLETED ||
      current.status() == v1::AGREEMENT_STATUS_ENDED) {
    return WrongStatus(current, "end", "not yet completed or ended");
  }
  AgreementStep step{current, "placement.agreement.ended"};
  step.agreement.set_status(v1::AGREEMENT_STATUS_ENDED);
  step.agreement.set_end_reason(reason);
  step.agreement.set_outcome(outcome);
  step.agreement.set_outcome_note(std::string(note));
  *step.agreement.mutable_ended_date() = DateOf(Today(now));
  return step;
}

absl::Status CheckSeatFree(const v1::Placement& placement, absl::Span<const DayRange> taken,
                           const v1::Agreement& agreement) {
  if (placement.status() != v1::PLACEMENT_STATUS_OPEN) {
    return absl::FailedPreconditionError(absl::StrCat(placement.name(), " is ",
                                                      v1::PlacementStatus_Name(placement.status()),
                                                      "; it takes no new agreements"));
  }
  if (FreeSeats(placement.seats(), taken, RangeOf(agreement.period())) <= 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("no free seat: all ", placement.seats(), " seats of ", placement.name(),
                     " are taken by signed agreements in this period; nothing was signed"));
  }
  return absl::OkStatus();
}

// ---- Access

GuardedAccess DecideRecordAccess(const Caller& caller, const PersonalRecord& record,
                                 AccessAction action, const AccessFacts& facts) {
  AccessRequest request;
  request.action = action;
  request.resource = record.resource;
  request.person = record.person;
  request.municipality = record.municipality;
  // A new record will be the caller's; writing it is writing about the person,
  // which the person's owner may, another only with the person's consent.
  request.owner_organization =
      action == AccessAction::kCreate ? facts.person_owner : record.owner_organization;
  request.data_category = kPlacementDataCategory;
  request.purpose = kPlacementPurpose;
  return DecideAndAudit(caller, request, facts);
}

GuardedAccess MissingPlacementRecordAccess(const Caller& caller, absl::string_view resource,
                                           AccessAction action) {
  AccessRequest request;
  request.action = action;
  request.resource = std::string(resource);
  request.data_category = kPlacementDataCategory;
  request.purpose = kPlacementPurpose;
  return MissingRecordAccess(caller, std::move(request));
}

// ---- Supply and demand

v1::SupplyAndDemand SupplyAndDemandTable(absl::string_view municipality,
                                         absl::Span<const SupplyInput> supply,
                                         absl::Span<const v1::MatchProfile> waiting,
                                         absl::CivilMonth from, absl::CivilMonth to) {
  struct Cell {
    int seats = 0;
    int waiting = 0;
  };
  std::map<std::tuple<absl::CivilMonth, int, std::string>, Cell> cells;
  for (absl::CivilMonth month = from; month <= to; ++month) {
    const DayRange days{absl::CivilDay(month), absl::CivilDay(month + 1) - 1};
    for (const SupplyInput& s : supply) {
      const v1::Placement& p = *s.placement;
      if (p.status() != v1::PLACEMENT_STATUS_OPEN) continue;
      int best = 0;
      for (const v1::DateRange& range : p.availability()) {
        const DayRange r = RangeOf(range);
        if (!r.Overlaps(days)) continue;
        const DayRange part{std::max(r.start, days.start), std::min(r.end, days.end)};
        best = std::max(best, FreeSeats(p.seats(), s.taken, part));
      }
      if (best > 0) cells[{month, p.kind(), p.industry()}].seats += best;
    }
    for (const v1::MatchProfile& need : waiting) {
      if (!RangeOf(need.period()).Overlaps(days)) continue;
      static const std::string kNoIndustry;
      const int kinds = std::max(need.kinds_size(), 1);
      const int industries = std::max(need.interests_size(), 1);
      for (int k = 0; k < kinds; ++k) {
        const int kind = need.kinds().empty() ? v1::PLACEMENT_KIND_WORK_PRACTICE : need.kinds(k);
        for (int i = 0; i < industries; ++i) {
          const std::string& industry = need.interests().empty() ? kNoIndustry : need.interests(i);
          cells[{month, kind, industry}].waiting++;
        }
      }
    }
  }
  v1::SupplyAndDemand table;
  table.set_suppression_threshold(kSuppressionThreshold);
  for (const auto& [key, cell] : cells) {
    const auto& [month, kind, industry] = key;
    const bool suppressed = cell.waiting > 0 && cell.waiting < kSuppressionThreshold;
    // A cell there only because of one to four people would tell that they wait.
    if (suppressed && cell.seats == 0) continue;
    v1::SupplyDemandCell* out = table.add_cells();
    out->set_municipality(std::string(municipality));
    out->set_kind(static_cast<v1::PlacementKind>(kind));
    out->set_industry(industry);
    out->set_month(absl::StrFormat("%04d-%02d", month.year(), month.month()));
    out->set_open_seats(cell.seats);
    // A count of one to four people could point out who they are.
    if (!suppressed) {
      out->set_waiting(cell.waiting);
      out->set_gap(cell.seats - cell.waiting);
    }
  }
  return table;
}

}  // namespace samplan::placement
