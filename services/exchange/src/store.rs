//! Every SQL statement of the service.

use cep_domain::Lot;
use cep_proto::events;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::records::{Family, Record, flag};

fn s(v: impl ToString) -> Value {
    Value::String(v.to_string())
}

fn d(v: Option<NaiveDate>) -> Value {
    s(v.map(|d| d.to_string()).unwrap_or_default())
}

fn lot_of(n: i16) -> Result<Lot, sqlx::Error> {
    Lot::new(i64::from(n)).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

// ---- the read model, applied from the facts ----

pub async fn person(
    conn: &mut PgConnection,
    id: Uuid,
    p: &events::BeneficiarySnapshot,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into beneficiaries (beneficiary_id, lot, structure_id, operator_ref, \
         employment_status, education_level, naf_section, company_size, social_category, \
         employer_department, has_nir, version) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         on conflict (beneficiary_id) do update set lot = excluded.lot, \
         structure_id = excluded.structure_id, operator_ref = excluded.operator_ref, \
         employment_status = excluded.employment_status, \
         education_level = excluded.education_level, naf_section = excluded.naf_section, \
         company_size = excluded.company_size, social_category = excluded.social_category, \
         employer_department = excluded.employer_department, has_nir = excluded.has_nir, \
         version = excluded.version \
         where beneficiaries.version < excluded.version and not beneficiaries.erased",
    )
    .bind(id)
    .bind(i16::try_from(p.lot).unwrap_or_default())
    .bind(&p.structure_id)
    .bind(&p.operator_ref)
    .bind(&p.employment_status)
    .bind(&p.education_level)
    .bind(&p.naf_section)
    .bind(&p.company_size)
    .bind(&p.social_category)
    .bind(&p.employer_department)
    .bind(p.has_nir)
    .bind(p.version)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn nir_set(conn: &mut PgConnection, id: Uuid, version: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update beneficiaries set has_nir = true, version = $2 \
         where beneficiary_id = $1 and version < $2 and not erased",
    )
    .bind(id)
    .bind(version)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn erased(conn: &mut PgConnection, id: Uuid, version: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update beneficiaries set erased = true, operator_ref = '', version = greatest(version, $2) \
         where beneficiary_id = $1",
    )
    .bind(id)
    .bind(version)
    .execute(conn)
    .await?;
    Ok(())
}

/// A unit's engagement.
#[derive(Debug)]
pub struct Engaged {
    pub uo_id: Uuid,
    pub beneficiary_id: Uuid,
    pub lot: Lot,
    pub engagement_date: Option<NaiveDate>,
    pub deadline: Option<NaiveDate>,
    pub e: events::UoEngaged,
}

/// The engagement's facts never change: written whatever arrived first.
pub async fn engaged(conn: &mut PgConnection, u: &Engaged) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into units (uo_id, beneficiary_id, uo, lot, lot_taken_over, structure_id, \
         dossier_number, purchase_order_reference, engagement_date, deadline, \
         status_at_engagement, origin, request_reason, detailed_reason, version) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         on conflict (uo_id) do update set structure_id = excluded.structure_id, \
         purchase_order_reference = excluded.purchase_order_reference, \
         engagement_date = excluded.engagement_date, deadline = excluded.deadline, \
         status_at_engagement = excluded.status_at_engagement, origin = excluded.origin, \
         request_reason = excluded.request_reason, detailed_reason = excluded.detailed_reason, \
         lot_taken_over = excluded.lot_taken_over, \
         version = greatest(units.version, excluded.version)",
    )
    .bind(u.uo_id)
    .bind(u.beneficiary_id)
    .bind(&u.e.uo)
    .bind(i16::from(u.lot.number()))
    .bind(i16::try_from(u.e.lot_taken_over).unwrap_or_default())
    .bind(&u.e.structure_id)
    .bind(&u.e.dossier_number)
    .bind(&u.e.purchase_order_reference)
    .bind(u.engagement_date)
    .bind(u.deadline)
    .bind(&u.e.employment_status_at_engagement)
    .bind(&u.e.origin)
    .bind(&u.e.request_reason)
    .bind(&u.e.detailed_reason)
    .bind(u.e.version)
    .execute(conn)
    .await?;
    Ok(())
}

