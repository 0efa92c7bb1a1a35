-- Personal fields at rest are sealed with a data key per person (docs/personal-data.md):
-- no name, birth date, contact or address in clear in the table, its dead rows, the WAL
-- or a backup. Erasing a person deletes their data key.
CREATE TABLE person_keys (
    beneficiary_id   uuid PRIMARY KEY REFERENCES beneficiaries (id),
    -- version of personal.wrapping_key
    wrapping_version smallint NOT NULL CHECK (wrapping_version >= 1),
    -- nonce || AES-256-GCM of the 32-byte data key; the beneficiary id is the associated data
    wrapped_key      bytea NOT NULL
);

ALTER TABLE beneficiaries
    -- nonce || AES-256-GCM (data key) of the personal fields as JSON
    ADD COLUMN personal         bytea,
    -- HMAC indexes under nir.index_key: (lot, names, birth date); every prefix of the
    -- name keys; the birth date
    ADD COLUMN identity_index   bytea,
    ADD COLUMN name_prefixes    bytea[] NOT NULL DEFAULT '{}',
    ADD COLUMN birth_date_index bytea;

CREATE INDEX beneficiaries_identity_index ON beneficiaries (lot, identity_index)
    WHERE erased_at IS NULL;
CREATE INDEX beneficiaries_name_prefixes ON beneficiaries USING gin (name_prefixes);
CREATE INDEX beneficiaries_birth_date_index ON beneficiaries (birth_date_index);

-- The clear columns are emptied by the service's upgrade step (it needs the keys),
-- which seals each record written before; their indexes go now.
DROP INDEX beneficiaries_identity;
DROP INDEX beneficiaries_last_name;
DROP INDEX beneficiaries_usual_name;
