-- The server of the schema's service runs as the role samplan_<schema>
-- (services/identity/migrations/0007_service_roles.sql), which owns nothing: it
-- writes events here, and its relay publishes and deletes them. A schema without
-- such a role (a test's own) is left as it is.
DO $$
DECLARE
  role_name constant text := 'samplan_' || current_schema();
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON outbox TO %I', role_name);
    EXECUTE format('GRANT USAGE ON SEQUENCE outbox_id_seq TO %I', role_name);
  END IF;
END
$$;
