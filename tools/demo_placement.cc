#include "tools/demo_placement.h"

#include <google/protobuf/util/time_util.h>

#include <cstdio>
#include <iostream>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "samplan/identity/v1/identity.grpc.pb.h"
#include "samplan/placement/v1/placement.grpc.pb.h"
#include "services/identity/personnummer.h"
#include "services/placement/matching.h"
#include "tools/rpc_text.h"

namespace samplan::tools {
namespace {

namespace pv1 = ::samplan::placement::v1;
namespace idv1 = ::samplan::identity::v1;
using ::google::protobuf::util::TimeUtil;
using ::samplan::placement::DateOf;

constexpr int kEmployers = 200;
constexpr double kLatitude = 59.594;  // Lindesberg
constexpr double kLongitude = 15.227;

struct Industry {
  const char* name;
  const char* employer_suffix;
  const char* titles[3];
};

constexpr Industry kIndustries[] = {
    {"handel", "Livs", {"Butiksbiträde", "Varuplock och påfyllning", "Kassa och kundtjänst"}},
    {"vård och omsorg", "Omsorg", {"Vårdbiträde", "Måltider och aktiviteter", "Städ och tvätt"}},
    {"industri", "Mekaniska", {"Montering", "Maskinoperatör", "Förråd och truck"}},
    {"bygg", "Bygg", {"Byggarbetare", "Målning", "Rivning och städ"}},
    {"restaurang", "Kök", {"Köksbiträde", "Diskplock", "Servering"}},
    {"lager och logistik", "Logistik", {"Lagerarbete", "Plock och pack", "Godsmottagning"}},
    {"fordon", "Bil", {"Däckskifte och tvätt", "Verkstadsbiträde", "Reservdelslager"}},
    {"jord och skog", "Skog", {"Skogsvård", "Djurskötsel", "Trädgård"}},
    {"kontor", "Konsult", {"Reception", "Arkiv och skanning", "Administration"}},
    {"djur", "Djurklinik", {"Djurskötare", "Hundpensionat", "Stall"}},
};

constexpr const char* kPlaces[] = {"Lindesberg", "Frövi",   "Storå",           "Fellingsbro",
                                   "Ramsberg",   "Vedevåg", "Guldsmedshyttan", "Rockhammar"};

pv1::DateRange Range(absl::CivilDay start, absl::CivilDay end) {
  pv1::DateRange range;
  *range.mutable_start_date() = DateOf(start);
  *range.mutable_end_date() = DateOf(end);
  return range;
}

class BankLoader {
 public:
  BankLoader(std::shared_ptr<grpc::Channel> placement, std::shared_ptr<grpc::Channel> identity,
             const PrepareCall& prepare)
      : stub_(pv1::PlacementService::NewStub(placement)),
        identity_(idv1::IdentityService::NewStub(identity)),
        prepare_(prepare) {}

  bool Load(const std::vector<DemoPersonRef>& persons) {
    const absl::Time now = absl::Now();
    const absl::CivilDay today = absl::ToCivilDay(now, absl::UTCTimeZone());
    // Requests are fingerprinted: a re-run must send what the first run sent. So
    // places are open this year and next (the same requests all year), and needs
    // and agreements, which start near today, are new each month.
    const absl::CivilMonth month(today);
    month_ = absl::StrFormat("%04d%02d", month.year(), month.month());
    for (int i = 0; i < kEmployers; ++i) {
      // One generator per employer: the same employer on every run, whatever an
      // earlier run left (contacts are logged only once).
      std::mt19937 random(1885 + i);
      pv1::Employer employer;
      if (!LoadEmployer(i, random, &employer)) return false;
      // Its own generator: contacts are drawn only on the first run.
      std::mt19937 contact_random(7000 + i);
      if (!LoadContacts(i, employer, contact_random, now)) return false;
      if (!LoadPlacements(i, employer, random, today)) return false;
    }
    for (size_t i = 0; i < persons.size() && i < 4; ++i) {
      if (!LoadPerson(static_cast<int>(i), persons[i], today)) return false;
    }
    return true;
  }

