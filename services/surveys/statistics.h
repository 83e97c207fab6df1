#ifndef SAMPLAN_SERVICES_SURVEYS_STATISTICS_H_
#define SAMPLAN_SERVICES_SURVEYS_STATISTICS_H_

// The funders' statistics as pure functions: counting outcome records into
// tables, and suppressing small cells so that no group under the threshold is
// shown and none can be worked out from what is shown. No I/O.
//
// Suppression, per table of counts with its row and column totals:
//
// * Primary: every count from 1 to threshold - 1, totals included. A zero is
//   shown: it says that nobody is in the cell, which singles out no one.
// * Complementary: the rows and columns of a table with its totals are linear
//   equations (the cells of a row add up to its total). With the signs of the
//   totals flipped, every row and column of the extended table sums to zero, so
//   the suppressed cells are the edges of a graph between rows and columns and
//   the published values fix a suppressed cell exactly when its edge lies on no
//   cycle of that graph (a bridge): along a cycle, one can add and subtract the
//   same amount without changing any sum. So while some suppressed cell is a
//   bridge, three more cells are suppressed that close a four-cycle through it,
//   the cheapest such (the smallest counts, zeros avoided).
// * Tables that share their totals (the same participants counted by different
//   columns) are suppressed together until their suppressed totals agree, so a
//   total hidden in one table is not shown by another.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "samplan/surveys/v1/surveys.pb.h"

namespace samplan::surveys {

// The default threshold and the lowest a setting may make it.
inline constexpr int kDefaultSuppressionThreshold = 5;
inline constexpr int kMinSuppressionThreshold = 3;

// A table of counts, rows × columns, before totals.
struct CountTable {
  std::string id;
  std::string title;
  std::vector<std::string> rows;
  std::vector<std::string> columns;
  // rows.size() × columns.size().
  std::vector<std::vector<int64_t>> cells;
};

// A table with its totals: (rows + 1) × (columns + 1), the last row the column
// totals, the last column the row totals, the corner the grand total.
struct SuppressedTable {
  CountTable counts;
  std::vector<std::vector<int64_t>> grid;
  std::vector<std::vector<bool>> suppressed;
};

// Returns `table` with its totals and suppression as described above.
// `forced_row_totals`, if not empty, holds rows.size() + 1 flags: row totals
// (and, last, the grand total) to suppress whatever their value.
SuppressedTable Suppress(const CountTable& table, int threshold,
                         const std::vector<bool>& forced_row_totals = {});

// Suppresses tables that share their row totals (the same rows, the same
// totals) together: until every table hides the same row totals.
std::vector<SuppressedTable> SuppressLinked(const std::vector<CountTable>& tables, int threshold);

// Returns the suppressed cells of `table` whose value the published cells and
// totals fix exactly (solving the table's linear equations): what an attacker
// with the published table can recover. Empty for a table Suppress made.
// Used by the tests and kept beside Suppress so the two read as one argument.
std::vector<std::pair<int, int>> RecoverableCells(const SuppressedTable& table);

// What statistics need of `count` outcome records that agree in all of it (the
// repository reads them grouped so, not record by record).
struct OutcomeFacts {
  int64_t count = 1;
  v1::Gender gender = v1::GENDER_UNKNOWN;
  int age_at_entry = 0;
  v1::ActivityKind activity_kind = v1::ACTIVITY_KIND_UNSPECIFIED;
  std::string organization;
  v1::Occupation entry_occupation = v1::OCCUPATION_UNSPECIFIED;
  bool has_exit = false;
  v1::Occupation exit_occupation = v1::OCCUPATION_UNSPECIFIED;
  v1::StatusSource three_months = v1::STATUS_SOURCE_UNSPECIFIED;
  v1::StatusSource six_months = v1::STATUS_SOURCE_UNSPECIFIED;
  v1::Occupation six_months_occupation = v1::OCCUPATION_UNSPECIFIED;
  // Whether the extent six months on is larger than at entry.
  bool extent_grew = false;
};

// "<18", "18-29", "30-54" or "55+".
std::string AgeBand(int age);

// Counts `records` into the tables of GetOutcomeStatistics, grouped by
// `group_by`, suppressed with `threshold`:
//   participants_at_entry_by_occupation   participants by their occupation at entry
//   status_at_exit                        leavers by occupation at exit
//   status_six_months_after_exit          leavers by occupation six months on
//                                         (the ESF+ "in employment" is its WORK)
//   improved_situation                    leavers whose situation improved from
//                                         entry to six months on
//   response_three_months, response_six_months
//                                         leavers by who gave the status: the
//                                         participant's answers, a caseworker, none
// Returns INVALID_ARGUMENT naming `filter_fields` when the records are fewer than
// the threshold but not none: such a selection would single out people.
absl::Status BuildStatistics(const std::vector<OutcomeFacts>& records, v1::Dimension group_by,
                             int threshold, const std::vector<std::string>& filter_fields,
                             v1::OutcomeStatistics& out);

// The statistics as CSV: UTF-8 with a byte order mark, semicolon-separated,
// one line per cell ("tabell;grupp;kolumn;antal"), ".." for a suppressed count
// (as SCB writes it).
std::string StatisticsCsv(const v1::OutcomeStatistics& statistics);

}  // namespace samplan::surveys

#endif  // SAMPLAN_SERVICES_SURVEYS_STATISTICS_H_
