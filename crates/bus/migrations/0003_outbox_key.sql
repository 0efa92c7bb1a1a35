-- The record an event is about (e.g. a beneficiary id), so that an erasure can
-- discard the facts about that record still waiting to be published.
alter table outbox add column key text null;
create index outbox_unsent_key on outbox (key) where published_at is null and key is not null;
