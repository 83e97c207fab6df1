// samplan-demo: loads a small demo municipality (Lindesberg, 1885) into running
// identity and caseplan services through their public gRPC APIs, and writes a
// token per demo agency so that a person can call the API as that agency.
//
//   samplan-demo --key dev.pem --tokens-dir DIR [--address HOST:PORT]
//                [--identity-address HOST:PORT] [--placement-address HOST:PORT]
//                [--surveys-address HOST:PORT]
//                [--kid dev]
//                [--issuer samplan-dev] [--audience samplan] [--wait SECONDS]
//
// Re-running it changes nothing: the municipality and organizations answer
// ALREADY_EXISTS, persons, consents and plans are created with fixed request ids
// (idempotent per organization and request id), and each update is sent with a
// fixed x-request-id and skipped when a revision of the plan already carries that
// id. Every person and user in the demo is invented, names and personal identity
// numbers included.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tools/files.h"
#include "common/auth.h"
#include "common/channel.h"
#include "common/config.h"
#include "samplan/caseplan/v1/caseplan.grpc.pb.h"
#include "samplan/identity/v1/identity.grpc.pb.h"
#include "tools/demo_placement.h"
#include "tools/demo_surveys.h"
#include "tools/rpc_text.h"

namespace samplan::tools {
namespace {

namespace v1 = ::samplan::caseplan::v1;
namespace idv1 = ::samplan::identity::v1;
using Stub = v1::CasePlanService::Stub;
using IdentityStub = idv1::IdentityService::Stub;

constexpr int kUsageError = 2;
constexpr char kMunicipality[] = "1885";  // Lindesberg
constexpr char kService[] = "samplan.caseplan.v1.CasePlanService";
constexpr absl::Duration kTokenLifetime = absl::Hours(12);
constexpr auto kCallTimeout = std::chrono::seconds(15);

constexpr char kUsage[] =
    R"(Usage:
  samplan-demo --key PATH --tokens-dir DIR [--address HOST:PORT]
               [--identity-address HOST:PORT] [--placement-address HOST:PORT]
               [--surveys-address HOST:PORT]
               [--kid KID]
               [--issuer ISS] [--audience AUD] [--wait SECONDS]
      Loads the demo municipality Lindesberg (1885) into running identity and
      caseplan services: the municipality and its agencies, six invented persons
      with their consents, and their six plans, led by the social services or
      adult education, with partner agencies taking part, and a few updates so
      that revision history exists. Every person's consent names the agencies
      taking part in their plan, except that the person of plan 3 has not
      consented to Försäkringskassan seeing it. Re-running it changes nothing.
      --key         the development private key (PEM) the service trusts; tokens
                    are minted with it
      --tokens-dir  where to write a token per demo agency, DIR/<agency>.jwt,
                    valid 12 hours (created if missing)
      --address     the caseplan service; default $SAMPLAN_ADDRESS, else
                    127.0.0.1:50051
      --identity-address
                    the identity service; default $SAMPLAN_IDENTITY_ADDRESS, else
                    127.0.0.1:50052
      --placement-address
                    the placement service; default $SAMPLAN_PLACEMENT_ADDRESS. When
                    given, it also gets the demo's placement bank: about 200
                    employers with places of every kind, a contact log where some
                    have gone cold, and needs and agreements for demo persons who
                    consented to praktiksamordningen (tools/demo_placement.h)
      --surveys-address
                    the surveys service; default $SAMPLAN_SURVEYS_ADDRESS. When
                    given, it also gets outcome records of past placements and
                    prints the statistics a manager sees (tools/demo_surveys.h)
      --kid, --issuer, --audience
                    as for samplan-token; defaults dev, samplan-dev, samplan
      --wait        how long to wait for the service to accept connections,
                    default 60 seconds
      TLS comes from the environment, as for the services' other callers:
      SAMPLAN_TLS_CA_FILE (the services' CA), SAMPLAN_TLS_CERT_FILE and
      SAMPLAN_TLS_KEY_FILE (a client certificate, for services that require
      one), or SAMPLAN_PLAINTEXT=true for services that serve plaintext.
  samplan-demo --help
)";

// A demo agency: the organization a token speaks for, its user and role.
struct Agency {
  std::string_view short_name;
  std::string_view organization;
  std::string_view user;
  std::string_view role;
  std::string_view description;
  idv1::OrganizationKind kind = idv1::ORGANIZATION_KIND_OTHER;
};

constexpr Agency kAgencies[] = {
    {"soc", "organizations/lindesberg-soc", "users/demo-soc", "caseworker",
     "Socialtjänsten, försörjningsstöd", idv1::ORGANIZATION_KIND_SOCIAL_SERVICES},
    {"vux", "organizations/lindesberg-vux", "users/demo-vux", "caseworker",
     "Vuxenutbildningen och SFI", idv1::ORGANIZATION_KIND_ADULT_EDUCATION},
    {"af", "organizations/af-lindesberg", "users/demo-af", "partner_system",
     "Arbetsförmedlingen", idv1::ORGANIZATION_KIND_EMPLOYMENT_SERVICE},
    {"fk", "organizations/fk-lindesberg", "users/demo-fk", "partner_system",
     "Försäkringskassan", idv1::ORGANIZATION_KIND_SOCIAL_INSURANCE},
    {"region", "organizations/region-orebro-lan", "users/demo-region", "partner_system",
     "Region Örebro län, hälso- och sjukvården", idv1::ORGANIZATION_KIND_HEALTH_CARE},
    {"prakt", "organizations/lindesberg-prakt", "users/demo-prakt", "placement_coordinator",
     "Praktiksamordningen", idv1::ORGANIZATION_KIND_OTHER},
    // A manager at the social services: same organization as soc, but a manager
    // gets statistics only, never plans.
    {"mgr", "organizations/lindesberg-soc", "users/demo-mgr", "manager",
     "Enhetschef, socialtjänsten", idv1::ORGANIZATION_KIND_SOCIAL_SERVICES},
    // The municipality's administrator registers the municipality and agencies.
    {"admin", "organizations/lindesberg-soc", "users/demo-admin", "administrator",
     "Systemförvaltare", idv1::ORGANIZATION_KIND_SOCIAL_SERVICES},
    // A supervisor reviews the audit log (VerifyAuditLog, ReviewAccess).
    {"tillsyn", "organizations/lindesberg-soc", "users/demo-tillsyn", "supervisor",
     "Dataskyddsombud", idv1::ORGANIZATION_KIND_SOCIAL_SERVICES},
};

// The invented persons of the demo plans: plan N is the plan of person N.
struct DemoPerson {
  std::string_view identity_number;  // invented, with a valid check digit
  std::string_view given_name;
  std::string_view family_name;
};

constexpr DemoPerson kPersons[] = {
    {"19850312-2387", "Amira", "Testsson"},   {"19920704-1162", "Johan", "Demosson"},
    {"19780119-3454", "Leyla", "Exempelsdotter"}, {"20010923-4674", "Ali", "Provsson"},
    {"19670228-5823", "Kerstin", "Påhittad"}, {"19990615-6246", "Samir", "Låtsasson"},
};

// The participant of a plan that the person has not consented to: plan 3's
// person has not let Försäkringskassan see the plan.
constexpr int kPlanWithoutConsent = 3;
constexpr std::string_view kAgencyWithoutConsent = "organizations/fk-lindesberg";

const Agency& AgencyNamed(std::string_view short_name) {
  for (const Agency& agency : kAgencies) {
    if (agency.short_name == short_name) return agency;
  }
  std::cerr << "samplan-demo: no demo agency " << short_name << "\n";
  std::abort();  // a mistake in the demo data below
}

// ---------------------------------------------------------------------------
// The demo plans. Activities name the goal they serve as "#<goal index>"; the
// loader gives the goals ids ("goal-<index>") at create, as any caller may, so the
// links are part of the plan from its first version.

// One update of a plan, made by `agency` with x-request-id
// "demo-plan-<n>-<name>". `change` edits the plan as read and returns false when
// there is nothing to change.
struct Step {
  std::string name;
  std::string agency;
  std::vector<std::string> mask;
  std::function<bool(v1::Plan&)> change;
};

struct DemoPlan {
  int number;
  std::string lead;
  const char* plan_json;
  std::vector<Step> steps;
};

std::function<bool(v1::Plan&)> SetStatus(v1::PlanStatus status) {
  return [status](v1::Plan& plan) {
    if (plan.status() == status) return false;
    plan.set_status(status);
    return true;
  };
}

std::function<bool(v1::Plan&)> SetActivityStatus(v1::ActivityKind kind,
                                                 v1::ProgressStatus status) {
  return [kind, status](v1::Plan& plan) {
    for (v1::Activity& activity : *plan.mutable_activities()) {
      if (activity.kind() != kind) continue;
      if (activity.status() == status) return false;
      activity.set_status(status);
      return true;
    }
    return false;
  };
}

std::function<bool(v1::Plan&)> AddNote(std::string text) {
  return [text = std::move(text)](v1::Plan& plan) {
    for (const v1::Note& note : plan.notes()) {
      if (note.text() == text) return false;
    }
    plan.add_notes()->set_text(text);  // no id: the server adds it with us as author
    return true;
  };
}

std::function<bool(v1::Plan&)> AllGoalsDone() {
  return [](v1::Plan& plan) {
    bool changed = false;
    for (v1::Goal& goal : *plan.mutable_goals()) {
      for (v1::SubGoal& sub : *goal.mutable_sub_goals()) {
        changed |= sub.status() != v1::PROGRESS_STATUS_DONE;
        sub.set_status(v1::PROGRESS_STATUS_DONE);
      }
      changed |= goal.status() != v1::PROGRESS_STATUS_DONE;
      goal.set_status(v1::PROGRESS_STATUS_DONE);
    }
    return changed;
  };
}

std::function<bool(v1::Plan&)> All(std::vector<std::function<bool(v1::Plan&)>> changes) {
  return [changes = std::move(changes)](v1::Plan& plan) {
    bool changed = false;
    for (const auto& change : changes) changed |= change(plan);
    return changed;
  };
}

const char kPlan1[] = R"json({
  "person": "persons/demo-1",
  "status": "PLAN_STATUS_DRAFT",
  "overallGoal": "OVERALL_GOAL_WORK",
  "overallGoalDescription": "Egen försörjning genom arbete inom vård och omsorg",
  "participants": [
    {"organization": "organizations/lindesberg-vux", "contactUser": "users/demo-vux",
     "roleDescription": "Vuxenutbildningen: SFI och studie- och yrkesvägledning"},
    {"organization": "organizations/af-lindesberg", "contactUser": "users/demo-af",
     "roleDescription": "Arbetsförmedlingen: matchning och arbetsmarknadsutbildning"},
    {"organization": "organizations/lindesberg-prakt", "contactUser": "users/demo-prakt",
     "roleDescription": "Praktiksamordningen: praktikplats inom äldreomsorgen och uppföljning med handledaren"}
  ],
  "goals": [
    {"description": "Klara SFI kurs C", "targetDate": {"year": 2026, "month": 12, "day": 18},
     "status": "PROGRESS_STATUS_IN_PROGRESS",
     "subGoals": [
       {"description": "Klara SFI kurs B", "targetDate": {"year": 2026, "month": 6, "day": 12},
        "status": "PROGRESS_STATUS_IN_PROGRESS"},
       {"description": "Godkänt nationellt prov i SFI kurs C",
        "targetDate": {"year": 2026, "month": 12, "day": 11}, "status": "PROGRESS_STATUS_PLANNED"}
     ]},
    {"description": "Praktik inom äldreomsorgen", "targetDate": {"year": 2027, "month": 3, "day": 31},
     "status": "PROGRESS_STATUS_PLANNED",
     "subGoals": [
       {"description": "Praktikplats matchad och trepartsöverenskommelse signerad",
        "targetDate": {"year": 2027, "month": 1, "day": 15}, "status": "PROGRESS_STATUS_PLANNED"},
       {"description": "Uppföljning med handledaren varje månad under praktiken",
        "status": "PROGRESS_STATUS_PLANNED"}
     ]}
  ],
  "activities": [
    {"kind": "ACTIVITY_KIND_STUDY_GUIDANCE",
     "description": "Studie- och yrkesvägledning: vägen till undersköterskeutbildning",
     "responsibleOrganization": "organizations/lindesberg-vux", "responsibleUser": "users/demo-vux",
     "startDate": {"year": 2026, "month": 2, "day": 2}, "endDate": {"year": 2026, "month": 2, "day": 27},
     "status": "PROGRESS_STATUS_IN_PROGRESS", "goalId": "#0"},
    {"kind": "ACTIVITY_KIND_SFI", "description": "SFI kurs B och C, dagtid på Lärcentrum",
     "responsibleOrganization": "organizations/lindesberg-vux",
     "startDate": {"year": 2026, "month": 1, "day": 12}, "endDate": {"year": 2026, "month": 12, "day": 18},
     "status": "PROGRESS_STATUS_IN_PROGRESS", "goalId": "#0"},
    {"kind": "ACTIVITY_KIND_WORK_PRACTICE",
     "description": "Språkpraktik på ett äldreboende, 50 procent, med handledare",
     "responsibleOrganization": "organizations/lindesberg-prakt", "responsibleUser": "users/demo-prakt",
     "startDate": {"year": 2027, "month": 1, "day": 18}, "endDate": {"year": 2027, "month": 3, "day": 31},
     "status": "PROGRESS_STATUS_PLANNED", "goalId": "#1"},
    {"kind": "ACTIVITY_KIND_JOB_SEARCH",
     "description": "Matchning mot arbetsmarknadsutbildning inom vård och omsorg",
     "responsibleOrganization": "organizations/af-lindesberg",
     "startDate": {"year": 2026, "month": 9, "day": 1}, "endDate": {"year": 2027, "month": 6, "day": 30},
     "status": "PROGRESS_STATUS_PLANNED", "goalId": "#1"},
    {"kind": "ACTIVITY_KIND_SOCIAL_SUPPORT",
     "description": "Försörjningsstöd och stöd med budget under studietiden",
     "responsibleOrganization": "organizations/lindesberg-soc", "responsibleUser": "users/demo-soc",
     "startDate": {"year": 2026, "month": 1, "day": 1}, "endDate": {"year": 2026, "month": 12, "day": 31},
     "status": "PROGRESS_STATUS_IN_PROGRESS"}
  ],
  "nextReviewDate": {"year": 2027, "month": 1, "day": 20},
  "notes": [
    {"text": "Uppstartsmöte med alla parter. Personen vill arbeta inom äldreomsorgen: först SFI, sedan praktik."}
  ]
})json";

