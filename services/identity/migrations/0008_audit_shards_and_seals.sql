-- Two changes to the audit log.
--
-- 1. Attempts that name no known person no longer share one chain. All of them,
--    from every municipality, went on the chain "" and so took turns on its one
--    head row: a burst of refused attempts anywhere slowed every other such
--    attempt everywhere. Now each municipality has eight such chains, and the
--    request id picks one (audit_shard). A chain is (subject_person, shard): a
--    person's chain has the shard '', as every record before this migration has
--    (the old chain "" stays as it is, complete and verifiable). The record's
--    hash is unchanged (services/identity/audit_chain.h): the shard is where the
--    record is kept, not part of what it says.
--
-- 2. The chains are sealed under a key the database does not hold. An unkeyed
--    hash chain stops anyone who may only append; the role that owns these
--    tables can rewrite a record and recompute every hash after it. So the
--    identity service, which alone holds SAMPLAN_IDENTITY_AUDIT_KEY, writes the
--    end of each chain that grew into audit_seals with an HMAC-SHA256 of it
--    (services/identity/audit_seal.h), every few seconds. VerifyAuditLog checks
--    each chain up to its seal against the seal: a record rewritten before it
--    changes the hash the seal names, and a new seal cannot be made without the
--    key. A record newer than the last seal is protected by the unkeyed chain
--    alone until it is sealed.

ALTER TABLE audit_records ADD COLUMN shard text NOT NULL DEFAULT '';
ALTER TABLE audit_records DROP CONSTRAINT audit_records_pkey,
  ADD PRIMARY KEY (subject_person, shard, sequence);
ALTER TABLE audit_heads ADD COLUMN shard text NOT NULL DEFAULT '';
ALTER TABLE audit_heads DROP CONSTRAINT audit_heads_pkey, ADD PRIMARY KEY (subject_person, shard);

-- The shard of a record's chain: '' for a person's; for an attempt that names no
-- person, "<municipality>/<0-7>" by its request id. Plain SQL, inlined.
CREATE FUNCTION audit_shard(p_subject_person text, p_municipality text, p_request_id text)
RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_subject_person <> '' THEN ''
              ELSE p_municipality || '/' || (hashtext(p_request_id) & 7)::text END
$$;

CREATE TABLE audit_seals (
  subject_person text NOT NULL,
  shard text NOT NULL,
  -- The chain's last record when it was sealed, and its hash.
  sequence bigint NOT NULL CHECK (sequence >= 1),
  hash text NOT NULL,
  -- HMAC-SHA256 under SAMPLAN_IDENTITY_AUDIT_KEY of the four values above, 64 hex
  -- digits (services/identity/audit_seal.h describes the bytes).
  mac text NOT NULL,
  seal_time timestamptz NOT NULL,
  PRIMARY KEY (subject_person, shard)
);
REVOKE ALL ON audit_seals FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON audit_seals TO samplan_identity;

-- append_audit, on the record's chain.
CREATE OR REPLACE FUNCTION append_audit(
    p_time timestamptz, p_municipality text, p_actor_user text, p_actor_organization text,
    p_action text, p_resource text, p_subject_person text, p_data_category text,
    p_purpose text, p_consent text, p_decision text, p_reason text, p_request_id text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = identity, pg_temp AS $$
DECLARE
  genesis constant text := repeat('0', 64);
  chain_shard constant text := audit_shard(p_subject_person, p_municipality, p_request_id);
  previous_sequence bigint;
  previous_hash text;
  next_sequence bigint;
  next_hash text;
  stored_time timestamptz := date_trunc('microseconds', p_time);
BEGIN
  INSERT INTO audit_heads AS h (subject_person, shard, sequence, hash)
    VALUES (p_subject_person, chain_shard, 0, genesis)
    ON CONFLICT (subject_person, shard) DO UPDATE SET sequence = h.sequence
    RETURNING h.sequence, h.hash INTO previous_sequence, previous_hash;
  next_sequence := previous_sequence + 1;
  next_hash := audit_record_hash(next_sequence, stored_time, p_municipality, p_actor_user,
      p_actor_organization, p_action, p_resource, p_subject_person, p_data_category,
      p_purpose, p_consent, p_decision, p_reason, p_request_id, previous_hash);
  INSERT INTO audit_records (subject_person, shard, sequence, time, municipality, actor_user,
      actor_organization, action, resource, data_category, purpose, consent, decision,
      reason, request_id, previous_hash, hash)
    VALUES (p_subject_person, chain_shard, next_sequence, stored_time, p_municipality,
      p_actor_user, p_actor_organization, p_action, p_resource, p_data_category, p_purpose,
      p_consent, p_decision, p_reason, p_request_id, previous_hash, next_hash);
  UPDATE audit_heads SET sequence = next_sequence, hash = next_hash
    WHERE subject_person = p_subject_person AND shard = chain_shard;
  RETURN next_sequence;
END
$$;

-- append_audit_batch, on the records' chains; heads locked in the order of
-- (person, shard), so batches never wait for each other in a cycle.
CREATE OR REPLACE FUNCTION append_audit_batch(
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
  shards text[];
  ordered int[];
  i int;
  person text;
  person_shard text;
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
  SELECT array_agg(audit_shard(p_subject_person[k], p_municipality[k], p_request_id[k])
                   ORDER BY k) INTO shards
    FROM generate_subscripts(p_subject_person, 1) AS k;
  SELECT array_agg(k ORDER BY p_subject_person[k], shards[k], k) INTO ordered
    FROM generate_subscripts(p_subject_person, 1) AS k;
  INSERT INTO audit_heads (subject_person, shard, sequence, hash)
    SELECT DISTINCT s, c, 0, genesis FROM unnest(p_subject_person, shards) AS x(s, c)
    ORDER BY 1, 2
    ON CONFLICT (subject_person, shard) DO NOTHING;
  FOREACH i IN ARRAY ordered LOOP
    IF person IS DISTINCT FROM p_subject_person[i] OR person_shard IS DISTINCT FROM shards[i] THEN
      IF person IS NOT NULL THEN
        UPDATE audit_heads SET sequence = sequence_now, hash = hash_now
          WHERE subject_person = person AND shard = person_shard;
      END IF;
      person := p_subject_person[i];
      person_shard := shards[i];
      SELECT h.sequence, h.hash INTO sequence_now, hash_now FROM audit_heads h
        WHERE h.subject_person = person AND h.shard = person_shard FOR UPDATE;
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
  UPDATE audit_heads SET sequence = sequence_now, hash = hash_now
    WHERE subject_person = person AND shard = person_shard;
  INSERT INTO audit_records (subject_person, shard, sequence, time, municipality, actor_user,
      actor_organization, action, resource, data_category, purpose, consent, decision,
      reason, request_id, previous_hash, hash)
    SELECT p_subject_person[x.i], shards[x.i], x.sequence, x.time, p_municipality[x.i],
        p_actor_user[x.i], p_actor_organization[x.i], p_action[x.i], p_resource[x.i],
        p_data_category[x.i], p_purpose[x.i], p_consent[x.i], p_decision[x.i], p_reason[x.i],
        p_request_id[x.i], x.previous, x.hash
    FROM unnest(out_index, out_sequence, out_time, out_previous, out_hash)
      AS x(i, sequence, time, previous, hash);
  RETURN sequences;
END
$$;
