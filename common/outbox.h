#ifndef SAMPLAN_COMMON_OUTBOX_H_
#define SAMPLAN_COMMON_OUTBOX_H_

// The transactional outbox: an event is written in the same PostgreSQL transaction
// as the change it describes, so both commit or neither does. The relay
// (common/relay.h) publishes it afterwards.

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include <google/protobuf/message.h>
#include <pqxx/pqxx>

#include "absl/time/time.h"
#include "common/pg.h"
#include "samplan/events/v1/event.pb.h"

namespace samplan {

// Returns the Redis stream of a municipality's events, "samplan:events:{0580}". The
// braces make Redis Cluster keep a municipality's stream on one slot.
std::string EventStreamKey(absl::string_view municipality);

// Who caused an event and in which call.
struct EventOrigin {
  std::string acting_organization;
  std::string acting_user;
  std::string trace_id;
  absl::Time occurred_at;
};

// Returns an envelope with a fresh event id around `payload`.
events::v1::Event MakeEvent(absl::string_view type, absl::string_view municipality,
                            absl::string_view aggregate, int64_t aggregate_version,
                            absl::string_view person, absl::string_view data_category,
                            const google::protobuf::Message& payload,
                            const EventOrigin& origin);

// Writes events into `<schema>.outbox`.
class Outbox {
 public:
  // `schema` is the service's schema, a plain identifier from code.
  explicit Outbox(std::string schema);

  // Returns the statements to prepare on the service's pool. They point into this
  // object, which must outlive the pool (a pool prepares again on reconnect).
  std::vector<PreparedStatement> statements() const;

  // Appends `event` within `tx`; it becomes visible to the relay when, and only
  // if, `tx` commits. It is stored with the access version of its person as `tx`
  // sees it (identity.person_access_version), which the relay publishes with it.
  void Append(pqxx::transaction_base& tx, const events::v1::Event& event) const;

  // Returns whether this thread appended an event since it last asked, and
  // forgets it. Asked after a commit (PgPoolOptions::after_commit), it tells
  // whether the relay has something new to publish; after a rollback it may say
  // yes for nothing, which costs the relay one empty round.
  static bool TakeAppendedOnThisThread();

 private:
  std::string append_sql_;
};

}  // namespace samplan

#endif  // SAMPLAN_COMMON_OUTBOX_H_
