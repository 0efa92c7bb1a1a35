//! The delivery of the daily files to France compétences' FTPS server: each file
//! uploaded under a temporary name then renamed (`cep-ftps`), retried with a doubling
//! pause while the failure may pass, every attempt written to the transfer journal,
//! the manifest last; a day counts as delivered once all its files are. A catch-up
//! delivers every day since the last one delivered, in order, and stops at the first
//! day that fails (the next call resumes there).
//!
//! One delivery per lot at a time (a PostgreSQL advisory lock), across replicas: two
//! uploads of the same file would share its temporary name.

use std::time::Duration;

use cep_domain::Lot;
use cep_runtime::{ApiError, OnBehalf};
use chrono::NaiveDate;
use sqlx::Acquire;
use uuid::Uuid;

use crate::daily::Written;
use crate::files::Format;
use crate::store::{self, TransferRow};
use crate::usecases::Cases;

pub mod rules {
    /// Another delivery of the lot is under way.
    pub const DELIVERY_UNDER_WAY: &str = "DELIVERY_UNDER_WAY";
}

/// A day delivered whole.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub day: NaiveDate,
    pub remote_directory: String,
    pub files: Vec<Written>,
}

/// The advisory-lock key of a lot's deliveries.
fn lock_key(lot: Lot) -> i64 {
    0x4345_5045_0000 + i64::from(lot.number())
}

fn remote_directory(root: &str, relative: &str) -> String {
    if root.is_empty() {
        relative.to_owned()
    } else {
        format!("{root}/{relative}")
    }
}

impl Cases {
    /// The days to deliver: `day` alone, or every day after the last one delivered
    /// (else from `delivery.first_day`, else yesterday) up to yesterday.
    async fn days_to_deliver(
        &self,
        lot: Lot,
        day: Option<NaiveDate>,
    ) -> Result<Vec<NaiveDate>, ApiError> {
        if let Some(day) = day {
            return Ok(vec![day]);
        }
        let today = lot.today(self.clock.now());
        let Some(yesterday) = today.pred_opt() else {
            return Ok(Vec::new());
        };
        let first = match store::last_delivered(&self.pool, lot).await? {
            Some(last) => last.succ_opt().unwrap_or(today),
            None => {
                NaiveDate::parse_from_str(&self.delivery.first_day, "%Y-%m-%d").unwrap_or(yesterday)
            }
        };
        Ok(first.iter_days().take_while(|d| *d <= yesterday).collect())
    }

    pub async fn deliver_daily(
        &self,
        caller: &cep_kit::auth::Caller,
        on_behalf: &OnBehalf,
        lot_n: i32,
        day: &str,
        format_code: &str,
    ) -> Result<(Lot, Vec<Delivered>), ApiError> {
        caller.require_any_role(&[cep_kit::auth::Role::Si])?;
        let lot = crate::usecases::lot(caller, lot_n)?;
        let format = crate::usecases::format(format_code)?;
        let day = if day.is_empty() {
            None
        } else {
            Some(self.past_day(lot, day)?)
        };
        let Some(target) = self.ftps.clone().filter(|_| self.delivery.enabled) else {
            return Err(ApiError::precondition(
                crate::usecases::rules::DELIVERY_NOT_CONFIGURED,
                "no FTPS server is configured (delivery.enabled and [ftps])",
            ));
        };
        let mut lock = self.pool.acquire().await?;
        let locked: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
            .bind(lock_key(lot))
            .fetch_one(lock.acquire().await?)
            .await?;
        if !locked {
            return Err(ApiError::precondition(
                rules::DELIVERY_UNDER_WAY,
                "another delivery of this lot is under way; try again when it ends",
            ));
        }
        let outcome = async {
            let mut delivered = Vec::new();
            for day in self.days_to_deliver(lot, day).await? {
                delivered.push(
                    self.deliver_day(&target, on_behalf, lot, day, format)
                        .await?,
                );
            }
            Ok(delivered)
        }
        .await;
        let _ = sqlx::query("select pg_advisory_unlock($1)")
            .bind(lock_key(lot))
            .execute(&mut *lock)
            .await;
        outcome.map(|d| (lot, d))
    }

