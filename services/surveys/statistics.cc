#include "services/surveys/statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"

namespace samplan::surveys {
namespace {

using Grid = std::vector<std::vector<int64_t>>;
using Flags = std::vector<std::vector<bool>>;

// Whether suppressed (r, c) lies on no cycle of the graph whose nodes are rows
// (0..R) and columns (R+1..R+1+C) and whose edges are the suppressed cells.
bool IsBridge(const Flags& s, int r, int c) {
  const int rows = static_cast<int>(s.size());
  const int cols = static_cast<int>(s[0].size());
  // Is column c reachable from row r without the edge (r, c)?
  std::vector<bool> seen(rows + cols, false);
  std::vector<int> stack = {r};
  seen[r] = true;
  while (!stack.empty()) {
    const int node = stack.back();
    stack.pop_back();
    if (node < rows) {
      for (int j = 0; j < cols; ++j) {
        if (!s[node][j] || (node == r && j == c) || seen[rows + j]) continue;
        if (j == c) return false;
        seen[rows + j] = true;
        stack.push_back(rows + j);
      }
    } else {
      const int j = node - rows;
      for (int i = 0; i < rows; ++i) {
        if (!s[i][j] || (i == r && j == c) || seen[i]) continue;
        seen[i] = true;
        stack.push_back(i);
      }
    }
  }
  return true;
}

// What suppressing (r, c) costs: its count, and much more for a zero (which
// would otherwise be shown) — nothing when it is suppressed already.
int64_t Cost(const Grid& g, const Flags& s, int r, int c) {
  if (s[r][c]) return 0;
  return g[r][c] == 0 ? int64_t{1} << 40 : g[r][c];
}

// Suppresses until no suppressed cell is a bridge.
void Complement(const Grid& g, Flags& s) {
  const int rows = static_cast<int>(g.size());
  const int cols = static_cast<int>(g[0].size());
  for (bool changed = true; changed;) {
    changed = false;
    for (int r = 0; r < rows && !changed; ++r) {
      for (int c = 0; c < cols && !changed; ++c) {
        if (!s[r][c] || !IsBridge(s, r, c)) continue;
        // Close the cheapest four-cycle (r, c) (r, c2) (r2, c2) (r2, c).
        int64_t best = std::numeric_limits<int64_t>::max();
        int best_r = -1, best_c = -1;
        for (int r2 = 0; r2 < rows; ++r2) {
          if (r2 == r) continue;
          for (int c2 = 0; c2 < cols; ++c2) {
            if (c2 == c) continue;
            const int64_t cost = Cost(g, s, r, c2) + Cost(g, s, r2, c) + Cost(g, s, r2, c2);
            if (cost < best) {
              best = cost;
              best_r = r2;
              best_c = c2;
            }
          }
        }
        s[r][best_c] = s[best_r][c] = s[best_r][best_c] = true;
        changed = true;
      }
    }
  }
}

}  // namespace

SuppressedTable Suppress(const CountTable& table, int threshold,
                         const std::vector<bool>& forced_row_totals) {
  const int rows = static_cast<int>(table.rows.size());
  const int cols = static_cast<int>(table.columns.size());
  SuppressedTable out;
  out.counts = table;
  out.grid.assign(rows + 1, std::vector<int64_t>(cols + 1, 0));
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const int64_t v = table.cells[r][c];
      out.grid[r][c] = v;
      out.grid[r][cols] += v;
      out.grid[rows][c] += v;
      out.grid[rows][cols] += v;
    }
  }
  out.suppressed.assign(rows + 1, std::vector<bool>(cols + 1, false));
  for (int r = 0; r <= rows; ++r) {
    for (int c = 0; c <= cols; ++c) {
      const int64_t v = out.grid[r][c];
      out.suppressed[r][c] = v > 0 && v < threshold;
    }
    if (!forced_row_totals.empty() && forced_row_totals[r]) out.suppressed[r][cols] = true;
  }
  Complement(out.grid, out.suppressed);
  return out;
}

