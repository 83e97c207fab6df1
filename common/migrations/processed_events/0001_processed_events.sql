-- The events a service's internal consumer has already handled (common/event_consumer.h).
-- A row is inserted in the same transaction as the handler's effect, so "handled" and
-- "recorded" commit together: a redelivered event finds its row and is skipped.
-- Applied into the consuming service's schema (search_path is set to it).
CREATE TABLE processed_events (
  event_id uuid PRIMARY KEY,
  -- The stream the event was read from, "samplan:events:{<municipality>}", for an
  -- operator who follows one event through the system.
  stream text NOT NULL,
  processed_at timestamptz NOT NULL
);

-- Rows older than the streams' retention can never be matched again (their entries
-- are trimmed) and are pruned by age.
CREATE INDEX processed_events_processed_at ON processed_events (processed_at);
