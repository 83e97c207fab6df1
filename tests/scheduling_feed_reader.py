#!/usr/bin/python3
"""Reads a calendar feed with Debian's python3-icalendar, a reader nobody in
this project wrote, and prints what a calendar program would show: one line
per VEVENT, tab-separated (UID, SEQUENCE, STATUS, SUMMARY, DTSTART in ISO 8601
with its offset), after one line per VTIMEZONE ("TZ", TZID).

Usage: scheduling_feed_reader.py <file.ics>
"""
import sys

import icalendar


def main():
    with open(sys.argv[1], "rb") as f:
        calendar = icalendar.Calendar.from_ical(f.read())
    if calendar.name != "VCALENDAR" or str(calendar.get("VERSION")) != "2.0":
        sys.exit("not an iCalendar 2.0 file")
    for zone in calendar.walk("VTIMEZONE"):
        print("TZ\t%s" % zone.get("TZID"))
    for event in calendar.walk("VEVENT"):
        start = event.decoded("DTSTART")
        print("\t".join([
            str(event.get("UID")),
            str(event.decoded("SEQUENCE")),
            str(event.get("STATUS")),
            str(event.get("SUMMARY")),
            start.isoformat(),
        ]))


if __name__ == "__main__":
    main()
