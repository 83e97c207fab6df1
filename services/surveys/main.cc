// samplan-surveys: questionnaires, the results follow-up (SUS), the funders'
// statistics, and the "Vad hände sen?" invitations: made from the placement,
// plan and consent events (a consumer group, each event once), sent when due
// and delivered by e-mail over SMTP. Wiring only; the modes (serve,
// --migrate-only, --relay-only) are common/service_main.h's.
//
// Configuration comes from environment variables: docs/configuration.md. The
// identity schema must be migrated first: access decisions, audit records and
// the invitations' recipients go through its SQL functions.

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/event_consumer.h"
#include "common/ids.h"
#include "common/service_main.h"
#include "common/stream_mac.h"
#include "services/surveys/invitation_dispatcher.h"
#include "services/surveys/mailer.h"
#include "services/surveys/pg_invitation_repository.h"
#include "services/surveys/pg_surveys_repository.h"
#include "services/surveys/questionnaire_rules.h"
#include "services/surveys/statistics.h"
#include "services/surveys/surveys_service.h"

namespace {

using namespace samplan;

// The invitations' side: which streams the consumer reads, where mail goes.
struct InvitationConfig {
  std::vector<std::string> municipalities;
  RedisOptions redis;
  StreamKeys stream_keys = StreamKeys::ProcessLocal();  // SAMPLAN_STREAM_KEYS
  std::string consumer;      // this replica's name in the group
  std::string smtp_url;      // empty: invitations are made but not sent
  surveys::DeliveryOptions delivery;
  absl::Duration interval;   // between sending rounds
};

class SurveysParts final : public ServingParts {
 public:
  SurveysParts(PgPool& pool, const Outbox& outbox, const CallHandler& calls, int threshold,
               const ProcessedEvents& processed, const InvitationConfig& config)
      : repository_(pool, outbox),
        invitations_(pool, outbox, config.delivery),
        service_(repository_, invitations_, calls, threshold) {
    if (!config.municipalities.empty()) {
      EventConsumerOptions options;
      options.group = "surveys";
      options.consumer = config.consumer;
      options.municipalities = config.municipalities;
      options.stream_keys = config.stream_keys;
      // Placements that ended before the service first ran are followed up too.
      options.start = GroupStart::kWholeStream;
      consumer_ = std::make_unique<EventConsumer>(
          options, config.redis, pool, processed,
          [&outbox](pqxx::transaction_base& tx, const events::v1::Event& event) {
            return surveys::ApplyInvitationEvent(tx, outbox, event, absl::Now());
          });
      consumer_->Start();
    }
    if (!config.smtp_url.empty()) {
      mailer_ = std::make_unique<surveys::CurlMailer>(surveys::SmtpOptions{config.smtp_url});
      dispatcher_ = std::make_unique<surveys::InvitationDispatcher>(invitations_, *mailer_,
                                                                    config.interval);
      dispatcher_->Start();
    }
  }
  ~SurveysParts() override { Stopping(); }
  std::vector<grpc::Service*> services() override { return {&service_}; }
  void Stopping() override {
    if (consumer_ != nullptr) consumer_->Stop();
    if (dispatcher_ != nullptr) dispatcher_->Stop();
  }
  surveys::PgSurveysRepository& repository() { return repository_; }

 private:
  surveys::PgSurveysRepository repository_;
  surveys::PgInvitationRepository invitations_;
  surveys::SurveyService service_;
  std::unique_ptr<EventConsumer> consumer_;
  std::unique_ptr<surveys::CurlMailer> mailer_;
  std::unique_ptr<surveys::InvitationDispatcher> dispatcher_;
};

}  // namespace

int main(int argc, char** argv) {
  static const ProcessedEvents processed(surveys::kSchema);
  int threshold = surveys::kDefaultSuppressionThreshold;
  InvitationConfig invitations;
  ServiceDefinition definition;
  definition.name = "surveys";
  definition.schema = surveys::kSchema;
  definition.migrations = surveys::SurveysMigrationSets();
  definition.statements = [](const Outbox& outbox) {
    std::vector<PreparedStatement> statements = surveys::SurveysRepositoryStatements(outbox);
    for (const PreparedStatement& s : processed.statements()) statements.push_back(s);
    return statements;
  };
  definition.methods_without_token = surveys::MethodsWithoutToken();
  definition.read_config = [&](EnvReader& env) {
    threshold = env.Int("SAMPLAN_SURVEYS_SUPPRESSION_THRESHOLD",
                        surveys::kDefaultSuppressionThreshold,
                        surveys::kMinSuppressionThreshold, 100);
    const std::string list = env.String("SAMPLAN_SURVEYS_MUNICIPALITIES", "");
    for (absl::string_view code : absl::StrSplit(list, ',', absl::SkipEmpty())) {
      if (!IsMunicipalityCode(code)) {
        env.AddProblem(absl::StrCat("SAMPLAN_SURVEYS_MUNICIPALITIES: \"", code,
                                    "\" is not a four-digit kommunkod"));
      }
      invitations.municipalities.emplace_back(code);
    }
    const RedisConfig redis = ReadRedisConfig(env);
    invitations.redis = redis.Options();
    invitations.stream_keys = ReadStreamKeys(env);
    invitations.consumer = env.String("HOSTNAME", "surveys");
    invitations.smtp_url = env.String("SAMPLAN_SMTP_URL", "");
    const std::string smtp_host = env.String("SAMPLAN_SMTP_HOST", "");
    const int smtp_port = env.Int("SAMPLAN_SMTP_PORT", 25, 1, 65535);
    if (invitations.smtp_url.empty() && !smtp_host.empty()) {
      invitations.smtp_url = absl::StrCat("smtp://", smtp_host, ":", smtp_port);
    }
    invitations.delivery.public_url =
        env.String("SAMPLAN_SURVEYS_PUBLIC_URL", "http://127.0.0.1:8080");
    while (!invitations.delivery.public_url.empty() &&
           invitations.delivery.public_url.back() == '/') {
      invitations.delivery.public_url.pop_back();
    }
    invitations.delivery.from = env.String("SAMPLAN_SURVEYS_MAIL_FROM", "vadhandesen@samplan.invalid");
    if (invitations.delivery.from.find('@') == std::string::npos) {
      env.AddProblem("SAMPLAN_SURVEYS_MAIL_FROM: must be an e-mail address");
    }
    invitations.interval =
        env.Duration("SAMPLAN_SURVEYS_SEND_INTERVAL", absl::Seconds(10), absl::Milliseconds(10));
  };
  definition.build = [&](PgPool& pool, const Outbox& outbox,
                         const CallHandler& calls) -> absl::StatusOr<std::unique_ptr<ServingParts>> {
    auto parts =
        std::make_unique<SurveysParts>(pool, outbox, calls, threshold, processed, invitations);
    // The shipped questionnaires, stored once (a repeat stores nothing).
    if (absl::Status installed = parts->repository().InstallShipped(
            surveys::ShippedQuestionnaires(), absl::Now() + absl::Seconds(30));
        !installed.ok()) {
      return installed;
    }
    return parts;
  };
  return ServiceMain(argc, argv, definition);
}
