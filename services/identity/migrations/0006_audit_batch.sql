-- Audit records appended in batches: the records of many concurrent reads written
-- by one statement, which commits them together (common/audit_log.h). Each record
-- still goes on its person's chain exactly as append_audit puts it there, so
-- VerifyAuditLog and the access log read batched records like any other.
--
-- The hash of one record, shared by append_audit and append_audit_batch so that
-- the two cannot drift apart (services/identity/audit_chain.cc computes the same).
-- Plain SQL with qualified names and no SET clause, so PostgreSQL inlines it into
-- the caller's expression instead of calling it; STABLE, not IMMUTABLE, because
-- extract() from a timestamptz is (an IMMUTABLE declaration would stop the
-- inlining).
CREATE FUNCTION audit_record_hash(
    p_sequence bigint, p_time timestamptz, p_municipality text, p_actor_user text,
    p_actor_organization text, p_action text, p_resource text, p_subject_person text,
    p_data_category text, p_purpose text, p_consent text, p_decision text, p_reason text,
    p_request_id text, p_previous_hash text)
RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT encode(sha256(
      identity.audit_bytes('samplan.audit.v1')
      || int8send(p_sequence)
      || int8send((extract(epoch FROM p_time) * 1000000)::bigint)
      || identity.audit_bytes(p_municipality)
      || identity.audit_bytes(p_actor_user)
      || identity.audit_bytes(p_actor_organization)
      || identity.audit_bytes(p_action)
      || identity.audit_bytes(p_resource)
      || identity.audit_bytes(p_subject_person)
      || identity.audit_bytes(p_data_category)
      || identity.audit_bytes(p_purpose)
      || identity.audit_bytes(p_consent)
      || identity.audit_bytes(p_decision)
      || identity.audit_bytes(p_reason)
      || identity.audit_bytes(p_request_id)
      || identity.audit_bytes(p_previous_hash)), 'hex')
$$;

-- Appends the records given as parallel arrays (element i of each array is record
-- i), in one statement: run on its own, it commits them all or none. Records of
-- one person go on that person's chain in the order given. Heads are locked in
-- the order of their person, so two batches, or a batch and a single append,
-- never wait for each other in a cycle. Returns each record's sequence number, in
-- the order given.
CREATE FUNCTION append_audit_batch(
    p_time timestamptz[], p_municipality text[], p_actor_user text[],
    p_actor_organization text[], p_action text[], p_resource text[],
    p_subject_person text[], p_data_category text[], p_purpose text[], p_consent text[],
    p_decision text[], p_reason text[], p_request_id text[])