const char kPlan2[] = R"json({
  "person": "persons/demo-2",
  "status": "PLAN_STATUS_ACTIVE",
  "overallGoal": "OVERALL_GOAL_STUDIES",
  "overallGoalDescription": "Behörighet till och studier på barnskötarutbildningen",
  "participants": [
    {"organization": "organizations/lindesberg-soc", "contactUser": "users/demo-soc",
     "roleDescription": "Socialtjänsten: försörjningsstöd under studietiden"},
    {"organization": "organizations/af-lindesberg", "contactUser": "users/demo-af",
     "roleDescription": "Arbetsförmedlingen: feriearbete och kontakt med arbetsgivare inom förskolan"}
  ],
  "goals": [
    {"description": "Klara grundläggande matematik och svenska som andraspråk",
     "targetDate": {"year": 2026, "month": 12, "day": 18}, "status": "PROGRESS_STATUS_IN_PROGRESS",
     "subGoals": [
       {"description": "Klara matematik delkurs 1", "targetDate": {"year": 2026, "month": 6, "day": 5},
        "status": "PROGRESS_STATUS_IN_PROGRESS"},
       {"description": "Klara svenska som andraspråk delkurs 2",
        "targetDate": {"year": 2026, "month": 12, "day": 18}, "status": "PROGRESS_STATUS_PLANNED"}
     ]},
    {"description": "Påbörja barnskötarutbildningen", "targetDate": {"year": 2027, "month": 8, "day": 16},
     "status": "PROGRESS_STATUS_PLANNED",
     "subGoals": [
       {"description": "Ansökan till barnskötarutbildningen inskickad",
        "targetDate": {"year": 2027, "month": 4, "day": 15}, "status": "PROGRESS_STATUS_PLANNED"}
     ]}
  ],
  "activities": [
    {"kind": "ACTIVITY_KIND_ADULT_EDUCATION",
     "description": "Grundläggande matematik och svenska som andraspråk på komvux",
     "responsibleOrganization": "organizations/lindesberg-vux", "responsibleUser": "users/demo-vux",
     "startDate": {"year": 2026, "month": 1, "day": 12}, "endDate": {"year": 2026, "month": 12, "day": 18},
     "status": "PROGRESS_STATUS_IN_PROGRESS", "goalId": "#0"},
    {"kind": "ACTIVITY_KIND_STUDY_GUIDANCE",
     "description": "Vägledning inför ansökan till barnskötarutbildningen",
     "responsibleOrganization": "organizations/lindesberg-vux",
     "startDate": {"year": 2027, "month": 2, "day": 1}, "endDate": {"year": 2027, "month": 4, "day": 15},
     "status": "PROGRESS_STATUS_PLANNED", "goalId": "#1"},
    {"kind": "ACTIVITY_KIND_SOCIAL_SUPPORT",
     "description": "Försörjningsstöd under studietiden och stöd att söka studiemedel",
     "responsibleOrganization": "organizations/lindesberg-soc",
     "startDate": {"year": 2026, "month": 1, "day": 1}, "endDate": {"year": 2026, "month": 12, "day": 31},
     "status": "PROGRESS_STATUS_IN_PROGRESS"},
    {"kind": "ACTIVITY_KIND_JOB_SEARCH",
     "description": "Feriearbete inom förskolan under sommaruppehållet",
     "responsibleOrganization": "organizations/af-lindesberg",
     "startDate": {"year": 2026, "month": 6, "day": 8}, "endDate": {"year": 2026, "month": 8, "day": 14},
     "status": "PROGRESS_STATUS_PLANNED"}
  ],
  "nextReviewDate": {"year": 2027, "month": 2, "day": 10},
  "notes": [
    {"text": "Planen upprättad tillsammans med personen. Studieplanen för vårterminen är klar."}
  ]
})json";

