-- The units of work the journeys service engaged and closed, as its facts say
-- (cep.journeys.uo.*): whether the NIR may be recorded yet (annex 2, note 37) and
-- whether a journey is under way (CCTP 1.2.4).
CREATE TABLE journey_units (
    uo_id                uuid PRIMARY KEY,
    beneficiary_id       uuid NOT NULL REFERENCES beneficiaries (id),
    uo                   text NOT NULL,
    open                 boolean NOT NULL,
    engaged_on           date NOT NULL,
    status_at_engagement text
);
CREATE INDEX journey_units_beneficiary ON journey_units (beneficiary_id);
