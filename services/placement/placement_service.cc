#include "services/placement/placement_service.h"

#include <google/protobuf/util/message_differencer.h>
#include <google/protobuf/util/time_util.h>

#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/ids.h"
#include "common/paging.h"
#include "common/status.h"
#include "services/placement/matching.h"
#include "services/placement/placement_rules.h"
#include "services/placement/prao_allocation.h"

namespace samplan::placement {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::google::protobuf::util::TimeUtil;

// The page sizes of the calls: {default, maximum} (common/paging.h).
constexpr PageSizeRule kListEmployersPage{25, 100};
constexpr PageSizeRule kListContactsPage{25, 100};
constexpr PageSizeRule kListColdEmployersPage{50, 500};
constexpr PageSizeRule kListPlacementsPage{25, 100};
constexpr PageSizeRule kMatchPlacementsPage{10, 100};
constexpr PageSizeRule kListAgreementsPage{25, 100};

Caller CallerOf(const CallContext& call, absl::string_view method) {
  return {call.principal, absl::StrCat("placement.", method), call.request_id, call.now,
          call.deadline};
}

CreateMeta MetaOf(const CallContext& call, const std::string& request_id,
                  const google::protobuf::Message& request) {
  return {call.principal.municipality,
          call.principal.organization,
          call.principal.user,
          request_id,
          RequestFingerprint(request),
          call.now,
          call.deadline};
}

// The bank is changed by placement coordinators only; everyone in the
// municipality may read it.
absl::Status CheckCoordinator(const Principal& principal) {
  if (principal.HasRole("placement_coordinator")) return absl::OkStatus();
  return absl::PermissionDeniedError(
      "only the role placement_coordinator changes the placement bank");
}

absl::Status StaleEtag(absl::string_view name) {
  return EtagMismatch(std::string(name), "it has changed since this etag was read; get it again");
}

// An employer or placement as a caller sends it, without what only the server
// sets.
void ClearOutputOnly(v1::Employer& e) {
  e.clear_name();
  e.clear_sole_trader();
  e.clear_municipality();
  e.clear_last_contact_time();
  e.clear_create_time();
  e.clear_update_time();
  e.clear_etag();
}

void ClearOutputOnly(v1::Placement& p) {
  p.clear_name();
  p.clear_industry();
  p.clear_location();
  p.clear_seats_taken();
  p.clear_municipality();
  p.clear_create_time();
  p.clear_update_time();
  p.clear_etag();
}

// Checks that every workplace in use by a placement is still there.
absl::Status CheckWorkplacesKept(const v1::Employer& employer,
                                 const std::vector<std::string>& in_use) {
  for (const std::string& id : in_use) {
    bool kept = false;
    for (const v1::Workplace& w : employer.workplaces()) kept |= w.id() == id;
    if (!kept) {
      return InvalidField("employer.workplaces",
                          absl::StrCat("workplace ", id, " has placements; keep it or move them"));
    }
  }
  return absl::OkStatus();
}

// ---- Page tokens (common/paging.h): the sort key of the page's last row, bound
// to the request's filters.

absl::Status NotOurToken() { return InvalidField("page_token", "is not a token this call returned"); }

std::string NameToken(absl::string_view filters, const v1::Employer& last) {
  return EncodePageToken(filters,
                         {last.display_name(), std::string(ResourceId(last.name(), "employers"))});
}

absl::StatusOr<std::optional<NameKey>> NameKeyOf(const std::string& token,
                                                 absl::string_view filters) {
  if (token.empty()) return std::nullopt;
  absl::StatusOr<std::vector<std::string>> parts = DecodePageToken(token, filters, 2);
  if (!parts.ok()) return parts.status();
  if (!IsUuid((*parts)[1])) return NotOurToken();
  NameKey key;
  key.display_name = (*parts)[0];
  key.id = (*parts)[1];
  return key;
}

// `time` is what the row's column holds: microseconds.
std::string TimeToken(absl::string_view filters, const google::protobuf::Timestamp& time,
                      absl::string_view id) {
  return EncodePageToken(filters,
                         {absl::StrCat(TimeUtil::TimestampToMicroseconds(time)), std::string(id)});
}

absl::StatusOr<std::optional<TimeKey>> TimeKeyOf(const std::string& token,
                                                 absl::string_view filters) {
  if (token.empty()) return std::nullopt;
  absl::StatusOr<std::vector<std::string>> parts = DecodePageToken(token, filters, 2);
  if (!parts.ok()) return parts.status();
  int64_t micros = 0;
  if (!absl::SimpleAtoi((*parts)[0], &micros) || !IsUuid((*parts)[1])) return NotOurToken();
  return TimeKey{absl::FromUnixMicros(micros), (*parts)[1]};
}

// The last id segment of `name` ("employers/{e}/contacts/{id}" → id).
absl::string_view LastId(absl::string_view name) {
  const size_t slash = name.rfind('/');
  return slash == absl::string_view::npos ? name : name.substr(slash + 1);
}

std::vector<MatchCandidate> CandidatesOf(const Bank& bank) {
  std::vector<MatchCandidate> candidates;
  candidates.reserve(bank.placements.size());
  for (const v1::Placement& p : bank.placements) {
    auto it = bank.taken.find(p.name());
    candidates.push_back({&p, it == bank.taken.end() ? std::vector<DayRange>{} : it->second});
  }
  return candidates;
}

}  // namespace

