#include "services/surveys/surveys_service.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/status.h"
#include "services/placement/matching.h"
#include "services/placement/placement_rules.h"
#include "services/surveys/invitation_rules.h"
#include "services/surveys/questionnaire_rules.h"
#include "services/surveys/statistics.h"
#include "services/surveys/surveys_rules.h"

namespace samplan::surveys {
namespace {

Caller CallerOf(const CallContext& call, absl::string_view method) {
  return {call.principal, absl::StrCat("surveys.", method), call.request_id, call.now,
          call.deadline};
}

// Questionnaires are written by those who run follow-ups and by administrators.
absl::Status CheckAuthor(const Principal& principal) {
  if (principal.HasRole("caseworker") || principal.HasRole("placement_coordinator") ||
      principal.HasRole("administrator")) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      "only caseworkers, placement coordinators and administrators write questionnaires");
}

// The questionnaire id of `name` "questionnaires/{id}", or INVALID_ARGUMENT
// naming `field`.
absl::StatusOr<std::string> QuestionnaireIdOf(absl::string_view name, absl::string_view field) {
  constexpr absl::string_view kPrefix = "questionnaires/";
  if (name.substr(0, kPrefix.size()) != kPrefix || !IsQuestionnaireId(name.substr(kPrefix.size()))) {
    return InvalidField(std::string(field), "must be questionnaires/{id}");
  }
  return std::string(name.substr(kPrefix.size()));
}

bool IsValidDate(const google::type::Date& d) {
  return d.year() >= 1900 && d.year() <= 2200 && d.month() >= 1 && d.month() <= 12 &&
         d.day() >= 1 && d.day() <= 31;
}

}  // namespace

SurveyService::SurveyService(SurveysRepository& repository, InvitationRepository& invitations,
                             const CallHandler& calls, int suppression_threshold)
    : repository_(repository),
      invitations_(invitations),
      calls_(calls),
      threshold_(suppression_threshold) {}

// ---- Questionnaires

grpc::Status SurveyService::CreateQuestionnaire(Context* context,
                                                const v1::CreateQuestionnaireRequest* request,
                                                v1::Questionnaire* response) {
  return calls_.Handle(context, "CreateQuestionnaire", *request, [&](const CallContext& call) -> absl::Status {
    if (absl::Status role = CheckAuthor(call.principal); !role.ok()) return role;
    FieldViolations v;
    if (!IsQuestionnaireId(request->questionnaire_id())) {
      v.Add("questionnaire_id", "must be 3 to 63 characters of a-z, 0-9 and -, from a letter");
    }
    ValidateQuestionnaire(request->questionnaire(), "questionnaire", v);
    if (!v.empty()) return v.ToStatus();
    absl::StatusOr<v1::Questionnaire> created = repository_.CreateQuestionnaire(
        call.principal.municipality, request->questionnaire_id(), request->questionnaire(),
        call.now, call.deadline);
    if (!created.ok()) return created.status();
    *response = *std::move(created);
    return absl::OkStatus();
  });
}

grpc::Status SurveyService::PublishQuestionnaireVersion(
    Context* context, const v1::PublishQuestionnaireVersionRequest* request,
    v1::Questionnaire* response) {
  return calls_.Handle(context, "PublishQuestionnaireVersion", *request, [&](const CallContext& call) -> absl::Status {
    if (absl::Status role = CheckAuthor(call.principal); !role.ok()) return role;
    absl::StatusOr<std::string> id =
        QuestionnaireIdOf(request->questionnaire().name(), "questionnaire.name");
    FieldViolations v;
    if (!id.ok()) v.Add("questionnaire.name", "must be questionnaires/{id}");
    ValidateQuestionnaire(request->questionnaire(), "questionnaire", v);
    if (!v.empty()) return v.ToStatus();
    absl::StatusOr<v1::Questionnaire> published = repository_.PublishVersion(
        call.principal.municipality, *id, request->questionnaire().etag(),
        request->questionnaire(), call.now, call.deadline);
    if (!published.ok()) return published.status();
    *response = *std::move(published);
    return absl::OkStatus();
  });
}

grpc::Status SurveyService::GetQuestionnaire(Context* context,
                                             const v1::GetQuestionnaireRequest* request,
                                             v1::Questionnaire* response) {
  return calls_.Handle(context, "GetQuestionnaire", *request, [&](const CallContext& call) -> absl::Status {
    absl::StatusOr<std::string> id = QuestionnaireIdOf(request->name(), "name");
    if (!id.ok()) return id.status();
    if (request->version() < 0) return InvalidField("version", "must be 0 (the latest) or more");
    absl::StatusOr<v1::Questionnaire> q = repository_.GetQuestionnaire(
        call.principal.municipality, *id, request->version(), call.deadline);
    if (!q.ok()) return q.status();
    *response = *std::move(q);
    return absl::OkStatus();
  });
}

