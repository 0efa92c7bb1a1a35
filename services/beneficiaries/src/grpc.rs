//! `cep.beneficiaries.v1.BeneficiaryService`: translates requests into the commands
//! of [`crate::usecases`] and their results into replies; nothing else.

use cep_domain::{BeneficiaryId, Uo};
use cep_proto::beneficiaries as pb;
use cep_proto::beneficiaries::beneficiary_service_server::BeneficiaryService;
use cep_runtime::request::parse_typed_id;
use cep_runtime::{ApiError, handle};
use tonic::{Request, Response, Status};

use crate::edit::Field;
use crate::model::{Beneficiary, Profile, code, text};
use crate::usecases::{Cases, DuplicateOverride, Registration, SearchQuery, Shown, Update};

/// The gRPC face of the use cases.
#[derive(Debug, Clone)]
pub struct BeneficiaryGrpc {
    pub cases: Cases,
}

fn parse_uo(value: i32) -> Result<Uo, ApiError> {
    Uo::from_proto(value)
        .ok_or_else(|| ApiError::invalid("uo", "must be one of UO0, UO1, UO2_1, UO2_2"))
}

fn id_of(value: &str) -> Result<BeneficiaryId, ApiError> {
    parse_typed_id("beneficiary_id", value)
}

fn duplicate(allow: bool, reason: String) -> DuplicateOverride {
    DuplicateOverride { allow, reason }
}

fn registration(r: pb::RegisterRequest) -> Registration {
    Registration {
        lot: i64::from(r.lot),
        structure_id: r.structure_id,
        last_name: r.last_name,
        first_name: r.first_name,
        birth_date: r.birth_date,
        employment_status: r.employment_status,
        usual_name: r.usual_name.unwrap_or_default(),
        email: r.email.unwrap_or_default(),
        phone: r.phone.unwrap_or_default(),
        home_postal_code: r.home_postal_code.unwrap_or_default(),
        work_postal_code: r.work_postal_code.unwrap_or_default(),
        operator_ref: r.operator_ref.unwrap_or_default(),
        other_cep_operator: r.other_cep_operator.unwrap_or_default(),
        lot_exception_justification: r.lot_exception_justification.unwrap_or_default(),
        duplicate: duplicate(r.allow_duplicate, r.duplicate_reason),
    }
}

/// The fields an update request sets: those present.
fn edits(r: pb::UpdateRequest) -> Vec<(Field, String)> {
    let p = r.profile.unwrap_or_default();
    [
        (Field::StructureId, r.structure_id),
        (Field::LastName, r.last_name),
        (Field::FirstName, r.first_name),
        (Field::UsualName, r.usual_name),
        (Field::BirthDate, r.birth_date),
        (Field::EmploymentStatus, r.employment_status),
        (Field::Email, r.email),
        (Field::Phone, r.phone),
        (Field::HomePostalCode, r.home_postal_code),
        (Field::WorkPostalCode, r.work_postal_code),
        (Field::OperatorRef, r.operator_ref),
        (Field::OtherCepOperator, r.other_cep_operator),
        (
            Field::LotExceptionJustification,
            r.lot_exception_justification,
        ),
        (Field::Sex, p.sex),
        (Field::AddressStreetNumber, p.address_street_number),
        (Field::AddressStreetType, p.address_street_type),
        (Field::AddressStreetName, p.address_street_name),
        (Field::AddressPostalCode, p.address_postal_code),
        (Field::AddressCity, p.address_city),
        (Field::EducationLevel, p.education_level),
        (Field::NafSection, p.naf_section),
        (Field::CompanySize, p.company_size),
        (Field::SocialCategory, p.social_category),
        (Field::SectorLabel, p.sector_label),
        (Field::JobLabel, p.job_label),
        (Field::CompanyEntryMonth, p.company_entry_month),
        (Field::Disability, p.disability),
        (Field::EmployerDepartment, p.employer_department),
        (Field::EmployerPostalCode, p.employer_postal_code),
        (Field::EmployerCity, p.employer_city),
    ]
    .into_iter()
    .filter_map(|(field, value)| value.map(|v| (field, v)))
    .collect()
}

