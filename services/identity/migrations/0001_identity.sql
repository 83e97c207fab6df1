-- Municipalities, organizations, users, persons, consents, break-glass access and the
-- audit log. Applied into schema "identity" (search_path is set to it).
--
-- Other services read access facts and append audit records through the two
-- functions at the end (access_facts, append_audit), inside their own transactions:
-- that is the whole contract between the identity schema and the other services.

CREATE TABLE municipalities (
  code text PRIMARY KEY CHECK (code ~ '^[0-9]{4}$'),  -- kommunkod
  display_name text NOT NULL,
  create_time timestamptz NOT NULL
);

CREATE TABLE organizations (
  id text PRIMARY KEY,  -- organizations/{id}
  display_name text NOT NULL,
  -- social_services, adult_education, school, employment_service,
  -- social_insurance, health_care, employer, other
  kind text NOT NULL,
  -- What the organization offers, so staff of other agencies learn what it does.
  description text NOT NULL DEFAULT '',
  -- The municipalities (kommunkod) it serves; the first is its home municipality.
  municipalities text[] NOT NULL CHECK (cardinality(municipalities) >= 1),
  version bigint NOT NULL DEFAULT 1,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL
);

CREATE TABLE users (
  id text PRIMARY KEY,  -- users/{id}
  display_name text NOT NULL,
  email text NOT NULL DEFAULT '',
  version bigint NOT NULL DEFAULT 1,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL
);

-- A user's roles in one organization (team); a user may belong to several.
CREATE TABLE memberships (
  user_id text NOT NULL REFERENCES users (id),
  organization_id text NOT NULL REFERENCES organizations (id),
  -- caseworker, placement_coordinator, teacher, manager, administrator,
  -- partner_system, supervisor
  roles text[] NOT NULL CHECK (cardinality(roles) >= 1),
  PRIMARY KEY (user_id, organization_id)
);
CREATE INDEX memberships_by_organization ON memberships (organization_id);

CREATE TABLE persons (
  id uuid PRIMARY KEY,  -- persons/{id}
  municipality text NOT NULL REFERENCES municipalities (code),
  -- The organization that registered the person and owns the record.
  owner_organization text NOT NULL,
  -- personnummer or samordningsnummer
  identity_number_kind text NOT NULL,
  -- AES-256-GCM under SAMPLAN_IDENTITY_ENCRYPTION_KEY, bound to the person's id.
  identity_number_sealed bytea NOT NULL,
  -- HMAC-SHA256 under SAMPLAN_IDENTITY_LOOKUP_KEY of the canonical number: one
  -- person per number, found without decrypting anything.
  identity_number_hash text NOT NULL UNIQUE,
  given_name text NOT NULL,
  family_name text NOT NULL,
  birth_date date NOT NULL,
  -- Contact details (data category "contact").
  address text NOT NULL DEFAULT '',
  phone text NOT NULL DEFAULT '',
  email text NOT NULL DEFAULT '',
  -- Skyddade personuppgifter: address and contact shown to the owner only.
  protected_identity boolean NOT NULL DEFAULT false,
  version bigint NOT NULL DEFAULT 1,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL,
  -- CreatePerson is idempotent per owner organization and request id.
  create_request_id text NOT NULL,
  UNIQUE (owner_organization, create_request_id)
);
CREATE INDEX persons_by_owner ON persons (owner_organization, create_time DESC, id DESC);

-- A consent (samtycke): the person, or a guardian for a minor, lets the grantee
-- organizations share the named data categories for one purpose, from-until.
CREATE TABLE consents (
  id uuid PRIMARY KEY,  -- consents/{id}
  person_id uuid NOT NULL REFERENCES persons (id),
  municipality text NOT NULL,
  grantee_organizations text[] NOT NULL CHECK (cardinality(grantee_organizations) >= 1),
  -- coordination, placement, follow_up
  purpose text NOT NULL,
  -- plan, person, contact, health, attendance, placement
  data_categories text[] NOT NULL CHECK (cardinality(data_categories) >= 1),
  valid_from timestamptz NOT NULL,
  valid_until timestamptz NOT NULL CHECK (valid_until > valid_from),
  -- person or guardian; the guardian's name when a guardian gave it.
  given_by text NOT NULL,
  guardian_name text NOT NULL DEFAULT '',
  -- written, oral, digital
  method text NOT NULL,
  recorded_by_user text NOT NULL,
  recorded_by_organization text NOT NULL,
  create_time timestamptz NOT NULL,
  withdraw_time timestamptz,
  withdrawn_by_user text NOT NULL DEFAULT '',
  withdrawn_by_organization text NOT NULL DEFAULT '',
  withdraw_reason text NOT NULL DEFAULT '',
  version bigint NOT NULL DEFAULT 1,
  -- CreateConsent is idempotent per recording organization and request id.
  create_request_id text NOT NULL,
  UNIQUE (recorded_by_organization, create_request_id)
);
CREATE INDEX consents_by_person ON consents (person_id, create_time DESC);

