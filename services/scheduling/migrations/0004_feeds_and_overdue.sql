-- Calendar feeds, and follow-ups announced as overdue. Applied into schema
-- "scheduling".

-- One feed per user: who reads it (the principal the feed's reads are decided
-- and audited as, taken when the address was made) and the SHA-256 of its
-- secret. A revoked feed keeps its row, without a secret, so its version goes
-- on.
CREATE TABLE calendar_feeds (
  user_name text PRIMARY KEY,
  municipality text NOT NULL,
  organization text NOT NULL,
  roles text[] NOT NULL,
  -- Hex SHA-256 of the secret in the address; NULL when revoked.
  secret_sha256 text UNIQUE,
  version bigint NOT NULL CHECK (version >= 1),
  update_time timestamptz NOT NULL
);

-- When scheduling.followup.overdue was written for a follow-up: set in the
-- transaction that writes the event, so each is announced once.
ALTER TABLE meetings ADD COLUMN overdue_announce_time timestamptz;
CREATE INDEX meetings_follow_ups_open ON meetings (end_time)
  WHERE kind = 'MEETING_KIND_FOLLOW_UP'
    AND status IN ('MEETING_STATUS_PROPOSED', 'MEETING_STATUS_BOOKED');