const char kPlan3[] = R"json({
  "person": "persons/demo-3",
  "status": "PLAN_STATUS_ACTIVE",
  "overallGoal": "OVERALL_GOAL_WORK",
  "overallGoalDescription": "Återgång i arbete i den takt hälsan tillåter",
  "participants": [
    {"organization": "organizations/region-orebro-lan", "contactUser": "users/demo-region",
     "roleDescription": "Region Örebro län: arbetsförmågebedömning och vårdkontakt via vårdcentralen"},
    {"organization": "organizations/fk-lindesberg", "contactUser": "users/demo-fk",
     "roleDescription": "Försäkringskassan: sjukpenning och samordning av rehabiliteringen"},
    {"organization": "organizations/af-lindesberg", "contactUser": "users/demo-af",
     "roleDescription": "Arbetsförmedlingen: arbetsträning med stöd när hälsan tillåter"}
  ],
  "goals": [
    {"description": "Klarlägga arbetsförmågan", "targetDate": {"year": 2026, "month": 5, "day": 29},
     "status": "PROGRESS_STATUS_IN_PROGRESS",
     "subGoals": [
       {"description": "Läkarbesök och arbetsförmågebedömning genomförda",
        "targetDate": {"year": 2026, "month": 4, "day": 30}, "status": "PROGRESS_STATUS_IN_PROGRESS"},
       {"description": "Gemensamt avstämningsmöte med Försäkringskassan",
        "targetDate": {"year": 2026, "month": 5, "day": 29}, "status": "PROGRESS_STATUS_PLANNED"}
     ]},
    {"description": "Arbetsträning 25 procent", "targetDate": {"year": 2026, "month": 12, "day": 18},
     "status": "PROGRESS_STATUS_PLANNED",
     "subGoals": [
       {"description": "Arbetsträningen påbörjad", "targetDate": {"year": 2026, "month": 9, "day": 1},
        "status": "PROGRESS_STATUS_PLANNED"},
       {"description": "Utökning till 50 procent prövad",
        "targetDate": {"year": 2026, "month": 12, "day": 18}, "status": "PROGRESS_STATUS_PLANNED"}
     ]}
  ],
  "activities": [
    {"kind": "ACTIVITY_KIND_HEALTH_ASSESSMENT",
     "description": "Arbetsförmågebedömning på vårdcentralen",
     "responsibleOrganization": "organizations/region-orebro-lan", "responsibleUser": "users/demo-region",
     "startDate": {"year": 2026, "month": 3, "day": 2}, "endDate": {"year": 2026, "month": 4, "day": 30},
     "status": "PROGRESS_STATUS_IN_PROGRESS", "goalId": "#0"},
    {"kind": "ACTIVITY_KIND_REHABILITATION",
     "description": "Samordning av rehabiliteringen och avstämningsmöte",
     "responsibleOrganization": "organizations/fk-lindesberg",
     "startDate": {"year": 2026, "month": 3, "day": 2}, "endDate": {"year": 2026, "month": 12, "day": 18},
     "status": "PROGRESS_STATUS_IN_PROGRESS", "goalId": "#0"},
    {"kind": "ACTIVITY_KIND_WORK_PRACTICE",
     "description": "Arbetsträning med stöd, 25 procent",
     "responsibleOrganization": "organizations/af-lindesberg",
     "startDate": {"year": 2026, "month": 9, "day": 1}, "endDate": {"year": 2026, "month": 12, "day": 18},
     "status": "PROGRESS_STATUS_PLANNED", "goalId": "#1"},
    {"kind": "ACTIVITY_KIND_SOCIAL_SUPPORT",
     "description": "Stöd i kontakterna med myndigheter och hjälp med ekonomin",
     "responsibleOrganization": "organizations/lindesberg-soc", "responsibleUser": "users/demo-soc",
     "startDate": {"year": 2026, "month": 3, "day": 2}, "endDate": {"year": 2026, "month": 12, "day": 31},
     "status": "PROGRESS_STATUS_IN_PROGRESS"}
  ],
  "nextReviewDate": {"year": 2026, "month": 12, "day": 9},
  "notes": [
    {"text": "Personen har samtyckt till att Region Örebro län och Försäkringskassan deltar i planen."}
  ]
})json";

