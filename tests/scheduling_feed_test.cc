// Tier 3: calendar feeds served by the scheduling service over HTTP, against
// real PostgreSQL and Redis, read back by Debian's python3-icalendar — a
// reader nobody here wrote: the UID stays, SEQUENCE rises with a change, a
// cancelled meeting stays CANCELLED, a matching ETag gets 304, a person's
// name shows only where the feed owner's organization may see the meeting,
// and a revoked or rotated address answers 404 like one never made.

#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdio>
#include <fstream>
#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/ids.h"
#include "common/redis.h"
#include "tests/support/fixtures.h"
#include "tests/support/scheduling_suite.h"
#include "tests/support/served_service.h"
#include "tests/support/suite.h"

namespace samplan::scheduling {
namespace {

using ::google::protobuf::util::TimeUtil;

absl::Time Morning(int day_offset = 0) {
  return absl::FromCivil(absl::CivilSecond(2027, 2, 2 + day_offset, 8, 0, 0), absl::UTCTimeZone());
}

google::protobuf::Timestamp Ts(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

// One VEVENT as python3-icalendar read it.
struct ReadEvent {
  std::string uid;
  int sequence = -1;
  std::string status;
  std::string summary;
  std::string start;  // ISO 8601 with offset
};

struct ReadCalendar {
  std::vector<std::string> zones;
  std::vector<ReadEvent> events;
  const ReadEvent* Find(absl::string_view uid) const {
    for (const ReadEvent& e : events) {
      if (e.uid == uid) return &e;
    }
    return nullptr;
  }
};

// Runs the third-party reader over `calendar`.
absl::StatusOr<ReadCalendar> ReadWithPythonIcalendar(const std::string& calendar) {
  char path[] = "/tmp/samplan-feed-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return absl::InternalError("mkstemp");
  close(fd);
  std::ofstream(path, std::ios::binary) << calendar;
  const std::string command = absl::StrCat("/usr/bin/python3 ", SAMPLAN_FEED_READER, " ", path);
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return absl::InternalError("popen");
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  const int rc = pclose(pipe);
  std::remove(path);
  if (rc != 0) return absl::InternalError(absl::StrCat("the reader failed: ", out));
  ReadCalendar read;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    if (f.size() == 2 && f[0] == "TZ") {
      read.zones.push_back(f[1]);
    } else if (f.size() == 5) {
      read.events.push_back({f[0], std::stoi(f[1]), f[2], f[3], f[4]});
    } else {
      return absl::InternalError(absl::StrCat("unexpected line: ", line));
    }
  }
  return read;
}

std::string UidOf(const v1::Meeting& m) {
  return absl::StrCat(ResourceId(m.name(), "meetings"), "@samplan");
}

class SchedulingFeedTest : public testing::SchedulingSuite {
 protected:
  // A booked follow-up led by prakt about `person`, with af's caseworker.
  v1::Meeting FollowUp(const std::string& person, const std::string& name,
                       const std::string& address, absl::Time start) {
    v1::CreateMeetingRequest r;
    r.set_request_id(NewUuid());
    v1::Meeting* m = r.mutable_meeting();
    m->set_kind(v1::MEETING_KIND_FOLLOW_UP);
    m->set_title("Uppföljning hos arbetsgivaren");
    m->set_person(person);
    m->set_person_display_name(name);
    m->mutable_location()->set_address(address);
    *m->mutable_start_time() = Ts(start);
    *m->mutable_end_time() = Ts(start + absl::Hours(1));
    v1::Participant* af = m->add_participants();
    af->set_user("users/u-af");
    af->set_organization("organizations/af");
    m->add_participants()->set_is_person(true);
    v1::Meeting created;
    grpc::Status status = stub_->CreateMeeting(As("prakt").get(), r, &created);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return created;
  }

  // The path of the feed at `url` (the service's base URL is a stand-in).
  static std::string PathOf(const std::string& url) {
    const size_t at = url.find("/feeds/");
    return at == std::string::npos ? "" : url.substr(at);
  }

