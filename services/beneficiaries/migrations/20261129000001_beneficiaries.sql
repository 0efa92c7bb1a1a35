-- The people counselled. Personal columns are NULL once the person is erased
-- (erased_at set): the row stays as a tombstone so journeys and reports keep
-- their references.
CREATE TABLE beneficiaries (
    id                          uuid PRIMARY KEY,
    lot                         smallint NOT NULL CHECK (lot BETWEEN 1 AND 19),
    structure_id                text NOT NULL,
    last_name                   text,
    first_name                  text,
    usual_name                  text,
    birth_date                  date,
    -- lower-case, accent-free birth and usual names, for search and duplicates
    last_name_key               text,
    first_name_key              text,
    usual_name_key              text,
    employment_status           text,
    email                       text,
    phone                       text,
    home_postal_code            text,
    work_postal_code            text,
    operator_ref                text,
    other_cep_operator          text,
    lot_exception_justification text,
    profile                     jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- nonce || AES-256-GCM ciphertext; the beneficiary id is the associated data
    nir_sealed                  bytea,
    -- HMAC-SHA256 of the NIR under the index key
    nir_index                   bytea,
    nir_masked                  text,
    duplicate_reason            text,
    erasure_reason              text,
    version                     bigint NOT NULL DEFAULT 1,
    created_at                  timestamptz NOT NULL,
    updated_at                  timestamptz NOT NULL,
    erased_at                   timestamptz,
    CHECK ((nir_sealed IS NULL) = (nir_index IS NULL))
);

CREATE INDEX beneficiaries_identity ON beneficiaries (lot, last_name_key, first_name_key, birth_date)
    WHERE erased_at IS NULL;
CREATE INDEX beneficiaries_last_name ON beneficiaries (last_name_key text_pattern_ops, id);
CREATE INDEX beneficiaries_usual_name ON beneficiaries (usual_name_key text_pattern_ops, id);
CREATE INDEX beneficiaries_nir_index ON beneficiaries (nir_index) WHERE nir_index IS NOT NULL;
CREATE INDEX beneficiaries_structure ON beneficiaries (lot, structure_id, id);

-- Every read or export of personal data: who, what, when (CNIL traceability).
CREATE TABLE access_log (
    id             bigserial PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    subject        text NOT NULL,
    roles          text NOT NULL,
    action         text NOT NULL,
    beneficiary_id uuid,
    result_count   integer NOT NULL DEFAULT 1
);
CREATE INDEX access_log_beneficiary ON access_log (beneficiary_id, at);
