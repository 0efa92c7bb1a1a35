//! The SQL of the journeys service. Every function takes the caller's connection
//! (or transaction), so a change, its outbox event and its numbers commit together.

use cep_domain::{BeneficiaryId, Lot, OrderedUo, Uo};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::model::{
    Appointment, Closure, ComplementaryService, Interaction, Line, OperatorDelivery, Person,
    PurchaseOrder, StatementLine, Unit, WorkDiscovery,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored row {0} is inconsistent: {1}")]
    Corrupt(Uuid, String),
    #[error("outbox: {0}")]
    Outbox(#[from] cep_bus::BusError),
    #[error("another unit of this person is open: close it first")]
    OneOpen,
    #[error("this UO2.1 already opened a UO2.2")]
    AlreadyFollowed,
    #[error("this request_id was already used by another kind of request")]
    RequestReused,
}

impl From<StoreError> for cep_runtime::ApiError {
    fn from(e: StoreError) -> Self {
        use crate::usecases::rules;
        match e {
            StoreError::Database(e) => e.into(),
            StoreError::OneOpen => {
                cep_runtime::ApiError::precondition(rules::ONE_OPEN_UO, e.to_string())
            }
            StoreError::AlreadyFollowed => {
                cep_runtime::ApiError::precondition(rules::UO2_1_ALREADY_FOLLOWED, e.to_string())
            }
            StoreError::RequestReused => {
                cep_runtime::ApiError::invalid("request_id", e.to_string())
            }
            e => cep_runtime::ApiError::internal(e),
        }
    }
}

fn lot(id: Uuid, n: i16) -> Result<Lot, StoreError> {
    Lot::new(i64::from(n)).map_err(|e| StoreError::Corrupt(id, e.to_string()))
}

fn optional_lot(id: Uuid, n: Option<i16>) -> Result<Option<Lot>, StoreError> {
    n.map(|n| lot(id, n)).transpose()
}

// ---- people ----------------------------------------------------------------------

#[derive(sqlx::FromRow)]
struct PersonRow {
    beneficiary_id: Uuid,
    lot: i16,
    structure_id: String,
    employment_status: Option<String>,
    other_cep_operator: Option<String>,
    home_lot: Option<i16>,
    work_lot: Option<i16>,
    lot_exception: bool,
    has_nir: bool,
    erased: bool,
    version: i64,
}

/// Writes what is known of a person (the caller checked the version is newer).
pub async fn put_person(conn: &mut PgConnection, p: &Person) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO people (beneficiary_id, lot, structure_id, employment_status, \
         other_cep_operator, home_lot, work_lot, lot_exception, has_nir, erased, version) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) \
         ON CONFLICT (beneficiary_id) DO UPDATE SET lot = $2, structure_id = $3, \
         employment_status = $4, other_cep_operator = $5, home_lot = $6, work_lot = $7, \
         lot_exception = $8, has_nir = $9, erased = $10, version = $11",
    )
    .bind(p.id.as_uuid())
    .bind(i16::from(p.lot.number()))
    .bind(&p.structure_id)
    .bind(&p.employment_status)
    .bind(&p.other_cep_operator)
    .bind(p.home_lot.map(|l| i16::from(l.number())))
    .bind(p.work_lot.map(|l| i16::from(l.number())))
    .bind(p.lot_exception)
    .bind(p.has_nir)
    .bind(p.erased)
    .bind(p.version)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get_person(
    conn: &mut PgConnection,
    id: BeneficiaryId,
) -> Result<Option<Person>, StoreError> {
    let row: Option<PersonRow> = sqlx::query_as(
        "SELECT beneficiary_id, lot, structure_id, employment_status, other_cep_operator, \
         home_lot, work_lot, lot_exception, has_nir, erased, version FROM people \
         WHERE beneficiary_id = $1",
    )
    .bind(id.as_uuid())
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        let id = r.beneficiary_id;
        Ok(Person {
            id: BeneficiaryId::from(id),
            lot: lot(id, r.lot)?,
            structure_id: r.structure_id,
            employment_status: r.employment_status,
            other_cep_operator: r.other_cep_operator,
            home_lot: optional_lot(id, r.home_lot)?,
            work_lot: optional_lot(id, r.work_lot)?,
            lot_exception: r.lot_exception,
            has_nir: r.has_nir,
            erased: r.erased,
            version: r.version,
        })
    })
    .transpose()
}

