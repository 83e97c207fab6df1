// The identity service's request rules (services/identity/identity_rules.h) on
// requests parsed from arbitrary bytes, as the handlers run them. Every refusal
// is INVALID_ARGUMENT naming its fields, and an organization update the mask
// allows stays a valid organization or is refused.

#include <cstddef>
#include <cstdint>
#include <string>

#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz/fuzz_support.h"
#include "samplan/identity/v1/identity.pb.h"
#include "services/identity/identity_rules.h"
#include "services/identity/personnummer.h"

namespace id = samplan::identity;
using samplan::fuzz::CheckRefusal;

namespace {

template <typename Request>
bool Parse(FuzzedDataProvider& input, Request& request) {
  return request.ParseFromString(input.ConsumeRemainingBytesAsString());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  const absl::Time now = samplan::fuzz::FixedNow();
  switch (input.ConsumeIntegralInRange<int>(0, 7)) {
    case 0: {
      id::v1::CreateMunicipalityRequest request;
      if (Parse(input, request)) CheckRefusal(id::ValidateMunicipality(request.municipality()));
      break;
    }
    case 1: {
      id::v1::CreateOrganizationRequest request;
      if (!Parse(input, request)) break;
      (void)id::IsCallerChosenId(request.organization_id());
      CheckRefusal(id::ValidateOrganization(request.organization(), "organization"));
      break;
    }
    case 2: {
      id::v1::Organization current;
      if (!current.ParseFromString(input.ConsumeRandomLengthString(2048))) break;
      id::v1::UpdateOrganizationRequest request;
      if (!Parse(input, request)) break;
      absl::StatusOr<id::v1::Organization> next =
          id::ApplyOrganizationUpdate(current, request.organization(), request.update_mask());
      if (!next.ok()) {
        CheckRefusal(next.status());
        break;
      }
      CheckRefusal(id::ValidateOrganization(*next, "organization"));
      (void)id::OrganizationChangeRefusal(current, *next, "1885");
      break;
    }
    case 3: {
      id::v1::CreateUserRequest request;
      if (!Parse(input, request)) break;
      (void)id::IsCallerChosenId(request.user_id());
      CheckRefusal(id::ValidateUser(request.user()));
      break;
    }
    case 4: {
      id::v1::CreatePersonRequest request;
      if (!Parse(input, request)) break;
      (void)id::IsRequestId(request.request_id());
      auto number = id::ParsePersonalIdentityNumber(request.person().identity_number(),
                                                    absl::ToCivilDay(now, absl::UTCTimeZone()));
      if (!number.ok()) FUZZ_CHECK(number.status().code() == absl::StatusCode::kInvalidArgument);
      CheckRefusal(id::ValidatePersonFields(request.person()));
      break;
    }
    case 5: {
      id::v1::CreateConsentRequest request;
      if (!Parse(input, request)) break;
      const absl::Status valid = id::ValidateNewConsent(request.consent(), now);
      CheckRefusal(valid);
      if (valid.ok()) {
        (void)id::ConsentStateAt(request.consent(), now);
        CheckRefusal(id::CheckGuardianRule(request.consent(), absl::CivilDay(2012, 2, 29), now));
      }
      break;
    }
    case 6: {
      id::v1::BreakGlassRequest request;
      if (!Parse(input, request)) break;
      absl::StatusOr<absl::Duration> duration = id::ValidateBreakGlass(request);
      if (duration.ok()) {
        FUZZ_CHECK(*duration > absl::ZeroDuration() && *duration <= id::kMaxBreakGlassDuration);
      } else {
        CheckRefusal(duration.status());
      }
      break;
    }
    default: {
      id::v1::LookupPersonRequest request;
      if (!Parse(input, request)) break;
      absl::StatusOr<std::string> purpose = id::PurposeOrDefault(request.purpose(), "purpose");
      if (!purpose.ok()) CheckRefusal(purpose.status());
      (void)id::PersonIdOf(request.identity_number());
      break;
    }
  }
  return 0;
}
