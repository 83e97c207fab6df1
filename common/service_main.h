#ifndef SAMPLAN_COMMON_SERVICE_MAIN_H_
#define SAMPLAN_COMMON_SERVICE_MAIN_H_

// The main() every service shares: the three modes, configuration, logging,
// migrations, metrics, the outbox relay, the database pool, the gRPC server and a
// graceful stop. A service says only what is its own (ServiceDefinition).
//
//   samplan-<name>                 apply migrations, serve gRPC, run the outbox relay
//   samplan-<name> --migrate-only  apply migrations and exit (a Kubernetes init step)
//   samplan-<name> --relay-only    run only the outbox relay (services that publish events)

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "common/call.h"
#include "common/config.h"
#include "common/migrations.h"
#include "common/outbox.h"
#include "common/pg.h"

namespace samplan {

// What a service serves: its gRPC services and whatever they stand on, kept
// alive until the server has stopped.
class ServingParts {
 public:
  virtual ~ServingParts() = default;
  virtual std::vector<grpc::Service*> services() = 0;
  // Called once the process is told to stop, before the server drains: ends
  // long-lived calls (streams) with a status that tells clients to reconnect, so
  // that the drain is not spent waiting for them.
  virtual void Stopping() {}
};

struct ServiceDefinition {
  // "caseplan": the log's service name, the database application name
  // "samplan-caseplan".
  std::string name;
  // The schema it owns, and the migration sets applied into it.
  std::string schema;
  std::vector<MigrationSet> migrations;
  // Reads the service's own variables, when it is to serve; problems go to `env`.
  std::function<void(EnvReader& env)> read_config = [](EnvReader&) {};
  // Whether it writes events (an outbox in its schema, and the relay that
  // publishes them); a service that only reads streams says false.
  bool publishes_events = true;
  // The statements its pool prepares.
  std::function<std::vector<PreparedStatement>(const Outbox& outbox)> statements;
  // The methods callers without an account may call, without a bearer token
  // (CallHandler): none unless the service says so.
  std::vector<std::string> methods_without_token;
  // Builds what it serves over the pool; called after read_config succeeded.
  std::function<absl::StatusOr<std::unique_ptr<ServingParts>>(
      PgPool& pool, const Outbox& outbox, const CallHandler& calls)>
      build;
};

// Runs the service as `argv` asks and returns the process's exit code.
int ServiceMain(int argc, char** argv, const ServiceDefinition& definition);

}  // namespace samplan

#endif  // SAMPLAN_COMMON_SERVICE_MAIN_H_
