-- The statistics' counts kept as outcome records change, so that
-- GetOutcomeStatistics reads a few thousand groups instead of grouping every
-- record (100,000 records of a municipality fall into about 3,000 groups by
-- entry day and the facts statistics count). Applied into schema "surveys".
--
-- Kept by a trigger in the transaction that writes the record, so the counts
-- commit with it or not at all. A change moves one record from its old group
-- to its new one; the two group rows are locked in key order, so two changes
-- crossing the same groups wait for each other instead of deadlocking.

CREATE FUNCTION outcome_age_band(age integer) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN age < 18 THEN 0 WHEN age < 30 THEN 18 WHEN age < 55 THEN 30 ELSE 55 END
$$;

CREATE TABLE outcome_counts (
  municipality text NOT NULL,
  entry_date date NOT NULL,
  gender text NOT NULL,
  age_band integer NOT NULL,
  activity_kind text NOT NULL,
  owner_organization text NOT NULL,
  entry_occupation text NOT NULL,
  exit_occupation text NOT NULL,       -- '' until recorded, as the others
  three_months_source text NOT NULL,
  six_months_source text NOT NULL,
  six_months_occupation text NOT NULL,
  extent_grew boolean NOT NULL,
  count bigint NOT NULL CHECK (count >= 0),
  PRIMARY KEY (municipality, entry_date, gender, age_band, activity_kind, owner_organization,
               entry_occupation, exit_occupation, three_months_source, six_months_source,
               six_months_occupation, extent_grew)
);

CREATE TYPE outcome_group AS (
  municipality text, entry_date date, gender text, age_band integer, activity_kind text,
  owner_organization text, entry_occupation text, exit_occupation text,
  three_months_source text, six_months_source text, six_months_occupation text,
  extent_grew boolean);

CREATE FUNCTION outcome_group_of(o outcomes) RETURNS outcome_group
LANGUAGE sql IMMUTABLE SET search_path = surveys, pg_temp AS $$
  SELECT ROW(o.municipality, o.entry_date, o.gender, outcome_age_band(o.age_at_entry),
             o.activity_kind, o.owner_organization, o.entry_occupation,
             coalesce(o.exit_occupation, ''), coalesce(o.three_months_source, ''),
             coalesce(o.six_months_source, ''), coalesce(o.six_months_occupation, ''),
             coalesce(o.six_months_extent > o.entry_extent, false))::outcome_group
$$;

-- Adds `delta` (+1 or -1) to the count of group `g`. A decrement is a plain
-- UPDATE: the group is there, since the record was counted in it (an INSERT's
-- CHECK would see the -1 before finding the conflict).
CREATE FUNCTION add_to_outcome_count(g outcome_group, delta integer) RETURNS void
LANGUAGE plpgsql SET search_path = surveys, pg_temp AS $$
BEGIN
  IF delta > 0 THEN
    INSERT INTO outcome_counts VALUES (g.municipality, g.entry_date, g.gender, g.age_band,
      g.activity_kind, g.owner_organization, g.entry_occupation, g.exit_occupation,
      g.three_months_source, g.six_months_source, g.six_months_occupation, g.extent_grew, delta)
    ON CONFLICT (municipality, entry_date, gender, age_band, activity_kind, owner_organization,
                 entry_occupation, exit_occupation, three_months_source, six_months_source,
                 six_months_occupation, extent_grew)
    DO UPDATE SET count = outcome_counts.count + delta;
  ELSE
    UPDATE outcome_counts c SET count = c.count + delta
    WHERE (c.municipality, c.entry_date, c.gender, c.age_band, c.activity_kind,
           c.owner_organization, c.entry_occupation, c.exit_occupation,
           c.three_months_source, c.six_months_source, c.six_months_occupation,
           c.extent_grew)
        = (g.municipality, g.entry_date, g.gender, g.age_band, g.activity_kind,
           g.owner_organization, g.entry_occupation, g.exit_occupation,
           g.three_months_source, g.six_months_source, g.six_months_occupation,
           g.extent_grew);
  END IF;
END
$$;

CREATE FUNCTION count_outcome() RETURNS trigger
LANGUAGE plpgsql SET search_path = surveys, pg_temp AS $$
DECLARE
  old_group outcome_group;
  new_group outcome_group;
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM add_to_outcome_count(outcome_group_of(NEW), 1);
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM add_to_outcome_count(outcome_group_of(OLD), -1);
  ELSE
    old_group := outcome_group_of(OLD);
    new_group := outcome_group_of(NEW);
    IF old_group IS DISTINCT FROM new_group THEN
      IF old_group < new_group THEN
        PERFORM add_to_outcome_count(old_group, -1);
        PERFORM add_to_outcome_count(new_group, 1);
      ELSE
        PERFORM add_to_outcome_count(new_group, 1);
        PERFORM add_to_outcome_count(old_group, -1);
      END IF;
    END IF;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER outcomes_counted AFTER INSERT OR UPDATE OR DELETE ON outcomes
  FOR EACH ROW EXECUTE FUNCTION count_outcome();

-- The records already there.
INSERT INTO outcome_counts
  SELECT (g).*, count(*) FROM (SELECT outcome_group_of(o) AS g FROM outcomes o) s
  GROUP BY g;
