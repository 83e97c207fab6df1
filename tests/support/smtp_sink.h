#ifndef SAMPLAN_TESTS_SUPPORT_SMTP_SINK_H_
#define SAMPLAN_TESTS_SUPPORT_SMTP_SINK_H_

// A real SMTP server for tests: Debian's python3-aiosmtpd on 127.0.0.1:<free
// port>, storing every message it accepts in a Maildir in a throwaway folder
// (its own aiosmtpd.handlers.Mailbox handler, as deploy/local/start.sh runs
// it). Stopped and removed on destruction.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/support/servers.h"

namespace samplan::testing {

class SmtpSink {
 public:
  static absl::StatusOr<std::unique_ptr<SmtpSink>> Start();
  ~SmtpSink();

  int port() const { return port_; }
  // "smtp://127.0.0.1:<port>".
  std::string Url() const;
  // Every message received so far, as the raw text the sink stored.
  std::vector<std::string> Messages() const;
  // Waits until at least `count` messages are there, up to `timeout`; returns
  // how many there are.
  size_t WaitForMessages(size_t count, absl::Duration timeout) const;
  // Kills the server (SIGKILL): the relay is away.
  void Kill();
  // Starts it again on the same port and folder.
  absl::Status Restart();

 private:
  SmtpSink() = default;
  absl::Status Spawn();
  int port_ = 0;
  std::string root_;
  std::unique_ptr<ChildProcess> process_;
};

// Returns the decoded text body of a message the sink stored (base64 or not).
std::string MailBody(const std::string& message);
// Returns the value of `header` in `message` (first one), or "".
std::string MailHeader(const std::string& message, const std::string& header);

}  // namespace samplan::testing

#endif  // SAMPLAN_TESTS_SUPPORT_SMTP_SINK_H_
