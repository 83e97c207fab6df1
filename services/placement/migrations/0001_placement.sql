-- The placement bank (praktikbank), the people waiting for a place, and the
-- three-party agreements. Applied into schema "placement" (search_path is set).
--
-- Each resource is a serialized samplan.placement.v1 message in `content`
-- (without name, etag, times and output-only fields, which are columns or
-- computed on read), beside the columns that queries filter, order and lock on.

CREATE TABLE employers (
  id uuid PRIMARY KEY,
  municipality text NOT NULL,
  -- NNNNNN-NNNN; one employer per number in a municipality's bank.
  organization_number text NOT NULL,
  display_name text NOT NULL,
  industry text NOT NULL,
  version bigint NOT NULL CHECK (version >= 1),
  content bytea NOT NULL,
  -- The latest contact in the log; NULL when never contacted.
  last_contact_time timestamptz,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL,
  created_by_organization text NOT NULL,
  create_request_id text NOT NULL,
  create_fingerprint text NOT NULL,
  UNIQUE (municipality, organization_number),
  UNIQUE (created_by_organization, create_request_id)
);
CREATE INDEX employers_by_name ON employers (municipality, display_name, id);
-- The call list: longest without contact first.
CREATE INDEX employers_by_last_contact
  ON employers (municipality, (coalesce(last_contact_time, create_time)), id);

-- The contact log: calls, visits, mails. About employers, not clients.
CREATE TABLE contacts (
  id uuid PRIMARY KEY,
  employer_id uuid NOT NULL REFERENCES employers (id),
  contact_time timestamptz NOT NULL,
  content bytea NOT NULL
);
CREATE INDEX contacts_by_employer ON contacts (employer_id, contact_time DESC, id DESC);

CREATE TABLE placements (
  id uuid PRIMARY KEY,
  municipality text NOT NULL,
  employer_id uuid NOT NULL REFERENCES employers (id),
  kind text NOT NULL,
  status text NOT NULL,
  version bigint NOT NULL CHECK (version >= 1),
  content bytea NOT NULL,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL,
  created_by_organization text NOT NULL,
  create_request_id text NOT NULL,
  create_fingerprint text NOT NULL,
  UNIQUE (created_by_organization, create_request_id)
);
CREATE INDEX placements_by_municipality ON placements (municipality, create_time, id);
CREATE INDEX placements_by_employer ON placements (employer_id);

-- People waiting for a place: personal data (category "placement").
CREATE TABLE placement_needs (
  id uuid PRIMARY KEY,
  municipality text NOT NULL,
  person text NOT NULL,
  owner_organization text NOT NULL,
  status text NOT NULL,
  content bytea NOT NULL,
  create_time timestamptz NOT NULL,
  create_request_id text NOT NULL,
  create_fingerprint text NOT NULL,
  UNIQUE (owner_organization, create_request_id)
);
CREATE INDEX placement_needs_waiting ON placement_needs (municipality, status);
CREATE INDEX placement_needs_by_person ON placement_needs (person, status);

-- Three-party agreements: personal data (category "placement").
CREATE TABLE agreements (
  id uuid PRIMARY KEY,
  municipality text NOT NULL,
  person text NOT NULL,
  placement_id uuid NOT NULL REFERENCES placements (id),
  owner_organization text NOT NULL,
  status text NOT NULL,
  -- The agreed period, for the seats it holds while SIGNED or ACTIVE.
  start_date date NOT NULL,
  end_date date NOT NULL,
  version bigint NOT NULL CHECK (version >= 1),
  content bytea NOT NULL,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL,
  create_request_id text NOT NULL,
  create_fingerprint text NOT NULL,
  UNIQUE (owner_organization, create_request_id)
);
CREATE INDEX agreements_holding_seats ON agreements (placement_id, start_date, end_date)
  WHERE status IN ('AGREEMENT_STATUS_SIGNED', 'AGREEMENT_STATUS_ACTIVE');
CREATE INDEX agreements_by_owner ON agreements (owner_organization, create_time DESC, id DESC);
