// The placement service's request rules (services/placement/placement_rules.h)
// on requests parsed from arbitrary bytes, as the handlers run them: employers,
// placements, contacts, needs and an agreement through its steps. Every refusal
// names its fields.

#include <cstddef>
#include <cstdint>
#include <string>

#include <fuzzer/FuzzedDataProvider.h>

#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "common/field_mask.h"
#include "fuzz/fuzz_support.h"
#include "samplan/placement/v1/placement.pb.h"
#include "services/placement/placement_rules.h"

namespace pl = samplan::placement;
using samplan::fuzz::CheckRefusal;

namespace {

template <typename Message>
bool Parse(FuzzedDataProvider& input, Message& message, size_t max = 8192) {
  return message.ParseFromString(input.ConsumeRandomLengthString(max));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  const absl::Time now = samplan::fuzz::FixedNow();
  int ids = 0;
  const auto new_id = [&ids] { return absl::StrCat("id-", ++ids); };
  samplan::Principal caller;
  caller.organization = "organizations/af";
  caller.municipality = "1885";
  caller.user = "users/u-af";
  caller.roles = {"placement_coordinator"};

  switch (input.ConsumeIntegralInRange<int>(0, 4)) {
    case 0: {  // CreateEmployer, then UpdateEmployer on what was stored
      pl::v1::CreateEmployerRequest create;
      if (!Parse(input, create)) break;
      samplan::FieldViolations v;
      pl::CheckRequestId(create.request_id(), v);
      if (!v.empty()) CheckRefusal(v.ToStatus());
      pl::v1::Employer employer = create.employer();
      const absl::Status valid = pl::NormalizeEmployer(employer, pl::Today(now), new_id);
      CheckRefusal(valid);
      if (!valid.ok()) break;
      pl::v1::UpdateEmployerRequest update;
      if (!Parse(input, update)) break;
      auto next = samplan::ApplyMaskedUpdate(employer, update.employer(), update.update_mask(),
                                             pl::EmployerFields());
      if (!next.ok()) {
        CheckRefusal(next.status());
        break;
      }
      CheckRefusal(pl::NormalizeEmployer(*next, pl::Today(now), new_id));
      break;
    }
    case 1: {  // CreatePlacement and UpdatePlacement at an employer
      pl::v1::Employer employer;
      if (!Parse(input, employer, 4096)) break;
      pl::v1::CreatePlacementRequest create;
      if (!Parse(input, create)) break;
      pl::v1::Placement placement = create.placement();
      const absl::Status valid = pl::NormalizePlacement(placement, employer);
      CheckRefusal(valid);
      if (!valid.ok()) break;
      pl::v1::UpdatePlacementRequest update;
      if (!Parse(input, update)) break;
      auto next = samplan::ApplyMaskedUpdate(placement, update.placement(), update.update_mask(),
                                             pl::PlacementFields());
      if (!next.ok()) {
        CheckRefusal(next.status());
        break;
      }
      CheckRefusal(pl::NormalizePlacement(*next, employer));
      break;
    }
    case 2: {  // LogContact
      pl::v1::LogContactRequest request;
      if (!Parse(input, request)) break;
      pl::v1::Contact contact = request.contact();
      CheckRefusal(pl::NormalizeContact(contact, now));
      break;
    }
    case 3: {  // CreatePlacementNeed
      pl::v1::CreatePlacementNeedRequest request;
      if (!Parse(input, request)) break;
      samplan::FieldViolations v;
      pl::CheckRequestId(request.request_id(), v);
      pl::ValidateProfile(request.placement_need().profile(), "placement_need.profile", v);
      CheckRefusal(v.ToStatus());
      break;
    }
    default: {  // CreateAgreement, then its steps in the order the input gives
      pl::v1::Placement placement;
      if (!Parse(input, placement, 4096)) break;
      pl::v1::CreateAgreementRequest create;
      if (!Parse(input, create)) break;
      absl::StatusOr<pl::v1::Agreement> agreement =
          pl::AgreementForCreate(create, placement, caller);
      if (!agreement.ok()) {
        CheckRefusal(agreement.status());
        break;
      }
      while (input.remaining_bytes() > 0) {
        absl::StatusOr<pl::AgreementStep> step = absl::UnknownError("no step");
        switch (input.ConsumeIntegralInRange<int>(0, 4)) {
          case 0: {
            pl::v1::RecordWorkplaceVisitRequest r;
            if (!Parse(input, r, 256)) return 0;
            step = pl::RecordVisit(*agreement, r.visit_date(), now);
            break;
          }
          case 1: {
            pl::v1::SignAgreementRequest r;
            if (!Parse(input, r, 256)) return 0;
            step = pl::Sign(*agreement, r.party(), caller, now);
            break;
          }
          case 2:
            step = pl::Start(*agreement, now);
            break;
          case 3: {
            pl::v1::CompleteAgreementRequest r;
            if (!Parse(input, r, 1024)) return 0;
            step = pl::Complete(*agreement, r.outcome(), r.outcome_note(), now);
            break;
          }
          default: {
            pl::v1::EndAgreementRequest r;
            if (!Parse(input, r, 1024)) return 0;
            step = pl::End(*agreement, r.reason(), r.outcome(), r.outcome_note(), now);
            break;
          }
        }
        if (!step.ok()) {
          FUZZ_CHECK(step.status().code() != absl::StatusCode::kUnknown);
          CheckRefusal(step.status());
          continue;
        }
        FUZZ_CHECK(!step->event_type.empty());
        agreement = step->agreement;
      }
      break;
    }
  }
  return 0;
}
