-- Each person's data key and the erasures (cep_runtime::personal): a claim's texts
-- are sealed with the key of its person (of the claim itself when no person is
-- known).
CREATE TABLE person_keys (
    beneficiary_id uuid PRIMARY KEY,
    wrapping_version smallint NOT NULL,
    wrapped_key bytea NOT NULL
);

CREATE TABLE erasures (
    beneficiary_id uuid PRIMARY KEY,
    erased_at timestamptz NOT NULL
);

CREATE TABLE claims (
    claim_id uuid PRIMARY KEY,
    lot smallint NOT NULL,
    structure_id text NOT NULL,
    beneficiary_id uuid,
    received_date date NOT NULL,
    channel text NOT NULL,
    reason text NOT NULL,
    reference_version text NOT NULL,
    reply_by text NOT NULL CHECK (reply_by IN ('POST', 'EMAIL')),
    -- the texts, sealed with the data key of `sealed_for`
    sealed_for uuid NOT NULL,
    text_sealed bytea NOT NULL,
    acknowledgement_due date NOT NULL,
    answer_due date NOT NULL,
    acknowledged_on date,
    answered_on date,
    answer_sealed bytea,
    referral_date date,
    mediator_reference text,
    mediation_outcome text CHECK (mediation_outcome IN ('RESOLUE', 'NON_RESOLUE', 'IRRECEVABLE', 'ABANDONNEE')),
    mediation_outcome_date date,
    mediation_sealed bytea,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    CHECK (acknowledged_on IS NULL OR acknowledged_on >= received_date),
    CHECK (answered_on IS NULL OR answered_on >= received_date),
    CHECK (referral_date IS NULL OR referral_date >= received_date)
);
CREATE INDEX claims_by_lot ON claims (lot, structure_id, received_date);
CREATE INDEX claims_waiting_acknowledgement ON claims (acknowledgement_due) WHERE acknowledged_on IS NULL;
CREATE INDEX claims_waiting_answer ON claims (answer_due) WHERE answered_on IS NULL;

-- Each breach of a deadline, alerted once (cep.claims.overdue): the row and its event
-- commit together, so two replicas or a restart never alert twice, and a breach
-- seen late (after downtime, or a step recorded after its due date) is still alerted.
CREATE TABLE breaches (
    claim_id uuid NOT NULL REFERENCES claims (claim_id),
    breach text NOT NULL CHECK (breach IN ('ACKNOWLEDGEMENT', 'ANSWER')),
    due_date date NOT NULL,
    detected_on date NOT NULL,
    detected_at timestamptz NOT NULL,
    PRIMARY KEY (claim_id, breach)
);

-- Retries of ReceiveClaim with the same request_id answer the first call.
CREATE TABLE requests (
    subject text NOT NULL,
    request_id uuid NOT NULL,
    claim_id uuid NOT NULL,
    PRIMARY KEY (subject, request_id)
);
