-- Least privilege: one role per service, which its server runs as (its login is a
-- member: GRANT samplan_caseplan TO caseplan_login), apart from the role that owns
-- the schemas and runs the migrations. A server's role may use its own schema's
-- tables and, of the identity schema, only the functions below, which run as
-- their owner (SECURITY DEFINER) with a pinned search_path. So no server can
-- change another service's rows, identity's persons and consents (identity's own
-- excepted), or the audit log other than by appending to it; and none owns a table,
-- so none can drop or disable the trigger that keeps the log append-only.
--
-- The roles are NOLOGIN groups, created here when the migrating role may
-- (CREATEROLE); otherwise the operator creates them before this migration
-- (docs/configuration.md), and a missing one stops it rather than leaving a
-- server without the rights it needs.
DO $$
DECLARE
  role_name text;
BEGIN
  FOREACH role_name IN ARRAY ARRAY['samplan_identity', 'samplan_caseplan', 'samplan_placement',
      'samplan_scheduling', 'samplan_surveys', 'samplan_events'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
      EXCEPTION WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'role % is missing and the migrating role may not create it: '
          'create the service roles first (docs/configuration.md)', role_name;
      END;
    END IF;
  END LOOP;
END
$$;

-- The shared role of migration 0001 gave every service's login INSERT and UPDATE
-- on identity's persons and consents: taken back. It keeps only what every
-- service's role has below (the functions), so a login still in it loses nothing
-- it needs from identity.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'samplan_service') THEN
    REVOKE ALL ON ALL TABLES IN SCHEMA identity FROM samplan_service;
    REVOKE ALL ON ALL SEQUENCES IN SCHEMA identity FROM samplan_service;
    ALTER DEFAULT PRIVILEGES IN SCHEMA identity
      REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM samplan_service;
    ALTER DEFAULT PRIVILEGES IN SCHEMA identity REVOKE USAGE ON SEQUENCES FROM samplan_service;
    REVOKE EXECUTE ON FUNCTION survey_recipient(text, text, timestamptz) FROM samplan_service;
  END IF;
END
$$;

-- Functions are executable by PUBLIC unless revoked: only the roles below call these.
REVOKE ALL ON FUNCTION access_facts(text, text, text, text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION person_access_version(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION append_audit(timestamptz, text, text, text, text, text, text, text, text,
  text, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION append_audit_batch(timestamptz[], text[], text[], text[], text[], text[],
  text[], text[], text[], text[], text[], text[], text[]) FROM PUBLIC;

-- What every service calls: the access facts and the audit log (common/access.h,
-- common/audit_log.h), and the person's access version its outbox records
-- (common/outbox.h).
GRANT USAGE ON SCHEMA identity TO samplan_identity, samplan_caseplan, samplan_placement,
  samplan_scheduling, samplan_surveys, samplan_events;
GRANT EXECUTE ON FUNCTION access_facts(text, text, text, text, timestamptz),
  person_access_version(text),
  append_audit(timestamptz, text, text, text, text, text, text, text, text, text, text, text,
    text),
  append_audit_batch(timestamptz[], text[], text[], text[], text[], text[], text[], text[],
    text[], text[], text[], text[], text[])
  TO samplan_identity, samplan_caseplan, samplan_placement, samplan_scheduling, samplan_surveys,
    samplan_events;
-- What sending a survey invitation needs (migration 0005): the surveys service only.
GRANT EXECUTE ON FUNCTION survey_recipient(text, text, timestamptz) TO samplan_surveys;

-- The identity server: its directory, persons, consents and break-glass accesses,
-- read and written; the audit log read (appended through the functions above);
-- the migrations read, so that a server finds its schema current without trying
-- to migrate it (common/migrations.h). Nothing is ever deleted here. The outbox
-- is granted by its own migration (common/migrations/outbox).
GRANT SELECT, INSERT, UPDATE ON municipalities, organizations, users, memberships, persons,
  consents, break_glass_accesses TO samplan_identity;
GRANT SELECT ON audit_records, audit_heads, schema_migrations TO samplan_identity;
