// A calendar feed read over HTTP from the scheduling service in-process, over
// a PostgreSQL the benchmark starts: a feed of N meetings (each decided by the
// access rule and audited, as every read is), p50 / p99 of the whole GET, and
// of a GET answered 304. The feed's owner takes part in every meeting, about a
// person whose consent names the owner's organization.
//
//   build/bench/calendar_feed_bench [rounds]

#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "tests/support/fixtures.h"
#include "tests/support/scheduling_stack.h"
#include "tests/support/servers.h"
#include "tests/support/served_service.h"

namespace {

using namespace samplan;
namespace v1 = samplan::scheduling::v1;
using Steady = std::chrono::steady_clock;

double Percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(p * values.size()))];
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 50;
  auto pg = testing::PostgresServer::Start();
  if (!pg.ok()) {
    std::fprintf(stderr, "PostgreSQL: %s\n", pg.status().ToString().c_str());
    return 1;
  }
  auto keys = testing::TestKeys::Create();
  if (!keys.ok()) return 1;
  std::printf("calendar feed over HTTP, %d reads per figure\n", rounds);
  for (int meetings : {10, 100, 500}) {
    auto dsn = (*pg)->CreateDatabase();
    if (!dsn.ok() || !testing::InProcessScheduling::ApplyMigrations(*dsn).ok()) return 1;
    testing::TestPersons persons(*dsn);
    const std::string person = persons("feed");
    persons.GrantConsent(person, "organizations/prakt", "attendance", "coordination");
    persons.GrantConsent(person, "organizations/af", "attendance", "coordination");
    auto service = testing::InProcessScheduling::Start(*dsn, keys->VerifierOptions());
    if (!service.ok()) return 1;
    auto stub = (*service)->NewStub();
    const absl::Time first = absl::Now() + absl::Hours(24);
    for (int i = 0; i < meetings; ++i) {
      v1::CreateMeetingRequest r;
      r.set_request_id(NewUuid());
      r.set_allow_overlap(true);
      v1::Meeting* m = r.mutable_meeting();
      m->set_kind(v1::MEETING_KIND_FOLLOW_UP);
      m->set_title("Uppföljning");
      m->set_person(person);
      m->set_person_display_name("Deltagare Demo");
      m->mutable_location()->set_address("Kristinavägen 2, Lindesberg");
      const absl::Time start = first + absl::Hours(3 * i);
      *m->mutable_start_time() =
          google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(start));
      *m->mutable_end_time() = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
          absl::ToUnixMicros(start + absl::Hours(1)));
      v1::Participant* af = m->add_participants();
      af->set_user("users/u-af");
      af->set_organization("organizations/af");
      v1::Meeting created;
      if (!stub->CreateMeeting(testing::CallWithToken(keys->Token("prakt")).get(), r, &created)
               .ok()) {
        std::fprintf(stderr, "CreateMeeting failed\n");
        return 1;
      }
    }
    v1::RotateCalendarFeedRequest rotate;
    rotate.set_name("users/u-af/calendarFeed");
    v1::CalendarFeed feed;
    if (!stub->RotateCalendarFeed(testing::CallWithToken(keys->Token("af")).get(), rotate, &feed)
             .ok()) {
      return 1;
    }
    const std::string path = feed.url().substr(feed.url().find("/feeds/"));
    httplib::Client client("127.0.0.1", (*service)->feed_port());
    client.set_keep_alive(true);
    std::vector<double> full, unchanged;
    std::string etag;
    size_t bytes = 0;
    for (int i = 0; i < rounds; ++i) {
      auto start = Steady::now();
      httplib::Result got = client.Get(path.c_str());
      full.push_back(std::chrono::duration<double, std::milli>(Steady::now() - start).count());
      if (!got || got->status != 200) return 1;
      etag = got->get_header_value("ETag");
      bytes = got->body.size();
      start = Steady::now();
      httplib::Result same = client.Get(path.c_str(), {{"If-None-Match", etag}});
      unchanged.push_back(std::chrono::duration<double, std::milli>(Steady::now() - start).count());
      if (!same || same->status != 304) return 1;
    }
    std::printf("%4d meetings (%7zu bytes): 200 p50 %6.2f ms p99 %6.2f ms | 304 p50 %6.2f ms "
                "p99 %6.2f ms\n",
                meetings, bytes, Percentile(full, 0.5), Percentile(full, 0.99),
                Percentile(unchanged, 0.5), Percentile(unchanged, 0.99));
  }
  return 0;
}