std::string NewWorkplaceId() { return absl::StrReplaceAll(NewUuid(), {{"-", ""}}).substr(0, 10); }

PlacementService::PlacementService(PlacementRepository& repository, const CallHandler& calls,
                                   std::function<std::string()> new_id, int cold_after_days)
    : repository_(repository),
      calls_(calls),
      new_id_(std::move(new_id)),
      cold_after_days_(cold_after_days) {}

// ---- Employers

grpc::Status PlacementService::CreateEmployer(Context* context,
                                              const v1::CreateEmployerRequest* request,
                                              v1::Employer* response) {
  return calls_.Handle(context, "CreateEmployer", *request, [&](const CallContext& call) -> absl::Status {
    if (absl::Status role = CheckCoordinator(call.principal); !role.ok()) return role;
    FieldViolations v;
    CheckRequestId(request->request_id(), v);
    if (!v.empty()) return v.ToStatus();
    v1::Employer employer = request->employer();
    ClearOutputOnly(employer);
    if (absl::Status valid = NormalizeEmployer(employer, Today(call.now), new_id_); !valid.ok()) {
      return valid;
    }
    employer.set_municipality(call.principal.municipality);
    absl::StatusOr<v1::Employer> created =
        repository_.CreateEmployer(MetaOf(call, request->request_id(), *request), employer);
    if (!created.ok()) return created.status();
    *response = *std::move(created);
    return absl::OkStatus();
  });
}

grpc::Status PlacementService::GetEmployer(Context* context, const v1::GetEmployerRequest* request,
                                           v1::Employer* response) {
  return calls_.Handle(context, "GetEmployer", *request, [&](const CallContext& call) -> absl::Status {
    absl::StatusOr<std::string> id = IdFromName(request->name(), "employers", "name");
    if (!id.ok()) return id.status();
    absl::StatusOr<v1::Employer> employer =
        repository_.GetEmployer(call.principal.municipality, *id, call.deadline);
    if (!employer.ok()) return employer.status();
    *response = *std::move(employer);
    return absl::OkStatus();
  });
}

grpc::Status PlacementService::ListEmployers(Context* context,
                                             const v1::ListEmployersRequest* request,
                                             v1::ListEmployersResponse* response) {
  return calls_.Handle(context, "ListEmployers", *request, [&](const CallContext& call) -> absl::Status {
    absl::StatusOr<int> size = PageSizeOf(request->page_size(), kListEmployersPage);
    if (!size.ok()) return size.status();
    const std::string filters = absl::StrCat("employers|", request->industry());
    absl::StatusOr<std::optional<NameKey>> after = NameKeyOf(request->page_token(), filters);
    if (!after.ok()) return after.status();
    absl::StatusOr<std::vector<v1::Employer>> employers = repository_.ListEmployers(
        call.principal.municipality, request->industry(), *after, *size + 1, call.deadline);
    if (!employers.ok()) return employers.status();
    if (TrimToPage(*employers, *size)) {
      response->set_next_page_token(NameToken(filters, employers->back()));
    }
    for (v1::Employer& employer : *employers) *response->add_employers() = std::move(employer);
    return absl::OkStatus();
  });
}

