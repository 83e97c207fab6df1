#include "common/outbox.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "common/ids.h"

namespace samplan {
namespace {
constexpr char kAppendStatement[] = "samplan_outbox_append";
}  // namespace

std::string EventStreamKey(absl::string_view municipality) {
  return absl::StrCat("samplan:events:{", municipality, "}");
}

events::v1::Event MakeEvent(absl::string_view type, absl::string_view municipality,
                            absl::string_view aggregate, int64_t aggregate_version,
                            absl::string_view person, absl::string_view data_category,
                            const google::protobuf::Message& payload,
                            const EventOrigin& origin) {
  events::v1::Event event;
  event.set_event_id(NewUuid());
  event.set_type(std::string(type));
  event.set_municipality(std::string(municipality));
  event.set_aggregate(std::string(aggregate));
  event.set_aggregate_version(aggregate_version);
  *event.mutable_occurred_at() = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(origin.occurred_at));
  event.set_acting_organization(origin.acting_organization);
  event.set_acting_user(origin.acting_user);
  event.set_person(std::string(person));
  event.set_data_category(std::string(data_category));
  event.mutable_payload()->PackFrom(payload);
  event.set_trace_id(origin.trace_id);
  return event;
}

Outbox::Outbox(std::string schema)
    : append_sql_(absl::StrCat(
          "INSERT INTO ", schema,
          ".outbox (event_id, event_type, municipality, aggregate, aggregate_version, "
          "envelope, access_version) VALUES ($1, $2, $3, $4, $5, $6, "
          // Read in this statement: a consent change that committed before it is
          // counted, and the event service then decides on facts at least as new.
          "CASE WHEN $7 = '' THEN 0 ELSE identity.person_access_version($7) END)")) {}

std::vector<PreparedStatement> Outbox::statements() const {
  return {{kAppendStatement, append_sql_.c_str()}};
}

namespace {
thread_local bool appended_on_this_thread = false;
}  // namespace

bool Outbox::TakeAppendedOnThisThread() {
  const bool appended = appended_on_this_thread;
  appended_on_this_thread = false;
  return appended;
}

void Outbox::Append(pqxx::transaction_base& tx, const events::v1::Event& event) const {
  appended_on_this_thread = true;
  const std::string envelope = event.SerializeAsString();
  tx.exec_prepared(kAppendStatement, event.event_id(), event.type(), event.municipality(),
                   event.aggregate(), event.aggregate_version(),
                   PgBytes(envelope), event.person());
}

}  // namespace samplan
