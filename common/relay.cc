#include "common/relay.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/outbox.h"
#include "common/pg.h"
#include "common/status.h"

namespace samplan {
namespace {

struct PendingRow {
  int64_t id = 0;
  std::string event_id;
  std::string municipality;
  std::string event_type;
  std::string envelope;
  int64_t access_version = 0;
  int64_t stream_ms = 0;
  int64_t stream_seq = 0;

  std::string StreamId() const { return absl::StrCat(stream_ms, "-", stream_seq); }
};

// Appends entries to one stream with their explicit ids, in order, and stops at
// the first refusal. KEYS[1] is the stream, ARGV[1] the MINID threshold, then six
// values per entry: id, event id, type, envelope, access version, MAC. Returns
// {entries written, the refusal or ""}.
constexpr char kAppendInOrderScript[] = R"lua(
local written = 0
for i = 2, #ARGV, 6 do
  local reply = redis.pcall('XADD', KEYS[1], 'MINID', '~', ARGV[1], ARGV[i],
                            'event_id', ARGV[i + 1], 'type', ARGV[i + 2], 'event', ARGV[i + 3],
                            'access_version', ARGV[i + 4], 'mac', ARGV[i + 5])
  if type(reply) == 'table' and reply.err then return {written, reply.err} end
  written = written + 1
end
return {written, ''}
)lua";

// A channel nobody needs to listen to: publishing on it is a write that reaches
// the replicas, see step 2b.
constexpr char kRelaySyncChannelPrefix[] = "samplan:relay:";

std::string ArrayLiteral(const std::vector<int64_t>& values) {
  return absl::StrCat("{", absl::StrJoin(values, ","), "}");
}

}  // namespace

OutboxRelay::OutboxRelay(RelayOptions options, std::string pg_dsn, RedisOptions redis,
                         const Clock& clock)
    : options_(std::move(options)), dsn_(std::move(pg_dsn)), clock_(clock),
      redis_(std::move(redis)) {
  Metrics& metrics = Metrics::Global();
  metrics.Describe("samplan_outbox_published_total", "counter",
                   "Events the relay put on their municipality's stream.");
  metrics.Describe("samplan_outbox_batch_failures_total", "counter",
                   "Relay rounds that failed (database or Redis unavailable) and were retried.");
  metrics.Describe("samplan_outbox_reassigned_total", "counter",
                   "Times another writer had passed this relay on a stream, so that waiting "
                   "events were given new ids (in order).");
  metrics.Describe("samplan_outbox_oldest_event_age_seconds", "gauge",
                   "Age of the oldest committed event not yet on its stream.");
}

OutboxRelay::~OutboxRelay() { Stop(); }

void OutboxRelay::DropConnection() {
  connection_.reset();
  leader_ = false;
  positions_.clear();
}

absl::Status OutboxRelay::EnsureLeader() {
  if (connection_ != nullptr && !connection_->is_open()) DropConnection();
  if (connection_ == nullptr) {
    absl::StatusOr<std::unique_ptr<pqxx::connection>> connection =
        OpenConnection(dsn_, absl::StrCat("samplan-relay-", options_.schema));
    if (!connection.ok()) return connection.status();
    connection_ = *std::move(connection);
    pqxx::nontransaction(*connection_).exec("SET statement_timeout = 30000");
  }
  if (leader_) return absl::OkStatus();
  pqxx::nontransaction tx(*connection_);
  // A session lock: released by PostgreSQL when this connection ends, so a
  // crashed relay hands over to another replica's without anyone's help.
  pqxx::row row = tx.exec_params1("SELECT pg_try_advisory_lock(hashtext($1))",
                                  absl::StrCat("samplan.relay.", options_.schema));
  leader_ = row[0].as<bool>();
  if (leader_) {
    Log(LogLevel::kInfo, "outbox relay became the active one", {{"schema", options_.schema}});
  }
  return absl::OkStatus();
}