// ---- purchase orders -------------------------------------------------------------

/// The next rank `yy` of a line of `uo` in `year` for `lot`, serialised across
/// replicas until the transaction ends.
pub async fn next_line_rank(
    conn: &mut PgConnection,
    lot: Lot,
    year: i32,
    uo: OrderedUo,
) -> Result<i32, StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("po-rank:{}:{year}:{uo}", lot.number()))
        .execute(&mut *conn)
        .await?;
    let rank: i32 = sqlx::query_scalar(
        "SELECT coalesce(max(rank), 0) + 1 FROM purchase_order_lines \
         WHERE lot = $1 AND year = $2 AND uo = $3",
    )
    .bind(i16::from(lot.number()))
    .bind(year)
    .bind(uo.as_str())
    .fetch_one(conn)
    .await?;
    Ok(rank)
}

pub async fn insert_purchase_order(
    conn: &mut PgConnection,
    po: &PurchaseOrder,
    created_by: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO purchase_orders (id, lot, year, reference, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(po.id)
    .bind(i16::from(po.lot.number()))
    .bind(po.year)
    .bind(&po.reference)
    .bind(created_by)
    .bind(po.created_at)
    .execute(&mut *conn)
    .await?;
    for line in &po.lines {
        sqlx::query(
            "INSERT INTO purchase_order_lines (id, purchase_order_id, lot, year, uo, quantity, rank) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(line.id)
        .bind(po.id)
        .bind(i16::from(po.lot.number()))
        .bind(po.year)
        .bind(line.uo.as_str())
        .bind(line.quantity)
        .bind(line.rank)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct PurchaseOrderRow {
    id: Uuid,
    lot: i16,
    year: i32,
    reference: Option<String>,
    created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct LineRow {
    id: Uuid,
    purchase_order_id: Uuid,
    uo: String,
    quantity: i64,
    rank: i32,
    consumed: i64,
    closed: i64,
    billable: i64,
}

async fn with_lines(
    conn: &mut PgConnection,
    orders: Vec<PurchaseOrderRow>,
) -> Result<Vec<PurchaseOrder>, StoreError> {
    let ids: Vec<Uuid> = orders.iter().map(|o| o.id).collect();
    let lines: Vec<LineRow> = sqlx::query_as(
        "SELECT l.id, l.purchase_order_id, l.uo, l.quantity, l.rank, l.consumed, \
         (SELECT count(*) FROM units u WHERE u.line_id = l.id AND NOT u.open) \
           + (SELECT count(*) FROM operator_deliveries d WHERE d.line_id = l.id) AS closed, \
         (SELECT count(*) FROM units u WHERE u.line_id = l.id AND u.billable) \
           + (SELECT count(*) FROM operator_deliveries d WHERE d.line_id = l.id) AS billable \
         FROM purchase_order_lines l \
         WHERE l.purchase_order_id = ANY($1) ORDER BY l.uo, l.rank",
    )
    .bind(&ids)
    .fetch_all(conn)
    .await?;
    orders
        .into_iter()
        .map(|o| {
            let lines = lines
                .iter()
                .filter(|l| l.purchase_order_id == o.id)
                .map(|l| {
                    Ok(Line {
                        id: l.id,
                        uo: OrderedUo::parse(&l.uo)
                            .ok_or_else(|| StoreError::Corrupt(l.id, "unknown UO".into()))?,
                        quantity: l.quantity,
                        rank: l.rank,
                        engaged: l.consumed,
                        closed: l.closed,
                        billable: l.billable,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok(PurchaseOrder {
                id: o.id,
                lot: lot(o.id, o.lot)?,
                year: o.year,
                reference: o.reference,
                lines,
                created_at: o.created_at,
            })
        })
        .collect()
}

pub async fn get_purchase_order(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<PurchaseOrder>, StoreError> {
    let row: Option<PurchaseOrderRow> = sqlx::query_as(
        "SELECT id, lot, year, reference, created_at FROM purchase_orders WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(with_lines(conn, row.into_iter().collect()).await?.pop())
}

/// Purchase orders of `lots` (of `year` unless 0), newest first, after `before`.
pub async fn list_purchase_orders(
    conn: &mut PgConnection,
    lots: &[i16],
    year: Option<i32>,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<PurchaseOrder>, StoreError> {
    let rows: Vec<PurchaseOrderRow> = sqlx::query_as(
        "SELECT id, lot, year, reference, created_at FROM purchase_orders \
         WHERE lot = ANY($1) AND ($2::int IS NULL OR year = $2) AND ($3::uuid IS NULL OR id < $3) \
         ORDER BY id DESC LIMIT $4",
    )
    .bind(lots)
    .bind(year)
    .bind(before)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    with_lines(conn, rows).await
}

/// Takes one unit of the first line (by rank) of `lot`, `year` and `uo` that has
/// capacity left: its id, rank `yy` and the rank `zzzzz` of this consumption. Lines
/// are tried in order, each with a guarded update, so two engagements never take the
/// same last unit and a full line never hides the next one.
pub async fn consume_line(
    conn: &mut PgConnection,
    lot: Lot,
    year: i32,
    uo: OrderedUo,
) -> Result<Option<(Uuid, i32, i64)>, StoreError> {
    let candidates: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM purchase_order_lines WHERE lot = $1 AND year = $2 AND uo = $3 \
         AND consumed < quantity ORDER BY rank",
    )
    .bind(i16::from(lot.number()))
    .bind(year)
    .bind(uo.as_str())
    .fetch_all(&mut *conn)
    .await?;
    for id in candidates {
        let taken: Option<(i32, i64)> = sqlx::query_as(
            "UPDATE purchase_order_lines SET consumed = consumed + 1 \
             WHERE id = $1 AND consumed < quantity RETURNING rank, consumed",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some((rank, consumed)) = taken {
            return Ok(Some((id, rank, consumed)));
        }
    }
    Ok(None)
}

/// The next number of the monthly counter of `operator` and `uo` (1 on the first
/// engagement of the month). The row stays locked until the transaction ends.
pub async fn next_dossier_counter(
    conn: &mut PgConnection,
    operator: &str,
    year: i32,
    month: u32,
    uo: Uo,
) -> Result<i32, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO dossier_counters (operator, year, month, uo, last) VALUES ($1, $2, $3, $4, 1) \
         ON CONFLICT (operator, year, month, uo) DO UPDATE SET last = dossier_counters.last + 1 \
         RETURNING last",
    )
    .bind(operator)
    .bind(year)
    .bind(i32::try_from(month).unwrap_or(0))
    .bind(uo.as_str())
    .fetch_one(conn)
    .await?)
}

// ---- units -----------------------------------------------------------------------

#[derive(sqlx::FromRow)]
struct UnitRow {
    id: Uuid,
    beneficiary_id: Uuid,
    uo: String,
    lot: i16,
    lot_taken_over: Option<i16>,
    structure_id: String,
    dossier_number: String,
    line_id: Uuid,
    purchase_order_reference: String,
    engagement_date: NaiveDate,
    deadline: Option<NaiveDate>,
    follows: Option<Uuid>,
    closure_date: Option<NaiveDate>,
    closure_reason: Option<String>,
    billable: bool,
    referent: Option<String>,
    status_at_engagement: Option<String>,
    origin: Option<String>,
    request_reason: Option<String>,
    detailed_reason: Option<String>,
    outcome: Option<String>,
    written_trace_sealed: Option<Vec<u8>>,
    project_state: Option<String>,
    description_sealed: Option<Vec<u8>>,
    signed_at: Option<DateTime<Utc>>,
    last_requested_interaction: Option<NaiveDate>,
    cpir_project: bool,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<UnitRow> for Unit {
    type Error = StoreError;
    fn try_from(r: UnitRow) -> Result<Self, StoreError> {
        let uo: Uo =
            r.uo.parse()
                .map_err(|e: cep_domain::UoError| StoreError::Corrupt(r.id, e.to_string()))?;
        let closure = match (r.closure_date, r.closure_reason) {
            (Some(date), Some(reason)) => Some(Closure {
                date,
                reason,
                billable: r.billable,
                written_trace_reference: None,
                project_state: r.project_state,
                description: None,
                sealed: crate::model::SealedTexts {
                    written_trace: r.written_trace_sealed,
                    description: r.description_sealed,
                },
            }),
            (None, None) => None,
            _ => {
                return Err(StoreError::Corrupt(
                    r.id,
                    "a closure without its reason".into(),
                ));
            }
        };
        Ok(Unit {
            id: r.id,
            beneficiary_id: BeneficiaryId::from(r.beneficiary_id),
            uo,
            lot: lot(r.id, r.lot)?,
            lot_taken_over: optional_lot(r.id, r.lot_taken_over)?,
            structure_id: r.structure_id,
            dossier_number: r.dossier_number,
            line_id: r.line_id,
            purchase_order_reference: r.purchase_order_reference,
            engagement_date: r.engagement_date,
            deadline: r.deadline,
            follows: r.follows,
            closure,
            referent: r.referent,
            status_at_engagement: r.status_at_engagement,
            origin: r.origin,
            request_reason: r.request_reason,
            detailed_reason: r.detailed_reason,
            outcome: r.outcome,
            signed_at: r.signed_at,
            last_requested_interaction: r.last_requested_interaction,
            cpir_project: r.cpir_project,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

macro_rules! unit_columns {
    () => {
        "SELECT id, beneficiary_id, uo, lot, lot_taken_over, structure_id, dossier_number, line_id, \
         purchase_order_reference, engagement_date, deadline, follows, closure_date, \
         closure_reason, billable, referent, status_at_engagement, origin, request_reason, \
         detailed_reason, outcome, written_trace_sealed, project_state, description_sealed, \
         signed_at, last_requested_interaction, cpir_project, version, created_at, updated_at \
         FROM units "
    };
}

fn units(rows: Vec<UnitRow>) -> Result<Vec<Unit>, StoreError> {
    rows.into_iter().map(Unit::try_from).collect()
}

pub async fn insert_unit(conn: &mut PgConnection, u: &Unit) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO units (id, beneficiary_id, uo, lot, structure_id, dossier_number, line_id, \
         purchase_order_reference, engagement_date, deadline, follows, open, closure_date, \
         closure_reason, billable, referent, status_at_engagement, origin, request_reason, \
         detailed_reason, outcome, version, created_at, updated_at, lot_taken_over, \
         last_requested_interaction, signed_at, cpir_project) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26,$27,$28)",
    )
    .bind(u.id)
    .bind(u.beneficiary_id.as_uuid())
    .bind(u.uo.as_str())
    .bind(i16::from(u.lot.number()))
    .bind(&u.structure_id)
    .bind(&u.dossier_number)
    .bind(u.line_id)
    .bind(&u.purchase_order_reference)
    .bind(u.engagement_date)
    .bind(u.deadline)
    .bind(u.follows)
    .bind(u.is_open())
    .bind(u.closure.as_ref().map(|c| c.date))
    .bind(u.closure.as_ref().map(|c| c.reason.clone()))
    .bind(u.closure.as_ref().is_some_and(|c| c.billable))
    .bind(&u.referent)
    .bind(&u.status_at_engagement)
    .bind(&u.origin)
    .bind(&u.request_reason)
    .bind(&u.detailed_reason)
    .bind(&u.outcome)
    .bind(u.version)
    .bind(u.created_at)
    .bind(u.updated_at)
    .bind(u.lot_taken_over.map(|l| i16::from(l.number())))
    .bind(u.last_requested_interaction)
    .bind(u.signed_at)
    .bind(u.cpir_project)
    .execute(conn)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.constraint() == Some("units_one_open") => StoreError::OneOpen,
        sqlx::Error::Database(d) if d.constraint() == Some("units_one_uo2_2_per_uo2_1") => {
            StoreError::AlreadyFollowed
        }
        _ => StoreError::Database(e),
    })?;
    Ok(())
}

/// Writes the mutable columns of `u` (whose `version` is the new one) over the row at
/// `expected_version`; false when it moved on meanwhile.
pub async fn update_unit(
    conn: &mut PgConnection,
    u: &Unit,
    expected_version: i64,
) -> Result<bool, StoreError> {
    let c = u.closure.as_ref();
    let done = sqlx::query(
        "UPDATE units SET open = $3, closure_date = $4, closure_reason = $5, billable = $6, \
         referent = $7, written_trace_sealed = $8, project_state = $9, description_sealed = $10, \
         signed_at = $11, last_requested_interaction = $12, version = $13, updated_at = $14, \
         cpir_project = $15 WHERE id = $1 AND version = $2",
    )
    .bind(u.id)
    .bind(expected_version)
    .bind(u.is_open())
    .bind(c.map(|c| c.date))
    .bind(c.map(|c| c.reason.clone()))
    .bind(c.is_some_and(|c| c.billable))
    .bind(&u.referent)
    .bind(c.and_then(|c| c.sealed.written_trace.clone()))
    .bind(c.and_then(|c| c.project_state.clone()))
    .bind(c.and_then(|c| c.sealed.description.clone()))
    .bind(u.signed_at)
    .bind(u.last_requested_interaction)
    .bind(u.version)
    .bind(u.updated_at)
    .bind(u.cpir_project)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get_unit(
    conn: &mut PgConnection,
    id: Uuid,
    for_update: bool,
) -> Result<Option<Unit>, StoreError> {
    let row: Option<UnitRow> = if for_update {
        sqlx::query_as(concat!(unit_columns!(), "WHERE id = $1 FOR UPDATE"))
    } else {
        sqlx::query_as(concat!(unit_columns!(), "WHERE id = $1"))
    }
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(Unit::try_from).transpose()
}

/// Every unit of a person, in order of engagement.
pub async fn units_of(
    conn: &mut PgConnection,
    beneficiary: BeneficiaryId,
) -> Result<Vec<Unit>, StoreError> {
    let rows: Vec<UnitRow> = sqlx::query_as(concat!(
        unit_columns!(),
        "WHERE beneficiary_id = $1 ORDER BY engagement_date, created_at, id"
    ))
    .bind(beneficiary.as_uuid())
    .fetch_all(conn)
    .await?;
    units(rows)
}

/// Serialises the engagements of one person across replicas until the transaction ends.
pub async fn lock_person(
    conn: &mut PgConnection,
    beneficiary: BeneficiaryId,
) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("journey:{beneficiary}"))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn insert_interaction(
    conn: &mut PgConnection,
    i: &Interaction,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO interactions (id, uo_id, date, contact_mode, duration_minutes, counsellor, \
         service_types, requested_by_beneficiary, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
    )
    .bind(i.id)
    .bind(i.uo_id)
    .bind(i.date)
    .bind(&i.contact_mode)
    .bind(i.duration_minutes)
    .bind(&i.counsellor)
    .bind(&i.service_types)
    .bind(i.requested_by_beneficiary)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct InteractionRow {
    id: Uuid,
    uo_id: Uuid,
    date: NaiveDate,
    contact_mode: String,
    duration_minutes: i32,
    counsellor: String,
    service_types: Vec<String>,
    requested_by_beneficiary: bool,
}

impl From<InteractionRow> for Interaction {
    fn from(r: InteractionRow) -> Self {
        Interaction {
            id: r.id,
            uo_id: r.uo_id,
            date: r.date,
            contact_mode: r.contact_mode,
            duration_minutes: r.duration_minutes,
            counsellor: r.counsellor,
            service_types: r.service_types,
            requested_by_beneficiary: r.requested_by_beneficiary,
        }
    }
}

/// The interactions of these units, in date order.
pub async fn interactions_of(
    conn: &mut PgConnection,
    units: &[Uuid],
) -> Result<Vec<Interaction>, StoreError> {
    let rows: Vec<InteractionRow> = sqlx::query_as(
        "SELECT id, uo_id, date, contact_mode, duration_minutes, counsellor, service_types, \
         requested_by_beneficiary FROM interactions WHERE uo_id = ANY($1) ORDER BY date, created_at, id",
    )
    .bind(units)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Interaction::from).collect())
}

pub async fn insert_referent_change(
    conn: &mut PgConnection,
    uo: Uuid,
    referent: &str,
    reason_sealed: &[u8],
    changed_by: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO referent_changes (uo_id, referent, reason_sealed, changed_by, at) \
         VALUES ($1,$2,$3,$4,$5)",
    )
    .bind(uo)
    .bind(referent)
    .bind(reason_sealed)
    .bind(changed_by)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Open units of `lots` (and `structures` when not empty) whose deadline is on or
/// before `until`, by deadline, after the cursor `(deadline, id)`.
pub async fn list_due(
    conn: &mut PgConnection,
    lots: &[i16],
    structures: &[String],
    until: NaiveDate,
    after: Option<(NaiveDate, Uuid)>,
    limit: i64,
) -> Result<Vec<Unit>, StoreError> {
    let rows: Vec<UnitRow> = sqlx::query_as(concat!(
        unit_columns!(),
        "WHERE open AND deadline IS NOT NULL AND deadline <= $3 AND lot = ANY($1) \
         AND (cardinality($2::text[]) = 0 OR structure_id = ANY($2)) \
         AND ($4::date IS NULL OR (deadline, id) > ($4, $5)) \
         ORDER BY deadline, id LIMIT $6"
    ))
    .bind(lots)
    .bind(structures)
    .bind(until)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    units(rows)
}

/// Up to `limit` open units of `lot` whose deadline is before `today`, with no
/// signature, and whose person asked for no interaction since `inactive_since`
/// (exclusive): locked, skipping those another sweep or a writer holds.
pub async fn lock_abandoned(
    conn: &mut PgConnection,
    lot: Lot,
    today: NaiveDate,
    inactive_since: NaiveDate,
    limit: i64,
) -> Result<Vec<Unit>, StoreError> {
    let rows: Vec<UnitRow> = sqlx::query_as(concat!(
        unit_columns!(),
        "WHERE open AND lot = $1 AND deadline < $2 AND signed_at IS NULL \
         AND trace_recorded_on IS NULL \
         AND (last_requested_interaction IS NULL OR last_requested_interaction <= $3) \
         ORDER BY deadline, id LIMIT $4 FOR UPDATE SKIP LOCKED"
    ))
    .bind(i16::from(lot.number()))
    .bind(today)
    .bind(inactive_since)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    units(rows)
}

/// Records that the person of UO2.2 `uo` sent their written trace (the first date kept);
/// false when `uo` is no UO2.2 of this service.
pub async fn record_trace(
    conn: &mut PgConnection,
    uo: Uuid,
    received_on: NaiveDate,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE units SET trace_recorded_on = COALESCE(trace_recorded_on, $2) \
         WHERE id = $1 AND uo = 'UO2.2'",
    )
    .bind(uo)
    .bind(received_on)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a signed deliverable once; false when it was already recorded.
pub async fn record_signature(
    conn: &mut PgConnection,
    deliverable: Uuid,
    uo: Uuid,
    signed_at: DateTime<Utc>,
    late: bool,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO signatures (deliverable_id, uo_id, signed_at, late) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (deliverable_id) DO NOTHING",
    )
    .bind(deliverable)
    .bind(uo)
    .bind(signed_at)
    .bind(late)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

// ---- details of a UO2 --------------------------------------------------------------

pub async fn insert_complementary_service(
    conn: &mut PgConnection,
    c: &ComplementaryService,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO complementary_services (id, uo_id, kind, provider, auto_prescription, funding, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(c.id)
    .bind(c.uo_id)
    .bind(&c.kind)
    .bind(&c.provider)
    .bind(c.auto_prescription)
    .bind(&c.funding)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn complementary_services_of(
    conn: &mut PgConnection,
    units: &[Uuid],
) -> Result<Vec<ComplementaryService>, StoreError> {
    let rows: Vec<(Uuid, Uuid, String, String, bool, Option<String>)> = sqlx::query_as(
        "SELECT id, uo_id, kind, provider, auto_prescription, funding FROM complementary_services \
         WHERE uo_id = ANY($1) ORDER BY created_at, id",
    )
    .bind(units)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, uo_id, kind, provider, auto_prescription, funding)| ComplementaryService {
                id,
                uo_id,
                kind,
                provider,
                auto_prescription,
                funding,
            },
        )
        .collect())
}

pub async fn insert_work_discovery(
    conn: &mut PgConnection,
    w: &WorkDiscovery,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO work_discoveries (id, uo_id, kind, date_from, date_to, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(w.id)
    .bind(w.uo_id)
    .bind(&w.kind)
    .bind(w.from)
    .bind(w.to)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn work_discoveries_of(
    conn: &mut PgConnection,
    units: &[Uuid],
) -> Result<Vec<WorkDiscovery>, StoreError> {
    let rows: Vec<(Uuid, Uuid, String, NaiveDate, NaiveDate)> = sqlx::query_as(
        "SELECT id, uo_id, kind, date_from, date_to FROM work_discoveries WHERE uo_id = ANY($1) \
         ORDER BY date_from, id",
    )
    .bind(units)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, uo_id, kind, from, to)| WorkDiscovery {
            id,
            uo_id,
            kind,
            from,
            to,
        })
        .collect())
}

// ---- first appointments ------------------------------------------------------------

pub async fn insert_appointment(
    conn: &mut PgConnection,
    a: &Appointment,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO appointments (id, beneficiary_id, lot, structure_id, requested_on, channel, due, \
         first_exchange_on, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(a.id)
    .bind(a.beneficiary_id.as_uuid())
    .bind(i16::from(a.lot.number()))
    .bind(&a.structure_id)
    .bind(a.requested_on)
    .bind(&a.channel)
    .bind(a.due)
    .bind(a.first_exchange_on)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records an exchange with the person on `on`: it is the first exchange of every
/// request of theirs made on or before that day and still waiting.
pub async fn first_exchange(
    conn: &mut PgConnection,
    beneficiary: BeneficiaryId,
    on: NaiveDate,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE appointments SET first_exchange_on = $2 WHERE beneficiary_id = $1 \
         AND first_exchange_on IS NULL AND requested_on <= $2",
    )
    .bind(beneficiary.as_uuid())
    .bind(on)
    .execute(conn)
    .await?;
    Ok(())
}

/// Requests of `lots` still waiting for their first exchange, due on or before
/// `until`, by due date, after the cursor.
pub async fn appointments_at_risk(
    conn: &mut PgConnection,
    lots: &[i16],
    structures: &[String],
    until: NaiveDate,
    after: Option<(NaiveDate, Uuid)>,
    limit: i64,
) -> Result<Vec<Appointment>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: Uuid,
        beneficiary_id: Uuid,
        lot: i16,
        structure_id: String,
        requested_on: NaiveDate,
        channel: String,
        due: NaiveDate,
        first_exchange_on: Option<NaiveDate>,
    }
    let rows: Vec<Row> =
        sqlx::query_as(
            "SELECT id, beneficiary_id, lot, structure_id, requested_on, channel, due, first_exchange_on \
             FROM appointments WHERE first_exchange_on IS NULL AND lot = ANY($1) AND due <= $2 \
             AND ($3::date IS NULL OR (due, id) > ($3, $4)) \
             AND (cardinality($6::text[]) = 0 OR structure_id = ANY($6)) ORDER BY due, id LIMIT $5",
        )
        .bind(lots)
        .bind(until)
        .bind(after.map(|a| a.0))
        .bind(after.map(|a| a.1))
        .bind(limit)
        .bind(structures)
        .fetch_all(conn)
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Appointment {
                id: r.id,
                beneficiary_id: BeneficiaryId::from(r.beneficiary_id),
                lot: lot(r.id, r.lot)?,
                structure_id: r.structure_id,
                requested_on: r.requested_on,
                channel: r.channel,
                due: r.due,
                first_exchange_on: r.first_exchange_on,
            })
        })
        .collect()
}

// ---- operator-level deliveries and statements ---------------------------------------

pub async fn insert_operator_delivery(
    conn: &mut PgConnection,
    d: &OperatorDelivery,
    created_by: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO operator_deliveries (id, line_id, lot, uo, delivered_on, document_reference, \
         purchase_order_reference, created_by, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
    )
    .bind(d.id)
    .bind(d.line_id)
    .bind(i16::from(d.lot.number()))
    .bind(d.uo.as_str())
    .bind(d.delivered_on)
    .bind(&d.document_reference)
    .bind(&d.purchase_order_reference)
    .bind(created_by)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Per line of the lot's purchase orders of `year`: units closed (and billable) with a
/// closure date in `[from, to]`, operator deliveries in it, consumed and remaining.
pub async fn statement(
    conn: &mut PgConnection,
    lot: Lot,
    year: i32,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<StatementLine>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        purchase_order_id: Uuid,
        id: Uuid,
        uo: String,
        rank: i32,
        closed: i64,
        billable: i64,
        consumed: i64,
        remaining: i64,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT l.purchase_order_id, l.id, l.uo, l.rank, \
         (SELECT count(*) FROM units u WHERE u.line_id = l.id AND u.closure_date BETWEEN $3 AND $4) \
           + (SELECT count(*) FROM operator_deliveries d WHERE d.line_id = l.id AND d.delivered_on BETWEEN $3 AND $4) AS closed, \
         (SELECT count(*) FROM units u WHERE u.line_id = l.id AND u.billable AND u.closure_date BETWEEN $3 AND $4) \
           + (SELECT count(*) FROM operator_deliveries d WHERE d.line_id = l.id AND d.delivered_on BETWEEN $3 AND $4) AS billable, \
         l.consumed, l.quantity - l.consumed AS remaining \
         FROM purchase_order_lines l WHERE l.lot = $1 AND (l.year = $2 \
           OR EXISTS (SELECT 1 FROM units u WHERE u.line_id = l.id AND u.closure_date BETWEEN $3 AND $4) \
           OR EXISTS (SELECT 1 FROM operator_deliveries d WHERE d.line_id = l.id AND d.delivered_on BETWEEN $3 AND $4)) \
         ORDER BY l.year, l.uo, l.rank",
    )
    .bind(i16::from(lot.number()))
    .bind(year)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(StatementLine {
                purchase_order_id: r.purchase_order_id,
                line_id: r.id,
                uo: OrderedUo::parse(&r.uo)
                    .ok_or_else(|| StoreError::Corrupt(r.id, "unknown UO".into()))?,
                rank: r.rank,
                closed: r.closed,
                billable: r.billable,
                consumed: r.consumed,
                remaining: r.remaining,
            })
        })
        .collect()
}

