//! The service's use cases: each checks the caller's role and scope, applies the
//! rules of the CCTP (1.2.4–1.2.6, 2.1, annex 2) and commits the change with its
//! outbox events in one transaction. Refusals by a business rule carry a stable rule
//! code ([`rules`]).

use std::sync::Arc;

use cep_domain::journey::{self, DossierNumber, PurchaseOrderReference};
use cep_domain::reference::{codes, names};
use cep_domain::{
    BeneficiaryId, Lot, OrderedUo, ReferenceTables, SharedClock, Uo, WorkingDayCalendar,
    eligibility,
};
use cep_kit::auth::Caller;
use cep_kit::sealing;
use cep_kit::settings::OperatorSettings;
use cep_runtime::request::{Page, date, page_cursor, page_limit, reference};
use cep_runtime::{ApiError, Violations};
use chrono::{Datelike, NaiveDate};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::model::{
    Appointment, Closure, ComplementaryService, Interaction, Line, OperatorDelivery, Person,
    PurchaseOrder, SealedTexts, StatementLine, Unit, WorkDiscovery,
};
use crate::settings::{AbandonmentSettings, BillingSettings, NirPolicy, StatementSettings};
use crate::{authz, events, store};

/// The rule codes of the refusals.
pub mod rules {
    pub const BENEFICIARY_ERASED: &str = "BENEFICIARY_ERASED";
    pub const ONE_OPEN_UO: &str = "ONE_OPEN_UO";
    pub const REFERENT_REQUIRED: &str = "REFERENT_REQUIRED";
    pub const UO2_1_NOT_SIGNED: &str = "UO2_1_NOT_SIGNED";
    pub const UO2_2_WINDOW_PASSED: &str = "UO2_2_WINDOW_PASSED";
    pub const NO_PURCHASE_ORDER_CAPACITY: &str = "NO_PURCHASE_ORDER_CAPACITY";
    pub const LOT_TAKEN_OVER_REQUIRED: &str = "LOT_TAKEN_OVER_REQUIRED";
    pub const UO_NOT_OPEN: &str = "UO_NOT_OPEN";
    pub const NOT_CLOSED_BY_SIGNATURE: &str = "NOT_CLOSED_BY_SIGNATURE";
    pub const NIR_MISSING: &str = "NIR_MISSING";
    pub const COUNTER_EXHAUSTED: &str = "COUNTER_EXHAUSTED";
    pub const NOT_A_UO2: &str = "NOT_A_UO2";
    pub const UO2_1_ALREADY_FOLLOWED: &str = "UO2_1_ALREADY_FOLLOWED";
    pub const REFERENT_IS_THE_UO2_1S: &str = "REFERENT_IS_THE_UO2_1S";
    pub const MANDATORY_FIELDS_MISSING: &str = "MANDATORY_FIELDS_MISSING";
}

/// The first exchange follows the request within 30 working days (CCTP).
pub const FIRST_EXCHANGE_WORKING_DAYS: u32 = 30;

/// Whose orders a unit consumes and whose territory applies: the person's lot for
/// both, except for a lot-19 person (the backup operator), whose orders are lot 19's
/// and territory the lot taken over.
#[derive(Debug, Clone, Copy)]
struct Served {
    orders: Lot,
    territory: Lot,
    taken_over: Option<Lot>,
}

fn served(v: &mut Violations, person: &Person, taken_over: i64) -> Option<Served> {
    match (person.lot.is_reprise(), taken_over) {
        (false, 0) => Some(Served {
            orders: person.lot,
            territory: person.lot,
            taken_over: None,
        }),
        (false, _) => {
            v.add(
                "lot_taken_over",
                "is only for a person of lot 19 (the backup operator)",
            );
            None
        }
        (true, n) => match Lot::new(n).ok().filter(|l| !l.is_reprise()) {
            Some(taken) => Some(Served {
                orders: person.lot,
                territory: taken,
                taken_over: Some(taken),
            }),
            None => {
                v.add(
                    "lot_taken_over",
                    "is required for a person of lot 19: the lot taken over, 1 to 18",
                );
                None
            }
        },
    }
}

/// A `date|uuid` page cursor.
fn cursor(v: &mut Violations, token: &str) -> Option<(NaiveDate, Uuid)> {
    if token.is_empty() {
        return None;
    }
    let parsed = token.split_once('|').and_then(|(d, id)| {
        Some((
            NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()?,
            Uuid::try_parse(id).ok()?,
        ))
    });
    if parsed.is_none() {
        v.add("page_token", "is not a token this service gave");
    }
    parsed
}

const TEXT_MAX: usize = 500;
const NAME_MAX: usize = 128;

/// A purchase order as the caller sent it.
#[derive(Debug, Clone, Default)]
pub struct NewOrder {
    pub lot: i64,
    pub year: i32,
    pub reference: String,
    pub lines: Vec<(String, i64)>,
}

/// The facts of a first contact (UO0) or of an engagement, as sent.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub origin: String,
    pub request_reason: String,
    pub detailed_reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct Aiguillage {
    pub request: Request,
    /// For a lot-19 person: the lot taken over (0 otherwise).
    pub lot_taken_over: i64,
    pub contact_mode: String,
    pub interaction_date: String,
    pub outcome: String,
}

#[derive(Debug, Clone)]
pub struct Engagement {
    pub uo: Option<Uo>,
    /// For a lot-19 person: the lot taken over (0 otherwise).
    pub lot_taken_over: i64,
    pub engagement_date: String,
    pub request: Request,
    pub referent: String,
}

#[derive(Debug, Clone, Default)]
pub struct NewInteraction {
    pub date: String,
    pub contact_mode: String,
    pub duration_minutes: i32,
    pub counsellor: String,
    pub service_types: Vec<String>,
    pub requested_by_beneficiary: bool,
}

#[derive(Debug, Clone, Default)]
pub struct VoluntaryClosure {
    pub reason: String,
    pub closure_date: String,
    pub written_trace_reference: String,
    pub project_state: String,
    pub description: String,
    pub version: i64,
}

/// A unit and what was recorded in it, as shown.
#[derive(Debug, Clone)]
pub struct Shown {
    pub unit: Unit,
    pub interactions: Vec<Interaction>,
    pub complementary_services: Vec<ComplementaryService>,
    pub work_discoveries: Vec<WorkDiscovery>,
    /// Open and past its deadline in its lot today.
    pub overdue: bool,
}

/// A rule that stops a closure by signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obstacle {
    pub rule: &'static str,
    pub message: String,
}

/// The service's state shared by every call.
#[derive(Debug, Clone)]
pub struct Cases {
    pub pool: PgPool,
    pub clock: SharedClock,
    pub tables: Arc<ReferenceTables>,
    pub operator: OperatorSettings,
    pub abandonment: AbandonmentSettings,
    pub nir_policy: NirPolicy,
    pub statements: StatementSettings,
    pub billing: BillingSettings,
    /// The people's data keys: their free texts are sealed with them.
    pub people: cep_runtime::personal::People,
    /// The beneficiaries service asked for the mandatory fields at engagement (none:
    /// not asked, journeys run alone).
    pub beneficiaries: Option<tonic::transport::Channel>,
}

/// Free text: NFC, no control or invisible character; "" means none.
fn text(v: &mut Violations, field: &str, value: &str, max: usize) -> Option<String> {
    match cep_domain::text::canonical(value, max) {
        Ok(t) if t.is_empty() => None,
        Ok(t) => Some(t),
        Err(e) => {
            v.add(field, e.to_string());
            None
        }
    }
}

