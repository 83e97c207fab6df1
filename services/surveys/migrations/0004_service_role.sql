-- The surveys server runs as the role samplan_surveys (created by the identity
-- schema's migration 0007, which runs first), not as the role that owns this
-- schema: it reads and writes the rows of its own tables and owns none, so it
-- cannot change the schema, and it has nothing in any other service's schema.
-- It reads the migrations applied, to find the schema current without trying to
-- migrate it (common/migrations.h). The outbox and the record of handled events
-- are granted by their own migrations (common/migrations/). A table added later
-- is granted by the migration that adds it.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'samplan_surveys') THEN
    RAISE EXCEPTION 'role samplan_surveys is missing: migrate the identity schema first '
      '(samplan-identity --migrate-only), which creates the services'' roles';
  END IF;
END
$$;
GRANT USAGE ON SCHEMA surveys TO samplan_surveys;
GRANT SELECT ON schema_migrations TO samplan_surveys;
-- Outcome counts are kept by a trigger on outcomes, which runs as the server's
-- role; responses and tokens are only added; nothing is deleted.
GRANT SELECT, INSERT, UPDATE ON questionnaires, outcomes, invitation_rules, invitations,
  notifications, outcome_counts TO samplan_surveys;
GRANT SELECT, INSERT ON invitation_tokens, responses TO samplan_surveys;
