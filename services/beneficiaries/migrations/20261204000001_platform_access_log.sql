-- The access log moves to the platform's hash-chained `cep_access_log`
-- (cep-runtime's migration 100): every row written so far is appended there in its
-- order, chained, then the service's own table goes.
do $$
declare
    r record;
begin
    for r in select at, subject, roles, action, beneficiary_id from access_log order by id loop
        perform cep_access_log_append(
            r.at, r.subject, r.roles, r.action,
            case when r.beneficiary_id is null then '{}'::uuid[] else array[r.beneficiary_id] end
        );
    end loop;
end;
$$;
drop table access_log;
