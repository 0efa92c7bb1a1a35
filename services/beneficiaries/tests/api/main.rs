//! The beneficiaries service against a real PostgreSQL database and a real
//! nats-server: every test spawns the application on a fresh database.

mod authz;
mod canonical;
mod erasure;
mod events;
mod helpers;
mod journey_facts;
mod metrics;
mod nir;
mod privacy;
mod reference;
mod register;
mod rotation;
mod rules;
mod scope;
mod tokens;
mod update;
mod upgrade;
