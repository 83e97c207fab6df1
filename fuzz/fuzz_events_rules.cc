// The event service's request rules (services/events/delivery_rules.h) on
// Subscribe and ListEvents requests parsed from arbitrary bytes: refused naming
// their fields, or a subscription of well-formed municipalities whose cursor
// reads back as sent; and the cursor's range check against any stream extent.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "common/auth.h"
#include "common/ids.h"
#include "fuzz/fuzz_support.h"
#include "samplan/events/v1/event_service.pb.h"
#include "services/events/delivery_rules.h"

namespace ev = samplan::events;

namespace {

ev::StreamPosition PositionOf(FuzzedDataProvider& input) {
  return {input.ConsumeIntegralInRange<int64_t>(0, int64_t{1} << 50),
          input.ConsumeIntegralInRange<int64_t>(0, 1000)};
}

void Check(const samplan::Principal& principal, const std::vector<std::string>& municipalities,
           const std::vector<std::string>& types, const std::string& cursor,
           const std::string& field, const std::string& purpose) {
  absl::StatusOr<ev::Subscription> subscription =
      ev::ValidateSubscription(principal, municipalities, types, cursor, field, purpose);
  if (!subscription.ok()) {
    samplan::fuzz::CheckRefusal(subscription.status());
    return;
  }
  FUZZ_CHECK(!subscription->municipalities.empty());
  for (const std::string& m : subscription->municipalities) {
    FUZZ_CHECK(m == principal.municipality);
  }
  for (const std::string& type : types) FUZZ_CHECK(ev::MatchesEventTypes(types, type));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  samplan::Principal principal;
  principal.organization = "organizations/af";
  principal.municipality = "1885";
  principal.user = "users/u-af";
  principal.roles = {"partner_system"};

  ev::StreamExtent extent;
  extent.last_generated = PositionOf(input);
  extent.max_deleted = PositionOf(input);
  extent.entries_removed = input.ConsumeBool();
  if (input.ConsumeBool()) extent.first_kept = PositionOf(input);
  if (input.ConsumeBool()) extent.next = PositionOf(input);
  const ev::StreamPosition cursor = PositionOf(input);
  const absl::Status in_range = ev::CheckCursorInRange(
      "1885", cursor, extent, samplan::fuzz::FixedNow(), absl::Hours(24 * 7));
  FUZZ_CHECK(in_range.ok() || in_range.code() == absl::StatusCode::kOutOfRange);

  if (input.ConsumeBool()) {
    ev::v1::SubscribeRequest request;
    if (!request.ParseFromString(input.ConsumeRemainingBytesAsString())) return 0;
    Check(principal, {request.municipalities().begin(), request.municipalities().end()},
          {request.event_types().begin(), request.event_types().end()}, request.cursor(),
          "cursor", request.purpose());
  } else {
    ev::v1::ListEventsRequest request;
    if (!request.ParseFromString(input.ConsumeRemainingBytesAsString())) return 0;
    Check(principal, {request.municipalities().begin(), request.municipalities().end()},
          {request.event_types().begin(), request.event_types().end()}, request.page_token(),
          "page_token", request.purpose());
  }
  return 0;
}
