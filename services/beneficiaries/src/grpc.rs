//! `cep.beneficiaries.v1.BeneficiaryService`: translates between the contract and
//! the service's model, checks the caller's role and scope, and runs each change
//! with its outbox event and access-log row in one transaction.

use std::sync::Arc;

use cep_domain::{Nir, PostalCode, ReferenceTables, SharedClock, Uo, eligibility};
use cep_kit::auth::{self, Caller};
use cep_kit::settings::{OperatorSettings, Structure};
use cep_proto::beneficiaries as pb;
use cep_proto::beneficiaries::beneficiary_service_server::BeneficiaryService;
use sqlx::{PgConnection, PgPool};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::error::ApiError;
use crate::model::{Beneficiary, Profile, name_key, text};
use crate::validate::{self as check, ABROAD, Violations};
use crate::vault::NirVault;
use crate::{annex2, authz, events, store};

const PAGE_DEFAULT: i64 = 50;
const PAGE_MAX: i64 = 200;

/// The service's state shared by every call.
#[derive(Debug, Clone)]
pub struct BeneficiaryApi {
    pub pool: PgPool,
    pub vault: NirVault,
    pub tables: Arc<ReferenceTables>,
    pub clock: SharedClock,
    pub operator: OperatorSettings,
    /// `operator.structures`, parsed: each structure in its lot.
    pub structures: Arc<Vec<Structure>>,
}

/// The id of the record a call is about; recorded in the call's span only once it
/// is a UUID (a caller may paste anything there, a name or a NIR included).
fn parse_id(field: &str, value: &str) -> Result<Uuid, ApiError> {
    let id =
        Uuid::parse_str(value.trim()).map_err(|_| ApiError::invalid(field, "must be a UUID"))?;
    tracing::Span::current().record("beneficiary_id", tracing::field::display(id));
    Ok(id)
}

/// The reason that overrides a probable duplicate: required when `allow` is set.
fn duplicate_override(v: &mut Violations, allow: bool, reason: &str) -> Option<String> {
    let reason = check::optional_text(v, "duplicate_reason", reason);
    if allow && reason.is_none() {
        v.add("duplicate_reason", "is required with allow_duplicate");
    }
    reason.filter(|_| allow)
}

/// Refuses `b` when another live person of its lot has the same names and birth date,
/// unless `allowed`. Serialises the check across replicas with an advisory lock on
/// the identity, held until the transaction ends.
async fn refuse_identity_duplicate(
    conn: &mut PgConnection,
    b: &Beneficiary,
    allowed: bool,
) -> Result<(), ApiError> {
    let (Some(last), Some(first), Some(birth)) =
        (b.last_name_key(), b.first_name_key(), b.birth_date)
    else {
        return Ok(());
    };
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!(
            "identity:{}:{last}:{first}:{birth}",
            b.lot.number()
        ))
        .execute(&mut *conn)
        .await?;
    if allowed {
        return Ok(());
    }
    match store::find_same_identity(conn, b.lot, &last, &first, birth, b.id).await? {
        Some(existing) => Err(ApiError::AlreadyExists(format!(
            "probable duplicate of beneficiary {existing}: same names and birth date in lot {}; \
             set allow_duplicate with a duplicate_reason to go on anyway",
            b.lot.number()
        ))),
        None => Ok(()),
    }
}

fn parse_uo(value: i32) -> Result<Uo, ApiError> {
    Uo::from_proto(value)
        .ok_or_else(|| ApiError::invalid("uo", "must be one of UO0, UO1, UO2_1, UO2_2"))
}

