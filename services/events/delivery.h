#ifndef SAMPLAN_SERVICES_EVENTS_DELIVERY_H_
#define SAMPLAN_SERVICES_EVENTS_DELIVERY_H_

// One stream entry presented to one caller, the same for Subscribe and
// ListEvents: the delivery rules (delivery_rules.h) settle what they can, the gate
// decides (and audits) a read of a person's data, and the answer is the event, a
// consent notice, or nothing.

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/auth.h"
#include "samplan/events/v1/event_service.pb.h"
#include "services/events/access_gate.h"
#include "services/events/delivery_rules.h"
#include "services/events/stream_hub.h"

namespace samplan::events {

// Returns what a delivery decision depends on besides the event: the principal
// (organization, user, municipality, roles) and the purpose. Callers with the same
// reader share decisions (StoredEvent::Recall).
std::string ReaderOf(const Principal& principal, const Subscription& subscription);

// Returns what `principal` is shown of `stored`: nothing, the event, or a consent
// notice. Errors (the consent facts could not be read) stop the delivery there, so
// that a cursor never moves past an event that was not decided. With `shared`, the
// event as it is comes back as an empty DeliveredEvent: the caller then sends
// StoredEvent::SharedDelivery (a subscription to one municipality).
absl::StatusOr<std::optional<v1::DeliveredEvent>> Present(
    DeliveryGate& gate, const Principal& principal, const std::string& reader,
    const Subscription& subscription, const StoredEvent& stored, absl::string_view action,
    absl::string_view request_id, bool shared = false);

}  // namespace samplan::events

#endif  // SAMPLAN_SERVICES_EVENTS_DELIVERY_H_
