//! What each call does: roles and the lot first, then the work. Refusals by a rule
//! carry a stable rule code ([`rules`]).

use std::sync::Arc;

use cep_domain::{Lot, ReferenceTables, SharedClock};
use cep_kit::auth::{Caller, Role};
use cep_runtime::{ApiError, BusHandle, OnBehalf, Violations};
use chrono::NaiveDate;
use sqlx::PgPool;
use tokio::sync::mpsc;

use crate::daily::{self, Export, Peers};
use crate::files::Format;
use crate::indicators;
use crate::rebuild;
use crate::settings::{DeliverySettings, ExportSettings};
use crate::store::{self, DailyRecord};

pub mod rules {
    /// A day's files are built once the day is over in the lot's time zone.
    pub const DAY_NOT_OVER: &str = "DAY_NOT_OVER";
    /// No FTPS server is configured for the delivery.
    pub const DELIVERY_NOT_CONFIGURED: &str = "DELIVERY_NOT_CONFIGURED";
    /// The bus is not reached yet: the streams cannot be replayed.
    pub const BUS_NOT_READY: &str = "BUS_NOT_READY";
}

/// Who may build and deliver the files: they carry the persons' identity and NIR.
const BUILDERS: [Role; 1] = [Role::Si];
/// Who may read the figures and the journal.
const READERS: [Role; 5] = [
    Role::Manager,
    Role::Director,
    Role::Si,
    Role::Auditor,
    Role::Sre,
];

#[derive(Debug, Clone)]
pub struct Cases {
    pub pool: PgPool,
    pub clock: SharedClock,
    pub tables: Arc<ReferenceTables>,
    pub export: Arc<ExportSettings>,
    pub delivery: Arc<DeliverySettings>,
    pub peers: Peers,
    pub bus: BusHandle,
    /// France compétences' server, when one is configured.
    pub ftps: Option<Arc<cep_ftps::FtpsTarget>>,
}

/// Lot `n`, refused unless it is one of the caller's.
pub(crate) fn lot(caller: &Caller, n: i32) -> Result<Lot, ApiError> {
    let lot =
        Lot::new(i64::from(n)).map_err(|_| ApiError::invalid("lot", "must be from 1 to 19"))?;
    caller.check_lot(lot)?;
    Ok(lot)
}

pub(crate) fn format(code: &str) -> Result<Format, ApiError> {
    Format::parse(code).ok_or_else(|| ApiError::invalid("format", "must be CSV or XML"))
}

/// The first day of a month written `YYYY-MM`.
fn month_start(month: &str) -> Result<NaiveDate, ApiError> {
    month
        .split_once('-')
        .filter(|(y, m)| y.len() == 4 && m.len() == 2)
        .and_then(|(y, m)| indicators::month_bounds(y.parse().ok()?, m.parse().ok()?))
        .map(|(start, _)| start)
        .ok_or_else(|| ApiError::invalid("month", "must be a month YYYY-MM"))
}

impl Cases {
    /// `day` parsed and over in the lot's time zone.
    pub(crate) fn past_day(&self, lot: Lot, day: &str) -> Result<NaiveDate, ApiError> {
        let mut v = Violations::default();
        let day = cep_runtime::request::date(&mut v, "day", day);
        v.into_result()?;
        let day = day.ok_or_else(|| ApiError::invalid("day", "must be a date YYYY-MM-DD"))?;
        let today = lot.today(self.clock.now());
        if day >= today {
            return Err(ApiError::precondition(
                rules::DAY_NOT_OVER,
                format!(
                    "the files of {day} are built once the day is over in the lot (today is {today})"
                ),
            ));
        }
        Ok(day)
    }

