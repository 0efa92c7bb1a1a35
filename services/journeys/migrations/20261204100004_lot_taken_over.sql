-- A lot-19 unit (the backup operator) records the lot it took over.
ALTER TABLE units ADD COLUMN lot_taken_over smallint CHECK (lot_taken_over BETWEEN 1 AND 18);
