// The case plan service's request rules (services/caseplan/plan_rules.h) on
// requests parsed from arbitrary bytes, as the handlers run them: a plan is
// created, updated and handed over in turn. Every refusal names its fields, and
// every plan the rules produce is one ValidatePlan accepts.

#include <cstddef>
#include <cstdint>
#include <string>

#include <fuzzer/FuzzedDataProvider.h>

#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "fuzz/fuzz_support.h"
#include "samplan/caseplan/v1/caseplan.pb.h"
#include "services/caseplan/plan_rules.h"

namespace cp = samplan::caseplan;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  samplan::Principal caller;
  caller.organization = "organizations/soc";
  caller.municipality = "1885";
  caller.user = "users/u-soc";
  caller.roles = {"caseworker"};
  int ids = 0;
  const auto new_id = [&ids] { return absl::StrCat("00000000-0000-4000-8000-", 100000000000 + ++ids); };
  const absl::Time now = samplan::fuzz::FixedNow();

  cp::v1::CreatePlanRequest create;
  if (!create.ParseFromString(input.ConsumeRandomLengthString(8192))) return 0;
  cp::v1::UpdatePlanRequest update;
  const bool update_parsed = update.ParseFromString(input.ConsumeRandomLengthString(8192));
  cp::v1::HandOverPlanRequest hand_over;
  const bool hand_over_parsed = hand_over.ParseFromString(input.ConsumeRemainingBytesAsString());

  (void)cp::PlanIdFromName(update.plan().name(), "plan.name");
  absl::StatusOr<cp::Plan> plan = cp::PlanForCreate(create, caller, now, new_id);
  if (!plan.ok()) {
    samplan::fuzz::CheckRefusal(plan.status());
    return 0;
  }
  FUZZ_CHECK(cp::ValidatePlan(*plan).ok());
  if (update_parsed) {
    absl::StatusOr<cp::Plan> next =
        cp::ApplyUpdate(*plan, update.plan(), update.update_mask(), caller, now, new_id);
    if (next.ok()) {
      FUZZ_CHECK(cp::ValidatePlan(*next).ok());
      (void)cp::ChangedFields(*plan, *next);
      plan = *std::move(next);
    } else {
      samplan::fuzz::CheckRefusal(next.status());
    }
  }
  if (hand_over_parsed) {
    absl::StatusOr<cp::Plan> next = cp::HandOver(*plan, hand_over.to_organization(),
                                                 hand_over.reason(), caller, now, new_id);
    if (next.ok()) {
      FUZZ_CHECK(next->lead_organization() == hand_over.to_organization());
      FUZZ_CHECK(cp::ValidatePlan(*next).ok());
    } else {
      samplan::fuzz::CheckRefusal(next.status());
    }
  }
  return 0;
}
