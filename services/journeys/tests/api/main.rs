//! The journeys service against a real PostgreSQL database and a real nats-server:
//! every test spawns the application on a fresh database.

mod details;
mod engage;
mod helpers;
mod numbering;
mod purchase_orders;
mod signatures;
mod sweep;
mod with_beneficiaries;
