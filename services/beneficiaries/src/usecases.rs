//! The service's use cases: each checks the caller's role and scope, applies the
//! rules, and commits the change with its outbox event and access-log rows in one
//! transaction. Inputs are plain commands (the gRPC adapter builds them); errors are
//! the platform's [`ApiError`].

use std::sync::Arc;

use cep_domain::{
    BeneficiaryId, Lot, Nir, PostalCode, ReferenceTable, ReferenceTables, SharedClock, Uo,
    eligibility,
};
use cep_kit::auth::Caller;
use cep_kit::settings::{OperatorSettings, Structure};
use cep_runtime::request::{Page, page_cursor, page_limit};
use cep_runtime::{ApiError, Violations, access_log};
use sqlx::{PgConnection, PgPool};

use crate::edit::{self, Field};
use crate::model::{Beneficiary, Profile, name_key};
use crate::record;
use crate::validate as check;
use crate::vault::Vault;
use crate::{annex2, authz, events, store};

/// A registration as the caller sent it.
#[derive(Debug, Default, Clone)]
pub struct Registration {
    pub lot: i64,
    pub structure_id: String,
    pub last_name: String,
    pub first_name: String,
    pub birth_date: String,
    pub employment_status: String,
    pub usual_name: String,
    pub email: String,
    pub phone: String,
    pub home_postal_code: String,
    pub work_postal_code: String,
    pub operator_ref: String,
    pub other_cep_operator: String,
    pub lot_exception_justification: String,
    pub duplicate: DuplicateOverride,
}

/// The caller's wish to record a probable duplicate anyway, and why.
#[derive(Debug, Default, Clone)]
pub struct DuplicateOverride {
    pub allow: bool,
    pub reason: String,
}

/// An update: the fields sent (others are kept), from `version`.
#[derive(Debug, Clone)]
pub struct Update {
    pub id: BeneficiaryId,
    pub version: i64,
    pub edits: Vec<(Field, String)>,
    pub duplicate: DuplicateOverride,
}

/// A search as the caller sent it; empty strings mean "any".
#[derive(Debug, Default, Clone)]
pub struct SearchQuery {
    pub lot: i64,
    pub structure_id: String,
    pub name_prefix: String,
    pub birth_date: String,
    pub nir: String,
    pub page_size: i32,
    pub page_token: String,
}

/// A record as one caller may see it: the full NIR only for the roles that need it.
#[derive(Debug)]
pub struct Shown {
    pub beneficiary: Beneficiary,
    pub full_nir: Option<String>,
}

/// The answer of `SetNir`.
#[derive(Debug)]
pub struct NirRecorded {
    pub masked: String,
    pub version: i64,
    pub warnings: Vec<String>,
}

/// The rules of eligibility that failed (none when eligible), and the rule that lets
/// a person go on whose status changed during a journey under way.
#[derive(Debug, Default)]
pub struct Eligibility {
    pub failed: Vec<eligibility::FailedRule>,
    pub continued_by: Option<&'static str>,
}

/// The rule of [`Eligibility::continued_by`].
pub const JOURNEY_UNDER_WAY: &str = "JOURNEY_UNDER_WAY";
/// The NIR is asked once a UO1 or UO2.1 is engaged (annex 2, note 37).
pub const NIR_BEFORE_ENGAGEMENT: &str = "NIR_BEFORE_ENGAGEMENT";

/// The service's state shared by every call.
#[derive(Debug, Clone)]
pub struct Cases {
    pub pool: PgPool,
    pub refusals: access_log::Refusals,
    pub vault: Vault,
    pub tables: Arc<ReferenceTables>,
    pub clock: SharedClock,
    pub operator: OperatorSettings,
    /// `operator.structures`, parsed: each structure in its lot.
    pub structures: Arc<Vec<Structure>>,
    /// The working ages the service registers (`[age]`).
    pub ages: check::AgeBounds,
}

fn ensure_live(b: &Beneficiary) -> Result<(), ApiError> {
    if b.is_erased() {
        return Err(ApiError::precondition(
            "beneficiary_erased",
            format!("beneficiary {} was erased", b.id),
        ));
    }
    Ok(())
}