  void Summarize() {
    std::cout << "\nPlacement bank: " << employers_ << " employers, " << placements_
              << " placements, " << contacts_ << " contacts logged this run, " << agreements_
              << " agreements\n";
    pv1::ListColdEmployersRequest cold_request;
    cold_request.set_page_size(5);
    pv1::ListColdEmployersResponse cold;
    if (Call("prakt", &Stub::ListColdEmployers, cold_request, &cold, "the call list")) {
      std::cout << "The coordinator's call list (no contact for " << cold.min_days_without_contact()
                << "+ days), first five:\n";
      for (const pv1::ColdEmployer& e : cold.employers()) {
        std::cout << absl::StrFormat("  %4d days  %s (%s)\n", e.days_without_contact(),
                                     e.employer().display_name(), e.employer().industry());
      }
    }
    if (need_.empty()) return;
    pv1::MatchPlacementsRequest match;
    match.set_placement_need(need_);
    match.set_page_size(3);
    match.set_max_excluded(2);
    pv1::MatchPlacementsResponse matches;
    if (!Call("prakt", &Stub::MatchPlacements, match, &matches, "match")) return;
    std::cout << "Best matches for " << need_ << " (of " << matches.considered()
              << " open placements):\n";
    for (const pv1::PlacementMatch& m : matches.matches()) {
      std::cout << absl::StrFormat("  %5.1f  %s  %s, %.1f km\n", m.score(), m.placement(),
                                   m.title(), m.distance_km());
      for (const pv1::ScorePart& part : m.parts()) {
        std::cout << absl::StrFormat("         %-8s %4.1f/%-2.0f %s\n", part.factor(),
                                     part.points(), part.max_points(), part.reason());
      }
    }
    for (const pv1::ExcludedPlacement& e : matches.excluded()) {
      std::cout << "  excluded " << e.placement() << ": " << e.conflict() << " (" << e.reason()
                << ")\n";
    }
  }

 private:
  using Stub = pv1::PlacementService::Stub;

  template <typename S, typename Request, typename Response>
  bool CallOn(S& stub, const std::string& agency,
              grpc::Status (S::*method)(grpc::ClientContext*, const Request&, Response*),
              const Request& request, Response* response, const std::string& what,
              bool already_exists_ok = false) {
    grpc::ClientContext context;
    prepare_(context, agency);
    grpc::Status status = (stub.*method)(&context, request, response);
    if (status.ok() || (already_exists_ok && status.error_code() == grpc::ALREADY_EXISTS)) {
      return true;
    }
    std::cerr << "samplan-demo: cannot " << what << ": " << DescribeStatus(status, nullptr);
    return false;
  }
  template <typename Request, typename Response>
  bool Call(const std::string& agency,
            grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
            const Request& request, Response* response, const std::string& what) {
    return CallOn(*stub_, agency, method, request, response, what);
  }