const char kPlan4[] = R"json({
  "person": "persons/demo-4",
  "status": "PLAN_STATUS_ACTIVE",
  "overallGoal": "OVERALL_GOAL_WORK",
  "overallGoalDescription": "Anställning inom lager och logistik",
  "participants": [
    {"organization": "organizations/lindesberg-prakt", "contactUser": "users/demo-prakt",
     "roleDescription": "Praktiksamordningen: matchning till praktikplats, trepartsöverenskommelse och månatlig uppföljning"},
    {"organization": "organizations/af-lindesberg", "contactUser": "users/demo-af",
     "roleDescription": "Arbetsförmedlingen: Supported Employment och anställning med lönestöd"}
  ],
  "goals": [
    {"description": "Praktik inom lager och logistik", "targetDate": {"year": 2026, "month": 10, "day": 30},
     "status": "PROGRESS_STATUS_IN_PROGRESS",
     "subGoals": [
       {"description": "Trepartsöverenskommelse signerad", "targetDate": {"year": 2026, "month": 3, "day": 16},
        "status": "PROGRESS_STATUS_DONE"},
       {"description": "Truckkort A och B", "targetDate": {"year": 2026, "month": 6, "day": 30},
        "status": "PROGRESS_STATUS_PLANNED"}
     ]},
    {"description": "Anställning med lönestöd", "targetDate": {"year": 2027, "month": 3, "day": 31},
     "status": "PROGRESS_STATUS_PLANNED"}
  ],
  "activities": [
    {"kind": "ACTIVITY_KIND_WORK_PRACTICE",
     "description": "Praktik på ett lager, 75 procent, med handledare",
     "responsibleOrganization": "organizations/lindesberg-prakt", "responsibleUser": "users/demo-prakt",
     "startDate": {"year": 2026, "month": 3, "day": 16}, "endDate": {"year": 2026, "month": 10, "day": 30},
     "status": "PROGRESS_STATUS_IN_PROGRESS", "goalId": "#0"},
    {"kind": "ACTIVITY_KIND_SUPPORTED_EMPLOYMENT",
     "description": "Supported Employment: stöd på arbetsplatsen och till arbetsgivaren",
     "responsibleOrganization": "organizations/af-lindesberg",
     "startDate": {"year": 2026, "month": 3, "day": 16}, "endDate": {"year": 2026, "month": 12, "day": 18},
     "status": "PROGRESS_STATUS_IN_PROGRESS", "goalId": "#1"},
    {"kind": "ACTIVITY_KIND_SUBSIDIZED_EMPLOYMENT",
     "description": "Anställning med lönestöd efter praktiken",
     "responsibleOrganization": "organizations/af-lindesberg",
     "startDate": {"year": 2026, "month": 11, "day": 2}, "endDate": {"year": 2027, "month": 10, "day": 29},
     "status": "PROGRESS_STATUS_PLANNED", "goalId": "#1"}
  ],
  "nextReviewDate": {"year": 2026, "month": 12, "day": 16},
  "notes": [
    {"text": "Personen har körkort och vill arbeta med lager. Praktiksamordningen söker arbetsgivare i praktikbanken."}
  ]
})json";

const char kPlan5[] = R"json({
  "person": "persons/demo-5",
  "status": "PLAN_STATUS_DRAFT",
  "overallGoal": "OVERALL_GOAL_STUDIES",
  "overallGoalDescription": "SFI med yrkessvenska och därefter yrkesutbildning till kock",
  "participants": [
    {"organization": "organizations/lindesberg-prakt", "contactUser": "users/demo-prakt",
     "roleDescription": "Praktiksamordningen: språkpraktik i storkök"},
    {"organization": "organizations/lindesberg-soc",
     "roleDescription": "Socialtjänsten: stöd att hitta en egen bostad"}
  ],
  "goals": [
    {"description": "Klara SFI kurs D", "targetDate": {"year": 2027, "month": 6, "day": 11},
     "status": "PROGRESS_STATUS_PLANNED",
     "subGoals": [
       {"description": "Klara SFI kurs C", "targetDate": {"year": 2026, "month": 12, "day": 18},
        "status": "PROGRESS_STATUS_IN_PROGRESS"}
     ]},
    {"description": "Yrkessvenska genom praktik i storkök", "targetDate": {"year": 2027, "month": 5, "day": 28},
     "status": "PROGRESS_STATUS_PLANNED",
     "subGoals": [
       {"description": "Praktikplats i storkök matchad", "targetDate": {"year": 2027, "month": 1, "day": 29},
        "status": "PROGRESS_STATUS_PLANNED"}
     ]}
  ],
  "activities": [
    {"kind": "ACTIVITY_KIND_SFI", "description": "SFI kurs C och D med yrkessvenska",
     "responsibleOrganization": "organizations/lindesberg-vux", "responsibleUser": "users/demo-vux",
     "startDate": {"year": 2026, "month": 8, "day": 17}, "endDate": {"year": 2027, "month": 6, "day": 11},
     "status": "PROGRESS_STATUS_IN_PROGRESS", "goalId": "#0"},
    {"kind": "ACTIVITY_KIND_WORK_PRACTICE",
     "description": "Språkpraktik i ett skolkök, två dagar i veckan",
     "responsibleOrganization": "organizations/lindesberg-prakt",
     "startDate": {"year": 2027, "month": 2, "day": 1}, "endDate": {"year": 2027, "month": 5, "day": 28},
     "status": "PROGRESS_STATUS_PLANNED", "goalId": "#1"},
    {"kind": "ACTIVITY_KIND_SOCIAL_SUPPORT", "description": "Stöd att hitta en egen bostad",
     "responsibleOrganization": "organizations/lindesberg-soc",
     "startDate": {"year": 2026, "month": 8, "day": 17}, "endDate": {"year": 2027, "month": 6, "day": 30},
     "status": "PROGRESS_STATUS_PLANNED"}
  ],
  "nextReviewDate": {"year": 2027, "month": 1, "day": 13}
})json";