fn conflict(id: BeneficiaryId, sent: i64, current: i64) -> ApiError {
    ApiError::Conflict(format!(
        "version {sent} is not the current version {current} of beneficiary {id}: read it again"
    ))
}

/// The reason that overrides a probable duplicate: required when `allow` is set.
fn duplicate_reason(v: &mut Violations, d: &DuplicateOverride) -> Option<String> {
    let reason = check::optional_text(v, "duplicate_reason", &d.reason);
    if d.allow && reason.is_none() {
        v.add("duplicate_reason", "is required with allow_duplicate");
    }
    reason.filter(|_| d.allow)
}

impl Cases {
    fn today(&self, lot: Lot) -> chrono::NaiveDate {
        lot.today(self.clock.now())
    }

    async fn log(
        &self,
        conn: &mut PgConnection,
        caller: &Caller,
        action: &str,
        records: &[BeneficiaryId],
    ) -> Result<(), ApiError> {
        access_log::record(conn, self.clock.now(), caller, action, records).await?;
        Ok(())
    }

    /// The full NIR for the roles that need it.
    fn full_nir(&self, caller: &Caller, b: &Beneficiary) -> Result<Option<String>, ApiError> {
        match &b.nir_sealed {
            Some(sealed) if caller.has_any_role(authz::READ_FULL_NIR) => {
                let key = record::data_key(&self.vault, b)?
                    .ok_or_else(|| ApiError::internal("a sealed NIR without its data key"))?;
                Ok(Some(
                    self.vault
                        .decrypt_nir(b.id, &key, sealed)?
                        .as_str()
                        .to_owned(),
                ))
            }
            _ => Ok(None),
        }
    }

    fn shown(&self, caller: &Caller, beneficiary: Beneficiary) -> Result<Shown, ApiError> {
        let full_nir = self.full_nir(caller, &beneficiary)?;
        Ok(Shown {
            beneficiary,
            full_nir,
        })
    }

    /// Loads a record (locked when `for_update`) the caller may touch. A record
    /// outside the caller's scope answers as an unknown one (the answer never tells
    /// that it exists, nor its lot), and the attempt is logged.
    async fn load(
        &self,
        conn: &mut PgConnection,
        caller: &Caller,
        id: BeneficiaryId,
        action: &str,
        for_update: bool,
    ) -> Result<Beneficiary, ApiError> {
        let found = if for_update {
            store::get_for_update(conn, id).await?
        } else {
            store::get(conn, id).await?
        };
        let found = found.map(|s| record::open(&self.vault, s)).transpose()?;
        let not_found = || ApiError::NotFound(format!("beneficiary {id}"));
        let b = found.ok_or_else(not_found)?;
        if caller.check_scope(b.lot, &b.structure_id).is_err() {
            self.log_refusal(caller, &format!("{action}_out_of_scope"), &[id])
                .await?;
            return Err(not_found());
        }
        Ok(b)
    }

    /// Writes the access-log row of a refused call, outside the call's transaction
    /// (which the refusal rolls back).
    async fn log_refusal(
        &self,
        caller: &Caller,
        action: &str,
        records: &[BeneficiaryId],
    ) -> Result<(), ApiError> {
        self.refusals
            .record(self.clock.now(), caller, action, records)
            .await?;
        Ok(())
    }

    /// The refusal of a probable duplicate of `holder`'s record. It names that record
    /// only when the caller may see it; otherwise it says a record exists elsewhere,
    /// with no id and no lot, cannot be overridden, and the attempt is logged.
    async fn duplicate_refusal(
        &self,
        caller: &Caller,
        holder: &store::Holder,
        record: BeneficiaryId,
        what: &str,
        allowed: bool,
    ) -> Result<(), ApiError> {
        if caller
            .check_scope(holder.lot, &holder.structure_id)
            .is_err()
        {
            self.log_refusal(caller, "duplicate_out_of_scope", &[record, holder.id])
                .await?;
            return Err(ApiError::AlreadyExists(format!(
                "this person is probably already followed outside your scope ({what}): \
                 contact your manager or the SI team, who can see both records"
            )));
        }
        if allowed {
            return Ok(());
        }
        Err(ApiError::AlreadyExists(format!(
            "probable duplicate of beneficiary {}: {what}; set allow_duplicate with a \
             duplicate_reason to go on anyway",
            holder.id
        )))
    }

