-- Staff availability: working hours and busy time imported from their own
-- calendar systems. Not personal data about a client: times only, never
-- titles. Applied into schema "scheduling".

-- One row per user: a serialized samplan.scheduling.v1.WorkingHours.
CREATE TABLE working_hours (
  user_name text PRIMARY KEY,
  municipality text NOT NULL,
  version bigint NOT NULL CHECK (version >= 1),
  content bytea NOT NULL,
  update_time timestamptz NOT NULL
);

-- Busy time by user and source ("outlook", "ical", …); an import replaces a
-- source's rows within its window.
CREATE TABLE busy_intervals (
  user_name text NOT NULL,
  source text NOT NULL,
  start_time timestamptz NOT NULL,
  end_time timestamptz NOT NULL CHECK (end_time > start_time)
);
CREATE INDEX busy_intervals_by_user ON busy_intervals (user_name, start_time);
CREATE INDEX busy_intervals_by_source ON busy_intervals (user_name, source, start_time);
