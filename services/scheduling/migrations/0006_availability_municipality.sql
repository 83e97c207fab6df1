-- Busy time belongs to its user's municipality, as working hours do: a caller
-- of another municipality who names a user reads none of their time (working
-- hours, imported busy time, bookings), exactly as for a user unknown there.
-- Rows imported before this carry the municipality of their user's working
-- hours, or none (then nobody sees them until the next import).
ALTER TABLE busy_intervals ADD COLUMN municipality text NOT NULL DEFAULT '';
UPDATE busy_intervals b SET municipality = w.municipality
  FROM working_hours w WHERE w.user_name = b.user_name;
ALTER TABLE busy_intervals ALTER COLUMN municipality DROP DEFAULT;