    /// Refuses `b` when another live person of its lot has the same names and birth
    /// date, unless `allowed` (and that record is in the caller's scope); the check
    /// is serialised across replicas.
    async fn refuse_identity_duplicate(
        &self,
        conn: &mut PgConnection,
        caller: &Caller,
        b: &Beneficiary,
        allowed: bool,
    ) -> Result<(), ApiError> {
        let Some(identity) = record::identity_index(&self.vault, b)? else {
            return Ok(());
        };
        store::lock_identity(conn, &identity).await?;
        match store::find_same_identity(conn, b.lot, &identity, b.id).await? {
            Some(holder) => {
                self.duplicate_refusal(caller, &holder, b.id, "same names and birth date", allowed)
                    .await
            }
            None => Ok(()),
        }
    }

    pub async fn register(
        &self,
        caller: &Caller,
        r: Registration,
    ) -> Result<Beneficiary, ApiError> {
        caller.require_any_role(authz::REGISTER)?;
        let mut v = Violations::default();
        let lot = check::lot(&mut v, "lot", r.lot, &self.operator.lots);
        let today = lot.map_or_else(|| self.clock.now().date_naive(), |l| self.today(l));
        let structure_id = check::structure_id(
            &mut v,
            "structure_id",
            &r.structure_id,
            lot,
            &self.structures,
        );
        let last_name = check::name(&mut v, "last_name", &r.last_name);
        let first_name = check::name(&mut v, "first_name", &r.first_name);
        let birth_date = check::birth_date(&mut v, "birth_date", &r.birth_date, today, self.ages);
        let status = check::reference(
            &mut v,
            &self.tables,
            "employment_status",
            "employment_status",
            &r.employment_status,
            true,
        );
        let usual_name = check::optional_name(&mut v, "usual_name", &r.usual_name);
        let email = check::optional_email(&mut v, "email", &r.email);
        let phone = check::optional_phone(&mut v, "phone", &r.phone);
        let home = check::optional_postal_code(&mut v, "home_postal_code", &r.home_postal_code);
        let work = check::optional_postal_code(&mut v, "work_postal_code", &r.work_postal_code);
        let operator_ref = check::optional_text(&mut v, "operator_ref", &r.operator_ref);
        let other = check::reference(
            &mut v,
            &self.tables,
            "other_cep_operator",
            "other_cep_operator",
            &r.other_cep_operator,
            false,
        );
        let justification = check::optional_text(
            &mut v,
            "lot_exception_justification",
            &r.lot_exception_justification,
        );
        let duplicate_reason = duplicate_reason(&mut v, &r.duplicate);
        let (
            Some(lot),
            Some(structure_id),
            Some(last_name),
            Some(first_name),
            Some(birth_date),
            Some(status),
        ) = (lot, structure_id, last_name, first_name, birth_date, status)
        else {
            return Err(ApiError::Invalid(v));
        };
        v.into_result()?;
        caller.check_scope(lot, &structure_id)?;

        let now = self.clock.now();
        let id = BeneficiaryId::generate();
        let (_, data_key) = self.vault.new_data_key(id)?;
        let b = Beneficiary {
            id,
            lot,
            structure_id,
            last_name: Some(last_name),
            first_name: Some(first_name),
            usual_name,
            birth_date: Some(birth_date),
            employment_status: Some(status),
            email,
            phone,
            home_postal_code: home,
            work_postal_code: work,
            operator_ref,
            other_cep_operator: other,
            lot_exception_justification: justification,
            profile: Profile::default(),
            reference_version: Some(self.tables.version.clone()),
            data_key: Some(data_key),
            nir_sealed: None,
            nir_index: None,
            nir_masked: None,
            duplicate_reason,
            erasure_reason: None,
            version: 1,
            created_at: now,
            updated_at: now,
            erased_at: None,
        };
        let mut tx = self.pool.begin().await?;
        self.refuse_identity_duplicate(&mut tx, caller, &b, r.duplicate.allow)
            .await?;
        store::insert(&mut tx, &record::seal(&self.vault, &b)?).await?;
        cep_bus::enqueue(&mut tx, events::registered(&b)).await?;
        tx.commit().await?;
        tracing::info!(beneficiary_id = %b.id, lot = lot.number(), "beneficiary registered");
        Ok(b)
    }