  httplib::Result Get(const std::string& path, const std::string& if_none_match = "") {
    httplib::Client client("127.0.0.1", service_->feed_port());
    httplib::Headers headers;
    if (!if_none_match.empty()) headers.emplace("If-None-Match", if_none_match);
    return client.Get(path.c_str(), headers);
  }
};

TEST_F(SchedulingFeedTest, AThirdPartyReaderSeesStableUidsRisingSequencesAndCancellations) {
  const std::string anna = (*persons_)("anna");
  persons_->GrantConsent(anna, "organizations/prakt", "attendance", "coordination");
  persons_->GrantConsent(anna, "organizations/af", "attendance", "coordination");
  const std::string bo = (*persons_)("bo");
  persons_->GrantConsent(bo, "organizations/prakt", "attendance", "coordination");
  const std::string bo_af =
      persons_->GrantConsent(bo, "organizations/af", "attendance", "coordination");
  const v1::Meeting with_anna =
      FollowUp(anna, "Anna Andersson", "Kristinavägen 2, Lindesberg", Morning());
  const v1::Meeting with_bo = FollowUp(bo, "Bo Berg", "Storgatan 5, Nora", Morning(1));
  // Bo withdraws af's consent: af's caseworker keeps the time in the
  // calendar, but no longer learns whom it is with.
  {
    pqxx::connection connection(dsn_);
    pqxx::work tx(connection);
    tx.exec_params("UPDATE identity.consents SET withdraw_time = now() - interval '1 second'"
                   " WHERE id = $1::uuid",
                   std::string(ResourceId(bo_af, "consents")));
    tx.commit();
  }

  v1::RotateCalendarFeedRequest rotate;
  rotate.set_name("users/u-af/calendarFeed");
  v1::CalendarFeed feed;
  grpc::Status status = stub_->RotateCalendarFeed(As("af").get(), rotate, &feed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(feed.active());
  const std::string path = PathOf(feed.url());
  ASSERT_FALSE(path.empty()) << feed.url();
  // The secret is stored only as its hash.
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM scheduling.calendar_feeds WHERE "
                               "secret_sha256 LIKE '%", path.substr(7, 20), "%'")),
            0);

  httplib::Result first = Get(path);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200);
  EXPECT_TRUE(absl::StartsWith(first->get_header_value("Content-Type"), "text/calendar"));
  const std::string etag = first->get_header_value("ETag");
  ASSERT_FALSE(etag.empty());
  absl::StatusOr<ReadCalendar> read = ReadWithPythonIcalendar(first->body);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->zones, std::vector<std::string>{"Europe/Stockholm"});
  ASSERT_EQ(read->events.size(), 2u);
  const ReadEvent* anna_event = read->Find(UidOf(with_anna));
  ASSERT_NE(anna_event, nullptr);
  EXPECT_EQ(anna_event->sequence, 0);
  EXPECT_EQ(anna_event->status, "CONFIRMED");
  EXPECT_EQ(anna_event->summary, "Uppföljning hos arbetsgivaren – Anna Andersson");
  // 08:00 UTC in February is 09:00 in Stockholm.
  EXPECT_EQ(anna_event->start, "2027-02-02T09:00:00+01:00");
  const ReadEvent* bo_event = read->Find(UidOf(with_bo));
  ASSERT_NE(bo_event, nullptr);
  EXPECT_EQ(bo_event->summary, "Uppföljning, Storgatan 5, Nora");
  EXPECT_FALSE(absl::StrContains(first->body, "Bo Berg"));
  EXPECT_FALSE(absl::StrContains(first->body, "arbetsgivaren – Bo"));

  // Nothing changed: 304, no body.
  httplib::Result same = Get(path, etag);
  ASSERT_TRUE(same);
  EXPECT_EQ(same->status, 304);
  EXPECT_TRUE(same->body.empty());

  // Moved: the same UID, a higher SEQUENCE, a new ETag.
  v1::RescheduleMeetingRequest move;
  move.set_name(with_anna.name());
  *move.mutable_start_time() = Ts(Morning(2));
  *move.mutable_end_time() = Ts(Morning(2) + absl::Hours(1));
  v1::Meeting moved;
  ASSERT_TRUE(stub_->RescheduleMeeting(As("prakt").get(), move, &moved).ok());
  httplib::Result after_move = Get(path, etag);
  ASSERT_TRUE(after_move);
  ASSERT_EQ(after_move->status, 200);
  EXPECT_NE(after_move->get_header_value("ETag"), etag);
  read = ReadWithPythonIcalendar(after_move->body);
  ASSERT_TRUE(read.ok()) << read.status();
  anna_event = read->Find(UidOf(with_anna));
  ASSERT_NE(anna_event, nullptr);
  EXPECT_EQ(anna_event->sequence, 1);
  EXPECT_EQ(anna_event->start, "2027-02-04T09:00:00+01:00");

  // Cancelled: still there, CANCELLED, later again.
  v1::CancelMeetingRequest cancel;
  cancel.set_name(with_anna.name());
  cancel.set_reason("Arbetsplatsen stängd");
  v1::Meeting cancelled;
  ASSERT_TRUE(stub_->CancelMeeting(As("prakt").get(), cancel, &cancelled).ok());
  httplib::Result after_cancel = Get(path);
  ASSERT_TRUE(after_cancel);
  read = ReadWithPythonIcalendar(after_cancel->body);
  ASSERT_TRUE(read.ok()) << read.status();
  anna_event = read->Find(UidOf(with_anna));
  ASSERT_NE(anna_event, nullptr);
  EXPECT_EQ(anna_event->status, "CANCELLED");
  EXPECT_EQ(anna_event->sequence, 2);

  // Every read was decided and audited as af's: permitted for Anna's
  // meeting, refused for Bo's.
  EXPECT_GE(Count(absl::StrCat("SELECT count(*) FROM identity.audit_records WHERE action = "
                               "'scheduling.ReadCalendarFeed' AND decision = 'permit' AND "
                               "resource = '", with_anna.name(), "'")),
            4);
  EXPECT_GE(Count(absl::StrCat("SELECT count(*) FROM identity.audit_records WHERE action = "
                               "'scheduling.ReadCalendarFeed' AND decision = 'deny' AND "
                               "resource = '", with_bo.name(), "'")),
            4);
}