grpc::Status SurveyService::ListQuestionnaires(Context* context,
                                               const v1::ListQuestionnairesRequest* request,
                                               v1::ListQuestionnairesResponse* response) {
  return calls_.Handle(context, "ListQuestionnaires", *request, [&](const CallContext& call) -> absl::Status {
    absl::StatusOr<std::vector<v1::Questionnaire>> list =
        repository_.ListQuestionnaires(call.principal.municipality, call.deadline);
    if (!list.ok()) return list.status();
    for (v1::Questionnaire& q : *list) *response->add_questionnaires() = std::move(q);
    return absl::OkStatus();
  });
}

// ---- Outcomes

grpc::Status SurveyService::RecordOutcome(Context* context,
                                          const v1::RecordOutcomeRequest* request,
                                          v1::Outcome* response) {
  return calls_.Handle(context, "RecordOutcome", *request, [&](const CallContext& call) -> absl::Status {
    if (!MayHandlePersonalData(call.principal)) return RoleDeniedStatus();
    FieldViolations v;
    placement::CheckRequestId(request->request_id(), v);
    ValidateOutcome(request->outcome(), v);
    if (!v.empty()) return v.ToStatus();
    absl::StatusOr<v1::Outcome> recorded =
        repository_.RecordOutcome(CallerOf(call, "RecordOutcome"), request->request_id(),
                                  RequestFingerprint(*request), request->outcome());
    if (!recorded.ok()) return recorded.status();
    *response = *std::move(recorded);
    return absl::OkStatus();
  });
}

grpc::Status SurveyService::RecordOutcomeStatus(Context* context,
                                                const v1::RecordOutcomeStatusRequest* request,
                                                v1::Outcome* response) {
  return calls_.Handle(context, "RecordOutcomeStatus", *request, [&](const CallContext& call) -> absl::Status {
    if (!MayHandlePersonalData(call.principal)) return RoleDeniedStatus();
    FieldViolations v;
    absl::StatusOr<std::string> id = IdFromName(request->name(), "outcomes", "name");
    if (!id.ok()) v.Add("name", "must be outcomes/{id}");
    if (request->stage() == v1::STAGE_UNSPECIFIED || !v1::Stage_IsValid(request->stage())) {
      v.Add("stage", "must be STAGE_EXIT, STAGE_THREE_MONTHS or STAGE_SIX_MONTHS");
    } else {
      ValidateStatus(request->status(), request->stage(), "status", v);
    }
    if (!v.empty()) return v.ToStatus();
    absl::StatusOr<v1::Outcome> recorded =
        repository_.RecordStatus(CallerOf(call, "RecordOutcomeStatus"), *id, request->etag(),
                                 request->stage(), request->status());
    if (!recorded.ok()) return recorded.status();
    *response = *std::move(recorded);
    return absl::OkStatus();
  });
}

grpc::Status SurveyService::GetOutcome(Context* context, const v1::GetOutcomeRequest* request,
                                       v1::Outcome* response) {
  return calls_.Handle(context, "GetOutcome", *request, [&](const CallContext& call) -> absl::Status {
    absl::StatusOr<std::string> id = IdFromName(request->name(), "outcomes", "name");
    if (!id.ok()) return id.status();
    absl::StatusOr<v1::Outcome> outcome = repository_.GetOutcome(CallerOf(call, "GetOutcome"), *id);
    if (!outcome.ok()) return outcome.status();
    *response = *std::move(outcome);
    return absl::OkStatus();
  });
}

// ---- Statistics

absl::Status SurveyService::Statistics(const CallContext& call,
                                       const v1::GetOutcomeStatisticsRequest& request,
                                       v1::OutcomeStatistics& out) {
  FieldViolations v;
  StatisticsQuery query;
  query.municipality = call.principal.municipality;
  std::vector<std::string> filters;
  if (request.has_start_date()) {
    if (!IsValidDate(request.start_date())) v.Add("start_date", "is not a date");
    else query.from = placement::DayOf(request.start_date());
    filters.push_back("start_date");
  }
  if (request.has_end_date()) {
    if (!IsValidDate(request.end_date())) v.Add("end_date", "is not a date");
    else query.to = placement::DayOf(request.end_date());
    filters.push_back("end_date");
  }
  if (query.from && query.to && *query.to < *query.from) {
    v.Add("end_date", "must not be before start_date");
  }
  if (!request.organization().empty()) {
    if (!IsResourceName(request.organization(), "organizations")) {
      v.Add("organization", "must be organizations/{id}");
    }
    query.organization = request.organization();
    filters.push_back("organization");
  }
  if (!v1::ActivityKind_IsValid(request.activity_kind())) {
    v.Add("activity_kind", "is not known");
  } else if (request.activity_kind() != v1::ACTIVITY_KIND_UNSPECIFIED) {
    query.activity_kind = request.activity_kind();
    filters.push_back("activity_kind");
  }
  if (!v1::Dimension_IsValid(request.group_by())) v.Add("group_by", "is not known");
  if (!v.empty()) return v.ToStatus();
  absl::StatusOr<std::vector<OutcomeFacts>> facts =
      repository_.LoadOutcomeFacts(query, call.deadline);
  if (!facts.ok()) return facts.status();
  out.set_municipality(call.principal.municipality);
  return BuildStatistics(*facts, request.group_by(), threshold_, filters, out);
}

