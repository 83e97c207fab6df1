-- An identity number is registered once per municipality, not once in the
-- country: with one global unique key, CreatePerson's ALREADY_EXISTS told any
-- caseworker whether someone was a client of any municipality. A person served
-- by two municipalities has a record in each, owned there, with its own
-- consents and audit chain; the records are not linked, since a link would tell
-- one municipality about the other (README, "Who sees a person's data").
ALTER TABLE persons DROP CONSTRAINT persons_identity_number_hash_key;
CREATE UNIQUE INDEX persons_by_number ON persons (municipality, identity_number_hash);