fn required_text(v: &mut Violations, field: &str, value: &str, max: usize) -> Option<String> {
    let t = text(v, field, value, max);
    if t.is_none() && !v.has(field) {
        v.add(field, "is required");
    }
    t
}

/// A date of the journey: not in the future in the lot, not before `earliest`.
fn past_date(
    v: &mut Violations,
    field: &str,
    value: &str,
    today: NaiveDate,
    earliest: Option<NaiveDate>,
) -> Option<NaiveDate> {
    let d = date(v, field, value)?;
    if d > today {
        v.add(field, "must not be in the future");
        return None;
    }
    if let Some(earliest) = earliest.filter(|e| d < *e) {
        v.add(field, format!("must not be before {earliest}"));
        return None;
    }
    Some(d)
}

/// The `lot` of a request, its violation collected.
fn lot_field(v: &mut Violations, lot: i64) -> Option<Lot> {
    match Lot::new(lot) {
        Ok(l) => Some(l),
        Err(e) => {
            v.add("lot", e.to_string());
            None
        }
    }
}

/// A unit as a refusal may name it: its dossier number when the caller may see it.
fn named(caller: &Caller, u: &Unit) -> String {
    if caller.check_scope(u.lot, &u.structure_id).is_ok() {
        format!("{} {}", u.uo, u.dossier_number)
    } else {
        format!("a {} of this person held elsewhere", u.uo)
    }
}

fn conflict(id: Uuid, sent: i64, current: i64) -> ApiError {
    ApiError::Conflict(format!(
        "version {sent} is not the current version {current} of unit {id}: read it again"
    ))
}

impl Cases {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// The person, when the caller may see them. Unknown and out of scope answer
    /// alike (a person registered a moment ago may take a moment to reach journeys).
    async fn person(
        &self,
        conn: &mut PgConnection,
        caller: &Caller,
        id: BeneficiaryId,
    ) -> Result<Person, ApiError> {
        let not_found = || {
            ApiError::NotFound(format!(
                "beneficiary {id} (a person registered a moment ago may take a second to be known here)"
            ))
        };
        let p = store::get_person(conn, id).await?.ok_or_else(not_found)?;
        caller
            .check_scope(p.lot, &p.structure_id)
            .map_err(|_| not_found())?;
        if p.erased {
            return Err(ApiError::precondition(
                rules::BENEFICIARY_ERASED,
                format!("beneficiary {id} was erased"),
            ));
        }
        Ok(p)
    }

    /// A unit the caller may touch (locked when `for_update`), with its person.
    async fn unit(
        &self,
        conn: &mut PgConnection,
        caller: &Caller,
        id: Uuid,
        for_update: bool,
    ) -> Result<Unit, ApiError> {
        let not_found = || ApiError::NotFound(format!("unit of work {id}"));
        let u = store::get_unit(conn, id, for_update)
            .await?
            .ok_or_else(not_found)?;
        caller
            .check_scope(u.lot, &u.structure_id)
            .map_err(|_| not_found())?;
        Ok(u)
    }

    /// What a request the client identified already created (its retry answers it).
    async fn replayed(
        &self,
        conn: &mut PgConnection,
        caller: &Caller,
        request: Option<Uuid>,
        kind: &str,
    ) -> Result<Option<Uuid>, ApiError> {
        match request {
            Some(r) => Ok(store::claim_request(conn, &caller.subject, r, kind).await?),
            None => Ok(None),
        }
    }

    async fn replayed_unit(
        &self,
        conn: &mut PgConnection,
        caller: &Caller,
        request: Option<Uuid>,
        kind: &str,
    ) -> Result<Option<Unit>, ApiError> {
        let Some(first) = self.replayed(conn, caller, request, kind).await? else {
            return Ok(None);
        };
        Ok(Some(
            store::get_unit(conn, first, false)
                .await?
                .ok_or_else(|| ApiError::internal("the unit of a request vanished"))?,
        ))
    }

    async fn remember(
        &self,
        conn: &mut PgConnection,
        caller: &Caller,
        request: Option<Uuid>,
        kind: &str,
        entity: Uuid,
    ) -> Result<(), ApiError> {
        if let Some(r) = request {
            store::record_request(conn, &caller.subject, r, kind, entity, self.now()).await?;
        }
        Ok(())
    }

    fn shown(&self, unit: Unit, interactions: Vec<Interaction>) -> Shown {
        let overdue = unit.is_overdue(unit.territory().today(self.now()));
        Shown {
            unit,
            interactions,
            complementary_services: Vec::new(),
            work_discoveries: Vec::new(),
            overdue,
        }
    }

    /// A UO2.2's closing texts sealed with the person's data key.
    async fn seal_texts(
        &self,
        conn: &mut PgConnection,
        u: &Unit,
        trace: &Option<String>,
        description: &Option<String>,
    ) -> Result<SealedTexts, ApiError> {
        if trace.is_none() && description.is_none() {
            return Ok(SealedTexts::default());
        }
        let owner = u.beneficiary_id.as_uuid();
        let key = self.people.key(conn, owner).await?;
        let seal = |t: &Option<String>| {
            t.as_ref()
                .map(|t| sealing::seal(&key, owner, t.as_bytes()))
                .transpose()
                .map_err(ApiError::internal)
        };
        Ok(SealedTexts {
            written_trace: seal(trace)?,
            description: seal(description)?,
        })
    }

    /// Opens the closing texts of `u` for a reply (none once the person is erased).
    async fn open_texts(&self, conn: &mut PgConnection, u: &mut Unit) -> Result<(), ApiError> {
        let owner = u.beneficiary_id.as_uuid();
        let Some(c) = u.closure.as_mut() else {
            return Ok(());
        };
        if c.sealed == SealedTexts::default() || self.people.is_erased(conn, owner).await? {
            return Ok(());
        }
        let key = self.people.key(conn, owner).await?;
        let open = |b: &Option<Vec<u8>>| -> Result<Option<String>, ApiError> {
            b.as_ref()
                .map(|b| {
                    let plain = sealing::open(&key, owner, b).map_err(ApiError::internal)?;
                    String::from_utf8(plain).map_err(ApiError::internal)
                })
                .transpose()
        };
        c.written_trace_reference = open(&c.sealed.written_trace)?;
        c.description = open(&c.sealed.description)?;
        Ok(())
    }

    /// Units with everything recorded in them.
    async fn shown_all(
        &self,
        conn: &mut PgConnection,
        mut units: Vec<Unit>,
    ) -> Result<Vec<Shown>, ApiError> {
        for u in &mut units {
            self.open_texts(conn, u).await?;
        }
        let ids: Vec<Uuid> = units.iter().map(|u| u.id).collect();
        let interactions = store::interactions_of(conn, &ids).await?;
        let services = store::complementary_services_of(conn, &ids).await?;
        let discoveries = store::work_discoveries_of(conn, &ids).await?;
        Ok(units
            .into_iter()
            .map(|u| {
                let id = u.id;
                let mut shown = self.shown(
                    u,
                    interactions
                        .iter()
                        .filter(|i| i.uo_id == id)
                        .cloned()
                        .collect(),
                );
                shown.complementary_services =
                    services.iter().filter(|c| c.uo_id == id).cloned().collect();
                shown.work_discoveries = discoveries
                    .iter()
                    .filter(|w| w.uo_id == id)
                    .cloned()
                    .collect();
                shown
            })
            .collect())
    }

