// samplan-call: calls one unary method of a Samplan service with a JSON request and
// prints the JSON response, for machines without grpcurl. The methods it knows are
// the ones compiled into it, so it needs no server reflection.
//
//   samplan-call [--address HOST:PORT] [--token TOKEN | --token-file PATH]
//                [--ca-file PATH [--cert-file PATH --key-file PATH] | --plaintext]
//                [--request-id ID] [--timeout SECONDS] [--verbose] METHOD [JSON]
//   samplan-call --list

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/stub_options.h>

#include "samplan/caseplan/v1/caseplan.pb.h"
#include "samplan/caseplan/v1/events.pb.h"
#include "samplan/events/v1/event_service.pb.h"
#include "samplan/identity/v1/events.pb.h"
#include "samplan/identity/v1/identity.pb.h"
#include "samplan/placement/v1/events.pb.h"
#include "samplan/placement/v1/placement.pb.h"
#include "samplan/scheduling/v1/events.pb.h"
#include "samplan/scheduling/v1/scheduling.pb.h"
#include "samplan/surveys/v1/events.pb.h"
#include "samplan/surveys/v1/surveys.pb.h"
#include "absl/strings/str_replace.h"
#include "common/channel.h"
#include "common/config.h"
#include "tools/rpc_text.h"

namespace samplan::tools {
namespace {

namespace pb = ::google::protobuf;

constexpr int kCallError = 1;
constexpr int kUsageError = 2;
constexpr char kDefaultAddress[] = "127.0.0.1:50051";

constexpr char kUsage[] =
    R"(Usage:
  samplan-call [--address HOST:PORT] [--token TOKEN | --token-file PATH]
               [--ca-file PATH [--cert-file PATH --key-file PATH] | --plaintext]
               [--request-id ID] [--timeout SECONDS] [--verbose] METHOD [JSON]
      Calls METHOD with the request JSON (proto JSON; read from standard input
      when JSON is omitted or "-") and prints the response as JSON.
      METHOD is samplan.caseplan.v1.CasePlanService/GetPlan, or a shorter form
      such as CasePlanService/GetPlan or GetPlan when that is unambiguous.
      --address     the service; default $SAMPLAN_ADDRESS, else 127.0.0.1:50051
      --token       bearer token, sent as "authorization: Bearer TOKEN"
      --token-file  file holding the token (for example from samplan-token)
      --ca-file     the CA the service's certificate must chain to (TLS);
                    default $SAMPLAN_TLS_CA_FILE
      --cert-file, --key-file
                    a client certificate and its key, for services that require
                    one (mutual TLS); default $SAMPLAN_TLS_CERT_FILE and
                    $SAMPLAN_TLS_KEY_FILE
      --plaintext   no TLS, for a service started with SAMPLAN_PLAINTEXT=true;
                    default $SAMPLAN_PLAINTEXT. Without it a CA is required.
      --request-id  sent as x-request-id, to find the call in the server's logs
      --timeout     deadline in seconds, default 10
      --verbose     also print the response metadata to standard error
      Exit status: 0 on success, 1 when the call failed (the status and its
      details go to standard error), 2 on a usage error.
  samplan-call --list
      Prints the services and methods this binary knows.
  samplan-call --help
)";

int UsageError(const std::string& message) {
  std::cerr << "samplan-call: " << message << "\n"
            << "Run samplan-call --help for usage.\n";
  return kUsageError;
}

// The proto files compiled into this binary whose services it can call. Naming a
// message of each also makes the linker keep the file's descriptor.
std::vector<const pb::FileDescriptor*> KnownFiles() {
  return {samplan::caseplan::v1::Plan::descriptor()->file(),
          samplan::identity::v1::Person::descriptor()->file(),
          samplan::events::v1::ListEventsRequest::descriptor()->file(),
          samplan::placement::v1::Placement::descriptor()->file(),
          samplan::scheduling::v1::Meeting::descriptor()->file(),
          samplan::surveys::v1::Questionnaire::descriptor()->file(),
          // Event payloads, so that JSON can show what an event's `payload` holds.
          samplan::caseplan::v1::PlanChanged::descriptor()->file(),
          samplan::identity::v1::ConsentChanged::descriptor()->file(),
          samplan::placement::v1::AgreementChanged::descriptor()->file(),
          samplan::scheduling::v1::MeetingChanged::descriptor()->file(),
          samplan::surveys::v1::OutcomeRecorded::descriptor()->file()};
}

std::vector<const pb::ServiceDescriptor*> KnownServices() {
  std::vector<const pb::ServiceDescriptor*> services;
  for (const pb::FileDescriptor* file : KnownFiles()) {
    for (int i = 0; i < file->service_count(); ++i) services.push_back(file->service(i));
  }
  return services;
}

std::string Signature(const pb::MethodDescriptor& method) {
  auto type = [](const pb::Descriptor* message, bool streaming) {
    return (streaming ? "stream " : "") + message->full_name();
  };
  return method.name() + "(" + type(method.input_type(), method.client_streaming()) +
         ") returns (" + type(method.output_type(), method.server_streaming()) + ")";
}

int List() {
  for (const pb::ServiceDescriptor* service : KnownServices()) {
    std::cout << service->full_name() << "\n";
    for (int i = 0; i < service->method_count(); ++i) {
      std::cout << "  " << Signature(*service->method(i)) << "\n";
    }
  }
  return std::cout.flush() ? 0 : 1;
}

// Finds the method named by `text`: "/pkg.Service/Method", "pkg.Service/Method",
// "Service/Method", "pkg.Service.Method" or just "Method". Sets `error` when the
// name matches no method or more than one.
const pb::MethodDescriptor* FindMethod(std::string_view text, std::string* error) {
  if (text.starts_with('/')) text.remove_prefix(1);
  std::string_view service_part;
  std::string_view method_part = text;
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    service_part = text.substr(0, slash);
    method_part = text.substr(slash + 1);
  } else if (size_t dot = text.rfind('.'); dot != std::string_view::npos) {
    service_part = text.substr(0, dot);
    method_part = text.substr(dot + 1);
  }
  std::vector<const pb::MethodDescriptor*> matches;
  for (const pb::ServiceDescriptor* service : KnownServices()) {
    if (!service_part.empty() && service_part != service->full_name() &&
        service_part != service->name()) {
      continue;
    }
    if (const pb::MethodDescriptor* method =
            service->FindMethodByName(std::string(method_part))) {
      matches.push_back(method);
    }
  }
  if (matches.size() == 1) return matches[0];
  if (matches.empty()) {
    *error = "unknown method " + std::string(text) +
             "; run samplan-call --list for the methods it knows";
  } else {
    *error = "method " + std::string(text) + " is ambiguous:";
    for (const pb::MethodDescriptor* method : matches) *error += " " + method->full_name();
  }
  return nullptr;
}

