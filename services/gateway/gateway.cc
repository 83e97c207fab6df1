#include "services/gateway/gateway.h"

#include <httplib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>
#include <vector>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/proto_utils.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/config.h"
#include "common/channel.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/message_limits.h"
#include "common/metrics.h"
#include "common/status.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "services/gateway/routes.h"
#include "services/gateway/transcode.h"

namespace samplan::gateway {
namespace {

using google::protobuf::Message;

constexpr char kSessionCookie[] = "samplan_session";
constexpr char kCsrfCookie[] = "samplan_csrf";
constexpr char kCsrfHeader[] = "X-CSRF-Token";

// Returns the value of cookie `name` in the Cookie header, empty if absent.
std::string CookieValue(const httplib::Request& req, absl::string_view name) {
  for (absl::string_view part : absl::StrSplit(req.get_header_value("Cookie"), ';')) {
    part = absl::StripAsciiWhitespace(part);
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    if (kv.first == name) return std::string(kv.second);
  }
  return "";
}

bool Serialize(const Message& message, grpc::ByteBuffer& out) {
  bool own = false;
  return grpc::SerializationTraits<Message>::Serialize(message, &out, &own).ok();
}

bool Deserialize(grpc::ByteBuffer& in, Message& message) {
  return grpc::SerializationTraits<Message>::Deserialize(&in, &message).ok();
}

// Waits for `tag` on `cq`; calls `idle` every `every` while waiting (to notice a
// client that went away). Returns the operation's ok.
bool Await(grpc::CompletionQueue& cq, void* tag, const std::function<void()>& idle = {},
           absl::Duration every = absl::Seconds(1)) {
  while (true) {
    void* got = nullptr;
    bool ok = false;
    grpc::CompletionQueue::NextStatus next =
        cq.AsyncNext(&got, &ok, absl::ToChronoTime(absl::Now() + every));
    if (next == grpc::CompletionQueue::GOT_EVENT && got == tag) return ok;
    if (next == grpc::CompletionQueue::SHUTDOWN) return false;
    if (next == grpc::CompletionQueue::TIMEOUT && idle) idle();
  }
}

void DrainAndShutdown(grpc::CompletionQueue& cq) {
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
}

}  // namespace

struct Backend {
  std::string service;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<grpc::GenericStub> stub;
};

class Gateway::Impl {
 public:
  explicit Impl(GatewayConfig config) : config_(std::move(config)) {}

  absl::Status Init();
  absl::Status Listen();
  int port() const { return port_; }
  void Drain() { draining_ = true; }
  void Shutdown();

 private:
  struct Caller {
    std::string authorization;  // "Bearer ..."
    bool by_cookie = false;
  };

  void Dispatch(const httplib::Request& req, httplib::Response& res);
  void Serve(const RouteMatch& match, const httplib::Request& req, httplib::Response& res,
             const std::string& request_id);
  void ServeStream(const Route& route, const Backend& backend, std::unique_ptr<Message> request,
                   const httplib::Request& req, httplib::Response& res,
                   const std::string& request_id);
  void PrepareContext(grpc::ClientContext& context, const httplib::Request& req,
                      const Caller& caller, const std::string& request_id, bool stream) const;
  std::optional<Caller> CallerOf(const httplib::Request& req) const;
  void SignInPage(const httplib::Request& req, httplib::Response& res) const;
  void SignIn(const httplib::Request& req, httplib::Response& res) const;
  void Track(grpc::ClientContext* context, bool add);