/// A unit's closure.
#[derive(Debug)]
pub struct Closed {
    pub uo_id: Uuid,
    pub beneficiary_id: Uuid,
    pub lot: Lot,
    pub closure_date: Option<NaiveDate>,
    pub e: events::UoClosed,
}

/// The newest closure wins (a late signature replaces an abandonment).
pub async fn closed(conn: &mut PgConnection, c: &Closed) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into units (uo_id, beneficiary_id, uo, lot, lot_taken_over, dossier_number, \
         closure_date, closure_reason, billable, project_state, closure_version, version) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
         on conflict (uo_id) do update set closure_date = excluded.closure_date, \
         closure_reason = excluded.closure_reason, billable = excluded.billable, \
         project_state = excluded.project_state, closure_version = excluded.closure_version, \
         version = greatest(units.version, excluded.version) \
         where units.closure_version < excluded.closure_version",
    )
    .bind(c.uo_id)
    .bind(c.beneficiary_id)
    .bind(&c.e.uo)
    .bind(i16::from(c.lot.number()))
    .bind(i16::try_from(c.e.lot_taken_over).unwrap_or_default())
    .bind(&c.e.dossier_number)
    .bind(c.closure_date)
    .bind(&c.e.closure_reason)
    .bind(c.e.billable)
    .bind(&c.e.project_state)
    .bind(c.e.version)
    .execute(conn)
    .await?;
    Ok(())
}

/// An interaction of a unit.
#[derive(Debug)]
pub struct Interaction {
    pub interaction_id: Uuid,
    pub uo_id: Uuid,
    pub beneficiary_id: Uuid,
    pub lot: Lot,
    pub date: NaiveDate,
    pub e: events::InteractionRecorded,
}

