-- Transactional outbox of cep-bus: a service writes its events here in the same
-- transaction as the state change; the relay publishes them to JetStream and marks
-- them sent. Versions 1..=99 are reserved for cep-bus.
create table outbox (
    -- UUID v7 (time ordered); also the Nats-Msg-Id, so JetStream drops a republished row
    id           uuid primary key,
    subject      text        not null check (subject <> ''),
    ce_type      text        not null check (ce_type <> ''),
    lot          smallint    null check (lot between 0 and 255),
    payload      bytea       not null,
    -- W3C traceparent of the request that wrote the row, when it was traced
    traceparent  text        null,
    created_at   timestamptz not null default now(),
    published_at timestamptz null,
    -- publish attempts (the successful one included) and the last failure, for operators
    attempts     integer     not null default 0,
    last_error   text        null
);

-- The relay only ever reads unsent rows, oldest first.
create index outbox_unsent on outbox (created_at, id) where published_at is null;

-- Wakes the relay (LISTEN cep_bus_outbox) when the inserting transaction commits;
-- a rolled-back transaction notifies nobody.
create function cep_bus_outbox_notify() returns trigger
language plpgsql as $$
begin
    perform pg_notify('cep_bus_outbox', '');
    return null;
end;
$$;

create trigger outbox_notify
    after insert on outbox
    for each statement execute function cep_bus_outbox_notify();
