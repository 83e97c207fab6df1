// Tier 1: statistics and their suppression. The attacker's view: take what is
// published — cells, row and column totals — and solve the table's equations
// for every suppressed cell. The tests show that this recovers values when
// only small cells are hidden, and recovers none from what Suppress publishes.

#include "services/surveys/statistics.h"

#include <gtest/gtest.h>

#include <random>

#include "common/status.h"

namespace samplan::surveys {
namespace {

CountTable Table(std::vector<std::vector<int64_t>> cells) {
  CountTable t;
  t.id = "t";
  for (size_t r = 0; r < cells.size(); ++r) t.rows.push_back("r" + std::to_string(r));
  for (size_t c = 0; c < cells[0].size(); ++c) t.columns.push_back("c" + std::to_string(c));
  t.cells = std::move(cells);
  return t;
}

// What a table with only the small counts hidden would give away.
SuppressedTable PrimaryOnly(const CountTable& t, int threshold) {
  SuppressedTable s = Suppress(t, threshold);
  for (size_t r = 0; r < s.grid.size(); ++r) {
    for (size_t c = 0; c < s.grid[r].size(); ++c) {
      s.suppressed[r][c] = s.grid[r][c] > 0 && s.grid[r][c] < threshold;
    }
  }
  return s;
}

TEST(StatisticsTest, TheAttackRecoversACellWhenOnlySmallCellsAreHidden) {
  // Row 0: 2 + 10 = 12. Hiding the 2 alone, 12 - 10 gives it back.
  const SuppressedTable naive = PrimaryOnly(Table({{2, 10}, {7, 8}}), 5);
  EXPECT_FALSE(RecoverableCells(naive).empty());
}

TEST(StatisticsTest, NoCountUnderTheThresholdIsShownAndNoneCanBeRecovered) {
  std::mt19937 random(20261203);
  int suppressed_tables = 0;
  for (int round = 0; round < 400; ++round) {
    const int rows = 1 + static_cast<int>(random() % 6);
    const int cols = 1 + static_cast<int>(random() % 5);
    std::vector<std::vector<int64_t>> cells(rows, std::vector<int64_t>(cols));
    for (auto& row : cells) {
      for (int64_t& cell : row) cell = static_cast<int64_t>(random() % 14);
    }
    for (int threshold : {3, 5}) {
      const SuppressedTable s = Suppress(Table(cells), threshold);
      bool any = false;
      for (size_t r = 0; r < s.grid.size(); ++r) {
        for (size_t c = 0; c < s.grid[r].size(); ++c) {
          const int64_t v = s.grid[r][c];
          if (!s.suppressed[r][c]) {
            EXPECT_TRUE(v == 0 || v >= threshold) << "round " << round << " shows " << v;
          }
          any |= s.suppressed[r][c];
        }
      }
      suppressed_tables += any;
      EXPECT_TRUE(RecoverableCells(s).empty()) << "round " << round;
    }
  }
  EXPECT_GT(suppressed_tables, 300);  // the attack had something to try
}

TEST(StatisticsTest, TablesSharingTheirTotalsHideTheSameTotals) {
  // Both count the same two groups' leavers (6 and 3).
  const CountTable a = Table({{6, 0}, {3, 0}});
  const CountTable b = Table({{5, 1}, {0, 3}});
  const std::vector<SuppressedTable> linked = SuppressLinked({a, b}, 5);
  for (size_t r = 0; r < 3; ++r) {
    EXPECT_EQ(linked[0].suppressed[r][2], linked[1].suppressed[r][2]) << r;
  }
  EXPECT_TRUE(linked[0].suppressed[1][2]);
  for (const SuppressedTable& t : linked) EXPECT_TRUE(RecoverableCells(t).empty());
}

OutcomeFacts Person(v1::Gender gender, int age, v1::Occupation entry, bool left,
                    v1::Occupation six) {
  OutcomeFacts f;
  f.gender = gender;
  f.age_at_entry = age;
  f.activity_kind = v1::ACTIVITY_KIND_WORK_PRACTICE;
  f.organization = "organizations/soc";
  f.entry_occupation = entry;
  f.has_exit = left;
  f.exit_occupation = six;
  if (left && six != v1::OCCUPATION_UNSPECIFIED) {
    f.six_months = v1::STATUS_SOURCE_ANSWERS;
    f.six_months_occupation = six;
  }
  return f;
}

// The table's grid as a reader of the published statistics rebuilds it.
SuppressedTable FromPublished(const v1::StatisticsTable& table) {
  SuppressedTable s;
  for (const v1::TableRow& row : table.rows()) {
    std::vector<int64_t> values;
    std::vector<bool> hidden;
    for (const v1::Cell& cell : row.cells()) {
      values.push_back(cell.value());
      hidden.push_back(cell.suppressed());
    }
    values.push_back(row.total().value());
    hidden.push_back(row.total().suppressed());
    s.grid.push_back(values);
    s.suppressed.push_back(hidden);
  }
  return s;
}

TEST(StatisticsTest, PublishedStatisticsGiveNoSuppressedValueAway) {
  std::vector<OutcomeFacts> records;
  for (int i = 0; i < 12; ++i) {
    records.push_back(Person(v1::GENDER_FEMALE, 25, v1::OCCUPATION_LOOKING_FOR_WORK, true,
                             v1::OCCUPATION_WORK));
  }
  for (int i = 0; i < 9; ++i) {
    records.push_back(Person(v1::GENDER_MALE, 40, v1::OCCUPATION_LOOKING_FOR_WORK, i < 7,
                             i < 4 ? v1::OCCUPATION_WORK : v1::OCCUPATION_UNSPECIFIED));
  }
  records.push_back(
      Person(v1::GENDER_OTHER, 19, v1::OCCUPATION_OTHER, true, v1::OCCUPATION_STUDIES));
  v1::OutcomeStatistics out;
  ASSERT_TRUE(BuildStatistics(records, v1::DIMENSION_GENDER, 5, {}, out).ok());
  ASSERT_EQ(out.tables_size(), 6);
  int hidden = 0;
  for (const v1::StatisticsTable& table : out.tables()) {
    const SuppressedTable s = FromPublished(table);
    EXPECT_TRUE(RecoverableCells(s).empty()) << table.id();
    for (const auto& row : s.suppressed) {
      for (bool h : row) hidden += h;
    }
  }
  EXPECT_GT(hidden, 0);
  // 12 women looking for work at entry, all in work six months after leaving.
  const v1::StatisticsTable& entry = out.tables(0);
  EXPECT_EQ(entry.id(), "participants_at_entry_by_occupation");
  EXPECT_EQ(entry.rows(0).group(), "GENDER_FEMALE");
  EXPECT_EQ(entry.rows(0).cells(2).value(), 12);
  EXPECT_EQ(out.tables(2).rows(0).cells(0).value(), 12);
  // The one person of gender other is in no published count of their own.
  EXPECT_TRUE(entry.rows(2).total().suppressed());
}

TEST(StatisticsTest, ASelectionOfFewerThanTheThresholdIsRefusedNamingItsFilters) {
  std::vector<OutcomeFacts> records(
      3, Person(v1::GENDER_FEMALE, 25, v1::OCCUPATION_WORK, false, v1::OCCUPATION_UNSPECIFIED));
  v1::OutcomeStatistics out;
  const absl::Status status =
      BuildStatistics(records, v1::DIMENSION_GENDER, 5, {"organization", "activity_kind"}, out);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolationsOf(status).size(), 2u);
  // None at all is no one singled out.
  EXPECT_TRUE(BuildStatistics({}, v1::DIMENSION_GENDER, 5, {"organization"}, out).ok());
}

TEST(StatisticsTest, CsvIsUtf8WithSemicolonsAndMarksSuppressedCells) {
  v1::OutcomeStatistics statistics;
  v1::StatisticsTable* t = statistics.add_tables();
  t->set_id("status_at_exit");
  v1::TableRow* row = t->add_rows();
  row->set_group("Kvinna; 18-29");
  v1::Cell* shown = row->add_cells();
  shown->set_column("OCCUPATION_WORK");
  shown->set_value(7);
  v1::Cell* hidden = row->add_cells();
  hidden->set_column("OCCUPATION_STUDIES");
  hidden->set_suppressed(true);
  row->mutable_total()->set_column("total");
  row->mutable_total()->set_suppressed(true);
  EXPECT_EQ(StatisticsCsv(statistics),
            "\xEF\xBB\xBFtabell;grupp;kolumn;antal\r\n"
            "status_at_exit;\"Kvinna; 18-29\";OCCUPATION_WORK;7\r\n"
            "status_at_exit;\"Kvinna; 18-29\";OCCUPATION_STUDIES;..\r\n"
            "status_at_exit;\"Kvinna; 18-29\";total;..\r\n");
}

TEST(StatisticsTest, AgeBandsFollowTheFundersBands) {
  EXPECT_EQ(AgeBand(17), "<18");
  EXPECT_EQ(AgeBand(18), "18-29");
  EXPECT_EQ(AgeBand(29), "18-29");
  EXPECT_EQ(AgeBand(30), "30-54");
  EXPECT_EQ(AgeBand(55), "55+");
}

}  // namespace
}  // namespace samplan::surveys