  const GatewayConfig config_;
  RouteTable routes_;
  std::map<std::string, Backend> backends_;  // by service full name
  httplib::Server server_;
  std::thread listener_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> draining_{false};
  absl::Mutex mu_;
  std::set<grpc::ClientContext*> open_streams_ ABSL_GUARDED_BY(mu_);
};

void WriteError(httplib::Response& res, int http_status, const grpc::Status& status) {
  res.status = http_status;
  res.set_content(ErrorJson(status), "application/json");
}

void WriteError(httplib::Response& res, const grpc::Status& status) {
  WriteError(res, HttpStatusFromCode(status.error_code()), status);
}

absl::Status Gateway::Impl::Init() {
  const google::protobuf::DescriptorPool* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const auto& [name, address] : config_.backends) {
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(name);
    if (service == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "SAMPLAN_GATEWAY_BACKENDS: service ", name, " is not linked into this gateway"));
    }
    absl::Status added = routes_.AddService(*service);
    if (!added.ok()) return added;
    Backend backend;
    backend.service = name;
    backend.channel = MakeChannel(address, config_.backend_tls, SamplanChannelArguments(30000));
    backend.stub = std::make_unique<grpc::GenericStub>(backend.channel);
    backends_.emplace(name, std::move(backend));
  }
  Metrics::Global().Describe("samplan_gateway_requests_total", "counter",
                             "HTTP requests answered, by route and HTTP status.");
  Metrics::Global().Describe("samplan_gateway_request_duration_seconds", "histogram",
                             "Time from an HTTP request's arrival to its answer, by route.");

  server_.new_task_queue = [threads = config_.threads] {
    return new httplib::ThreadPool(static_cast<size_t>(threads));
  };
  server_.set_payload_max_length(config_.max_body_bytes);
  // Headers and body go out in separate writes: without this, Nagle's algorithm
  // and the client's delayed ACK hold every response back by tens of ms.
  server_.set_tcp_nodelay(true);
  server_.set_keep_alive_max_count(10000);
  server_.set_read_timeout(30, 0);
  server_.set_write_timeout(30, 0);
  server_.set_default_headers({
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
      {"Content-Security-Policy",
       "default-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'"},
      {"Cache-Control", "no-store"},
  });
  // Whatever httplib itself refuses (a body over the cap: 413, a malformed
  // request: 400) answers in the same JSON as every other error.
  server_.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    grpc::StatusCode code = grpc::StatusCode::INVALID_ARGUMENT;
    std::string message = "the request is malformed";
    if (res.status == 413) {
      code = grpc::StatusCode::RESOURCE_EXHAUSTED;
      message = "the request body is larger than the gateway accepts";
    } else if (res.status == 404) {
      code = grpc::StatusCode::NOT_FOUND;
      message = "no such page or API path";
    }
    res.set_content(ErrorJson(grpc::Status(code, message)), "application/json");
  });
  if (!config_.web_dir.empty() && !server_.set_mount_point("/", config_.web_dir)) {
    return absl::InvalidArgumentError(
        absl::StrCat("SAMPLAN_GATEWAY_WEB_DIR: ", config_.web_dir, " is no folder"));
  }
  server_.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    const bool stopping = stopping_ || draining_;
    res.status = stopping ? 503 : 200;
    res.set_content(stopping ? "stopping\n" : "ok\n", "text/plain");
  });
  if (!config_.openapi_json.empty()) {
    server_.Get("/openapi.json", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(config_.openapi_json, "application/json");
    });
  }
  if (config_.dev_sign_in) {
    server_.Get("/signin", [this](const httplib::Request& req, httplib::Response& res) {
      SignInPage(req, res);
    });
    server_.Post("/signin", [this](const httplib::Request& req, httplib::Response& res) {
      SignIn(req, res);
    });
  }
  server_.Post("/signout", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Set-Cookie", absl::StrCat(kSessionCookie,
                                              "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"));
    res.status = 303;
    res.set_header("Location", "/");
  });
  auto dispatch = [this](const httplib::Request& req, httplib::Response& res) {
    Dispatch(req, res);
  };
  server_.Get(".*", dispatch);
  server_.Post(".*", dispatch);
  server_.Put(".*", dispatch);
  server_.Patch(".*", dispatch);
  server_.Delete(".*", dispatch);
  server_.Options(".*", dispatch);
  return absl::OkStatus();
}

