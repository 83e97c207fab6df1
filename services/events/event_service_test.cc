// Tier 2: the event service in-process on port 0 with a real client, over
// streams held in memory (a StreamReader of this file's) and a stand-in for the
// consent facts (a DeliveryGate that permits what it is told to): the
// subscription's attach, catch-up, resume and retention logic without Redis or
// PostgreSQL, in well under a second a test.

#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <google/protobuf/empty.pb.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/call.h"
#include "common/outbox.h"
#include "common/server.h"
#include "services/events/event_service.h"
#include "services/events/stream_reader.h"
#include "tests/support/events_stack.h"
#include "tests/support/served_service.h"
#include "tests/support/fixtures.h"

namespace samplan::events {
namespace {

using testing::TestSubscriber;

constexpr char kMunicipality[] = "1885";
constexpr char kPlan[] = "plans/p1";

// Municipalities' streams in memory, as the relay leaves them in Redis: entries
// with increasing ids "<ms>-<seq>", trimmed from the oldest.
class MemoryStreams {
 public:
  // Appends version `version` of kPlan, at `at`; returns its position.
  StreamPosition Append(int64_t version, absl::Time at = absl::Now()) {
    v1::Event event = MakeEvent("caseplan.plan.updated", kMunicipality, kPlan, version,
                                "persons/p1", "plan", google::protobuf::Empty(),
                                {"organizations/soc", "users/soc", "", at});
    event.set_owner_organization("organizations/soc");
    event.add_participant_organizations("organizations/af");
    absl::MutexLock lock(&mu_);
    Stream& stream = streams_[kMunicipality];
    StreamPosition position{absl::ToUnixMillis(at), 0};
    if (position <= stream.last) position = {stream.last.ms, stream.last.seq + 1};
    stream.last = position;
    ++stream.added;
    StreamEntry entry;
    entry.id = position.ToString();
    entry.fields = {{"event_id", event.event_id()},
                    {"type", event.type()},
                    {"event", event.SerializeAsString()},
                    {"access_version", "1"}};
    stream.entries.push_back({position, std::move(entry)});
    return position;
  }

  // Removes the entries before `first_kept`, as trimming by retention does.
  void TrimBefore(StreamPosition first_kept) {
    absl::MutexLock lock(&mu_);
    auto& entries = streams_[kMunicipality].entries;
    while (!entries.empty() && entries.front().first < first_kept) entries.erase(entries.begin());
  }

  // Returns how many reads of entries after a position (catch-up and ListEvents,
  // not the hubs' waits) were made.
  int reads_after() {
    absl::MutexLock lock(&mu_);
    return reads_after_;
  }

  StreamReaderFactory Readers();

 private:
  friend class MemoryReader;
  struct Stream {
    std::vector<std::pair<StreamPosition, StreamEntry>> entries;
    StreamPosition last;
    int64_t added = 0;
  };

  std::vector<StreamEntry> After(const Stream& stream, std::optional<StreamPosition> after,
                                 int count) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<StreamEntry> out;
    for (const auto& [position, entry] : stream.entries) {
      if (static_cast<int>(out.size()) >= count) break;
      if (!after.has_value() || *after < position) out.push_back(entry);
    }
    return out;
  }

  absl::Mutex mu_;
  std::map<std::string, Stream> streams_ ABSL_GUARDED_BY(mu_);
  int reads_after_ ABSL_GUARDED_BY(mu_) = 0;
};

class MemoryReader final : public StreamReader {
 public:
  explicit MemoryReader(MemoryStreams& streams) : streams_(streams) {}

  absl::StatusOr<std::vector<StreamEntry>> ReadAfter(const std::string& municipality,
                                                     std::optional<StreamPosition> after,
                                                     int count) override {
    absl::MutexLock lock(&streams_.mu_);
    ++streams_.reads_after_;
    return streams_.After(streams_.streams_[municipality], after, count);
  }

  absl::StatusOr<StreamExtent> ReadExtent(const std::string& municipality,
                                          std::optional<StreamPosition> after) override {
    absl::MutexLock lock(&streams_.mu_);
    StreamExtent extent;
    auto it = streams_.streams_.find(municipality);
    if (it == streams_.streams_.end()) return extent;
    const MemoryStreams::Stream& stream = it->second;
    extent.last_generated = stream.last;
    extent.entries_removed = stream.added > static_cast<int64_t>(stream.entries.size());
    if (!stream.entries.empty()) extent.first_kept = stream.entries.front().first;
    if (after.has_value()) {
      std::vector<StreamEntry> next = streams_.After(stream, after, 1);
      if (!next.empty()) extent.next = StreamPosition::Parse(next[0].id);
    }
    return extent;
  }

