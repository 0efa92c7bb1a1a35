//! The automatic closure of a unit at its deadline (CCTP 1.2.6: "automatiquement à la
//! fin du délai … si la personne n'a plus sollicité le conseil et qu'elle n'a signé
//! aucun livrable"). A unit past its deadline, with no signed deliverable, whose person
//! asked for no interaction in the last `abandonment.inactivity_days` days, is closed
//! as `ABANDON`, not billable. One whose person is still asking stays open (overdue
//! and active) and is judged again at each sweep.
//!
//! Exactly once: the units are claimed with `FOR UPDATE SKIP LOCKED` and closed in the
//! claiming transaction, so two replicas never close the same unit, and a unit closed
//! is no longer open. After downtime, the next sweep catches up: the closure is dated
//! the day the rule first held (the deadline, or the end of the inactivity after the
//! last request), not the day of the sweep.

use std::time::Duration;

use cep_domain::Lot;
use cep_domain::reference::codes;
use chrono::Days;

use crate::model::Closure;
use crate::usecases::Cases;
use crate::{events, store};

const BATCH: i64 = 500;

/// Closes every abandoned unit of the operator's lots; returns how many.
///
/// # Errors
///
/// The database or the outbox failing (the units of the failed batch stay open).
pub async fn sweep(cases: &Cases) -> Result<u64, store::StoreError> {
    let mut closed = 0u64;
    let mut failure = None;
    // one lot failing (a row that does not read back, say) does not stop the others
    for lot in cases.operator.lots.iter().filter_map(|n| Lot::new(*n).ok()) {
        match sweep_lot(cases, lot).await {
            Ok(n) => closed += n,
            Err(e) => {
                tracing::warn!(lot = lot.number(), error = %e, "abandonment sweep of a lot failed");
                failure = Some(e);
            }
        }
    }
    if closed > 0 {
        tracing::info!(closed, "units closed as abandoned");
    }
    match failure {
        Some(e) if closed == 0 => Err(e),
        _ => Ok(closed),
    }
}

async fn sweep_lot(cases: &Cases, lot: Lot) -> Result<u64, store::StoreError> {
    let inactivity = Days::new(u64::from(cases.abandonment.inactivity_days));
    let mut closed = 0u64;
    let now = cases.clock.now();
    let today = lot.today(now);
    let Some(inactive_since) = today.checked_sub_days(inactivity) else {
        return Ok(0);
    };
    loop {
        let mut tx = cases.pool.begin().await?;
        let units = store::lock_abandoned(&mut tx, lot, today, inactive_since, BATCH).await?;
        if units.is_empty() {
            tx.commit().await?;
            break;
        }
        for current in &units {
            let Some(deadline) = current.deadline else {
                continue;
            };
            let quiet_from = current
                .last_requested_interaction
                .and_then(|d| d.checked_add_days(inactivity));
            let date = quiet_from.map_or(deadline, |q| q.max(deadline)).min(today);
            let mut next = current.clone();
            next.closure = Some(Closure {
                date,
                reason: codes::ABANDON.to_owned(),
                billable: cases.billing.abandonments,
                written_trace_reference: None,
                project_state: None,
                description: None,
                sealed: Default::default(),
            });
            next.version += 1;
            next.updated_at = now;
            if store::update_unit(&mut tx, &next, current.version).await? {
                if let Some(event) = events::closed(&next, now) {
                    cep_bus::enqueue(&mut tx, event).await?;
                }
                closed += 1;
            }
        }
        tx.commit().await?;
        if units.len() < usize::try_from(BATCH).unwrap_or(usize::MAX) {
            break;
        }
    }
    Ok(closed)
}

/// Sweeps every `abandonment.sweep_interval_seconds` until `stop` resolves.
pub async fn run(cases: Cases, stop: cep_runtime::Stop) {
    let interval = Duration::from_secs(cases.abandonment.sweep_interval_seconds);
    tokio::pin!(stop);
    loop {
        if let Err(e) = sweep(&cases).await {
            tracing::warn!(error = %e, "abandonment sweep failed, retrying at the next one");
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = &mut stop => return,
        }
    }
}
