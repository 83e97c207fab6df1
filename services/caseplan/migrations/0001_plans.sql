-- Shared action plans (gemensam handlingsplan) and their revision history.
-- Applied into schema "caseplan" (search_path is set to it).

CREATE TABLE plans (
  id uuid PRIMARY KEY,
  municipality text NOT NULL,
  person text NOT NULL,
  lead_organization text NOT NULL,
  -- The participating organizations, for "plans this organization takes part in"
  -- and, later, for consent checks in SQL.
  participant_organizations text[] NOT NULL DEFAULT '{}',
  status text NOT NULL,
  version bigint NOT NULL CHECK (version >= 1),
  -- The plan as a serialized samplan.caseplan.v1.Plan (without version, etag and
  -- update time, which are columns): one document per aggregate, so a change is
  -- one row write. Binary rather than JSON because JSON conversion was the largest
  -- CPU cost of an update (docs/benchmarks.md); read it with GetPlan, or
  -- `protoc --decode samplan.caseplan.v1.Plan`.
  content bytea NOT NULL,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL,
  create_request_id text NOT NULL,
  -- SHA-256 of the CreatePlanRequest's plan: a retry must send the same plan.
  create_fingerprint text NOT NULL,
  -- CreatePlan is idempotent per calling organization and request id.
  UNIQUE (lead_organization, create_request_id)
);

-- ListPlans pages by (create_time DESC, id DESC) within a municipality.
CREATE INDEX plans_by_municipality ON plans (municipality, create_time DESC, id DESC);
CREATE INDEX plans_by_person ON plans (municipality, person, create_time DESC, id DESC);
CREATE INDEX plans_by_lead ON plans (lead_organization, create_time DESC, id DESC);
CREATE INDEX plans_by_participant ON plans USING gin (participant_organizations);

-- Every version of every plan: who changed which fields, and the plan as it then was.
CREATE TABLE plan_revisions (
  plan_id uuid NOT NULL REFERENCES plans (id),
  version bigint NOT NULL,
  create_time timestamptz NOT NULL,
  actor_user text NOT NULL,
  actor_organization text NOT NULL,
  request_id text NOT NULL,
  changed_fields text[] NOT NULL,
  content bytea NOT NULL,
  -- The event that announced this revision on the municipality's stream.
  event_id uuid NOT NULL,
  -- SHA-256 of the UpdatePlanRequest that made it ('' for the first revision): a
  -- retry with the same x-request-id must send the same request.
  request_fingerprint text NOT NULL DEFAULT '',
  PRIMARY KEY (plan_id, version)
);

-- A retried UpdatePlan (same x-request-id) finds the revision its first attempt made.
CREATE INDEX plan_revisions_by_request ON plan_revisions (plan_id, request_id);
