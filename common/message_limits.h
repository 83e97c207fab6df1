#ifndef SAMPLAN_COMMON_MESSAGE_LIMITS_H_
#define SAMPLAN_COMMON_MESSAGE_LIMITS_H_

// The largest gRPC message any Samplan server or client sends or receives, and the
// channel arguments that make a client keep to it. A message beyond it is refused
// with RESOURCE_EXHAUSTED for its own call only; the connection and the server
// carry on. Every answer fits well below it: plans are bounded in size and pages
// of plans and revisions in bytes (services/caseplan/plan_rules.h), event pages
// in count.

#include <grpcpp/support/channel_arguments.h>

namespace samplan {

// 4 MiB: gRPC's default for what is received, now also the bound of what is sent.
inline constexpr int kMaxMessageBytes = 4 * 1024 * 1024;

// Returns channel arguments for a client of a Samplan service: `keepalive_ms`
// (0: gRPC's default) and the message limits in both directions.
inline grpc::ChannelArguments SamplanChannelArguments(int keepalive_ms = 0) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  if (keepalive_ms > 0) args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, keepalive_ms);
  return args;
}

}  // namespace samplan

#endif  // SAMPLAN_COMMON_MESSAGE_LIMITS_H_
