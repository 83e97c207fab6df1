-- Follow-ups belong to a placement agreement: an agreement that ends cancels
-- its future ones.
ALTER TABLE meetings ADD COLUMN agreement text NOT NULL DEFAULT '';
CREATE INDEX meetings_by_agreement ON meetings (agreement, start_time) WHERE agreement <> '';