  bool LoadEmployer(int i, std::mt19937& random, pv1::Employer* out) {
    const Industry& industry = kIndustries[i % std::size(kIndustries)];
    pv1::CreateEmployerRequest request;
    request.set_request_id(absl::StrCat("demo-employer-", i));
    pv1::Employer* e = request.mutable_employer();
    const bool internal = i == 0;
    if (internal) {
      // The municipality is one employer; its units are its workplaces.
      e->set_organization_number("212000-1884");
      e->set_display_name("Lindesbergs kommun");
      e->set_industry("vård och omsorg");
      e->set_internal(true);
    } else {
      const std::string nine = absl::StrFormat("559%06d", 188500 + i * 37);
      e->set_organization_number(nine + identity::LuhnCheckDigit(nine));
      e->set_display_name(absl::StrCat(kPlaces[i % std::size(kPlaces)], " ",
                                       industry.employer_suffix, " ", i, " AB"));
      e->set_industry(industry.name);
    }
    const int workplaces = internal ? 6 : 1 + static_cast<int>(random() % 2);
    std::uniform_real_distribution<double> spread(-0.12, 0.12);  // about ±13 km north
    for (int w = 0; w < workplaces; ++w) {
      pv1::Workplace* place = e->add_workplaces();
      place->set_id(absl::StrCat("w", w + 1));
      place->set_display_name(internal ? absl::StrCat("Kommunens enhet ", w + 1)
                                       : absl::StrCat("Arbetsplats ", w + 1));
      place->set_address(
          absl::StrCat("Industrigatan ", 1 + i % 40, ", ", kPlaces[(i + w) % std::size(kPlaces)]));
      place->mutable_location()->set_latitude(kLatitude + spread(random));
      place->mutable_location()->set_longitude(kLongitude + 2 * spread(random));
    }
    pv1::ContactPerson* contact = e->add_contact_persons();
    contact->set_display_name(absl::StrCat("Kontakt ", i));
    contact->set_role(internal ? "enhetschef" : "platschef");
    contact->set_phone(absl::StrFormat("0581-%06d", 100000 + i));
    if (!Call("prakt", &Stub::CreateEmployer, request, out, "register a demo employer")) {
      return false;
    }
    ++employers_;
    return true;
  }

  bool LoadContacts(int i, const pv1::Employer& employer, std::mt19937& random, absl::Time now) {
    pv1::ListContactsRequest list;
    list.set_employer(employer.name());
    list.set_page_size(1);
    pv1::ListContactsResponse existing;
    if (!Call("prakt", &Stub::ListContacts, list, &existing, "list contacts")) return false;
    if (!existing.contacts().empty() || i % 10 == 9) return true;  // one in ten never contacted
    // Most were called within the quarter; every fourth has gone cold.
    const int days_ago =
        i % 4 == 3 ? 100 + static_cast<int>(random() % 300) : static_cast<int>(random() % 80);
    const pv1::ContactKind kinds[] = {pv1::CONTACT_KIND_CALL, pv1::CONTACT_KIND_VISIT,
                                      pv1::CONTACT_KIND_MAIL};
    pv1::LogContactRequest request;
    request.set_employer(employer.name());
    pv1::Contact* contact = request.mutable_contact();
    contact->set_kind(kinds[i % 3]);
    *contact->mutable_contact_time() =
        TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(now - absl::Hours(24) * days_ago));
    contact->set_employer_contact(employer.contact_persons(0).display_name());
    contact->set_agreed(i % 2 ? "Kan ta emot en praktikant till våren; hör av er i god tid."
                              : "Ingen plats just nu, men gärna igen efter sommaren.");
    pv1::Contact logged;
    if (!Call("prakt", &Stub::LogContact, request, &logged, "log a contact")) return false;
    ++contacts_;
    return true;
  }

