-- Access log of the platform (cep-runtime): who read or changed whose personal data.
-- Versions 100..=199 are reserved for cep-runtime.
--
-- Hash-chained: each row's hash covers the previous row's hash and its own fields,
-- ids follow each other without gaps, and the head holds the last id and hash, so
-- an edited, inserted or deleted row (the last one included) breaks the chain that
-- `cep_runtime::access_log::verify` walks.
create table cep_access_log (
    id        bigint      primary key,
    at        timestamptz not null,
    subject   text        not null,
    roles     text        not null,
    action    text        not null,
    -- the record (e.g. the person) whose data the answer showed; null: none shown
    record_id uuid        null,
    prev_hash bytea       not null,
    hash      bytea       not null
);
create index cep_access_log_record on cep_access_log (record_id, id);

create table cep_access_log_head (
    singleton boolean     primary key default true check (singleton),
    last_id   bigint      not null,
    last_hash bytea       not null
);
insert into cep_access_log_head (last_id, last_hash) values (0, decode(repeat('00', 32), 'hex'));

-- The one definition of a row's hash: SHA-256 of the previous hash and the row's
-- fields, each text length-prefixed so no two rows encode alike.
create function cep_access_log_digest(
    prev bytea, id bigint, at timestamptz, subject text, roles text, action text, record_id uuid
) returns bytea
language sql immutable as $$
    select sha256(prev || convert_to(
        id::text || '|' || (extract(epoch from at) * 1000000)::bigint::text || '|' ||
        length(subject)::text || ':' || subject || '|' ||
        length(roles)::text || ':' || roles || '|' ||
        length(action)::text || ':' || action || '|' ||
        coalesce(record_id::text, '-'), 'UTF8'))
$$;

-- Appends one row per record shown (one row without a record when none was), in the
-- caller's transaction; the head row's lock orders concurrent appenders until commit.
create function cep_access_log_append(
    p_at timestamptz, p_subject text, p_roles text, p_action text, p_records uuid[]
) returns void
language plpgsql as $$
declare
    next_id   bigint;
    next_hash bytea;
    digest    bytea;
    rec       uuid;
begin
    select last_id, last_hash into next_id, next_hash from cep_access_log_head for update;
    if coalesce(cardinality(p_records), 0) = 0 then
        p_records := array[null::uuid];
    end if;
    foreach rec in array p_records loop
        next_id := next_id + 1;
        digest := cep_access_log_digest(next_hash, next_id, p_at, p_subject, p_roles, p_action, rec);
        insert into cep_access_log (id, at, subject, roles, action, record_id, prev_hash, hash)
        values (next_id, p_at, p_subject, p_roles, p_action, rec, next_hash, digest);
        next_hash := digest;
    end loop;
    update cep_access_log_head set last_id = next_id, last_hash = next_hash;
end;
$$;