TEST_F(SchedulingFeedTest, ARotatedOrRevokedAddressAnswersLikeOneNeverMade) {
  v1::RotateCalendarFeedRequest rotate;
  rotate.set_name("users/u-af/calendarFeed");
  v1::CalendarFeed first;
  ASSERT_TRUE(stub_->RotateCalendarFeed(As("af").get(), rotate, &first).ok());
  ASSERT_EQ(Get(PathOf(first.url()))->status, 200);
  v1::CalendarFeed second;
  ASSERT_TRUE(stub_->RotateCalendarFeed(As("af").get(), rotate, &second).ok());
  EXPECT_NE(first.url(), second.url());
  EXPECT_EQ(second.etag(), "2");
  httplib::Result old = Get(PathOf(first.url()));
  ASSERT_TRUE(old);
  EXPECT_EQ(old->status, 404);
  EXPECT_EQ(Get(PathOf(second.url()))->status, 200);

  v1::RevokeCalendarFeedRequest revoke;
  revoke.set_name("users/u-af/calendarFeed");
  revoke.set_etag("1");  // stale
  v1::CalendarFeed revoked;
  EXPECT_EQ(stub_->RevokeCalendarFeed(As("af").get(), revoke, &revoked).error_code(),
            grpc::StatusCode::ABORTED);
  revoke.set_etag("2");
  ASSERT_TRUE(stub_->RevokeCalendarFeed(As("af").get(), revoke, &revoked).ok());
  EXPECT_FALSE(revoked.active());
  EXPECT_TRUE(revoked.url().empty());
  httplib::Result gone = Get(PathOf(second.url()));
  httplib::Result never = Get(absl::StrCat("/feeds/", std::string(43, 'A'), ".ics"));
  ASSERT_TRUE(gone);
  ASSERT_TRUE(never);
  EXPECT_EQ(gone->status, 404);
  EXPECT_EQ(never->status, 404);
  EXPECT_EQ(gone->body, never->body);

  // Only the user makes their own feed; another's name is refused.
  rotate.set_name("users/u-prakt/calendarFeed");
  v1::CalendarFeed theirs;
  EXPECT_EQ(stub_->RotateCalendarFeed(As("af").get(), rotate, &theirs).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  rotate.set_name("calendarFeed");
  grpc::Status bad = stub_->RotateCalendarFeed(As("af").get(), rotate, &theirs);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(testing::ViolatedFields(bad), std::vector<std::string>{"name"});

  // Each change was versioned, audited and announced.
  EXPECT_EQ(Count("SELECT count(*) FROM identity.audit_records WHERE resource = "
                  "'users/u-af/calendarFeed'"),
            3);
  EXPECT_EQ(Count("SELECT count(*) FROM scheduling.outbox WHERE event_type LIKE "
                  "'scheduling.calendar_feed.%'"),
            3);
}

}  // namespace
}  // namespace samplan::scheduling