-- Break-glass: time-limited access without consent, where the law allows it,
-- with a mandatory reason; flagged in the audit log and announced to the owner.
CREATE TABLE break_glass_accesses (
  id uuid PRIMARY KEY,  -- breakGlassAccesses/{id}
  person_id uuid NOT NULL REFERENCES persons (id),
  municipality text NOT NULL,
  organization text NOT NULL,
  user_id text NOT NULL,
  data_category text NOT NULL,
  reason text NOT NULL CHECK (length(reason) >= 10),
  create_time timestamptz NOT NULL,
  expire_time timestamptz NOT NULL CHECK (expire_time > create_time)
);
CREATE INDEX break_glass_by_person ON break_glass_accesses (person_id, organization, expire_time);

-- The audit log: one record per read or write of personal data in any service,
-- and per refused attempt. One hash chain per person ("" for attempts that name no
-- known person): a record's hash covers its content and the hash before it
-- (services/identity/audit_chain.h describes the bytes), so an altered, removed or
-- reordered record breaks the chain. Append-only: see the trigger and grants below.
CREATE TABLE audit_records (
  subject_person text NOT NULL,  -- persons/{id}, or ''
  sequence bigint NOT NULL CHECK (sequence >= 1),
  time timestamptz NOT NULL,
  municipality text NOT NULL,
  actor_user text NOT NULL,
  actor_organization text NOT NULL,
  action text NOT NULL,          -- "caseplan.GetPlan", "identity.GetPerson", ...
  resource text NOT NULL,        -- plans/{id}, persons/{id}, ...
  data_category text NOT NULL,
  purpose text NOT NULL,
  consent text NOT NULL,         -- consents/{id}, breakGlassAccesses/{id} or ''
  decision text NOT NULL CHECK (decision IN ('permit', 'deny')),
  reason text NOT NULL,          -- owner, consent, break_glass, no_consent, ...
  request_id text NOT NULL,
  previous_hash text NOT NULL,
  hash text NOT NULL,
  PRIMARY KEY (subject_person, sequence)
);
CREATE INDEX audit_records_by_time ON audit_records (municipality, time);
CREATE INDEX audit_records_by_actor ON audit_records (actor_organization, time);

-- The end of each chain: a truncated chain no longer ends where its head says.
CREATE TABLE audit_heads (
  subject_person text PRIMARY KEY,
  sequence bigint NOT NULL,
  hash text NOT NULL
);

CREATE FUNCTION audit_records_are_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_records_append_only
  BEFORE UPDATE OR DELETE ON audit_records
  FOR EACH ROW EXECUTE FUNCTION audit_records_are_append_only();
CREATE TRIGGER audit_records_no_truncate
  BEFORE TRUNCATE ON audit_records
  FOR EACH STATEMENT EXECUTE FUNCTION audit_records_are_append_only();

