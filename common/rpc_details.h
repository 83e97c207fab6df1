#ifndef SAMPLAN_COMMON_RPC_DETAILS_H_
#define SAMPLAN_COMMON_RPC_DETAILS_H_

#include "google/rpc/status.pb.h"

namespace samplan {

// Finds the detail of type Message among a google.rpc.Status's details, which come
// in no particular order; returns whether there was one.
template <typename Message>
bool UnpackDetail(const google::rpc::Status& status, Message* out) {
  for (const auto& any : status.details()) {
    if (any.UnpackTo(out)) return true;
  }
  return false;
}

}  // namespace samplan

#endif  // SAMPLAN_COMMON_RPC_DETAILS_H_
