#ifndef SAMPLAN_TOOLS_DEMO_PLACEMENT_H_
#define SAMPLAN_TOOLS_DEMO_PLACEMENT_H_

// The demo municipality's placement bank, loaded through the placement service's
// API by samplan-demo: about 200 generated employers around Lindesberg with their
// workplaces and places of every kind, a contact log in which some employers have
// gone cold, placement needs and agreements for demo persons who consented to
// praktiksamordningen. Re-running it changes nothing (fixed request ids; contacts
// and agreement steps only where none were made).

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace samplan::tools {

// A demo person and the agency that registered them (owns their record).
struct DemoPersonRef {
  std::string person;  // "persons/{id}"
  std::string owner;   // the agency's short name, "soc"
};

// Makes a call as a demo agency: adds its token and a deadline to `context`.
using PrepareCall = std::function<void(grpc::ClientContext& context, const std::string& agency)>;

// Loads the bank and prints a sample of matching and the call list. Returns false
// after printing why, when a call failed.
bool LoadPlacementBank(std::shared_ptr<grpc::Channel> placement,
                       std::shared_ptr<grpc::Channel> identity, const PrepareCall& prepare,
                       const std::vector<DemoPersonRef>& persons);

}  // namespace samplan::tools

#endif  // SAMPLAN_TOOLS_DEMO_PLACEMENT_H_
