-- A UO2.1 opens one UO2.2 at most.
CREATE UNIQUE INDEX units_one_uo2_2_per_uo2_1 ON units (follows) WHERE follows IS NOT NULL;
-- The sweep walks the open, unsigned units by deadline and filters on the last
-- request from the index itself (units overdue but still active are skipped cheaply).
DROP INDEX units_open_deadline;
CREATE INDEX units_open_deadline ON units (lot, deadline, last_requested_interaction, id)
    WHERE open AND signed_at IS NULL;
CREATE INDEX units_due ON units (lot, deadline, id) WHERE open;
-- Consumption per line.
CREATE INDEX units_line ON units (line_id, closure_date);