const char kPlan6[] = R"json({
  "person": "persons/demo-6",
  "status": "PLAN_STATUS_ACTIVE",
  "overallGoal": "OVERALL_GOAL_WORK",
  "overallGoalDescription": "Anställning som fastighetsskötare",
  "participants": [
    {"organization": "organizations/af-lindesberg", "contactUser": "users/demo-af",
     "roleDescription": "Arbetsförmedlingen: arbetsmarknadsutbildning och nystartsjobb"},
    {"organization": "organizations/fk-lindesberg", "contactUser": "users/demo-fk",
     "roleDescription": "Försäkringskassan: aktivitetsstöd under utbildningen"}
  ],
  "goals": [
    {"description": "Anställning inom fastighetsskötsel", "targetDate": {"year": 2026, "month": 9, "day": 30},
     "status": "PROGRESS_STATUS_IN_PROGRESS",
     "subGoals": [
       {"description": "Arbetsmarknadsutbildning till fastighetsskötare klar",
        "targetDate": {"year": 2026, "month": 5, "day": 29}, "status": "PROGRESS_STATUS_DONE"},
       {"description": "Anställning med nystartsjobb", "targetDate": {"year": 2026, "month": 9, "day": 30},
        "status": "PROGRESS_STATUS_IN_PROGRESS"}
     ]}
  ],
  "activities": [
    {"kind": "ACTIVITY_KIND_JOB_SEARCH",
     "description": "Arbetsmarknadsutbildning till fastighetsskötare",
     "responsibleOrganization": "organizations/af-lindesberg",
     "startDate": {"year": 2026, "month": 1, "day": 12}, "endDate": {"year": 2026, "month": 5, "day": 29},
     "status": "PROGRESS_STATUS_DONE", "goalId": "#0"},
    {"kind": "ACTIVITY_KIND_OTHER", "description": "Aktivitetsstöd under utbildningen",
     "responsibleOrganization": "organizations/fk-lindesberg",
     "startDate": {"year": 2026, "month": 1, "day": 12}, "endDate": {"year": 2026, "month": 5, "day": 29},
     "status": "PROGRESS_STATUS_DONE"},
    {"kind": "ACTIVITY_KIND_SUBSIDIZED_EMPLOYMENT",
     "description": "Nystartsjobb hos ett bostadsbolag",
     "responsibleOrganization": "organizations/af-lindesberg",
     "startDate": {"year": 2026, "month": 8, "day": 3}, "endDate": {"year": 2027, "month": 7, "day": 30},
     "status": "PROGRESS_STATUS_PLANNED", "goalId": "#0"},
    {"kind": "ACTIVITY_KIND_SOCIAL_SUPPORT", "description": "Försörjningsstöd fram till första lönen",
     "responsibleOrganization": "organizations/lindesberg-soc", "responsibleUser": "users/demo-soc",
     "startDate": {"year": 2026, "month": 1, "day": 1}, "endDate": {"year": 2026, "month": 8, "day": 31},
     "status": "PROGRESS_STATUS_IN_PROGRESS"}
  ],
  "nextReviewDate": {"year": 2026, "month": 9, "day": 15}
})json";

std::vector<DemoPlan> DemoPlans() {
  using namespace v1;
  return {
      {1, "soc", kPlan1,
       {{"activate", "soc", {"status"}, SetStatus(PLAN_STATUS_ACTIVE)},
        {"guidance-done", "vux", {"activities"},
         SetActivityStatus(ACTIVITY_KIND_STUDY_GUIDANCE, PROGRESS_STATUS_DONE)},
        {"af-note", "af", {"notes"},
         AddNote("Arbetsförmedlingen: inskrivningen är klar. Arbetsmarknadsutbildning inom vård "
                 "och omsorg planeras efter SFI kurs C.")}}},
      {2, "vux", kPlan2,
       {{"soc-note", "soc", {"notes"},
         AddNote("Socialtjänsten: försörjningsstöd beviljat för vårterminen. Nästa avstämning vid "
                 "uppföljningsmötet.")}}},
      {3, "soc", kPlan3,
       {{"assessment-done", "region", {"activities"},
         SetActivityStatus(ACTIVITY_KIND_HEALTH_ASSESSMENT, PROGRESS_STATUS_DONE)},
        {"on-hold", "soc", {"status", "notes"},
         All({SetStatus(PLAN_STATUS_ON_HOLD),
              AddNote("Planen pausas under en period av heltidssjukskrivning. Ny avstämning i "
                      "december.")})}}},
      {4, "soc", kPlan4,
       {{"prakt-note", "prakt", {"notes"},
         AddNote("Praktiksamordningen: första månadsuppföljningen med handledaren är gjord. "
                 "Praktiken fungerar bra.")}}},
      {5, "vux", kPlan5, {}},
      {6, "soc", kPlan6,
       {{"job-started", "af", {"activities"},
         SetActivityStatus(ACTIVITY_KIND_SUBSIDIZED_EMPLOYMENT, PROGRESS_STATUS_IN_PROGRESS)},
        {"completed", "soc", {"status", "goals", "notes"},
         All({SetStatus(PLAN_STATUS_COMPLETED), AllGoalsDone(),
              AddNote("Planen avslutas: personen har ett nystartsjobb och egen försörjning.")})}}},
  };
}

// ---------------------------------------------------------------------------

std::string RequestIdOf(int plan_number, std::string_view step = {}) {
  std::string id = "demo-plan-" + std::to_string(plan_number);
  if (!step.empty()) id += "-" + std::string(step);
  return id;
}

// Quotes `text` for a POSIX shell when it needs it.
std::string ShellQuote(std::string_view text) {
  bool safe = !text.empty();
  for (char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("_-./:=@%+,").find(c) != std::string_view::npos;
    safe &= ok;
  }
  if (safe) return std::string(text);
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}


// samplan-call beside this binary when there is one, else from PATH.
std::string CallCommand() {
  std::error_code error;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) {
    std::filesystem::path call = self.parent_path() / "samplan-call";
    if (std::filesystem::exists(call, error)) return ShellQuote(call.string());
  }
  return "samplan-call";
}

class DemoLoader {
 public:
  DemoLoader(std::shared_ptr<grpc::Channel> channel, std::shared_ptr<grpc::Channel> identity,
             std::map<std::string, std::string> tokens)
      : stub_(v1::CasePlanService::NewStub(channel)),
        identity_(idv1::IdentityService::NewStub(identity)),
        tokens_(std::move(tokens)) {}