/// Closed UO1 and UO2.1 of `lots` whose person's NIR is not on file, after the cursor.
pub async fn missing_nir(
    conn: &mut PgConnection,
    lots: &[i16],
    structures: &[String],
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Unit>, StoreError> {
    let rows: Vec<UnitRow> = sqlx::query_as(concat!(
        unit_columns!(),
        "WHERE NOT open AND uo IN ('UO1', 'UO2.1') AND lot = ANY($1) \
         AND ($2::uuid IS NULL OR id > $2) \
         AND EXISTS (SELECT 1 FROM people p WHERE p.beneficiary_id = units.beneficiary_id \
                     AND NOT p.has_nir AND NOT p.erased) \
         AND (cardinality($4::text[]) = 0 OR structure_id = ANY($4)) \
         ORDER BY id LIMIT $3"
    ))
    .bind(lots)
    .bind(after)
    .bind(limit)
    .bind(structures)
    .fetch_all(conn)
    .await?;
    units(rows)
}

/// Forgets the free texts journeys holds about a person (a UO2.2's description and
/// written trace reference, the reasons of referent changes), once they are erased.
pub async fn forget_texts(
    conn: &mut PgConnection,
    person: BeneficiaryId,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE units SET description_sealed = NULL, written_trace_sealed = NULL \
         WHERE beneficiary_id = $1 \
         AND (description_sealed IS NOT NULL OR written_trace_sealed IS NOT NULL)",
    )
    .bind(person.as_uuid())
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE referent_changes SET reason_sealed = NULL WHERE uo_id IN \
         (SELECT id FROM units WHERE beneficiary_id = $1)",
    )
    .bind(person.as_uuid())
    .execute(conn)
    .await?;
    Ok(())
}

