-- The reporting read model: what the other services' facts say (ids, codes, dates,
-- numbers; never a person's identity, which stays with beneficiaries and is asked
-- for when a daily file is built). Every table here is rebuilt by replaying the
-- streams (Rebuild); the exports, transfers and populations are this service's own.

CREATE TABLE beneficiaries (
    beneficiary_id uuid PRIMARY KEY,
    lot smallint NOT NULL,
    structure_id text NOT NULL,
    operator_ref text NOT NULL,
    employment_status text NOT NULL,
    education_level text NOT NULL,
    naf_section text NOT NULL,
    company_size text NOT NULL,
    social_category text NOT NULL,
    employer_department text NOT NULL,
    has_nir boolean NOT NULL,
    erased boolean NOT NULL DEFAULT false,
    version bigint NOT NULL
);

-- A unit of work. The engagement's facts never change; the closure's may (a late
-- signature replaces an abandonment), kept newest by closure_version.
CREATE TABLE units (
    uo_id uuid PRIMARY KEY,
    beneficiary_id uuid NOT NULL,
    uo text NOT NULL,
    lot smallint NOT NULL,
    lot_taken_over smallint NOT NULL DEFAULT 0,
    structure_id text NOT NULL DEFAULT '',
    dossier_number text NOT NULL,
    purchase_order_reference text NOT NULL DEFAULT '',
    engagement_date date,
    deadline date,
    status_at_engagement text NOT NULL DEFAULT '',
    origin text NOT NULL DEFAULT '',
    request_reason text NOT NULL DEFAULT '',
    detailed_reason text NOT NULL DEFAULT '',
    closure_date date,
    closure_reason text,
    billable boolean,
    project_state text,
    closure_version bigint NOT NULL DEFAULT 0,
    version bigint NOT NULL
);
CREATE INDEX units_by_lot ON units (lot, uo, engagement_date);
CREATE INDEX units_closed_by_lot ON units (lot, uo, closure_date) WHERE closure_date IS NOT NULL;
CREATE INDEX units_by_beneficiary ON units (beneficiary_id);

CREATE TABLE interactions (
    interaction_id uuid PRIMARY KEY,
    uo_id uuid NOT NULL,
    beneficiary_id uuid NOT NULL,
    lot smallint NOT NULL,
    date date NOT NULL,
    contact_mode text NOT NULL,
    duration_minutes integer NOT NULL,
    service_types text[] NOT NULL,
    requested boolean NOT NULL
);
CREATE INDEX interactions_by_unit ON interactions (uo_id, date);
CREATE INDEX interactions_by_lot ON interactions (lot, date);

CREATE TABLE claims (
    claim_id uuid PRIMARY KEY,
    lot smallint NOT NULL,
    structure_id text NOT NULL DEFAULT '',
    beneficiary_id uuid,
    received_date date,
    channel text NOT NULL DEFAULT '',
    reason text NOT NULL DEFAULT '',
    acknowledgement_due date,
    answer_due date,
    acknowledged_on date,
    acknowledged_late boolean,
    answered_on date,
    answered_late boolean,
    referral_date date,
    mediation_outcome text,
    mediation_outcome_date date,
    version bigint NOT NULL
);
CREATE INDEX claims_by_lot ON claims (lot, received_date);

CREATE TABLE signed_deliverables (
    deliverable_id uuid PRIMARY KEY,
    uo_id uuid NOT NULL,
    beneficiary_id uuid NOT NULL,
    kind text NOT NULL,
    signed_at timestamptz NOT NULL,
    sha256 text NOT NULL,
    mode text NOT NULL
);
CREATE INDEX signed_deliverables_by_time ON signed_deliverables (signed_at);

CREATE TABLE purchase_orders (
    purchase_order_id uuid PRIMARY KEY,
    lot smallint NOT NULL,
    year integer NOT NULL,
    reference text NOT NULL
);

CREATE TABLE purchase_order_lines (
    line_id uuid PRIMARY KEY,
    purchase_order_id uuid NOT NULL REFERENCES purchase_orders ON DELETE CASCADE,
    uo text NOT NULL,
    quantity bigint NOT NULL,
    rank integer NOT NULL
);

-- One record per file (dossier, claim, person) and day it changed, as it stood after
-- that day's last change: what the daily file of that day writes, so that building a
-- past day again gives the same bytes. `seq` grows at each write: the API channel's
-- cursor (ListChangesSince).
CREATE SEQUENCE daily_records_seq;
CREATE TABLE daily_records (
    lot smallint NOT NULL,
    day date NOT NULL,
    family text NOT NULL CHECK (family IN ('BENEFICIAIRES', 'UO0', 'UO1', 'UO2', 'RECLAMATIONS')),
    record_id text NOT NULL,
    changed_at timestamptz NOT NULL,
    fields jsonb NOT NULL,
    seq bigint NOT NULL DEFAULT nextval('daily_records_seq'),
    PRIMARY KEY (lot, day, family, record_id)
);
CREATE UNIQUE INDEX daily_records_by_seq ON daily_records (lot, seq);

-- The service's own data, kept across a rebuild.
CREATE TABLE regional_populations (
    lot smallint NOT NULL,
    year integer NOT NULL,
    active_population bigint NOT NULL CHECK (active_population > 0),
    cep_population bigint NOT NULL CHECK (cep_population > 0),
    PRIMARY KEY (lot, year)
);

-- The days whose files were built, with their manifest.
CREATE TABLE exports (
    lot smallint NOT NULL,
    day date NOT NULL,
    format text NOT NULL,
    directory text NOT NULL,
    files jsonb NOT NULL,
    built_at timestamptz NOT NULL,
    PRIMARY KEY (lot, day, format)
);

-- Every upload attempt of a file.
CREATE TABLE transfers (
    transfer_id uuid PRIMARY KEY,
    lot smallint NOT NULL,
    day date NOT NULL,
    file text NOT NULL,
    remote_path text NOT NULL,
    attempt integer NOT NULL,
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    bytes bigint NOT NULL,
    sha256 text NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('DELIVERED', 'FAILED')),
    detail text NOT NULL
);
CREATE INDEX transfers_by_day ON transfers (lot, day, started_at);

-- The days delivered whole (every file and the manifest): where a catch-up resumes.
CREATE TABLE deliveries (
    lot smallint NOT NULL,
    day date NOT NULL,
    remote_directory text NOT NULL,
    delivered_at timestamptz NOT NULL,
    PRIMARY KEY (lot, day)
);
