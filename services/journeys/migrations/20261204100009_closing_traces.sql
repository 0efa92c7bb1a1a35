-- A UO2.2 whose person has sent the written trace asking to close it (recorded by the
-- deliverables service, cep.deliverables.closing_trace.recorded): not abandoned at
-- its deadline (CCTP 1.2.6), whatever the date of its closure.
ALTER TABLE units ADD COLUMN trace_recorded_on date;
