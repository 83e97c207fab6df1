#include "common/event_consumer.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/outbox.h"

namespace samplan {
namespace {

constexpr char kRecordStatement[] = "samplan_processed_events_record";
constexpr char kForgetStatement[] = "samplan_processed_events_forget";

std::string DeadLetterKey(absl::string_view stream, absl::string_view group) {
  return absl::StrCat(stream, ":dead:", group);
}

std::string Millis(absl::Duration duration) {
  return absl::StrCat(std::max<int64_t>(0, absl::ToInt64Milliseconds(duration)));
}

// A failure of the database itself, as opposed to the handler refusing an event:
// the round stops and the event waits, without it counting as the handler's fault.
bool IsInfrastructureFailure(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

}  // namespace

ProcessedEvents::ProcessedEvents(std::string schema)
    : record_sql_(absl::StrCat("INSERT INTO ", schema,
                               ".processed_events (event_id, stream, processed_at) "
                               "VALUES ($1, $2, $3) ON CONFLICT (event_id) DO NOTHING")),
      forget_sql_(absl::StrCat("DELETE FROM ", schema,
                               ".processed_events WHERE processed_at < $1")) {}

std::vector<PreparedStatement> ProcessedEvents::statements() const {
  return {{kRecordStatement, record_sql_.c_str()}, {kForgetStatement, forget_sql_.c_str()}};
}

bool ProcessedEvents::Record(pqxx::transaction_base& tx, absl::string_view event_id,
                             absl::string_view stream, absl::Time processed_at) const {
  return tx.exec_prepared(kRecordStatement, std::string(event_id), std::string(stream),
                          PgTimestamp(processed_at))
             .affected_rows() == 1;
}

int64_t ProcessedEvents::ForgetBefore(pqxx::transaction_base& tx, absl::Time cutoff) const {
  return tx.exec_prepared(kForgetStatement, PgTimestamp(cutoff)).affected_rows();
}

EventConsumer::EventConsumer(EventConsumerOptions options, RedisOptions redis, PgPool& pool,
                             const ProcessedEvents& processed, EventHandler handler,
                             const Clock& clock)
    : options_(std::move(options)),
      labels_(absl::StrCat("group=\"", options_.group, "\"")),
      clock_(clock),
      redis_(std::move(redis)),
      pool_(pool),
      processed_(processed),
      handler_(std::move(handler)) {
  Metrics& metrics = Metrics::Global();
  metrics.Describe("samplan_events_consumed_total", "counter",
                   "Events whose handler committed, per consumer group.");
  metrics.Describe("samplan_events_duplicates_total", "counter",
                   "Deliveries dropped because the event id was processed before.");
  metrics.Describe("samplan_events_reclaimed_total", "counter",
                   "Pending entries taken over from a consumer idle longer than min-idle.");
  metrics.Describe("samplan_events_handler_failures_total", "counter",
                   "Handler attempts that failed and left the event pending for another.");
  metrics.Describe("samplan_events_dead_lettered_total", "counter",
                   "Events moved to the dead-letter stream: unparsable, or delivered "
                   "max-deliveries times without a commit.");
  metrics.Describe("samplan_events_unauthentic_total", "counter",
                   "Stream entries refused because their MAC did not verify (missing, wrong, "
                   "or made for another stream).");
  metrics.Describe("samplan_events_consumer_failures_total", "counter",
                   "Consumer rounds stopped by Redis or PostgreSQL being unavailable.");
}

EventConsumer::~EventConsumer() { Stop(); }

absl::Status EventConsumer::RedisFailed(absl::Status status) {
  // Whatever was read and not acknowledged stays pending under this consumer's
  // name; only a read from id 0 returns it to the same consumer. And a Redis that
  // lost its data lost the groups too.
  groups_ready_ = false;
  return status;
}

absl::Status EventConsumer::EnsureGroups() {
  for (const std::string& municipality : options_.municipalities) {
    const std::string stream = EventStreamKey(municipality);
    absl::StatusOr<RedisReply> reply = redis_.Command(
        {"XGROUP", "CREATE", stream, options_.group,
         options_.start == GroupStart::kNewEvents ? "$" : "0", "MKSTREAM"});
    if (!reply.ok()) return RedisFailed(reply.status());
    if (reply->is_error() && !absl::StartsWith(reply->text, "BUSYGROUP")) {
      return absl::InternalError(absl::StrCat("XGROUP CREATE failed: ", reply->text));
    }
    history_from_[stream] = "0";
  }
  groups_ready_ = true;
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, int64_t>> EventConsumer::DeliveryCounts(
    const std::string& stream, const std::vector<StreamEntry>& entries) {
  std::map<std::string, int64_t> counts;
  if (entries.empty()) return counts;
  // Entries come in id order, so one range covers them all.
  absl::StatusOr<RedisReply> reply =
      redis_.Command({"XPENDING", stream, options_.group, entries.front().id, entries.back().id,
                      absl::StrCat(entries.size()), options_.consumer});
  if (!reply.ok()) return RedisFailed(reply.status());
  if (reply->is_error()) return absl::InternalError(absl::StrCat("XPENDING: ", reply->text));
  for (const RedisReply& item : reply->elements) {
    if (item.elements.size() == 4) counts[item.elements[0].text] = item.elements[3].integer;
  }
  return counts;
}

absl::StatusOr<EventConsumer::Outcome> EventConsumer::Handle(const std::string& stream,
                                                             const events::v1::Event& event) {
  bool duplicate = false;
  absl::Status refused;
  absl::Status committed = pool_.Transaction(
      absl::Now() + options_.transaction_timeout, [&](pqxx::transaction_base& tx) {
        if (!processed_.Record(tx, event.event_id(), stream, clock_.Now())) {
          duplicate = true;
          return absl::OkStatus();
        }
        refused = handler_(tx, event);
        return refused;
      });
  if (committed.ok()) return duplicate ? Outcome::kDuplicate : Outcome::kHandled;
  if (refused.ok() && IsInfrastructureFailure(committed)) return committed;
  Metrics::Global().Add("samplan_events_handler_failures_total", labels_);
  const absl::Status& reason = refused.ok() ? committed : refused;
  Log(LogLevel::kWarning, "event handler failed; the event stays pending",
      {{"group", options_.group},
       {"event_id", event.event_id()},
       {"type", event.type()},
       {"code", absl::StatusCodeToString(reason.code())},
       {"error", reason.message()}});
  return Outcome::kFailed;
}

absl::Status EventConsumer::DeadLetter(const std::string& stream, const StreamEntry& entry,
                                       absl::string_view event_id, absl::string_view type,
                                       int64_t deliveries, absl::string_view reason) {
  // Copy and acknowledgement in one transaction: the event is in exactly one of
  // the two places, whatever fails.
  absl::StatusOr<std::vector<RedisReply>> replies = redis_.Pipeline(
      {{"MULTI"},
       {"XADD", DeadLetterKey(stream, options_.group), "*", "event_id", std::string(event_id),
        "type", std::string(type), "stream", stream, "entry_id", entry.id, "deliveries",
        absl::StrCat(deliveries), "reason", std::string(reason), "event", entry.Field("event"),
        // Kept as they were, so that a replay onto the stream verifies again.
        "access_version", entry.Field("access_version"), kStreamMacField,
        entry.Field(kStreamMacField)},
       {"XACK", stream, options_.group, entry.id},
       {"EXEC"}});
  if (!replies.ok()) return RedisFailed(replies.status());
  const RedisReply& exec = replies->back();
  if (exec.type != RedisReply::Type::kArray) {
    return absl::InternalError(absl::StrCat("dead-lettering failed: ", exec.text));
  }
  Metrics::Global().Add("samplan_events_dead_lettered_total", labels_);
  Log(LogLevel::kError, "event moved to the dead-letter stream",
      {{"group", options_.group},
       {"entry_id", entry.id},
       {"event_id", event_id},
       {"type", type},
       {"deliveries", deliveries},
       {"reason", reason}});
  return absl::OkStatus();
}

absl::StatusOr<int> EventConsumer::Settle(const std::string& stream,
                                          const std::vector<StreamEntry>& entries,
                                          const std::map<std::string, int64_t>& deliveries) {
  std::vector<std::string> ack = {"XACK", stream, options_.group};
  int dead_lettered = 0;
  // Acknowledges what was settled so far, also when the round stops half-way: the
  // rest is re-read from this consumer's pending entries.
  auto acknowledge = [&]() -> absl::StatusOr<int> {
    if (ack.size() > 3) {
      absl::StatusOr<RedisReply> reply = redis_.Command(ack);
      if (!reply.ok()) return RedisFailed(reply.status());
      if (reply->is_error()) return absl::InternalError(absl::StrCat("XACK: ", reply->text));
    }
    return static_cast<int>(ack.size() - 3) + dead_lettered;
  };
  for (const StreamEntry& entry : entries) {
    if (entry.fields.empty()) {
      // Trimmed from the stream (retention) while pending: nothing left to handle.
      Log(LogLevel::kWarning, "a pending entry was trimmed before it was handled",
          {{"group", options_.group}, {"stream", stream}, {"entry_id", entry.id}});
      ack.push_back(entry.id);
      continue;
    }
    auto it = deliveries.find(entry.id);
    const int64_t delivered = it == deliveries.end() ? 1 : it->second;
    events::v1::Event event;
    absl::Status settled;
    if (!options_.stream_keys.Verify(stream, entry)) {
      // Not appended by a relay of ours: nothing of it is acted on. Named by entry
      // id only, as its own event id and type are not to be believed.
      Metrics::Global().Add("samplan_events_unauthentic_total", labels_);
      settled = DeadLetter(stream, entry, "", "", delivered, "unauthentic");
      if (settled.ok()) ++dead_lettered;
    } else if (!event.ParseFromString(entry.Field("event")) || event.event_id().empty()) {
      settled = DeadLetter(stream, entry, entry.Field("event_id"), entry.Field("type"),
                           delivered, "unparsable");
      if (settled.ok()) ++dead_lettered;
    } else if (delivered > options_.max_deliveries) {
      settled = DeadLetter(stream, entry, event.event_id(), event.type(), delivered,
                           "too many deliveries");
      if (settled.ok()) ++dead_lettered;
    } else {
      absl::StatusOr<Outcome> outcome = Handle(stream, event);
      if (!outcome.ok()) {
        settled = outcome.status();
      } else if (*outcome == Outcome::kHandled) {
        Metrics::Global().Add("samplan_events_consumed_total", labels_);
        ack.push_back(entry.id);
      } else if (*outcome == Outcome::kDuplicate) {
        Metrics::Global().Add("samplan_events_duplicates_total", labels_);
        ack.push_back(entry.id);
      }
      // kFailed: left pending; reclaimed after min_idle, by this consumer or another.
    }
    if (!settled.ok()) {
      // PostgreSQL or Redis is away. The rest of the batch stays pending under this
      // consumer's name, and only a read from id 0 returns it here.
      absl::StatusOr<int> done = acknowledge();
      for (const std::string& municipality : options_.municipalities) {
        history_from_[EventStreamKey(municipality)] = "0";
      }
      return done.ok() ? settled : done.status();
    }
  }
  return acknowledge();
}

absl::Status EventConsumer::Reclaim() {
  for (const std::string& municipality : options_.municipalities) {
    const std::string stream = EventStreamKey(municipality);
    std::string cursor = "0-0";
    do {
      absl::StatusOr<RedisReply> reply = redis_.Command(
          {"XAUTOCLAIM", stream, options_.group, options_.consumer, Millis(options_.min_idle),
           cursor, "COUNT", absl::StrCat(options_.batch_size)});
      if (!reply.ok()) return RedisFailed(reply.status());
      if (reply->is_error() || reply->elements.size() < 2) {
        if (absl::StartsWith(reply->text, "NOGROUP")) groups_ready_ = false;
        return absl::InternalError(absl::StrCat("XAUTOCLAIM: ", reply->text));
      }
      cursor = reply->elements[0].text;
      // Redis 7 drops entries that were trimmed while pending from the group and
      // names them here; there is nothing left of them to handle.
      if (reply->elements.size() > 2 && !reply->elements[2].elements.empty()) {
        Log(LogLevel::kWarning, "pending entries were trimmed before they were handled",
            {{"group", options_.group},
             {"stream", stream},
             {"entries", static_cast<int64_t>(reply->elements[2].elements.size())}});
      }
      std::vector<StreamEntry> entries = ParseStreamEntries(reply->elements[1]);
      if (entries.empty()) continue;
      Metrics::Global().Add("samplan_events_reclaimed_total", labels_,
                            static_cast<int64_t>(entries.size()));
      absl::StatusOr<std::map<std::string, int64_t>> counts = DeliveryCounts(stream, entries);
      if (!counts.ok()) return counts.status();
      absl::StatusOr<int> settled = Settle(stream, entries, *counts);
      if (!settled.ok()) return settled.status();
    } while (cursor != "0-0");
  }
  next_reclaim_ = clock_.Now() + options_.reclaim_interval;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<std::string, std::vector<StreamEntry>>>>
EventConsumer::Read() {
  const bool history = !history_from_.empty();
  std::vector<std::string> command = {"XREADGROUP", "GROUP", options_.group, options_.consumer,
                                      "COUNT", absl::StrCat(options_.batch_size)};
  // Own pending entries come back at once; only new ones are worth waiting for.
  if (!history) command.insert(command.end(), {"BLOCK", Millis(options_.block)});
  command.push_back("STREAMS");
  std::vector<std::string> ids;
  if (history) {
    for (const auto& [stream, from] : history_from_) {
      command.push_back(stream);
      ids.push_back(from);
    }
  } else {
    for (const std::string& municipality : options_.municipalities) {
      command.push_back(EventStreamKey(municipality));
      ids.push_back(">");
    }
  }
  command.insert(command.end(), ids.begin(), ids.end());
  absl::StatusOr<RedisReply> reply = redis_.Command(command);
  if (!reply.ok()) return RedisFailed(reply.status());
  if (reply->is_error()) {
    if (absl::StartsWith(reply->text, "NOGROUP")) groups_ready_ = false;
    return absl::InternalError(absl::StrCat("XREADGROUP: ", reply->text));
  }
  std::vector<std::pair<std::string, std::vector<StreamEntry>>> batches;
  std::map<std::string, std::string> history_next;
  for (const RedisReply& item : reply->elements) {  // none when the wait timed out
    if (item.elements.size() != 2) continue;
    std::vector<StreamEntry> entries = ParseStreamEntries(item.elements[1]);
    if (entries.empty()) continue;
    if (history) history_next[item.elements[0].text] = entries.back().id;
    batches.emplace_back(item.elements[0].text, std::move(entries));
  }
  // A stream whose history came back empty has none left.
  if (history) history_from_ = std::move(history_next);
  return batches;
}

absl::StatusOr<int> EventConsumer::ConsumeOnce() {
  absl::Status status = absl::OkStatus();
  if (!groups_ready_) status = EnsureGroups();
  if (status.ok() && clock_.Now() >= next_reclaim_) status = Reclaim();
  if (!status.ok()) {
    Metrics::Global().Add("samplan_events_consumer_failures_total", labels_);
    return status;
  }
  const bool history = !history_from_.empty();
  absl::StatusOr<std::vector<std::pair<std::string, std::vector<StreamEntry>>>> batches = Read();
  if (!batches.ok()) {
    Metrics::Global().Add("samplan_events_consumer_failures_total", labels_);
    return batches.status();
  }
  int settled = 0;
  for (const auto& [stream, entries] : *batches) {
    absl::StatusOr<std::map<std::string, int64_t>> counts =
        history ? DeliveryCounts(stream, entries) : std::map<std::string, int64_t>();
    absl::StatusOr<int> done = counts.ok() ? Settle(stream, entries, *counts) : counts.status();
    if (!done.ok()) {
      Metrics::Global().Add("samplan_events_consumer_failures_total", labels_);
      return done.status();
    }
    settled += *done;
  }
  return settled;
}

absl::StatusOr<int64_t> EventConsumer::PruneProcessed() {
  int64_t forgotten = 0;
  absl::Status status = pool_.Transaction(
      absl::Now() + options_.transaction_timeout, [&](pqxx::transaction_base& tx) {
        forgotten = processed_.ForgetBefore(tx, clock_.Now() - options_.processed_retention);
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return forgotten;
}

void EventConsumer::Loop() {
  absl::Duration backoff = absl::Milliseconds(100);
  absl::Time next_prune = clock_.Now();
  while (!stopped_.HasBeenNotified()) {
    absl::StatusOr<int> settled = ConsumeOnce();
    if (!settled.ok()) {
      Log(LogLevel::kWarning, "event consumer round failed; retrying",
          {{"group", options_.group},
           {"code", absl::StatusCodeToString(settled.status().code())},
           {"error", settled.status().message()}});
      if (stopped_.WaitForNotificationWithTimeout(backoff)) break;
      backoff = std::min(backoff * 2, absl::Seconds(5));
      continue;
    }
    backoff = absl::Milliseconds(100);
    if (clock_.Now() >= next_prune) {
      absl::StatusOr<int64_t> pruned = PruneProcessed();
      if (pruned.ok()) next_prune = clock_.Now() + options_.prune_interval;
    }
  }
}

void EventConsumer::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void EventConsumer::Stop() {
  if (!stopped_.HasBeenNotified()) stopped_.Notify();
  if (thread_.joinable()) thread_.join();
}

}  // namespace samplan