  absl::StatusOr<std::vector<StreamEntry>> WaitAfter(const std::string& municipality,
                                                     StreamPosition after, int count,
                                                     absl::Duration timeout) override {
    absl::MutexLock lock(&streams_.mu_);
    auto arrived = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(streams_.mu_) {
      return after < streams_.streams_[municipality].last;
    };
    streams_.mu_.AwaitWithTimeout(absl::Condition(&arrived), timeout);
    return streams_.After(streams_.streams_[municipality], after, count);
  }

 private:
  MemoryStreams& streams_;
};

StreamReaderFactory MemoryStreams::Readers() {
  return [this]() -> std::unique_ptr<StreamReader> {
    return std::make_unique<MemoryReader>(*this);
  };
}

// Permits every delivery, or answers that the facts cannot be read.
class StandInGate final : public DeliveryGate {
 public:
  absl::StatusOr<bool> MayDeliver(const Principal&, const AccessRequest&, int64_t,
                                  absl::string_view, absl::string_view) override {
    absl::MutexLock lock(&mu_);
    if (unavailable_) return absl::UnavailableError("the consent facts cannot be read");
    return true;
  }
  bool KnownRefused(const Principal&, const AccessRequest&, int64_t, absl::string_view,
                    absl::string_view) override {
    return false;
  }
  void set_unavailable(bool unavailable) {
    absl::MutexLock lock(&mu_);
    unavailable_ = unavailable;
  }

 private:
  absl::Mutex mu_;
  bool unavailable_ ABSL_GUARDED_BY(mu_) = false;
};

class EventServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { keys_ = new testing::TestKeys(*testing::TestKeys::Create()); }

  void SetUp() override {
    auto served = testing::ServedService::Create(keys_->VerifierOptions());
    ASSERT_TRUE(served.ok()) << served.status();
    served_ = *std::move(served);
  }

  // Starts the service; `hub_buffer` entries are kept in memory, `max_batch` go in
  // one message (and one catch-up read).
  void Start(size_t hub_buffer = 1000, int max_batch = 500) {
    options_.retention = absl::Hours(1);
    options_.hub_buffer = hub_buffer;
    options_.max_batch = max_batch;
    options_.workers = 2;
    hubs_ = std::make_unique<StreamHubs>(streams_.Readers(), options_.hub_buffer, nullptr);
    auto service = std::make_unique<EventService>(*hubs_, gate_, streams_.Readers(),
                                                  served_->calls(), options_);
    service_ = service.get();
    ASSERT_TRUE(served_->Serve(std::move(service)).ok());
    address_ = served_->address();
  }

  void TearDown() override {
    if (service_ != nullptr) service_->EndAll();
    served_.reset();  // the server, then the service
    service_ = nullptr;
    hubs_.reset();
  }

  // Opens a subscription of af's partner system from `cursor` and waits for its
  // first message (where it stands: from then on it is live).
  std::unique_ptr<TestSubscriber> Subscribe(const std::string& cursor = "") {
    v1::SubscribeRequest request;
    request.set_cursor(cursor);
    request.mutable_heartbeat_interval()->set_seconds(1);
    auto subscriber = std::make_unique<TestSubscriber>(
        address_, keys_->Token("af", "partner_system"), request);
    EXPECT_TRUE(subscriber->WaitFor(absl::Seconds(5), [](const auto& r) { return !r.empty(); }));
    return subscriber;
  }

  static std::string CursorAt(StreamPosition position) {
    return absl::StrCat(kMunicipality, ":", position.ToString());
  }

  // Returns the versions `subscriber` has been shown, in order.
  static std::vector<int64_t> Versions(TestSubscriber& subscriber) {
    std::vector<int64_t> versions;
    for (const v1::DeliveredEvent& e : subscriber.events()) {
      versions.push_back(e.event().aggregate_version());
    }
    return versions;
  }

  // Waits until `subscriber` has been shown `version`.
  static bool WaitForVersion(TestSubscriber& subscriber, int64_t version) {
    return subscriber.WaitFor(absl::Seconds(5), [&](const auto& received) {
      for (const auto& r : received) {
        for (const auto& e : r.message.events()) {
          if (e.event().aggregate_version() >= version) return true;
        }
      }
      return false;
    });
  }

