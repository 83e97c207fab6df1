#ifndef SAMPLAN_SERVICES_EVENTS_DELIVERY_RULES_H_
#define SAMPLAN_SERVICES_EVENTS_DELIVERY_RULES_H_

// The pure decisions of the event service: positions and cursors, which event types
// a subscription asked for, which events a subscriber may see and in what form, and
// whether a cursor still points into what the stream keeps. No I/O here.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/access.h"
#include "common/auth.h"
#include "samplan/events/v1/event.pb.h"

namespace samplan::events {

// A position in a municipality's stream: the Redis entry id "<ms>-<seq>".
struct StreamPosition {
  int64_t ms = 0;
  int64_t seq = 0;

  // Returns "<ms>-<seq>".
  std::string ToString() const;
  // Parses "<ms>-<seq>" (or "<ms>", meaning "<ms>-0"); nullopt when malformed.
  static std::optional<StreamPosition> Parse(absl::string_view text);

  friend bool operator<(const StreamPosition& a, const StreamPosition& b) {
    return std::tie(a.ms, a.seq) < std::tie(b.ms, b.seq);
  }
  friend bool operator<=(const StreamPosition& a, const StreamPosition& b) { return !(b < a); }
  friend bool operator==(const StreamPosition& a, const StreamPosition& b) {
    return a.ms == b.ms && a.seq == b.seq;
  }
};

// Where a client is: the last position seen per municipality. Its text form is
// "<kommunkod>:<ms>-<seq>" joined by ";", in municipality order; clients treat it as
// opaque.
class Cursor {
 public:
  // Parses the text form; INVALID_ARGUMENT naming `field` when malformed. An empty
  // text is an empty cursor.
  static absl::StatusOr<Cursor> Parse(absl::string_view text, absl::string_view field);

  std::string ToString() const;
  // Returns the position for `municipality`, or nullopt when the cursor has none.
  std::optional<StreamPosition> Get(absl::string_view municipality) const;
  void Set(const std::string& municipality, StreamPosition position);
  bool empty() const { return positions_.empty(); }
  const std::map<std::string, StreamPosition, std::less<>>& positions() const {
    return positions_;
  }

 private:
  std::map<std::string, StreamPosition, std::less<>> positions_;
};

// Returns whether `type` is asked for by `patterns`: exact types, or prefixes
// ending in "." or ".*". No patterns means every type.
bool MatchesEventTypes(const std::vector<std::string>& patterns, absl::string_view type);

// What the subscriber asked for, checked against its token.
struct Subscription {
  std::vector<std::string> municipalities;
  std::vector<std::string> event_types;
  std::string purpose;
  Cursor cursor;
};

// Validates the fields common to Subscribe and ListEvents and fills in defaults: no
// municipality means the token's; the purpose defaults to "coordination".
// INVALID_ARGUMENT names each malformed field; PERMISSION_DENIED when a
// municipality is not the token's (a token is for one municipality).
absl::StatusOr<Subscription> ValidateSubscription(
    const Principal& principal, const std::vector<std::string>& municipalities,
    const std::vector<std::string>& event_types, absl::string_view cursor,
    absl::string_view cursor_field, absl::string_view purpose);

// How an event reaches a subscriber.
enum class DeliveryForm {
  kSkip,              // not for this subscriber
  kEvent,             // the event as it is
  kConsentWithdrawn,  // a consent.withdrawn notice instead of the event
};

// Whether an event can be decided without reading consents and break-glass
// accesses, and how.
struct DeliveryQuestion {
  // Decided already when set: no identity facts are needed (no person in the event,
  // a consent event, or the caller's role, municipality or ownership settles it).
  std::optional<DeliveryForm> settled;
  // Otherwise, and when settled is kEvent for a person's record, the access
  // request to decide (and audit) as a read of the event's data category.
  AccessRequest request;
};

// Returns how `event` would reach `principal` under `purpose`, as far as it is known
// without the person's consents. The rule is common/access.h's, with two kinds of
// event told to their organizations without a consent: events that concern no
// person, and consent events (to the person's owner and the organizations the
// consent names; those get a withdrawal as a consent.withdrawn notice).
DeliveryQuestion AskDelivery(const Principal& principal, const v1::Event& event,
                             absl::string_view purpose);

// Returns whether an event would be audited when delivered: a read of a person's
// data (not an organization's event, nor a consent told to its parties).
inline bool IsPersonalDataRead(const DeliveryQuestion& question) {
  return !question.request.person.empty();
}

// Returns whether `event` changes who may see its person's data (a consent
// granted or withdrawn, a break-glass access), so decided facts must be forgotten.
bool ChangesAccess(const v1::Event& event);

// What the stream says of what it keeps (Redis XINFO STREAM).
struct StreamExtent {
  // The id of the newest entry ever added ("last-generated-id"); 0-0 for a new
  // stream.
  StreamPosition last_generated;
  // The highest id removed by XDEL ("max-deleted-entry-id"); 0-0 when none.
  StreamPosition max_deleted;
  // Whether entries were ever removed ("entries-added" above "length"): trimming
  // takes the oldest, so then nothing before `first_kept` is known to be there.
  bool entries_removed = false;
  // The oldest entry kept ("recorded-first-entry-id"); unset when none is.
  std::optional<StreamPosition> first_kept;
  // The first entry after the cursor in question, when there is one.
  std::optional<StreamPosition> next;
};

// Returns OK when every event after `cursor` is kept; OUT_OF_RANGE telling the
// client to resynchronise when trimming has passed the cursor (events after it are
// gone), when the next event after it is older than `retention` (what is kept is
// not promised any longer, and trimming may take it any moment), or when the
// cursor lies beyond anything the stream ever held (the stream was reset). A cursor
// that is merely old — a quiet municipality, a client away for a week — is fine
// as long as what came after it is kept.
absl::Status CheckCursorInRange(absl::string_view municipality, StreamPosition cursor,
                                const StreamExtent& extent, absl::Time now,
                                absl::Duration retention);

}  // namespace samplan::events

#endif  // SAMPLAN_SERVICES_EVENTS_DELIVERY_RULES_H_
