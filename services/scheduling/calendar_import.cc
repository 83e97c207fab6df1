#include "services/scheduling/calendar_import.h"

#include <libical/ical.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace samplan::scheduling {
namespace {

struct ComponentFree {
  void operator()(icalcomponent* c) const { icalcomponent_free(c); }
};
using Component = std::unique_ptr<icalcomponent, ComponentFree>;

// The instant of `t`: by its zone when it has one (UTC or a VTIMEZONE of the
// file), otherwise (floating, or a date) as Stockholm's local time.
absl::Time InstantOf(const icaltimetype& t) {
  if (t.zone != nullptr || icaltime_is_utc(t)) {
    const icaltimezone* zone =
        t.zone != nullptr ? t.zone : icaltimezone_get_utc_timezone();
    return absl::FromTimeT(icaltime_as_timet_with_zone(t, zone));
  }
  const absl::CivilSecond civil(t.year, t.month, t.day, t.is_date ? 0 : t.hour,
                                t.is_date ? 0 : t.minute, t.is_date ? 0 : t.second);
  return StockholmZone().At(civil).pre;
}

bool Readable(const icaltimetype& t) { return !icaltime_is_null_time(t) && icaltime_is_valid_time(t); }

void Take(std::vector<Interval>& out, absl::Time start, absl::Time end, absl::Time from,
          absl::Time to) {
  start = std::max(start, from);
  end = std::min(end, to);
  if (start < end) out.push_back({start, end});
}

absl::Status Unreadable(absl::string_view field, absl::string_view what) {
  return InvalidField(std::string(field), absl::StrCat("holds ", what, " whose times cannot be read"));
}

absl::Status FromEvent(icalcomponent* event, absl::Time from, absl::Time to,
                       absl::string_view field, std::vector<Interval>& out) {
  if (icalcomponent_get_status(event) == ICAL_STATUS_CANCELLED) return absl::OkStatus();
  icalproperty* transp = icalcomponent_get_first_property(event, ICAL_TRANSP_PROPERTY);
  if (transp != nullptr && icalproperty_get_transp(transp) == ICAL_TRANSP_TRANSPARENT) {
    return absl::OkStatus();
  }
  const icaltimetype start = icalcomponent_get_dtstart(event);
  if (!Readable(start)) return Unreadable(field, "a VEVENT");
  icaltimetype end = icalcomponent_get_dtend(event);
  absl::Time start_at = InstantOf(start);
  absl::Time end_at;
  if (Readable(end)) {
    end_at = InstantOf(end);
  } else if (start.is_date) {
    end_at = InstantOf(icaltime_add(start, icaldurationtype_from_int(24 * 3600)));
  } else {
    end_at = start_at;  // a moment takes no time
  }
  Take(out, start_at, end_at, from, to);
  return absl::OkStatus();
}

absl::Status FromFreeBusy(icalcomponent* freebusy, absl::Time from, absl::Time to,
                          absl::string_view field, std::vector<Interval>& out) {
  for (icalproperty* p = icalcomponent_get_first_property(freebusy, ICAL_FREEBUSY_PROPERTY);
       p != nullptr; p = icalcomponent_get_next_property(freebusy, ICAL_FREEBUSY_PROPERTY)) {
    icalparameter* type = icalproperty_get_first_parameter(p, ICAL_FBTYPE_PARAMETER);
    if (type != nullptr && icalparameter_get_fbtype(type) == ICAL_FBTYPE_FREE) continue;
    const icalperiodtype period = icalproperty_get_freebusy(p);
    if (!Readable(period.start)) return Unreadable(field, "a FREEBUSY period");
    const absl::Time start = InstantOf(period.start);
    absl::Time end;
    if (Readable(period.end)) {
      end = InstantOf(period.end);
    } else {
      end = start + absl::Seconds(icaldurationtype_as_int(period.duration));
    }
    Take(out, start, end, from, to);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<Interval>> BusyFromICalendar(absl::string_view calendar,
                                                        absl::Time from, absl::Time to,
                                                        absl::string_view field) {
  if (calendar.size() > kMaxCalendarBytes) {
    return InvalidField(std::string(field),
                        absl::StrCat("is ", calendar.size(), " bytes; at most ", kMaxCalendarBytes));
  }
  if (calendar.find("BEGIN:VCALENDAR") == absl::string_view::npos) {
    return InvalidField(std::string(field), "is not an iCalendar file (no BEGIN:VCALENDAR)");
  }
  // A problem in the file is the caller's, never a reason to stop the process.
  icalerror_set_errors_are_fatal(0);
  const std::string text(calendar);
  Component root(icalparser_parse_string(text.c_str()));
  if (root == nullptr || icalcomponent_isa(root.get()) != ICAL_VCALENDAR_COMPONENT) {
    return InvalidField(std::string(field), "is not an iCalendar file (no VCALENDAR)");
  }
  std::vector<Interval> out;
  for (icalcomponent* c = icalcomponent_get_first_component(root.get(), ICAL_ANY_COMPONENT);
       c != nullptr; c = icalcomponent_get_next_component(root.get(), ICAL_ANY_COMPONENT)) {
    absl::Status status;
    switch (icalcomponent_isa(c)) {
      case ICAL_VEVENT_COMPONENT:
        status = FromEvent(c, from, to, field, out);
        break;
      case ICAL_VFREEBUSY_COMPONENT:
        status = FromFreeBusy(c, from, to, field, out);
        break;
      default:
        break;  // VTIMEZONE is used through the times; VTODO and others take no time
    }
    if (!status.ok()) return status;
  }
  return Merged(std::move(out));
}

}  // namespace samplan::scheduling
