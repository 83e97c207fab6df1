-- What the surveys service needs to deliver a follow-up invitation, and no
-- more: whether the person's consent for the purpose "follow_up" (data
-- category "outcome") naming the organization is active, and the e-mail
-- address to send to. The address is for sending only: the surveys service
-- neither stores, shows nor logs it, for persons with protected identity too.
CREATE FUNCTION survey_recipient(p_person text, p_organization text, p_at timestamptz)
RETURNS TABLE (consent text, email text, protected_identity boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = identity, pg_temp AS $$
  SELECT
    coalesce((SELECT 'consents/' || c.id FROM consents c
              WHERE c.person_id = p.id AND p_organization = ANY (c.grantee_organizations)
                AND c.purpose = 'follow_up' AND 'outcome' = ANY (c.data_categories)
                AND c.withdraw_time IS NULL AND c.valid_from <= p_at AND p_at < c.valid_until
              ORDER BY c.valid_until DESC LIMIT 1), ''),
    p.email,
    p.protected_identity
  FROM persons p
  WHERE p_person ~ '^persons/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    AND p.id = substr(p_person, 9)::uuid
$$;
REVOKE ALL ON FUNCTION survey_recipient(text, text, timestamptz) FROM PUBLIC;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'samplan_service') THEN
    GRANT EXECUTE ON FUNCTION survey_recipient(text, text, timestamptz) TO samplan_service;
  END IF;
END
$$;