absl::Status Gateway::Impl::Listen() {
  absl::StatusOr<std::pair<std::string, int>> host_port = ParseHostPort(config_.listen_address);
  if (!host_port.ok()) return host_port.status();
  if (host_port->second == 0) {
    port_ = server_.bind_to_any_port(host_port->first);
    if (port_ <= 0) return absl::UnavailableError("cannot listen on " + config_.listen_address);
  } else {
    if (!server_.bind_to_port(host_port->first, host_port->second)) {
      return absl::UnavailableError("cannot listen on " + config_.listen_address);
    }
    port_ = host_port->second;
  }
  listener_ = std::thread([this] { server_.listen_after_bind(); });
  return absl::OkStatus();
}

void Gateway::Impl::Shutdown() {
  if (stopping_.exchange(true)) return;
  {
    absl::MutexLock lock(&mu_);
    for (grpc::ClientContext* context : open_streams_) context->TryCancel();
  }
  server_.stop();
  if (listener_.joinable()) listener_.join();
}

void Gateway::Impl::Track(grpc::ClientContext* context, bool add) {
  absl::MutexLock lock(&mu_);
  if (add) {
    open_streams_.insert(context);
    if (stopping_) context->TryCancel();
  } else {
    open_streams_.erase(context);
  }
}

std::optional<Gateway::Impl::Caller> Gateway::Impl::CallerOf(const httplib::Request& req) const {
  std::string authorization = req.get_header_value("Authorization");
  if (!authorization.empty()) return Caller{authorization, false};
  if (!config_.token_header.empty()) {
    std::string token = req.get_header_value(config_.token_header.c_str());
    if (!token.empty()) return Caller{absl::StrCat("Bearer ", token), false};
  }
  std::string session = CookieValue(req, kSessionCookie);
  if (!session.empty()) return Caller{absl::StrCat("Bearer ", session), true};
  return std::nullopt;
}

void Gateway::Impl::PrepareContext(grpc::ClientContext& context, const httplib::Request& req,
                                   const Caller& caller, const std::string& request_id,
                                   bool stream) const {
  context.AddMetadata("authorization", caller.authorization);
  if (!request_id.empty()) context.AddMetadata("x-request-id", request_id);
  if (!stream) {
    absl::Duration timeout = config_.call_timeout;
    if (req.has_header("grpc-timeout")) {
      std::optional<absl::Duration> asked = ParseTimeout(req.get_header_value("grpc-timeout"));
      if (asked && *asked < timeout) timeout = *asked;
    }
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
}

void Gateway::Impl::Dispatch(const httplib::Request& req, httplib::Response& res) {
  const absl::Time start = absl::Now();
  std::string route_label = "none";
  std::string request_id = req.get_header_value("x-request-id");
  RouteMatch match = routes_.Match(req.method, req.path);
  if (match.route == nullptr) {
    if (match.allowed_methods.empty()) {
      WriteError(res, 404, grpc::Status(grpc::StatusCode::NOT_FOUND,
                                        absl::StrCat("no API call at ", req.method, " ", req.path)));
    } else {
      res.set_header("Allow", absl::StrJoin(match.allowed_methods, ", "));
      WriteError(res, 405, grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                        absl::StrCat(req.method, " is not allowed here; use ",
                                                     absl::StrJoin(match.allowed_methods, " or "))));
    }
  } else {
    route_label = absl::StrCat(match.route->http_method, " ", match.route->path.text());
    Serve(match, req, res, request_id);
  }
  const absl::Duration took = absl::Now() - start;
  Log(res.status < 500 ? LogLevel::kInfo : LogLevel::kWarning, "http request",
      {{"route", route_label}, {"status", res.status},
       {"duration_ms", absl::ToDoubleMilliseconds(took)}});
  Metrics::Global().Add("samplan_gateway_requests_total",
                        Metrics::Labels{{"route", route_label},
                                        {"status", std::to_string(res.status)}});
  Metrics::Global().Observe("samplan_gateway_request_duration_seconds",
                            Metrics::Labels{{"route", route_label}}, absl::ToDoubleSeconds(took));
}

