// The event envelope as the event service reads it off a municipality's stream
// (services/events/stream_hub.h ParseStoredEvent, then the delivery decision and
// the shared DeliveredEvent), and the cursors and positions clients send back:
// whatever an entry holds, it is parsed or passed over, never a crash, and what
// is handed out reads back as what was parsed.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "common/auth.h"
#include "common/redis.h"
#include "fuzz/fuzz_support.h"
#include "samplan/events/v1/event_service.pb.h"
#include "services/events/delivery_rules.h"
#include "services/events/stream_hub.h"

namespace ev = samplan::events;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  samplan::StreamEntry entry;
  entry.id = input.ConsumeRandomLengthString(40);
  entry.fields.emplace_back("access_version", input.ConsumeRandomLengthString(24));
  entry.fields.emplace_back("event_id", input.ConsumeRandomLengthString(40));
  const std::string cursor_text = input.ConsumeRandomLengthString(200);
  const std::string purpose = input.ConsumeBool() ? "coordination" : "follow_up";
  samplan::Principal principal;
  principal.organization = input.ConsumeBool() ? "organizations/soc" : "organizations/af";
  principal.municipality = input.ConsumeBool() ? "1885" : "0180";
  principal.user = "users/u-fuzz";
  principal.roles = {input.ConsumeBool() ? "caseworker" : "manager"};
  entry.fields.emplace_back("event", input.ConsumeRemainingBytesAsString());

  ev::StoredEventPtr stored = ev::ParseStoredEvent("1885", entry);
  FUZZ_CHECK(stored != nullptr);
  if (stored->parsed) {
    ev::v1::DeliveredEvent delivered;
    FUZZ_CHECK(delivered.ParseFromString(stored->SharedDelivery()));
    FUZZ_CHECK(delivered.event().SerializeAsString() == stored->event.SerializeAsString());
    auto cursor = ev::Cursor::Parse(delivered.cursor(), "cursor");
    FUZZ_CHECK(cursor.ok());
    FUZZ_CHECK(cursor->Get("1885").has_value() && *cursor->Get("1885") == stored->position);

    const ev::DeliveryQuestion question = ev::AskDelivery(principal, stored->event, purpose);
    if (!question.settled.has_value() || *question.settled != ev::DeliveryForm::kSkip) {
      // Whatever is to be decided or told concerns the event's own person.
      FUZZ_CHECK(question.request.person.empty() ||
                 question.request.person == stored->event.person());
    }
    (void)ev::ChangesAccess(stored->event);
  }

  if (auto position = ev::StreamPosition::Parse(entry.id)) {
    FUZZ_CHECK(position->ms >= 0 && position->seq >= 0);
    auto again = ev::StreamPosition::Parse(position->ToString());
    FUZZ_CHECK(again.has_value() && *again == *position);
  }
  absl::StatusOr<ev::Cursor> cursor = ev::Cursor::Parse(cursor_text, "cursor");
  if (cursor.ok()) {
    auto again = ev::Cursor::Parse(cursor->ToString(), "cursor");
    FUZZ_CHECK(again.ok() && again->positions() == cursor->positions());
  } else {
    samplan::fuzz::CheckRefusal(cursor.status());
  }
  std::vector<std::string> types;
  if (!stored->event.type().empty()) types.push_back(stored->event.type());
  absl::StatusOr<ev::Subscription> subscription =
      ev::ValidateSubscription(principal, {}, types, cursor_text, "cursor", purpose);
  if (!subscription.ok()) samplan::fuzz::CheckRefusal(subscription.status());
  return 0;
}
