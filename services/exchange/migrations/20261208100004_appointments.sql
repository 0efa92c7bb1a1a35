-- The first-appointment requests (journeys' facts): indicator 8.4, the delay from a
-- person's request to their first exchange (their next interaction).
CREATE TABLE appointment_requests (
    appointment_id uuid PRIMARY KEY,
    beneficiary_id uuid NOT NULL,
    lot smallint NOT NULL,
    requested_on date NOT NULL,
    channel text NOT NULL
);
CREATE INDEX appointment_requests_by_lot ON appointment_requests (lot, requested_on);
CREATE INDEX interactions_by_beneficiary ON interactions (beneficiary_id, date);
