-- Inbox of cep-bus: a consumer records each message id it applied in the same
-- transaction as the effect, so a redelivered message is acknowledged and skipped.
create table inbox (
    consumer    text        not null,
    message_id  text        not null,
    received_at timestamptz not null default now(),
    primary key (consumer, message_id)
);