    // ---- purchase orders ---------------------------------------------------------

    pub async fn create_purchase_order(
        &self,
        caller: &Caller,
        o: NewOrder,
        request: Option<Uuid>,
    ) -> Result<PurchaseOrder, ApiError> {
        caller.require_any_role(authz::ORDER)?;
        let mut v = Violations::default();
        let lot = match Lot::new(o.lot) {
            Ok(lot) if self.operator.lots.contains(&o.lot) => Some(lot),
            Ok(_) => {
                v.add(
                    "lot",
                    format!("lot {} is not served by this operator", o.lot),
                );
                None
            }
            Err(e) => {
                v.add("lot", e.to_string());
                None
            }
        };
        if !(2000..=2100).contains(&o.year) {
            v.add("year", "must be a year from 2000 to 2100");
        }
        let reference = text(&mut v, "reference", &o.reference, 64);
        if o.lines.is_empty() {
            v.add("lines", "at least one line is required");
        }
        let mut lines: Vec<(OrderedUo, i64)> = Vec::new();
        for (i, (uo, quantity)) in o.lines.iter().enumerate() {
            match OrderedUo::parse(uo) {
                Some(uo) if lines.iter().any(|(u, _)| *u == uo) => {
                    v.add(&format!("lines[{i}].uo"), format!("{uo} is ordered twice"));
                }
                Some(uo) => lines.push((uo, *quantity)),
                None => v.add(
                    &format!("lines[{i}].uo"),
                    "must be UO0, UO1, UO2.1, UO2.2, UO3, UO4 or UO5",
                ),
            }
            // zzzzz, the rank of a consumption in its line, has five digits
            if !(1..=99_999).contains(quantity) {
                v.add(&format!("lines[{i}].quantity"), "must be from 1 to 99999");
            }
        }
        v.into_result()?;
        let Some(lot) = lot else {
            return Err(ApiError::invalid("lot", "is required"));
        };
        caller.check_lot(lot)?;
        // the ranks are locked in one order, so two orders never wait for each other
        lines.sort_by_key(|(uo, _)| *uo);
        let mut tx = self.pool.begin().await?;
        if let Some(first) = self
            .replayed(&mut tx, caller, request, "purchase_order")
            .await?
        {
            let po = store::get_purchase_order(&mut tx, first)
                .await?
                .ok_or_else(|| ApiError::internal("the order of a request vanished"))?;
            tx.commit().await?;
            return Ok(po);
        }
        let mut po = PurchaseOrder {
            id: Uuid::now_v7(),
            lot,
            year: o.year,
            reference,
            lines: Vec::new(),
            created_at: self.now(),
        };
        for (uo, quantity) in lines {
            let rank = store::next_line_rank(&mut tx, lot, o.year, uo).await?;
            if rank > 99 {
                return Err(ApiError::precondition(
                    rules::COUNTER_EXHAUSTED,
                    format!(
                        "lot {} has 99 lines of {uo} in {} already",
                        lot.number(),
                        o.year
                    ),
                ));
            }
            po.lines.push(Line {
                id: Uuid::now_v7(),
                uo,
                quantity,
                rank,
                engaged: 0,
                closed: 0,
                billable: 0,
            });
        }
        store::insert_purchase_order(&mut tx, &po, &caller.subject).await?;
        self.remember(&mut tx, caller, request, "purchase_order", po.id)
            .await?;
        cep_bus::enqueue(&mut tx, events::purchase_order(&po, self.now())).await?;
        tx.commit().await?;
        tracing::info!(purchase_order_id = %po.id, lot = lot.number(), "purchase order created");
        Ok(po)
    }

    pub async fn list_purchase_orders(
        &self,
        caller: &Caller,
        lot: i64,
        year: i32,
        page_size: i32,
        page_token: &str,
    ) -> Result<Page<PurchaseOrder>, ApiError> {
        caller.require_any_role(authz::READ_ORDERS)?;
        let mut v = Violations::default();
        let limit = page_limit(&mut v, page_size);
        let before = page_cursor::<Uuid>(&mut v, page_token);
        let lots = self.lots(&mut v, caller, lot)?;
        v.into_result()?;
        let mut conn = self.pool.acquire().await?;
        let rows = store::list_purchase_orders(
            &mut conn,
            &lots,
            (year != 0).then_some(year),
            before,
            limit + 1,
        )
        .await?;
        Ok(Page::of(rows, limit, |last| last.id.to_string()))
    }

    pub async fn consumption(&self, caller: &Caller, id: Uuid) -> Result<PurchaseOrder, ApiError> {
        caller.require_any_role(authz::READ_ORDERS)?;
        let mut conn = self.pool.acquire().await?;
        let not_found = || ApiError::NotFound(format!("purchase order {id}"));
        let po = store::get_purchase_order(&mut conn, id)
            .await?
            .ok_or_else(not_found)?;
        caller.check_lot(po.lot).map_err(|_| not_found())?;
        Ok(po)
    }

    /// The lots a listing covers: the caller's, or the one asked for.
    fn lots(&self, v: &mut Violations, caller: &Caller, lot: i64) -> Result<Vec<i16>, ApiError> {
        if lot == 0 {
            return Ok(caller.lots.iter().map(|l| i16::from(*l)).collect());
        }
        match Lot::new(lot) {
            Ok(l) => {
                caller.check_lot(l)?;
                Ok(vec![i16::from(l.number())])
            }
            Err(e) => {
                v.add("lot", e.to_string());
                Ok(Vec::new())
            }
        }
    }

    // ---- engagements ---------------------------------------------------------------

    /// Numbers a new unit: takes a unit of a purchase-order line and the next number
    /// of the month's counter, in the transaction (a refusal or a rollback takes
    /// neither).
    async fn number(
        &self,
        conn: &mut PgConnection,
        served: Served,
        uo: Uo,
        engagement: NaiveDate,
    ) -> Result<(Uuid, DossierNumber, PurchaseOrderReference), ApiError> {
        let lot = served.orders;
        let year = engagement.year();
        let Some((line, rank, consumed)) =
            store::consume_line(conn, lot, year, OrderedUo::Person(uo)).await?
        else {
            return Err(ApiError::exhausted(
                rules::NO_PURCHASE_ORDER_CAPACITY,
                format!(
                    "no purchase order of lot {} for {year} has a {uo} line with capacity left: \
                     a manager records the next purchase order first",
                    lot.number()
                ),
            ));
        };
        let counter =
            store::next_dossier_counter(conn, &self.operator.id, year, engagement.month(), uo)
                .await?;
        let exhausted = |e: journey::NumberError| {
            ApiError::precondition(rules::COUNTER_EXHAUSTED, e.to_string())
        };
        let dossier = DossierNumber::new(
            &self.operator.id,
            engagement,
            uo,
            u32::try_from(counter).unwrap_or(0),
        )
        .map_err(exhausted)?;
        let reference = PurchaseOrderReference::new(
            year,
            served.territory,
            uo,
            u32::try_from(rank).unwrap_or(0),
            u32::try_from(consumed).unwrap_or(0),
        )
        .map_err(exhausted)?;
        Ok((line, dossier, reference))
    }

    fn request(
        &self,
        v: &mut Violations,
        r: &Request,
    ) -> (Option<String>, Option<String>, Option<String>) {
        let t = &self.tables;
        (
            reference(v, t, "origin", names::ORIGIN, &r.origin, true),
            reference(
                v,
                t,
                "request_reason",
                names::REQUEST_REASON,
                &r.request_reason,
                true,
            ),
            reference(
                v,
                t,
                "detailed_reason",
                names::REQUEST_REASON_DETAIL,
                &r.detailed_reason,
                false,
            ),
        )
    }