grpc::Status SurveyService::GetOutcomeStatistics(Context* context,
                                                 const v1::GetOutcomeStatisticsRequest* request,
                                                 v1::OutcomeStatistics* response) {
  return calls_.Handle(context, "GetOutcomeStatistics", *request, [&](const CallContext& call) {
    return Statistics(call, *request, *response);
  });
}

grpc::Status SurveyService::ExportOutcomeStatistics(
    Context* context, const v1::ExportOutcomeStatisticsRequest* request,
    v1::StatisticsExport* response) {
  return calls_.Handle(context, "ExportOutcomeStatistics", *request, [&](const CallContext& call) -> absl::Status {
    if (request->format() != "csv" && request->format() != "json") {
      return InvalidField("format", "must be csv or json");
    }
    v1::OutcomeStatistics statistics;
    if (absl::Status s = Statistics(call, request->query(), statistics); !s.ok()) return s;
    if (request->format() == "csv") {
      response->set_content_type("text/csv; charset=utf-8");
      response->set_content(StatisticsCsv(statistics));
      return absl::OkStatus();
    }
    google::protobuf::util::JsonPrintOptions options;
    options.always_print_primitive_fields = true;
    std::string json;
    if (!google::protobuf::util::MessageToJsonString(statistics, &json, options).ok()) {
      return absl::InternalError("statistics could not be written as JSON");
    }
    response->set_content_type("application/json");
    response->set_content(std::move(json));
    return absl::OkStatus();
  });
}

// ---- Invitations, answered without an account

absl::StatusOr<OpenInvitation> SurveyService::OpenByToken(const CallContext& call,
                                                          const std::string& token,
                                                          const std::string& questionnaire,
                                                          bool audited) {
  FieldViolations v;
  if (!IsInvitationTokenFormat(token)) {
    v.Add("token", "must be the 43 characters after /svar/ in the invitation's link");
  }
  std::string questionnaire_id;
  if (!questionnaire.empty()) {
    absl::StatusOr<std::string> id = QuestionnaireIdOf(questionnaire, "questionnaire");
    if (id.ok()) questionnaire_id = *id;
    else v.Add("questionnaire", "must be questionnaires/{id}, or empty");
  }
  if (!v.empty()) return v.ToStatus();
  return invitations_.Open(TokenHash(token), questionnaire_id, audited, call.request_id,
                           call.now, call.deadline);
}

grpc::Status SurveyService::GetInvitation(Context* context, const v1::GetInvitationRequest* request,
                                          v1::InvitationForm* response) {
  return calls_.Handle(context, "GetInvitation", *request, [&](const CallContext& call) -> absl::Status {
    absl::StatusOr<OpenInvitation> open =
        OpenByToken(call, request->token(), request->questionnaire(), /*audited=*/true);
    if (!open.ok()) return open.status();
    *response = std::move(open->form);
    return absl::OkStatus();
  });
}

grpc::Status SurveyService::SaveInvitationAnswers(Context* context,
                                                  const v1::SaveInvitationAnswersRequest* request,
                                                  v1::InvitationForm* response) {
  return calls_.Handle(context, "SaveInvitationAnswers", *request, [&](const CallContext& call) -> absl::Status {
    absl::StatusOr<OpenInvitation> open =
        OpenByToken(call, request->token(), request->questionnaire(), /*audited=*/false);
    if (!open.ok()) return open.status();
    FieldViolations v;
    ValidateAnswers(open->form.questionnaire(), request->answers(), /*final=*/false, v);
    if (!v.empty()) return v.ToStatus();
    absl::StatusOr<v1::InvitationForm> saved = invitations_.SaveAnswers(
        open->id, request->answers(), call.request_id, call.now, call.deadline);
    if (!saved.ok()) return saved.status();
    *response = *std::move(saved);
    return absl::OkStatus();
  });
}

grpc::Status SurveyService::SubmitInvitationAnswers(
    Context* context, const v1::SubmitInvitationAnswersRequest* request,
    v1::SubmitInvitationAnswersResponse* response) {
  return calls_.Handle(context, "SubmitInvitationAnswers", *request, [&](const CallContext& call) -> absl::Status {
    absl::StatusOr<OpenInvitation> open =
        OpenByToken(call, request->token(), request->questionnaire(), /*audited=*/false);
    if (!open.ok()) return open.status();
    FieldViolations v;
    ValidateAnswers(open->form.questionnaire(), request->answers(), /*final=*/true, v);
    if (!v.empty()) return v.ToStatus();
    if (absl::Status submitted = invitations_.Submit(open->id, request->answers(),
                                                     call.request_id, call.now, call.deadline);
        !submitted.ok()) {
      return submitted;
    }
    *response->mutable_submit_time() = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
        absl::ToUnixMicros(call.now));
    return absl::OkStatus();
  });
}

}  // namespace samplan::surveys
