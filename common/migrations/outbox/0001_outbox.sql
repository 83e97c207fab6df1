-- The transactional outbox: a service inserts an event here in the same transaction
-- as the change it describes; the relay (common/relay.cc) publishes it to the
-- municipality's Redis stream and marks it published. Applied into each service's
-- schema (search_path is set to it).
CREATE TABLE outbox (
  -- Order of insertion. NOT commit order: a sequence value becomes visible when its
  -- transaction commits, so the relay never keeps a "highest id seen" cursor.
  id bigserial PRIMARY KEY,
  event_id uuid NOT NULL UNIQUE,
  event_type text NOT NULL,
  municipality text NOT NULL,
  aggregate text NOT NULL,
  aggregate_version bigint NOT NULL,
  -- samplan.events.v1.Event, serialized.
  envelope bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- The Redis stream entry id, "<stream_ms>-<stream_seq>", chosen by the relay and
  -- stored before the entry is written, so a retry writes the same id and Redis
  -- refuses a second copy.
  stream_ms bigint,
  stream_seq bigint,
  published_at timestamptz,
  CHECK ((stream_ms IS NULL) = (stream_seq IS NULL))
);

-- What the relay reads: unpublished rows, those with a stream id first in stream
-- order, then new ones in insertion order.
CREATE INDEX outbox_unpublished ON outbox (stream_ms, stream_seq, id)
  WHERE published_at IS NULL;
-- The newest stream id per municipality, where the relay continues after a restart.
CREATE INDEX outbox_stream_position ON outbox (municipality, stream_ms DESC, stream_seq DESC)
  WHERE stream_ms IS NOT NULL;
-- Clean-up of published rows past retention.
CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL;