grpc::Status PlacementService::UpdateEmployer(Context* context,
                                              const v1::UpdateEmployerRequest* request,
                                              v1::Employer* response) {
  return calls_.Handle(context, "UpdateEmployer", *request, [&](const CallContext& call) -> absl::Status {
    if (absl::Status role = CheckCoordinator(call.principal); !role.ok()) return role;
    absl::StatusOr<std::string> id =
        IdFromName(request->employer().name(), "employers", "employer.name");
    if (!id.ok()) return id.status();
    auto change =
        [&](const v1::Employer& current,
            const std::vector<std::string>& in_use) -> absl::StatusOr<std::optional<v1::Employer>> {
      if (!request->employer().etag().empty() && request->employer().etag() != current.etag()) {
        return StaleEtag(current.name());
      }
      absl::StatusOr<v1::Employer> next =
          ApplyMaskedUpdate(current, request->employer(), request->update_mask(), EmployerFields());
      if (!next.ok()) return next.status();
      if (absl::Status valid = NormalizeEmployer(*next, Today(call.now), new_id_); !valid.ok()) {
        return valid;
      }
      if (absl::Status kept = CheckWorkplacesKept(*next, in_use); !kept.ok()) return kept;
      if (MessageDifferencer::Equals(current, *next)) return std::nullopt;
      return *std::move(next);
    };
    absl::StatusOr<v1::Employer> updated = repository_.UpdateEmployer(
        call.principal.municipality, *id, call.now, call.deadline, change);
    if (!updated.ok()) return updated.status();
    *response = *std::move(updated);
    return absl::OkStatus();
  });
}

grpc::Status PlacementService::LogContact(Context* context, const v1::LogContactRequest* request,
                                          v1::Contact* response) {
  return calls_.Handle(context, "LogContact", *request, [&](const CallContext& call) -> absl::Status {
    if (absl::Status role = CheckCoordinator(call.principal); !role.ok()) return role;
    absl::StatusOr<std::string> id = IdFromName(request->employer(), "employers", "employer");
    if (!id.ok()) return id.status();
    v1::Contact contact = request->contact();
    if (absl::Status valid = NormalizeContact(contact, call.now); !valid.ok()) return valid;
    contact.set_by_user(call.principal.user);
    contact.set_by_organization(call.principal.organization);
    absl::StatusOr<v1::Contact> logged =
        repository_.LogContact(call.principal.municipality, *id, contact, call.deadline);
    if (!logged.ok()) return logged.status();
    *response = *std::move(logged);
    return absl::OkStatus();
  });
}

grpc::Status PlacementService::ListContacts(Context* context,
                                            const v1::ListContactsRequest* request,
                                            v1::ListContactsResponse* response) {
  return calls_.Handle(context, "ListContacts", *request, [&](const CallContext& call) -> absl::Status {
    absl::StatusOr<std::string> id = IdFromName(request->employer(), "employers", "employer");
    if (!id.ok()) return id.status();
    absl::StatusOr<int> size = PageSizeOf(request->page_size(), kListContactsPage);
    if (!size.ok()) return size.status();
    const std::string filters = absl::StrCat("contacts|", *id);
    absl::StatusOr<std::optional<TimeKey>> before = TimeKeyOf(request->page_token(), filters);
    if (!before.ok()) return before.status();
    absl::StatusOr<std::vector<v1::Contact>> contacts = repository_.ListContacts(
        call.principal.municipality, *id, *before, *size + 1, call.deadline);
    if (!contacts.ok()) return contacts.status();
    if (TrimToPage(*contacts, *size)) {
      const v1::Contact& last = contacts->back();
      response->set_next_page_token(TimeToken(filters, last.contact_time(), LastId(last.name())));
    }
    for (v1::Contact& contact : *contacts) *response->add_contacts() = std::move(contact);
    return absl::OkStatus();
  });
}