    pub async fn get(&self, caller: &Caller, id: BeneficiaryId) -> Result<Shown, ApiError> {
        caller.require_any_role(authz::READ)?;
        let mut tx = self.pool.begin().await?;
        let b = self.load(&mut tx, caller, id, "get", false).await?;
        self.log(&mut tx, caller, "get", &[id]).await?;
        let shown = self.shown(caller, b)?;
        tx.commit().await?;
        Ok(shown)
    }

    /// Applies the fields sent under their rules ([`edit`]); a change of identity is
    /// checked for duplicates; an update that changes nothing keeps the version.
    pub async fn update(&self, caller: &Caller, u: Update) -> Result<Shown, ApiError> {
        caller.require_any_role(authz::UPDATE)?;
        let mut tx = self.pool.begin().await?;
        let current = self.load(&mut tx, caller, u.id, "update", true).await?;
        ensure_live(&current)?;
        if u.version != current.version {
            return Err(conflict(u.id, u.version, current.version));
        }
        let rules = edit::Rules {
            tables: &self.tables,
            structures: &self.structures,
            today: self.today(current.lot),
            ages: self.ages,
        };
        let mut v = Violations::default();
        let mut next = current.clone();
        let changed = edit::apply_all(&mut next, u.edits, &rules, &mut v);
        let duplicate_reason = duplicate_reason(&mut v, &u.duplicate);
        v.into_result()?;
        caller.check_scope(next.lot, &next.structure_id)?;
        if changed.iter().any(|f| f.is_identity()) {
            self.refuse_identity_duplicate(&mut tx, caller, &next, u.duplicate.allow)
                .await?;
            if duplicate_reason.is_some() {
                next.duplicate_reason = duplicate_reason;
            }
        }
        if !changed.is_empty() {
            next.version = current.version + 1;
            next.updated_at = self.clock.now();
            next.reference_version = Some(self.tables.version.clone());
            if !store::update(&mut tx, &record::seal(&self.vault, &next)?, current.version).await? {
                return Err(conflict(u.id, u.version, current.version + 1));
            }
            let names = changed.iter().map(|f| f.name().to_owned()).collect();
            cep_bus::enqueue(&mut tx, events::updated(&next, names)).await?;
        }
        self.log(&mut tx, caller, "update", &[u.id]).await?;
        let shown = self.shown(caller, next)?;
        tx.commit().await?;
        Ok(shown)
    }

