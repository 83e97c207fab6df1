#include "common/call.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/stubs/logging.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/status.h"
#include "common/text.h"

namespace samplan {
namespace {

absl::string_view Metadata(const grpc::ServerContextBase* context, absl::string_view key) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return {};
  return absl::string_view(it->second.data(), it->second.size());
}

// A request id lands in logs, audit records and the event stream: one shaped
// like a personnummer is not used (a new one is made, as for a malformed id).
bool IsWellFormedRequestId(absl::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '_' && c != '.' && c != ':') {
      return false;
    }
  }
  return !HoldsPersonalIdentityNumber(id);
}

// The well-formed request id the caller sent, or a new one.
std::string RequestIdOf(const grpc::ServerContextBase* context) {
  absl::string_view given = Metadata(context, "x-request-id");
  return IsWellFormedRequestId(given) ? std::string(given) : NewUuid();
}

// Writes the call's log line and counts it.
void RecordCall(absl::string_view method, absl::StatusCode code, absl::Duration took,
                absl::string_view organization) {
  const std::string code_name = absl::StatusCodeToString(code);
  Log(code == absl::StatusCode::kOk ? LogLevel::kInfo : LogLevel::kWarning, "call",
      {{"method", method},
       {"code", code_name},
       {"duration_ms", absl::ToDoubleMilliseconds(took)},
       {"organization", organization}});
  Metrics& metrics = Metrics::Global();
  metrics.Add("samplan_grpc_calls_total",
              Metrics::Labels{{"method", std::string(method)}, {"code", code_name}});
  metrics.Observe("samplan_grpc_call_duration_seconds",
                  Metrics::Labels{{"method", std::string(method)}}, absl::ToDoubleSeconds(took));
}

// The full name of the field whose bytes a failing parse on this thread
// complained of ("samplan.caseplan.v1.Plan.overall_goal_description"), set by
// protobuf's log handler and taken by the interceptor right after the parse,
// which runs on the same thread.
thread_local std::string parse_complaint;

void ProtobufLogHandler(google::protobuf::LogLevel level, const char* /*filename*/,
                        int /*line*/, const std::string& message) {
  // "String field 'pkg.Message.field' contains invalid UTF-8 data when parsing a
  // protocol buffer. …": the name, not the data.
  constexpr absl::string_view kPrefix = "String field '";
  if (absl::StartsWith(message, kPrefix)) {
    const size_t end = message.find('\'', kPrefix.size());
    if (end != std::string::npos) {
      parse_complaint = message.substr(kPrefix.size(), end - kPrefix.size());
      return;  // answered, and logged, as the call's INVALID_ARGUMENT
    }
  }
  const LogLevel ours = level == google::protobuf::LOGLEVEL_INFO      ? LogLevel::kInfo
                        : level == google::protobuf::LOGLEVEL_WARNING ? LogLevel::kWarning
                                                                      : LogLevel::kError;
  // Protobuf's messages name types and fields; cut at a newline all the same.
  Log(ours, "protobuf", {{"detail", absl::string_view(message).substr(0, message.find('\n'))}});
}

// Returns the path from `type` to the field named `full_name` ("plan.notes.text"
// for a field of a repeated message), or empty when it is not reachable.
std::string PathTo(const google::protobuf::Descriptor* type, absl::string_view full_name) {
  struct Step {
    const google::protobuf::Descriptor* type;
    std::string path;
  };
  std::vector<Step> queue = {{type, ""}};
  absl::flat_hash_set<const google::protobuf::Descriptor*> seen = {type};
  for (size_t i = 0; i < queue.size(); ++i) {
    const Step step = queue[i];
    for (int f = 0; f < step.type->field_count(); ++f) {
      const google::protobuf::FieldDescriptor* field = step.type->field(f);
      const std::string path =
          step.path.empty() ? field->name() : absl::StrCat(step.path, ".", field->name());
      if (field->full_name() == full_name) return path;
      const google::protobuf::Descriptor* nested = field->message_type();
      if (nested != nullptr && seen.insert(nested).second) queue.push_back({nested, path});
    }
  }
  return "";
}

class MalformedRequestInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit MalformedRequestInterceptor(grpc::experimental::ServerRpcInfo* info)
      : info_(info) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE)) {
      if (methods->GetRecvMessage() == nullptr) {
        malformed_ = true;
        received_ = absl::Now();
        field_ = std::move(parse_complaint);
      }
      parse_complaint.clear();
    }
    if (malformed_ &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      methods->ModifySendStatus(Answer());
    }
    methods->Proceed();
  }

 private:
  grpc::Status Answer() {
    // "/samplan.caseplan.v1.CasePlanService/CreatePlan"
    const absl::string_view full_method = info_->method();
    const absl::string_view method = full_method.substr(full_method.rfind('/') + 1);
    std::string path;
    std::string description = "the request could not be parsed";
    if (!field_.empty()) {
      const std::string service(full_method.substr(1, full_method.rfind('/') - 1));
      const google::protobuf::ServiceDescriptor* descriptor =
          google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
      const google::protobuf::MethodDescriptor* rpc =
          descriptor == nullptr ? nullptr : descriptor->FindMethodByName(std::string(method));
      if (rpc != nullptr) path = PathTo(rpc->input_type(), field_);
      description = "is not valid UTF-8";
    } else {
      description =
          "is not a valid message of its type (malformed bytes, or nested more than 100 deep)";
    }
    const std::string request_id = RequestIdOf(info_->server_context());
    ScopedRequestId scoped_id(request_id);
    RecordCall(method, absl::StatusCode::kInvalidArgument, absl::Now() - received_, "");
    return ToGrpcStatus(InvalidField(path.empty() ? "request" : path, description), request_id);
  }

  grpc::experimental::ServerRpcInfo* const info_;
  bool malformed_ = false;
  absl::Time received_;
  std::string field_;
};

class MalformedRequestInterceptorFactoryImpl final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MalformedRequestInterceptor(info);
  }
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MalformedRequestInterceptorFactory() {
  return std::make_unique<MalformedRequestInterceptorFactoryImpl>();
}

void RouteProtobufLogging() { google::protobuf::SetLogHandler(&ProtobufLogHandler); }

CallHandler::CallHandler(const TokenVerifier& verifier, absl::Duration default_timeout,
                         const Clock& clock, std::vector<std::string> methods_without_token)
    : verifier_(verifier),
      default_timeout_(default_timeout),
      clock_(clock),
      methods_without_token_(std::move(methods_without_token)) {
  Metrics::Global().Describe("samplan_grpc_calls_total", "counter",
                             "Calls answered, by method and status code.");
  Metrics::Global().Describe("samplan_grpc_call_duration_seconds", "histogram",
                             "Time from a call's arrival to its answer, by method.");
}

grpc::Status CallHandler::Handle(
    grpc::ServerContextBase* context, absl::string_view method,
    const google::protobuf::Message& request,
    absl::FunctionRef<absl::Status(const CallContext&)> body) const {
  const absl::Time started = absl::Now();
  absl::string_view given_id = Metadata(context, "x-request-id");
  std::string request_id = RequestIdOf(context);
  context->AddInitialMetadata("x-request-id", request_id);
  ScopedRequestId scoped_id(request_id);

  CallContext call;
  call.request_id = request_id;
  call.request_id_from_caller = IsWellFormedRequestId(given_id);
  call.now = clock_.Now();
  // gRPC reports "no deadline" as the far future; the server's default applies then.
  const absl::Time client_deadline = absl::FromChrono(context->deadline());
  call.deadline = client_deadline == absl::InfiniteFuture() ||
                          client_deadline - started > absl::Hours(24)
                      ? started + default_timeout_
                      : client_deadline;

  absl::Status status;
  absl::string_view authorization = Metadata(context, "authorization");
  const bool without_token =
      std::find(methods_without_token_.begin(), methods_without_token_.end(), method) !=
      methods_without_token_.end();
  if (call.deadline <= started) {
    status = absl::DeadlineExceededError("the call's deadline had passed on arrival");
  } else if (without_token) {
    // Declared open by the service: no principal, whatever a bearer token says.
    status = CheckNoNulCharacters(request);
    if (status.ok()) status = body(call);
  } else if (!absl::StartsWithIgnoreCase(authorization, "bearer ")) {
    status = absl::UnauthenticatedError(
        "missing credentials: send metadata \"authorization: Bearer <token>\"");
  } else {
    absl::string_view token =
        absl::StripAsciiWhitespace(authorization.substr(absl::string_view("bearer ").size()));
    absl::StatusOr<Principal> principal =
        verifier_.Verify(std::string_view(token.data(), token.size()));
    if (!principal.ok()) {
      status = principal.status();
    } else {
      call.principal = *std::move(principal);
      status = CheckNoNulCharacters(request);
      if (status.ok()) status = body(call);
    }
  }
  RecordCall(method, status.code(), absl::Now() - started, call.principal.organization);
  return ToGrpcStatus(status, request_id);
}

}  // namespace samplan