void Gateway::Impl::Serve(const RouteMatch& match, const httplib::Request& req,
                          httplib::Response& res, const std::string& request_id) {
  const Route& route = *match.route;
  // Never forward, never answer with data, without a token.
  std::optional<Caller> caller = CallerOf(req);
  if (!caller) {
    res.set_header("WWW-Authenticate", "Bearer");
    WriteError(res, grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                 "sign in: send Authorization: Bearer <token>"));
    return;
  }
  // A write authenticated by the session cookie must prove it comes from our own
  // page (double-submit token): SameSite=Strict alone leaves older browsers open.
  if (caller->by_cookie && req.method != "GET") {
    const std::string expected = CookieValue(req, kCsrfCookie);
    if (expected.empty() || req.get_header_value(kCsrfHeader) != expected) {
      WriteError(res, grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                   "a write from a signed-in page needs the X-CSRF-Token header"));
      return;
    }
  }
  const std::string service = route.method->service()->full_name();
  const Backend& backend = backends_.at(service);
  const Message* prototype =
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(route.method->input_type());
  std::unique_ptr<Message> request(prototype->New());
  HttpCall call;
  call.http_method = req.method;
  call.bindings = match.bindings;
  // The query of the URL only: httplib also puts a form body into `params`.
  const size_t question = req.target.find('?');
  if (question != std::string::npos) {
    httplib::Params query;
    httplib::detail::parse_query_text(req.target.substr(question + 1), query);
    for (const auto& [key, value] : query) call.query.emplace_back(key, value);
  }
  call.body = req.body;
  call.if_match = req.get_header_value("If-Match");
  absl::Status built = BuildRequest(route, call, *request);
  if (!built.ok()) {
    WriteError(res, ToGrpcStatus(built, request_id.empty() ? NewUuid() : request_id));
    return;
  }
  if (route.method->server_streaming()) {
    ServeStream(route, backend, std::move(request), req, res, request_id);
    return;
  }
  grpc::ClientContext context;
  PrepareContext(context, req, *caller, request_id, false);
  grpc::ByteBuffer request_bytes;
  if (!Serialize(*request, request_bytes)) {
    WriteError(res, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the request is too large"));
    return;
  }
  const std::string method_path =
      absl::StrCat("/", service, "/", route.method->name());
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> rpc =
      backend.stub->PrepareUnaryCall(&context, method_path, request_bytes, &cq);
  rpc->StartCall();
  grpc::ByteBuffer response_bytes;
  grpc::Status status;
  rpc->Finish(&response_bytes, &status, &status);
  Await(cq, &status);
  DrainAndShutdown(cq);
  for (const auto& [key, value] : context.GetServerInitialMetadata()) {
    if (key == "x-request-id") res.set_header("x-request-id", std::string(value.data(), value.size()));
  }
  for (const auto& [key, value] : context.GetServerTrailingMetadata()) {
    if (key == "x-request-id" && !res.has_header("x-request-id")) {
      res.set_header("x-request-id", std::string(value.data(), value.size()));
    }
  }
  if (!status.ok()) {
    WriteError(res, status);
    return;
  }
  std::unique_ptr<Message> response(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(route.method->output_type())
          ->New());
  if (!Deserialize(response_bytes, *response)) {
    WriteError(res, grpc::Status(grpc::StatusCode::INTERNAL, "the service answered nonsense"));
    return;
  }
  const std::string etag = EtagOf(*response);
  if (!etag.empty()) res.set_header("ETag", absl::StrCat("\"", etag, "\""));
  res.status = 200;
  res.set_content(ResponseJson(route, *response), "application/json");
}

// One server-streaming call bridged to Server-Sent Events. Each message is an
// event whose `id` is the message's `cursor`, so that the browser's own
// reconnection sends it back as Last-Event-ID; a message without events (a
// heartbeat) is a comment that still moves the id on.
struct StreamCall {
  grpc::ClientContext context;
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call;
  const Route* route = nullptr;
  std::unique_ptr<Message> first;
  std::function<void(grpc::ClientContext*, bool)> track;
  ~StreamCall() {
    track(&context, false);
    DrainAndShutdown(cq);
  }
};

