-- The caseplan server runs as the role samplan_caseplan (created by the identity
-- schema's migration 0007, which runs first), not as the role that owns this
-- schema: it reads and writes the rows of its own tables and owns none, so it
-- cannot change the schema, and it has nothing in any other service's schema.
-- It reads the migrations applied, to find the schema current without trying to
-- migrate it (common/migrations.h). The outbox and the record of handled events
-- are granted by their own migrations (common/migrations/). A table added later
-- is granted by the migration that adds it.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'samplan_caseplan') THEN
    RAISE EXCEPTION 'role samplan_caseplan is missing: migrate the identity schema first '
      '(samplan-identity --migrate-only), which creates the services'' roles';
  END IF;
END
$$;
GRANT USAGE ON SCHEMA caseplan TO samplan_caseplan;
GRANT SELECT ON schema_migrations TO samplan_caseplan;
-- Plans are updated in place (the current revision) and their revisions only added;
-- nothing is deleted.
GRANT SELECT, INSERT, UPDATE ON plans TO samplan_caseplan;
GRANT SELECT, INSERT ON plan_revisions TO samplan_caseplan;
