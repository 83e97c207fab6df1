#include "tests/support/plan_load.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace samplan::testing {

namespace cp = caseplan::v1;
namespace ev = events::v1;

std::shared_ptr<grpc::Channel> PolicyChannel(const std::string& service_config,
                                             const std::vector<int>& ports, int salt) {
  std::vector<std::string> addresses;
  for (int port : ports) addresses.push_back(absl::StrCat("127.0.0.1:", port));
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(service_config);
  args.SetInt("samplan.test.channel", salt);
  return grpc::CreateCustomChannel(absl::StrCat("ipv4:", absl::StrJoin(addresses, ",")),
                                   grpc::InsecureChannelCredentials(), args);
}

PlanLoad::PlanLoad(std::shared_ptr<grpc::Channel> channel, std::string token,
                   std::vector<std::string> plans, LoadOptions options)
    : channel_(std::move(channel)),
      token_(std::move(token)),
      plans_(std::move(plans)),
      options_(options) {}

PlanLoad::~PlanLoad() { Stop(); }

void PlanLoad::Start() {
  for (int t = 0; t < options_.writers; ++t) {
    threads_.emplace_back([this, t] { Run(t, /*write=*/true); });
  }
  for (int t = 0; t < options_.readers; ++t) {
    threads_.emplace_back([this, t] { Run(t, /*write=*/false); });
  }
}

void PlanLoad::Stop() {
  stop_.store(true);
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

std::vector<Outcome> PlanLoad::outcomes() {
  std::lock_guard<std::mutex> lock(mu_);
  return outcomes_;
}

std::vector<Outcome> PlanLoad::outcomes_since(absl::Time since) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Outcome> out;
  for (auto it = outcomes_.rbegin(); it != outcomes_.rend() && it->end >= since; ++it) {
    out.push_back(*it);
  }
  return out;
}

std::set<std::pair<std::string, int64_t>> PlanLoad::confirmed() {
  std::lock_guard<std::mutex> lock(mu_);
  return confirmed_;
}

void PlanLoad::Run(int t, bool write) {
  auto stub = cp::CasePlanService::NewStub(channel_);
  std::mt19937 random(t * 2 + write);
  const absl::Duration period = write ? options_.writer_period : options_.reader_period;
  const int threads = write ? options_.writers : options_.readers;
  // Spread the threads' ticks over the period.
  absl::Time next = absl::Now() + period * (t + 1) / threads;
  // Each writer owns its plans, so that writers do not race each other.
  std::vector<std::string> own;
  for (size_t i = t; i < plans_.size(); i += threads) own.push_back(plans_[i]);
  if (own.empty()) own.push_back(plans_[t % plans_.size()]);
  for (int i = 0; !stop_.load(); ++i) {
    absl::SleepFor(next - absl::Now());
    next = std::max(next + period, absl::Now());  // a late call skips ticks
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + token_);
    context.set_deadline(absl::ToChronoTime(absl::Now() + options_.deadline));
    cp::Plan out;
    grpc::Status status;
    const absl::Time start = absl::Now();
    if (write) {
      // As the retry policy asks: a retried update is recognised by its id.
      context.AddMetadata("x-request-id", absl::StrCat("load-", t, "-", i, "-",
                                                       absl::ToUnixNanos(start)));
      cp::UpdatePlanRequest update;
      update.mutable_plan()->set_name(own[i % own.size()]);
      update.mutable_plan()->set_overall_goal_description(absl::StrCat("w", t, " i", i));
      update.mutable_update_mask()->add_paths("overall_goal_description");
      status = stub->UpdatePlan(&context, update, &out);
    } else {
      cp::GetPlanRequest get;
      get.set_name(plans_[random() % plans_.size()]);
      status = stub->GetPlan(&context, get, &out);
    }
    const absl::Time end = absl::Now();
    std::lock_guard<std::mutex> lock(mu_);
    outcomes_.push_back({write, status.error_code(), end, end - start});
    if (write && status.ok()) confirmed_.emplace(out.name(), out.version());
  }
}

Follower::Follower(std::shared_ptr<grpc::Channel> channel, std::string token)
    : stub_(ev::EventService::NewStub(std::move(channel))), token_(std::move(token)) {
  thread_ = std::thread([this] { Run(); });
}

Follower::~Follower() { Stop(); }

void Follower::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

bool Follower::live() {
  std::lock_guard<std::mutex> lock(mu_);
  return !cursor_.empty();
}

int Follower::resumed() {
  std::lock_guard<std::mutex> lock(mu_);
  return resumed_;
}

int64_t Follower::received() {
  std::lock_guard<std::mutex> lock(mu_);
  return received_;
}

std::map<std::string, std::vector<int64_t>> Follower::versions() {
  std::lock_guard<std::mutex> lock(mu_);
  return versions_;
}

void Follower::Run() {
  while (true) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + token_);
    ev::SubscribeRequest request;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      request.set_cursor(cursor_);
      context_ = &context;
    }
    request.mutable_heartbeat_interval()->set_seconds(1);
    request.add_event_types("caseplan.");
    auto reader = stub_->Subscribe(&context, request);
    ev::SubscribeResponse message;
    while (reader->Read(&message)) {
      std::lock_guard<std::mutex> lock(mu_);
      for (const ev::DeliveredEvent& e : message.events()) {
        if (e.has_event()) {
          versions_[e.event().aggregate()].push_back(e.event().aggregate_version());
          ++received_;
        }
      }
      if (!message.cursor().empty()) cursor_ = message.cursor();
    }
    reader->Finish().IgnoreError();
    {
      std::lock_guard<std::mutex> lock(mu_);
      context_ = nullptr;
      if (stop_) return;
      ++resumed_;
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
}

}  // namespace samplan::testing