  // Calls `method` of the caseplan or identity service as `agency`; a non-empty
  // `request_id` goes out as x-request-id.
  template <typename S, typename Request, typename Response>
  grpc::Status Call(std::string_view agency,
                    grpc::Status (S::*method)(grpc::ClientContext*, const Request&, Response*),
                    const Request& request, Response* response,
                    const std::string& request_id = {}) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    context.set_wait_for_ready(true);
    context.AddMetadata("authorization", "Bearer " + tokens_.at(std::string(agency)));
    if (!request_id.empty()) context.AddMetadata("x-request-id", request_id);
    S* stub = nullptr;
    if constexpr (std::is_same_v<S, Stub>) {
      stub = stub_.get();
    } else {
      stub = identity_.get();
    }
    return (stub->*method)(&context, request, response);
  }

  // Registers the municipality and its agencies; ALREADY_EXISTS from an earlier
  // run is fine.
  bool LoadDirectory() {
    idv1::CreateMunicipalityRequest municipality;
    municipality.mutable_municipality()->set_code(kMunicipality);
    municipality.mutable_municipality()->set_display_name("Lindesberg");
    idv1::Municipality created_municipality;
    if (!CheckCreated("register the municipality",
                      Call("admin", &IdentityStub::CreateMunicipality, municipality,
                           &created_municipality))) {
      return false;
    }
    std::set<std::string_view> registered;
    for (const Agency& agency : kAgencies) {
      if (!registered.insert(agency.organization).second) continue;
      idv1::CreateOrganizationRequest request;
      request.set_organization_id(std::string(agency.organization.substr(14)));
      request.mutable_organization()->set_display_name(std::string(agency.description));
      request.mutable_organization()->set_kind(agency.kind);
      request.mutable_organization()->add_municipalities(kMunicipality);
      idv1::Organization organization;
      if (!CheckCreated("register " + std::string(agency.organization),
                        Call("admin", &IdentityStub::CreateOrganization, request,
                             &organization))) {
        return false;
      }
    }
    return true;
  }

  // Registers the person of plan `number` as `lead` and records the person's
  // consent that the plan's participants see it; returns the person's name, or
  // empty after printing why not.
  std::string LoadPerson(int number, const std::string& lead, const v1::Plan& plan) {
    const DemoPerson& demo = kPersons[number - 1];
    idv1::CreatePersonRequest create;
    create.set_request_id(absl::StrCat("demo-person-", number));
    create.mutable_person()->set_identity_number(std::string(demo.identity_number));
    create.mutable_person()->set_given_name(std::string(demo.given_name));
    create.mutable_person()->set_family_name(std::string(demo.family_name));
    create.mutable_person()->set_address("Påhittade vägen 1, 711 30 Lindesberg");
    idv1::Person person;
    if (!Check(absl::StrCat("register the person of plan ", number),
               Call(lead, &IdentityStub::CreatePerson, create, &person))) {
      return "";
    }
    idv1::CreateConsentRequest consent;
    consent.set_request_id(absl::StrCat("demo-consent-", number));
    idv1::Consent* c = consent.mutable_consent();
    c->set_person(person.name());
    for (const v1::Participant& participant : plan.participants()) {
      if (number == kPlanWithoutConsent && participant.organization() == kAgencyWithoutConsent) {
        continue;
      }
      c->add_grantee_organizations(participant.organization());
    }
    c->set_purpose("coordination");
    c->add_data_categories("plan");
    *c->mutable_valid_until() = google::protobuf::util::TimeUtil::SecondsToTimestamp(
        absl::ToUnixSeconds(absl::Now() + absl::Hours(24 * 365)));
    c->set_given_by(idv1::CONSENT_GIVER_PERSON);
    c->set_method(idv1::CONSENT_METHOD_WRITTEN);
    idv1::Consent recorded;
    if (!Check(absl::StrCat("record the consent of the person of plan ", number),
               Call(lead, &IdentityStub::CreateConsent, consent, &recorded))) {
      return "";
    }
    return person.name();
  }

  // Creates the plan (or finds it from an earlier run) and makes its updates.
  bool Load(const DemoPlan& demo) {
    v1::CreatePlanRequest create;
    if (auto parsed = google::protobuf::util::JsonStringToMessage(demo.plan_json,
                                                                  create.mutable_plan());
        !parsed.ok()) {
      std::cerr << "samplan-demo: demo plan " << demo.number
                << " is not valid JSON: " << parsed.message() << "\n";
      return false;
    }
    // A caller may choose the ids of new goals, so "#<n>" becomes goal n's id.
    for (int g = 0; g < create.plan().goals_size(); ++g) {
      create.mutable_plan()->mutable_goals(g)->set_id(absl::StrCat("goal-", g));
    }
    for (int a = 0; a < create.plan().activities_size(); ++a) {
      v1::Activity* activity = create.mutable_plan()->mutable_activities(a);
      if (activity->goal_id().starts_with('#')) {
        activity->set_goal_id(absl::StrCat("goal-", activity->goal_id().substr(1)));
      }
    }
    const std::string person = LoadPerson(demo.number, demo.lead, create.plan());
    if (person.empty()) return false;
    persons_.push_back({person, demo.lead});
    create.mutable_plan()->set_person(person);
    create.set_request_id(RequestIdOf(demo.number));
    v1::Plan plan;
    grpc::Status status =
        Call(demo.lead, &Stub::CreatePlan, create, &plan, RequestIdOf(demo.number));
    if (!Check("create the plan of persons/demo-" + std::to_string(demo.number), status)) {
      return false;
    }

    const std::vector<Step>& steps = demo.steps;

    std::set<std::string> done;
    if (!RevisionRequestIds(demo.lead, plan.name(), &done)) return false;
    for (const Step& step : steps) {
      const std::string request_id = RequestIdOf(demo.number, step.name);
      if (done.contains(request_id)) {
        ++updates_skipped_;
        continue;
      }
      if (!Update(plan.name(), step, request_id)) return false;
    }

    v1::GetPlanRequest get;
    get.set_name(plan.name());
    status = Call(demo.lead, &Stub::GetPlan, get, &plan);
    if (!Check("read back " + plan.name(), status)) return false;
    loaded_.push_back({demo, plan});
    return true;
  }

  // The persons of the plans loaded, with the agency that registered them.
  const std::vector<DemoPersonRef>& persons() const { return persons_; }

  // Prints what was loaded, what each agency sees, and commands to try.
  void Summarize(const std::string& address, const std::string& identity_address,
                 const std::string& tokens_dir) {
    std::cout << "Demo municipality Lindesberg (" << kMunicipality << ") in the caseplan service at "
              << address << ":\n"
              << "  " << loaded_.size() << " plans; " << updates_applied_ << " updates applied, "
              << updates_skipped_ << " already made by an earlier run\n";
    for (const auto& [demo, plan] : loaded_) {
      std::cout << "  " << plan.person() << "  " << plan.name() << "  led by " << demo.lead
                << ", " << v1::PlanStatus_Name(plan.status()) << ", version " << plan.version()
                << "\n";
    }

    std::cout << "Plans each agency sees (ListPlans):";
    for (const Agency& agency : kAgencies) {
      std::cout << " " << agency.short_name << " " << VisibleCount(agency.short_name);
    }
    std::cout << "\n";

    if (loaded_.size() < kPlanWithoutConsent) return;
    // Plan 3: af and fk both take part, but only af has the person's consent.
    const v1::Plan& example = loaded_[kPlanWithoutConsent - 1].second;
    std::cout << "Who may read " << example.name() << " (" << example.person()
              << "; af and fk take part, the person consented to af only):\n";
    for (std::string_view agency : {"af", "fk", "mgr"}) {
      v1::GetPlanRequest get;
      get.set_name(example.name());
      v1::Plan ignored;
      grpc::Status status = Call(agency, &Stub::GetPlan, get, &ignored);
      std::cout << "  " << agency << " (" << AgencyNamed(agency).role << "): "
                << (status.ok() ? "OK" : StatusCodeName(status.error_code())) << "\n";
    }

    const std::string call = CallCommand();
    const std::string get_json = "'{\"name\": \"" + example.name() + "\"}'";
    auto service_command = [&](const std::string& service_address, std::string_view service,
                               std::string_view agency, std::string_view method,
                               const std::string& json) {
      std::filesystem::path token = std::filesystem::path(tokens_dir) /
                                    (std::string(agency) + ".jwt");
      return call + " --address " + ShellQuote(service_address) + " --token-file " +
             ShellQuote(token.string()) + " " + std::string(service) + "/" +
             std::string(method) + " " + json;
    };
    auto command = [&](std::string_view agency, std::string_view method, const std::string& json) {
      return service_command(address, kService, agency, method, json);
    };
    auto identity_command = [&](std::string_view agency, std::string_view method,
                                const std::string& json) {
      return service_command(identity_address, "samplan.identity.v1.IdentityService", agency,
                             method, json);
    };
    std::cout << "\nTokens for the demo agencies (valid 12 hours) are in " << tokens_dir
              << "/:";
    for (const Agency& agency : kAgencies) std::cout << " " << agency.short_name << ".jwt";
    std::cout << "\n\nTry, as Arbetsförmedlingen (takes part, has the person's consent: sees "
                 "it):\n  "
              << command("af", "GetPlan", get_json)
              << "\nas Försäkringskassan (takes part, but without the person's consent: "
                 "PERMISSION_DENIED):\n  "
              << command("fk", "GetPlan", get_json)
              << "\nas a manager at the social services (role manager: PERMISSION_DENIED, "
                 "managers get statistics only):\n  "
              << command("mgr", "GetPlan", get_json)
              << "\nthe plan's revision history, as the social services (the lead):\n  "
              << command("soc", "ListPlanRevisions", get_json)
              << "\nwho has seen the person's data (the audit log), as the social services:\n  "
              << identity_command("soc", "ListAccessLog",
                                  "'{\"person\": \"" + example.person() + "\"}'")
              << "\n";
  }

 private:
  // Like Check, with ALREADY_EXISTS (from an earlier run) counted as done.
  bool CheckCreated(const std::string& what, const grpc::Status& status) {
    if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS) return true;
    return Check(what, status);
  }

  bool Check(const std::string& what, const grpc::Status& status) {
    if (status.ok()) return true;
    std::cerr << "samplan-demo: cannot " << what << ": " << DescribeStatus(status, nullptr);
    if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
      std::cerr << "  (does --key match the public key in the service's "
                   "SAMPLAN_JWT_PUBLIC_KEYS, and --issuer/--audience its "
                   "SAMPLAN_JWT_ISSUER/SAMPLAN_JWT_AUDIENCE?)\n";
    }
    return false;
  }

  // The request ids of every revision of the plan: the updates already made.
  bool RevisionRequestIds(const std::string& agency, const std::string& plan_name,
                          std::set<std::string>* ids) {
    v1::ListPlanRevisionsRequest request;
    request.set_name(plan_name);
    request.set_page_size(100);
    for (int page = 0; page < 100; ++page) {
      v1::ListPlanRevisionsResponse response;
      grpc::Status status = Call(agency, &Stub::ListPlanRevisions, request, &response);
      if (!Check("list the revisions of " + plan_name, status)) return false;
      for (const v1::PlanRevision& revision : response.revisions()) {
        ids->insert(revision.request_id());
      }
      if (response.next_page_token().empty()) break;
      request.set_page_token(response.next_page_token());
    }
    return true;
  }

  // Reads the plan as the step's agency, changes it, and writes it back under the
  // etag read; a concurrent change means reading again.
  bool Update(const std::string& plan_name, const Step& step, const std::string& request_id) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      v1::GetPlanRequest get;
      get.set_name(plan_name);
      v1::UpdatePlanRequest update;
      grpc::Status status = Call(step.agency, &Stub::GetPlan, get, update.mutable_plan());
      if (!Check("read " + plan_name + " as " + step.agency, status)) return false;
      if (!step.change(*update.mutable_plan())) {
        ++updates_skipped_;  // already as the step would make it
        return true;
      }
      for (const std::string& path : step.mask) update.mutable_update_mask()->add_paths(path);
      v1::Plan updated;
      status = Call(step.agency, &Stub::UpdatePlan, update, &updated, request_id);
      if (status.error_code() == grpc::StatusCode::ABORTED) continue;
      if (!Check("update " + plan_name + " (" + step.name + ") as " + step.agency, status)) {
        return false;
      }
      ++updates_applied_;
      return true;
    }
    std::cerr << "samplan-demo: " << plan_name << " kept changing under the update "
              << step.name << "; try again\n";
    return false;
  }

  // How many plans the agency sees, or the error code when it may see none.
  std::string VisibleCount(std::string_view agency) {
    v1::ListPlansRequest request;
    request.set_page_size(100);
    int count = 0;
    for (int page = 0; page < 1000; ++page) {
      v1::ListPlansResponse response;
      grpc::Status status = Call(agency, &Stub::ListPlans, request, &response);
      if (!status.ok()) return StatusCodeName(status.error_code());
      count += response.plans_size();
      if (response.next_page_token().empty()) break;
      request.set_page_token(response.next_page_token());
    }
    return std::to_string(count);
  }

  std::unique_ptr<Stub> stub_;
  std::unique_ptr<IdentityStub> identity_;
  std::map<std::string, std::string> tokens_;
  std::vector<DemoPersonRef> persons_;
  std::vector<std::pair<DemoPlan, v1::Plan>> loaded_;
  int updates_applied_ = 0;
  int updates_skipped_ = 0;
};