    pub async fn set_nir(
        &self,
        caller: &Caller,
        id: BeneficiaryId,
        nir: &str,
        duplicate: DuplicateOverride,
    ) -> Result<NirRecorded, ApiError> {
        caller.require_any_role(authz::SET_NIR)?;
        let mut v = Violations::default();
        let nir = match Nir::parse(nir) {
            Ok(nir) => Some(nir),
            Err(e) => {
                v.add("nir", format!("{e} (rule {})", e.rule()));
                None
            }
        };
        let duplicate_reason = duplicate_reason(&mut v, &duplicate);
        let Some(nir) = nir.filter(|_| v.is_empty()) else {
            return Err(ApiError::Invalid(v));
        };
        let index = self.vault.blind_index(&nir)?;
        let mut tx = self.pool.begin().await?;
        store::lock_nir(&mut tx, &index).await?;
        let current = self.load(&mut tx, caller, id, "set_nir", true).await?;
        ensure_live(&current)?;
        if !store::journey_state(&mut tx, id)
            .await?
            .engaged_uo1_or_uo2_1
        {
            return Err(ApiError::precondition(
                NIR_BEFORE_ENGAGEMENT,
                "the NIR is asked once a UO1 or UO2.1 is engaged, not at the first contact \
                 (annex 2, note 37)",
            ));
        }
        let unchanged = current.nir_index.as_deref() == Some(index.as_slice());
        if let (false, Some(holder)) = (
            unchanged,
            store::find_by_nir_index(&mut tx, &index, id).await?,
        ) {
            self.duplicate_refusal(caller, &holder, id, "the same NIR", duplicate.allow)
                .await?;
        }
        let sex = current
            .profile
            .sex
            .as_deref()
            .and_then(|s| s.parse::<cep_domain::Sex>().ok());
        let warnings: Vec<String> = nir
            .check_consistency(current.birth_date, sex)
            .iter()
            .map(|w| format!("{}: {w}", w.rule()))
            .collect();
        if unchanged {
            // the same NIR again: nothing changes, no new version, no event
            self.log(&mut tx, caller, "set_nir", &[id]).await?;
            tx.commit().await?;
            return Ok(NirRecorded {
                masked: nir.masked(),
                version: current.version,
                warnings,
            });
        }
        let mut next = current.clone();
        let key = record::data_key(&self.vault, &current)?
            .ok_or_else(|| ApiError::internal("a live record without its data key"))?;
        next.nir_sealed = Some(self.vault.encrypt_nir(id, &key, &nir)?);
        next.nir_index = Some(index);
        next.nir_masked = Some(nir.masked());
        if duplicate_reason.is_some() {
            next.duplicate_reason = duplicate_reason;
        }
        next.version = current.version + 1;
        next.updated_at = self.clock.now();
        if !store::update(&mut tx, &record::seal(&self.vault, &next)?, current.version).await? {
            return Err(conflict(id, current.version, current.version + 1));
        }
        cep_bus::enqueue(&mut tx, events::nir_set(&next)).await?;
        // the reply carries the masked NIR (sex, birth year and month)
        self.log(&mut tx, caller, "set_nir", &[id]).await?;
        tx.commit().await?;
        tracing::info!(beneficiary_id = %id, warnings = warnings.len(), "nir recorded");
        Ok(NirRecorded {
            masked: nir.masked(),
            version: next.version,
            warnings,
        })
    }

    /// A page of the live records in the caller's scope matching `q`, oldest first;
    /// one access-log row per person shown.
    pub async fn search(
        &self,
        caller: &Caller,
        q: SearchQuery,
    ) -> Result<Page<Beneficiary>, ApiError> {
        caller.require_any_role(authz::READ)?;
        let mut v = Violations::default();
        let limit = page_limit(&mut v, q.page_size);
        let lots: Vec<i16> = if q.lot == 0 {
            caller.lots.iter().map(|l| i16::from(*l)).collect()
        } else {
            match Lot::new(q.lot) {
                Ok(lot) => {
                    caller.check_lot(lot)?;
                    vec![i16::from(lot.number())]
                }
                Err(e) => {
                    v.add("lot", e.to_string());
                    Vec::new()
                }
            }
        };
        let structures: Vec<String> = if q.structure_id.trim().is_empty() {
            caller.structures.iter().cloned().collect()
        } else {
            match check::structure_id(&mut v, "structure_id", &q.structure_id, None, &[]) {
                Some(s) if !caller.structures.is_empty() && !caller.structures.contains(&s) => {
                    return Err(cep_kit::auth::Forbidden::Structure.into());
                }
                Some(s) => vec![s],
                None => Vec::new(),
            }
        };
        let name_prefix = if q.name_prefix.trim().is_empty() {
            None
        } else {
            check::name(&mut v, "name_prefix", &q.name_prefix)
        };
        if name_prefix
            .as_deref()
            .is_some_and(|p| name_key(p).chars().count() > crate::vault::NAME_PREFIX_MAX)
        {
            v.add(
                "name_prefix",
                format!(
                    "must be at most {} characters (the first letters of a name)",
                    crate::vault::NAME_PREFIX_MAX
                ),
            );
        }
        let birth_date = if q.birth_date.is_empty() {
            None
        } else {
            check::date(&mut v, "birth_date", &q.birth_date)
        };
        let nir_index = if q.nir.trim().is_empty() {
            None
        } else {
            match Nir::parse(&q.nir) {
                Ok(nir) => Some(self.vault.blind_index(&nir)?),
                Err(e) => {
                    v.add("nir", format!("{e} (rule {})", e.rule()));
                    None
                }
            }
        };
        let after = page_cursor::<BeneficiaryId>(&mut v, &q.page_token);
        v.into_result()?;
        let query = store::SearchQuery {
            lots,
            structures,
            name_prefix_index: name_prefix
                .map(|p| record::name_prefix_index(&self.vault, &p))
                .transpose()?,
            birth_date_index: birth_date
                .map(|d| self.vault.birth_date_index(d))
                .transpose()?,
            nir_index,
            after,
            limit: limit + 1,
        };
        let mut tx = self.pool.begin().await?;
        let found = store::search(&mut tx, &query)
            .await?
            .into_iter()
            .map(|s| record::open(&self.vault, s))
            .collect::<Result<Vec<_>, _>>()?;
        let page = Page::of(found, limit, |last| last.id.to_string());
        let shown: Vec<BeneficiaryId> = page.rows.iter().map(|b| b.id).collect();
        self.log(&mut tx, caller, "search", &shown).await?;
        tx.commit().await?;
        Ok(page)
    }