grpc::Status PlacementService::ListColdEmployers(Context* context,
                                                 const v1::ListColdEmployersRequest* request,
                                                 v1::ListColdEmployersResponse* response) {
  return calls_.Handle(context, "ListColdEmployers", *request, [&](const CallContext& call) -> absl::Status {
    FieldViolations v;
    if (request->min_days_without_contact() < 0 || request->min_days_without_contact() > 3650) {
      v.Add("min_days_without_contact", "must be 0 to 3650");
    }
    absl::StatusOr<int> size = PageSizeOf(request->page_size(), kListColdEmployersPage);
    if (!size.ok()) return size.status();
    if (!v.empty()) return v.ToStatus();
    const int days = request->min_days_without_contact() == 0 ? cold_after_days_
                                                              : request->min_days_without_contact();
    absl::StatusOr<std::vector<v1::Employer>> cold = repository_.ListColdEmployers(
        call.principal.municipality, call.now - absl::Hours(24) * days, *size, call.deadline);
    if (!cold.ok()) return cold.status();
    response->set_min_days_without_contact(days);
    for (v1::Employer& employer : *cold) {
      v1::ColdEmployer* out = response->add_employers();
      out->set_never_contacted(!employer.has_last_contact_time());
      const auto& since =
          employer.has_last_contact_time() ? employer.last_contact_time() : employer.create_time();
      out->set_days_without_contact(static_cast<int32_t>(
          (call.now - absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(since))) /
          absl::Hours(24)));
      *out->mutable_employer() = std::move(employer);
    }
    return absl::OkStatus();
  });
}

// ---- Placements

grpc::Status PlacementService::CreatePlacement(Context* context,
                                               const v1::CreatePlacementRequest* request,
                                               v1::Placement* response) {
  return calls_.Handle(context, "CreatePlacement", *request, [&](const CallContext& call) -> absl::Status {
    if (absl::Status role = CheckCoordinator(call.principal); !role.ok()) return role;
    FieldViolations v;
    CheckRequestId(request->request_id(), v);
    if (!v.empty()) return v.ToStatus();
    absl::StatusOr<std::string> employer_id =
        IdFromName(request->placement().employer(), "employers", "placement.employer");
    if (!employer_id.ok()) return employer_id.status();
    auto build = [&](const v1::Employer& employer) -> absl::StatusOr<v1::Placement> {
      v1::Placement placement = request->placement();
      ClearOutputOnly(placement);
      if (placement.status() == v1::PLACEMENT_STATUS_UNSPECIFIED) {
        placement.set_status(v1::PLACEMENT_STATUS_OPEN);
      }
      if (absl::Status valid = NormalizePlacement(placement, employer); !valid.ok()) return valid;
      placement.set_municipality(call.principal.municipality);
      return placement;
    };
    absl::StatusOr<v1::Placement> created = repository_.CreatePlacement(
        MetaOf(call, request->request_id(), *request), *employer_id, build);
    if (!created.ok()) return created.status();
    *response = *std::move(created);
    return absl::OkStatus();
  });
}

grpc::Status PlacementService::GetPlacement(Context* context,
                                            const v1::GetPlacementRequest* request,
                                            v1::Placement* response) {
  return calls_.Handle(context, "GetPlacement", *request, [&](const CallContext& call) -> absl::Status {
    absl::StatusOr<std::string> id = IdFromName(request->name(), "placements", "name");
    if (!id.ok()) return id.status();
    absl::StatusOr<v1::Placement> placement =
        repository_.GetPlacement(call.principal.municipality, *id, call.deadline);
    if (!placement.ok()) return placement.status();
    *response = *std::move(placement);
    return absl::OkStatus();
  });
}

