//! The watch over the deadlines: every replica, every `deadlines.sweep_interval_seconds`,
//! records the breaches no one has recorded yet and alerts each once
//! (`cep.claims.overdue`, in the transaction of its row: rows are claimed with
//! `FOR UPDATE SKIP LOCKED`, so two replicas never alert the same breach, and a
//! breach that happened while the service was down is alerted at the first sweep).

use std::time::Duration;

use crate::usecases::Cases;

pub async fn run(cases: Cases, interval: Duration, stop: cep_runtime::Stop) {
    tokio::pin!(stop);
    loop {
        match cases.sweep().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(claims = n, "claims overdue alerted"),
            Err(e) => {
                tracing::warn!(error = %e, "the deadline sweep failed, retrying at the next one")
            }
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = &mut stop => return,
        }
    }
}
