create table notes (
    id         uuid primary key,
    lot        smallint not null check (lot between 1 and 19),
    text       text not null,
    created_at timestamptz not null
);