grpc::Status PlacementService::ListPlacements(Context* context,
                                              const v1::ListPlacementsRequest* request,
                                              v1::ListPlacementsResponse* response) {
  return calls_.Handle(context, "ListPlacements", *request, [&](const CallContext& call) -> absl::Status {
    PlacementRepository::PlacementQuery query;
    query.municipality = call.principal.municipality;
    if (!request->employer().empty()) {
      absl::StatusOr<std::string> id = IdFromName(request->employer(), "employers", "employer");
      if (!id.ok()) return id.status();
      query.employer_id = *id;
    }
    if (!v1::PlacementKind_IsValid(request->kind())) return InvalidField("kind", "is not a kind");
    if (!v1::PlacementStatus_IsValid(request->status())) {
      return InvalidField("status", "is not a status");
    }
    if (request->kind() != 0) query.kind = v1::PlacementKind_Name(request->kind());
    if (request->status() != 0) query.status = v1::PlacementStatus_Name(request->status());
    absl::StatusOr<int> size = PageSizeOf(request->page_size(), kListPlacementsPage);
    if (!size.ok()) return size.status();
    const std::string filters =
        absl::StrCat("placements|", query.employer_id, "|", query.kind, "|", query.status);
    absl::StatusOr<std::optional<TimeKey>> after = TimeKeyOf(request->page_token(), filters);
    if (!after.ok()) return after.status();
    query.after = *after;
    query.limit = *size + 1;
    absl::StatusOr<std::vector<v1::Placement>> placements =
        repository_.ListPlacements(query, call.deadline);
    if (!placements.ok()) return placements.status();
    if (TrimToPage(*placements, *size)) {
      const v1::Placement& last = placements->back();
      response->set_next_page_token(
          TimeToken(filters, last.create_time(), ResourceId(last.name(), "placements")));
    }
    for (v1::Placement& placement : *placements) {
      *response->add_placements() = std::move(placement);
    }
    return absl::OkStatus();
  });
}

grpc::Status PlacementService::UpdatePlacement(Context* context,
                                               const v1::UpdatePlacementRequest* request,
                                               v1::Placement* response) {
  return calls_.Handle(context, "UpdatePlacement", *request, [&](const CallContext& call) -> absl::Status {
    if (absl::Status role = CheckCoordinator(call.principal); !role.ok()) return role;
    absl::StatusOr<std::string> id =
        IdFromName(request->placement().name(), "placements", "placement.name");
    if (!id.ok()) return id.status();
    auto change =
        [&](const v1::Placement& current, const v1::Employer& employer,
            const std::vector<DayRange>&) -> absl::StatusOr<std::optional<v1::Placement>> {
      if (!request->placement().etag().empty() && request->placement().etag() != current.etag()) {
        return StaleEtag(current.name());
      }
      absl::StatusOr<v1::Placement> next = ApplyMaskedUpdate(
          current, request->placement(), request->update_mask(), PlacementFields());
      if (!next.ok()) return next.status();
      if (absl::Status valid = NormalizePlacement(*next, employer); !valid.ok()) return valid;
      if (next->seats() < current.seats_taken()) {
        return InvalidField("placement.seats",
                            absl::StrCat("must be at least ", current.seats_taken(),
                                         ", the seats signed agreements hold"));
      }
      if (MessageDifferencer::Equals(current, *next)) return std::nullopt;
      return *std::move(next);
    };
    absl::StatusOr<v1::Placement> updated = repository_.UpdatePlacement(
        call.principal.municipality, *id, call.now, call.deadline, change);
    if (!updated.ok()) return updated.status();
    *response = *std::move(updated);
    return absl::OkStatus();
  });
}

// ---- Placement needs and matching

grpc::Status PlacementService::CreatePlacementNeed(Context* context,
                                                   const v1::CreatePlacementNeedRequest* request,
                                                   v1::PlacementNeed* response) {
  return calls_.Handle(
      context, "CreatePlacementNeed", *request, [&](const CallContext& call) -> absl::Status {
        // A caller whose role handles no personal data learns nothing from
        // validation.
        if (!MayHandlePersonalData(call.principal)) return RoleDeniedStatus();
        FieldViolations v;
        CheckRequestId(request->request_id(), v);
        const v1::PlacementNeed& need = request->placement_need();
        if (ResourceId(need.person(), "persons").empty()) {
          v.Add("placement_need.person", "must be a person name, persons/{id}");
        }
        if (!need.has_profile()) {
          v.Add("placement_need.profile", "is required");
        } else {
          ValidateProfile(need.profile(), "placement_need.profile", v);
        }
        if (!v.empty()) return v.ToStatus();
        v1::PlacementNeed stored;
        stored.set_person(need.person());
        *stored.mutable_profile() = need.profile();
        absl::StatusOr<v1::PlacementNeed> created =
            repository_.CreateNeed(CallerOf(call, "CreatePlacementNeed"),
                                   MetaOf(call, request->request_id(), *request), stored);
        if (!created.ok()) return created.status();
        *response = *std::move(created);
        return absl::OkStatus();
      });
}

