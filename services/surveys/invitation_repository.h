#ifndef SAMPLAN_SERVICES_SURVEYS_INVITATION_REPOSITORY_H_
#define SAMPLAN_SERVICES_SURVEYS_INVITATION_REPOSITORY_H_

// The storage the invitation calls (answering without an account) use. The
// caller is identified by the token of the link alone; each call is one
// transaction, and a change is versioned, audited and published with it.

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "samplan/surveys/v1/surveys.pb.h"

namespace samplan::surveys {

// An open invitation as a token finds it.
struct OpenInvitation {
  std::string id;  // the invitation's uuid
  v1::InvitationForm form;
};

class InvitationRepository {
 public:
  virtual ~InvitationRepository() = default;

  // Returns the invitation whose token hashes to `token_hash` with its
  // questionnaire and saved answers: NOT_FOUND when there is none or it is for
  // another questionnaire than `questionnaire` (an id; empty: any);
  // FAILED_PRECONDITION (reason ANSWERED, EXPIRED or CANCELLED) when it can no
  // longer be answered at `now`.
  // With `audited`, the read leaves an audit record under `request_id` (a read
  // before a save or submit leaves none: those audit their write).
  virtual absl::StatusOr<OpenInvitation> Open(const std::string& token_hash,
                                              const std::string& questionnaire, bool audited,
                                              const std::string& request_id, absl::Time now,
                                              absl::Time deadline) = 0;

  // Saves `answers` (validated) as the invitation's partial answers, after
  // checking again, under the row's lock, that it is still open.
  virtual absl::StatusOr<v1::InvitationForm> SaveAnswers(
      const std::string& id, const google::protobuf::RepeatedPtrField<v1::Answer>& answers,
      const std::string& request_id, absl::Time now, absl::Time deadline) = 0;

  // Submits `answers` (validated as final): stores the response (with no link
  // to the invitation or person for an anonymous questionnaire), closes the
  // invitation as answered, cancels its pending reminders, records the status
  // of the wave on the person's outcome record of the activity for
  // "vad-hande-sen", and publishes surveys.response.submitted. A second submit
  // gets FAILED_PRECONDITION (reason ANSWERED).
  virtual absl::Status Submit(const std::string& id,
                              const google::protobuf::RepeatedPtrField<v1::Answer>& answers,
                              const std::string& request_id, absl::Time now,
                              absl::Time deadline) = 0;
};

}  // namespace samplan::surveys

#endif  // SAMPLAN_SERVICES_SURVEYS_INVITATION_REPOSITORY_H_
