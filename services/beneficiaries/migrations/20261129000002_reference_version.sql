-- The version of the reference tables in force when the record was last written, so
-- its codes can be read against the right nomenclature after France compétences
-- replaces a table (retired codes stay readable in later versions). Null for records
-- written before versions were recorded.
ALTER TABLE beneficiaries ADD COLUMN reference_version text;
