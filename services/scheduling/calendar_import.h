#ifndef SAMPLAN_SERVICES_SCHEDULING_CALENDAR_IMPORT_H_
#define SAMPLAN_SERVICES_SCHEDULING_CALENDAR_IMPORT_H_

// Busy time out of an iCalendar file (RFC 5545), read with libical: the
// FREEBUSY periods of VFREEBUSY components (but FBTYPE=FREE) and the VEVENTs
// that take time (not TRANSP:TRANSPARENT, not STATUS:CANCELLED). Only their
// start and end are kept: never a title, place or attendee. No I/O here.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/scheduling/availability.h"

namespace samplan::scheduling {

// The largest file ImportCalendar reads.
inline constexpr size_t kMaxCalendarBytes = 2 * 1024 * 1024;

// Returns the busy intervals of `calendar` that overlap [from, to), cut to it,
// sorted and merged. Times with a TZID defined in the file are converted by
// it, UTC times as such, floating times and all-day dates as Stockholm's.
// INVALID_ARGUMENT naming `field` when it is not an iCalendar file, is larger
// than kMaxCalendarBytes, or holds a component whose times cannot be read.
absl::StatusOr<std::vector<Interval>> BusyFromICalendar(absl::string_view calendar,
                                                        absl::Time from, absl::Time to,
                                                        absl::string_view field);

}  // namespace samplan::scheduling

#endif  // SAMPLAN_SERVICES_SCHEDULING_CALENDAR_IMPORT_H_
