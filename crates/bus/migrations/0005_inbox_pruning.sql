-- Consumers prune their inbox rows once the message can no longer be redelivered
-- (older than the stream's max age).
create index inbox_received on inbox (consumer, received_at);
