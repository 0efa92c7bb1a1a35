//! Integration tests of cep-bus against a real PostgreSQL (`CEP_TEST_DATABASE_URL`)
//! and real nats-server processes.

mod consumer;
mod helpers;
mod migrations;
mod outbox;
mod relay;
mod tracing_context;
