#ifndef SAMPLAN_TOOLS_FILES_H_
#define SAMPLAN_TOOLS_FILES_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"

namespace samplan::tools {

// Writes `contents` to `path` with exactly `mode` (also when the file existed with
// another mode: keys and tokens are credentials).
absl::Status WriteFileWithMode(const std::string& path, const std::string& contents,
                               mode_t mode);

}  // namespace samplan::tools

#endif  // SAMPLAN_TOOLS_FILES_H_