int UsageError(std::string_view message) {
  std::cerr << "samplan-demo: " << message << "\n"
            << "Run samplan-demo --help for usage.\n";
  return kUsageError;
}

int Main(const std::vector<std::string_view>& args) {
  std::map<std::string_view, std::string> flags = {
      {"--address", ""}, {"--identity-address", ""}, {"--placement-address", ""},
      {"--surveys-address", ""},
      {"--key", ""}, {"--tokens-dir", ""},
      {"--kid", "dev"},
      {"--issuer", "samplan-dev"}, {"--audience", "samplan"}, {"--wait", "60"},
  };
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    std::string_view name = arg;
    std::string value;
    bool has_value = false;
    if (size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = std::string(arg.substr(eq + 1));
      has_value = true;
    }
    auto it = flags.find(name);
    if (it == flags.end()) return UsageError("unknown argument " + std::string(arg));
    if (!has_value) {
      if (i + 1 >= args.size()) return UsageError(std::string(name) + " needs a value");
      value = std::string(args[++i]);
    }
    if (value.empty()) return UsageError(std::string(name) + " must not be empty");
    it->second = std::move(value);
  }
  for (std::string_view required : {"--key", "--tokens-dir"}) {
    if (flags[required].empty()) return UsageError(std::string(required) + " is required");
  }
  int wait_seconds = 0;
  if (!absl::SimpleAtoi(flags["--wait"], &wait_seconds) || wait_seconds <= 0) {
    return UsageError("--wait must be a positive number of seconds");
  }
  std::string address = flags["--address"];
  if (address.empty()) {
    const char* env = std::getenv("SAMPLAN_ADDRESS");
    address = env != nullptr && *env != '\0' ? env : "127.0.0.1:50051";
  }
  std::string identity_address = flags["--identity-address"];
  if (identity_address.empty()) {
    const char* env = std::getenv("SAMPLAN_IDENTITY_ADDRESS");
    identity_address = env != nullptr && *env != '\0' ? env : "127.0.0.1:50052";
  }
  std::string placement_address = flags["--placement-address"];
  if (placement_address.empty()) {
    const char* env = std::getenv("SAMPLAN_PLACEMENT_ADDRESS");
    if (env != nullptr) placement_address = env;
  }
  std::string surveys_address = flags["--surveys-address"];
  if (surveys_address.empty()) {
    const char* env = std::getenv("SAMPLAN_SURVEYS_ADDRESS");
    if (env != nullptr) surveys_address = env;
  }
  const std::string tokens_dir = flags["--tokens-dir"];

  std::ifstream key_in(flags["--key"]);
  std::stringstream key;
  key << key_in.rdbuf();
  if (!key_in) {
    std::cerr << "samplan-demo: cannot read --key " << flags["--key"] << "\n";
    return 1;
  }

  // A token per agency: used by the loader, then written for people to use.
  std::map<std::string, std::string> tokens;
  const absl::Time now = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  for (const Agency& agency : kAgencies) {
    TokenClaims claims;
    claims.issuer = flags["--issuer"];
    claims.audience = flags["--audience"];
    claims.subject = std::string(agency.user);
    claims.organization = std::string(agency.organization);
    claims.municipality = kMunicipality;
    claims.roles = {std::string(agency.role)};
    claims.issued_at = now;
    claims.expires_at = now + kTokenLifetime;
    absl::StatusOr<std::string> token = MintToken(key.str(), flags["--kid"], claims);
    if (!token.ok()) {
      std::cerr << "samplan-demo: cannot mint a token with --key " << flags["--key"] << ": "
                << token.status().message() << "\n";
      return 1;
    }
    tokens[std::string(agency.short_name)] = *std::move(token);
  }

  // TLS as the services' callers use it: SAMPLAN_TLS_CA_FILE, and a client
  // certificate (SAMPLAN_TLS_CERT_FILE, SAMPLAN_TLS_KEY_FILE) for services that
  // require one; plaintext only with SAMPLAN_PLAINTEXT=true.
  EnvReader env = EnvReader::FromProcessEnvironment();
  const std::optional<TlsFiles> tls = ReadTlsConfig(env, /*serves=*/false);
  if (absl::Status read = env.Finish(); !read.ok()) {
    std::cerr << "samplan-demo: " << read.message() << "\n";
    return 2;
  }
  std::shared_ptr<grpc::Channel> channel = MakeChannel(address, tls);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() +
                                 std::chrono::seconds(wait_seconds))) {
    std::cerr << "samplan-demo: no service accepted a connection at " << address << " within "
              << wait_seconds << " s\n";
    return 1;
  }

  std::shared_ptr<grpc::Channel> identity_channel =
      MakeChannel(identity_address, tls);
  if (!identity_channel->WaitForConnected(std::chrono::system_clock::now() +
                                          std::chrono::seconds(wait_seconds))) {
    std::cerr << "samplan-demo: no identity service accepted a connection at "
              << identity_address << " within " << wait_seconds << " s\n";
    return 1;
  }

  DemoLoader loader(channel, identity_channel, tokens);
  if (!loader.LoadDirectory()) return 1;
  for (const DemoPlan& demo : DemoPlans()) {
    if (!loader.Load(demo)) return 1;
  }

  // Written only now that the service has accepted them.
  std::error_code error;
  if (!std::filesystem::is_directory(tokens_dir, error)) {
    std::filesystem::create_directories(tokens_dir, error);
    if (error) {
      std::cerr << "samplan-demo: cannot create --tokens-dir " << tokens_dir << ": "
                << error.message() << "\n";
      return 1;
    }
    std::filesystem::permissions(tokens_dir, std::filesystem::perms::owner_all, error);
  }
  for (const auto& [short_name, token] : tokens) {
    const std::string path = (std::filesystem::path(tokens_dir) / (short_name + ".jwt")).string();
    if (absl::Status written = tools::WriteFileWithMode(path, token + "\n", 0600); !written.ok()) {
      std::cerr << "samplan-demo: " << written.message() << "\n";
      return 1;
    }
  }
  loader.Summarize(address, identity_address, tokens_dir);
  if (!placement_address.empty()) {
    std::shared_ptr<grpc::Channel> placement_channel =
        MakeChannel(placement_address, tls);
    if (!placement_channel->WaitForConnected(std::chrono::system_clock::now() +
                                             std::chrono::seconds(wait_seconds))) {
      std::cerr << "samplan-demo: no placement service accepted a connection at "
                << placement_address << " within " << wait_seconds << " s\n";
      return 1;
    }
    const PrepareCall prepare = [&](grpc::ClientContext& context, const std::string& agency) {
      context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
      context.set_wait_for_ready(true);
      context.AddMetadata("authorization", "Bearer " + tokens.at(agency));
    };
    if (!LoadPlacementBank(placement_channel, identity_channel, prepare, loader.persons())) {
      return 1;
    }
  }
  if (!surveys_address.empty()) {
    std::shared_ptr<grpc::Channel> surveys_channel =
        MakeChannel(surveys_address, tls);
    if (!surveys_channel->WaitForConnected(std::chrono::system_clock::now() +
                                           std::chrono::seconds(wait_seconds))) {
      std::cerr << "samplan-demo: no surveys service accepted a connection at "
                << surveys_address << " within " << wait_seconds << " s\n";
      return 1;
    }
    const PrepareCall prepare = [&](grpc::ClientContext& context, const std::string& agency) {
      context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
      context.set_wait_for_ready(true);
      context.AddMetadata("authorization", "Bearer " + tokens.at(agency));
    };
    if (!LoadSurveysDemo(surveys_channel, prepare)) return 1;
  }
  return std::cout.flush() ? 0 : 1;
}

}  // namespace
}  // namespace samplan::tools

int main(int argc, char** argv) {
  return samplan::tools::Main(std::vector<std::string_view>(argv + 1, argv + argc));
}