    pub async fn build_daily(
        &self,
        caller: &Caller,
        on_behalf: &OnBehalf,
        lot_n: i32,
        day: &str,
        format_code: &str,
    ) -> Result<(Lot, NaiveDate, Format, Export), ApiError> {
        caller.require_any_role(&BUILDERS)?;
        let lot = lot(caller, lot_n)?;
        let format = format(format_code)?;
        let day = self.past_day(lot, day)?;
        let export = self.build_and_record(on_behalf, lot, day, format).await?;
        tracing::info!(lot = lot.number(), %day, files = export.files.len(), "daily files built");
        Ok((lot, day, format, export))
    }

    /// Builds a day's files and records what was built.
    pub(crate) async fn build_and_record(
        &self,
        on_behalf: &OnBehalf,
        lot: Lot,
        day: NaiveDate,
        format: Format,
    ) -> Result<Export, ApiError> {
        let export = daily::build(
            &self.pool,
            &self.export,
            &self.peers,
            on_behalf,
            lot,
            day,
            format,
        )
        .await?;
        store::put_export(
            &self.pool,
            lot,
            day,
            format.code(),
            &export,
            self.clock.now(),
        )
        .await?;
        Ok(export)
    }

    pub async fn compute_indicators(
        &self,
        caller: &Caller,
        lot_n: i32,
        month: &str,
    ) -> Result<(Lot, Vec<indicators::Value>), ApiError> {
        caller.require_any_role(&READERS)?;
        let lot = lot(caller, lot_n)?;
        let start = month
            .split_once('-')
            .filter(|(y, m)| y.len() == 4 && m.len() == 2)
            .and_then(|(y, m)| indicators::month_bounds(y.parse().ok()?, m.parse().ok()?))
            .map(|(start, _)| start)
            .ok_or_else(|| ApiError::invalid("month", "must be a month YYYY-MM"))?;
        Ok((
            lot,
            indicators::compute(&self.pool, &self.tables, lot, start).await?,
        ))
    }

    pub async fn set_population(
        &self,
        caller: &Caller,
        lot_n: i32,
        year: i32,
        active: i64,
        cep: i64,
    ) -> Result<Lot, ApiError> {
        caller.require_any_role(&[Role::Director, Role::Si])?;
        let lot = lot(caller, lot_n)?;
        let mut v = Violations::default();
        if !(2000..=2100).contains(&year) {
            v.add("year", "must be from 2000 to 2100");
        }
        if active <= 0 {
            v.add("active_population", "must be above 0");
        }
        if cep <= 0 {
            v.add("cep_population", "must be above 0");
        }
        if cep > active {
            v.add("cep_population", "cannot exceed the active population");
        }
        v.into_result()?;
        store::put_population(&self.pool, lot, year, active, cep).await?;
        Ok(lot)
    }

    pub async fn set_means(
        &self,
        caller: &Caller,
        lot_n: i32,
        year: i32,
        half: i32,
        fte: Vec<(String, f64)>,
    ) -> Result<Lot, ApiError> {
        caller.require_any_role(&[Role::Director, Role::Si])?;
        let lot = lot(caller, lot_n)?;
        let mut v = Violations::default();
        if !(2000..=2100).contains(&year) {
            v.add("year", "must be from 2000 to 2100");
        }
        let half = match half {
            1 => 1_i16,
            2 => 2,
            _ => {
                v.add("half", "must be 1 (January–June) or 2 (July–December)");
                0
            }
        };
        let mut seen = Vec::new();
        for (i, (uo, f)) in fte.iter().enumerate() {
            if !["UO0", "UO1", "UO2.1", "UO2.2"].contains(&uo.as_str()) {
                v.add(&format!("fte[{i}].uo"), "must be UO0, UO1, UO2.1 or UO2.2");
            } else if seen.contains(uo) {
                v.add(&format!("fte[{i}].uo"), "appears twice");
            }
            if !f.is_finite() || *f < 0.0 || *f > 100_000.0 {
                v.add(&format!("fte[{i}].fte"), "must be from 0 to 100000");
            }
            seen.push(uo.clone());
        }
        v.into_result()?;
        store::put_means(&self.pool, lot, year, half, &fte).await?;
        Ok(lot)
    }

