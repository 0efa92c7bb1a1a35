//! The claims service on the platform's harness.

mod claims;
mod helpers;
