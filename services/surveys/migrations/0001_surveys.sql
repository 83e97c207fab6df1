-- Questionnaires and the results follow-up (SUS). Applied into schema "surveys"
-- (search_path is set).

-- Each published version of a questionnaire, never changed once stored. The
-- shipped ones have municipality '' and are every municipality's. `content` is
-- a serialized samplan.surveys.v1.Questionnaire without name, version, times
-- and etag.
CREATE TABLE questionnaires (
  municipality text NOT NULL,
  id text NOT NULL CHECK (id ~ '^[a-z][a-z0-9-]{2,62}$'),
  version integer NOT NULL CHECK (version >= 1),
  content bytea NOT NULL,
  create_time timestamptz NOT NULL,
  PRIMARY KEY (municipality, id, version)
);

-- Outcome records: personal data (category "outcome"), or anonymous (person
-- ''). `content` is the serialized samplan.surveys.v1.Outcome without name,
-- etag and times; the columns beside it are what statistics count and filter on,
-- so they never need to read a person.
CREATE TABLE outcomes (
  id uuid PRIMARY KEY,
  municipality text NOT NULL,
  person text NOT NULL,
  owner_organization text NOT NULL,
  activity text NOT NULL,
  activity_kind text NOT NULL,
  gender text NOT NULL,
  age_at_entry integer NOT NULL CHECK (age_at_entry BETWEEN 0 AND 120),
  entry_date date NOT NULL,
  entry_occupation text NOT NULL,
  entry_extent integer NOT NULL,
  -- NULL until recorded.
  exit_occupation text,
  three_months_source text,
  six_months_source text,
  six_months_occupation text,
  six_months_extent integer,
  version bigint NOT NULL CHECK (version >= 1),
  content bytea NOT NULL,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL,
  create_request_id text NOT NULL,
  create_fingerprint text NOT NULL,
  UNIQUE (owner_organization, create_request_id)
);
CREATE INDEX outcomes_for_statistics ON outcomes (municipality, entry_date);
CREATE INDEX outcomes_by_person ON outcomes (person) WHERE person <> '';