    /// A UO0: open to everybody whatever their status, engaged and closed at once.
    pub async fn record_aiguillage(
        &self,
        caller: &Caller,
        beneficiary: BeneficiaryId,
        a: Aiguillage,
        request: Option<Uuid>,
    ) -> Result<Unit, ApiError> {
        caller.require_any_role(authz::AIGUILLAGE)?;
        let mut v = Violations::default();
        let (origin, request_reason, detailed_reason) = self.request(&mut v, &a.request);
        let t = &self.tables;
        reference(
            &mut v,
            t,
            "contact_mode",
            names::CONTACT_MODE,
            &a.contact_mode,
            true,
        );
        let outcome = reference(
            &mut v,
            t,
            "outcome",
            names::AIGUILLAGE_OUTCOME,
            &a.outcome,
            true,
        );
        let shaped = date(&mut v, "interaction_date", &a.interaction_date);
        v.into_result()?;
        let mut tx = self.pool.begin().await?;
        if let Some(unit) = self
            .replayed_unit(&mut tx, caller, request, "aiguillage")
            .await?
        {
            return Ok(unit);
        }
        store::lock_person(&mut tx, beneficiary).await?;
        let person = self.person(&mut tx, caller, beneficiary).await?;
        let mut v = Violations::default();
        let served = served(&mut v, &person, a.lot_taken_over);
        let today = served.map_or(person.lot, |s| s.territory).today(self.now());
        let on = past_date(&mut v, "interaction_date", &a.interaction_date, today, None);
        v.into_result()?;
        let (Some(on), Some(_), Some(served)) = (on, shaped, served) else {
            return Err(ApiError::invalid("interaction_date", "is required"));
        };
        let (line, dossier, reference) = self.number(&mut tx, served, Uo::Uo0, on).await?;
        let now = self.now();
        let unit = Unit {
            id: Uuid::now_v7(),
            beneficiary_id: beneficiary,
            uo: Uo::Uo0,
            lot: person.lot,
            lot_taken_over: served.taken_over,
            structure_id: person.structure_id.clone(),
            dossier_number: dossier.to_string(),
            line_id: line,
            purchase_order_reference: reference.to_string(),
            engagement_date: on,
            deadline: None,
            follows: None,
            closure: Some(Closure {
                date: on,
                reason: codes::AIGUILLAGE_REALISE.to_owned(),
                billable: true,
                written_trace_reference: None,
                project_state: None,
                description: None,
                sealed: Default::default(),
            }),
            referent: None,
            status_at_engagement: person.employment_status.clone(),
            origin,
            request_reason,
            detailed_reason,
            outcome,
            signed_at: None,
            last_requested_interaction: Some(on),
            cpir_project: false,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        store::insert_unit(&mut tx, &unit).await?;
        self.remember(&mut tx, caller, request, "aiguillage", unit.id)
            .await?;
        // the first exchange is with a counsellor, not the chargé d'information's
        if caller.has_any_role(authz::WORK) {
            store::first_exchange(&mut tx, beneficiary, on).await?;
        }
        cep_bus::enqueue(&mut tx, events::engaged(&unit, now)).await?;
        if let Some(closed) = events::closed(&unit, now) {
            cep_bus::enqueue(&mut tx, closed).await?;
        }
        tx.commit().await?;
        tracing::info!(uo_id = %unit.id, lot = unit.lot.number(), "aiguillage recorded");
        Ok(unit)
    }

    /// A UO1, UO2.1 or UO2.2, after every rule of the journey.
    /// Refuses an engagement whose person's record lacks a field annex 2 makes
    /// mandatory for `uo`, naming them, as the beneficiaries service judges it on the
    /// caller's behalf (`ValidateFor`).
    async fn check_mandatory_fields(
        &self,
        on_behalf: Option<&cep_runtime::OnBehalf>,
        beneficiary: BeneficiaryId,
        uo: Uo,
    ) -> Result<(), ApiError> {
        use cep_proto::beneficiaries as bpb;
        let (Some(channel), Some(on_behalf)) = (&self.beneficiaries, on_behalf) else {
            return Ok(());
        };
        let answer =
            bpb::beneficiary_service_client::BeneficiaryServiceClient::new(channel.clone())
                .validate_for(on_behalf.request(bpb::ValidateForRequest {
                    beneficiary_id: beneficiary.to_string(),
                    uo: uo.to_proto(),
                }))
                .await
                .map_err(|s| cep_runtime::peer_error("beneficiaries", &s))?
                .into_inner();
        if answer.complete {
            return Ok(());
        }
        Err(ApiError::precondition(
            rules::MANDATORY_FIELDS_MISSING,
            format!(
                "the person's record lacks what annex 2 makes mandatory for {}: {}",
                uo.code(),
                answer.missing_fields.join(", ")
            ),
        ))
    }

    pub async fn engage(
        &self,
        caller: &Caller,
        on_behalf: Option<&cep_runtime::OnBehalf>,
        beneficiary: BeneficiaryId,
        e: Engagement,
        request: Option<Uuid>,
    ) -> Result<Unit, ApiError> {
        caller.require_any_role(authz::WORK)?;
        let mut v = Violations::default();
        let uo = match e.uo {
            Some(uo @ (Uo::Uo1 | Uo::Uo2_1 | Uo::Uo2_2)) => Some(uo),
            Some(Uo::Uo0) => {
                v.add("uo", "a UO0 is recorded with RecordAiguillage");
                None
            }
            None => {
                v.add("uo", "must be UO1, UO2_1 or UO2_2");
                None
            }
        };
        let (origin, request_reason, detailed_reason) = self.request(&mut v, &e.request);
        let referent = text(&mut v, "referent", &e.referent, NAME_MAX);
        date(&mut v, "engagement_date", &e.engagement_date);
        v.into_result()?;
        let Some(uo) = uo else {
            return Err(ApiError::invalid("uo", "is required"));
        };
        if let Some(request) = request {
            // a retry answers what the first call did, whatever the record holds now
            let mut conn = self.pool.acquire().await?;
            if let Some(unit) = self
                .replayed_unit(&mut conn, caller, Some(request), "engagement")
                .await?
            {
                return Ok(unit);
            }
        }
        // asked before any lock is taken: a call to another service inside the
        // transaction would hold the person's lock for its duration
        self.check_mandatory_fields(on_behalf, beneficiary, uo)
            .await?;
        let mut tx = self.pool.begin().await?;
        if let Some(unit) = self
            .replayed_unit(&mut tx, caller, request, "engagement")
            .await?
        {
            return Ok(unit);
        }
        store::lock_person(&mut tx, beneficiary).await?;
        let person = self.person(&mut tx, caller, beneficiary).await?;
        let mut v = Violations::default();
        let served = served(&mut v, &person, e.lot_taken_over);
        let today = served.map_or(person.lot, |s| s.territory).today(self.now());
        let on = past_date(&mut v, "engagement_date", &e.engagement_date, today, None);
        v.into_result()?;
        let (Some(on), Some(served)) = (on, served) else {
            return Err(ApiError::invalid("engagement_date", "is required"));
        };
        let journey = store::units_of(&mut tx, beneficiary).await?;
        let last_closure = journey
            .iter()
            .filter(|u| u.uo != Uo::Uo0)
            .filter_map(|u| u.closure.as_ref().map(|c| c.date))
            .max();
        if let Some(closed) = last_closure.filter(|d| on < *d) {
            return Err(ApiError::invalid(
                "engagement_date",
                format!("must not be before the closure of the person's last unit ({closed})"),
            ));
        }
        if let Some(open) = journey.iter().find(|u| u.is_open() && u.uo != Uo::Uo0) {
            return Err(ApiError::precondition(
                rules::ONE_OPEN_UO,
                format!(
                    "{} of this person is still open: close it first",
                    named(caller, open)
                ),
            ));
        }
        // UO2.2 follows a UO2.1 closed by its signed deliverable, within 18 months of
        // that UO2.1's engagement; it keeps its referent and the status it was judged on
        let follows = if uo == Uo::Uo2_2 {
            let Some(prior) = journey.iter().rev().find(|u| u.uo == Uo::Uo2_1) else {
                return Err(ApiError::precondition(
                    rules::UO2_1_NOT_SIGNED,
                    "a UO2.2 follows a UO2.1: this person has none",
                ));
            };
            let signed = prior
                .closure
                .as_ref()
                .is_some_and(|c| c.reason == codes::LIVRABLE_SIGNE);
            if !signed {
                return Err(ApiError::precondition(
                    rules::UO2_1_NOT_SIGNED,
                    format!(
                        "{} is not closed by its signed Projet professionnel",
                        named(caller, prior)
                    ),
                ));
            }
            if journey.iter().any(|u| u.follows == Some(prior.id)) {
                return Err(ApiError::precondition(
                    rules::UO2_1_ALREADY_FOLLOWED,
                    format!("{} already opened its UO2.2", named(caller, prior)),
                ));
            }
            if let Some(sent) = &referent
                && prior.referent.as_ref() != Some(sent)
            {
                return Err(ApiError::precondition(
                    rules::REFERENT_IS_THE_UO2_1S,
                    "a UO2.2 keeps its UO2.1's single referent: change it with AssignReferent and a reason",
                ));
            }
            let window = journey::deadline(Uo::Uo2_2, on, Some(prior.engagement_date));
            if window.is_none_or(|end| on > end) {
                return Err(ApiError::precondition(
                    rules::UO2_2_WINDOW_PASSED,
                    format!(
                        "a UO2.2 starts within 18 months of its UO2.1's engagement ({})",
                        prior.engagement_date
                    ),
                ));
            }
            Some(prior.clone())
        } else {
            None
        };
        let referent = referent.or_else(|| follows.as_ref().and_then(|p| p.referent.clone()));
        if uo == Uo::Uo2_1 && referent.is_none() {
            return Err(ApiError::precondition(
                rules::REFERENT_REQUIRED,
                "a UO2.1 names its single referent at its engagement (CCTP 2.1.3): send referent",
            ));
        }
        // CCTP 1.2.4: a journey under way goes on whatever the status became since
        let status = match &follows {
            Some(prior) => prior.status_at_engagement.clone(),
            None => person.employment_status.clone(),
        };
        let facts = eligibility::EligibilityFacts {
            employment_status: status
                .as_deref()
                .and_then(|s| self.tables.employment_status(s)),
            other_cep_operator: person.other_cep_operator.as_deref(),
            // a lot-19 person's competence is the lot taken over's
            lot: served.territory,
            home_lot: person.home_lot,
            work_lot: person.work_lot,
            lot_exception_justification: person.lot_exception.then_some("recorded"),
        };
        if let Some(first) = eligibility::check(uo, &facts).first() {
            return Err(ApiError::precondition(first.rule, first.message.clone()));
        }
        let (line, dossier, reference) = self.number(&mut tx, served, uo, on).await?;
        let now = self.now();
        let unit = Unit {
            id: Uuid::now_v7(),
            beneficiary_id: beneficiary,
            uo,
            lot: person.lot,
            lot_taken_over: served.taken_over,
            structure_id: person.structure_id.clone(),
            dossier_number: dossier.to_string(),
            line_id: line,
            purchase_order_reference: reference.to_string(),
            engagement_date: on,
            deadline: journey::deadline(uo, on, follows.as_ref().map(|p| p.engagement_date)),
            follows: follows.as_ref().map(|p| p.id),
            closure: None,
            referent,
            status_at_engagement: status,
            origin,
            request_reason,
            detailed_reason,
            outcome: None,
            signed_at: None,
            last_requested_interaction: Some(on),
            cpir_project: false,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        store::insert_unit(&mut tx, &unit).await?;
        self.remember(&mut tx, caller, request, "engagement", unit.id)
            .await?;
        store::first_exchange(&mut tx, beneficiary, on).await?;
        cep_bus::enqueue(&mut tx, events::engaged(&unit, now)).await?;
        tx.commit().await?;
        tracing::info!(uo_id = %unit.id, uo = %uo, lot = unit.lot.number(), "unit engaged");
        Ok(unit)
    }

    // ---- during the unit -----------------------------------------------------------

    pub async fn record_interaction(
        &self,
        caller: &Caller,
        uo_id: Uuid,
        i: NewInteraction,
        request: Option<Uuid>,
    ) -> Result<Interaction, ApiError> {
        caller.require_any_role(authz::WORK)?;
        let mut v = Violations::default();
        let t = &self.tables;
        let contact_mode = reference(
            &mut v,
            t,
            "contact_mode",
            names::CONTACT_MODE,
            &i.contact_mode,
            true,
        );
        let counsellor = required_text(&mut v, "counsellor", &i.counsellor, NAME_MAX);
        if !(0..=1440).contains(&i.duration_minutes) {
            v.add("duration_minutes", "must be from 0 to 1440");
        }
        let mut service_types = Vec::new();
        for (n, code) in i.service_types.iter().enumerate() {
            if let Some(code) = reference(
                &mut v,
                t,
                &format!("service_types[{n}]"),
                names::SERVICE_TYPE,
                code,
                true,
            ) {
                service_types.push(code);
            }
        }
        date(&mut v, "date", &i.date);
        v.into_result()?;
        let mut tx = self.pool.begin().await?;
        if let Some(first) = self
            .replayed(&mut tx, caller, request, "interaction")
            .await?
        {
            let done = store::get_interaction(&mut tx, first)
                .await?
                .ok_or_else(|| ApiError::internal("the interaction of a request vanished"))?;
            tx.commit().await?;
            return Ok(done);
        }
        let current = self.unit(&mut tx, caller, uo_id, true).await?;
        if !current.is_open() {
            return Err(ApiError::precondition(
                rules::UO_NOT_OPEN,
                format!("unit {} is closed", current.dossier_number),
            ));
        }
        let today = current.territory().today(self.now());
        let mut v = Violations::default();
        let on = past_date(
            &mut v,
            "date",
            &i.date,
            today,
            Some(current.engagement_date),
        );
        v.into_result()?;
        let (Some(on), Some(contact_mode), Some(counsellor)) = (on, contact_mode, counsellor)
        else {
            return Err(ApiError::invalid("date", "is required"));
        };
        let interaction = Interaction {
            id: Uuid::now_v7(),
            uo_id,
            date: on,
            contact_mode,
            duration_minutes: i.duration_minutes,
            counsellor,
            service_types,
            requested_by_beneficiary: i.requested_by_beneficiary,
        };
        let now = self.now();
        let mut next = current.clone();
        if i.requested_by_beneficiary && next.last_requested_interaction.is_none_or(|d| d < on) {
            next.last_requested_interaction = Some(on);
        }
        next.version += 1;
        next.updated_at = now;
        if !store::update_unit(&mut tx, &next, current.version).await? {
            return Err(conflict(uo_id, current.version, current.version + 1));
        }
        store::insert_interaction(&mut tx, &interaction, now).await?;
        self.remember(&mut tx, caller, request, "interaction", interaction.id)
            .await?;
        store::first_exchange(&mut tx, current.beneficiary_id, on).await?;
        cep_bus::enqueue(&mut tx, events::interaction(&next, &interaction, now)).await?;
        tx.commit().await?;
        Ok(interaction)
    }

    pub async fn assign_referent(
        &self,
        caller: &Caller,
        uo_id: Uuid,
        referent: &str,
        reason: &str,
        version: i64,
    ) -> Result<Shown, ApiError> {
        caller.require_any_role(authz::WORK)?;
        let mut v = Violations::default();
        let referent = required_text(&mut v, "referent", referent, NAME_MAX);
        let reason = required_text(&mut v, "reason", reason, TEXT_MAX);
        v.into_result()?;
        let (Some(referent), Some(reason)) = (referent, reason) else {
            return Err(ApiError::invalid("referent", "is required"));
        };
        let mut tx = self.pool.begin().await?;
        let current = self.unit(&mut tx, caller, uo_id, true).await?;
        if !current.is_open() || current.uo == Uo::Uo0 {
            return Err(ApiError::precondition(
                rules::UO_NOT_OPEN,
                format!("unit {} is not open", current.dossier_number),
            ));
        }
        if version != current.version {
            return Err(conflict(uo_id, version, current.version));
        }
        let now = self.now();
        let mut next = current.clone();
        next.referent = Some(referent.clone());
        next.version += 1;
        next.updated_at = now;
        if !store::update_unit(&mut tx, &next, current.version).await? {
            return Err(conflict(uo_id, version, current.version + 1));
        }
        let key = self
            .people
            .key(&mut tx, current.beneficiary_id.as_uuid())
            .await?;
        let sealed = sealing::seal(&key, current.beneficiary_id.as_uuid(), reason.as_bytes())
            .map_err(ApiError::internal)?;
        store::insert_referent_change(&mut tx, uo_id, &referent, &sealed, &caller.subject, now)
            .await?;
        let interactions = store::interactions_of(&mut tx, &[uo_id]).await?;
        tx.commit().await?;
        Ok(self.shown(next, interactions))
    }

    /// Closes an open unit at the person's wish; a UO2.2 with the person's written
    /// trace, the project state and a description (and so billable).
    pub async fn close_voluntarily(
        &self,
        caller: &Caller,
        uo_id: Uuid,
        c: VoluntaryClosure,
    ) -> Result<Shown, ApiError> {
        caller.require_any_role(authz::WORK)?;
        let mut v = Violations::default();
        let t = &self.tables;
        let reason = reference(&mut v, t, "reason", names::CLOSURE_REASON, &c.reason, true);
        if let Some(code) = &reason {
            let voluntary = t
                .table(names::CLOSURE_REASON)
                .and_then(|table| table.get(code))
                .and_then(|e| e.flag("voluntary"))
                .unwrap_or(false);
            if !voluntary {
                v.add(
                    "reason",
                    format!("{code} is not a voluntary closure reason (VOLONTAIRE_…)"),
                );
            }
        }
        let trace = text(
            &mut v,
            "written_trace_reference",
            &c.written_trace_reference,
            128,
        );
        let state = reference(
            &mut v,
            t,
            "project_state",
            names::PROJECT_STATE,
            &c.project_state,
            false,
        );
        let description = text(&mut v, "description", &c.description, TEXT_MAX);
        date(&mut v, "closure_date", &c.closure_date);
        v.into_result()?;
        let mut tx = self.pool.begin().await?;
        let current = self.unit(&mut tx, caller, uo_id, true).await?;
        if !current.is_open() {
            return Err(ApiError::precondition(
                rules::UO_NOT_OPEN,
                format!("unit {} is already closed", current.dossier_number),
            ));
        }
        if c.version != current.version {
            return Err(conflict(uo_id, c.version, current.version));
        }
        let today = current.territory().today(self.now());
        let mut v = Violations::default();
        let on = past_date(
            &mut v,
            "closure_date",
            &c.closure_date,
            today,
            Some(current.engagement_date),
        );
        if current.uo == Uo::Uo2_2 {
            for (field, value) in [
                ("written_trace_reference", trace.is_some()),
                ("project_state", state.is_some()),
                ("description", description.is_some()),
            ] {
                if !value {
                    v.add(field, "is required to close a UO2.2");
                }
            }
        }
        v.into_result()?;
        let (Some(on), Some(reason)) = (on, reason) else {
            return Err(ApiError::invalid("closure_date", "is required"));
        };
        let now = self.now();
        let mut next = current.clone();
        next.closure = Some(Closure {
            date: on,
            reason,
            // a UO2.2 closes by the person's written trace; a UO1 or UO2.1 is billable
            // by its signed deliverable, unless the settings pay voluntary closures
            billable: current.uo == Uo::Uo2_2 || self.billing.voluntary_closures,
            sealed: self
                .seal_texts(&mut tx, &current, &trace, &description)
                .await?,
            written_trace_reference: trace,
            project_state: state,
            description,
        });
        next.version += 1;
        next.updated_at = now;
        if !store::update_unit(&mut tx, &next, current.version).await? {
            return Err(conflict(uo_id, c.version, current.version + 1));
        }
        if let Some(closed) = events::closed(&next, now) {
            cep_bus::enqueue(&mut tx, closed).await?;
        }
        let interactions = store::interactions_of(&mut tx, &[uo_id]).await?;
        tx.commit().await?;
        Ok(self.shown(next, interactions))
    }

    /// The rules that would stop a closure by signature of `uo_id` now.
    pub async fn check_closure(
        &self,
        caller: &Caller,
        uo_id: Uuid,
    ) -> Result<Vec<Obstacle>, ApiError> {
        caller.require_any_role(authz::READ)?;
        let mut conn = self.pool.acquire().await?;
        let u = self.unit(&mut conn, caller, uo_id, false).await?;
        let mut obstacles = Vec::new();
        if !u.is_open() {
            obstacles.push(Obstacle {
                rule: rules::UO_NOT_OPEN,
                message: format!("unit {} is closed", u.dossier_number),
            });
        }
        if !matches!(u.uo, Uo::Uo1 | Uo::Uo2_1) {
            obstacles.push(Obstacle {
                rule: rules::NOT_CLOSED_BY_SIGNATURE,
                message: format!("a {} does not close by a signed deliverable", u.uo),
            });
        }
        match store::get_person(&mut conn, u.beneficiary_id).await? {
            Some(p) if p.erased => obstacles.push(Obstacle {
                rule: rules::BENEFICIARY_ERASED,
                message: "the person was erased".into(),
            }),
            Some(p) if !p.has_nir && self.nir_policy == NirPolicy::Required => {
                obstacles.push(Obstacle {
                    rule: rules::NIR_MISSING,
                    message: "the person's NIR is not on file (setting nir.policy = required)"
                        .into(),
                });
            }
            _ => {}
        }
        Ok(obstacles)
    }

    // ---- reading -------------------------------------------------------------------

    pub async fn journey(
        &self,
        caller: &Caller,
        beneficiary: BeneficiaryId,
    ) -> Result<Vec<Shown>, ApiError> {
        caller.require_any_role(authz::READ)?;
        let mut conn = self.pool.acquire().await?;
        let not_found = || ApiError::NotFound(format!("beneficiary {beneficiary}"));
        let person = store::get_person(&mut conn, beneficiary)
            .await?
            .ok_or_else(not_found)?;
        caller
            .check_scope(person.lot, &person.structure_id)
            .map_err(|_| not_found())?;
        let units = store::units_of(&mut conn, beneficiary).await?;
        self.shown_all(&mut conn, units).await
    }

    pub async fn list_due(
        &self,
        caller: &Caller,
        lot: i64,
        structure_id: &str,
        within_days: i32,
        page_size: i32,
        page_token: &str,
    ) -> Result<Page<Shown>, ApiError> {
        caller.require_any_role(authz::READ)?;
        let mut v = Violations::default();
        let limit = page_limit(&mut v, page_size);
        let lots = self.lots(&mut v, caller, lot)?;
        let within = if within_days == 0 { 7 } else { within_days };
        if !(1..=366).contains(&within) {
            v.add("within_days", "must be from 1 to 366");
        }
        let after = cursor(&mut v, page_token);
        let structures: Vec<String> = if structure_id.is_empty() {
            caller.structures.iter().cloned().collect()
        } else if !caller.structures.is_empty() && !caller.structures.contains(structure_id) {
            return Err(cep_kit::auth::Forbidden::Structure.into());
        } else {
            vec![structure_id.to_owned()]
        };
        v.into_result()?;
        // the latest "today" among the lots (overseas lots are behind Paris)
        let until = Lot::all()
            .filter(|l| lots.contains(&i16::from(l.number())))
            .map(|l| l.today(self.now()))
            .max()
            .unwrap_or_else(|| self.now().date_naive())
            + chrono::Days::new(u64::try_from(within).unwrap_or(7));
        let mut conn = self.pool.acquire().await?;
        let rows = store::list_due(&mut conn, &lots, &structures, until, after, limit + 1).await?;
        let shown: Vec<Shown> = rows
            .into_iter()
            .map(|u| self.shown(u, Vec::new()))
            .collect();
        Ok(Page::of(shown, limit, |last| {
            format!(
                "{}|{}",
                last.unit
                    .deadline
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                last.unit.id
            )
        }))
    }

    // ---- details of a UO2 ------------------------------------------------------------

    /// An open UO2 the caller may touch, locked.
    async fn open_uo2(
        &self,
        conn: &mut PgConnection,
        caller: &Caller,
        uo_id: Uuid,
    ) -> Result<Unit, ApiError> {
        let u = self.unit(conn, caller, uo_id, true).await?;
        if !u.is_open() {
            return Err(ApiError::precondition(
                rules::UO_NOT_OPEN,
                format!("unit {} is closed", u.dossier_number),
            ));
        }
        if !u.uo.is_uo2() {
            return Err(ApiError::precondition(
                rules::NOT_A_UO2,
                format!(
                    "a {} records no complementary service, work discovery or CPIR project",
                    u.uo
                ),
            ));
        }
        Ok(u)
    }

    pub async fn record_complementary_service(
        &self,
        caller: &Caller,
        uo_id: Uuid,
        kind: &str,
        provider: &str,
        auto_prescription: bool,
        funding: &str,
    ) -> Result<ComplementaryService, ApiError> {
        caller.require_any_role(authz::WORK)?;
        let mut v = Violations::default();
        let t = &self.tables;
        let kind = reference(&mut v, t, "kind", names::COMPLEMENTARY_SERVICE, kind, true);
        let provider = required_text(&mut v, "provider", provider, NAME_MAX);
        let funding = reference(&mut v, t, "funding", names::FUNDING, funding, false);
        v.into_result()?;
        let (Some(kind), Some(provider)) = (kind, provider) else {
            return Err(ApiError::invalid("kind", "is required"));
        };
        let mut tx = self.pool.begin().await?;
        let unit = self.open_uo2(&mut tx, caller, uo_id).await?;
        let c = ComplementaryService {
            id: Uuid::now_v7(),
            uo_id,
            kind,
            provider,
            auto_prescription,
            funding,
        };
        let at = self.now();
        store::insert_complementary_service(&mut tx, &c, at).await?;
        let on = unit.lot.today(at);
        cep_bus::enqueue(&mut tx, events::complementary_service(&unit, &c, on, at))
            .await
            .map_err(store::StoreError::from)?;
        tx.commit().await?;
        Ok(c)
    }

    pub async fn record_work_discovery(
        &self,
        caller: &Caller,
        uo_id: Uuid,
        kind: &str,
        from: &str,
        to: &str,
    ) -> Result<WorkDiscovery, ApiError> {
        caller.require_any_role(authz::WORK)?;
        let mut v = Violations::default();
        let kind = reference(
            &mut v,
            &self.tables,
            "kind",
            names::WORK_DISCOVERY,
            kind,
            true,
        );
        let from_date = date(&mut v, "from", from);
        let to_date = date(&mut v, "to", to);
        if let (Some(f), Some(t)) = (from_date, to_date)
            && t < f
        {
            v.add("to", "must not be before from");
        }
        v.into_result()?;
        let (Some(kind), Some(from), Some(to)) = (kind, from_date, to_date) else {
            return Err(ApiError::invalid("kind", "is required"));
        };
        let mut tx = self.pool.begin().await?;
        let u = self.open_uo2(&mut tx, caller, uo_id).await?;
        if from < u.engagement_date {
            return Err(ApiError::invalid(
                "from",
                format!("must not be before the engagement ({})", u.engagement_date),
            ));
        }
        let w = WorkDiscovery {
            id: Uuid::now_v7(),
            uo_id,
            kind,
            from,
            to,
        };
        store::insert_work_discovery(&mut tx, &w, self.now()).await?;
        tx.commit().await?;
        Ok(w)
    }

    pub async fn set_cpir_project(
        &self,
        caller: &Caller,
        uo_id: Uuid,
        filed: bool,
        version: i64,
    ) -> Result<Shown, ApiError> {
        caller.require_any_role(authz::WORK)?;
        let mut tx = self.pool.begin().await?;
        let current = self.open_uo2(&mut tx, caller, uo_id).await?;
        if version != current.version {
            return Err(conflict(uo_id, version, current.version));
        }
        let mut next = current.clone();
        if next.cpir_project != filed {
            next.cpir_project = filed;
            next.version += 1;
            next.updated_at = self.now();
            if !store::update_unit(&mut tx, &next, current.version).await? {
                return Err(conflict(uo_id, version, current.version + 1));
            }
        }
        let shown = self.shown_all(&mut tx, vec![next]).await?;
        tx.commit().await?;
        shown
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::internal("a unit vanished"))
    }

    // ---- first appointments ----------------------------------------------------------

    pub async fn record_appointment_request(
        &self,
        caller: &Caller,
        beneficiary: BeneficiaryId,
        requested_on: &str,
        channel: &str,
    ) -> Result<Appointment, ApiError> {
        caller.require_any_role(authz::AIGUILLAGE)?;
        let mut v = Violations::default();
        let channel = match channel {
            "ONLINE" | "UO0_CONTACT" | "PHONE" => Some(channel.to_owned()),
            _ => {
                v.add("channel", "must be ONLINE, UO0_CONTACT or PHONE");
                None
            }
        };
        date(&mut v, "requested_on", requested_on);
        v.into_result()?;
        let mut tx = self.pool.begin().await?;
        let person = self.person(&mut tx, caller, beneficiary).await?;
        let today = person.lot.today(self.now());
        let mut v = Violations::default();
        let on = past_date(&mut v, "requested_on", requested_on, today, None);
        v.into_result()?;
        let (Some(on), Some(channel)) = (on, channel) else {
            return Err(ApiError::invalid("requested_on", "is required"));
        };
        let a = Appointment {
            id: Uuid::now_v7(),
            beneficiary_id: beneficiary,
            lot: person.lot,
            structure_id: person.structure_id.clone(),
            requested_on: on,
            channel,
            due: WorkingDayCalendar::for_lot(person.lot)
                .add_working_days(on, FIRST_EXCHANGE_WORKING_DAYS),
            first_exchange_on: None,
        };
        store::insert_appointment(&mut tx, &a, self.now()).await?;
        cep_bus::enqueue(&mut tx, events::appointment(&a, self.now()))
            .await
            .map_err(store::StoreError::from)?;
        tx.commit().await?;
        Ok(a)
    }

    pub async fn appointments_at_risk(
        &self,
        caller: &Caller,
        lot: i64,
        within_working_days: i32,
        page_size: i32,
        page_token: &str,
    ) -> Result<Page<Appointment>, ApiError> {
        caller.require_any_role(authz::READ)?;
        let mut v = Violations::default();
        let limit = page_limit(&mut v, page_size);
        let lots = self.lots(&mut v, caller, lot)?;
        let within = if within_working_days == 0 {
            5
        } else {
            within_working_days
        };
        if !(1..=30).contains(&within) {
            v.add("within_working_days", "must be from 1 to 30");
        }
        let after = cursor(&mut v, page_token);
        v.into_result()?;
        // the latest limit among the lots' calendars
        let until = Lot::all()
            .filter(|l| lots.contains(&i16::from(l.number())))
            .map(|l| {
                WorkingDayCalendar::for_lot(l)
                    .add_working_days(l.today(self.now()), u32::try_from(within).unwrap_or(5))
            })
            .max()
            .unwrap_or_else(|| self.now().date_naive());
        let mut conn = self.pool.acquire().await?;
        let structures: Vec<String> = caller.structures.iter().cloned().collect();
        let rows =
            store::appointments_at_risk(&mut conn, &lots, &structures, until, after, limit + 1)
                .await?;
        Ok(Page::of(rows, limit, |last: &Appointment| {
            format!("{}|{}", last.due, last.id)
        }))
    }

    // ---- operator-level deliveries and statements --------------------------------------

    pub async fn record_operator_delivery(
        &self,
        caller: &Caller,
        lot: i64,
        uo: &str,
        delivered_on: &str,
        document_reference: &str,
    ) -> Result<OperatorDelivery, ApiError> {
        caller.require_any_role(authz::ORDER)?;
        let mut v = Violations::default();
        let lot = lot_field(&mut v, lot);
        let uo = match OrderedUo::parse(uo) {
            Some(u @ (OrderedUo::Uo3 | OrderedUo::Uo4 | OrderedUo::Uo5)) => Some(u),
            _ => {
                v.add(
                    "uo",
                    "must be UO3, UO4 or UO5 (the person's UOs are consumed by engagements)",
                );
                None
            }
        };
        let document = required_text(&mut v, "document_reference", document_reference, 128);
        date(&mut v, "delivered_on", delivered_on);
        v.into_result()?;
        let (Some(lot), Some(uo), Some(document)) = (lot, uo, document) else {
            return Err(ApiError::invalid("uo", "is required"));
        };
        caller.check_lot(lot)?;
        let mut v = Violations::default();
        let on = past_date(
            &mut v,
            "delivered_on",
            delivered_on,
            lot.today(self.now()),
            None,
        );
        v.into_result()?;
        let Some(on) = on else {
            return Err(ApiError::invalid("delivered_on", "is required"));
        };
        let mut tx = self.pool.begin().await?;
        let Some((line, rank, consumed)) = store::consume_line(&mut tx, lot, on.year(), uo).await?
        else {
            return Err(ApiError::exhausted(
                rules::NO_PURCHASE_ORDER_CAPACITY,
                format!(
                    "no purchase order of lot {} for {} has a {uo} line with capacity left",
                    lot.number(),
                    on.year()
                ),
            ));
        };
        let reference = PurchaseOrderReference::of_line(
            on.year(),
            lot,
            uo,
            u32::try_from(rank).unwrap_or(0),
            u32::try_from(consumed).unwrap_or(0),
        )
        .map_err(|e| ApiError::precondition(rules::LOT_TAKEN_OVER_REQUIRED, e.to_string()))?;
        let d = OperatorDelivery {
            id: Uuid::now_v7(),
            line_id: line,
            uo,
            lot,
            delivered_on: on,
            document_reference: document,
            purchase_order_reference: reference.to_string(),
        };
        store::insert_operator_delivery(&mut tx, &d, &caller.subject, self.now()).await?;
        tx.commit().await?;
        Ok(d)
    }

    /// The statement of `lot` for a quarter of `year`: its number, its bounds, its lines.
    pub async fn consumption_statement(
        &self,
        caller: &Caller,
        lot: i64,
        year: i32,
        quarter: i32,
    ) -> Result<(String, NaiveDate, NaiveDate, Vec<StatementLine>), ApiError> {
        caller.require_any_role(authz::READ_ORDERS)?;
        let mut v = Violations::default();
        let lot = lot_field(&mut v, lot);
        if !(2000..=2100).contains(&year) {
            v.add("year", "must be a year from 2000 to 2100");
        }
        let bounds = u32::try_from(quarter)
            .ok()
            .filter(|q| (1..=4).contains(q))
            .and_then(|q| {
                let from = NaiveDate::from_ymd_opt(year, 3 * q - 2, 1)?;
                let to = from
                    .checked_add_months(chrono::Months::new(3))?
                    .pred_opt()?;
                Some((q, from, to))
            });
        if bounds.is_none() {
            v.add("quarter", "must be from 1 to 4");
        }
        v.into_result()?;
        let (Some(lot), Some((q, from, to))) = (lot, bounds) else {
            return Err(ApiError::invalid("quarter", "is required"));
        };
        caller.check_lot(lot)?;
        let mut conn = self.pool.acquire().await?;
        let lines = store::statement(&mut conn, lot, year, from, to).await?;
        Ok((self.statements.number(year, lot, q), from, to, lines))
    }

    pub async fn missing_nir(
        &self,
        caller: &Caller,
        lot: i64,
        page_size: i32,
        page_token: &str,
    ) -> Result<Page<Shown>, ApiError> {
        caller.require_any_role(authz::READ)?;
        let mut v = Violations::default();
        let limit = page_limit(&mut v, page_size);
        let lots = self.lots(&mut v, caller, lot)?;
        let after = page_cursor::<Uuid>(&mut v, page_token);
        v.into_result()?;
        let mut conn = self.pool.acquire().await?;
        let structures: Vec<String> = caller.structures.iter().cloned().collect();
        let rows = store::missing_nir(&mut conn, &lots, &structures, after, limit + 1).await?;
        let shown = rows
            .into_iter()
            .map(|u| self.shown(u, Vec::new()))
            .collect();
        Ok(Page::of(shown, limit, |last: &Shown| {
            last.unit.id.to_string()
        }))
    }
}
