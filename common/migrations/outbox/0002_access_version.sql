-- The person's access version (identity.person_access_version) seen by the
-- transaction that wrote the event; published beside the event as the stream
-- field `access_version`, so that the event service decides the event on consent
-- facts at least that new. 0 when the event concerns no person.
ALTER TABLE outbox ADD COLUMN access_version bigint NOT NULL DEFAULT 0;