pub async fn interaction(conn: &mut PgConnection, i: &Interaction) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into interactions (interaction_id, uo_id, beneficiary_id, lot, date, \
         contact_mode, duration_minutes, service_types, requested) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9) on conflict do nothing",
    )
    .bind(i.interaction_id)
    .bind(i.uo_id)
    .bind(i.beneficiary_id)
    .bind(i16::from(i.lot.number()))
    .bind(i.date)
    .bind(&i.e.contact_mode)
    .bind(i.e.duration_minutes)
    .bind(&i.e.service_types)
    .bind(i.e.requested_by_beneficiary)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn complementary_service(
    conn: &mut PgConnection,
    id: Uuid,
    uo: Uuid,
    lot: Lot,
    recorded_on: NaiveDate,
    e: &events::ComplementaryServiceRecorded,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into complementary_services (complementary_service_id, uo_id, lot, kind, \
         auto_prescription, funding, recorded_on) values ($1, $2, $3, $4, $5, $6, $7) \
         on conflict do nothing",
    )
    .bind(id)
    .bind(uo)
    .bind(i16::from(lot.number()))
    .bind(&e.kind)
    .bind(e.auto_prescription)
    .bind(&e.funding)
    .bind(recorded_on)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn appointment(
    conn: &mut PgConnection,
    id: Uuid,
    beneficiary: Uuid,
    lot: Lot,
    requested_on: NaiveDate,
    channel: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into appointment_requests (appointment_id, beneficiary_id, lot, requested_on, channel) \
         values ($1, $2, $3, $4, $5) on conflict do nothing",
    )
    .bind(id)
    .bind(beneficiary)
    .bind(i16::from(lot.number()))
    .bind(requested_on)
    .bind(channel)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn purchase_order(
    conn: &mut PgConnection,
    id: Uuid,
    lot: Lot,
    e: &events::PurchaseOrderCreated,
    lines: &[(Uuid, &events::PurchaseOrderLineCreated)],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into purchase_orders (purchase_order_id, lot, year, reference) \
         values ($1, $2, $3, $4) on conflict do nothing",
    )
    .bind(id)
    .bind(i16::from(lot.number()))
    .bind(e.year)
    .bind(&e.reference)
    .execute(&mut *conn)
    .await?;
    for (line, l) in lines {
        sqlx::query(
            "insert into purchase_order_lines (line_id, purchase_order_id, uo, quantity, rank) \
             values ($1, $2, $3, $4, $5) on conflict do nothing",
        )
        .bind(line)
        .bind(id)
        .bind(&l.uo)
        .bind(l.quantity)
        .bind(l.rank)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn signed(
    conn: &mut PgConnection,
    deliverable: Uuid,
    uo: Uuid,
    beneficiary: Uuid,
    signed_at: DateTime<Utc>,
    e: &events::DeliverableSigned,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into signed_deliverables (deliverable_id, uo_id, beneficiary_id, kind, \
         signed_at, sha256, mode) values ($1, $2, $3, $4, $5, $6, $7) on conflict do nothing",
    )
    .bind(deliverable)
    .bind(uo)
    .bind(beneficiary)
    .bind(&e.kind)
    .bind(signed_at)
    .bind(&e.document_sha256)
    .bind(&e.mode)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn claim_received(
    conn: &mut PgConnection,
    id: Uuid,
    lot: Lot,
    beneficiary: Option<Uuid>,
    [received, ack_due, answer_due]: [Option<NaiveDate>; 3],
    e: &events::ClaimReceived,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into claims (claim_id, lot, structure_id, beneficiary_id, received_date, \
         channel, reason, acknowledgement_due, answer_due, version) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         on conflict (claim_id) do update set structure_id = excluded.structure_id, \
         beneficiary_id = excluded.beneficiary_id, received_date = excluded.received_date, \
         channel = excluded.channel, reason = excluded.reason, \
         acknowledgement_due = excluded.acknowledgement_due, answer_due = excluded.answer_due, \
         version = greatest(claims.version, excluded.version)",
    )
    .bind(id)
    .bind(i16::from(lot.number()))
    .bind(&e.structure_id)
    .bind(beneficiary)
    .bind(received)
    .bind(&e.channel)
    .bind(&e.reason)
    .bind(ack_due)
    .bind(answer_due)
    .bind(e.version)
    .execute(conn)
    .await?;
    Ok(())
}

/// A later step of a claim: each is recorded once by the claims service, so setting
/// its fields again (a redelivery) changes nothing.
#[derive(Debug)]
pub enum ClaimStep {
    Acknowledged(Option<NaiveDate>, bool),
    Answered(Option<NaiveDate>, bool),
    Escalated {
        referral: Option<NaiveDate>,
        outcome: Option<String>,
        outcome_date: Option<NaiveDate>,
    },
}

