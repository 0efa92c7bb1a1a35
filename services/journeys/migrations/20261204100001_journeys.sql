-- The people as the journeys service knows them: the non-personal facts the
-- beneficiaries service publishes (docs/personal-data.md), newest version kept.
CREATE TABLE people (
    beneficiary_id     uuid PRIMARY KEY,
    lot                smallint NOT NULL CHECK (lot BETWEEN 1 AND 19),
    structure_id       text NOT NULL,
    employment_status  text,
    other_cep_operator text,
    home_lot           smallint,
    work_lot           smallint,
    lot_exception      boolean NOT NULL DEFAULT false,
    has_nir            boolean NOT NULL DEFAULT false,
    erased             boolean NOT NULL DEFAULT false,
    version            bigint NOT NULL
);

CREATE TABLE purchase_orders (
    id         uuid PRIMARY KEY,
    lot        smallint NOT NULL CHECK (lot BETWEEN 1 AND 19),
    year       integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    reference  text,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX purchase_orders_lot_year ON purchase_orders (lot, year, id);

CREATE TABLE purchase_order_lines (
    id                uuid PRIMARY KEY,
    purchase_order_id uuid NOT NULL REFERENCES purchase_orders (id),
    lot               smallint NOT NULL,
    year              integer NOT NULL,
    uo                text NOT NULL CHECK (uo IN ('UO0', 'UO1', 'UO2.1', 'UO2.2', 'UO3', 'UO4', 'UO5')),
    quantity          bigint NOT NULL CHECK (quantity > 0),
    -- yy: the line's rank in the year for its lot and UO
    rank              integer NOT NULL CHECK (rank BETWEEN 1 AND 99),
    -- engagements (or deliveries) numbered against it: zzzzz of the last one
    consumed          bigint NOT NULL DEFAULT 0 CHECK (consumed BETWEEN 0 AND quantity),
    UNIQUE (lot, year, uo, rank),
    UNIQUE (purchase_order_id, uo)
);

-- One counter per operator, month and UO; a row lock serialises the engagements of
-- one counter across replicas, and a rolled-back engagement takes its number back.
CREATE TABLE dossier_counters (
    operator text NOT NULL,
    year     integer NOT NULL,
    month    integer NOT NULL CHECK (month BETWEEN 1 AND 12),
    uo       text NOT NULL,
    last     integer NOT NULL,
    PRIMARY KEY (operator, year, month, uo)
);

CREATE TABLE units (
    id                         uuid PRIMARY KEY,
    beneficiary_id             uuid NOT NULL,
    uo                         text NOT NULL CHECK (uo IN ('UO0', 'UO1', 'UO2.1', 'UO2.2')),
    lot                        smallint NOT NULL,
    structure_id               text NOT NULL,
    dossier_number             text NOT NULL UNIQUE,
    line_id                    uuid NOT NULL REFERENCES purchase_order_lines (id),
    purchase_order_reference   text NOT NULL UNIQUE,
    engagement_date            date NOT NULL,
    deadline                   date,
    -- the UO2.1 a UO2.2 follows
    follows                    uuid REFERENCES units (id),
    open                       boolean NOT NULL,
    closure_date               date,
    closure_reason             text,
    billable                   boolean NOT NULL DEFAULT false,
    referent                   text,
    status_at_engagement       text,
    origin                     text,
    request_reason             text,
    detailed_reason            text,
    outcome                    text,
    written_trace_reference    text,
    project_state              text,
    description                text,
    signed_at                  timestamptz,
    last_requested_interaction date,
    version                    bigint NOT NULL,
    created_at                 timestamptz NOT NULL,
    updated_at                 timestamptz NOT NULL,
    CHECK (open = (closure_date IS NULL))
);
CREATE INDEX units_beneficiary ON units (beneficiary_id, engagement_date, id);
CREATE INDEX units_open_deadline ON units (lot, deadline) WHERE open;
-- at most one open UO1 or UO2 per person
CREATE UNIQUE INDEX units_one_open ON units (beneficiary_id) WHERE open AND uo <> 'UO0';

CREATE TABLE interactions (
    id                       uuid PRIMARY KEY,
    uo_id                    uuid NOT NULL REFERENCES units (id),
    date                     date NOT NULL,
    contact_mode             text NOT NULL,
    duration_minutes         integer NOT NULL CHECK (duration_minutes BETWEEN 0 AND 1440),
    counsellor               text NOT NULL,
    service_types            text[] NOT NULL DEFAULT '{}',
    requested_by_beneficiary boolean NOT NULL,
    created_at               timestamptz NOT NULL
);
CREATE INDEX interactions_uo ON interactions (uo_id, date, id);

CREATE TABLE referent_changes (
    id         bigserial PRIMARY KEY,
    uo_id      uuid NOT NULL REFERENCES units (id),
    referent   text NOT NULL,
    reason     text NOT NULL,
    changed_by text NOT NULL,
    at         timestamptz NOT NULL
);
