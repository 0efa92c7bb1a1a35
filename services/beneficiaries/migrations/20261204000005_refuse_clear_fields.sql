-- The columns that held personal fields in clear are written by nobody any more: a
-- replica of an earlier release still running during a rolling upgrade fails loudly
-- instead of writing a person's data in clear (docs/personal-data.md).
CREATE FUNCTION beneficiaries_refuse_clear_fields() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.last_name IS NOT NULL OR NEW.first_name IS NOT NULL OR NEW.usual_name IS NOT NULL
       OR NEW.birth_date IS NOT NULL OR NEW.email IS NOT NULL OR NEW.phone IS NOT NULL
       OR NEW.home_postal_code IS NOT NULL OR NEW.work_postal_code IS NOT NULL
       OR NEW.last_name_key IS NOT NULL OR NEW.first_name_key IS NOT NULL
       OR NEW.usual_name_key IS NOT NULL OR NEW.nir_masked IS NOT NULL
       OR NEW.lot_exception_justification IS NOT NULL OR NEW.duplicate_reason IS NOT NULL
       OR NEW.profile <> '{}'::jsonb THEN
        RAISE EXCEPTION 'personal fields are sealed since this release: a replica of an earlier release is writing them in clear'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
-- Rows written before stay readable by the upgrade step, which empties them.
CREATE TRIGGER beneficiaries_refuse_clear_fields
    BEFORE INSERT OR UPDATE ON beneficiaries
    FOR EACH ROW
    WHEN (NEW.personal IS NOT NULL OR NEW.erased_at IS NOT NULL)
    EXECUTE FUNCTION beneficiaries_refuse_clear_fields();
