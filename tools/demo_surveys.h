#ifndef SAMPLAN_TOOLS_DEMO_SURVEYS_H_
#define SAMPLAN_TOOLS_DEMO_SURVEYS_H_

// The demo municipality's results follow-up, loaded through the surveys
// service's API by samplan-demo: outcome records of past placements (registered
// anonymously by praktiksamordningen), most with their exit and some with the
// status six months on, then the statistics a manager reads, with the cells too
// small to show suppressed. Re-running it changes nothing (fixed request ids;
// statuses only on records made by this run).

#include <grpcpp/grpcpp.h>

#include <memory>

#include "tools/demo_placement.h"

namespace samplan::tools {

// Loads the records and prints the statistics by gender. Returns false after
// printing why, when a call failed.
bool LoadSurveysDemo(std::shared_ptr<grpc::Channel> surveys, const PrepareCall& prepare);

}  // namespace samplan::tools

#endif  // SAMPLAN_TOOLS_DEMO_SURVEYS_H_
