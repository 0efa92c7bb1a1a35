//! The exchange service against real PostgreSQL and nats-server (and a real vsftpd
//! for the delivery).

mod delivery;
mod files;
mod helpers;
mod indicators;
