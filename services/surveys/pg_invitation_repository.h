#ifndef SAMPLAN_SERVICES_SURVEYS_PG_INVITATION_REPOSITORY_H_
#define SAMPLAN_SERVICES_SURVEYS_PG_INVITATION_REPOSITORY_H_

// "Vad hände sen?" invitations over PostgreSQL: made from the placement and
// plan events (ApplyInvitationEvent, run by the event consumer exactly once per
// event), sent when due (ScheduleDue: the decision and its notification in one
// transaction), delivered by e-mail (DeliverNext), and answered by token (the
// InvitationRepository calls).
//
// Delivery semantics: a notification is marked sent in its own row, in the
// transaction that handed it to the mail relay. A crash after the relay
// accepted it and before that commit sends it again on the next attempt; the
// copy has the same Message-ID (`<notification id@domain>`), so it is
// recognisable as a duplicate. Failures are retried with exponential backoff
// (RetryDelay), each attempt and the last failure recorded in the row, until
// kMaxDeliveryAttempts.

#include <string>

#include <pqxx/pqxx>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/outbox.h"
#include "common/pg.h"
#include "samplan/events/v1/event.pb.h"
#include "services/surveys/invitation_repository.h"
#include "services/surveys/mailer.h"

namespace samplan::surveys {

struct DeliveryOptions {
  // The respondent page's base, without the trailing slash: links are
  // `<public_url>/svar/<token>`.
  std::string public_url;
  // The sender's address (envelope and From).
  std::string from;
  // Invitations handled per ScheduleDue transaction.
  int batch = 100;
};

// Applies one event to the invitations, within `tx` (which also records the
// event as processed): placement.agreement.completed and .ended, and
// caseplan.plan.updated to PLAN_STATUS_COMPLETED, schedule an invitation per
// matching rule of surveys.invitation_rules (each rule, person and activity
// once); identity.consent.withdrawn for follow_up cancels the person's open
// invitations that no active consent covers any more. Other events change
// nothing.
absl::Status ApplyInvitationEvent(pqxx::transaction_base& tx, const Outbox& outbox,
                                  const events::v1::Event& event, absl::Time now);

class PgInvitationRepository final : public InvitationRepository {
 public:
  // `pool` must have SurveysRepositoryStatements prepared.
  PgInvitationRepository(PgPool& pool, const Outbox& outbox, DeliveryOptions options)
      : pool_(pool), outbox_(outbox), options_(std::move(options)) {}

  absl::StatusOr<OpenInvitation> Open(const std::string& token_hash,
                                      const std::string& questionnaire, bool audited,
                                      const std::string& request_id, absl::Time now,
                                      absl::Time deadline) override;
  absl::StatusOr<v1::InvitationForm> SaveAnswers(
      const std::string& id, const google::protobuf::RepeatedPtrField<v1::Answer>& answers,
      const std::string& request_id, absl::Time now, absl::Time deadline) override;
  absl::Status Submit(const std::string& id,
                      const google::protobuf::RepeatedPtrField<v1::Answer>& answers,
                      const std::string& request_id, absl::Time now,
                      absl::Time deadline) override;

  // Handles up to options.batch invitations due at `now` (to send, or to
  // remind), and expires those not answered in time. For each it checks again
  // that the person's follow_up consent is active and a contact channel is on
  // record — cancelling the invitation otherwise — and writes the notification
  // (with a fresh token) in the same transaction. Returns how many
  // notifications it wrote.
  absl::StatusOr<int> ScheduleDue(absl::Time now, absl::Time deadline);

  // Delivers the next notification due at `now` through `mailer`, checking the
  // consent and the contact channel again first. Returns false when none was
  // due.
  absl::StatusOr<bool> DeliverNext(Mailer& mailer, absl::Time now, absl::Time deadline);

 private:
  PgPool& pool_;
  const Outbox& outbox_;
  const DeliveryOptions options_;
};

}  // namespace samplan::surveys

#endif  // SAMPLAN_SERVICES_SURVEYS_PG_INVITATION_REPOSITORY_H_
