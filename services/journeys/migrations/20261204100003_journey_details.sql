ALTER TABLE units ADD COLUMN cpir_project boolean NOT NULL DEFAULT false;

CREATE TABLE complementary_services (
    id                uuid PRIMARY KEY,
    uo_id             uuid NOT NULL REFERENCES units (id),
    kind              text NOT NULL,
    provider          text NOT NULL,
    auto_prescription boolean NOT NULL,
    funding           text,
    created_at        timestamptz NOT NULL
);
CREATE INDEX complementary_services_uo ON complementary_services (uo_id);

CREATE TABLE work_discoveries (
    id         uuid PRIMARY KEY,
    uo_id      uuid NOT NULL REFERENCES units (id),
    kind       text NOT NULL,
    date_from  date NOT NULL,
    date_to    date NOT NULL CHECK (date_to >= date_from),
    created_at timestamptz NOT NULL
);
CREATE INDEX work_discoveries_uo ON work_discoveries (uo_id);

-- First appointments asked for; the first exchange is due within 30 working days.
CREATE TABLE appointments (
    id                uuid PRIMARY KEY,
    beneficiary_id    uuid NOT NULL,
    lot               smallint NOT NULL,
    structure_id      text NOT NULL,
    requested_on      date NOT NULL,
    channel           text NOT NULL CHECK (channel IN ('ONLINE', 'UO0_CONTACT', 'PHONE')),
    due               date NOT NULL,
    first_exchange_on date,
    created_at        timestamptz NOT NULL
);
CREATE INDEX appointments_pending ON appointments (lot, due, id) WHERE first_exchange_on IS NULL;
CREATE INDEX appointments_beneficiary ON appointments (beneficiary_id) WHERE first_exchange_on IS NULL;

-- Operator-level deliveries (UO3 set-up, UO4 steering, UO5 reversibility).
CREATE TABLE operator_deliveries (
    id                       uuid PRIMARY KEY,
    line_id                  uuid NOT NULL REFERENCES purchase_order_lines (id),
    lot                      smallint NOT NULL,
    uo                       text NOT NULL CHECK (uo IN ('UO3', 'UO4', 'UO5')),
    delivered_on             date NOT NULL,
    document_reference       text NOT NULL,
    purchase_order_reference text NOT NULL UNIQUE,
    created_by               text NOT NULL,
    created_at               timestamptz NOT NULL
);
CREATE INDEX operator_deliveries_line ON operator_deliveries (line_id, delivered_on);