  bool LoadPlacements(int i, const pv1::Employer& employer, std::mt19937& random,
                      absl::CivilDay today) {
    const Industry& industry = kIndustries[i % std::size(kIndustries)];
    const int count = 1 + static_cast<int>(random() % 2);
    for (int k = 0; k < count; ++k) {
      pv1::CreatePlacementRequest request;
      request.set_request_id(absl::StrCat("demo-placement-", i, "-", k));
      pv1::Placement* p = request.mutable_placement();
      p->set_employer(employer.name());
      p->set_workplace(employer.workplaces(k % employer.workplaces_size()).id());
      // Every kind: the municipality's own places, prao at one in five, the rest mixed.
      pv1::PlacementKind kind = employer.internal() ? pv1::PLACEMENT_KIND_INTERNAL_MUNICIPAL
                                : (i + k) % 5 == 0  ? pv1::PLACEMENT_KIND_PRAO
                                : (i + k) % 7 == 0  ? pv1::PLACEMENT_KIND_SUPPORTED_EMPLOYMENT
                                : (i + k) % 11 == 0 ? pv1::PLACEMENT_KIND_TRIAL_EMPLOYMENT
                                                    : pv1::PLACEMENT_KIND_WORK_PRACTICE;
      p->set_kind(kind);
      p->set_title(industry.titles[(i + k) % 3]);
      p->set_tasks(absl::StrCat(industry.titles[(i + k) % 3],
                                " tillsammans med handledare; introduktion första veckan."));
      p->set_seats(1 + static_cast<int>(random() % 3));
      *p->add_availability() =
          Range(absl::CivilDay(today.year(), 1, 1), absl::CivilDay(today.year() + 1, 12, 31));
      p->set_hours_per_week(kind == pv1::PLACEMENT_KIND_PRAO ? 30 : 10 + 5 * (random() % 7));
      p->set_schedule("mån–fre, dagtid");
      pv1::Requirements* r = p->mutable_requirements();
      r->set_swedish_level(static_cast<pv1::SwedishLevel>(random() % 3));
      r->set_physical_demand(static_cast<pv1::PhysicalDemand>(1 + random() % 3));
      r->set_driving_licence(random() % 10 == 0);
      if (kind == pv1::PLACEMENT_KIND_PRAO) r->set_minimum_age(14);
      for (int a = 1; a <= 7; ++a) {
        if (random() % 3 == 0) p->add_adaptations(static_cast<pv1::Adaptation>(a));
      }
      p->set_status(random() % 12 == 0 ? pv1::PLACEMENT_STATUS_PAUSED : pv1::PLACEMENT_STATUS_OPEN);
      pv1::Placement created;
      if (!Call("prakt", &Stub::CreatePlacement, request, &created, "add a demo placement")) {
        return false;
      }
      if (created.status() == pv1::PLACEMENT_STATUS_OPEN &&
          created.kind() == pv1::PLACEMENT_KIND_WORK_PRACTICE) {
        open_.push_back(created.name());
      }
      ++placements_;
    }
    return true;
  }

  // The person consents to praktiksamordningen handling their placement; prakt
  // records a need, and for the first two an agreement, signed by all three.
  bool LoadPerson(int n, const DemoPersonRef& ref, absl::CivilDay today) {
    idv1::CreateConsentRequest consent;
    consent.set_request_id(absl::StrCat("demo-placement-consent-", n));
    idv1::Consent* c = consent.mutable_consent();
    c->set_person(ref.person);
    c->add_grantee_organizations("organizations/lindesberg-prakt");
    c->set_purpose("placement");
    c->add_data_categories("placement");
    *c->mutable_valid_until() =
        TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(absl::Now() + absl::Hours(24 * 365)));
    c->set_given_by(idv1::CONSENT_GIVER_PERSON);
    c->set_method(idv1::CONSENT_METHOD_WRITTEN);
    idv1::Consent recorded;
    if (!CallOn(*identity_, ref.owner, &idv1::IdentityService::Stub::CreateConsent, consent,
                &recorded, "record a placement consent")) {
      return false;
    }
    pv1::CreatePlacementNeedRequest need_request;
    need_request.set_request_id(absl::StrCat("demo-need-", n, "-", month_));
    need_request.mutable_placement_need()->set_person(ref.person);
    pv1::MatchProfile* profile = need_request.mutable_placement_need()->mutable_profile();
    profile->mutable_home()->set_latitude(kLatitude + 0.01 * n);
    profile->mutable_home()->set_longitude(kLongitude - 0.02 * n);
    profile->add_interests(kIndustries[n % std::size(kIndustries)].name);
    profile->add_interests("lager och logistik");
    profile->set_swedish_level(n % 2 ? pv1::SWEDISH_LEVEL_BASIC : pv1::SWEDISH_LEVEL_INTERMEDIATE);
    profile->set_work_capacity_percent(n % 2 ? 50 : 75);
    profile->set_max_physical_demand(pv1::PHYSICAL_DEMAND_MODERATE);
    if (n % 2) profile->add_needed_adaptations(pv1::ADAPTATION_CLOSE_SUPERVISION);
    const absl::CivilDay first{absl::CivilMonth(today) + 1};
    *profile->mutable_period() = Range(first, first + 90);
    profile->set_age(24 + n * 7);
    profile->set_has_driving_licence(n == 1);
    pv1::PlacementNeed need;
    if (!Call("prakt", &Stub::CreatePlacementNeed, need_request, &need, "record a need")) {
      return false;
    }
    if (need_.empty()) need_ = need.name();
    // The first stays waiting; the next two get an agreement at a place of their own.
    if (n == 0 || n >= 3 || static_cast<int>(open_.size()) <= n * 7) return true;

