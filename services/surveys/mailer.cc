#include "services/surveys/mailer.h"

#include <curl/curl.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace samplan::surveys {
namespace {

void GlobalInit() {
  static const bool initialized = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
  (void)initialized;
}

struct Upload {
  const std::string* text;
  size_t offset = 0;
};

size_t ReadPayload(char* buffer, size_t size, size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  const size_t room = size * count;
  const size_t left = upload->text->size() - upload->offset;
  const size_t n = left < room ? left : room;
  std::memcpy(buffer, upload->text->data() + upload->offset, n);
  upload->offset += n;
  return n;
}

}  // namespace

CurlMailer::CurlMailer(SmtpOptions options) : options_(std::move(options)) { GlobalInit(); }

CurlMailer::~CurlMailer() {
  absl::MutexLock lock(&mu_);
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

absl::Status CurlMailer::Send(const std::string& from, const std::string& to,
                              const std::string& message) {
  absl::MutexLock lock(&mu_);
  if (curl_ == nullptr) curl_ = curl_easy_init();
  CURL* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) return absl::UnavailableError("libcurl could not be initialised");
  curl_easy_reset(curl);
  Upload upload{&message};
  curl_slist* recipients = curl_slist_append(nullptr, to.c_str());
  const std::string mail_from = absl::StrCat("<", from, ">");
  curl_easy_setopt(curl, CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_FROM, mail_from.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, recipients);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, &ReadPayload);
  curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.timeout)));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  // STARTTLS when the relay offers it; smtps:// URLs are TLS throughout.
  curl_easy_setopt(curl, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_TRY));
  const CURLcode code = curl_easy_perform(curl);
  long response = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response);
  curl_slist_free_all(recipients);
  if (code == CURLE_OK) return absl::OkStatus();
  // curl's text for the code only: its error buffer can quote the recipient.
  const std::string what =
      absl::StrCat("SMTP: ", curl_easy_strerror(code), " (reply ", response, ")");
  if (code == CURLE_SEND_ERROR && response >= 500 && response < 600) {
    return absl::InvalidArgumentError(what);
  }
  return absl::UnavailableError(what);
}

}  // namespace samplan::surveys