std::vector<SuppressedTable> SuppressLinked(const std::vector<CountTable>& tables,
                                            int threshold) {
  if (tables.empty()) return {};
  std::vector<bool> forced(tables[0].rows.size() + 1, false);
  std::vector<SuppressedTable> out;
  for (bool changed = true; changed;) {
    changed = false;
    out.clear();
    for (const CountTable& t : tables) out.push_back(Suppress(t, threshold, forced));
    for (const SuppressedTable& t : out) {
      const size_t last = t.counts.columns.size();
      for (size_t r = 0; r < forced.size(); ++r) {
        if (t.suppressed[r][last] && !forced[r]) {
          forced[r] = true;
          changed = true;
        }
      }
    }
  }
  return out;
}

std::vector<std::pair<int, int>> RecoverableCells(const SuppressedTable& table) {
  const int rows = static_cast<int>(table.grid.size());
  const int cols = static_cast<int>(table.grid[0].size());
  // The unknowns, and the equations over them: every row and column of the
  // extended table, totals with the opposite sign.
  std::vector<std::pair<int, int>> unknowns;
  std::map<std::pair<int, int>, int> index;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      if (table.suppressed[r][c]) {
        index[{r, c}] = static_cast<int>(unknowns.size());
        unknowns.push_back({r, c});
      }
    }
  }
  const int n = static_cast<int>(unknowns.size());
  if (n == 0) return {};
  auto sign = [&](int r, int c) { return ((r == rows - 1) != (c == cols - 1)) ? -1.0 : 1.0; };
  std::vector<std::vector<double>> equations;
  for (int r = 0; r < rows; ++r) {
    std::vector<double> e(n, 0.0);
    for (int c = 0; c < cols; ++c) {
      if (table.suppressed[r][c]) e[index[{r, c}]] = sign(r, c);
    }
    equations.push_back(e);
  }
  for (int c = 0; c < cols; ++c) {
    std::vector<double> e(n, 0.0);
    for (int r = 0; r < rows; ++r) {
      if (table.suppressed[r][c]) e[index[{r, c}]] = sign(r, c);
    }
    equations.push_back(e);
  }
  // Row-reduce; unknown k is fixed when the unit vector e_k is in the row space.
  auto rank = [n](std::vector<std::vector<double>> m) {
    int rank = 0;
    for (int col = 0; col < n && rank < static_cast<int>(m.size()); ++col) {
      int pivot = -1;
      for (int i = rank; i < static_cast<int>(m.size()); ++i) {
        if (std::fabs(m[i][col]) > 1e-9 && (pivot < 0 || std::fabs(m[i][col]) > std::fabs(m[pivot][col]))) {
          pivot = i;
        }
      }
      if (pivot < 0) continue;
      std::swap(m[rank], m[pivot]);
      for (int i = 0; i < static_cast<int>(m.size()); ++i) {
        if (i == rank || std::fabs(m[i][col]) < 1e-12) continue;
        const double f = m[i][col] / m[rank][col];
        for (int j = col; j < n; ++j) m[i][j] -= f * m[rank][j];
      }
      ++rank;
    }
    return rank;
  };
  const int base = rank(equations);
  std::vector<std::pair<int, int>> fixed;
  for (int k = 0; k < n; ++k) {
    std::vector<std::vector<double>> with = equations;
    std::vector<double> unit(n, 0.0);
    unit[k] = 1.0;
    with.push_back(unit);
    if (rank(with) == base) fixed.push_back(unknowns[k]);
  }
  return fixed;
}

std::string AgeBand(int age) {
  if (age < 18) return "<18";
  if (age < 30) return "18-29";
  if (age < 55) return "30-54";
  return "55+";
}

