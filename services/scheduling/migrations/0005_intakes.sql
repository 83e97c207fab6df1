-- Group intakes: sessions with a start list of limited size, enrolments on it
-- or on its waiting list, and every version of both. Applied into schema
-- "scheduling" (search_path is set).
--
-- As with meetings, the message is serialized in `content`; the columns hold
-- what queries filter, order and lock on.

CREATE TABLE intake_sessions (
  id uuid PRIMARY KEY,
  municipality text NOT NULL,
  owner_organization text NOT NULL,
  capacity integer NOT NULL CHECK (capacity BETWEEN 1 AND 200),
  start_time timestamptz NOT NULL,
  -- Raised by every change to the session or its lists: enrolments take turns
  -- on the session's row, so of two for the last seat one sees the other.
  version bigint NOT NULL CHECK (version >= 1),
  content bytea NOT NULL,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL,
  create_request_id text NOT NULL,
  create_fingerprint text NOT NULL,
  UNIQUE (owner_organization, create_request_id)
);

CREATE TABLE intake_enrolments (
  id uuid PRIMARY KEY,
  session_id uuid NOT NULL REFERENCES intake_sessions (id),
  person text NOT NULL,
  -- ENROLMENT_STATUS_ENROLLED, _WAITLISTED or _WITHDRAWN.
  status text NOT NULL,
  priority integer NOT NULL CHECK (priority BETWEEN 0 AND 100),
  -- The order of arrival (first come).
  arrival bigserial NOT NULL,
  version bigint NOT NULL CHECK (version >= 1),
  content bytea NOT NULL,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL
);
-- A person is on a session's lists once.
CREATE UNIQUE INDEX intake_enrolments_once ON intake_enrolments (session_id, person)
  WHERE status <> 'ENROLMENT_STATUS_WITHDRAWN';
CREATE INDEX intake_enrolments_by_session ON intake_enrolments (session_id, arrival);

-- Every version of every session and enrolment: the history behind etag and
-- revision.
CREATE TABLE intake_revisions (
  -- "intakeSessions/{id}" or "intakeSessions/{id}/enrolments/{id}".
  resource text NOT NULL,
  version bigint NOT NULL,
  content bytea NOT NULL,
  event_type text NOT NULL,
  actor_user text NOT NULL,
  actor_organization text NOT NULL,
  request_id text NOT NULL,
  create_time timestamptz NOT NULL,
  PRIMARY KEY (resource, version)
);
