-- The scheduling server runs as the role samplan_scheduling (created by the identity
-- schema's migration 0007, which runs first), not as the role that owns this
-- schema: it reads and writes the rows of its own tables and owns none, so it
-- cannot change the schema, and it has nothing in any other service's schema.
-- It reads the migrations applied, to find the schema current without trying to
-- migrate it (common/migrations.h). The outbox and the record of handled events
-- are granted by their own migrations (common/migrations/). A table added later
-- is granted by the migration that adds it.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'samplan_scheduling') THEN
    RAISE EXCEPTION 'role samplan_scheduling is missing: migrate the identity schema first '
      '(samplan-identity --migrate-only), which creates the services'' roles';
  END IF;
END
$$;
GRANT USAGE ON SCHEMA scheduling TO samplan_scheduling;
GRANT SELECT ON schema_migrations TO samplan_scheduling;
-- A meeting's attendees are replaced as a whole, and imported busy intervals per
-- source: the two deletes. Revisions are only added.
GRANT SELECT, INSERT, UPDATE ON meetings, working_hours, calendar_feeds, intake_sessions,
  intake_enrolments TO samplan_scheduling;
GRANT SELECT, INSERT, DELETE ON meeting_attendees, busy_intervals TO samplan_scheduling;
GRANT SELECT, INSERT ON meeting_revisions, intake_revisions TO samplan_scheduling;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA scheduling TO samplan_scheduling;
