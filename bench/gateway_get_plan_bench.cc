// Measures GetPlan through the HTTP/JSON gateway against the same call over gRPC
// straight to the caseplan service, in one run, at the same concurrency, against
// a running stack (deploy/local/start.sh):
//
//   build/bench/gateway_get_plan_bench --gateway 127.0.0.1:8080
//       --caseplan 127.0.0.1:50051 --token-file .local/tokens/soc.jwt
//       [--plan plans/<id>] [--clients 8] [--seconds 10] [--warmup 2]
//
// HTTP: `clients` threads, each with its own keep-alive HTTP/1.1 connection
// (cpp-httplib's client), GET /v1/plans/<id> and parse nothing (the body is read
// whole). gRPC: `clients` threads over one channel, blocking GetPlan. Prints both
// throughputs, p50 and p99 latency, and the ratio HTTP / gRPC. Without --plan
// it takes the first plan ListPlans returns.

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "samplan/caseplan/v1/caseplan.grpc.pb.h"

namespace {

namespace v1 = samplan::caseplan::v1;

struct Options {
  std::string gateway = "127.0.0.1:8080";
  std::string caseplan = "127.0.0.1:50051";
  std::string token_file = ".local/tokens/soc.jwt";
  std::string plan;
  int clients = 8;
  int seconds = 10;
  int warmup = 2;
};

struct Result {
  std::vector<double> latencies_ms;
  int64_t errors = 0;
  double seconds = 0;
  double Throughput() const { return latencies_ms.size() / seconds; }
  double Percentile(double p) const {
    if (latencies_ms.empty()) return 0;
    return latencies_ms[std::min(latencies_ms.size() - 1,
                                 static_cast<size_t>(p * (latencies_ms.size() - 1) + 0.5))];
  }
};

// Runs `make_worker(t)()` → operation on `clients` threads; warm-up, then measure.
template <typename MakeOperation>
Result Run(const Options& options, MakeOperation make_operation) {
  std::atomic<int> phase{0};
  std::vector<std::vector<double>> latencies(options.clients);
  std::vector<int64_t> errors(options.clients, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < options.clients; ++t) {
    threads.emplace_back([&, t] {
      auto operation = make_operation(t);
      while (phase.load() < 2) {
        const absl::Time start = absl::Now();
        const bool ok = operation();
        if (phase.load() != 1) continue;
        if (ok) {
          latencies[t].push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
        } else {
          ++errors[t];
        }
      }
    });
  }
  absl::SleepFor(absl::Seconds(options.warmup));
  phase.store(1);
  const absl::Time start = absl::Now();
  absl::SleepFor(absl::Seconds(options.seconds));
  Result result;
  result.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  phase.store(2);
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < options.clients; ++t) {
    result.latencies_ms.insert(result.latencies_ms.end(), latencies[t].begin(), latencies[t].end());
    result.errors += errors[t];
  }
  std::sort(result.latencies_ms.begin(), result.latencies_ms.end());
  return result;
}

void Print(const char* name, const Result& r) {
  std::printf("%-6s %9.0f calls/s   p50 %6.2f ms   p99 %6.2f ms   (%zu calls, %lld errors)\n",
              name, r.Throughput(), r.Percentile(0.5), r.Percentile(0.99), r.latencies_ms.size(),
              static_cast<long long>(r.errors));
}

bool ParseArgs(int argc, char** argv, Options& o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--gateway") o.gateway = value;
    else if (flag == "--caseplan") o.caseplan = value;
    else if (flag == "--token-file") o.token_file = value;
    else if (flag == "--plan") o.plan = value;
    else if (flag == "--clients") { if (!absl::SimpleAtoi(value, &o.clients)) return false; }
    else if (flag == "--seconds") { if (!absl::SimpleAtoi(value, &o.seconds)) return false; }
    else if (flag == "--warmup") { if (!absl::SimpleAtoi(value, &o.warmup)) return false; }
    else return false;
  }
  return argc % 2 == 1 && o.clients > 0 && o.seconds > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseArgs(argc, argv, options)) {
    std::fprintf(stderr, "usage: %s --gateway host:port --caseplan host:port --token-file f "
                 "[--plan plans/id] [--clients 8] [--seconds 10] [--warmup 2]\n", argv[0]);
    return 2;
  }
  std::ifstream file(options.token_file);
  std::string token((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  token = std::string(absl::StripAsciiWhitespace(token));
  if (token.empty()) {
    std::fprintf(stderr, "no token in %s\n", options.token_file.c_str());
    return 1;
  }
  auto channel = grpc::CreateChannel(options.caseplan, grpc::InsecureChannelCredentials());
  auto stub = v1::CasePlanService::NewStub(channel);
  if (options.plan.empty()) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + token);
    v1::ListPlansRequest request;
    request.set_page_size(1);
    v1::ListPlansResponse response;
    grpc::Status status = stub->ListPlans(&context, request, &response);
    if (!status.ok() || response.plans_size() == 0) {
      std::fprintf(stderr, "ListPlans found no plan: %s\n", status.error_message().c_str());
      return 1;
    }
    options.plan = response.plans(0).name();
  }
  const std::string path = absl::StrCat("/v1/", options.plan);
  const std::string bearer = absl::StrCat("Bearer ", token);
  std::printf("GetPlan %s, %d clients, %d s after %d s warm-up\n", options.plan.c_str(),
              options.clients, options.seconds, options.warmup);

  Result http = Run(options, [&](int) {
    auto client = std::make_shared<httplib::Client>(absl::StrCat("http://", options.gateway));
    client->set_keep_alive(true);
    client->set_tcp_nodelay(true);
    return [client, &path, &bearer] {
      httplib::Result r = client->Get(path.c_str(), {{"Authorization", bearer}});
      return r && r->status == 200 && !r->body.empty();
    };
  });
  Print("HTTP", http);
  Result grpc_result = Run(options, [&](int) {
    return [&] {
      grpc::ClientContext context;
      context.AddMetadata("authorization", bearer);
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      v1::GetPlanRequest request;
      request.set_name(options.plan);
      v1::Plan plan;
      return stub->GetPlan(&context, request, &plan).ok();
    };
  });
  Print("gRPC", grpc_result);
  std::printf("ratio HTTP / gRPC: %.2f\n",
              grpc_result.Throughput() > 0 ? http.Throughput() / grpc_result.Throughput() : 0.0);
  return 0;
}