  static std::vector<int64_t> Range(int64_t from, int64_t to) {
    std::vector<int64_t> out;
    for (int64_t v = from; v <= to; ++v) out.push_back(v);
    return out;
  }

  static testing::TestKeys* keys_;
  MemoryStreams streams_;
  StandInGate gate_;
  EventServiceOptions options_;
  std::unique_ptr<testing::ServedService> served_;
  std::unique_ptr<StreamHubs> hubs_;
  EventService* service_ = nullptr;  // served_'s
  std::string address_;
};

testing::TestKeys* EventServiceTest::keys_ = nullptr;

TEST_F(EventServiceTest, AResumedSubscriptionGetsExactlyWhatFollowsItsCursor) {
  Start();
  std::vector<StreamPosition> positions = {{}};  // positions[v] is version v's
  for (int v = 1; v <= 5; ++v) positions.push_back(streams_.Append(v));
  auto first = Subscribe();  // from now on: nothing of what came before
  for (int v = 6; v <= 10; ++v) positions.push_back(streams_.Append(v));
  ASSERT_TRUE(WaitForVersion(*first, 10));
  EXPECT_EQ(Versions(*first), Range(6, 10));
  first->Cancel();

  // From the hub's memory, then live.
  auto resumed = Subscribe(CursorAt(positions[7]));
  positions.push_back(streams_.Append(11));
  ASSERT_TRUE(WaitForVersion(*resumed, 11));
  EXPECT_EQ(Versions(*resumed), Range(8, 11));
  EXPECT_EQ(resumed->events().back().cursor(), CursorAt(positions[11]));
}

TEST_F(EventServiceTest, AnOldCursorCatchesUpFromTheStreamThenGoesLiveFromTheHub) {
  // The hub keeps 4 entries; a message holds at most 10 events, so catching up
  // from version 3 takes several reads of the stream.
  Start(/*hub_buffer=*/4, /*max_batch=*/10);
  std::vector<StreamPosition> positions = {{}};
  positions.push_back(streams_.Append(1));
  auto live = Subscribe();  // starts the hub
  for (int v = 2; v <= 50; ++v) positions.push_back(streams_.Append(v));
  ASSERT_TRUE(WaitForVersion(*live, 50));

  const int reads_before = streams_.reads_after();
  auto resumed = Subscribe(CursorAt(positions[3]));
  ASSERT_TRUE(WaitForVersion(*resumed, 50));
  EXPECT_GE(streams_.reads_after() - reads_before, 5) << "not caught up from the stream";
  for (int v = 51; v <= 55; ++v) streams_.Append(v);
  ASSERT_TRUE(WaitForVersion(*resumed, 55));
  EXPECT_EQ(Versions(*resumed), Range(4, 55));
  for (const auto& r : resumed->received()) EXPECT_LE(r.message.events_size(), 10);
}

TEST_F(EventServiceTest, AClientResumingAtTheNewestEventGetsNothingTwiceAndStaysLive) {
  Start();
  auto first = Subscribe();
  StreamPosition last;
  for (int v = 1; v <= 5; ++v) last = streams_.Append(v);
  ASSERT_TRUE(WaitForVersion(*first, 5));
  const std::string cursor = first->last_cursor();
  ASSERT_EQ(cursor, CursorAt(last));
  first->Cancel();

  // It has everything: its first message says so, and then heartbeats.
  auto resumed = Subscribe(cursor);
  ASSERT_TRUE(resumed->WaitFor(absl::Seconds(3), [](const auto& r) { return r.size() >= 2; }));
  EXPECT_TRUE(resumed->events().empty());
  EXPECT_EQ(resumed->last_cursor(), cursor);
  streams_.Append(6);
  ASSERT_TRUE(WaitForVersion(*resumed, 6));
  EXPECT_EQ(Versions(*resumed), std::vector<int64_t>{6});
}

