-- The units of work as journeys publishes them (cep.journeys.uo.*): ids, codes and
-- numbers only.
CREATE TABLE units (
    uo_id uuid PRIMARY KEY,
    beneficiary_id uuid NOT NULL,
    uo text NOT NULL,
    lot smallint NOT NULL,
    -- The lot whose territory the unit serves: the lot taken over for lot 19.
    territory_lot smallint NOT NULL,
    structure_id text NOT NULL,
    dossier_number text NOT NULL,
    referent text NOT NULL DEFAULT '',
    engagement_date date NOT NULL,
    closed boolean NOT NULL DEFAULT false
);

-- Each person's data key, wrapped under personal.wrapping_key (docs/personal-data.md):
-- everything this service keeps of the person is sealed with it; the row is deleted
-- when the person is erased, and with it every copy becomes unreadable.
CREATE TABLE person_keys (
    beneficiary_id uuid PRIMARY KEY,
    wrapping_version smallint NOT NULL,
    wrapped_key bytea NOT NULL
);

-- The people erased (cep.beneficiaries.erased): their key is gone, for good.
CREATE TABLE erasures (
    beneficiary_id uuid PRIMARY KEY,
    erased_at timestamptz NOT NULL
);

-- Content-addressed documents: the bytes live in the blob store under the person and
-- the SHA-256 of the document, sealed with the person's data key.
CREATE TABLE blobs (
    beneficiary_id uuid NOT NULL,
    sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size bigint NOT NULL CHECK (size >= 0),
    media_type text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (beneficiary_id, sha256)
);

CREATE TABLE deliverables (
    deliverable_id uuid PRIMARY KEY,
    uo_id uuid NOT NULL UNIQUE REFERENCES units (uo_id),
    kind text NOT NULL CHECK (kind IN ('ETAT_DES_LIEUX_PARTAGE', 'PROJET_PROFESSIONNEL')),
    state text NOT NULL CHECK (state IN ('DRAFT', 'SIGNING', 'COUNSELLOR_SIGNED', 'SIGNED')),
    mode text CHECK (mode IN ('ELECTRONIC', 'PAPER')),
    -- The section texts (JSON), sealed with the person's data key.
    sections_sealed bytea,
    complementary jsonb,
    wants_uo2_2 boolean NOT NULL DEFAULT false,
    template_version text NOT NULL,
    rendered_sha256 text,
    frozen_sha256 text,
    current_sha256 text,
    -- Where each signature's widget goes on the frozen document.
    signature_boxes jsonb NOT NULL DEFAULT '[]',
    signed_at timestamptz,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    CHECK ((state = 'SIGNED') = (signed_at IS NOT NULL AND mode IS NOT NULL))
);

CREATE TABLE signatures (
    deliverable_id uuid NOT NULL REFERENCES deliverables (deliverable_id),
    role text NOT NULL CHECK (role IN ('counsellor', 'beneficiary')),
    signer text NOT NULL,
    signed_at timestamptz NOT NULL,
    certificate_pem text NOT NULL,
    document_sha256 text NOT NULL,
    PRIMARY KEY (deliverable_id, role)
);

-- One-time codes for the beneficiary's signature: only their keyed hash is kept.
CREATE TABLE codes (
    code_id uuid PRIMARY KEY,
    deliverable_id uuid NOT NULL REFERENCES deliverables (deliverable_id),
    code_hash bytea NOT NULL,
    channel text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    used_at timestamptz,
    superseded boolean NOT NULL DEFAULT false
);
CREATE INDEX codes_live ON codes (deliverable_id) WHERE used_at IS NULL AND NOT superseded;

-- The evidence of each ceremony: who did what, when, from where, on which bytes;
-- chained (each entry hashes the previous one), its head sealed into the
-- beneficiary's signature.
CREATE TABLE audit_trail (
    deliverable_id uuid NOT NULL REFERENCES deliverables (deliverable_id),
    seq integer NOT NULL,
    at timestamptz NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    detail jsonb NOT NULL DEFAULT '{}',
    document_sha256 text,
    peer text,
    user_agent text,
    entry_hash text NOT NULL,
    PRIMARY KEY (deliverable_id, seq)
);

-- The paper path: the scan and the counsellor's attestation.
CREATE TABLE paper_signatures (
    deliverable_id uuid PRIMARY KEY REFERENCES deliverables (deliverable_id),
    attestation_sealed bytea NOT NULL,
    signed_on date NOT NULL,
    sha256 text NOT NULL,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL
);

-- UO2.2: the person's written trace asking to close.
CREATE TABLE closing_traces (
    trace_id uuid PRIMARY KEY,
    uo_id uuid NOT NULL REFERENCES units (uo_id),
    kind text NOT NULL CHECK (kind IN ('DOCUMENT', 'MESSAGE')),
    received_on date NOT NULL,
    summary_sealed bytea NOT NULL,
    sha256 text NOT NULL,
    reference text NOT NULL UNIQUE,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL
);
