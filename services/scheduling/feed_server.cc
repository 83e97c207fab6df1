#include "services/scheduling/feed_server.h"

#include <httplib.h>

#include <atomic>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/log.h"

namespace samplan::scheduling {

class CalendarFeedServer::Impl {
 public:
  Impl(CalendarFeedRepository& feeds, const Clock& clock) : feeds_(feeds), clock_(clock) {
    server_.set_read_timeout(10, 0);
    server_.set_write_timeout(30, 0);
    server_.Get(R"(/feeds/([A-Za-z0-9_-]+)\.ics)",
                [this](const httplib::Request& req, httplib::Response& res) { Serve(req, res); });
    // Anything else, a secret of the wrong shape included, is as unknown as a
    // revoked one.
    server_.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (res.status == 404) res.set_content("not found\n", "text/plain; charset=utf-8");
    });
  }

  absl::Status Listen(const std::string& host, int port) {
    if (port == 0) {
      port_ = server_.bind_to_any_port(host);
      if (port_ <= 0) return absl::UnavailableError(absl::StrCat("cannot listen on ", host));
    } else {
      if (!server_.bind_to_port(host, port)) {
        return absl::UnavailableError(absl::StrCat("cannot listen on ", host, ":", port));
      }
      port_ = port;
    }
    listener_ = std::thread([this] { server_.listen_after_bind(); });
    return absl::OkStatus();
  }

  void Stop() {
    if (stopped_.exchange(true)) return;
    server_.stop();
    if (listener_.joinable()) listener_.join();
  }

  int port() const { return port_; }

 private:
  void Serve(const httplib::Request& req, httplib::Response& res) {
    const std::string secret = req.matches[1];
    res.set_header("Cache-Control", "private, no-cache");
    if (!IsFeedSecret(secret)) {
      res.status = 404;
      return;
    }
    const absl::Time now = clock_.Now();
    absl::StatusOr<std::vector<FeedEntry>> entries =
        feeds_.ReadFeed(FeedSecretHash(secret), now, now + absl::Seconds(10));
    if (absl::IsNotFound(entries.status())) {
      res.status = 404;
      return;
    }
    if (!entries.ok()) {
      // The secret stays out of the log, like everything personal.
      Log(LogLevel::kError, "calendar feed read failed",
          {{"code", absl::StatusCodeToString(entries.status().code())},
           {"error", entries.status().message()}});
      res.status = entries.status().code() == absl::StatusCode::kUnavailable ? 503 : 500;
      res.set_content("the feed cannot be read now\n", "text/plain; charset=utf-8");
      return;
    }
    const std::string calendar = WriteCalendarFeed(*entries);
    const std::string etag = FeedEtag(calendar);
    res.set_header("ETag", etag);
    const bool unchanged =
        req.has_header("If-None-Match") && EtagMatches(req.get_header_value("If-None-Match"), etag);
    // One line per read, like a call's: counts and timing, never the secret
    // or what the meetings are.
    Log(LogLevel::kInfo, "calendar feed read",
        {{"status", unchanged ? 304 : 200},
         {"meetings", static_cast<int>(entries->size())},
         {"duration_ms", absl::ToDoubleMilliseconds(clock_.Now() - now)}});
    if (unchanged) {
      res.status = 304;
      return;
    }
    res.status = 200;
    res.set_content(calendar, "text/calendar; charset=utf-8");
  }

  CalendarFeedRepository& feeds_;
  const Clock& clock_;
  httplib::Server server_;
  std::thread listener_;
  std::atomic<bool> stopped_{false};
  int port_ = 0;
};

CalendarFeedServer::CalendarFeedServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

CalendarFeedServer::~CalendarFeedServer() { Stop(); }

absl::StatusOr<std::unique_ptr<CalendarFeedServer>> CalendarFeedServer::Start(
    CalendarFeedRepository& feeds, const Clock& clock, const std::string& host, int port) {
  auto impl = std::make_unique<Impl>(feeds, clock);
  if (absl::Status listening = impl->Listen(host, port); !listening.ok()) return listening;
  return std::unique_ptr<CalendarFeedServer>(new CalendarFeedServer(std::move(impl)));
}

int CalendarFeedServer::port() const { return impl_->port(); }

void CalendarFeedServer::Stop() { impl_->Stop(); }

}  // namespace samplan::scheduling