absl::StatusOr<OutboxRelay::StreamPosition> OutboxRelay::LastPosition(
    pqxx::transaction_base& tx, const std::string& municipality) {
  StreamPosition position;
  pqxx::result rows = tx.exec_params(
      absl::StrCat("SELECT stream_ms, stream_seq FROM ", options_.schema,
                   ".outbox WHERE municipality = $1 AND stream_ms IS NOT NULL "
                   "ORDER BY stream_ms DESC, stream_seq DESC LIMIT 1"),
      municipality);
  // Published rows are gone; the stream remembers the last id it generated, even
  // when its entries were trimmed.
  if (!rows.empty()) {
    position.ms = rows[0][0].as<int64_t>();
    position.seq = rows[0][1].as<int64_t>();
  }
  absl::StatusOr<RedisReply> info = redis_.Command({"XINFO", "STREAM", EventStreamKey(municipality)});
  if (!info.ok()) return info.status();
  if (info->type == RedisReply::Type::kArray) {
    for (size_t i = 0; i + 1 < info->elements.size(); i += 2) {
      if (info->elements[i].text == "last-generated-id") {
        std::pair<std::string, std::string> parts =
            absl::StrSplit(info->elements[i + 1].text, absl::MaxSplits('-', 1));
        StreamPosition redis_position;
        if (absl::SimpleAtoi(parts.first, &redis_position.ms) &&
            absl::SimpleAtoi(parts.second, &redis_position.seq) &&
            std::tie(redis_position.ms, redis_position.seq) >
                std::tie(position.ms, position.seq)) {
          position = redis_position;
        }
      }
    }
  }
  return position;
}