RETURNS bigint[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = identity, pg_temp AS $$
DECLARE
  genesis constant text := repeat('0', 64);
  n constant int := coalesce(cardinality(p_subject_person), 0);
  sequences bigint[] := array_fill(0::bigint, ARRAY[n]);
  ordered int[];
  i int;
  person text;
  sequence_now bigint;
  hash_now text;
  stored_time timestamptz;
  next_hash text;
  out_index int[] := '{}';
  out_time timestamptz[] := '{}';
  out_previous text[] := '{}';
  out_hash text[] := '{}';
  out_sequence bigint[] := '{}';
BEGIN
  IF n = 0 THEN
    RETURN sequences;
  END IF;
  IF cardinality(p_time) <> n OR cardinality(p_municipality) <> n
     OR cardinality(p_actor_user) <> n OR cardinality(p_actor_organization) <> n
     OR cardinality(p_action) <> n OR cardinality(p_resource) <> n
     OR cardinality(p_data_category) <> n OR cardinality(p_purpose) <> n
     OR cardinality(p_consent) <> n OR cardinality(p_decision) <> n
     OR cardinality(p_reason) <> n OR cardinality(p_request_id) <> n THEN
    RAISE EXCEPTION 'append_audit_batch: the arrays differ in length'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT array_agg(k ORDER BY p_subject_person[k], k) INTO ordered
    FROM generate_subscripts(p_subject_person, 1) AS k;
  INSERT INTO audit_heads (subject_person, sequence, hash)
    SELECT DISTINCT s, 0, genesis FROM unnest(p_subject_person) AS s ORDER BY 1
    ON CONFLICT (subject_person) DO NOTHING;
  FOREACH i IN ARRAY ordered LOOP
    IF person IS DISTINCT FROM p_subject_person[i] THEN
      IF person IS NOT NULL THEN
        UPDATE audit_heads SET sequence = sequence_now, hash = hash_now
          WHERE subject_person = person;
      END IF;
      person := p_subject_person[i];
      SELECT h.sequence, h.hash INTO sequence_now, hash_now FROM audit_heads h
        WHERE h.subject_person = person FOR UPDATE;
    END IF;
    sequence_now := sequence_now + 1;
    -- timestamptz keeps microseconds, and the hash is over the stored value.
    stored_time := date_trunc('microseconds', p_time[i]);
    next_hash := audit_record_hash(sequence_now, stored_time, p_municipality[i],
        p_actor_user[i], p_actor_organization[i], p_action[i], p_resource[i], person,
        p_data_category[i], p_purpose[i], p_consent[i], p_decision[i], p_reason[i],
        p_request_id[i], hash_now);
    out_index := out_index || i;
    out_time := out_time || stored_time;
    out_previous := out_previous || hash_now;
    out_hash := out_hash || next_hash;
    out_sequence := out_sequence || sequence_now;
    sequences[i] := sequence_now;
    hash_now := next_hash;
  END LOOP;
  UPDATE audit_heads SET sequence = sequence_now, hash = hash_now WHERE subject_person = person;
  INSERT INTO audit_records (subject_person, sequence, time, municipality, actor_user,
      actor_organization, action, resource, data_category, purpose, consent, decision,
      reason, request_id, previous_hash, hash)
    SELECT p_subject_person[x.i], x.sequence, x.time, p_municipality[x.i], p_actor_user[x.i],
        p_actor_organization[x.i], p_action[x.i], p_resource[x.i], p_data_category[x.i],
        p_purpose[x.i], p_consent[x.i], p_decision[x.i], p_reason[x.i], p_request_id[x.i],
        x.previous, x.hash
    FROM unnest(out_index, out_sequence, out_time, out_previous, out_hash)
      AS x(i, sequence, time, previous, hash);
  RETURN sequences;
END
$$;

-- append_audit, with the shared hash function.
CREATE OR REPLACE FUNCTION append_audit(
    p_time timestamptz, p_municipality text, p_actor_user text, p_actor_organization text,
    p_action text, p_resource text, p_subject_person text, p_data_category text,
    p_purpose text, p_consent text, p_decision text, p_reason text, p_request_id text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = identity, pg_temp AS $$
DECLARE
  genesis constant text := repeat('0', 64);
  previous_sequence bigint;
  previous_hash text;
  next_sequence bigint;
  next_hash text;
  stored_time timestamptz := date_trunc('microseconds', p_time);
BEGIN
  INSERT INTO audit_heads AS h (subject_person, sequence, hash)
    VALUES (p_subject_person, 0, genesis)
    ON CONFLICT (subject_person) DO UPDATE SET sequence = h.sequence
    RETURNING h.sequence, h.hash INTO previous_sequence, previous_hash;
  next_sequence := previous_sequence + 1;
  next_hash := audit_record_hash(next_sequence, stored_time, p_municipality, p_actor_user,
      p_actor_organization, p_action, p_resource, p_subject_person, p_data_category,
      p_purpose, p_consent, p_decision, p_reason, p_request_id, previous_hash);
  INSERT INTO audit_records (subject_person, sequence, time, municipality, actor_user,
      actor_organization, action, resource, data_category, purpose, consent, decision,
      reason, request_id, previous_hash, hash)
    VALUES (p_subject_person, next_sequence, stored_time, p_municipality, p_actor_user,
      p_actor_organization, p_action, p_resource, p_data_category, p_purpose, p_consent,
      p_decision, p_reason, p_request_id, previous_hash, next_hash);
  UPDATE audit_heads SET sequence = next_sequence, hash = next_hash
    WHERE subject_person = p_subject_person;
  RETURN next_sequence;
END
$$;

-- The services' role appends through the batch function as through append_audit.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'samplan_service') THEN
    EXECUTE 'GRANT EXECUTE ON FUNCTION append_audit_batch(timestamptz[], text[], text[], '
            'text[], text[], text[], text[], text[], text[], text[], text[], text[], text[]) '
            'TO samplan_service';
  END IF;
END
$$;