TEST_F(EventServiceTest, ACursorWhoseEventsAreNoLongerKeptIsOutOfRange) {
  Start();
  const absl::Time old = absl::Now() - absl::Hours(2);  // retention is an hour
  const StreamPosition first = streams_.Append(1, old);
  const StreamPosition second = streams_.Append(2, old + absl::Seconds(1));
  const StreamPosition third = streams_.Append(3);
  streams_.Append(4);

  // What follows the cursor is older than retention.
  v1::SubscribeRequest request;
  request.set_cursor(CursorAt(first));
  TestSubscriber past_retention(address_, keys_->Token("af", "partner_system"), request);
  absl::StatusOr<grpc::Status> ended = past_retention.WaitForEnd(absl::Seconds(5));
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_TRUE(past_retention.events().empty());

  // Trimming has passed the cursor.
  streams_.TrimBefore(third);
  request.set_cursor(CursorAt(first));
  TestSubscriber trimmed(address_, keys_->Token("af", "partner_system"), request);
  ended = trimmed.WaitForEnd(absl::Seconds(5));
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::OUT_OF_RANGE);

  // Trimming stopped just after it: it may have missed one (resynchronising is
  // safe, a gap is not). The oldest kept one missed nothing.
  request.set_cursor(CursorAt(second));
  TestSubscriber at_the_edge(address_, keys_->Token("af", "partner_system"), request);
  ended = at_the_edge.WaitForEnd(absl::Seconds(5));
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::OUT_OF_RANGE);
  auto kept = Subscribe(CursorAt(third));
  ASSERT_TRUE(WaitForVersion(*kept, 4));
  EXPECT_EQ(Versions(*kept), std::vector<int64_t>{4});
}

TEST_F(EventServiceTest, ConsentsThatCannotBeCheckedEndTheSubscriptionBeforeTheEvent) {
  Start();
  auto subscriber = Subscribe();
  streams_.Append(1);
  ASSERT_TRUE(WaitForVersion(*subscriber, 1));
  const std::string cursor = subscriber->last_cursor();
  gate_.set_unavailable(true);
  streams_.Append(2);
  absl::StatusOr<grpc::Status> ended = subscriber->WaitForEnd(absl::Seconds(5));
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(subscriber->last_cursor(), cursor) << "the cursor passed an undecided event";

  gate_.set_unavailable(false);
  auto resumed = Subscribe(cursor);
  ASSERT_TRUE(WaitForVersion(*resumed, 2));
  EXPECT_EQ(Versions(*resumed), std::vector<int64_t>{2});
}

// One organization cannot hold the service's delivery capacity: past its cap a
// new subscription is refused (RESOURCE_EXHAUSTED), and one is free again as soon
// as one of its subscriptions ends. Other organizations are not affected.
TEST_F(EventServiceTest, AnOrganizationsOpenSubscriptionsAreCapped) {
  options_.max_subscriptions_per_organization = 2;
  Start();
  auto first = Subscribe();
  auto second = Subscribe();
  v1::SubscribeRequest request;
  TestSubscriber third(address_, keys_->Token("af", "partner_system"), request);
  absl::StatusOr<grpc::Status> refused = third.WaitForEnd(absl::Seconds(5));
  ASSERT_TRUE(refused.ok()) << "a third subscription of af was served";
  EXPECT_EQ(refused->error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused->error_message().find("2"), std::string::npos) << refused->error_message();

  TestSubscriber other(address_, keys_->Token("fk", "partner_system"), request);
  EXPECT_TRUE(other.WaitFor(absl::Seconds(5), [](const auto& r) { return !r.empty(); }));

  first.reset();  // af closes one: its place is free again
  bool served = false;
  for (int attempt = 0; attempt < 50 && !served; ++attempt) {
    TestSubscriber again(address_, keys_->Token("af", "partner_system"), request);
    served = again.WaitFor(absl::Milliseconds(200), [](const auto& r) { return !r.empty(); });
  }
  EXPECT_TRUE(served);
}

TEST_F(EventServiceTest, ListEventsPagesAreSizedByTheCommonRule) {
  Start();
  for (int v = 1; v <= 1500; ++v) streams_.Append(v);
  auto stub = v1::EventService::NewStub(
      grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  auto list = [&](int32_t page_size, v1::ListEventsResponse* page) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + keys_->Token("af", "partner_system"));
    v1::ListEventsRequest request;
    request.set_page_size(page_size);
    return stub->ListEvents(&context, request, page);
  };
  v1::ListEventsResponse page;
  ASSERT_TRUE(list(0, &page).ok());
  EXPECT_EQ(page.events_size(), 100);
  page.Clear();
  ASSERT_TRUE(list(5000, &page).ok()) << "above the maximum is lowered, not refused";
  EXPECT_EQ(page.events_size(), 1000);
  EXPECT_EQ(page.next_page_token(), page.events(999).cursor()) << "the token is the cursor";
  page.Clear();
  grpc::Status negative = list(-1, &page);
  EXPECT_EQ(negative.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(negative.error_message().find("page_size"), std::string::npos);
}

}  // namespace
}  // namespace samplan::events
