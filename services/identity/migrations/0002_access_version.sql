-- A person's access version: raised by every change to who may see the person's
-- data (a consent granted or withdrawn, a break-glass access, a new owner). Every
-- event about the person carries the version its transaction saw (the outbox reads
-- it), and the event service decides an event only on consent facts at least that
-- new. So a change that began after a withdrawal had returned is never shown on
-- facts from before it, in whatever order the services' relays put the two events
-- on the stream.

ALTER TABLE persons ADD COLUMN access_version bigint NOT NULL DEFAULT 0;

CREATE FUNCTION raise_access_version() RETURNS trigger
LANGUAGE plpgsql SET search_path = identity, pg_temp AS $$
BEGIN
  UPDATE persons SET access_version = access_version + 1 WHERE id = NEW.person_id;
  RETURN NULL;
END
$$;
CREATE TRIGGER consents_raise_access_version
  AFTER INSERT OR UPDATE ON consents
  FOR EACH ROW EXECUTE FUNCTION raise_access_version();
CREATE TRIGGER break_glass_raises_access_version
  AFTER INSERT ON break_glass_accesses
  FOR EACH ROW EXECUTE FUNCTION raise_access_version();

CREATE FUNCTION raise_own_access_version() RETURNS trigger
LANGUAGE plpgsql SET search_path = identity, pg_temp AS $$
BEGIN
  IF NEW.owner_organization IS DISTINCT FROM OLD.owner_organization
     OR NEW.municipality IS DISTINCT FROM OLD.municipality THEN
    NEW.access_version := OLD.access_version + 1;
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER persons_raise_access_version
  BEFORE UPDATE OF owner_organization, municipality ON persons
  FOR EACH ROW EXECUTE FUNCTION raise_own_access_version();

-- Returns the access version of a person named "persons/{uuid}"; 0 for anything
-- else. Called by every service's outbox in the transaction that writes an event.
CREATE FUNCTION person_access_version(p_person text) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = identity, pg_temp AS $$
  SELECT coalesce((
    SELECT p.access_version FROM persons p
    WHERE p_person ~ '^persons/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
      AND p.id = substr(p_person, 9)::uuid), 0)
$$;

-- access_facts, with the access version the facts were read at (read in the same
-- statement, so the facts are at least that new).
DROP FUNCTION access_facts(text, text, text, text, timestamptz);
CREATE FUNCTION access_facts(p_organization text, p_person text, p_data_category text,
                             p_purpose text, p_at timestamptz)
RETURNS TABLE (person_municipality text, person_owner text, consent text,
               break_glass text, consent_gap text, access_version bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = identity, pg_temp AS $$
  WITH person AS (
    SELECT p.id, p.municipality, p.owner_organization, p.access_version FROM persons p
    WHERE p_person ~ '^persons/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
      AND p.id = substr(p_person, 9)::uuid
  ), candidates AS (
    SELECT c.* FROM consents c JOIN person ON c.person_id = person.id
    WHERE p_organization = ANY (c.grantee_organizations)
  )
  SELECT
    (SELECT municipality FROM person),
    (SELECT owner_organization FROM person),
    (SELECT 'consents/' || c.id FROM candidates c
      WHERE c.withdraw_time IS NULL AND c.purpose = p_purpose
        AND p_data_category = ANY (c.data_categories)
        AND c.valid_from <= p_at AND p_at < c.valid_until
      ORDER BY c.valid_until DESC LIMIT 1),
    (SELECT 'breakGlassAccesses/' || b.id FROM break_glass_accesses b JOIN person
        ON b.person_id = person.id
      WHERE b.organization = p_organization AND b.data_category = p_data_category
        AND b.create_time <= p_at AND p_at < b.expire_time
      ORDER BY b.expire_time DESC LIMIT 1),
    CASE
      WHEN NOT EXISTS (SELECT 1 FROM candidates) THEN 'no_consent'
      WHEN NOT EXISTS (SELECT 1 FROM candidates c
                       WHERE p_data_category = ANY (c.data_categories)) THEN 'category_not_covered'
      WHEN NOT EXISTS (SELECT 1 FROM candidates c
                       WHERE p_data_category = ANY (c.data_categories)
                         AND c.purpose = p_purpose) THEN 'purpose_not_covered'
      WHEN EXISTS (SELECT 1 FROM candidates c
                   WHERE p_data_category = ANY (c.data_categories) AND c.purpose = p_purpose
                     AND c.withdraw_time IS NULL AND c.valid_from <= p_at
                     AND p_at < c.valid_until) THEN ''
      WHEN EXISTS (SELECT 1 FROM candidates c
                   WHERE p_data_category = ANY (c.data_categories) AND c.purpose = p_purpose
                     AND c.withdraw_time IS NOT NULL) THEN 'consent_withdrawn'
      WHEN EXISTS (SELECT 1 FROM candidates c
                   WHERE p_data_category = ANY (c.data_categories) AND c.purpose = p_purpose
                     AND p_at < c.valid_from) THEN 'consent_not_yet_valid'
      ELSE 'consent_expired'
    END,
    coalesce((SELECT access_version FROM person), 0)
$$;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'samplan_service') THEN
    GRANT EXECUTE ON FUNCTION person_access_version(text) TO samplan_service;
    GRANT EXECUTE ON FUNCTION access_facts(text, text, text, text, timestamptz)
      TO samplan_service;
  END IF;
END
$$;