std::string SseFrame(const Route& route, const Message& message) {
  std::string cursor;
  const auto* field = message.GetDescriptor()->FindFieldByName("cursor");
  if (field != nullptr && field->type() == google::protobuf::FieldDescriptor::TYPE_STRING &&
      !field->is_repeated()) {
    cursor = message.GetReflection()->GetString(message, field);
  }
  std::string frame;
  const auto* events = message.GetDescriptor()->FindFieldByName("events");
  const bool heartbeat = events != nullptr && events->is_repeated() &&
                         message.GetReflection()->FieldSize(message, events) == 0;
  if (heartbeat) {
    frame = ": heartbeat\n";
    // An id without data moves the browser's Last-Event-ID on and fires nothing.
    if (!cursor.empty()) absl::StrAppend(&frame, "id: ", cursor, "\n");
    absl::StrAppend(&frame, "\n");
    return frame;
  }
  if (!cursor.empty()) absl::StrAppend(&frame, "id: ", cursor, "\n");
  absl::StrAppend(&frame, "data: ", ResponseJson(route, message), "\n\n");
  return frame;
}

void Gateway::Impl::ServeStream(const Route& route, const Backend& backend,
                                std::unique_ptr<Message> request, const httplib::Request& req,
                                httplib::Response& res, const std::string& request_id) {
  // The browser resumes by sending the id of the last event it saw.
  const std::string last_event_id = req.get_header_value("Last-Event-ID");
  if (!last_event_id.empty()) {
    const auto* cursor = request->GetDescriptor()->FindFieldByName("cursor");
    if (cursor != nullptr && cursor->type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
      request->GetReflection()->SetString(request.get(), cursor, last_event_id);
    }
  }
  auto stream = std::make_shared<StreamCall>();
  stream->route = &route;
  stream->track = [this](grpc::ClientContext* context, bool add) { Track(context, add); };
  PrepareContext(stream->context, req, *CallerOf(req), request_id, true);
  Track(&stream->context, true);
  const std::string method_path =
      absl::StrCat("/", backend.service, "/", route.method->name());
  stream->call = backend.stub->PrepareCall(&stream->context, method_path, &stream->cq);
  grpc::ByteBuffer request_bytes;
  Serialize(*request, request_bytes);
  void* tag = stream.get();
  bool ok = (stream->call->StartCall(tag), Await(stream->cq, tag));
  if (ok) ok = (stream->call->Write(request_bytes, tag), Await(stream->cq, tag));
  if (ok) ok = (stream->call->WritesDone(tag), Await(stream->cq, tag));
  grpc::ByteBuffer first;
  if (ok) ok = (stream->call->Read(&first, tag), Await(stream->cq, tag));
  if (!ok) {
    // Refused before anything was sent: an ordinary HTTP error.
    grpc::Status status;
    stream->call->Finish(&status, tag);
    Await(stream->cq, tag);
    WriteError(res, status.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "the stream ended")
                                : status);
    return;
  }
  stream->first.reset(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(route.method->output_type())
          ->New());
  Deserialize(first, *stream->first);
  res.status = 200;
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream", [stream](size_t, httplib::DataSink& sink) {
        void* tag = stream.get();
        auto idle = [&] {
          if (!sink.is_writable()) stream->context.TryCancel();
        };
        std::string frame = "retry: 1000\n\n" + SseFrame(*stream->route, *stream->first);
        bool open = sink.write(frame.data(), frame.size());
        std::unique_ptr<Message> message(stream->first->New());
        while (open) {
          grpc::ByteBuffer bytes;
          stream->call->Read(&bytes, tag);
          if (!Await(stream->cq, tag, idle)) break;
          message->Clear();
          if (!Deserialize(bytes, *message)) break;
          frame = SseFrame(*stream->route, *message);
          open = sink.write(frame.data(), frame.size());
        }
        if (!open) stream->context.TryCancel();
        grpc::Status status;
        stream->call->Finish(&status, tag);
        Await(stream->cq, tag);
        if (open) {
          // How it ended, for a client that wants to know why (the browser
          // reconnects by itself with Last-Event-ID).
          frame = absl::StrCat("event: end\ndata: ", ErrorJson(status), "\n\n");
          sink.write(frame.data(), frame.size());
          sink.done();
        }
        return open;
      });
}