bool ReadAll(std::istream& in, std::string* out) {
  std::ostringstream text;
  text << in.rdbuf();
  *out = text.str();
  return !in.bad();
}

std::string_view Trim(std::string_view text) {
  const char* kSpace = " \t\r\n";
  size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(kSpace);
  return text.substr(begin, end - begin + 1);
}

struct Options {
  std::string address;
  std::string token;
  std::string token_file;
  std::string request_id;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  bool plaintext = false;
  double timeout_seconds = 10;
  bool verbose = false;
  std::vector<std::string> positional;
};

void PrintMetadata(std::string_view title,
                   const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
  for (const auto& [key, value] : metadata) {
    std::string_view name(key.data(), key.size());
    if (name.ends_with("-bin")) {
      std::cerr << title << " " << name << ": (" << value.size() << " bytes)\n";
    } else {
      std::cerr << title << " " << name << ": " << std::string_view(value.data(), value.size())
                << "\n";
    }
  }
}

int Call(const Options& options) {
  if (options.positional.empty()) return UsageError("METHOD is missing");
  if (options.positional.size() > 2) {
    return UsageError("too many arguments: expected METHOD and at most one JSON request");
  }
  std::string error;
  const pb::MethodDescriptor* method = FindMethod(options.positional[0], &error);
  if (method == nullptr) return UsageError(error);
  if (method->client_streaming() || method->server_streaming()) {
    return UsageError(method->full_name() + " is a streaming method; only unary methods "
                      "can be called");
  }

  std::string token = options.token;
  if (!options.token_file.empty()) {
    std::ifstream in(options.token_file);
    if (!in || !ReadAll(in, &token)) {
      return UsageError("cannot read --token-file " + options.token_file);
    }
  }
  std::string_view bearer = Trim(token);
  if (bearer.size() > 7 && (bearer.starts_with("Bearer ") || bearer.starts_with("bearer "))) {
    bearer = Trim(bearer.substr(7));  // pasted with its scheme
  }
  if (!options.token_file.empty() && bearer.empty()) {
    return UsageError("--token-file " + options.token_file + " is empty");
  }

  std::string json;
  if (options.positional.size() < 2 || options.positional[1] == "-") {
    if (isatty(STDIN_FILENO)) {
      std::cerr << "samplan-call: reading the " << method->input_type()->full_name()
                << " as JSON from standard input; end it with Ctrl-D\n";
    }
    if (!ReadAll(std::cin, &json)) return UsageError("cannot read standard input");
  } else {
    json = options.positional[1];
  }
  if (Trim(json).empty()) json = "{}";

  const pb::Message* prototype =
      pb::MessageFactory::generated_factory()->GetPrototype(method->input_type());
  std::unique_ptr<pb::Message> request(prototype->New());
  if (pb::util::Status parsed = pb::util::JsonStringToMessage(json, request.get());
      !parsed.ok()) {
    return UsageError("the request is not a valid " + method->input_type()->full_name() +
                      " in JSON: " + std::string(parsed.message()));
  }
  std::string request_bytes;
  if (!request->SerializeToString(&request_bytes)) {
    return UsageError("the request could not be encoded");
  }

  std::string address = options.address;
  if (address.empty()) {
    const char* env = std::getenv("SAMPLAN_ADDRESS");
    address = env != nullptr && *env != '\0' ? env : kDefaultAddress;
  }
  // The flags, else the environment, read by the rules every Samplan client
  // follows (common/config.h): plaintext only when asked for.
  // --plaintext on the command line outweighs files set in the environment.
  const std::map<std::string, std::string> flags = {
      {"SAMPLAN_TLS_CA_FILE", options.ca_file},
      {"SAMPLAN_TLS_CERT_FILE", options.cert_file},
      {"SAMPLAN_TLS_KEY_FILE", options.key_file},
      {"SAMPLAN_PLAINTEXT", options.plaintext ? "true" : ""}};
  EnvReader env([&](absl::string_view name) -> std::optional<std::string> {
    auto flag = flags.find(std::string(name));
    if (flag != flags.end() && !flag->second.empty()) return flag->second;
    if (options.plaintext) return std::nullopt;
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  });
  const std::optional<TlsFiles> tls = ReadTlsConfig(env, /*serves=*/false);
  if (absl::Status read = env.Finish(); !read.ok()) {
    return UsageError(absl::StrReplaceAll(
        read.message(), {{"SAMPLAN_TLS_CA_FILE is", "--ca-file (or $SAMPLAN_TLS_CA_FILE) is"},
                         {"SAMPLAN_PLAINTEXT=true", "--plaintext"}}));
  }
  auto channel = MakeChannel(address, tls);
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(
                           static_cast<int64_t>(options.timeout_seconds * 1000)));
  if (!bearer.empty()) context.AddMetadata("authorization", "Bearer " + std::string(bearer));
  if (!options.request_id.empty()) context.AddMetadata("x-request-id", options.request_id);

  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ByteBuffer response_buffer;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/" + method->service()->full_name() + "/" + method->name(),
                 grpc::StubOptions(), &request_buffer, &response_buffer,
                 [&done](grpc::Status status) { done.set_value(std::move(status)); });
  const grpc::Status status = done.get_future().get();

  if (options.verbose) {
    PrintMetadata("< header", context.GetServerInitialMetadata());
    PrintMetadata("< trailer", context.GetServerTrailingMetadata());
  }
  if (!status.ok()) {
    std::cerr << DescribeStatus(status, &context);
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
        StatusDetailLines(status, &context).empty()) {
      std::cerr << "  (is a Samplan service listening on " << address
                << ", and does it take this TLS setting: " << (tls.has_value() ? "TLS" : "plaintext")
                << (tls.has_value() && tls->cert_file.empty() ? " without a client certificate"
                                                              : "")
                << "?)\n";
    }
    return kCallError;
  }

  std::vector<grpc::Slice> slices;
  std::string response_bytes;
  if (response_buffer.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices) {
      response_bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  std::unique_ptr<pb::Message> response(
      pb::MessageFactory::generated_factory()->GetPrototype(method->output_type())->New());
  if (!response->ParseFromString(response_bytes)) {
    std::cerr << "samplan-call: the response is not a valid "
              << method->output_type()->full_name() << "\n";
    return kCallError;
  }
  pb::util::JsonPrintOptions print;
  print.add_whitespace = true;
  print.always_print_enums_as_ints = false;
  print.preserve_proto_field_names = false;
  std::string out;
  if (pb::util::Status printed = pb::util::MessageToJsonString(*response, &out, print);
      !printed.ok()) {
    std::cerr << "samplan-call: the response cannot be shown as JSON: " << printed.message()
              << "\n";
    return kCallError;
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  std::cout << out << "\n";
  return std::cout.flush() ? 0 : kCallError;
}

int Main(const std::vector<std::string_view>& args) {
  Options options;
  struct Flag {
    std::string_view name;
    std::string* value;
  };
  std::string timeout_text;
  const Flag flags[] = {{"--address", &options.address},
                        {"--token", &options.token},
                        {"--token-file", &options.token_file},
                        {"--request-id", &options.request_id},
                        {"--ca-file", &options.ca_file},
                        {"--cert-file", &options.cert_file},
                        {"--key-file", &options.key_file},
                        {"--timeout", &timeout_text}};
  bool list = false;
  bool seen_token = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (arg == "--list") {
      list = true;
      continue;
    }
    if (arg == "--verbose" || arg == "-v") {
      options.verbose = true;
      continue;
    }
    if (arg == "--plaintext") {
      options.plaintext = true;
      continue;
    }
    if (!arg.starts_with("--")) {
      options.positional.emplace_back(arg);
      continue;
    }
    std::string_view name = arg;
    std::optional<std::string> value;
    if (size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = std::string(arg.substr(eq + 1));
    }
    const Flag* flag = nullptr;
    for (const Flag& f : flags) {
      if (f.name == name) flag = &f;
    }
    if (flag == nullptr) return UsageError("unknown option " + std::string(name));
    if (!value.has_value()) {
      if (i + 1 >= args.size()) return UsageError(std::string(name) + " needs a value");
      value = std::string(args[++i]);
    }
    if (value->empty()) return UsageError(std::string(name) + " must not be empty");
    if (name == "--token" || name == "--token-file") {
      if (seen_token) return UsageError("give only one of --token and --token-file");
      seen_token = true;
    }
    *flag->value = *std::move(value);
  }
  if (list) {
    if (!options.positional.empty()) return UsageError("--list takes no METHOD");
    return List();
  }
  if (!timeout_text.empty()) {
    char* end = nullptr;
    options.timeout_seconds = std::strtod(timeout_text.c_str(), &end);
    if (end == timeout_text.c_str() || *end != '\0' || !(options.timeout_seconds > 0) ||
        options.timeout_seconds > 86400) {
      return UsageError("--timeout must be a positive number of seconds");
    }
  }
  if (!options.request_id.empty()) {
    for (char c : options.request_id) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == ':';
      if (!ok || options.request_id.size() > 128) {
        return UsageError(
            "--request-id must be 1 to 128 characters of letters, digits, - _ . and :");
      }
    }
  }
  return Call(options);
}

}  // namespace
}  // namespace samplan::tools

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << samplan::tools::kUsage;
    return samplan::tools::kUsageError;
  }
  return samplan::tools::Main(args);
}