fn roles_text(caller: &Caller) -> String {
    caller
        .roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

async fn log_read(
    conn: &mut PgConnection,
    caller: &Caller,
    action: &str,
    beneficiary: Option<Uuid>,
    count: i32,
) -> Result<(), ApiError> {
    store::log_access(
        conn,
        &caller.subject,
        &roles_text(caller),
        action,
        beneficiary,
        count,
    )
    .await?;
    Ok(())
}

/// The rows a page holds: `page_size` from 1 to [`PAGE_MAX`], 0 meaning [`PAGE_DEFAULT`].
fn page_limit(v: &mut Violations, page_size: i32) -> i64 {
    match i64::from(page_size) {
        0 => PAGE_DEFAULT,
        n if (1..=PAGE_MAX).contains(&n) => n,
        _ => {
            v.add("page_size", format!("must be between 1 and {PAGE_MAX}"));
            PAGE_DEFAULT
        }
    }
}

fn ensure_live(b: &Beneficiary) -> Result<(), ApiError> {
    if b.is_erased() {
        return Err(ApiError::Precondition {
            rule: "beneficiary_erased",
            message: format!("beneficiary {} was erased", b.id),
        });
    }
    Ok(())
}

fn to_profile(p: &Profile) -> pb::Profile {
    pb::Profile {
        sex: text(&p.sex),
        address_street_number: text(&p.address_street_number),
        address_street_type: text(&p.address_street_type),
        address_street_name: text(&p.address_street_name),
        address_postal_code: text(&p.address_postal_code),
        address_city: text(&p.address_city),
        education_level: text(&p.education_level),
        naf_section: text(&p.naf_section),
        company_size: text(&p.company_size),
        social_category: text(&p.social_category),
        sector_label: text(&p.sector_label),
        job_label: text(&p.job_label),
        company_entry_month: text(&p.company_entry_month),
        disability: text(&p.disability),
        employer_department: text(&p.employer_department),
        employer_postal_code: text(&p.employer_postal_code),
        employer_city: text(&p.employer_city),
    }
}

fn to_proto(b: &Beneficiary, full_nir: Option<String>) -> pb::Beneficiary {
    pb::Beneficiary {
        beneficiary_id: b.id.to_string(),
        lot: i32::from(b.lot.number()),
        structure_id: b.structure_id.clone(),
        last_name: text(&b.last_name),
        first_name: text(&b.first_name),
        usual_name: text(&b.usual_name),
        birth_date: b.birth_date.map(|d| d.to_string()).unwrap_or_default(),
        employment_status: text(&b.employment_status),
        email: text(&b.email),
        phone: text(&b.phone),
        home_postal_code: text(&b.home_postal_code),
        work_postal_code: text(&b.work_postal_code),
        operator_ref: text(&b.operator_ref),
        other_cep_operator: text(&b.other_cep_operator),
        lot_exception_justification: text(&b.lot_exception_justification),
        has_nir: b.nir_sealed.is_some(),
        nir_masked: text(&b.nir_masked),
        nir: full_nir.unwrap_or_default(),
        profile: Some(to_profile(&b.profile)),
        version: b.version,
        reference_version: text(&b.reference_version),
        created_at: b.created_at.to_rfc3339(),
        updated_at: b.updated_at.to_rfc3339(),
        erased_at: b.erased_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
    }
}

impl BeneficiaryApi {
    fn today(&self, b_lot: cep_domain::Lot) -> chrono::NaiveDate {
        b_lot.today(self.clock.now())
    }

    /// The full NIR for the roles that need it.
    fn full_nir(&self, caller: &Caller, b: &Beneficiary) -> Result<Option<String>, ApiError> {
        match &b.nir_sealed {
            Some(sealed) if caller.has_any_role(authz::READ_FULL_NIR) => {
                Ok(Some(self.vault.decrypt(b.id, sealed)?.as_str().to_owned()))
            }
            _ => Ok(None),
        }
    }

    /// Loads a record (locked when `for_update`) and checks the caller may touch it.
    async fn load(
        &self,
        conn: &mut PgConnection,
        caller: &Caller,
        id: Uuid,
        for_update: bool,
    ) -> Result<Beneficiary, Status> {
        let found = if for_update {
            store::get_for_update(conn, id).await
        } else {
            store::get(conn, id).await
        };
        let b = found
            .map_err(ApiError::from)?
            .ok_or(ApiError::NotFound(id))?;
        caller.check_scope(b.lot, &b.structure_id)?;
        Ok(b)
    }

    async fn register(
        &self,
        caller: &Caller,
        r: pb::RegisterRequest,
    ) -> Result<pb::RegisterResponse, Status> {
        caller.require_any_role(authz::REGISTER)?;
        let mut v = Violations::default();
        let lot = check::lot(&mut v, "lot", i64::from(r.lot), &self.operator.lots);
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
        let birth_date = check::birth_date(&mut v, "birth_date", &r.birth_date, today);
        let status = check::reference(
            &mut v,
            &self.tables,
            "employment_status",
            "employment_status",
            &r.employment_status,
            true,
        );
        let usual_name =
            check::optional_name(&mut v, "usual_name", r.usual_name.as_deref().unwrap_or(""));
        let email = check::optional_email(&mut v, "email", r.email.as_deref().unwrap_or(""));
        let phone = check::optional_phone(&mut v, "phone", r.phone.as_deref().unwrap_or(""));
        let home = check::optional_postal_code(
            &mut v,
            "home_postal_code",
            r.home_postal_code.as_deref().unwrap_or(""),
        );
        let work = check::optional_postal_code(
            &mut v,
            "work_postal_code",
            r.work_postal_code.as_deref().unwrap_or(""),
        );
        let operator_ref = check::optional_text(
            &mut v,
            "operator_ref",
            r.operator_ref.as_deref().unwrap_or(""),
        );
        let other = check::reference(
            &mut v,
            &self.tables,
            "other_cep_operator",
            "other_cep_operator",
            r.other_cep_operator.as_deref().unwrap_or(""),
            false,
        );
        let justification = check::optional_text(
            &mut v,
            "lot_exception_justification",
            r.lot_exception_justification.as_deref().unwrap_or(""),
        );
        let duplicate_reason = duplicate_override(&mut v, r.allow_duplicate, &r.duplicate_reason);
        let (
            Some(lot),
            Some(structure_id),
            Some(last_name),
            Some(first_name),
            Some(birth_date),
            Some(status),
        ) = (lot, structure_id, last_name, first_name, birth_date, status)
        else {
            return Err(ApiError::Invalid(v).into());
        };
        v.into_result().map_err(ApiError::from)?;
        caller.check_scope(lot, &structure_id)?;

        let now = self.clock.now();
        let b = Beneficiary {
            id: Uuid::now_v7(),
            lot,
            structure_id,
            last_name: Some(last_name),
            first_name: Some(first_name),
            usual_name,
            birth_date: Some(birth_date),
            employment_status: Some(status),
            email,
            phone,
            home_postal_code: home.map(|p| p.as_str().to_owned()),
            work_postal_code: work.map(|p| p.as_str().to_owned()),
            operator_ref,
            other_cep_operator: other,
            lot_exception_justification: justification,
            profile: Profile::default(),
            reference_version: Some(self.tables.version.clone()),
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
        let mut tx = self.pool.begin().await.map_err(ApiError::from)?;
        refuse_identity_duplicate(&mut tx, &b, r.allow_duplicate).await?;
        store::insert(&mut tx, &b).await.map_err(ApiError::from)?;
        cep_bus::enqueue(&mut tx, events::registered(&b))
            .await
            .map_err(ApiError::from)?;
        tx.commit().await.map_err(ApiError::from)?;
        tracing::info!(beneficiary_id = %b.id, lot = lot.number(), "beneficiary registered");
        Ok(pb::RegisterResponse {
            beneficiary_id: b.id.to_string(),
            version: b.version,
        })
    }

    async fn update(
        &self,
        caller: &Caller,
        r: pb::UpdateRequest,
    ) -> Result<pb::Beneficiary, Status> {
        caller.require_any_role(authz::UPDATE)?;
        let id = parse_id("beneficiary_id", &r.beneficiary_id)?;
        let mut tx = self.pool.begin().await.map_err(ApiError::from)?;
        let current = self.load(&mut tx, caller, id, true).await?;
        ensure_live(&current)?;
        if r.version != current.version {
            return Err(ApiError::VersionConflict {
                id,
                sent: r.version,
                current: current.version,
            }
            .into());
        }
        let today = self.today(current.lot);
        let mut next = current.clone();
        let mut v = Violations::default();
        let mut changed: Vec<String> = Vec::new();
        macro_rules! set {
            ($field:ident, $name:literal, $value:expr) => {
                if let Some(new) = $value {
                    if next.$field != new {
                        next.$field = new;
                        changed.push($name.to_owned());
                    }
                }
            };
        }
        macro_rules! set_profile {
            ($field:ident, $value:expr) => {
                if let Some(new) = $value {
                    if next.profile.$field != new {
                        next.profile.$field = new;
                        changed.push(concat!("profile.", stringify!($field)).to_owned());
                    }
                }
            };
        }
        let tables = &self.tables;
        set!(
            structure_id,
            "structure_id",
            r.structure_id.as_deref().and_then(|s| check::structure_id(
                &mut v,
                "structure_id",
                s,
                Some(current.lot),
                &self.structures
            ))
        );
        set!(
            last_name,
            "last_name",
            r.last_name
                .as_deref()
                .map(|s| check::name(&mut v, "last_name", s))
                .filter(Option::is_some)
        );
        set!(
            first_name,
            "first_name",
            r.first_name
                .as_deref()
                .map(|s| check::name(&mut v, "first_name", s))
                .filter(Option::is_some)
        );
        set!(
            usual_name,
            "usual_name",
            r.usual_name
                .as_deref()
                .map(|s| check::optional_name(&mut v, "usual_name", s))
        );
        set!(
            birth_date,
            "birth_date",
            r.birth_date
                .as_deref()
                .map(|s| check::birth_date(&mut v, "birth_date", s, today))
                .filter(Option::is_some)
        );
        set!(
            employment_status,
            "employment_status",
            r.employment_status
                .as_deref()
                .map(|s| check::reference(
                    &mut v,
                    tables,
                    "employment_status",
                    "employment_status",
                    s,
                    true
                ))
                .filter(Option::is_some)
        );
        set!(
            email,
            "email",
            r.email
                .as_deref()
                .map(|s| check::optional_email(&mut v, "email", s))
        );
        set!(
            phone,
            "phone",
            r.phone
                .as_deref()
                .map(|s| check::optional_phone(&mut v, "phone", s))
        );
        set!(
            home_postal_code,
            "home_postal_code",
            r.home_postal_code
                .as_deref()
                .map(
                    |s| check::optional_postal_code(&mut v, "home_postal_code", s)
                        .map(|p| p.as_str().to_owned())
                )
        );
        set!(
            work_postal_code,
            "work_postal_code",
            r.work_postal_code
                .as_deref()
                .map(
                    |s| check::optional_postal_code(&mut v, "work_postal_code", s)
                        .map(|p| p.as_str().to_owned())
                )
        );
        set!(
            operator_ref,
            "operator_ref",
            r.operator_ref
                .as_deref()
                .map(|s| check::optional_text(&mut v, "operator_ref", s))
        );
        set!(
            other_cep_operator,
            "other_cep_operator",
            r.other_cep_operator.as_deref().map(|s| check::reference(
                &mut v,
                tables,
                "other_cep_operator",
                "other_cep_operator",
                s,
                false
            ))
        );
        set!(
            lot_exception_justification,
            "lot_exception_justification",
            r.lot_exception_justification
                .as_deref()
                .map(|s| check::optional_text(&mut v, "lot_exception_justification", s))
        );
        if let Some(p) = r.profile {
            set_profile!(
                sex,
                p.sex
                    .as_deref()
                    .map(|s| check::optional_sex(&mut v, "profile.sex", s))
            );
            set_profile!(
                address_street_number,
                p.address_street_number
                    .as_deref()
                    .map(|s| check::optional_street_number(
                        &mut v,
                        "profile.address_street_number",
                        s
                    ))
            );
            set_profile!(
                address_street_type,
                p.address_street_type
                    .as_deref()
                    .map(|s| check::optional_text(&mut v, "profile.address_street_type", s))
            );
            set_profile!(
                address_street_name,
                p.address_street_name
                    .as_deref()
                    .map(|s| check::optional_text(&mut v, "profile.address_street_name", s))
            );
            set_profile!(
                address_postal_code,
                p.address_postal_code
                    .as_deref()
                    .map(
                        |s| check::optional_postal_code(&mut v, "profile.address_postal_code", s)
                            .map(|p| p.as_str().to_owned())
                    )
            );
            set_profile!(
                address_city,
                p.address_city.as_deref().map(|s| check::optional_text(
                    &mut v,
                    "profile.address_city",
                    s
                ))
            );
            set_profile!(
                education_level,
                p.education_level.as_deref().map(|s| check::reference(
                    &mut v,
                    tables,
                    "profile.education_level",
                    "education_level",
                    s,
                    false
                ))
            );
            set_profile!(
                naf_section,
                p.naf_section.as_deref().map(|s| check::reference(
                    &mut v,
                    tables,
                    "profile.naf_section",
                    "naf_section",
                    s,
                    false
                ))
            );
            set_profile!(
                company_size,
                p.company_size.as_deref().map(|s| check::reference(
                    &mut v,
                    tables,
                    "profile.company_size",
                    "company_size",
                    s,
                    false
                ))
            );
            set_profile!(
                social_category,
                p.social_category.as_deref().map(|s| check::reference(
                    &mut v,
                    tables,
                    "profile.social_category",
                    "social_category",
                    s,
                    false
                ))
            );
            set_profile!(
                sector_label,
                p.sector_label.as_deref().map(|s| check::optional_text(
                    &mut v,
                    "profile.sector_label",
                    s
                ))
            );
            set_profile!(
                job_label,
                p.job_label.as_deref().map(|s| check::optional_text(
                    &mut v,
                    "profile.job_label",
                    s
                ))
            );
            set_profile!(
                company_entry_month,
                p.company_entry_month
                    .as_deref()
                    .map(|s| check::optional_month(
                        &mut v,
                        "profile.company_entry_month",
                        s,
                        today
                    ))
            );
            set_profile!(
                disability,
                p.disability.as_deref().map(|s| check::reference(
                    &mut v,
                    tables,
                    "profile.disability",
                    "disability_status",
                    s,
                    false
                ))
            );
            set_profile!(
                employer_department,
                p.employer_department
                    .as_deref()
                    .map(|s| check::optional_employer_department(
                        &mut v,
                        "profile.employer_department",
                        s
                    ))
            );
            // checked against the department the record will have
            let abroad = next.profile.employer_department.as_deref() == Some(ABROAD);
            set_profile!(
                employer_postal_code,
                p.employer_postal_code
                    .as_deref()
                    .map(|s| check::optional_employer_postal_code(
                        &mut v,
                        "profile.employer_postal_code",
                        s,
                        abroad
                    ))
            );
            set_profile!(
                employer_city,
                p.employer_city.as_deref().map(|s| check::optional_text(
                    &mut v,
                    "profile.employer_city",
                    s
                ))
            );
            check::employer_location(&mut v, &next.profile);
        }
        let duplicate_reason = duplicate_override(&mut v, r.allow_duplicate, &r.duplicate_reason);
        v.into_result().map_err(ApiError::from)?;
        caller.check_scope(next.lot, &next.structure_id)?;
        let identity_changed = changed
            .iter()
            .any(|f| matches!(f.as_str(), "last_name" | "first_name" | "birth_date"));
        if identity_changed {
            refuse_identity_duplicate(&mut tx, &next, r.allow_duplicate).await?;
            if duplicate_reason.is_some() {
                next.duplicate_reason = duplicate_reason;
            }
        }
        if !changed.is_empty() {
            next.version = current.version + 1;
            next.updated_at = self.clock.now();
            next.reference_version = Some(self.tables.version.clone());
            if !store::update(&mut tx, &next, current.version)
                .await
                .map_err(ApiError::from)?
            {
                return Err(ApiError::VersionConflict {
                    id,
                    sent: r.version,
                    current: current.version + 1,
                }
                .into());
            }
            cep_bus::enqueue(&mut tx, events::updated(&next, changed))
                .await
                .map_err(ApiError::from)?;
        }
        log_read(&mut tx, caller, "update", Some(id), 1).await?;
        let full_nir = self.full_nir(caller, &next)?;
        tx.commit().await.map_err(ApiError::from)?;
        Ok(to_proto(&next, full_nir))
    }

    async fn set_nir(
        &self,
        caller: &Caller,
        r: pb::SetNirRequest,
    ) -> Result<pb::SetNirResponse, Status> {
        caller.require_any_role(authz::SET_NIR)?;
        let id = parse_id("beneficiary_id", &r.beneficiary_id)?;
        let mut v = Violations::default();
        let nir = match Nir::parse(&r.nir) {
            Ok(nir) => Some(nir),
            Err(e) => {
                v.add("nir", format!("{e} (rule {})", e.rule()));
                None
            }
        };
        let duplicate_reason = duplicate_override(&mut v, r.allow_duplicate, &r.duplicate_reason);
        let Some(nir) = nir.filter(|_| v.is_empty()) else {
            return Err(ApiError::Invalid(v).into());
        };
        let index = self.vault.blind_index(&nir).map_err(ApiError::from)?;
        let mut tx = self.pool.begin().await.map_err(ApiError::from)?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("nir:{}", hex(&index)))
            .execute(&mut *tx)
            .await
            .map_err(ApiError::from)?;
        let current = self.load(&mut tx, caller, id, true).await?;
        ensure_live(&current)?;
        let existing = store::find_by_nir_index(&mut tx, &index, id)
            .await
            .map_err(ApiError::from)?;
        if let (Some(existing), false) = (existing, r.allow_duplicate) {
            return Err(ApiError::AlreadyExists(format!(
                "probable duplicate of beneficiary {existing}: the same NIR is recorded there; \
                 set allow_duplicate with a duplicate_reason to record it anyway"
            ))
            .into());
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
        let mut next = current.clone();
        next.nir_sealed = Some(self.vault.encrypt(id, &nir).map_err(ApiError::from)?);
        next.nir_index = Some(index);
        next.nir_masked = Some(nir.masked());
        if duplicate_reason.is_some() {
            next.duplicate_reason = duplicate_reason;
        }
        next.version = current.version + 1;
        next.updated_at = self.clock.now();
        if !store::update(&mut tx, &next, current.version)
            .await
            .map_err(ApiError::from)?
        {
            return Err(ApiError::VersionConflict {
                id,
                sent: current.version,
                current: current.version + 1,
            }
            .into());
        }
        cep_bus::enqueue(&mut tx, events::nir_set(&next))
            .await
            .map_err(ApiError::from)?;
        // the reply carries the masked NIR (sex, birth year and month)
        log_read(&mut tx, caller, "set_nir", Some(id), 1).await?;
        tx.commit().await.map_err(ApiError::from)?;
        tracing::info!(beneficiary_id = %id, warnings = warnings.len(), "nir recorded");
        Ok(pb::SetNirResponse {
            nir_masked: nir.masked(),
            version: next.version,
            warnings,
        })
    }

    async fn search(
        &self,
        caller: &Caller,
        r: pb::SearchRequest,
    ) -> Result<pb::SearchResponse, Status> {
        caller.require_any_role(authz::READ)?;
        let mut v = Violations::default();
        let limit = page_limit(&mut v, r.page_size);
        let lots: Vec<i16> = if r.lot == 0 {
            caller.lots.iter().map(|l| i16::from(*l)).collect()
        } else {
            match cep_domain::Lot::new(i64::from(r.lot)) {
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
        let structures: Vec<String> = if r.structure_id.trim().is_empty() {
            caller.structures.iter().cloned().collect()
        } else {
            match check::structure_id(&mut v, "structure_id", &r.structure_id, None, &[]) {
                Some(s) if !caller.structures.is_empty() && !caller.structures.contains(&s) => {
                    return Err(Status::permission_denied(
                        "structure_id is outside the caller's structures",
                    ));
                }
                Some(s) => vec![s],
                None => Vec::new(),
            }
        };
        let name_prefix_key = if r.name_prefix.trim().is_empty() {
            None
        } else {
            check::name(&mut v, "name_prefix", &r.name_prefix).map(|n| name_key(&n))
        };
        let birth_date = if r.birth_date.trim().is_empty() {
            None
        } else {
            check::birth_date(
                &mut v,
                "birth_date",
                &r.birth_date,
                self.clock.now().date_naive() + chrono::Days::new(1),
            )
        };
        let nir_index = if r.nir.trim().is_empty() {
            None
        } else {
            match Nir::parse(&r.nir) {
                Ok(nir) => Some(self.vault.blind_index(&nir).map_err(ApiError::from)?),
                Err(e) => {
                    v.add("nir", format!("{e} (rule {})", e.rule()));
                    None
                }
            }
        };
        let after = if r.page_token.is_empty() {
            None
        } else {
            match Uuid::parse_str(&r.page_token) {
                Ok(id) => Some(id),
                Err(_) => {
                    v.add("page_token", "is not a token this service returned");
                    None
                }
            }
        };
        v.into_result().map_err(ApiError::from)?;
        let query = store::SearchQuery {
            lots,
            structures,
            name_prefix_key,
            birth_date,
            nir_index,
            after,
            limit: limit + 1,
        };
        let mut conn = self.pool.acquire().await.map_err(ApiError::from)?;
        let mut found = store::search(&mut conn, &query)
            .await
            .map_err(ApiError::from)?;
        let more = found.len() as i64 > limit;
        found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next_page_token = match (more, found.last()) {
            (true, Some(last)) => last.id.to_string(),
            _ => String::new(),
        };
        // Whose data the search showed, one access-log row each.
        let shown: Vec<Uuid> = found.iter().map(|b| b.id).collect();
        store::log_access_each(
            &mut conn,
            &caller.subject,
            &roles_text(caller),
            "search",
            &shown,
        )
        .await
        .map_err(ApiError::from)?;
        Ok(pb::SearchResponse {
            results: found
                .iter()
                .map(|b| pb::BeneficiarySummary {
                    beneficiary_id: b.id.to_string(),
                    lot: i32::from(b.lot.number()),
                    structure_id: b.structure_id.clone(),
                    last_name: text(&b.last_name),
                    usual_name: text(&b.usual_name),
                    first_name: text(&b.first_name),
                    birth_date: b.birth_date.map(|d| d.to_string()).unwrap_or_default(),
                    nir_masked: text(&b.nir_masked),
                })
                .collect(),
            next_page_token,
        })
    }

    async fn check_eligibility(
        &self,
        caller: &Caller,
        r: pb::CheckEligibilityRequest,
    ) -> Result<pb::CheckEligibilityResponse, Status> {
        caller.require_any_role(authz::CHECK)?;
        let id = parse_id("beneficiary_id", &r.beneficiary_id)?;
        let uo = parse_uo(r.uo)?;
        let mut conn = self.pool.acquire().await.map_err(ApiError::from)?;
        let b = self.load(&mut conn, caller, id, false).await?;
        ensure_live(&b)?;
        // the answer reveals the person's status and situation
        log_read(&mut conn, caller, "check_eligibility", Some(id), 1).await?;
        let lot_of = |code: &Option<String>| {
            code.as_deref()
                .and_then(|c| PostalCode::parse(c).ok())
                .and_then(|p| p.lot().ok())
        };
        let facts = eligibility::EligibilityFacts {
            employment_status: b
                .employment_status
                .as_deref()
                .and_then(|s| self.tables.employment_status(s)),
            other_cep_operator: b.other_cep_operator.as_deref(),
            lot: b.lot,
            home_lot: lot_of(&b.home_postal_code),
            work_lot: lot_of(&b.work_postal_code),
            lot_exception_justification: b.lot_exception_justification.as_deref(),
        };
        let failed = eligibility::check(uo, &facts);
        Ok(pb::CheckEligibilityResponse {
            eligible: failed.is_empty(),
            failed_rules: failed
                .into_iter()
                .map(|f| pb::FailedRule {
                    rule: f.rule.to_owned(),
                    message: f.message,
                })
                .collect(),
        })
    }

    async fn validate_for(
        &self,
        caller: &Caller,
        r: pb::ValidateForRequest,
    ) -> Result<pb::ValidateForResponse, Status> {
        caller.require_any_role(authz::CHECK)?;
        let id = parse_id("beneficiary_id", &r.beneficiary_id)?;
        let uo = parse_uo(r.uo)?;
        let mut conn = self.pool.acquire().await.map_err(ApiError::from)?;
        let b = self.load(&mut conn, caller, id, false).await?;
        ensure_live(&b)?;
        // the answer reveals which of the person's fields are filled
        log_read(&mut conn, caller, "validate_for", Some(id), 1).await?;
        let missing = annex2::missing_fields(&b, uo);
        Ok(pb::ValidateForResponse {
            complete: missing.is_empty(),
            missing_fields: missing.into_iter().map(str::to_owned).collect(),
        })
    }

    async fn export(
        &self,
        caller: &Caller,
        r: pb::ExportPersonalDataRequest,
    ) -> Result<pb::ExportPersonalDataResponse, Status> {
        caller.require_any_role(authz::EXPORT)?;
        let id = parse_id("beneficiary_id", &r.beneficiary_id)?;
        let mut tx = self.pool.begin().await.map_err(ApiError::from)?;
        let b = self.load(&mut tx, caller, id, false).await?;
        log_read(&mut tx, caller, "export", Some(id), 1).await?;
        // The full NIR only for the roles that see it elsewhere; masked for the others.
        let nir = self.full_nir(caller, &b)?.or_else(|| b.nir_masked.clone());
        let history = store::access_history(&mut tx, id)
            .await
            .map_err(ApiError::from)?;
        tx.commit().await.map_err(ApiError::from)?;
        let document = serde_json::json!({
            "beneficiary": b,
            "nir": nir,
            "access_log": history
                .iter()
                .map(|(at, subject, action)| serde_json::json!({"at": at, "by": subject, "action": action}))
                .collect::<Vec<_>>(),
            "exported_at": self.clock.now(),
        });
        // Serialising a `serde_json::Value` to a string cannot fail.
        let json = serde_json::to_string_pretty(&document).unwrap_or_else(|_| document.to_string());
        Ok(pb::ExportPersonalDataResponse { json })
    }

    async fn list_accesses(
        &self,
        caller: &Caller,
        r: pb::ListAccessesRequest,
    ) -> Result<pb::ListAccessesResponse, Status> {
        caller.require_any_role(authz::AUDIT)?;
        let id = parse_id("beneficiary_id", &r.beneficiary_id)?;
        let mut v = Violations::default();
        let limit = page_limit(&mut v, r.page_size);
        let after = if r.page_token.is_empty() {
            0
        } else {
            r.page_token.parse::<i64>().unwrap_or_else(|_| {
                v.add("page_token", "is not a token this service returned");
                0
            })
        };
        v.into_result().map_err(ApiError::from)?;
        let mut tx = self.pool.begin().await.map_err(ApiError::from)?;
        // scope checked on the record, erased or not: a tombstone's history stays auditable
        self.load(&mut tx, caller, id, false).await?;
        let mut rows = store::accesses(&mut tx, id, after, limit + 1)
            .await
            .map_err(ApiError::from)?;
        let more = rows.len() as i64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        log_read(&mut tx, caller, "list_accesses", Some(id), 1).await?;
        tx.commit().await.map_err(ApiError::from)?;
        let next_page_token = match (more, rows.last()) {
            (true, Some(last)) => last.id.to_string(),
            _ => String::new(),
        };
        Ok(pb::ListAccessesResponse {
            accesses: rows
                .into_iter()
                .map(|a| pb::Access {
                    at: a.at.to_rfc3339(),
                    subject: a.subject,
                    roles: a.roles,
                    action: a.action,
                })
                .collect(),
            next_page_token,
        })
    }

    async fn erase(
        &self,
        caller: &Caller,
        r: pb::EraseRequest,
    ) -> Result<pb::EraseResponse, Status> {
        caller.require_any_role(authz::ERASE)?;
        let id = parse_id("beneficiary_id", &r.beneficiary_id)?;
        let mut v = Violations::default();
        let reason = check::optional_text(&mut v, "reason", &r.reason);
        if reason.is_none() && v.is_empty() {
            v.add("reason", "is required: why the person's data is erased");
        }
        v.into_result().map_err(ApiError::from)?;
        let mut tx = self.pool.begin().await.map_err(ApiError::from)?;
        let current = self.load(&mut tx, caller, id, true).await?;
        if let Some(at) = current.erased_at {
            return Ok(pb::EraseResponse {
                erased_at: at.to_rfc3339(),
            });
        }
        let now = self.clock.now();
        let tomb = Beneficiary {
            id,
            lot: current.lot,
            structure_id: current.structure_id.clone(),
            last_name: None,
            first_name: None,
            usual_name: None,
            birth_date: None,
            employment_status: None,
            email: None,
            phone: None,
            home_postal_code: None,
            work_postal_code: None,
            operator_ref: None,
            other_cep_operator: None,
            lot_exception_justification: None,
            profile: Profile::default(),
            reference_version: current.reference_version.clone(),
            nir_sealed: None,
            nir_index: None,
            nir_masked: None,
            duplicate_reason: None,
            erasure_reason: reason,
            version: current.version + 1,
            created_at: current.created_at,
            updated_at: now,
            erased_at: Some(now),
        };
        if !store::update(&mut tx, &tomb, current.version)
            .await
            .map_err(ApiError::from)?
        {
            return Err(ApiError::VersionConflict {
                id,
                sent: current.version,
                current: current.version + 1,
            }
            .into());
        }
        // Facts not yet published carry the person's data: never publish them.
        cep_bus::discard_unsent(&mut tx, &id.to_string())
            .await
            .map_err(ApiError::from)?;
        // Facts already published may carry it too: drop them from the outbox.
        cep_bus::prune_published(&mut tx, std::time::Duration::ZERO)
            .await
            .map_err(ApiError::from)?;
        cep_bus::enqueue(&mut tx, events::erased(&tomb))
            .await
            .map_err(ApiError::from)?;
        log_read(&mut tx, caller, "erase", Some(id), 1).await?;
        tx.commit().await.map_err(ApiError::from)?;
        tracing::info!(beneficiary_id = %id, "beneficiary erased");
        Ok(pb::EraseResponse {
            erased_at: now.to_rfc3339(),
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tonic::async_trait]
impl BeneficiaryService for BeneficiaryApi {
    #[tracing::instrument(skip_all, fields(lot = request.get_ref().lot, beneficiary_id = tracing::field::Empty))]
    async fn register(
        &self,
        request: Request<pb::RegisterRequest>,
    ) -> Result<Response<pb::RegisterResponse>, Status> {
        let caller = auth::caller(&request)?.clone();
        self.register(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    #[tracing::instrument(skip_all, fields(beneficiary_id = tracing::field::Empty))]
    async fn get(
        &self,
        request: Request<pb::GetRequest>,
    ) -> Result<Response<pb::Beneficiary>, Status> {
        let caller = auth::caller(&request)?.clone();
        caller.require_any_role(authz::READ)?;
        let id = parse_id("beneficiary_id", &request.get_ref().beneficiary_id)?;
        let mut tx = self.pool.begin().await.map_err(ApiError::from)?;
        let b = self.load(&mut tx, &caller, id, false).await?;
        log_read(&mut tx, &caller, "get", Some(id), 1).await?;
        let full_nir = self.full_nir(&caller, &b)?;
        tx.commit().await.map_err(ApiError::from)?;
        Ok(Response::new(to_proto(&b, full_nir)))
    }

    #[tracing::instrument(skip_all, fields(beneficiary_id = tracing::field::Empty))]
    async fn update(
        &self,
        request: Request<pb::UpdateRequest>,
    ) -> Result<Response<pb::Beneficiary>, Status> {
        let caller = auth::caller(&request)?.clone();
        self.update(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    #[tracing::instrument(skip_all)]
    async fn search(
        &self,
        request: Request<pb::SearchRequest>,
    ) -> Result<Response<pb::SearchResponse>, Status> {
        let caller = auth::caller(&request)?.clone();
        self.search(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    #[tracing::instrument(skip_all, fields(beneficiary_id = tracing::field::Empty))]
    async fn set_nir(
        &self,
        request: Request<pb::SetNirRequest>,
    ) -> Result<Response<pb::SetNirResponse>, Status> {
        let caller = auth::caller(&request)?.clone();
        self.set_nir(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    #[tracing::instrument(skip_all, fields(beneficiary_id = tracing::field::Empty))]
    async fn check_eligibility(
        &self,
        request: Request<pb::CheckEligibilityRequest>,
    ) -> Result<Response<pb::CheckEligibilityResponse>, Status> {
        let caller = auth::caller(&request)?.clone();
        self.check_eligibility(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    #[tracing::instrument(skip_all, fields(beneficiary_id = tracing::field::Empty))]
    async fn validate_for(
        &self,
        request: Request<pb::ValidateForRequest>,
    ) -> Result<Response<pb::ValidateForResponse>, Status> {
        let caller = auth::caller(&request)?.clone();
        self.validate_for(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    #[tracing::instrument(skip_all, fields(beneficiary_id = tracing::field::Empty))]
    async fn export_personal_data(
        &self,
        request: Request<pb::ExportPersonalDataRequest>,
    ) -> Result<Response<pb::ExportPersonalDataResponse>, Status> {
        let caller = auth::caller(&request)?.clone();
        self.export(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    #[tracing::instrument(skip_all, fields(beneficiary_id = tracing::field::Empty))]
    async fn erase(
        &self,
        request: Request<pb::EraseRequest>,
    ) -> Result<Response<pb::EraseResponse>, Status> {
        let caller = auth::caller(&request)?.clone();
        self.erase(&caller, request.into_inner())
            .await
            .map(Response::new)
    }

    #[tracing::instrument(skip_all, fields(beneficiary_id = tracing::field::Empty))]
    async fn list_accesses(
        &self,
        request: Request<pb::ListAccessesRequest>,
    ) -> Result<Response<pb::ListAccessesResponse>, Status> {
        let caller = auth::caller(&request)?.clone();
        self.list_accesses(&caller, request.into_inner())
            .await
            .map(Response::new)
    }
}
