#include "services/events/delivery.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "samplan/identity/v1/events.pb.h"

namespace samplan::events {
namespace {

// Returns how `stored` reaches `principal`, deciding (and auditing) it through the
// gate for a person's data.
absl::StatusOr<DeliveryForm> Decide(DeliveryGate& gate, const Principal& principal,
                                    const Subscription& subscription, const StoredEvent& stored,
                                    absl::string_view action, absl::string_view request_id) {
  const DeliveryQuestion question = AskDelivery(principal, stored.event, subscription.purpose);
  if (question.settled == DeliveryForm::kSkip) return DeliveryForm::kSkip;
  if (IsPersonalDataRead(question)) {
    absl::StatusOr<bool> may = gate.MayDeliver(principal, question.request,
                                               stored.access_version, action, request_id);
    if (!may.ok()) return may.status();
    if (!*may) return DeliveryForm::kSkip;
  }
  return question.settled.value_or(DeliveryForm::kEvent);
}

}  // namespace

std::string ReaderOf(const Principal& principal, const Subscription& subscription) {
  return absl::StrCat(principal.organization, "\n", principal.user, "\n",
                      principal.municipality, "\n", absl::StrJoin(principal.roles, ","), "\n",
                      subscription.purpose);
}

absl::StatusOr<std::optional<v1::DeliveredEvent>> Present(
    DeliveryGate& gate, const Principal& principal, const std::string& reader,
    const Subscription& subscription, const StoredEvent& stored, absl::string_view action,
    absl::string_view request_id, bool shared) {
  if (!stored.parsed || !MatchesEventTypes(subscription.event_types, stored.event.type())) {
    return std::nullopt;
  }
  std::optional<DeliveryForm> form = stored.Recall(reader);
  if (!form.has_value()) {
    absl::StatusOr<DeliveryForm> decided =
        Decide(gate, principal, subscription, stored, action, request_id);
    if (!decided.ok()) return decided.status();
    form = *decided;
    stored.Remember(reader, *form);
  }
  if (*form == DeliveryForm::kSkip) return std::nullopt;
  // The event as it is, for one municipality: StoredEvent::SharedDelivery, which
  // the caller takes when the answer has no position.
  if (shared && *form == DeliveryForm::kEvent) return v1::DeliveredEvent();
  v1::DeliveredEvent delivered;
  delivered.set_position(stored.position.ToString());
  if (*form == DeliveryForm::kConsentWithdrawn) {
    identity::v1::ConsentChanged consent;
    stored.event.payload().UnpackTo(&consent);
    v1::ConsentWithdrawn* notice = delivered.mutable_consent_withdrawn();
    notice->set_consent(consent.consent());
    notice->set_person(stored.event.person());
    *notice->mutable_data_categories() = consent.data_categories();
    *notice->mutable_withdraw_time() = consent.withdraw_time();
    notice->set_event_id(stored.event.event_id());
  } else {
    *delivered.mutable_event() = stored.event;
  }
  return delivered;
}

}  // namespace samplan::events