absl::StatusOr<int> OutboxRelay::PublishOnce() {
  try {
    if (absl::Status leader = EnsureLeader(); !leader.ok()) return leader;
    if (!leader_) {
      // The active relay, elsewhere, reports the lag; a stale figure here would
      // mask or fake an alert.
      Metrics::Global().Set("samplan_outbox_oldest_event_age_seconds", 0);
      return 0;
    }

    // 1. Read a batch: rows that already have a stream id first, in stream order
    //    (an earlier attempt stored their ids), then new rows in insertion order;
    //    give the new ones their ids and store them before anything is sent.
    std::vector<PendingRow> rows;
    {
      pqxx::work tx(*connection_);
      pqxx::result result = tx.exec_params(
          absl::StrCat("SELECT id, event_id::text, municipality, event_type, envelope, "
                       "stream_ms, stream_seq, "
                       "extract(epoch FROM clock_timestamp() - created_at)::float8, "
                       "access_version FROM ",
                       options_.schema, ".outbox ORDER BY stream_ms, stream_seq, id LIMIT $1"),
          options_.batch_size);
      // How far behind the stream is: the age of the oldest waiting event. An
      // operator's alert belongs on this, not on error logs.
      double oldest_age = 0;
      for (const pqxx::row& r : result) oldest_age = std::max(oldest_age, r[7].as<double>());
      Metrics::Global().Set("samplan_outbox_oldest_event_age_seconds", oldest_age);
      if (result.empty()) return 0;
      std::vector<int64_t> ids, ms, seq;
      const int64_t now_ms = absl::ToUnixMillis(clock_.Now());
      for (const pqxx::row& r : result) {
        PendingRow row;
        row.id = r[0].as<int64_t>();
        row.event_id = r[1].as<std::string>();
        row.municipality = r[2].as<std::string>();
        row.event_type = r[3].as<std::string>();
        row.envelope = pqxx::binarystring(r[4]).str();
        row.access_version = r[8].as<int64_t>();
        if (!r[5].is_null()) {  // given an id by an earlier round
          row.stream_ms = r[5].as<int64_t>();
          row.stream_seq = r[6].as<int64_t>();
        } else {
          auto it = positions_.find(row.municipality);
          if (it == positions_.end()) {
            absl::StatusOr<StreamPosition> last = LastPosition(tx, row.municipality);
            if (!last.ok()) return last.status();
            it = positions_.emplace(row.municipality, *last).first;
          }
          StreamPosition& last = it->second;
          if (now_ms > last.ms) {
            last = {now_ms, 0};
          } else {
            ++last.seq;
          }
          row.stream_ms = last.ms;
          row.stream_seq = last.seq;
          ids.push_back(row.id);
          ms.push_back(row.stream_ms);
          seq.push_back(row.stream_seq);
        }
        rows.push_back(std::move(row));
      }
      if (!ids.empty()) {
        tx.exec_params(absl::StrCat("UPDATE ", options_.schema,
                                    ".outbox AS o SET stream_ms = v.ms, stream_seq = v.seq "
                                    "FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) "
                                    "AS v(id, ms, seq) WHERE o.id = v.id"),
                       ArrayLiteral(ids), ArrayLiteral(ms), ArrayLiteral(seq));
      }
      tx.commit();
    }

    // 2. Write each municipality's entries, in stream order, with their explicit
    //    ids. The script stops at the first refusal, so a later version of a plan
    //    is never on the stream before an earlier one that failed.
    std::vector<std::string> municipalities;
    absl::flat_hash_map<std::string, std::vector<const PendingRow*>> by_municipality;
    for (const PendingRow& row : rows) {
      auto& group = by_municipality[row.municipality];
      if (group.empty()) municipalities.push_back(row.municipality);
      group.push_back(&row);
    }
    std::vector<int64_t> published;
    std::vector<std::string> reassign;  // streams another writer has moved past
    absl::Status refused;
    for (const std::string& municipality : municipalities) {
      const std::vector<const PendingRow*>& group = by_municipality[municipality];
      const std::string key = EventStreamKey(municipality);
      size_t next = 0;
      while (next < group.size()) {
        // Old entries fall off the stream once past retention, measured from the
        // entries' own ids rather than this machine's clock.
        const int64_t min_id_ms = std::max<int64_t>(
            0, group[next]->stream_ms - absl::ToInt64Milliseconds(options_.stream_retention));
        std::vector<std::string> command = {"EVAL", kAppendInOrderScript, "1", key,
                                            absl::StrCat(min_id_ms)};
        for (size_t i = next; i < group.size(); ++i) {
          const PendingRow& row = *group[i];
          const std::string access_version = absl::StrCat(row.access_version);
          command.insert(command.end(),
                         {row.StreamId(), row.event_id, row.event_type, row.envelope,
                          access_version,
                          options_.stream_keys.Sign(key, row.event_id, row.event_type,
                                                    row.envelope, access_version)});
        }
        absl::StatusOr<RedisReply> reply = redis_.Command(command);
        if (!reply.ok()) return reply.status();
        if (reply->type != RedisReply::Type::kArray || reply->elements.size() != 2) {
          return absl::InternalError(absl::StrCat("unexpected reply from the append script: ",
                                                  reply->text));
        }
        const size_t written = static_cast<size_t>(reply->elements[0].integer);
        for (size_t i = next; i < next + written; ++i) published.push_back(group[i]->id);
        next += written;
        if (next == group.size()) break;
        const PendingRow& row = *group[next];
        const std::string& error = reply->elements[1].text;
        if (!absl::StrContains(error, "equal or smaller")) {
          // Redis would not take it now (out of memory, read-only replica, …): the
          // rest of this stream waits for the next round, with the same ids.
          refused = absl::UnavailableError(absl::StrCat("Redis refused an event: ", error));
          // A replica (a demoted primary) is left, to find the primary again.
          if (absl::StartsWith(error, "READONLY")) redis_.Reconnect();
          break;
        }
        // Either written by an earlier attempt that died before deleting its row, or
        // the stream has moved past this id without it. The entry at the id decides.
        absl::StatusOr<RedisReply> existing =
            redis_.Command({"XRANGE", key, row.StreamId(), row.StreamId()});
        if (!existing.ok()) return existing.status();
        std::vector<StreamEntry> entries = ParseStreamEntries(*existing);
        if (!entries.empty() && entries[0].Field("event_id") == row.event_id) {
          published.push_back(row.id);
          ++next;
          continue;
        }
        // Not there: another writer's entries have passed this id (or the entry was
        // trimmed after a very long stop). This event and the later ones of the
        // stream get new ids above the stream's last in the next round, in order.
        reassign.push_back(municipality);
        break;
      }
    }

    // 2b. What was written must be on enough replicas before its row goes: a
    //     primary lost after answering would otherwise take it along. Entries
    //     recognized rather than written were perhaps written by a connection
    //     that is gone, and WAIT only covers writes up to this connection's
    //     write position. Redis 7.0 moves it after every command; for servers
    //     that move it only for commands that reach the replicas, the PUBLISH
    //     (which does) moves it to the primary's current offset.
    if (options_.min_replicas > 0 && !published.empty()) {
      absl::StatusOr<std::vector<RedisReply>> replies = redis_.Pipeline(
          {{"PUBLISH", absl::StrCat(kRelaySyncChannelPrefix, options_.schema), "wait"},
           {"WAIT", absl::StrCat(options_.min_replicas),
            absl::StrCat(absl::ToInt64Milliseconds(options_.replica_timeout))}});
      if (!replies.ok()) return replies.status();
      const RedisReply& acknowledged = (*replies)[1];
      if (acknowledged.type != RedisReply::Type::kInteger ||
          acknowledged.integer < options_.min_replicas) {
        // Nothing is deleted or given new ids; the next round starts over from
        // the rows, which still hold their ids.
        return absl::UnavailableError(absl::StrCat(
            "stream entries reached ", acknowledged.integer, " of ", options_.min_replicas,
            " required Redis replicas ", acknowledged.text));
      }
    }

    // 3. Delete what is on the streams, and drop the ids of what must be given new
    //    ones; the outbox holds only what is not on a stream.
    {
      pqxx::work tx(*connection_);
      if (!published.empty()) {
        tx.exec_params(absl::StrCat("DELETE FROM ", options_.schema,
                                    ".outbox WHERE id = ANY($1::bigint[])"),
                       ArrayLiteral(published));
      }
      if (!reassign.empty()) {
        tx.exec_params(absl::StrCat("UPDATE ", options_.schema,
                                    ".outbox SET stream_ms = NULL, stream_seq = NULL "
                                    "WHERE municipality = ANY($1::text[]) "
                                    "AND stream_ms IS NOT NULL"),
                       PgTextArray(reassign));
      }
      tx.commit();
    }
    for (const std::string& municipality : reassign) positions_.erase(municipality);
    const std::string schema_label = absl::StrCat("schema=\"", options_.schema, "\"");
    Metrics::Global().Add("samplan_outbox_published_total", schema_label,
                          static_cast<int64_t>(published.size()));
    if (!reassign.empty()) {
      Metrics::Global().Add("samplan_outbox_reassigned_total", schema_label,
                            static_cast<int64_t>(reassign.size()));
      Log(LogLevel::kWarning, "another writer passed this relay on a stream; new ids follow",
          {{"schema", options_.schema}, {"streams", static_cast<int64_t>(reassign.size())}});
    }
    if (!refused.ok()) return refused;
    return static_cast<int>(published.size());
  } catch (const std::exception& e) {
    Metrics::Global().Add("samplan_outbox_batch_failures_total",
                          absl::StrCat("schema=\"", options_.schema, "\""));
    Log(LogLevel::kWarning, "outbox relay batch failed",
        {{"schema", options_.schema}, {"error", ErrorSummary(e)}});
    DropConnection();
    return StatusFromException(e);
  }
}