-- A string in the chain's canonical bytes: 8-byte big-endian length, then UTF-8.
CREATE FUNCTION audit_bytes(value text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT int8send(octet_length(convert_to(value, 'UTF8'))::bigint) || convert_to(value, 'UTF8')
$$;

-- Appends one audit record to the chain of its person, inside the caller's
-- transaction: the record commits with the read or write it describes, or not at
-- all. Calls for one person take turns on the chain's head row. Returns the
-- record's sequence number. The hash is CanonicalAuditBytes/ChainHash of
-- services/identity/audit_chain.cc, computed here so that appending costs one
-- statement.
CREATE FUNCTION append_audit(
    p_time timestamptz, p_municipality text, p_actor_user text, p_actor_organization text,
    p_action text, p_resource text, p_subject_person text, p_data_category text,
    p_purpose text, p_consent text, p_decision text, p_reason text, p_request_id text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = identity, pg_temp AS $$
DECLARE
  genesis constant text := repeat('0', 64);
  previous_sequence bigint;
  previous_hash text;
  next_sequence bigint;
  next_hash text;
  -- timestamptz keeps microseconds, and the hash is over the stored value.
  stored_time timestamptz := date_trunc('microseconds', p_time);
BEGIN
  INSERT INTO audit_heads AS h (subject_person, sequence, hash)
    VALUES (p_subject_person, 0, genesis)
    ON CONFLICT (subject_person) DO UPDATE SET sequence = h.sequence
    RETURNING h.sequence, h.hash INTO previous_sequence, previous_hash;
  next_sequence := previous_sequence + 1;
  next_hash := encode(sha256(
      audit_bytes('samplan.audit.v1')
      || int8send(next_sequence)
      || int8send((extract(epoch FROM stored_time) * 1000000)::bigint)
      || audit_bytes(p_municipality)
      || audit_bytes(p_actor_user)
      || audit_bytes(p_actor_organization)
      || audit_bytes(p_action)
      || audit_bytes(p_resource)
      || audit_bytes(p_subject_person)
      || audit_bytes(p_data_category)
      || audit_bytes(p_purpose)
      || audit_bytes(p_consent)
      || audit_bytes(p_decision)
      || audit_bytes(p_reason)
      || audit_bytes(p_request_id)
      || audit_bytes(previous_hash)), 'hex');
  INSERT INTO audit_records (subject_person, sequence, time, municipality, actor_user,
      actor_organization, action, resource, data_category, purpose, consent, decision,
      reason, request_id, previous_hash, hash)
    VALUES (p_subject_person, next_sequence, stored_time, p_municipality, p_actor_user,
      p_actor_organization, p_action, p_resource, p_data_category, p_purpose, p_consent,
      p_decision, p_reason, p_request_id, previous_hash, next_hash);
  UPDATE audit_heads SET sequence = next_sequence, hash = next_hash
    WHERE subject_person = p_subject_person;
  RETURN next_sequence;
END
$$;

-- The facts an access decision needs about (organization, person, data category,
-- purpose) at a time: where the person is registered and who owns the record, the
-- consent that permits it, an active break-glass access, and otherwise the most
-- telling reason no consent permits it. The decision itself is made by the caller
-- (common/access.h), so that every service decides by the same rule.
-- A person name that is not persons/{uuid} of a registered person gives one row of
-- NULL municipality and owner.
CREATE FUNCTION access_facts(p_organization text, p_person text, p_data_category text,
                             p_purpose text, p_at timestamptz)
RETURNS TABLE (person_municipality text, person_owner text, consent text,
               break_glass text, consent_gap text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = identity, pg_temp AS $$
  WITH person AS (
    SELECT p.id, p.municipality, p.owner_organization FROM persons p
    WHERE p_person ~ '^persons/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
      AND p.id = substr(p_person, 9)::uuid
  ), candidates AS (
    SELECT c.* FROM consents c JOIN person ON c.person_id = person.id
    WHERE p_organization = ANY (c.grantee_organizations)
  )
  SELECT
    (SELECT municipality FROM person),
    (SELECT owner_organization FROM person),
    (SELECT 'consents/' || c.id FROM candidates c
      WHERE c.withdraw_time IS NULL AND c.purpose = p_purpose
        AND p_data_category = ANY (c.data_categories)
        AND c.valid_from <= p_at AND p_at < c.valid_until
      ORDER BY c.valid_until DESC LIMIT 1),
    (SELECT 'breakGlassAccesses/' || b.id FROM break_glass_accesses b JOIN person
        ON b.person_id = person.id
      WHERE b.organization = p_organization AND b.data_category = p_data_category
        AND b.create_time <= p_at AND p_at < b.expire_time
      ORDER BY b.expire_time DESC LIMIT 1),
    CASE
      WHEN NOT EXISTS (SELECT 1 FROM candidates) THEN 'no_consent'
      WHEN NOT EXISTS (SELECT 1 FROM candidates c
                       WHERE p_data_category = ANY (c.data_categories)) THEN 'category_not_covered'
      WHEN NOT EXISTS (SELECT 1 FROM candidates c
                       WHERE p_data_category = ANY (c.data_categories)
                         AND c.purpose = p_purpose) THEN 'purpose_not_covered'
      WHEN EXISTS (SELECT 1 FROM candidates c
                   WHERE p_data_category = ANY (c.data_categories) AND c.purpose = p_purpose
                     AND c.withdraw_time IS NULL AND c.valid_from <= p_at
                     AND p_at < c.valid_until) THEN ''
      WHEN EXISTS (SELECT 1 FROM candidates c
                   WHERE p_data_category = ANY (c.data_categories) AND c.purpose = p_purpose
                     AND c.withdraw_time IS NOT NULL) THEN 'consent_withdrawn'
      WHEN EXISTS (SELECT 1 FROM candidates c
                   WHERE p_data_category = ANY (c.data_categories) AND c.purpose = p_purpose
                     AND p_at < c.valid_from) THEN 'consent_not_yet_valid'
      ELSE 'consent_expired'
    END
$$;

-- The database role the services run as, when it is not the role that owns the
-- tables (production): it may append to the audit log only through append_audit,
-- and read it, never change it. Creating the role needs CREATEROLE; where the
-- migrating role lacks it, the operator creates it (docs/configuration.md).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'samplan_service') THEN
    BEGIN
      CREATE ROLE samplan_service NOLOGIN;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'role samplan_service is missing and cannot be created here';
    END;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'samplan_service') THEN
    GRANT USAGE ON SCHEMA identity TO samplan_service;
    GRANT SELECT, INSERT, UPDATE ON municipalities, organizations, users, memberships,
      persons, consents, break_glass_accesses TO samplan_service;
    GRANT DELETE ON memberships TO samplan_service;
    GRANT SELECT ON audit_records, audit_heads TO samplan_service;
    -- Tables created later in this schema by the migrating role (the outbox).
    ALTER DEFAULT PRIVILEGES IN SCHEMA identity
      GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO samplan_service;
    ALTER DEFAULT PRIVILEGES IN SCHEMA identity GRANT USAGE ON SEQUENCES TO samplan_service;
    GRANT EXECUTE ON FUNCTION append_audit(timestamptz, text, text, text, text, text, text,
      text, text, text, text, text, text) TO samplan_service;
  END IF;
END
$$;
REVOKE ALL ON audit_records, audit_heads FROM PUBLIC;