void Gateway::Impl::SignInPage(const httplib::Request&, httplib::Response& res) const {
  std::vector<std::string> agencies;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(config_.dev_tokens_dir, error)) {
    const std::string agency = entry.path().stem().string();
    if (entry.path().extension() == ".jwt" && IsResourceId(agency)) agencies.push_back(agency);
  }
  std::sort(agencies.begin(), agencies.end());
  std::string buttons;
  for (const std::string& agency : agencies) {
    absl::StrAppend(&buttons, "<li><button type=\"submit\" name=\"agency\" value=\"",
                    agency, "\">", agency, "</button></li>\n");
  }
  res.set_content(absl::StrCat(R"(<!doctype html>
<html lang="sv">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Logga in (utvecklingsläge) – Samplan</title>
<link rel="stylesheet" href="/samplan.css"></head>
<body><header><p class="brand">Samplan</p></header>
<main id="main"><h1>Logga in som en demo-aktör</h1>
<p>Endast i utvecklingsläge. I drift loggar du in via din organisations inloggning.</p>
<form method="post" action="/signin"><ul class="agencies">
)", buttons, R"(</ul></form></main></body></html>
)"),
                  "text/html; charset=utf-8");
}

void Gateway::Impl::SignIn(const httplib::Request& req, httplib::Response& res) const {
  std::string agency = req.get_param_value("agency");
  if (agency.empty()) {
    httplib::Params form;
    httplib::detail::parse_query_text(req.body, form);
    auto it = form.find("agency");
    if (it != form.end()) agency = it->second;
  }
  if (!IsResourceId(agency)) {
    WriteError(res, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "agency: no such demo agency"));
    return;
  }
  std::ifstream file(std::filesystem::path(config_.dev_tokens_dir) / (agency + ".jwt"));
  std::string token((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  token = std::string(absl::StripAsciiWhitespace(token));
  if (token.empty()) {
    WriteError(res, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "agency: no such demo agency"));
    return;
  }
  res.set_header("Set-Cookie", absl::StrCat(kSessionCookie, "=", token,
                                            "; Path=/; HttpOnly; SameSite=Strict"));
  res.set_header("Set-Cookie", absl::StrCat(kCsrfCookie, "=", NewUuid(),
                                            "; Path=/; SameSite=Strict"));
  res.set_header("Set-Cookie", absl::StrCat("samplan_agency=", agency,
                                            "; Path=/; SameSite=Strict"));
  res.status = 303;
  res.set_header("Location", "/");
}

absl::StatusOr<std::map<std::string, std::string>> ParseBackends(absl::string_view text) {
  std::map<std::string, std::string> backends;
  for (absl::string_view entry : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(entry, absl::MaxSplits('=', 1));
    if (kv.first.empty() || kv.second.empty() || !ParseHostPort(kv.second).ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "SAMPLAN_GATEWAY_BACKENDS: \"", entry, "\" is not <service>=<host:port>"));
    }
    if (!backends.emplace(std::string(kv.first), std::string(kv.second)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("SAMPLAN_GATEWAY_BACKENDS: ", kv.first, " is given twice"));
    }
  }
  if (backends.empty()) {
    return absl::InvalidArgumentError("SAMPLAN_GATEWAY_BACKENDS: names no service");
  }
  return backends;
}

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Gateway::~Gateway() { Shutdown(); }

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Start(GatewayConfig config) {
  auto impl = std::make_unique<Impl>(std::move(config));
  absl::Status status = impl->Init();
  if (!status.ok()) return status;
  status = impl->Listen();
  if (!status.ok()) return status;
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

int Gateway::port() const { return impl_->port(); }

void Gateway::Drain() { impl_->Drain(); }

void Gateway::Shutdown() {
  if (impl_) impl_->Shutdown();
}

}  // namespace samplan::gateway
