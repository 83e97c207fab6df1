#include "services/caseplan/plan_rules.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/message_differencer.h>
#include <openssl/sha.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/field_mask.h"
#include "common/ids.h"
#include "common/status.h"
#include "common/text.h"

namespace samplan::caseplan {
namespace {

using ::google::type::Date;

constexpr int kMaxParticipants = 30;
constexpr int kMaxGoals = 30;
constexpr int kMaxSubGoals = 50;
constexpr int kMaxActivities = 100;
constexpr int kMaxNotes = 500;

bool IsValidDate(const Date& date) {
  if (date.year() < 1 || date.year() > 9999 || date.month() < 1 || date.month() > 12 ||
      date.day() < 1) {
    return false;
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int days = kDays[date.month() - 1];
  const bool leap =
      (date.year() % 4 == 0 && date.year() % 100 != 0) || date.year() % 400 == 0;
  if (date.month() == 2 && leap) days = 29;
  return date.day() <= days;
}

bool DateBefore(const Date& a, const Date& b) {
  return std::make_tuple(a.year(), a.month(), a.day()) <
         std::make_tuple(b.year(), b.month(), b.day());
}

void CheckOptionalName(FieldViolations& v, const std::string& path, const std::string& name,
                       absl::string_view collection) {
  if (!name.empty() && ResourceId(name, collection).empty()) {
    v.Add(path, absl::StrCat("must be of the form ", collection, "/{id}"));
  }
}

void CheckDate(FieldViolations& v, const std::string& path, bool has, const Date& date) {
  if (has && !IsValidDate(date)) v.Add(path, "is not a valid calendar date");
}

void CheckProgress(FieldViolations& v, const std::string& path, v1::ProgressStatus status) {
  if (status == v1::PROGRESS_STATUS_UNSPECIFIED || !v1::ProgressStatus_IsValid(status)) {
    v.Add(path, "must be set to PLANNED, IN_PROGRESS, DONE or CANCELLED");
  }
}

void CheckUniqueId(FieldViolations& v, const std::string& path, const std::string& id,
                   absl::flat_hash_set<std::string>& seen) {
  if (id.empty()) return;  // a new item; PlanForCreate / ApplyUpdate give it an id
  if (!IsResourceId(id)) {
    v.Add(path, "must be 1 to 63 characters of letters, digits, - and _");
  } else if (!seen.insert(id).second) {
    v.Add(path, "is used twice in the plan");
  }
}

// Gives new items without an id one. A caller may also choose the id of a new
// item, so that an activity can name a goal added in the same request; ValidatePlan
// checks that ids are well-formed and unique.
void AssignIds(Plan& plan, const std::function<std::string()>& new_id) {
  auto assign = [&](std::string* id, const std::string&) {
    if (id->empty()) *id = new_id();
  };
  for (int g = 0; g < plan.goals_size(); ++g) {
    v1::Goal* goal = plan.mutable_goals(g);
    assign(goal->mutable_id(), absl::StrCat("plan.goals[", g, "].id"));
    for (int s = 0; s < goal->sub_goals_size(); ++s) {
      assign(goal->mutable_sub_goals(s)->mutable_id(),
             absl::StrCat("plan.goals[", g, "].sub_goals[", s, "].id"));
    }
  }
  for (int a = 0; a < plan.activities_size(); ++a) {
    assign(plan.mutable_activities(a)->mutable_id(), absl::StrCat("plan.activities[", a, "].id"));
  }
}

// The journal is append-only: the result is every note the plan had, unchanged,
// followed by the request's new notes (those without id), stamped with the caller
// and the time. Notes the request repeats with their id must be unchanged; notes it
// leaves out are kept. So two agencies adding a note at once both get theirs in,
// whichever version of the plan they had read.
void MergeNotes(const Plan* current, Plan& next, const Principal& caller, absl::Time now,
                const std::function<std::string()>& new_id, FieldViolations& v) {
  absl::flat_hash_map<std::string, const v1::Note*> existing;
  google::protobuf::RepeatedPtrField<v1::Note> merged;
  if (current != nullptr) {
    for (const v1::Note& note : current->notes()) {
      existing[note.id()] = &note;
      *merged.Add() = note;
    }
  }
  for (int n = 0; n < next.notes_size(); ++n) {
    const v1::Note& note = next.notes(n);
    const std::string path = absl::StrCat("plan.notes[", n, "]");
    if (note.id().empty()) {
      v1::Note* added = merged.Add();
      added->set_text(note.text());
      added->set_id(new_id());
      added->set_author_user(caller.user);
      added->set_author_organization(caller.organization);
      *added->mutable_create_time() =
          google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
      continue;
    }
    auto it = existing.find(note.id());
    if (it == existing.end()) {
      v.Add(path + ".id", "is not a note of this plan; leave it empty to add a note");
    } else if (note.text() != it->second->text()) {
      v.Add(path + ".text", "a written note cannot be changed; add a new note instead");
    }
  }
  *next.mutable_notes() = std::move(merged);
}

}  // namespace

const std::vector<std::string>& MutablePlanFields() {
  static const std::vector<std::string> kFields = {
      "participants", "status", "overall_goal", "overall_goal_description",
      "goals", "activities", "next_review_date", "notes"};
  return kFields;
}

absl::StatusOr<std::string> PlanIdFromName(absl::string_view name, absl::string_view field) {
  absl::string_view id = ResourceId(name, "plans");
  if (!IsUuid(id)) {
    return InvalidField(std::string(field), "must be a plan name, plans/{uuid}");
  }
  return std::string(id);
}

// Returns whether `id` is written like a personnummer or samordningsnummer (10 or
// 12 digits, perhaps with '-' or '+'): such a number must never be an id, since
// ids travel in events and logs, which identity numbers may not.
bool LooksLikeIdentityNumber(absl::string_view id) {
  size_t digits = 0;
  for (char c : id) {
    if (absl::ascii_isdigit(c)) {
      ++digits;
    } else if (c != '-' && c != '+') {
      return false;
    }
  }
  return digits == 10 || digits == 12;
}

absl::Status ValidatePlan(const Plan& plan) {
  FieldViolations v;
  const absl::string_view person = ResourceId(plan.person(), "persons");
  if (person.empty()) {
    v.Add("plan.person", "must be a person name, persons/{id}");
  } else if (LooksLikeIdentityNumber(person)) {
    v.Add("plan.person",
          "must be the person's resource id from the identity service, never an identity "
          "number");
  }
  if (plan.status() == v1::PLAN_STATUS_UNSPECIFIED || !v1::PlanStatus_IsValid(plan.status())) {
    v.Add("plan.status", "must be set to DRAFT, ACTIVE, ON_HOLD, COMPLETED or CANCELLED");
  }
  if (!v1::OverallGoal_IsValid(plan.overall_goal())) {
    v.Add("plan.overall_goal", "is not a known overall goal");
  }
  CheckTextLength(v, "plan.overall_goal_description", plan.overall_goal_description(), 0, 1000);
  if (plan.has_next_review_date() && !IsValidDate(plan.next_review_date())) {
    v.Add("plan.next_review_date", "is not a valid calendar date");
  }

  std::set<std::string> organizations = {plan.lead_organization()};
  if (plan.participants_size() > kMaxParticipants) {
    v.Add("plan.participants", absl::StrCat("at most ", kMaxParticipants, " organizations"));
  }
  for (int i = 0; i < plan.participants_size(); ++i) {
    const v1::Participant& p = plan.participants(i);
    const std::string path = absl::StrCat("plan.participants[", i, "]");
    if (ResourceId(p.organization(), "organizations").empty()) {
      v.Add(path + ".organization", "must be an organization name, organizations/{id}");
    } else if (p.organization() == plan.lead_organization()) {
      v.Add(path + ".organization", "is the lead organization, which takes part already");
    } else if (!organizations.insert(p.organization()).second) {
      v.Add(path + ".organization", "is listed twice");
    }
    CheckOptionalName(v, path + ".contact_user", p.contact_user(), "users");
    CheckTextLength(v, path + ".role_description", p.role_description(), 0, 500);
  }

  absl::flat_hash_set<std::string> ids;
  absl::flat_hash_set<std::string> goal_ids;
  if (plan.goals_size() > kMaxGoals) {
    v.Add("plan.goals", absl::StrCat("at most ", kMaxGoals, " goals"));
  }
  for (int g = 0; g < plan.goals_size(); ++g) {
    const v1::Goal& goal = plan.goals(g);
    const std::string path = absl::StrCat("plan.goals[", g, "]");
    CheckUniqueId(v, path + ".id", goal.id(), ids);
    goal_ids.insert(goal.id());
    CheckTextLength(v, path + ".description", goal.description(), 1, 500);
    CheckDate(v, path + ".target_date", goal.has_target_date(), goal.target_date());
    CheckProgress(v, path + ".status", goal.status());
    if (goal.sub_goals_size() > kMaxSubGoals) {
      v.Add(path + ".sub_goals", absl::StrCat("at most ", kMaxSubGoals, " sub-goals"));
    }
    for (int s = 0; s < goal.sub_goals_size(); ++s) {
      const v1::SubGoal& sub = goal.sub_goals(s);
      const std::string sub_path = absl::StrCat(path, ".sub_goals[", s, "]");
      CheckUniqueId(v, sub_path + ".id", sub.id(), ids);
      CheckTextLength(v, sub_path + ".description", sub.description(), 1, 500);
      CheckDate(v, sub_path + ".target_date", sub.has_target_date(), sub.target_date());
      CheckProgress(v, sub_path + ".status", sub.status());
    }
  }

  if (plan.activities_size() > kMaxActivities) {
    v.Add("plan.activities", absl::StrCat("at most ", kMaxActivities, " activities"));
  }
  for (int a = 0; a < plan.activities_size(); ++a) {
    const v1::Activity& activity = plan.activities(a);
    const std::string path = absl::StrCat("plan.activities[", a, "]");
    CheckUniqueId(v, path + ".id", activity.id(), ids);
    if (activity.kind() == v1::ACTIVITY_KIND_UNSPECIFIED ||
        !v1::ActivityKind_IsValid(activity.kind())) {
      v.Add(path + ".kind", "must be set to a known kind of activity");
    }
    CheckTextLength(v, path + ".description", activity.description(), 0, 1000);
    if (!organizations.contains(activity.responsible_organization())) {
      v.Add(path + ".responsible_organization",
            "must be the lead organization or one of the participants");
    }
    CheckOptionalName(v, path + ".responsible_user", activity.responsible_user(), "users");
    CheckDate(v, path + ".start_date", activity.has_start_date(), activity.start_date());
    CheckDate(v, path + ".end_date", activity.has_end_date(), activity.end_date());
    if (activity.has_start_date() && activity.has_end_date() &&
        DateBefore(activity.end_date(), activity.start_date())) {
      v.Add(path + ".end_date", "is before start_date");
    }
    CheckProgress(v, path + ".status", activity.status());
    if (!activity.goal_id().empty() && !goal_ids.contains(activity.goal_id())) {
      v.Add(path + ".goal_id", "is not the id of a goal of this plan");
    }
  }

  if (plan.notes_size() > kMaxNotes) {
    v.Add("plan.notes", absl::StrCat("at most ", kMaxNotes, " notes"));
  }
  size_t notes_bytes = 0;
  for (int n = 0; n < plan.notes_size(); ++n) {
    CheckTextLength(v, absl::StrCat("plan.notes[", n, "].text"), plan.notes(n).text(), 1, 4000);
    notes_bytes += plan.notes(n).text().size();
  }
  if (notes_bytes > kMaxNotesBytes) {
    v.Add("plan.notes", absl::StrCat("the journal would hold ", notes_bytes,
                                     " bytes of text; a plan's notes hold at most ",
                                     kMaxNotesBytes, ": continue in a follow-on plan"));
  }
  // Counted as stored, server-set fields and all.
  if (const size_t bytes = plan.ByteSizeLong(); bytes > kMaxPlanBytes) {
    v.Add("plan", absl::StrCat("would be ", bytes, " bytes; a plan is at most ", kMaxPlanBytes,
                               ": shorten its texts"));
  }
  return v.ToStatus();
}

int ItemsThatFitAPage(const std::vector<size_t>& sizes, int page_size) {
  size_t total = 0;
  int count = 0;
  for (size_t size : sizes) {
    if (count >= page_size || (count > 0 && total + size > kMaxPageBytes)) break;
    total += size;
    ++count;
  }
  return count;
}

absl::StatusOr<Plan> PlanForCreate(const v1::CreatePlanRequest& request,
                                   const Principal& caller, absl::Time now,
                                   const std::function<std::string()>& new_id) {
  FieldViolations v;
  const std::string& request_id = request.request_id();
  if (request_id.empty() || request_id.size() > 100 || !std::all_of(request_id.begin(), request_id.end(), [](char c) {
        return absl::ascii_isalnum(c) || c == '-' || c == '_';
      })) {
    v.Add("request_id", "is required: 1 to 100 characters of letters, digits, - and _");
  }
  if (!request.has_plan()) {
    v.Add("plan", "is required");
    return v.ToStatus();
  }
  Plan plan = request.plan();
  plan.set_name(absl::StrCat("plans/", NewUuid()));
  plan.set_municipality(caller.municipality);
  plan.set_lead_organization(caller.organization);
  plan.clear_version();
  plan.clear_etag();
  plan.clear_update_time();
  *plan.mutable_create_time() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
  AssignIds(plan, new_id);
  MergeNotes(nullptr, plan, caller, now, new_id, v);
  // One answer names every invalid field, the request's and the plan's.
  for (auto& [field, description] : FieldViolationsOf(ValidatePlan(plan))) {
    v.Add(std::move(field), std::move(description));
  }
  if (!v.empty()) return v.ToStatus();
  return plan;
}

absl::StatusOr<Plan> ApplyUpdate(const Plan& current, const Plan& patch,
                                 const google::protobuf::FieldMask& mask,
                                 const Principal& caller, absl::Time now,
                                 const std::function<std::string()>& new_id) {
  // The one rule for masks (common/field_mask.h): "*" is every updatable field,
  // output-only paths are ignored, anything else is refused naming update_mask.
  static const UpdatableFields kFields{
      MutablePlanFields(),
      {"name", "municipality", "lead_organization", "create_time", "update_time", "version",
       "etag"}};
  absl::StatusOr<Plan> masked = ApplyMaskedUpdate(current, patch, mask, kFields);
  if (!masked.ok()) return masked.status();
  FieldViolations v;
  Plan next = *std::move(masked);
  AssignIds(next, new_id);
  MergeNotes(&current, next, caller, now, new_id, v);
  for (auto& [field, description] : FieldViolationsOf(ValidatePlan(next))) {
    v.Add(std::move(field), std::move(description));
  }
  if (!v.empty()) return v.ToStatus();
  return next;
}

std::vector<std::string> ChangedFields(const Plan& before, const Plan& after) {
  return samplan::ChangedFields(before, after, MutablePlanFields());
}

AccessRequest PlanAccessRequest(const Plan& plan, AccessAction action) {
  AccessRequest request;
  request.action = action;
  request.resource = plan.name();
  request.person = plan.person();
  request.municipality = plan.municipality();
  request.owner_organization = plan.lead_organization();
  request.requires_participation = true;
  for (const auto& participant : plan.participants()) {
    request.participant_organizations.push_back(participant.organization());
  }
  request.data_category = kPlanDataCategory;
  request.purpose = kPlanPurpose;
  return request;
}

bool NeedsAccessFacts(const Caller& caller, const Plan& plan, AccessAction action) {
  // A create is decided on the person's record, whose owner only the facts name.
  return action == AccessAction::kCreate ||
         samplan::NeedsAccessFacts(caller.principal, PlanAccessRequest(plan, action));
}

GuardedAccess DecidePlanAccess(const Caller& caller, const Plan& plan, AccessAction action,
                               const AccessFacts& facts) {
  AccessRequest request = PlanAccessRequest(plan, action);
  if (action == AccessAction::kCreate) {
    // The new plan will be the caller's; writing it is writing about the person,
    // which the organization that registered the person may, and another only with
    // the person's consent for plans.
    request.owner_organization = facts.person_owner;
    request.requires_participation = false;
  }
  return DecideAndAudit(caller, request, facts);
}

GuardedAccess MissingPlanAccess(const Caller& caller, absl::string_view id, AccessAction action) {
  AccessRequest request;
  request.action = action;
  request.resource = absl::StrCat("plans/", id);
  request.data_category = kPlanDataCategory;
  request.purpose = kPlanPurpose;
  return MissingRecordAccess(caller, std::move(request));
}

absl::StatusOr<Plan> HandOver(const Plan& current, absl::string_view to_organization,
                              absl::string_view reason, const Principal& caller, absl::Time now,
                              const std::function<std::string()>& new_id) {
  FieldViolations v;
  int to_index = -1;
  for (int i = 0; i < current.participants_size(); ++i) {
    if (current.participants(i).organization() == to_organization) to_index = i;
  }
  if (ResourceId(to_organization, "organizations").empty()) {
    v.Add("to_organization", "must be an organization name, organizations/{id}");
  } else if (to_organization == current.lead_organization()) {
    v.Add("to_organization", "already leads the plan");
  } else if (to_index < 0) {
    v.Add("to_organization", "must take part in the plan; add it as a participant first");
  }
  size_t reason_length = 0;
  for (unsigned char c : reason) reason_length += (c & 0xC0) != 0x80;
  if (reason_length < 10 || reason_length > 1000) {
    v.Add("reason", "is required: 10 to 1000 characters saying why the lead moves");
  }
  if (!v.empty()) return v.ToStatus();

  Plan next = current;
  v1::Participant former_lead;
  former_lead.set_organization(current.lead_organization());
  former_lead.set_contact_user(caller.user);
  former_lead.set_role_description("Led the plan until it was handed over.");
  *next.mutable_participants(to_index) = std::move(former_lead);
  next.set_lead_organization(std::string(to_organization));
  next.clear_notes();
  next.add_notes()->set_text(absl::StrCat("The lead of the plan was handed over from ",
                                          current.lead_organization(), " to ", to_organization,
                                          ". Reason: ", reason));
  MergeNotes(&current, next, caller, now, new_id, v);
  if (!v.empty()) return v.ToStatus();
  return next;
}

}  // namespace samplan::caseplan
