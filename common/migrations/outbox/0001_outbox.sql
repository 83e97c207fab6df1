-- The transactional outbox: a service inserts an event here in the same transaction
-- as the change it describes; the relay (common/relay.cc) publishes it to the
-- municipality's Redis stream and then deletes it. Applied into each service's
-- schema (search_path is set to it).
--
-- The table holds only events not yet on a stream, normally a handful, so it has no
-- index but its key: the relay reads it whole, in order. Each row is written three
-- times at most (insert, stream id, delete); without secondary indexes the second
-- is a HOT update, and the fill factor leaves room on the page for it.
CREATE TABLE outbox (
  -- Order of insertion. NOT commit order: a sequence value becomes visible when its
  -- transaction commits, so the relay never keeps a "highest id seen" cursor.
  id bigserial PRIMARY KEY,
  event_id uuid NOT NULL,
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
  CHECK ((stream_ms IS NULL) = (stream_seq IS NULL))
) WITH (fillfactor = 50);
