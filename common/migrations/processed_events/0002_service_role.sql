-- The consuming service's server runs as the role samplan_<schema>
-- (services/identity/migrations/0007_service_roles.sql): it records and prunes
-- the events it handled. A schema without such a role (a test's own) is left as
-- it is.
DO $$
DECLARE
  role_name constant text := 'samplan_' || current_schema();
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
    EXECUTE format('GRANT SELECT, INSERT, DELETE ON processed_events TO %I', role_name);
  END IF;
END
$$;