namespace {

const std::vector<v1::Occupation> kOccupations = {
    v1::OCCUPATION_WORK, v1::OCCUPATION_STUDIES, v1::OCCUPATION_LOOKING_FOR_WORK,
    v1::OCCUPATION_OTHER};

std::vector<std::string> OccupationColumns(bool with_unknown) {
  std::vector<std::string> columns;
  for (v1::Occupation o : kOccupations) columns.push_back(v1::Occupation_Name(o));
  if (with_unknown) columns.push_back("NOT_KNOWN");
  return columns;
}

int OccupationColumn(v1::Occupation o) {
  for (size_t i = 0; i < kOccupations.size(); ++i) {
    if (kOccupations[i] == o) return static_cast<int>(i);
  }
  return static_cast<int>(kOccupations.size());  // unknown
}

std::string GroupOf(const OutcomeFacts& r, v1::Dimension d) {
  switch (d) {
    case v1::DIMENSION_GENDER:
      return v1::Gender_Name(r.gender == v1::GENDER_UNSPECIFIED ? v1::GENDER_UNKNOWN : r.gender);
    case v1::DIMENSION_AGE_BAND:
      return AgeBand(r.age_at_entry);
    case v1::DIMENSION_ACTIVITY_KIND:
      return v1::ActivityKind_Name(r.activity_kind);
    case v1::DIMENSION_ORGANIZATION:
      return r.organization;
    default:
      return "all";
  }
}

std::vector<std::string> Groups(const std::vector<OutcomeFacts>& records, v1::Dimension d) {
  switch (d) {
    case v1::DIMENSION_GENDER:
      return {"GENDER_FEMALE", "GENDER_MALE", "GENDER_OTHER", "GENDER_UNKNOWN"};
    case v1::DIMENSION_AGE_BAND:
      return {"<18", "18-29", "30-54", "55+"};
    case v1::DIMENSION_ACTIVITY_KIND:
      return {"ACTIVITY_KIND_WORK_PRACTICE", "ACTIVITY_KIND_PRAO", "ACTIVITY_KIND_EDUCATION",
              "ACTIVITY_KIND_PLAN_ACTIVITY"};
    case v1::DIMENSION_ORGANIZATION: {
      std::vector<std::string> orgs;
      for (const OutcomeFacts& r : records) orgs.push_back(r.organization);
      std::sort(orgs.begin(), orgs.end());
      orgs.erase(std::unique(orgs.begin(), orgs.end()), orgs.end());
      return orgs;
    }
    default:
      return {"all"};
  }
}

bool IsWorkOrStudies(v1::Occupation o) {
  return o == v1::OCCUPATION_WORK || o == v1::OCCUPATION_STUDIES;
}

// Whether the situation six months on is better than at entry: from no work or
// studies into them, or the same with a larger extent.
bool Improved(const OutcomeFacts& r) {
  if (IsWorkOrStudies(r.six_months_occupation) && !IsWorkOrStudies(r.entry_occupation)) {
    return true;
  }
  return IsWorkOrStudies(r.six_months_occupation) && r.extent_grew;
}

CountTable Empty(const char* id, const char* title, const std::vector<std::string>& rows,
                 std::vector<std::string> columns) {
  CountTable t;
  t.id = id;
  t.title = title;
  t.rows = rows;
  t.columns = std::move(columns);
  t.cells.assign(rows.size(), std::vector<int64_t>(t.columns.size(), 0));
  return t;
}

int ResponseColumn(v1::StatusSource s) {
  return s == v1::STATUS_SOURCE_ANSWERS ? 0 : s == v1::STATUS_SOURCE_CASEWORKER ? 1 : 2;
}

v1::Cell CellOf(const SuppressedTable& t, int r, int c, std::string column) {
  v1::Cell cell;
  cell.set_column(std::move(column));
  if (t.suppressed[r][c]) {
    cell.set_suppressed(true);
  } else {
    cell.set_value(t.grid[r][c]);
  }
  return cell;
}

void Publish(const SuppressedTable& t, v1::OutcomeStatistics& out) {
  v1::StatisticsTable* table = out.add_tables();
  table->set_id(t.counts.id);
  table->set_title(t.counts.title);
  const int rows = static_cast<int>(t.counts.rows.size());
  const int cols = static_cast<int>(t.counts.columns.size());
  for (int r = 0; r <= rows; ++r) {
    v1::TableRow* row = table->add_rows();
    row->set_group(r < rows ? t.counts.rows[r] : "total");
    for (int c = 0; c < cols; ++c) *row->add_cells() = CellOf(t, r, c, t.counts.columns[c]);
    *row->mutable_total() = CellOf(t, r, cols, "total");
  }
}

std::string CsvField(absl::string_view text) {
  if (text.find_first_of(";\"\n\r") == absl::string_view::npos) return std::string(text);
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace

absl::Status BuildStatistics(const std::vector<OutcomeFacts>& records, v1::Dimension group_by,
                             int threshold, const std::vector<std::string>& filter_fields,
                             v1::OutcomeStatistics& out) {
  int64_t total = 0;
  for (const OutcomeFacts& record : records) total += record.count;
  if (total > 0 && total < threshold) {
    FieldViolations v;
    for (const std::string& field : filter_fields) {
      v.Add(field, absl::StrCat("selects fewer than ", threshold,
                                " participants, which would single people out"));
    }
    if (v.empty()) {
      v.Add("start_date", absl::StrCat("fewer than ", threshold,
                                       " participants in all, which would single people out"));
    }
    return v.ToStatus();
  }
  const std::vector<std::string> groups = Groups(records, group_by);
  std::map<std::string, int> row_of;
  for (size_t i = 0; i < groups.size(); ++i) row_of[groups[i]] = static_cast<int>(i);

  CountTable entry = Empty("participants_at_entry_by_occupation",
                           "Deltagare vid inskrivning efter sysselsättning", groups,
                           OccupationColumns(true));
  CountTable exit = Empty("status_at_exit", "Avslutade deltagare efter sysselsättning vid avslut",
                          groups, OccupationColumns(true));
  CountTable six = Empty("status_six_months_after_exit",
                         "Avslutade deltagare efter sysselsättning sex månader efter avslut",
                         groups, OccupationColumns(true));
  CountTable improved = Empty("improved_situation",
                              "Avslutade deltagare med förbättrad situation på arbetsmarknaden",
                              groups, {"IMPROVED", "NOT_IMPROVED", "NOT_KNOWN"});
  CountTable three_response = Empty("response_three_months", "Svar efter tre månader", groups,
                                    {"ANSWERED", "CASEWORKER", "NO_STATUS"});
  CountTable six_response = Empty("response_six_months", "Svar efter sex månader", groups,
                                  {"ANSWERED", "CASEWORKER", "NO_STATUS"});
  for (const OutcomeFacts& record : records) {
    const int r = row_of.at(GroupOf(record, group_by));
    const int64_t n = record.count;
    entry.cells[r][OccupationColumn(record.entry_occupation)] += n;
    if (!record.has_exit) continue;
    exit.cells[r][OccupationColumn(record.exit_occupation)] += n;
    const bool six_known = record.six_months != v1::STATUS_SOURCE_UNSPECIFIED;
    six.cells[r][six_known ? OccupationColumn(record.six_months_occupation) : 4] += n;
    improved.cells[r][!six_known ? 2 : Improved(record) ? 0 : 1] += n;
    three_response.cells[r][ResponseColumn(record.three_months)] += n;
    six_response.cells[r][ResponseColumn(record.six_months)] += n;
  }
  out.set_suppression_threshold(threshold);
  for (const SuppressedTable& t : SuppressLinked({entry}, threshold)) Publish(t, out);
  for (const SuppressedTable& t :
       SuppressLinked({exit, six, improved, three_response, six_response}, threshold)) {
    Publish(t, out);
  }
  return absl::OkStatus();
}

std::string StatisticsCsv(const v1::OutcomeStatistics& statistics) {
  std::string csv = "\xEF\xBB\xBFtabell;grupp;kolumn;antal\r\n";
  auto line = [&](const v1::StatisticsTable& t, const v1::TableRow& row, const v1::Cell& cell) {
    absl::StrAppend(&csv, CsvField(t.id()), ";", CsvField(row.group()), ";",
                    CsvField(cell.column()), ";",
                    cell.suppressed() ? std::string("..") : absl::StrCat(cell.value()), "\r\n");
  };
  for (const v1::StatisticsTable& t : statistics.tables()) {
    for (const v1::TableRow& row : t.rows()) {
      for (const v1::Cell& cell : row.cells()) line(t, row, cell);
      line(t, row, row.total());
    }
  }
  return csv;
}

}  // namespace samplan::surveys