fn to_profile(p: &Profile) -> pb::Profile {
    pb::Profile {
        sex: text(&p.sex),
        address_street_number: text(&p.address_street_number),
        address_street_type: text(&p.address_street_type),
        address_street_name: text(&p.address_street_name),
        address_postal_code: code(&p.address_postal_code),
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

fn to_proto(shown: Shown) -> pb::Beneficiary {
    let Shown {
        beneficiary: b,
        full_nir,
    } = shown;
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
        home_postal_code: code(&b.home_postal_code),
        work_postal_code: code(&b.work_postal_code),
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

fn to_summary(b: &Beneficiary) -> pb::BeneficiarySummary {
    pb::BeneficiarySummary {
        beneficiary_id: b.id.to_string(),
        lot: i32::from(b.lot.number()),
        structure_id: b.structure_id.clone(),
        last_name: text(&b.last_name),
        usual_name: text(&b.usual_name),
        first_name: text(&b.first_name),
        birth_date: b.birth_date.map(|d| d.to_string()).unwrap_or_default(),
        nir_masked: text(&b.nir_masked),
    }
}

#[tonic::async_trait]
impl BeneficiaryService for BeneficiaryGrpc {
    #[tracing::instrument(skip_all, fields(lot = request.get_ref().lot))]
    async fn register(
        &self,
        request: Request<pb::RegisterRequest>,
    ) -> Result<Response<pb::RegisterResponse>, Status> {
        handle(request, |caller, r| async move {
            let b = self.cases.register(&caller, registration(r)).await?;
            Ok(pb::RegisterResponse {
                beneficiary_id: b.id.to_string(),
                version: b.version,
            })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(record_id = tracing::field::Empty))]
    async fn get(
        &self,
        request: Request<pb::GetRequest>,
    ) -> Result<Response<pb::Beneficiary>, Status> {
        handle(request, |caller, r| async move {
            let shown = self.cases.get(&caller, id_of(&r.beneficiary_id)?).await?;
            Ok(to_proto(shown))
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(record_id = tracing::field::Empty))]
    async fn update(
        &self,
        request: Request<pb::UpdateRequest>,
    ) -> Result<Response<pb::Beneficiary>, Status> {
        handle(request, |caller, r| async move {
            let update = Update {
                id: id_of(&r.beneficiary_id)?,
                version: r.version,
                duplicate: duplicate(r.allow_duplicate, r.duplicate_reason.clone()),
                edits: edits(r),
            };
            Ok(to_proto(self.cases.update(&caller, update).await?))
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn search(
        &self,
        request: Request<pb::SearchRequest>,
    ) -> Result<Response<pb::SearchResponse>, Status> {
        handle(request, |caller, r| async move {
            let query = SearchQuery {
                lot: i64::from(r.lot),
                structure_id: r.structure_id,
                name_prefix: r.name_prefix,
                birth_date: r.birth_date,
                nir: r.nir,
                page_size: r.page_size,
                page_token: r.page_token,
            };
            let page = self.cases.search(&caller, query).await?;
            Ok(pb::SearchResponse {
                results: page.rows.iter().map(to_summary).collect(),
                next_page_token: page.next_page_token,
            })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(record_id = tracing::field::Empty))]
    async fn set_nir(
        &self,
        request: Request<pb::SetNirRequest>,
    ) -> Result<Response<pb::SetNirResponse>, Status> {
        handle(request, |caller, r| async move {
            let id = id_of(&r.beneficiary_id)?;
            let dup = duplicate(r.allow_duplicate, r.duplicate_reason);
            let recorded = self.cases.set_nir(&caller, id, &r.nir, dup).await?;
            Ok(pb::SetNirResponse {
                nir_masked: recorded.masked,
                version: recorded.version,
                warnings: recorded.warnings,
            })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(record_id = tracing::field::Empty))]
    async fn check_eligibility(
        &self,
        request: Request<pb::CheckEligibilityRequest>,
    ) -> Result<Response<pb::CheckEligibilityResponse>, Status> {
        handle(request, |caller, r| async move {
            let (id, uo) = (id_of(&r.beneficiary_id)?, parse_uo(r.uo)?);
            let eligibility = self.cases.check_eligibility(&caller, id, uo).await?;
            Ok(pb::CheckEligibilityResponse {
                eligible: eligibility.failed.is_empty(),
                continued_by: eligibility.continued_by.unwrap_or_default().to_owned(),
                failed_rules: eligibility
                    .failed
                    .into_iter()
                    .map(|f| pb::FailedRule {
                        rule: f.rule.to_owned(),
                        message: f.message,
                    })
                    .collect(),
            })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(record_id = tracing::field::Empty))]
    async fn validate_for(
        &self,
        request: Request<pb::ValidateForRequest>,
    ) -> Result<Response<pb::ValidateForResponse>, Status> {
        handle(request, |caller, r| async move {
            let (id, uo) = (id_of(&r.beneficiary_id)?, parse_uo(r.uo)?);
            let missing = self.cases.validate_for(&caller, id, uo).await?;
            Ok(pb::ValidateForResponse {
                complete: missing.is_empty(),
                missing_fields: missing.into_iter().map(str::to_owned).collect(),
            })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(record_id = tracing::field::Empty))]
    async fn export_personal_data(
        &self,
        request: Request<pb::ExportPersonalDataRequest>,
    ) -> Result<Response<pb::ExportPersonalDataResponse>, Status> {
        handle(request, |caller, r| async move {
            let json = self
                .cases
                .export(&caller, id_of(&r.beneficiary_id)?)
                .await?;
            Ok(pb::ExportPersonalDataResponse { json })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(record_id = tracing::field::Empty))]
    async fn erase(
        &self,
        request: Request<pb::EraseRequest>,
    ) -> Result<Response<pb::EraseResponse>, Status> {
        handle(request, |caller, r| async move {
            let id = id_of(&r.beneficiary_id)?;
            let at = self.cases.erase(&caller, id, &r.reason).await?;
            Ok(pb::EraseResponse {
                erased_at: at.to_rfc3339(),
            })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(record_id = tracing::field::Empty))]
    async fn list_accesses(
        &self,
        request: Request<pb::ListAccessesRequest>,
    ) -> Result<Response<pb::ListAccessesResponse>, Status> {
        handle(request, |caller, r| async move {
            let id = id_of(&r.beneficiary_id)?;
            let page = self
                .cases
                .list_accesses(&caller, id, r.page_size, &r.page_token)
                .await?;
            Ok(pb::ListAccessesResponse {
                accesses: page
                    .rows
                    .into_iter()
                    .map(|a| pb::Access {
                        at: a.at.to_rfc3339(),
                        subject: a.subject,
                        roles: a.roles,
                        action: a.action,
                    })
                    .collect(),
                next_page_token: page.next_page_token,
            })
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn list_reference_tables(
        &self,
        request: Request<pb::ListReferenceTablesRequest>,
    ) -> Result<Response<pb::ListReferenceTablesResponse>, Status> {
        handle(request, |caller, r| async move {
            let listing = self.cases.reference_tables(&caller, &r.table)?;
            Ok(pb::ListReferenceTablesResponse {
                version: listing.version.to_owned(),
                tables: listing.tables.into_iter().map(to_reference_table).collect(),
            })
        })
        .await
    }
}

fn to_reference_table(t: &cep_domain::ReferenceTable) -> pb::ReferenceTable {
    pb::ReferenceTable {
        name: t.name().to_owned(),
        entries: t
            .entries()
            .iter()
            .map(|e| pb::ReferenceEntry {
                code: e.code().to_owned(),
                label: e.label().to_owned(),
                retired: !e.is_active(),
                flags: e.flags().iter().map(|(k, v)| (k.clone(), *v)).collect(),
            })
            .collect(),
    }
}
