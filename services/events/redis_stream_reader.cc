#include "services/events/redis_stream_reader.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/outbox.h"

namespace samplan::events {

RedisStreamReader::RedisStreamReader(RedisOptions options, StreamKeys keys)
    : redis_(std::move(options)), keys_(std::move(keys)) {
  Metrics::Global().Describe(
      "samplan_events_unauthentic_total", "counter",
      "Stream entries refused because their MAC did not verify (missing, wrong, or made "
      "for another stream), counted each time one is read.");
}

StreamReaderFactory RedisStreamReader::Factory(RedisOptions options, StreamKeys keys) {
  return [options = std::move(options), keys = std::move(keys)]() -> std::unique_ptr<StreamReader> {
    return std::make_unique<RedisStreamReader>(options, keys);
  };
}

std::vector<StreamEntry> RedisStreamReader::Authentic(const std::string& municipality,
                                                      std::vector<StreamEntry> entries) const {
  const std::string stream = EventStreamKey(municipality);
  for (StreamEntry& entry : entries) {
    if (keys_.Verify(stream, entry)) continue;
    Metrics::Global().Add("samplan_events_unauthentic_total", "");
    Log(LogLevel::kWarning, "stream entry without a valid MAC refused",
        {{"municipality", municipality}, {"position", entry.id}});
    entry.fields.clear();
  }
  return entries;
}

absl::StatusOr<std::vector<StreamEntry>> RedisStreamReader::ReadAfter(
    const std::string& municipality, std::optional<StreamPosition> after, int count) {
  absl::StatusOr<RedisReply> reply = redis_.Command(
      {"XRANGE", EventStreamKey(municipality),
       after.has_value() ? absl::StrCat("(", after->ToString()) : "-", "+", "COUNT",
       absl::StrCat(count)});
  if (!reply.ok()) return reply.status();
  if (reply->is_error()) return absl::UnavailableError(absl::StrCat("XRANGE: ", reply->text));
  return Authentic(municipality, ParseStreamEntries(*reply));
}

absl::StatusOr<StreamExtent> RedisStreamReader::ReadExtent(const std::string& municipality,
                                                           std::optional<StreamPosition> after) {
  absl::StatusOr<RedisReply> info =
      redis_.Command({"XINFO", "STREAM", EventStreamKey(municipality)});
  if (!info.ok()) return info.status();
  StreamExtent extent;
  if (info->is_error()) {
    if (absl::StrContains(info->text, "no such key")) return extent;
    return absl::UnavailableError(absl::StrCat("XINFO STREAM: ", info->text));
  }
  long long length = 0, added = 0;
  for (size_t i = 0; i + 1 < info->elements.size(); i += 2) {
    const std::string& field = info->elements[i].text;
    if (field == "length") {
      length = info->elements[i + 1].integer;
    } else if (field == "entries-added") {
      added = info->elements[i + 1].integer;
    } else if (field == "recorded-first-entry-id") {
      if (std::optional<StreamPosition> first = StreamPosition::Parse(info->elements[i + 1].text);
          first.has_value() && !(*first == StreamPosition{})) {
        extent.first_kept = first;
      }
    } else if (field == "last-generated-id") {
      extent.last_generated =
          StreamPosition::Parse(info->elements[i + 1].text).value_or(StreamPosition{});
    } else if (field == "max-deleted-entry-id") {
      extent.max_deleted =
          StreamPosition::Parse(info->elements[i + 1].text).value_or(StreamPosition{});
    }
  }
  extent.entries_removed = added > length;
  if (length == 0) extent.first_kept.reset();
  if (after.has_value()) {
    absl::StatusOr<std::vector<StreamEntry>> next = ReadAfter(municipality, after, 1);
    if (!next.ok()) return next.status();
    if (!next->empty()) extent.next = StreamPosition::Parse((*next)[0].id);
  }
  return extent;
}

absl::StatusOr<std::vector<StreamEntry>> RedisStreamReader::WaitAfter(
    const std::string& municipality, StreamPosition after, int count, absl::Duration timeout) {
  absl::StatusOr<RedisReply> reply = redis_.Command(
      {"XREAD", "COUNT", absl::StrCat(count), "BLOCK",
       absl::StrCat(absl::ToInt64Milliseconds(timeout)), "STREAMS",
       EventStreamKey(municipality), after.ToString()});
  if (!reply.ok()) return reply.status();
  if (reply->is_error()) return absl::UnavailableError(absl::StrCat("XREAD: ", reply->text));
  if (reply->type != RedisReply::Type::kArray || reply->elements.empty() ||
      reply->elements[0].elements.size() != 2) {
    return std::vector<StreamEntry>();  // nothing new within the block time
  }
  return Authentic(municipality, ParseStreamEntries(reply->elements[0].elements[1]));
}

}  // namespace samplan::events
