#ifndef SAMPLAN_SERVICES_SURVEYS_MAILER_H_
#define SAMPLAN_SERVICES_SURVEYS_MAILER_H_

// Sending one mail over SMTP to the configured relay, with libcurl (Debian
// libcurl4-openssl-dev): a maintained SMTP client (STARTTLS, AUTH, pipelining
// of the envelope) rather than a hand-written protocol loop.

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace samplan::surveys {

// Hands one message to a mail relay.
class Mailer {
 public:
  virtual ~Mailer() = default;
  // Returns OK once the relay accepted `message` (RFC 5322 text, CRLF lines)
  // for `to`; UNAVAILABLE when it could not be reached or refused for now,
  // INVALID_ARGUMENT when it refused the recipient for good. The status message
  // names neither the recipient nor the content.
  virtual absl::Status Send(const std::string& from, const std::string& to,
                            const std::string& message) = 0;
};

struct SmtpOptions {
  // "smtp://host:port" (or smtps://); optionally with user:password@.
  std::string url;
  absl::Duration timeout = absl::Seconds(30);
};

// Mailer over libcurl's SMTP. Keeps one connection to the relay and reuses it;
// calls take turns (one sender thread uses it).
class CurlMailer final : public Mailer {
 public:
  explicit CurlMailer(SmtpOptions options);
  ~CurlMailer() override;
  absl::Status Send(const std::string& from, const std::string& to,
                    const std::string& message) override;

 private:
  const SmtpOptions options_;
  absl::Mutex mu_;
  void* curl_ ABSL_GUARDED_BY(mu_) = nullptr;  // CURL*
};

}  // namespace samplan::surveys

#endif  // SAMPLAN_SERVICES_SURVEYS_MAILER_H_
