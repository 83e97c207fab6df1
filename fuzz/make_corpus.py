#!/usr/bin/python3
"""Writes the seed corpus of the fuzz targets (fuzz/corpus/<target>/): valid
tokens, identity numbers, page tokens, stream entries and requests, each in the
byte layout its target reads (libFuzzer's FuzzedDataProvider: strings from the
front, numbers from the back). Run once after changing a target's input layout:

    protoc -I proto -I /usr/include --python_out=/tmp/samplan-py $(find proto -name '*.proto')
    PYTHONPATH=/tmp/samplan-py /usr/bin/python3 fuzz/make_corpus.py

Needs Debian's python3-protobuf and python3-cryptography. Inputs a fuzzer found
(crashes fixed since) are added by hand and kept: this script only adds files.
"""

import base64
import datetime
import hashlib
import json
import os
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from google.protobuf import text_format

from samplan.caseplan.v1 import caseplan_pb2
from samplan.events.v1 import event_pb2, event_service_pb2
from samplan.identity.v1 import identity_pb2
from samplan.placement.v1 import placement_pb2
from samplan.scheduling.v1 import scheduling_pb2
from samplan.surveys.v1 import surveys_pb2

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


class Provider:
    """Builds bytes in the order a FuzzedDataProvider consumes them."""

    def __init__(self):
        self.front = b""
        self.back = []  # chunks in consumption order, each from the end

    def string(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.front += data.replace(b"\\", b"\\\\") + b"\\n"
        return self

    def rest(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.front += data
        return self

    def integral(self, value, lo, hi):
        span, v, chunk = hi - lo, value - lo, b""
        offset = 0
        while offset < 64 and (span >> offset) > 0:
            # The first byte consumed (the very last) is the most significant.
            chunk = bytes([(v >> offset) & 0xFF]) + chunk
            offset += 8
        self.back.append(bytes(reversed(chunk)))
        return self

    def boolean(self, value):
        return self.integral(1 if value else 0, 0, 255)

    def bytes(self):
        tail = b"".join(reversed(self.back))
        return self.front + tail


def write(target, name, data):
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def proto(message_type, text):
    return text_format.Parse(text, message_type()).SerializeToString()


# --- tokens: the fuzz-only key of fuzz_token.cc, at its fixed now.
PRIVATE_KEY = b"""-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgove/MZwAN+BXQLwl
DVAspCY4Vt/GQEewuXURUZpgi+yhRANCAATZISmB33F53guFYSoGntW2z5r1Srk5
ohEeZtTzuau02h3KHWmcbIRN/B8UMBBAwgtgq7SifVu44hfy2Nypj5vq
-----END PRIVATE KEY-----
"""
NOW = int(datetime.datetime(2026, 6, 15, 10, tzinfo=datetime.timezone.utc).timestamp())
ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def token(header, claims):
    key = serialization.load_pem_private_key(PRIVATE_KEY, None)
    signing_input = b64(json.dumps(header).encode()) + b"." + b64(json.dumps(claims).encode())
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    if s > ORDER // 2:
        s = ORDER - s
    return signing_input + b"." + b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


HEADER = {"alg": "ES256", "kid": "fuzz", "typ": "JWT"}
CLAIMS = {"iss": "https://idp.fuzz.example", "aud": "samplan", "sub": "users/u-soc",
          "org": "organizations/soc", "municipality": "1885", "roles": ["caseworker"],
          "iat": NOW - 60, "exp": NOW + 3600}
write("fuzz_token", "valid", b"\x00" + token(HEADER, CLAIMS))
write("fuzz_token", "valid_audience_list",
      b"\x00" + token(HEADER, dict(CLAIMS, aud=["other", "samplan"], nbf=NOW - 60)))
write("fuzz_token", "expired", b"\x00" + token(HEADER, dict(CLAIMS, iat=NOW - 7200, exp=NOW - 3600)))
write("fuzz_token", "signed_claims",
      b"\x01" + json.dumps(HEADER).encode() + b"\x00" + json.dumps(CLAIMS).encode())
write("fuzz_token", "signed_claims_at_jwt",
      b"\x01" + json.dumps(dict(HEADER, typ="at+jwt")).encode() + b"\x00" +
      json.dumps(dict(CLAIMS, roles=["partner_system", "manager"], nbf=NOW)).encode())
write("fuzz_token", "not_three_segments", b"\x00eyJhbGciOiJFUzI1NiJ9.e30")

# --- personnummer, samordningsnummer, organisationsnummer ("today" 2025-12-12).
for name, text in [("personnummer_12", "198503122387"), ("personnummer_dash", "850312-2387"),
                   ("personnummer_plus", "850312+2387"), ("samordningsnummer", "198503722384"),
                   ("organisationsnummer", "556036-0793"), ("organisationsnummer_16", "165560360793"),
                   ("sole_trader", "19850312-2387")]:
    write("fuzz_identity_numbers", name, Provider().rest(text).integral(46000, 0, 100000).bytes())

# --- page tokens.
for name, count, filters, position, sent in [
        ("one_key", 1, "1885", ["2026-06-15T10:00:00Z"], ""),
        ("two_keys", 2, "persons/1|coordination", ["1718445600000000", "0b5e"], "cDEfMA"),
        ("no_keys", 0, "", [], "not a token")]:
    p = Provider().integral(count, 0, 4).string(filters)
    for part in position:
        p.string(part)
    write("fuzz_page_token", name, p.integral(25, -2**31, 2**31 - 1).rest(sent).bytes())

# --- stream entries.
EVENT = """event_id: "0b5e7c1e-2f3a-4d5b-8c6d-7e8f9a0b1c2d" type: "caseplan.plan.updated"
municipality: "1885" aggregate: "plans/5f3c" aggregate_version: 3
acting_organization: "organizations/soc" acting_user: "users/u-soc"
person: "persons/7d1e" data_category: "plan" trace_id: "t1" """
CONSENT = """event_id: "1c2d" type: "identity.consent.withdrawn" municipality: "1885"
aggregate: "consents/9a" aggregate_version: 2 acting_organization: "organizations/soc"
person: "persons/7d1e" data_category: "consent" """
for name, entry_id, version, cursor, event in [
        ("plan_updated", "1718445600000-0", "4", "1885:1718445600000-0", EVENT),
        ("consent_withdrawn", "1718445600001-3", "5", "1885:1-0;0180:2-5", CONSENT),
        ("no_person", "7", "", "", 'event_id: "x" type: "identity.organization.updated"')]:
    p = (Provider().string(entry_id).string(version).string("ev-1").string(cursor)
         .boolean(True).boolean(False).boolean(True).boolean(True))
    write("fuzz_event_envelope", name, p.rest(proto(event_pb2.Event, event)).bytes())

# --- update masks: (resource, mask, current, patch).
PLAN = """name: "plans/5f3c" municipality: "1885" lead_organization: "organizations/soc"
person: "persons/7d1e" status: PLAN_STATUS_ACTIVE overall_goal: OVERALL_GOAL_WORK
participants { organization: "organizations/af" } version: 3 etag: "3" """
ORGANIZATION = """name: "organizations/af" display_name: "Arbetsförmedlingen"
kind: ORGANIZATION_KIND_EMPLOYMENT_SERVICE municipalities: "1885" etag: "1" """
EMPLOYER = """name: "employers/e1" organization_number: "556036-0793" display_name: "Butiken"
industry: "handel" workplaces { id: "butik" display_name: "Butiken" } """
PLACEMENT = """name: "placements/p1" employer: "employers/e1" workplace: "butik"
kind: PLACEMENT_KIND_WORK_PRACTICE title: "Butiksbiträde" seats: 2 hours_per_week: 20 """
from google.protobuf import field_mask_pb2
for name, selector, message_type, mask, current, patch in [
        ("plan_goal", 0, caseplan_pb2.Plan, ["overall_goal", "etag"], PLAN,
         'overall_goal: OVERALL_GOAL_WORK'),
        ("plan_star", 0, caseplan_pb2.Plan, ["*"], PLAN, 'participants { organization: "organizations/fk" }'),
        ("organization", 1, identity_pb2.Organization, ["display_name", "kind"], ORGANIZATION,
         'display_name: "AF" kind: ORGANIZATION_KIND_OTHER'),
        ("employer", 2, placement_pb2.Employer, ["industry", "name"], EMPLOYER, 'industry: "vård"'),
        ("placement", 3, placement_pb2.Placement, ["seats", "nonsense"], PLACEMENT, "seats: 5")]:
    p = Provider().integral(selector, 0, 3)
    p.string(field_mask_pb2.FieldMask(paths=mask).SerializeToString())
    p.string(proto(message_type, current))
    write("fuzz_field_mask", name, p.rest(proto(message_type, patch)).bytes())

# --- validators: a selector, then the request(s).
CREATE_PLAN = """request_id: "0b5e7c1e-2f3a-4d5b-8c6d-7e8f9a0b1c2d" plan {
  person: "persons/7d1e2f3a-4d5b-4c6d-8e8f-9a0b1c2d3e4f" status: PLAN_STATUS_ACTIVE
  overall_goal: OVERALL_GOAL_WORK participants { organization: "organizations/af" }
  goals { description: "Klara kassan" } notes { text: "Första mötet." } }"""
UPDATE_PLAN = """plan { name: "plans/5f3c" overall_goal: OVERALL_GOAL_WORK notes { text: "Ny anteckning" } }
update_mask { paths: "overall_goal" paths: "notes" }"""
HAND_OVER = 'name: "plans/5f3c" to_organization: "organizations/af" reason: "AF leder planen nu."'
write("fuzz_caseplan_rules", "create_update_hand_over",
      Provider().string(proto(caseplan_pb2.CreatePlanRequest, CREATE_PLAN))
      .string(proto(caseplan_pb2.UpdatePlanRequest, UPDATE_PLAN))
      .rest(proto(caseplan_pb2.HandOverPlanRequest, HAND_OVER)).bytes())

for name, selector, message_type, text, prefix in [
        ("municipality", 0, identity_pb2.CreateMunicipalityRequest,
         'municipality { code: "1885" display_name: "Lindesberg" }', None),
        ("organization", 1, identity_pb2.CreateOrganizationRequest,
         'organization_id: "af" organization { display_name: "AF" '
         'kind: ORGANIZATION_KIND_EMPLOYMENT_SERVICE municipalities: "1885" }', None),
        ("update_organization", 2, identity_pb2.UpdateOrganizationRequest,
         'organization { display_name: "AF" } update_mask { paths: "display_name" }',
         proto(identity_pb2.Organization, ORGANIZATION)),
        ("user", 3, identity_pb2.CreateUserRequest,
         'user_id: "u-soc" user { display_name: "Anna" email: "a@example.org" '
         'memberships { organization: "organizations/soc" roles: "caseworker" } }', None),
        ("person", 4, identity_pb2.CreatePersonRequest,
         'request_id: "r1" person { identity_number: "19850312-2387" given_name: "Amira" '
         'family_name: "Testsson" phone: "070-000 00 00" }', None),
        ("consent", 5, identity_pb2.CreateConsentRequest,
         'request_id: "r2" consent { person: "persons/7d1e" grantee_organizations: "organizations/af" '
         'purpose: "coordination" data_categories: "plan" valid_until { seconds: 1800000000 } '
         'given_by: CONSENT_GIVER_PERSON method: CONSENT_METHOD_WRITTEN }', None),
        ("break_glass", 6, identity_pb2.BreakGlassRequest,
         'person: "persons/7d1e" data_category: "plan" reason: "Akut vård, kontakter behövs i natt."',
         None),
        ("lookup", 7, identity_pb2.LookupPersonRequest,
         'identity_number: "198503122387" purpose: "coordination"', None)]:
    p = Provider().integral(selector, 0, 7)
    if prefix is not None:
        p.string(prefix)
    write("fuzz_identity_rules", name, p.rest(proto(message_type, text)).bytes())

EMPLOYER_REQUEST = 'request_id: "r1" employer { ' + EMPLOYER.replace('name: "employers/e1" ', "") + "}"
AGREEMENT = """request_id: "r3" agreement { person: "persons/7d1e" placement: "placements/p1"
  supervisor { display_name: "Per Handledare" } hours_per_week: 20 goal: "Arbetserfarenhet"
  period { start_date { year: 2026 month: 7 day: 1 } end_date { year: 2026 month: 9 day: 30 } } }"""
write("fuzz_placement_rules", "employer",
      Provider().integral(0, 0, 4).string(proto(placement_pb2.CreateEmployerRequest, EMPLOYER_REQUEST))
      .string(proto(placement_pb2.UpdateEmployerRequest,
                    'employer { industry: "vård" } update_mask { paths: "industry" }')).bytes())
write("fuzz_placement_rules", "placement",
      Provider().integral(1, 0, 4).string(proto(placement_pb2.Employer, EMPLOYER))
      .string(proto(placement_pb2.CreatePlacementRequest, 'request_id: "r2" placement { ' +
                    PLACEMENT.replace('name: "placements/p1" ', "") + "}"))
      .string(proto(placement_pb2.UpdatePlacementRequest,
                    'placement { seats: 3 } update_mask { paths: "seats" }')).bytes())
write("fuzz_placement_rules", "contact",
      Provider().integral(2, 0, 4).string(proto(placement_pb2.LogContactRequest,
      'employer: "employers/e1" contact { kind: CONTACT_KIND_CALL agreed: "Två platser i höst." }'))
      .bytes())
write("fuzz_placement_rules", "need",
      Provider().integral(3, 0, 4).string(proto(placement_pb2.CreatePlacementNeedRequest,
      'request_id: "r4" placement_need { person: "persons/7d1e" profile { home { latitude: 59.6 '
      'longitude: 15.2 } interests: "handel" work_capacity_percent: 50 } }')).bytes())
agreement_steps = (Provider().integral(4, 0, 4).string(proto(placement_pb2.Placement, PLACEMENT))
                   .string(proto(placement_pb2.CreateAgreementRequest, AGREEMENT)))
agreement_steps.integral(0, 0, 4).string(proto(placement_pb2.RecordWorkplaceVisitRequest,
                                               'visit_date { year: 2026 month: 6 day: 1 }'))
for party in ("PARTY_PARTICIPANT", "PARTY_EMPLOYER", "PARTY_COORDINATOR"):
    agreement_steps.integral(1, 0, 4).string(proto(placement_pb2.SignAgreementRequest, "party: " + party))
agreement_steps.integral(2, 0, 4).integral(4, 0, 4).string(
    proto(placement_pb2.EndAgreementRequest, "reason: END_REASON_GOT_JOB outcome: OUTCOME_EMPLOYMENT"))
write("fuzz_placement_rules", "agreement_steps", agreement_steps.bytes())

MEETING = """request_id: "r1" meeting { kind: MEETING_KIND_FOLLOW_UP status: MEETING_STATUS_PROPOSED
  person: "persons/7d1e" start_time { seconds: 1782036000 } end_time { seconds: 1782039600 }
  participants { user: "users/u-af" organization: "organizations/af" } participants { is_person: true } }"""
meeting_steps = Provider().integral(0, 0, 7).string(proto(scheduling_pb2.CreateMeetingRequest, MEETING))
meeting_steps.integral(1, 0, 5).string(proto(scheduling_pb2.AnswerMeetingRequest,
                                             "answer: PARTICIPANT_ANSWER_ACCEPTED"))
meeting_steps.integral(0, 0, 5).string(proto(scheduling_pb2.RescheduleMeetingRequest,
    "start_time { seconds: 1782043200 } end_time { seconds: 1782046800 }"))
meeting_steps.integral(2, 0, 5).string(proto(scheduling_pb2.CancelMeetingRequest, 'reason: "Sjuk"'))
write("fuzz_scheduling_rules", "meeting_steps", meeting_steps.bytes())
for name, selector, message_type, text in [
        ("working_hours", 1, scheduling_pb2.SetWorkingHoursRequest,
         'working_hours { weekly_rules { day_of_week: 1 hours { start_time: "08:00" end_time: "16:00" } } }'),
        ("slots", 2, scheduling_pb2.FindCommonSlotsRequest,
         'required_users: "users/u-soc" duration_minutes: 60 window_start { seconds: 1782036000 } '
         'window_end { seconds: 1782640800 }'),
        ("calendar", 3, scheduling_pb2.ImportCalendarRequest,
         'source: "ical" calendar: "BEGIN:VCALENDAR\\r\\nVERSION:2.0\\r\\nPRODID:-//fuzz//EN\\r\\n'
         'BEGIN:VEVENT\\r\\nUID:1\\r\\nDTSTART:20260616T080000Z\\r\\nDTEND:20260616T090000Z\\r\\n'
         'RRULE:FREQ=WEEKLY;COUNT=3\\r\\nEND:VEVENT\\r\\nEND:VCALENDAR\\r\\n"'),
        ("intake_session", 4, scheduling_pb2.CreateIntakeSessionRequest,
         'request_id: "r5" intake_session { title: "Gruppintag" start_time { seconds: 1782036000 } }'),
        ("enrolment", 5, scheduling_pb2.EnrolInIntakeRequest,
         'parent: "intakeSessions/s1" enrolment { person: "persons/7d1e" }'),
        ("visit_route", 6, scheduling_pb2.PlanVisitRouteRequest,
         'coordinator: "users/u-soc" date { year: 2026 month: 6 day: 16 } '
         'start_place { latitude: 59.594 longitude: 15.230 } '
         'stops { id: "depot" coordinates { latitude: 59.6 longitude: 15.25 } }'),
        ("month_plan", 7, scheduling_pb2.PlanFollowUpMonthRequest,
         'coordinator: "users/u-soc" year: 2026 month: 7 home_place { latitude: 59.594 longitude: 15.23 }')]:
    write("fuzz_scheduling_rules", name,
          Provider().integral(selector, 0, 7).string(proto(message_type, text)).bytes())

QUESTIONNAIRE = """questionnaire_id: "uppfoljning" questionnaire { title { sv: "Uppföljning" }
  items { id: "sysselsattning" kind: ITEM_KIND_SINGLE_CHOICE text { sv: "Vad gör du nu?" }
  required: true choices { code: "arbete" text { sv: "Arbetar" } } } }"""
write("fuzz_surveys_rules", "questionnaire",
      Provider().integral(0, 0, 4).rest(proto(surveys_pb2.CreateQuestionnaireRequest, QUESTIONNAIRE)).bytes())
write("fuzz_surveys_rules", "outcome",
      Provider().integral(1, 0, 4).rest(proto(surveys_pb2.RecordOutcomeRequest,
      'request_id: "r1" outcome { person: "persons/7d1e" activity_kind: ACTIVITY_KIND_PLAN_ACTIVITY '
      'gender: GENDER_FEMALE age_at_entry: 41 entry_date { year: 2026 month: 1 day: 12 } '
      'entry { occupation: OCCUPATION_LOOKING_FOR_WORK } }')).bytes())
write("fuzz_surveys_rules", "status",
      Provider().integral(2, 0, 4).string(proto(surveys_pb2.Outcome, 'name: "outcomes/o1"'))
      .rest(proto(surveys_pb2.RecordOutcomeStatusRequest,
      'name: "outcomes/o1" stage: STAGE_EXIT status { occupation: OCCUPATION_WORK '
      'exit_reason: EXIT_REASON_GOT_JOB }')).bytes())
for final in (False, True):
    write("fuzz_surveys_rules", "answers_final" if final else "answers_saved",
          Provider().integral(3, 0, 4).boolean(final).integral(0, 0, 1)
          .rest(proto(surveys_pb2.SubmitInvitationAnswersRequest,
          'token: "abc" answers { item_id: "sysselsattning" choice: "OCCUPATION_LOOKING_FOR_WORK" } '
          'answers { item_id: "forsorjning" choice: "MAIN_INCOME_OTHER" }')).bytes())

for name, subscribe, text in [
        ("subscribe", True, 'municipalities: "1885" event_types: "caseplan." cursor: "1885:0-0" '
                            'purpose: "coordination"'),
        ("list_events", False, 'event_types: "caseplan.plan.*" page_token: "1885:1718445600000-0" '
                               'page_size: 100')]:
    p = Provider()
    for value, lo, hi in [(1718445600000, 0, 1 << 50), (0, 0, 1000), (0, 0, 1 << 50), (0, 0, 1000)]:
        p.integral(value, lo, hi)
    p.boolean(False).boolean(True).integral(1718000000000, 0, 1 << 50).integral(0, 0, 1000)
    p.boolean(False).integral(1718445600000, 0, 1 << 50).integral(0, 0, 1000).boolean(subscribe)
    message_type = (event_service_pb2.SubscribeRequest if subscribe
                    else event_service_pb2.ListEventsRequest)
    write("fuzz_events_rules", name, p.rest(proto(message_type, text)).bytes())