grpc::Status PlacementService::GetPlacementNeed(Context* context,
                                                const v1::GetPlacementNeedRequest* request,
                                                v1::PlacementNeed* response) {
  return calls_.Handle(context, "GetPlacementNeed", *request, [&](const CallContext& call) -> absl::Status {
    absl::StatusOr<std::string> id = IdFromName(request->name(), "placementNeeds", "name");
    if (!id.ok()) return id.status();
    absl::StatusOr<v1::PlacementNeed> need =
        repository_.GetNeed(CallerOf(call, "GetPlacementNeed"), *id);
    if (!need.ok()) return need.status();
    *response = *std::move(need);
    return absl::OkStatus();
  });
}

grpc::Status PlacementService::MatchPlacements(Context* context,
                                               const v1::MatchPlacementsRequest* request,
                                               v1::MatchPlacementsResponse* response) {
  return calls_.Handle(context, "MatchPlacements", *request, [&](const CallContext& call) -> absl::Status {
    absl::StatusOr<std::string> id =
        IdFromName(request->placement_need(), "placementNeeds", "placement_need");
    if (!id.ok()) return id.status();
    absl::StatusOr<int> size = PageSizeOf(request->page_size(), kMatchPlacementsPage);
    if (!size.ok()) return size.status();
    if (request->max_excluded() < 0 || request->max_excluded() > 100) {
      return InvalidField("max_excluded", "must be 0 to 100");
    }
    // The profile is read under the access rule, with its audit record.
    absl::StatusOr<v1::PlacementNeed> need =
        repository_.GetNeed(CallerOf(call, "MatchPlacements"), *id);
    if (!need.ok()) return need.status();
    absl::StatusOr<Bank> bank =
        repository_.LoadOpenPlacements(call.principal.municipality, call.deadline);
    if (!bank.ok()) return bank.status();
    const std::vector<MatchCandidate> candidates = CandidatesOf(*bank);
    *response = RankPlacements(need->profile(), candidates, *size, request->max_excluded());
    return absl::OkStatus();
  });
}

grpc::Status PlacementService::AllocatePrao(Context* context,
                                            const v1::AllocatePraoRequest* request,
                                            v1::AllocatePraoResponse* response) {
  return calls_.Handle(context, "AllocatePrao", *request, [&](const CallContext& call) -> absl::Status {
    if (!call.principal.HasRole("placement_coordinator") && !call.principal.HasRole("teacher")) {
      return absl::PermissionDeniedError(
          "prao allocation is for the roles placement_coordinator and "
          "teacher");
    }
    FieldViolations v;
    if (!IsResourceId(request->class_id())) {
      v.Add("class_id", "must be 1 to 63 of [A-Za-z0-9_-]");
    }
    if (!request->has_period()) v.Add("period", "is required");
    if (request->pupils().empty()) v.Add("pupils", "needs at least one pupil");
    if (request->pupils_size() > 500) v.Add("pupils", "at most 500");
    absl::StatusOr<Bank> bank =
        repository_.LoadOpenPlacements(call.principal.municipality, call.deadline);
    if (!bank.ok()) return bank.status();
    std::map<std::string, int, std::less<>> free_seats;
    for (const MatchCandidate& c : CandidatesOf(*bank)) {
      if (c.placement->kind() != v1::PLACEMENT_KIND_PRAO) continue;
      int seats = 0;
      if (request->has_period() && Available(*c.placement, RangeOf(request->period()))) {
        seats = std::max(0, FreeSeats(c.placement->seats(), c.taken, RangeOf(request->period())));
      }
      free_seats[c.placement->name()] = seats;
    }
    std::set<std::string> pupils;
    for (int i = 0; i < request->pupils_size(); ++i) {
      const v1::PraoPupil& pupil = request->pupils(i);
      const std::string field = absl::StrCat("pupils[", i, "]");
      if (!IsResourceId(pupil.pupil())) v.Add(field + ".pupil", "must be 1 to 63 of [A-Za-z0-9_-]");
      if (!pupils.insert(pupil.pupil()).second) v.Add(field + ".pupil", "appears twice");
      if (pupil.choices_size() > kMaxPraoChoices) v.Add(field + ".choices", "at most six");
      std::set<std::string> seen;
      for (int j = 0; j < pupil.choices_size(); ++j) {
        if (!free_seats.contains(pupil.choices(j))) {
          v.Add(absl::StrCat(field, ".choices[", j, "]"), "is not an open prao placement");
        }
        if (!seen.insert(pupil.choices(j)).second) {
          v.Add(absl::StrCat(field, ".choices[", j, "]"), "is ranked twice");
        }
      }
      if (!pupil.placed_by_hand().empty() && !free_seats.contains(pupil.placed_by_hand())) {
        v.Add(field + ".placed_by_hand", "is not an open prao placement");
      }
    }
    if (!v.empty()) return v.ToStatus();
    const std::vector<v1::PraoPupil> input(request->pupils().begin(), request->pupils().end());
    *response = samplan::placement::AllocatePrao(input, std::move(free_seats), request->class_id(),
                                                 request->seed());
    return absl::OkStatus();
  });
}

