// Tier 1: the split of a start list into teaching groups, the waiting list's
// order, and what a valid intake session and enrolment are.

#include "services/scheduling/intakes.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "common/status.h"
#include "services/scheduling/meeting_rules.h"

namespace samplan::scheduling {
namespace {

std::vector<std::string> Fields(const absl::Status& status) {
  std::vector<std::string> out;
  for (auto& [field, description] : FieldViolationsOf(status)) out.push_back(field);
  return out;
}

TEST(SplitIntoGroupsTest, TwentyBecomeThreeGroupsOfSevenSevenAndSixEachLevelSpread) {
  // The start list of a typical intake: Swedish levels A to D, uneven.
  std::vector<std::string> levels;
  for (int i = 0; i < 20; ++i) levels.push_back(std::string(1, "AABBBBCCCD"[i % 10]));
  const std::vector<std::vector<int>> groups = SplitIntoGroups(levels, 8);
  ASSERT_EQ(groups.size(), 3u);
  std::multiset<size_t> sizes;
  for (const auto& g : groups) sizes.insert(g.size());
  EXPECT_EQ(sizes, (std::multiset<size_t>{6, 7, 7}));
  // 4 A, 8 B, 6 C, 2 D over three groups: each group 1–2 A, 2–3 B, 2 C, 0–1 D.
  for (const auto& g : groups) {
    std::map<std::string, int> count;
    for (int member : g) ++count[levels[member]];
    EXPECT_GE(count["A"], 1);
    EXPECT_LE(count["A"], 2);
    EXPECT_GE(count["B"], 2);
    EXPECT_LE(count["B"], 3);
    EXPECT_EQ(count["C"], 2);
    EXPECT_LE(count["D"], 1);
  }
}

TEST(SplitIntoGroupsTest, KeepsItsPromisesOnRandomStartLists) {
  std::mt19937 random(8);
  for (int round = 0; round < 500; ++round) {
    const int n = std::uniform_int_distribution<int>(0, 60)(random);
    const int max = std::uniform_int_distribution<int>(2, 12)(random);
    const int kinds = std::uniform_int_distribution<int>(1, 6)(random);
    std::vector<std::string> values;
    for (int i = 0; i < n; ++i) {
      values.push_back(std::to_string(std::uniform_int_distribution<int>(0, kinds - 1)(random)));
    }
    const std::vector<std::vector<int>> groups = SplitIntoGroups(values, max);
    EXPECT_EQ(static_cast<int>(groups.size()), (n + max - 1) / max);
    std::set<int> seen;
    size_t smallest = n, largest = 0;
    std::map<std::string, std::vector<int>> per_value;  // value -> count per group
    for (size_t g = 0; g < groups.size(); ++g) {
      smallest = std::min(smallest, groups[g].size());
      largest = std::max(largest, groups[g].size());
      EXPECT_LE(static_cast<int>(groups[g].size()), max);
      EXPECT_TRUE(std::is_sorted(groups[g].begin(), groups[g].end()));
      for (int member : groups[g]) {
        EXPECT_TRUE(seen.insert(member).second);
        per_value[values[member]].resize(groups.size());
        ++per_value[values[member]][g];
      }
    }
    EXPECT_EQ(static_cast<int>(seen.size()), n);
    if (n > 0) {
      EXPECT_LE(largest - smallest, 1u);
    }
    for (auto& [value, counts] : per_value) {
      counts.resize(groups.size());
      EXPECT_LE(*std::max_element(counts.begin(), counts.end()) -
                    *std::min_element(counts.begin(), counts.end()),
                1)
          << "value " << value << " is not spread evenly";
    }
    EXPECT_EQ(SplitIntoGroups(values, max), groups) << "not the same split twice";
  }
}

TEST(ComesFirstTest, FirstComeOrByPriorityThenTime) {
  v1::IntakeSession by_time, by_priority;
  by_time.set_waitlist_policy(v1::WAITLIST_POLICY_FIRST_COME);
  by_priority.set_waitlist_policy(v1::WAITLIST_POLICY_PRIORITY);
  v1::IntakeEnrolment urgent, plain;
  urgent.set_priority(50);
  EXPECT_TRUE(ComesFirst(by_time, plain, 1, urgent, 2));
  EXPECT_TRUE(ComesFirst(by_priority, urgent, 2, plain, 1));
  EXPECT_TRUE(ComesFirst(by_priority, plain, 1, plain, 2));
  EXPECT_TRUE(CheckPriorityAllowed(by_priority, urgent).ok());
  EXPECT_EQ(Fields(CheckPriorityAllowed(by_time, urgent)),
            (std::vector<std::string>{"enrolment.priority"}));
}

TEST(IntakeSessionForCreateTest, DefaultsAndNamesEachBadField) {
  Principal vux;
  vux.organization = "organizations/vux";
  vux.municipality = "1885";
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  v1::CreateIntakeSessionRequest request;
  request.set_request_id("r1");
  request.mutable_intake_session()->set_title("SFI-start vecka 34");
  *request.mutable_intake_session()->mutable_start_time() = TimestampOf(now + absl::Hours(240));
  absl::StatusOr<v1::IntakeSession> s = IntakeSessionForCreate(request, vux, now);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->capacity(), 20);
  EXPECT_EQ(s->waitlist_policy(), v1::WAITLIST_POLICY_FIRST_COME);
  EXPECT_EQ(s->owner_organization(), "organizations/vux");

  v1::CreateIntakeSessionRequest bad;
  bad.mutable_intake_session()->set_capacity(10000);
  bad.mutable_intake_session()->mutable_location()->mutable_coordinates()->set_latitude(100);
  EXPECT_EQ(Fields(IntakeSessionForCreate(bad, vux, now).status()),
            (std::vector<std::string>{"request_id", "intake_session.title",
                                      "intake_session.start_time", "intake_session.capacity",
                                      "intake_session.location.coordinates.latitude"}));
}

TEST(EnrolmentForCreateTest, NamesEachBadField) {
  Principal soc;
  soc.organization = "organizations/soc";
  v1::EnrolInIntakeRequest request;
  request.set_parent("sessions/1");
  request.mutable_enrolment()->set_person("people/x");
  request.mutable_enrolment()->set_priority(101);
  (*request.mutable_enrolment()->mutable_attributes())["Swedish Level"] = "B";
  EXPECT_EQ(Fields(EnrolmentForCreate(request, soc).status()),
            (std::vector<std::string>{"parent", "enrolment.person", "enrolment.priority",
                                      "enrolment.priority_reason",
                                      "enrolment.attributes[Swedish Level]"}));
}

}  // namespace
}  // namespace samplan::scheduling