/// Records a later step of claim `id`; `false` when the claim is not known yet (its
/// reception not applied: the step is retried until it is).
pub async fn claim_step(
    conn: &mut PgConnection,
    id: Uuid,
    step: ClaimStep,
    version: i64,
) -> Result<bool, sqlx::Error> {
    let (set, date, late, outcome, outcome_date) = match step {
        ClaimStep::Acknowledged(on, late) => (
            "acknowledged_on = $3, acknowledged_late = $4",
            on,
            Some(late),
            None,
            None,
        ),
        ClaimStep::Answered(on, late) => (
            "answered_on = $3, answered_late = $4",
            on,
            Some(late),
            None,
            None,
        ),
        ClaimStep::Escalated {
            referral,
            outcome,
            outcome_date,
        } => (
            "referral_date = $3, mediation_outcome = coalesce($5, mediation_outcome), \
             mediation_outcome_date = coalesce($6, mediation_outcome_date)",
            referral,
            None,
            outcome,
            outcome_date,
        ),
    };
    let sql = format!(
        "update claims set {set}, version = greatest(version, $2) \
         where claim_id = $1 and received_date is not null"
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(version)
        .bind(date)
        .bind(late)
        .bind(outcome)
        .bind(outcome_date)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

// ---- the records of the daily files ----

pub async fn person_record(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Record>, sqlx::Error> {
    let Some(r) = sqlx::query(
        "select lot, structure_id, operator_ref, employment_status, education_level, \
         naf_section, company_size, social_category, employer_department, has_nir, erased \
         from beneficiaries where beneficiary_id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?
    else {
        return Ok(None);
    };
    let lot = lot_of(r.try_get("lot")?)?;
    let mut f = Map::new();
    f.insert("id_beneficiaire".into(), s(id));
    f.insert(
        "reference_operateur".into(),
        s(r.try_get::<String, _>("operator_ref")?),
    );
    f.insert("lot".into(), s(lot.two_digits()));
    for (column, field) in [
        ("structure", "structure_id"),
        ("statut_emploi", "employment_status"),
        ("niveau_formation", "education_level"),
        ("section_naf", "naf_section"),
        ("taille_entreprise", "company_size"),
        ("categorie_sociale", "social_category"),
        ("departement_employeur", "employer_department"),
    ] {
        f.insert(column.into(), s(r.try_get::<String, _>(field)?));
    }
    f.insert("nir_renseigne".into(), s(flag(Some(r.try_get("has_nir")?))));
    f.insert("efface".into(), s(flag(Some(r.try_get("erased")?))));
    Ok(Some(Record {
        lot,
        family: Family::Beneficiaires,
        record_id: id.to_string(),
        fields: f,
    }))
}

pub async fn unit_record(conn: &mut PgConnection, id: Uuid) -> Result<Option<Record>, sqlx::Error> {
    let Some(r) = sqlx::query(
        "select u.*, \
           (select coalesce(string_agg(i.date::text, '|' order by i.date, i.interaction_id), '') \
              from interactions i where i.uo_id = u.uo_id) as dates, \
           (select coalesce(string_agg(i.contact_mode, '|' order by i.date, i.interaction_id), '') \
              from interactions i where i.uo_id = u.uo_id) as modes, \
           (select coalesce(string_agg(distinct t, '|' order by t), '') \
              from interactions i, unnest(i.service_types) t where i.uo_id = u.uo_id) as types, \
           (select coalesce(string_agg(c.kind, '|' order by c.recorded_on, c.complementary_service_id), '') \
              from complementary_services c where c.uo_id = u.uo_id) as complementary, \
           (select bool_or(c.auto_prescription) from complementary_services c where c.uo_id = u.uo_id) \
              as auto_prescription \
         from units u where u.uo_id = $1 and u.engagement_date is not null",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?
    else {
        return Ok(None);
    };
    let lot = lot_of(r.try_get("lot")?)?;
    let uo: String = r.try_get("uo")?;
    let dossier: String = r.try_get("dossier_number")?;
    let taken_over: i16 = r.try_get("lot_taken_over")?;
    let mut f = Map::new();
    f.insert("numero_dossier".into(), s(&dossier));
    f.insert("uo".into(), s(&uo));
    f.insert(
        "id_beneficiaire".into(),
        s(r.try_get::<Uuid, _>("beneficiary_id")?),
    );
    f.insert("lot".into(), s(lot.two_digits()));
    f.insert(
        "lot_repris".into(),
        s(if taken_over == 0 {
            String::new()
        } else {
            format!("{taken_over:02}")
        }),
    );
    for (column, field) in [
        ("structure", "structure_id"),
        ("reference_bon_commande", "purchase_order_reference"),
        ("statut_emploi_engagement", "status_at_engagement"),
        ("origine", "origin"),
        ("motif", "request_reason"),
        ("motif_detaille", "detailed_reason"),
        ("dates_interactions", "dates"),
        ("modes_contact", "modes"),
        ("types_service", "types"),
        ("prestations_complementaires", "complementary"),
    ] {
        f.insert(column.into(), s(r.try_get::<String, _>(field)?));
    }
    f.insert("date_engagement".into(), d(r.try_get("engagement_date")?));
    f.insert("date_echeance".into(), d(r.try_get("deadline")?));
    f.insert("date_cloture".into(), d(r.try_get("closure_date")?));
    f.insert(
        "motif_cloture".into(),
        s(r.try_get::<Option<String>, _>("closure_reason")?
            .unwrap_or_default()),
    );
    f.insert("facturable".into(), s(flag(r.try_get("billable")?)));
    f.insert(
        "auto_prescription".into(),
        s(flag(r.try_get("auto_prescription")?)),
    );
    f.insert(
        "etat_projet".into(),
        s(r.try_get::<Option<String>, _>("project_state")?
            .unwrap_or_default()),
    );
    Ok(Some(Record {
        lot,
        family: Family::of_uo(&uo),
        record_id: dossier,
        fields: f,
    }))
}

pub async fn claim_record(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Record>, sqlx::Error> {
    let Some(r) =
        sqlx::query("select * from claims where claim_id = $1 and received_date is not null")
            .bind(id)
            .fetch_optional(conn)
            .await?
    else {
        return Ok(None);
    };
    let lot = lot_of(r.try_get("lot")?)?;
    let mut f = Map::new();
    f.insert("id_reclamation".into(), s(id));
    f.insert("lot".into(), s(lot.two_digits()));
    f.insert(
        "structure".into(),
        s(r.try_get::<String, _>("structure_id")?),
    );
    f.insert(
        "id_beneficiaire".into(),
        s(r.try_get::<Option<Uuid>, _>("beneficiary_id")?
            .map(|b| b.to_string())
            .unwrap_or_default()),
    );
    f.insert("date_reception".into(), d(r.try_get("received_date")?));
    f.insert("canal".into(), s(r.try_get::<String, _>("channel")?));
    f.insert("motif".into(), s(r.try_get::<String, _>("reason")?));
    f.insert(
        "echeance_accuse_reception".into(),
        d(r.try_get("acknowledgement_due")?),
    );
    f.insert("echeance_reponse".into(), d(r.try_get("answer_due")?));
    f.insert(
        "date_accuse_reception".into(),
        d(r.try_get("acknowledged_on")?),
    );
    f.insert(
        "accuse_reception_en_retard".into(),
        s(flag(r.try_get("acknowledged_late")?)),
    );
    f.insert("date_reponse".into(), d(r.try_get("answered_on")?));
    f.insert(
        "reponse_en_retard".into(),
        s(flag(r.try_get("answered_late")?)),
    );
    f.insert(
        "date_saisine_mediateur".into(),
        d(r.try_get("referral_date")?),
    );
    f.insert(
        "issue_mediation".into(),
        s(r.try_get::<Option<String>, _>("mediation_outcome")?
            .unwrap_or_default()),
    );
    f.insert(
        "date_issue_mediation".into(),
        d(r.try_get("mediation_outcome_date")?),
    );
    Ok(Some(Record {
        lot,
        family: Family::Reclamations,
        record_id: id.to_string(),
        fields: f,
    }))
}

pub async fn put_daily_record(
    conn: &mut PgConnection,
    r: &Record,
    day: NaiveDate,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into daily_records (lot, day, family, record_id, changed_at, fields) \
         values ($1, $2, $3, $4, $5, $6) \
         on conflict (lot, day, family, record_id) do update set \
         changed_at = greatest(daily_records.changed_at, excluded.changed_at), \
         fields = excluded.fields, seq = nextval('daily_records_seq')",
    )
    .bind(i16::from(r.lot.number()))
    .bind(day)
    .bind(r.family.code())
    .bind(&r.record_id)
    .bind(at)
    .bind(Value::Object(r.fields.clone()))
    .execute(conn)
    .await?;
    Ok(())
}

/// A daily record as stored.
#[derive(Debug, Clone)]
pub struct DailyRecord {
    pub family: Family,
    pub record_id: String,
    pub day: NaiveDate,
    pub changed_at: DateTime<Utc>,
    pub fields: Map<String, Value>,
    pub seq: i64,
}

fn daily_record(r: &sqlx::postgres::PgRow) -> Result<DailyRecord, sqlx::Error> {
    let family: String = r.try_get("family")?;
    let fields = match r.try_get::<Value, _>("fields")? {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    Ok(DailyRecord {
        family: Family::parse(&family)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown family {family}").into()))?,
        record_id: r.try_get("record_id")?,
        day: r.try_get("day")?,
        changed_at: r.try_get("changed_at")?,
        fields,
        seq: r.try_get("seq")?,
    })
}

/// The records of a lot, day and family, by id, as the database reads them out.
pub fn daily_records(
    pool: &PgPool,
    lot: Lot,
    day: NaiveDate,
    family: Family,
) -> impl futures::Stream<Item = Result<DailyRecord, sqlx::Error>> + Send + '_ {
    use futures::StreamExt as _;
    sqlx::query(
        "select family, record_id, day, changed_at, fields, seq from daily_records \
         where lot = $1 and day = $2 and family = $3 order by record_id",
    )
    .bind(i16::from(lot.number()))
    .bind(day)
    .bind(family.code())
    .fetch(pool)
    .map(|row| row.and_then(|r| daily_record(&r)))
}

/// The records of a lot written after `after` (a `seq`), oldest first.
pub async fn changes_since(
    pool: &PgPool,
    lot: Lot,
    after: i64,
    limit: i64,
) -> Result<Vec<DailyRecord>, sqlx::Error> {
    sqlx::query(
        "select family, record_id, day, changed_at, fields, seq from daily_records \
         where lot = $1 and seq > $2 order by seq limit $3",
    )
    .bind(i16::from(lot.number()))
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?
    .iter()
    .map(daily_record)
    .collect()
}

/// A deliverable signed in a window, with what its file is named after.
#[derive(Debug, Clone)]
pub struct SignedDeliverable {
    pub deliverable_id: Uuid,
    pub dossier_number: String,
    pub kind: String,
    pub sha256: String,
}

pub async fn signed_between(
    pool: &PgPool,
    lot: Lot,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<SignedDeliverable>, sqlx::Error> {
    let rows = sqlx::query(
        "select s.deliverable_id, u.dossier_number, s.kind, s.sha256 \
         from signed_deliverables s join units u using (uo_id) \
         where u.lot = $1 and s.signed_at >= $2 and s.signed_at < $3 \
         order by u.dossier_number, s.deliverable_id",
    )
    .bind(i16::from(lot.number()))
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(SignedDeliverable {
                deliverable_id: r.try_get("deliverable_id")?,
                dossier_number: r.try_get("dossier_number")?,
                kind: r.try_get("kind")?,
                sha256: r.try_get("sha256")?,
            })
        })
        .collect()
}

/// Empties the read model (not the exports, transfers, deliveries or populations).
/// The consumers' inbox stays: every fact applies idempotently, so a message the
/// replay applied and the live consumer then receives changes nothing.
pub async fn empty_read_model(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(
        "truncate beneficiaries, units, interactions, complementary_services, appointment_requests, \
         claims, signed_deliverables, \
         purchase_order_lines, purchase_orders, daily_records",
    )
    .execute(conn)
    .await?;
    Ok(())
}

// ---- the service's own data ----

pub async fn put_export(
    pool: &PgPool,
    lot: Lot,
    day: NaiveDate,
    format: &str,
    export: &crate::daily::Export,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let files =
        serde_json::to_value(&export.files).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(
        "insert into exports (lot, day, format, directory, files, built_at) values ($1, $2, $3, $4, $5, $6) \
         on conflict (lot, day, format) do update set directory = excluded.directory, \
         files = excluded.files, built_at = excluded.built_at",
    )
    .bind(i16::from(lot.number()))
    .bind(day)
    .bind(format)
    .bind(export.directory.to_string_lossy().into_owned())
    .bind(files)
    .bind(at)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn put_population(
    pool: &PgPool,
    lot: Lot,
    year: i32,
    active: i64,
    cep: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into regional_populations (lot, year, active_population, cep_population) \
         values ($1, $2, $3, $4) on conflict (lot, year) do update set \
         active_population = excluded.active_population, cep_population = excluded.cep_population",
    )
    .bind(i16::from(lot.number()))
    .bind(year)
    .bind(active)
    .bind(cep)
    .execute(pool)
    .await?;
    Ok(())
}

/// A row of the transfer journal.
#[derive(Debug, Clone)]
pub struct TransferRow {
    pub transfer_id: Uuid,
    pub lot: i16,
    pub day: NaiveDate,
    pub file: String,
    pub remote_path: String,
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub bytes: i64,
    pub sha256: String,
    pub outcome: String,
    pub detail: String,
}

pub async fn put_transfer(pool: &PgPool, t: &TransferRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into transfers (transfer_id, lot, day, file, remote_path, attempt, started_at, \
         finished_at, bytes, sha256, outcome, detail) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(t.transfer_id)
    .bind(t.lot)
    .bind(t.day)
    .bind(&t.file)
    .bind(&t.remote_path)
    .bind(t.attempt)
    .bind(t.started_at)
    .bind(t.finished_at)
    .bind(t.bytes)
    .bind(&t.sha256)
    .bind(&t.outcome)
    .bind(&t.detail)
    .execute(pool)
    .await?;
    Ok(())
}

/// The journal of a lot (one day, or all), newest first.
pub async fn transfers(
    pool: &PgPool,
    lot: Lot,
    day: Option<NaiveDate>,
    limit: i64,
) -> Result<Vec<TransferRow>, sqlx::Error> {
    let rows = sqlx::query(
        "select * from transfers where lot = $1 and ($2::date is null or day = $2) \
         order by started_at desc, transfer_id desc limit $3",
    )
    .bind(i16::from(lot.number()))
    .bind(day)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(TransferRow {
                transfer_id: r.try_get("transfer_id")?,
                lot: r.try_get("lot")?,
                day: r.try_get("day")?,
                file: r.try_get("file")?,
                remote_path: r.try_get("remote_path")?,
                attempt: r.try_get("attempt")?,
                started_at: r.try_get("started_at")?,
                finished_at: r.try_get("finished_at")?,
                bytes: r.try_get("bytes")?,
                sha256: r.try_get("sha256")?,
                outcome: r.try_get("outcome")?,
                detail: r.try_get("detail")?,
            })
        })
        .collect()
}

pub async fn put_delivery(
    pool: &PgPool,
    lot: Lot,
    day: NaiveDate,
    remote: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into deliveries (lot, day, remote_directory, delivered_at) values ($1, $2, $3, $4) \
         on conflict (lot, day) do update set remote_directory = excluded.remote_directory, \
         delivered_at = excluded.delivered_at",
    )
    .bind(i16::from(lot.number()))
    .bind(day)
    .bind(remote)
    .bind(at)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn last_delivered(pool: &PgPool, lot: Lot) -> Result<Option<NaiveDate>, sqlx::Error> {
    sqlx::query_scalar("select max(day) from deliveries where lot = $1")
        .bind(i16::from(lot.number()))
        .fetch_one(pool)
        .await
}

pub async fn put_means(
    pool: &PgPool,
    lot: Lot,
    year: i32,
    half: i16,
    fte: &[(String, f64)],
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("delete from means where lot = $1 and year = $2 and half = $3")
        .bind(i16::from(lot.number()))
        .bind(year)
        .bind(half)
        .execute(&mut *tx)
        .await?;
    for (uo, f) in fte {
        sqlx::query(
            "insert into means (lot, year, half, uo, fte) values ($1, $2, $3, $4, $5::numeric)",
        )
        .bind(i16::from(lot.number()))
        .bind(year)
        .bind(half)
        .bind(uo)
        .bind(f)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// Records a whole import in one transaction (a month imported again is replaced).
pub async fn put_imported(
    pool: &PgPool,
    lot: Lot,
    code: &str,
    rows: &[crate::imports::Row],
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    for r in rows {
        sqlx::query(
            "insert into imported_figures (lot, code, month, denominator, numerator, imported_at) \
             values ($1, $2, $3, $4, $5, $6) on conflict (lot, code, month) do update set \
             denominator = excluded.denominator, numerator = excluded.numerator, \
             imported_at = excluded.imported_at",
        )
        .bind(i16::from(lot.number()))
        .bind(code)
        .bind(r.month)
        .bind(r.denominator)
        .bind(r.numerator)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}
