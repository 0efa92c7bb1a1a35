-- The requests a client identified (request_id): a retry returns the first answer.
CREATE TABLE requests (
    subject    text NOT NULL,
    request_id uuid NOT NULL,
    kind       text NOT NULL,
    entity_id  uuid NOT NULL,
    at         timestamptz NOT NULL,
    PRIMARY KEY (subject, request_id)
);
