#include "tests/support/smtp_sink.h"

#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace samplan::testing {

// Debian's interpreter, which has python3-aiosmtpd, whatever python3 is first
// on PATH.
constexpr char kPython[] = "/usr/bin/python3";

absl::StatusOr<std::unique_ptr<SmtpSink>> SmtpSink::Start() {
  std::unique_ptr<SmtpSink> sink(new SmtpSink());
  std::string pattern = (std::filesystem::temp_directory_path() / "samplan-smtp-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  sink->root_ = pattern;
  sink->port_ = FreePort();
  if (absl::Status s = sink->Spawn(); !s.ok()) return s;
  return sink;
}

absl::Status SmtpSink::Spawn() {
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Spawn(
      kPython,
      {"-m", "aiosmtpd", "-n", "-l", absl::StrCat("127.0.0.1:", port_), "-c",
       "aiosmtpd.handlers.Mailbox", root_ + "/maildir"},
      {}, root_ + "/sink.log");
  if (!child.ok()) return child.status();
  process_ = *std::move(child);
  const absl::Time until = absl::Now() + absl::Seconds(20);
  while (absl::Now() < until) {
    if (PortAcceptsConnections(port_)) return absl::OkStatus();
    if (!process_->Running()) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::UnavailableError(
      absl::StrCat("the SMTP sink (python3-aiosmtpd) did not start; see ", root_, "/sink.log"));
}

SmtpSink::~SmtpSink() {
  process_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(root_, ignored);
}

std::string SmtpSink::Url() const { return absl::StrCat("smtp://127.0.0.1:", port_); }

std::vector<std::string> SmtpSink::Messages() const {
  std::vector<std::string> messages;
  for (const char* sub : {"/maildir/new", "/maildir/cur"}) {
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(root_ + sub, error)) {
      std::ifstream in(entry.path());
      std::stringstream text;
      text << in.rdbuf();
      messages.push_back(text.str());
    }
  }
  return messages;
}

size_t SmtpSink::WaitForMessages(size_t count, absl::Duration timeout) const {
  const absl::Time until = absl::Now() + timeout;
  size_t n = Messages().size();
  while (n < count && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(50));
    n = Messages().size();
  }
  return n;
}

void SmtpSink::Kill() {
  if (process_ != nullptr) {
    process_->Signal(SIGKILL);
    (void)process_->Wait(absl::Seconds(10));
  }
}

absl::Status SmtpSink::Restart() { return Spawn(); }

std::string MailHeader(const std::string& message, const std::string& header) {
  const std::string prefix = absl::AsciiStrToLower(header) + ":";
  for (absl::string_view line : absl::StrSplit(message, '\n')) {
    if (line.empty() || line == "\r") break;
    if (absl::StartsWith(absl::AsciiStrToLower(line), prefix)) {
      return std::string(absl::StripAsciiWhitespace(line.substr(prefix.size())));
    }
  }
  return "";
}

std::string MailBody(const std::string& message) {
  size_t start = message.find("\n\n");
  size_t skip = 2;
  const size_t crlf = message.find("\r\n\r\n");
  if (crlf != std::string::npos && (start == std::string::npos || crlf < start)) {
    start = crlf;
    skip = 4;
  }
  if (start == std::string::npos) return "";
  std::string body = message.substr(start + skip);
  if (absl::AsciiStrToLower(MailHeader(message, "Content-Transfer-Encoding")) == "base64") {
    std::string joined;
    for (char c : body) {
      if (c != '\r' && c != '\n') joined.push_back(c);
    }
    std::string decoded;
    if (absl::Base64Unescape(joined, &decoded)) return decoded;
  }
  return body;
}

}  // namespace samplan::testing