    /// Loads a live record for a check about it, logging the answer (it reveals the
    /// person's situation, or which of their fields are filled).
    async fn load_for_check(
        &self,
        caller: &Caller,
        id: BeneficiaryId,
        action: &str,
    ) -> Result<Beneficiary, ApiError> {
        caller.require_any_role(authz::CHECK)?;
        let mut tx = self.pool.begin().await?;
        let b = self.load(&mut tx, caller, id, action, false).await?;
        ensure_live(&b)?;
        self.log(&mut tx, caller, action, &[id]).await?;
        tx.commit().await?;
        Ok(b)
    }

    /// The rules of eligibility to `uo` that fail, and, when the person is eligible
    /// only because a journey is under way (judged on the status at its engagement,
    /// CCTP 1.2.4), the rule that lets them continue.
    pub async fn check_eligibility(
        &self,
        caller: &Caller,
        id: BeneficiaryId,
        uo: Uo,
    ) -> Result<Eligibility, ApiError> {
        let b = self.load_for_check(caller, id, "check_eligibility").await?;
        let lot_of = |code: &Option<PostalCode>| code.as_ref().and_then(|p| p.lot().ok());
        let facts = |status: Option<&str>| eligibility::EligibilityFacts {
            employment_status: status.and_then(|s| self.tables.employment_status(s)),
            other_cep_operator: b.other_cep_operator.as_deref(),
            lot: b.lot,
            home_lot: lot_of(&b.home_postal_code),
            work_lot: lot_of(&b.work_postal_code),
            lot_exception_justification: b.lot_exception_justification.as_deref(),
        };
        let failed = eligibility::check(uo, &facts(b.employment_status.as_deref()));
        if failed.is_empty() {
            return Ok(Eligibility::default());
        }
        let mut conn = self.pool.acquire().await?;
        if let Some(status) = store::journey_state(&mut conn, id).await?.open_since_status
            && eligibility::check(uo, &facts(status.as_deref())).is_empty()
        {
            return Ok(Eligibility {
                failed: Vec::new(),
                continued_by: Some(JOURNEY_UNDER_WAY),
            });
        }
        Ok(Eligibility {
            failed,
            continued_by: None,
        })
    }