// ---- Agreements

grpc::Status PlacementService::CreateAgreement(Context* context,
                                               const v1::CreateAgreementRequest* request,
                                               v1::Agreement* response) {
  return calls_.Handle(context, "CreateAgreement", *request, [&](const CallContext& call) -> absl::Status {
    if (!MayHandlePersonalData(call.principal)) return RoleDeniedStatus();
    absl::StatusOr<std::string> placement_id =
        IdFromName(request->agreement().placement(), "placements", "agreement.placement");
    if (!placement_id.ok()) return placement_id.status();
    auto build = [&](const v1::Placement& placement) {
      return AgreementForCreate(*request, placement, call.principal);
    };
    absl::StatusOr<v1::Agreement> created = repository_.CreateAgreement(
        CallerOf(call, "CreateAgreement"), MetaOf(call, request->request_id(), *request),
        *placement_id, build);
    if (!created.ok()) return created.status();
    *response = *std::move(created);
    return absl::OkStatus();
  });
}

grpc::Status PlacementService::GetAgreement(Context* context,
                                            const v1::GetAgreementRequest* request,
                                            v1::Agreement* response) {
  return calls_.Handle(context, "GetAgreement", *request, [&](const CallContext& call) -> absl::Status {
    absl::StatusOr<std::string> id = IdFromName(request->name(), "agreements", "name");
    if (!id.ok()) return id.status();
    absl::StatusOr<v1::Agreement> agreement =
        repository_.GetAgreement(CallerOf(call, "GetAgreement"), *id);
    if (!agreement.ok()) return agreement.status();
    *response = *std::move(agreement);
    return absl::OkStatus();
  });
}

grpc::Status PlacementService::ListAgreements(Context* context,
                                              const v1::ListAgreementsRequest* request,
                                              v1::ListAgreementsResponse* response) {
  return calls_.Handle(context, "ListAgreements", *request, [&](const CallContext& call) -> absl::Status {
    if (!MayHandlePersonalData(call.principal)) return RoleDeniedStatus();
    if (!v1::AgreementStatus_IsValid(request->status())) {
      return InvalidField("status", "is not a status");
    }
    absl::StatusOr<int> size = PageSizeOf(request->page_size(), kListAgreementsPage);
    if (!size.ok()) return size.status();
    const std::string status =
        request->status() == 0 ? "" : v1::AgreementStatus_Name(request->status());
    const std::string filters = absl::StrCat("agreements|", status);
    absl::StatusOr<std::optional<TimeKey>> before = TimeKeyOf(request->page_token(), filters);
    if (!before.ok()) return before.status();
    absl::StatusOr<std::vector<v1::Agreement>> agreements =
        repository_.ListAgreements(CallerOf(call, "ListAgreements"), status, *before, *size + 1);
    if (!agreements.ok()) return agreements.status();
    if (TrimToPage(*agreements, *size)) {
      const v1::Agreement& last = agreements->back();
      response->set_next_page_token(
          TimeToken(filters, last.create_time(), ResourceId(last.name(), "agreements")));
    }
    for (v1::Agreement& agreement : *agreements) {
      *response->add_agreements() = std::move(agreement);
    }
    return absl::OkStatus();
  });
}