absl::StatusOr<int64_t> OutboxRelay::Backlog() {
  try {
    auto connection = OpenConnection(dsn_, "samplan-relay-backlog");
    if (!connection.ok()) return connection.status();
    pqxx::nontransaction tx(**connection);
    return tx.exec(absl::StrCat("SELECT count(*) FROM ", options_.schema, ".outbox"))[0][0]
        .as<int64_t>();
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

void OutboxRelay::Loop() {
  absl::Duration backoff = absl::Milliseconds(100);
  while (!stopped_.HasBeenNotified()) {
    absl::StatusOr<int> published = PublishOnce();
    if (!published.ok()) {
      const absl::Duration pause = backoff;
      backoff = std::min(backoff * 2, absl::Seconds(5));
      if (stopped_.WaitForNotificationWithTimeout(pause)) break;
      continue;
    }
    backoff = absl::Milliseconds(100);
    if (*published >= options_.batch_size) continue;  // more is waiting
    if (!leader_) {
      if (stopped_.WaitForNotificationWithTimeout(absl::Seconds(1))) break;
      continue;
    }
    // Until the next poll, or until a commit in this process wakes it.
    absl::MutexLock lock(&wake_mu_);
    wake_mu_.AwaitWithTimeout(absl::Condition(&woken_), options_.poll_interval);
    woken_ = false;
  }
}

void OutboxRelay::Wake() {
  absl::MutexLock lock(&wake_mu_);
  woken_ = true;
}

void OutboxRelay::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void OutboxRelay::Stop() {
  if (!stopped_.HasBeenNotified()) stopped_.Notify();
  Wake();
  if (thread_.joinable()) thread_.join();
}

}  // namespace samplan