    /// The annex-2 fields still missing for `uo`.
    pub async fn validate_for(
        &self,
        caller: &Caller,
        id: BeneficiaryId,
        uo: Uo,
    ) -> Result<Vec<&'static str>, ApiError> {
        let b = self.load_for_check(caller, id, "validate_for").await?;
        Ok(annex2::missing_fields(&b, uo))
    }

    /// Everything held about the person, as JSON (right of access): the record, the
    /// NIR (full for the roles that see it elsewhere, masked for the others) and who
    /// accessed it.
    pub async fn export(&self, caller: &Caller, id: BeneficiaryId) -> Result<String, ApiError> {
        caller.require_any_role(authz::EXPORT)?;
        let mut tx = self.pool.begin().await?;
        let b = self.load(&mut tx, caller, id, "export", false).await?;
        self.log(&mut tx, caller, "export", &[id]).await?;
        let nir = self.full_nir(caller, &b)?.or_else(|| b.nir_masked.clone());
        let history = access_log::about(&mut tx, id, 0, i64::MAX).await?;
        tx.commit().await?;
        let document = serde_json::json!({
            "beneficiary": b,
            "nir": nir,
            "access_log": history
                .iter()
                .map(|a| serde_json::json!({"at": a.at, "by": a.subject, "action": a.action}))
                .collect::<Vec<_>>(),
            "exported_at": self.clock.now(),
        });
        // Serialising a `serde_json::Value` to a string cannot fail.
        Ok(serde_json::to_string_pretty(&document).unwrap_or_else(|_| document.to_string()))
    }

    /// A page of who accessed the person's data, in the order the calls wrote it.
    pub async fn list_accesses(
        &self,
        caller: &Caller,
        id: BeneficiaryId,
        page_size: i32,
        page_token: &str,
    ) -> Result<Page<access_log::AccessRow>, ApiError> {
        caller.require_any_role(authz::AUDIT)?;
        let mut v = Violations::default();
        let limit = page_limit(&mut v, page_size);
        let after = page_cursor::<i64>(&mut v, page_token).unwrap_or(0);
        v.into_result()?;
        let mut tx = self.pool.begin().await?;
        // scope checked on the record, erased or not: a tombstone's history stays auditable
        self.load(&mut tx, caller, id, "list_accesses", false)
            .await?;
        let rows = access_log::about(&mut tx, id, after, limit + 1).await?;
        self.log(&mut tx, caller, "list_accesses", &[id]).await?;
        tx.commit().await?;
        Ok(Page::of(rows, limit, |last| last.id.to_string()))
    }

    /// Removes the person's data, keeping a tombstone (id, lot, structure, dates, the
    /// reason), and every fact about them still in the outbox. Erasing twice answers
    /// the first erasure's time.
    pub async fn erase(
        &self,
        caller: &Caller,
        id: BeneficiaryId,
        reason: &str,
    ) -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
        caller.require_any_role(authz::ERASE)?;
        let mut v = Violations::default();
        let reason = check::optional_text(&mut v, "reason", reason);
        if reason.is_none() && v.is_empty() {
            v.add("reason", "is required: why the person's data is erased");
        }
        v.into_result()?;
        let mut tx = self.pool.begin().await?;
        let current = self.load(&mut tx, caller, id, "erase", true).await?;
        if let Some(at) = current.erased_at {
            return Ok(at);
        }
        let now = self.clock.now();
        let tomb = current.tombstone(reason, now);
        if !store::erase(&mut tx, &record::seal(&self.vault, &tomb)?, current.version).await? {
            return Err(conflict(id, current.version, current.version + 1));
        }
        cep_bus::enqueue(&mut tx, events::erased(&tomb)).await?;
        self.log(&mut tx, caller, "erase", &[id]).await?;
        tx.commit().await?;
        tracing::info!(beneficiary_id = %id, "beneficiary erased");
        Ok(now)
    }

    /// The reference tables in force (the built-in ones or `reference.tables_path`'s),
    /// every one, or the one named. They hold no personal data: no access-log row.
    pub fn reference_tables(
        &self,
        caller: &Caller,
        table: &str,
    ) -> Result<ReferenceListing<'_>, ApiError> {
        caller.require_any_role(authz::READ)?;
        let name = table.trim();
        let tables = if name.is_empty() {
            self.tables.tables().collect()
        } else {
            let found = self.tables.table(name).ok_or_else(|| {
                let known: Vec<&str> = self.tables.tables().map(|t| t.name()).collect();
                ApiError::invalid(
                    "table",
                    format!("is not a reference table; one of {}", known.join(", ")),
                )
            })?;
            vec![found]
        };
        Ok(ReferenceListing {
            version: &self.tables.version,
            tables,
        })
    }
}

/// The answer of `ListReferenceTables`: the set's version and the tables asked for,
/// by name.
#[derive(Debug)]
pub struct ReferenceListing<'a> {
    pub version: &'a str,
    pub tables: Vec<&'a ReferenceTable>,
}
