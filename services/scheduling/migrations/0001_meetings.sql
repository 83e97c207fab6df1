-- Meetings and whose time they hold. Applied into schema "scheduling"
-- (search_path is set).
--
-- A meeting is a serialized samplan.scheduling.v1.Meeting in `content`
-- (without name, etag and times kept as columns), beside the columns that
-- queries filter, order and lock on.

CREATE TABLE meetings (
  id uuid PRIMARY KEY,
  municipality text NOT NULL,
  -- "persons/{id}", or '' for a meeting about no person.
  person text NOT NULL,
  owner_organization text NOT NULL,
  kind text NOT NULL,
  status text NOT NULL,
  start_time timestamptz NOT NULL,
  end_time timestamptz NOT NULL CHECK (end_time > start_time),
  version bigint NOT NULL CHECK (version >= 1),
  content bytea NOT NULL,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL,
  create_request_id text NOT NULL,
  create_fingerprint text NOT NULL,
  UNIQUE (owner_organization, create_request_id)
);
CREATE INDEX meetings_by_person ON meetings (person, start_time, id) WHERE person <> '';

-- Who takes part, and whose time a booked meeting holds: one row per user
-- ("users/{id}") and, when taking part, the person ("persons/{id}").
CREATE TABLE meeting_attendees (
  meeting_id uuid NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
  attendee text NOT NULL,
  start_time timestamptz NOT NULL,
  end_time timestamptz NOT NULL,
  -- Booked and not declined: nobody else may book this attendee then.
  holds_time boolean NOT NULL,
  PRIMARY KEY (meeting_id, attendee)
);
CREATE INDEX meeting_attendees_held ON meeting_attendees (attendee, start_time)
  WHERE holds_time;
CREATE INDEX meeting_attendees_by_attendee ON meeting_attendees (attendee, start_time, meeting_id);

-- Every version of every meeting: the history behind etag and revision.
CREATE TABLE meeting_revisions (
  meeting_id uuid NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
  version bigint NOT NULL,
  content bytea NOT NULL,
  event_type text NOT NULL,
  actor_user text NOT NULL,
  actor_organization text NOT NULL,
  request_id text NOT NULL,
  create_time timestamptz NOT NULL,
  PRIMARY KEY (meeting_id, version)
);