    async fn deliver_day(
        &self,
        target: &cep_ftps::FtpsTarget,
        on_behalf: &OnBehalf,
        lot: Lot,
        day: NaiveDate,
        format: Format,
    ) -> Result<Delivered, ApiError> {
        let export = self.build_and_record(on_behalf, lot, day, format).await?;
        let remote = remote_directory(&self.delivery.remote_root, &export.relative);
        for file in &export.files {
            self.upload(target, lot, day, &export.directory, &remote, file)
                .await?;
        }
        store::put_delivery(&self.pool, lot, day, &remote, self.clock.now()).await?;
        tracing::info!(lot = lot.number(), %day, files = export.files.len(), "day delivered");
        Ok(Delivered {
            day,
            remote_directory: remote,
            files: export.files,
        })
    }

    /// Uploads one file, retrying while the failure may pass; every attempt journaled.
    async fn upload(
        &self,
        target: &cep_ftps::FtpsTarget,
        lot: Lot,
        day: NaiveDate,
        directory: &std::path::Path,
        remote: &str,
        file: &Written,
    ) -> Result<(), ApiError> {
        let attempts = self.delivery.attempts.max(1);
        let mut pause = Duration::from_millis(self.delivery.backoff_ms);
        for attempt in 1..=attempts {
            let started_at = self.clock.now();
            let local = tokio::fs::File::open(directory.join(&file.name))
                .await
                .map_err(|e| ApiError::Unavailable(format!("{} cannot be read: {e}", file.name)))?;
            let result = cep_ftps::upload(target, remote, &file.name, local).await;
            let mut row = TransferRow {
                transfer_id: Uuid::now_v7(),
                lot: i16::from(lot.number()),
                day,
                file: file.name.clone(),
                remote_path: format!("{remote}/{}", file.name),
                attempt: i32::try_from(attempt).unwrap_or(i32::MAX),
                started_at,
                finished_at: self.clock.now(),
                bytes: 0,
                sha256: String::new(),
                outcome: "DELIVERED".into(),
                detail: String::new(),
            };
            match result {
                Ok(receipt) if receipt.sha256.eq_ignore_ascii_case(&file.sha256) => {
                    row.bytes = i64::try_from(receipt.bytes).unwrap_or(i64::MAX);
                    row.sha256 = receipt.sha256;
                    row.detail = receipt.server_reply;
                    store::put_transfer(&self.pool, &row).await?;
                    return Ok(());
                }
                Ok(receipt) => {
                    // the file changed on disk between the build and the upload
                    row.outcome = "FAILED".into();
                    row.bytes = i64::try_from(receipt.bytes).unwrap_or(i64::MAX);
                    row.sha256 = receipt.sha256;
                    row.detail = "the bytes sent are not the built file's".into();
                    store::put_transfer(&self.pool, &row).await?;
                    return Err(ApiError::internal(format!(
                        "{} changed during its delivery",
                        file.name
                    )));
                }
                Err(e) => {
                    row.outcome = "FAILED".into();
                    row.sha256 = file.sha256.clone();
                    row.detail = e.to_string();
                    store::put_transfer(&self.pool, &row).await?;
                    tracing::warn!(file = %file.name, attempt, error = %e, "upload failed");
                    if !e.is_transient() {
                        return Err(ApiError::Unavailable(format!(
                            "France compétences' server refused {}: {e}",
                            file.name
                        )));
                    }
                    if attempt == attempts {
                        return Err(ApiError::Unavailable(format!(
                            "{} could not be delivered after {attempts} attempts: {e}",
                            file.name
                        )));
                    }
                }
            }
            tokio::time::sleep(pause).await;
            pause = pause.saturating_mul(2);
        }
        Ok(())
    }

    pub async fn list_transfers(
        &self,
        caller: &cep_kit::auth::Caller,
        lot_n: i32,
        day: &str,
        page_size: i32,
    ) -> Result<Vec<TransferRow>, ApiError> {
        use cep_kit::auth::Role;
        caller.require_any_role(&[
            Role::Si,
            Role::Director,
            Role::Manager,
            Role::Auditor,
            Role::Sre,
        ])?;
        let lot = crate::usecases::lot(caller, lot_n)?;
        let mut v = cep_runtime::Violations::default();
        let day = if day.is_empty() {
            None
        } else {
            cep_runtime::request::date(&mut v, "day", day)
        };
        if !(0..=500).contains(&page_size) {
            v.add("page_size", "must be from 1 to 500 (0 means 100)");
        }
        v.into_result()?;
        let limit = if page_size == 0 {
            100
        } else {
            i64::from(page_size)
        };
        Ok(store::transfers(&self.pool, lot, day, limit).await?)
    }
}
