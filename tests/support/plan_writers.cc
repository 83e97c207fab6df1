#include "tests/support/plan_writers.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "samplan/caseplan/v1/caseplan.grpc.pb.h"

namespace samplan::testing {

PlanWriters::PlanWriters(const std::string& address, const TestKeys& keys,
                         std::vector<std::string> plans, PlanWritersOptions options)
    : keys_(keys), plans_(std::move(plans)), options_(options),
      channel_(grpc::CreateChannel(address, grpc::InsecureChannelCredentials())) {}

PlanWriters::~PlanWriters() { Stop(); }

void PlanWriters::Start(int threads) {
  for (int t = 0; t < threads; ++t) {
    threads_.emplace_back([this, t] {
      auto stub = caseplan::v1::CasePlanService::NewStub(channel_);
      const std::string token = keys_.Token("soc");
      for (int i = 0; !stop_.load(); ++i) {
        caseplan::v1::UpdatePlanRequest update;
        update.mutable_plan()->set_name(plans_[(t + i) % plans_.size()]);
        update.mutable_plan()->set_overall_goal_description(absl::StrCat("t", t, " i", i));
        update.mutable_update_mask()->add_paths("overall_goal_description");
        grpc::ClientContext context;
        context.AddMetadata("authorization", "Bearer " + token);
        context.set_deadline(absl::ToChronoTime(absl::Now() + options_.deadline));
        caseplan::v1::Plan out;
        if (stub->UpdatePlan(&context, update, &out).ok()) {
          std::lock_guard<std::mutex> lock(mu_);
          confirmed_.emplace(out.name(), out.version());
          last_ok_micros_.store(absl::ToUnixMicros(absl::Now()));
        } else {
          ++failed_;
          absl::SleepFor(options_.pause_after_failure);
        }
        absl::SleepFor(options_.pause_after_call);
      }
    });
  }
}

void PlanWriters::Stop() {
  stop_.store(true);
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

std::set<std::pair<std::string, int64_t>> PlanWriters::confirmed() {
  std::lock_guard<std::mutex> lock(mu_);
  return confirmed_;
}

}  // namespace samplan::testing
