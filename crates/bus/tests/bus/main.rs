//! Integration tests of cep-bus against a real PostgreSQL (`CEP_TEST_DATABASE_URL`)
//! and real nats-server processes.

mod consumer;
mod helpers;
mod inbox;
mod migrations;
mod outbox;
mod poison;
mod relay;
mod tracing_context;
mod versions;