    pub async fn import(
        &self,
        caller: &Caller,
        lot_n: i32,
        kind: crate::imports::Kind,
        csv: &str,
    ) -> Result<usize, ApiError> {
        caller.require_any_role(&[Role::Director, Role::Si, Role::Manager])?;
        let lot = lot(caller, lot_n)?;
        let rows = crate::imports::parse(kind, csv)?;
        store::put_imported(&self.pool, lot, kind.code(), &rows, self.clock.now()).await?;
        Ok(rows.len())
    }

    pub async fn quarterly(
        &self,
        caller: &Caller,
        lot_n: i32,
        year: i32,
        quarter: i32,
    ) -> Result<(Lot, crate::quarterly::Quarter), ApiError> {
        caller.require_any_role(&READERS)?;
        let lot = lot(caller, lot_n)?;
        let mut v = Violations::default();
        if !(2000..=2100).contains(&year) {
            v.add("year", "must be from 2000 to 2100");
        }
        let bounds = crate::quarterly::bounds(year, quarter);
        if bounds.is_none() {
            v.add("quarter", "must be from 1 to 4");
        }
        v.into_result()?;
        let Some((start, end)) = bounds else {
            return Err(ApiError::invalid("quarter", "must be from 1 to 4"));
        };
        Ok((
            lot,
            crate::quarterly::compute(&self.pool, lot, start, end).await?,
        ))
    }

    pub async fn render_report(
        &self,
        caller: &Caller,
        lot_n: i32,
        month: &str,
    ) -> Result<String, ApiError> {
        caller.require_any_role(&READERS)?;
        let lot = lot(caller, lot_n)?;
        let start = month_start(month)?;
        Ok(crate::report::render(&self.pool, &self.tables, lot, start).await?)
    }

    pub async fn changes_since(
        &self,
        caller: &Caller,
        lot_n: i32,
        cursor: &str,
        page_size: i32,
    ) -> Result<(Vec<DailyRecord>, String), ApiError> {
        caller.require_any_role(&[Role::Si, Role::Director, Role::Auditor])?;
        let lot = lot(caller, lot_n)?;
        let mut v = Violations::default();
        let after: i64 = if cursor.is_empty() {
            0
        } else {
            cursor.parse().unwrap_or_else(|_| {
                v.add("cursor", "must be the next_cursor of a previous page");
                0
            })
        };
        if !(0..=1000).contains(&page_size) {
            v.add("page_size", "must be from 1 to 1000 (0 means 200)");
        }
        v.into_result()?;
        let limit = if page_size == 0 {
            200
        } else {
            i64::from(page_size)
        };
        let records = store::changes_since(&self.pool, lot, after, limit).await?;
        let next = records.last().map_or(after, |r| r.seq);
        Ok((records, next.to_string()))
    }

    /// Starts a rebuild; its progress arrives on the receiver, which closes after the
    /// last step (an error is sent as the last item).
    pub fn rebuild(
        &self,
        caller: &Caller,
    ) -> Result<mpsc::Receiver<Result<rebuild::Progress, ApiError>>, ApiError> {
        caller.require_any_role(&[Role::Si])?;
        let js = self.bus.get().ok_or_else(|| {
            ApiError::precondition(
                rules::BUS_NOT_READY,
                "the service has not reached NATS yet; try again shortly",
            )
        })?;
        let (tx, rx) = mpsc::channel(16);
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let outcome = rebuild::run(&pool, &js, &tx).await;
            match outcome {
                Ok((applied, skipped)) => {
                    tracing::info!(applied, skipped, "read model rebuilt");
                }
                Err(e) => {
                    tracing::error!(error = %e, "rebuild failed; the read model is unchanged");
                    let _ = tx
                        .send(Err(ApiError::Unavailable(format!("rebuild failed: {e}"))))
                        .await;
                }
            }
        });
        Ok(rx)
    }
}
