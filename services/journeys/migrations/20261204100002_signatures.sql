-- Signed deliverables received, once each; `late` when the unit was already closed.
CREATE TABLE signatures (
    deliverable_id uuid PRIMARY KEY,
    uo_id          uuid NOT NULL REFERENCES units (id),
    signed_at      timestamptz NOT NULL,
    late           boolean NOT NULL
);
CREATE INDEX signatures_uo ON signatures (uo_id);