grpc::Status PlacementService::Step(
    Context* context, absl::string_view method, const google::protobuf::Message& request,
    const std::string& name, const std::string& etag,
    v1::Agreement* response,
    const std::function<absl::StatusOr<AgreementStep>(const v1::Agreement&, const Principal&,
                                                      absl::Time)>& step) {
  return calls_.Handle(context, method, request, [&](const CallContext& call) -> absl::Status {
    absl::StatusOr<std::string> id = IdFromName(name, "agreements", "name");
    if (!id.ok()) return id.status();
    absl::StatusOr<v1::Agreement> stepped = repository_.StepAgreement(
        CallerOf(call, method), *id, etag,
        [&](const v1::Agreement& current) { return step(current, call.principal, call.now); });
    if (!stepped.ok()) return stepped.status();
    *response = *std::move(stepped);
    return absl::OkStatus();
  });
}

grpc::Status PlacementService::RecordWorkplaceVisit(Context* context,
                                                    const v1::RecordWorkplaceVisitRequest* request,
                                                    v1::Agreement* response) {
  return Step(context, "RecordWorkplaceVisit", *request, request->name(), request->etag(), response,
              [&](const v1::Agreement& current, const Principal&, absl::Time now) {
                return RecordVisit(current, request->visit_date(), now);
              });
}

grpc::Status PlacementService::SignAgreement(Context* context,
                                             const v1::SignAgreementRequest* request,
                                             v1::Agreement* response) {
  return Step(context, "SignAgreement", *request, request->name(), request->etag(), response,
              [&](const v1::Agreement& current, const Principal& principal, absl::Time now) {
                return Sign(current, request->party(), principal, now);
              });
}

grpc::Status PlacementService::StartAgreement(Context* context,
                                              const v1::StartAgreementRequest* request,
                                              v1::Agreement* response) {
  return Step(context, "StartAgreement", *request, request->name(), request->etag(), response,
              [&](const v1::Agreement& current, const Principal&, absl::Time now) { return Start(current, now); });
}

grpc::Status PlacementService::CompleteAgreement(Context* context,
                                                 const v1::CompleteAgreementRequest* request,
                                                 v1::Agreement* response) {
  return Step(context, "CompleteAgreement", *request, request->name(), request->etag(), response,
              [&](const v1::Agreement& current, const Principal&, absl::Time now) {
                return Complete(current, request->outcome(), request->outcome_note(), now);
              });
}

grpc::Status PlacementService::EndAgreement(Context* context,
                                            const v1::EndAgreementRequest* request,
                                            v1::Agreement* response) {
  return Step(context, "EndAgreement", *request, request->name(), request->etag(), response,
              [&](const v1::Agreement& current, const Principal&, absl::Time now) {
                return End(current, request->reason(), request->outcome(), request->outcome_note(),
                           now);
              });
}

// ---- Statistics

grpc::Status PlacementService::GetSupplyAndDemand(Context* context,
                                                  const v1::GetSupplyAndDemandRequest* request,
                                                  v1::SupplyAndDemand* response) {
  return calls_.Handle(context, "GetSupplyAndDemand", *request, [&](const CallContext& call) -> absl::Status {
    FieldViolations v;
    const absl::CivilMonth from(DayOf(request->from_date()));
    const absl::CivilMonth to(DayOf(request->to_date()));
    if (request->from_date().year() < 2000 || request->from_date().month() < 1) {
      v.Add("from_date", "is required: a date in the first month");
    }
    if (request->to_date().year() < 2000 || request->to_date().month() < 1) {
      v.Add("to_date", "is required: a date in the last month");
    }
    if (v.empty() && to < from) v.Add("to_date", "must not be before from_date");
    if (v.empty() && to - from >= 24) v.Add("to_date", "at most 24 months after from_date");
    if (!v.empty()) return v.ToStatus();
    absl::StatusOr<Bank> bank =
        repository_.LoadOpenPlacements(call.principal.municipality, call.deadline);
    if (!bank.ok()) return bank.status();
    absl::StatusOr<std::vector<v1::MatchProfile>> waiting =
        repository_.ListWaitingProfiles(call.principal.municipality, call.deadline);
    if (!waiting.ok()) return waiting.status();
    std::vector<SupplyInput> supply;
    for (const MatchCandidate& c : CandidatesOf(*bank)) supply.push_back({c.placement, c.taken});
    *response = SupplyAndDemandTable(call.principal.municipality, supply, *waiting, from, to);
    return absl::OkStatus();
  });
}

}  // namespace samplan::placement