    pv1::CreateAgreementRequest request;
    request.set_request_id(absl::StrCat("demo-agreement-", n, "-", month_));
    pv1::Agreement* a = request.mutable_agreement();
    a->set_person(ref.person);
    a->set_placement(open_[n * 7]);
    a->mutable_supervisor()->set_display_name("Handledare Demo");
    const absl::CivilDay begins{absl::CivilMonth(today)};
    *a->mutable_period() = Range(begins, begins + 56);
    a->set_hours_per_week(20);
    a->set_schedule("mån–tor 8–13");
    a->set_goal("Arbetserfarenhet och en referens inför anställning");
    a->add_sub_goals()->set_description("Klara arbetsuppgifterna självständigt efter fyra veckor");
    a->add_sub_goals()->set_description("Passa tiderna varje dag");
    a->set_follow_up_interval_days(14);
    pv1::Agreement agreement;
    if (!Call("prakt", &Stub::CreateAgreement, request, &agreement, "propose an agreement")) {
      return false;
    }
    ++agreements_;
    if (agreement.status() != pv1::AGREEMENT_STATUS_PROPOSED) return true;  // an earlier run
    pv1::RecordWorkplaceVisitRequest visit;
    visit.set_name(agreement.name());
    *visit.mutable_visit_date() = DateOf(today);
    if (!Call("prakt", &Stub::RecordWorkplaceVisit, visit, &agreement, "record the visit")) {
      return false;
    }
    for (pv1::Party party : {pv1::PARTY_PARTICIPANT, pv1::PARTY_EMPLOYER, pv1::PARTY_COORDINATOR}) {
      pv1::SignAgreementRequest sign;
      sign.set_name(agreement.name());
      sign.set_party(party);
      if (!Call("prakt", &Stub::SignAgreement, sign, &agreement, "sign the agreement")) {
        return false;
      }
    }
    pv1::StartAgreementRequest start;
    start.set_name(agreement.name());
    return Call("prakt", &Stub::StartAgreement, start, &agreement, "start the agreement");
  }

  std::unique_ptr<pv1::PlacementService::Stub> stub_;
  std::unique_ptr<idv1::IdentityService::Stub> identity_;
  const PrepareCall& prepare_;
  std::vector<std::string> open_;  // open work-practice places, in the order made
  std::string need_;
  std::string month_;  // "202612": the request ids of the month's needs and agreements
  int employers_ = 0, placements_ = 0, contacts_ = 0, agreements_ = 0;
};

}  // namespace

bool LoadPlacementBank(std::shared_ptr<grpc::Channel> placement,
                       std::shared_ptr<grpc::Channel> identity, const PrepareCall& prepare,
                       const std::vector<DemoPersonRef>& persons) {
  BankLoader loader(std::move(placement), std::move(identity), prepare);
  if (!loader.Load(persons)) return false;
  loader.Summarize();
  return true;
}

}  // namespace samplan::tools
