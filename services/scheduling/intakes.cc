#include "services/scheduling/intakes.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/status.h"
#include "common/text.h"
#include "services/scheduling/meeting_rules.h"
#include "services/scheduling/visit_route.h"

namespace samplan::scheduling {
namespace {

constexpr int kMaxAttributes = 10;
constexpr int kMaxPriority = 100;

bool IsAttributeKey(absl::string_view key) {
  if (key.empty() || key.size() > 40) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_';
  });
}

}  // namespace

absl::StatusOr<v1::IntakeSession> IntakeSessionForCreate(
    const v1::CreateIntakeSessionRequest& request, const Principal& caller, absl::Time now) {
  FieldViolations v;
  CheckTextLength(v, "request_id", request.request_id(), 1, 128);
  v1::IntakeSession s = request.intake_session();
  CheckTextLength(v, "intake_session.title", s.title(), 1, 200);
  if (!s.has_start_time()) {
    v.Add("intake_session.start_time", "is required");
  } else if (TimeOf(s.start_time()) < now - kHowFarBack ||
             TimeOf(s.start_time()) > now + kHowFarAhead) {
    v.Add("intake_session.start_time", "must be within a year back and two years ahead");
  }
  if (s.capacity() < 0 || s.capacity() > kMaxIntakeCapacity) {
    v.Add("intake_session.capacity", "must be 1 to 200 (20 when 0)");
  }
  if (!v1::WaitlistPolicy_IsValid(s.waitlist_policy())) {
    v.Add("intake_session.waitlist_policy", "must be FIRST_COME or PRIORITY");
  }
  CheckTextLength(v, "intake_session.location.address", s.location().address(), 0, 300);
  if (s.location().has_coordinates()) {
    CheckCoordinates(s.location().coordinates(), "intake_session.location.coordinates", v);
  }
  CheckTextLength(v, "intake_session.location.video_link", s.location().video_link(), 0, 2000);
  if (!v.empty()) return v.ToStatus();
  s.clear_name();
  s.clear_enrolled_count();
  s.clear_waitlisted_count();
  s.clear_group_count();
  s.clear_create_time();
  s.clear_update_time();
  s.clear_etag();
  s.set_revision(1);
  s.set_owner_organization(caller.organization);
  s.set_municipality(caller.municipality);
  if (s.capacity() == 0) s.set_capacity(kDefaultIntakeCapacity);
  if (s.waitlist_policy() == v1::WAITLIST_POLICY_UNSPECIFIED) {
    s.set_waitlist_policy(v1::WAITLIST_POLICY_FIRST_COME);
  }
  return s;
}

absl::StatusOr<v1::IntakeEnrolment> EnrolmentForCreate(const v1::EnrolInIntakeRequest& request,
                                                       const Principal& caller) {
  FieldViolations v;
  if (!IsResourceName(request.parent(), "intakeSessions")) {
    v.Add("parent", "must be intakeSessions/{id}");
  }
  v1::IntakeEnrolment e = request.enrolment();
  if (ResourceId(e.person(), "persons").empty()) v.Add("enrolment.person", "must be persons/{id}");
  if (e.priority() < 0 || e.priority() > kMaxPriority) {
    v.Add("enrolment.priority", "must be 0 to 100");
  }
  CheckTextLength(v, "enrolment.priority_reason", e.priority_reason(), e.priority() > 0 ? 1 : 0,
                  500);
  if (e.attributes_size() > kMaxAttributes) {
    v.Add("enrolment.attributes", absl::StrCat("at most ", kMaxAttributes));
  } else {
    // The map's order is no order: name the attributes sorted.
    std::vector<std::string> keys;
    for (const auto& [key, value] : e.attributes()) keys.push_back(key);
    std::sort(keys.begin(), keys.end());
    for (const std::string& key : keys) {
      const std::string field = absl::StrCat("enrolment.attributes[", key, "]");
      if (!IsAttributeKey(key)) v.Add(field, "keys are 1 to 40 characters of [a-z0-9_]");
      CheckTextLength(v, field, e.attributes().at(key), 0, 100);
    }
  }
  if (!v.empty()) return v.ToStatus();
  e.clear_name();
  e.clear_status();
  e.clear_waitlist_position();
  e.clear_group();
  e.clear_withdraw_reason();
  e.clear_create_time();
  e.clear_update_time();
  e.clear_etag();
  e.set_revision(1);
  e.set_enrolling_organization(caller.organization);
  return e;
}

absl::Status CheckPriorityAllowed(const v1::IntakeSession& session,
                                  const v1::IntakeEnrolment& enrolment) {
  if (enrolment.priority() > 0 && session.waitlist_policy() != v1::WAITLIST_POLICY_PRIORITY) {
    return InvalidField("enrolment.priority",
                        "the session's waiting list goes by time of enrolment; leave it 0");
  }
  return absl::OkStatus();
}

bool ComesFirst(const v1::IntakeSession& session, const v1::IntakeEnrolment& a, int64_t a_arrival,
                const v1::IntakeEnrolment& b, int64_t b_arrival) {
  if (session.waitlist_policy() == v1::WAITLIST_POLICY_PRIORITY &&
      a.priority() != b.priority()) {
    return a.priority() > b.priority();
  }
  return a_arrival < b_arrival;
}

GuardedAccess DecideEnrolmentAccess(const Caller& caller, const v1::IntakeSession& session,
                                    const v1::IntakeEnrolment& enrolment, AccessAction action,
                                    const AccessFacts& facts) {
  AccessRequest request;
  request.action = action;
  request.resource = enrolment.name().empty() ? session.name() : enrolment.name();
  request.person = enrolment.person();
  request.municipality = session.municipality();
  request.data_category = kAttendanceCategory;
  request.purpose = kCoordinationPurpose;
  if (action == AccessAction::kCreate) {
    request.owner_organization = facts.person_owner;
  } else if (caller.principal.organization == enrolment.enrolling_organization()) {
    request.owner_organization = enrolment.enrolling_organization();
  } else {
    request.owner_organization = session.owner_organization();
  }
  return DecideAndAudit(caller, request, facts);
}

std::vector<std::vector<int>> SplitIntoGroups(const std::vector<std::string>& values,
                                              int max_group_size) {
  const int n = static_cast<int>(values.size());
  if (n == 0) return {};
  if (max_group_size < 1) max_group_size = kDefaultGroupSize;
  const int groups = (n + max_group_size - 1) / max_group_size;
  // Dealing the list, sorted by value (start-list order within a value), like
  // cards: each value is one run of the deal, so it reaches every group as
  // evenly as it can, and the groups' sizes differ by at most one.
  std::vector<int> by_value(n);
  std::iota(by_value.begin(), by_value.end(), 0);
  std::stable_sort(by_value.begin(), by_value.end(),
                   [&](int a, int b) { return values[a] < values[b]; });
  std::vector<std::vector<int>> out(groups);
  for (int k = 0; k < n; ++k) out[k % groups].push_back(by_value[k]);
  for (std::vector<int>& group : out) std::sort(group.begin(), group.end());
  return out;
}

}  // namespace samplan::scheduling
