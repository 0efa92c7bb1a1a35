-- The newest version of each record a consumer has applied, so that an event older
-- than what the consumer holds (a redelivery, a replayed parked row, rows of one
-- record relayed out of order) is skipped rather than applied over newer state.
create table applied_versions (
    consumer   text        not null,
    key        text        not null,
    version    bigint      not null,
    applied_at timestamptz not null default now(),
    primary key (consumer, key)
);