// ---- requests identified by the client ------------------------------------------------

/// The entity a request already created, if any; the request stays locked (across
/// replicas) until the transaction ends, so a retry arriving meanwhile waits for the
/// first answer.
pub async fn claim_request(
    conn: &mut PgConnection,
    subject: &str,
    request: Uuid,
    kind: &str,
) -> Result<Option<Uuid>, StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("request:{subject}:{request}"))
        .execute(&mut *conn)
        .await?;
    let found: Option<(String, Uuid)> = sqlx::query_as(
        "SELECT kind, entity_id FROM requests WHERE subject = $1 AND request_id = $2",
    )
    .bind(subject)
    .bind(request)
    .fetch_optional(conn)
    .await?;
    match found {
        Some((k, id)) if k == kind => Ok(Some(id)),
        Some(_) => Err(StoreError::RequestReused),
        None => Ok(None),
    }
}

pub async fn record_request(
    conn: &mut PgConnection,
    subject: &str,
    request: Uuid,
    kind: &str,
    entity: Uuid,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO requests (subject, request_id, kind, entity_id, at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(subject)
    .bind(request)
    .bind(kind)
    .bind(entity)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get_interaction(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Interaction>, StoreError> {
    let rows: Vec<InteractionRow> = sqlx::query_as(
        "SELECT id, uo_id, date, contact_mode, duration_minutes, counsellor, service_types, \
         requested_by_beneficiary FROM interactions WHERE id = $1",
    )
    .bind(id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().next().map(Interaction::from))
}
