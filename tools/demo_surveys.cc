#include "tools/demo_surveys.h"

#include <iostream>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "samplan/surveys/v1/surveys.grpc.pb.h"
#include "tools/rpc_text.h"

namespace samplan::tools {
namespace {

namespace sv1 = ::samplan::surveys::v1;

constexpr int kRecords = 46;

bool Ok(const grpc::Status& status, const std::string& what) {
  if (status.ok()) return true;
  std::cerr << "samplan-demo: cannot " << what << ": " << DescribeStatus(status, nullptr);
  return false;
}

}  // namespace

bool LoadSurveysDemo(std::shared_ptr<grpc::Channel> channel, const PrepareCall& prepare) {
  std::unique_ptr<sv1::SurveyService::Stub> stub = sv1::SurveyService::NewStub(channel);
  std::mt19937 random(1885);
  for (int i = 0; i < kRecords; ++i) {
    sv1::RecordOutcomeRequest request;
    request.set_request_id(absl::StrCat("demo-outcome-", i));
    sv1::Outcome* o = request.mutable_outcome();
    o->set_activity(absl::StrCat("agreements/demo-", i));
    o->set_activity_kind(i % 5 == 0 ? sv1::ACTIVITY_KIND_PRAO : sv1::ACTIVITY_KIND_WORK_PRACTICE);
    // Mostly women and men; two of another or unknown gender, whom no published
    // count may single out.
    o->set_gender(i == 7 ? sv1::GENDER_OTHER
                  : i == 30 ? sv1::GENDER_UNKNOWN
                  : i % 2 == 0 ? sv1::GENDER_FEMALE
                               : sv1::GENDER_MALE);
    o->set_age_at_entry(i % 5 == 0 ? 15 : 19 + static_cast<int>(random() % 40));
    o->mutable_entry_date()->set_year(2025);
    o->mutable_entry_date()->set_month(1 + i % 12);
    o->mutable_entry_date()->set_day(1 + i % 28);
    sv1::OutcomeStatus* entry = o->mutable_entry();
    entry->set_occupation(i % 5 == 0   ? sv1::OCCUPATION_STUDIES
                          : i % 7 == 0 ? sv1::OCCUPATION_OTHER
                                       : sv1::OCCUPATION_LOOKING_FOR_WORK);
    entry->set_main_income(sv1::MAIN_INCOME_ECONOMIC_ASSISTANCE);
    entry->set_education_level(i % 3 == 0 ? sv1::EDUCATION_LEVEL_ISCED_0_2
                                          : sv1::EDUCATION_LEVEL_ISCED_3_4);
    entry->set_months_in_public_support(static_cast<int>(random() % 48));
    sv1::Outcome recorded;
    grpc::ClientContext context;
    prepare(context, "prakt");
    if (!Ok(stub->RecordOutcome(&context, request, &recorded), "record an outcome")) return false;
    if (i % 6 == 5) continue;  // still active
    // Drawn whether or not they are sent, so that a second start, which finds
    // the records made before, asks for the same contents as the first.
    const bool work = random() % 3 != 0;
    std::vector<std::pair<sv1::Stage, int>> stages;
    for (sv1::Stage stage : {sv1::STAGE_EXIT, sv1::STAGE_SIX_MONTHS}) {
      if (stage == sv1::STAGE_SIX_MONTHS && i % 4 == 3) break;  // no answer yet
      stages.emplace_back(stage, work ? 50 + static_cast<int>(random() % 51) : 0);
    }
    if (recorded.etag() != "1") continue;  // made before, with its statuses
    std::string etag = recorded.etag();
    for (const auto& [stage, extent] : stages) {
      sv1::RecordOutcomeStatusRequest status;
      status.set_name(recorded.name());
      status.set_stage(stage);
      status.set_etag(etag);
      status.mutable_status()->set_occupation(work ? sv1::OCCUPATION_WORK
                                                   : sv1::OCCUPATION_LOOKING_FOR_WORK);
      status.mutable_status()->set_extent_percent(extent);
      status.mutable_status()->set_main_income(work ? sv1::MAIN_INCOME_SALARY
                                                    : sv1::MAIN_INCOME_ACTIVITY_SUPPORT);
      if (stage == sv1::STAGE_EXIT) {
        status.mutable_status()->set_exit_reason(work ? sv1::EXIT_REASON_GOT_JOB
                                                      : sv1::EXIT_REASON_COMPLETED);
      }
      sv1::Outcome after;
      grpc::ClientContext status_context;
      prepare(status_context, "prakt");
      if (!Ok(stub->RecordOutcomeStatus(&status_context, status, &after), "record a status")) {
        return false;
      }
      etag = after.etag();
    }
  }

  sv1::GetOutcomeStatisticsRequest query;
  query.set_group_by(sv1::DIMENSION_GENDER);
  sv1::OutcomeStatistics statistics;
  grpc::ClientContext context;
  prepare(context, "mgr");
  if (!Ok(stub->GetOutcomeStatistics(&context, query, &statistics), "read the statistics")) {
    return false;
  }
  std::cout << "\nFollow-up (surveys): " << kRecords
            << " outcome records; a manager's statistics by gender, counts under "
            << statistics.suppression_threshold() << " shown as ..:\n";
  for (const sv1::StatisticsTable& table : statistics.tables()) {
    if (table.id() != "status_six_months_after_exit") continue;
    std::cout << "  " << table.title() << "\n";
    for (const sv1::TableRow& row : table.rows()) {
      std::cout << "    " << row.group();
      for (const sv1::Cell& cell : row.cells()) {
        std::cout << "  " << cell.column() << "="
                  << (cell.suppressed() ? std::string("..") : absl::StrCat(cell.value()));
      }
      std::cout << "  total="
                << (row.total().suppressed() ? std::string("..")
                                             : absl::StrCat(row.total().value()))
                << "\n";
    }
  }
  return true;
}

}  // namespace samplan::tools
