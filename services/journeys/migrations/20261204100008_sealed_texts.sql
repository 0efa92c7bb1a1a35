-- The free texts journeys holds about a person (a UO2.2's written-trace reference and
-- description, the reasons of referent changes) are sealed with the person's data key
-- (docs/personal-data.md, cep_runtime::personal): the keys and the erasures here, the
-- sealed columns beside the old clear ones, which `journeys migrate` (upgrade) seals
-- and empties, and which nothing may write again.
CREATE TABLE person_keys (
    beneficiary_id uuid PRIMARY KEY,
    wrapping_version smallint NOT NULL,
    wrapped_key bytea NOT NULL
);

CREATE TABLE erasures (
    beneficiary_id uuid PRIMARY KEY,
    erased_at timestamptz NOT NULL
);

ALTER TABLE units ADD COLUMN written_trace_sealed bytea, ADD COLUMN description_sealed bytea;
ALTER TABLE referent_changes ADD COLUMN reason_sealed bytea, ALTER COLUMN reason DROP NOT NULL;

-- A replica of the earlier release still running during the upgrade fails loudly
-- instead of writing a person's text in clear.
CREATE FUNCTION journeys_refuse_clear_unit_texts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.written_trace_reference IS NOT NULL OR NEW.description IS NOT NULL THEN
        RAISE EXCEPTION 'units: written_trace_reference and description are sealed now (written_trace_sealed, description_sealed)';
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION journeys_refuse_clear_reasons() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.reason IS NOT NULL THEN
        RAISE EXCEPTION 'referent_changes: reason is sealed now (reason_sealed)';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER units_refuse_clear_texts BEFORE INSERT OR UPDATE OF written_trace_reference, description ON units
    FOR EACH ROW EXECUTE FUNCTION journeys_refuse_clear_unit_texts();
CREATE TRIGGER referent_changes_refuse_clear_texts BEFORE INSERT OR UPDATE OF reason ON referent_changes
    FOR EACH ROW EXECUTE FUNCTION journeys_refuse_clear_reasons();
