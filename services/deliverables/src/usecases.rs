//! What each call does: roles and scope first, then the rules of the ceremony, then
//! the change with its audit entry and its event in one transaction. Refusals by a
//! business rule carry a stable rule code ([`rules`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use cep_domain::SharedClock;
use cep_kit::auth::Caller;
use cep_kit::sealing::{self, DataKey};
use cep_proto::beneficiaries as bpb;
use cep_proto::events;
use cep_proto::journeys as jpb;
use cep_runtime::access_log::{self, Refusals};
use cep_runtime::{ApiError, OnBehalf};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::blobs::Blobs;
use crate::mail::{CodeMessage, CodeTransport, mask_email};
use crate::model::{Complementary, Deliverable, Kind, SignatureBox, State, Unit};
use crate::providers::Directory;
use crate::signing::{Authority, Signing};
use crate::store::{self, AuditEntry};
use crate::templates::Templates;
use crate::{authz, codes, document, events as facts};

/// The rule codes of the refusals.
pub mod rules {
    pub const KIND_NOT_FOR_UO: &str = "KIND_NOT_FOR_UO";
    pub const UO_CLOSED: &str = "UO_CLOSED";
    pub const NOT_A_DRAFT: &str = "NOT_A_DRAFT";
    pub const INCOMPLETE: &str = "DELIVERABLE_INCOMPLETE";
    pub const SECTION_REQUIRED: &str = "SECTION_REQUIRED";
    pub const PROVIDER_LIST_OUTDATED: &str = "PROVIDER_LIST_OUTDATED";
    pub const NO_PROVIDER: &str = "NO_PROVIDER_IN_DIRECTORY";
    pub const NOT_FOR_THIS_KIND: &str = "NOT_FOR_THIS_KIND";
    pub const WRONG_STAGE: &str = "WRONG_SIGNING_STAGE";
    pub const CLOSURE_REFUSED: &str = "CLOSURE_REFUSED";
    pub const NO_EMAIL: &str = "NO_EMAIL_ON_FILE";
    pub const CODE_MISSING: &str = "CODE_NOT_SENT";
    pub const CODE_EXPIRED: &str = "CODE_EXPIRED";
    pub const CODE_WRONG: &str = "CODE_WRONG";
    pub const CODE_LOCKED: &str = "CODE_LOCKED";
    pub const NOT_A_UO2_2: &str = "NOT_A_UO2_2";
    pub const NOT_A_PDF: &str = "NOT_A_PDF";
    /// Journeys' CheckClosure codes, passed on as they are.
    pub const JOURNEYS: [&str; 4] = [
        "UO_NOT_OPEN",
        "NOT_CLOSED_BY_SIGNATURE",
        "BENEFICIARY_ERASED",
        "NIR_MISSING",
    ];
}

/// The longest section text, and the largest paper scan or trace.
pub const MAX_SECTION_CHARS: usize = 20_000;
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

/// The one-time code's rules.
#[derive(Debug, Clone)]
pub struct CodeRules {
    pub lifetime_minutes: u32,
    pub max_attempts: u32,
    pub key: [u8; 32],
}

#[derive(Debug, Clone)]
pub struct Cases {
    pub pool: PgPool,
    pub clock: SharedClock,
    pub refusals: Refusals,
    pub templates: Arc<Templates>,
    pub directory: Arc<Directory>,
    pub blobs: Blobs,
    pub authority: Arc<Authority>,
    pub email: Arc<dyn CodeTransport>,
    /// The signed copies sent to the people.
    pub copies: Arc<crate::mail::Email>,
    pub code: CodeRules,
    pub letterhead: Arc<cep_render::Letterhead>,
    pub journeys: tonic::transport::Channel,
    pub beneficiaries: tonic::transport::Channel,
    pub people: cep_runtime::personal::People,
}

/// Edits of a draft.
#[derive(Debug, Default)]
pub struct DraftEdit {
    pub sections: Vec<(String, String)>,
    pub complementary_service: Option<String>,
    pub wants_uo2_2: Option<bool>,
}

#[derive(Debug)]
pub struct Missing {
    pub field: String,
    pub rule: &'static str,
    pub message: String,
}

#[derive(Debug)]
pub struct Render {
    pub sha256: String,
    pub size: u64,
    pub pages: usize,
}

#[derive(Debug)]
pub struct PaperUpload {
    pub deliverable_id: Uuid,
    pub attestation: String,
    pub signed_on: NaiveDate,
    pub pdf: Bytes,
}

#[derive(Debug)]
pub struct NewTrace {
    pub uo_id: Uuid,
    pub kind: String,
    pub received_on: NaiveDate,
    pub summary: String,
    pub content: Bytes,
}

#[derive(Debug)]
pub struct Verification {
    pub sha256: String,
    pub matches_record: Option<bool>,
    pub signatures: Vec<cep_pades::SignatureReport>,
}

/// Who acted and from where, for the audit trail.
#[derive(Debug, Clone, Copy)]
struct Witness<'a> {
    actor: &'a str,
    peer: Option<&'a str>,
    user_agent: Option<&'a str>,
}

impl<'a> Witness<'a> {
    fn of(caller: &'a Caller, on_behalf: &'a OnBehalf) -> Self {
        Self {
            actor: &caller.subject,
            peer: on_behalf.peer(),
            user_agent: on_behalf.user_agent(),
        }
    }

    fn of_caller(caller: &'a Caller) -> Self {
        Self {
            actor: &caller.subject,
            peer: None,
            user_agent: None,
        }
    }

    fn entry(
        self,
        action: &'a str,
        detail: serde_json::Value,
        document_sha256: Option<&'a str>,
    ) -> AuditEntry<'a> {
        AuditEntry {
            actor: self.actor,
            action,
            detail,
            document_sha256,
            peer: self.peer,
            user_agent: self.user_agent,
        }
    }
}

fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    cep_domain::text::canonical_multiline(value, max)
        .map_err(|e| ApiError::invalid(field, e.to_string()))
}

impl Cases {
    // ---- the record and its scope ----------------------------------------------------

    async fn unit(
        &self,
        conn: &mut PgConnection,
        caller: &Caller,
        id: Uuid,
    ) -> Result<Unit, ApiError> {
        let not_found = || ApiError::NotFound(format!("unit of work {id}"));
        let u = store::get_unit(conn, id).await?.ok_or_else(not_found)?;
        let lot = cep_domain::Lot::new(i64::from(u.lot)).map_err(ApiError::internal)?;
        if caller.check_scope(lot, &u.structure_id).is_err() {
            let _ = self
                .refusals
                .record(self.clock.now(), caller, "deliverables.unit", &[id])
                .await;
            return Err(not_found());
        }
        Ok(u)
    }

    async fn deliverable(
        &self,
        conn: &mut PgConnection,
        caller: &Caller,
        id: Uuid,
        lock: bool,
    ) -> Result<Deliverable, ApiError> {
        let not_found = || ApiError::NotFound(format!("deliverable {id}"));
        let mut d = store::get_deliverable(conn, id, lock)
            .await?
            .ok_or_else(not_found)?;
        let lot = cep_domain::Lot::new(i64::from(d.unit.lot)).map_err(ApiError::internal)?;
        if caller.check_scope(lot, &d.unit.structure_id).is_err() {
            let _ = self
                .refusals
                .record(self.clock.now(), caller, "deliverables.read", &[id])
                .await;
            return Err(not_found());
        }
        if let (false, Some(sealed)) = (d.erased, &d.sealed_sections) {
            let owner = d.unit.beneficiary_id;
            let key = self.person_key(conn, owner).await?;
            let json = sealing::open(&key, owner, sealed).map_err(ApiError::internal)?;
            d.sections = serde_json::from_slice(&json).map_err(ApiError::internal)?;
        }
        Ok(d)
    }

    /// The person's data key (created at the first thing kept of them).
    async fn person_key(&self, conn: &mut PgConnection, owner: Uuid) -> Result<DataKey, ApiError> {
        self.people.key(conn, owner).await
    }

    fn stage(d: &Deliverable, expected: &[State], what: &str) -> Result<(), ApiError> {
        if expected.contains(&d.state) {
            return Ok(());
        }
        Err(ApiError::precondition(
            rules::WRONG_STAGE,
            format!(
                "{what} needs the deliverable in state {}; it is {}",
                expected
                    .iter()
                    .map(|s| s.code())
                    .collect::<Vec<_>>()
                    .join(" or "),
                d.state.code()
            ),
        ))
    }

    // ---- drafting ----------------------------------------------------------------------

    pub async fn create_draft(
        &self,
        caller: &Caller,
        uo_id: Uuid,
        kind: Kind,
    ) -> Result<Deliverable, ApiError> {
        caller.require_any_role(authz::WORK)?;
        let mut tx = self.pool.begin().await?;
        let unit = self.unit(&mut tx, caller, uo_id).await?;
        if unit.uo != kind.uo() {
            return Err(ApiError::precondition(
                rules::KIND_NOT_FOR_UO,
                format!(
                    "a {kind} is the deliverable of a {}; this unit is a {}",
                    kind.uo(),
                    unit.uo
                ),
            ));
        }
        if unit.closed {
            return Err(ApiError::precondition(
                rules::UO_CLOSED,
                format!("unit {} is closed", unit.dossier_number),
            ));
        }
        let (id, at) = (Uuid::now_v7(), self.clock.now());
        if !store::insert_deliverable(
            &mut tx,
            id,
            uo_id,
            kind,
            &self.templates.version,
            &caller.subject,
            at,
        )
        .await?
        {
            let existing = store::deliverable_of_unit(&mut tx, uo_id)
                .await?
                .unwrap_or_default();
            return Err(ApiError::AlreadyExists(format!(
                "unit {} already has deliverable {existing}: update it",
                unit.dossier_number
            )));
        }
        store::audit(
            &mut tx,
            id,
            at,
            Witness::of_caller(caller).entry(
                "draft.created",
                json!({"kind": kind.code(), "template_version": self.templates.version}),
                None,
            ),
        )
        .await?;
        let d = self.deliverable(&mut tx, caller, id, false).await?;
        tx.commit().await?;
        Ok(d)
    }

    pub async fn update_draft(
        &self,
        caller: &Caller,
        id: Uuid,
        edit: DraftEdit,
    ) -> Result<Deliverable, ApiError> {
        caller.require_any_role(authz::WORK)?;
        let mut tx = self.pool.begin().await?;
        let mut d = self.deliverable(&mut tx, caller, id, true).await?;
        Self::stage(&d, &[State::Draft], "a change of the text")?;
        let template = self.templates.of(d.kind);
        let mut v = cep_runtime::Violations::default();
        for (i, (key, value)) in edit.sections.iter().enumerate() {
            if template.section(key).is_none() {
                let keys: Vec<&str> = template.sections.iter().map(|s| s.key.as_str()).collect();
                v.add(
                    &format!("sections[{i}].key"),
                    format!(
                        "not a section of the {} template: one of {}",
                        d.kind,
                        keys.join(", ")
                    ),
                );
                continue;
            }
            match cep_domain::text::canonical_multiline(value, MAX_SECTION_CHARS) {
                Ok(t) if t.is_empty() => {
                    d.sections.remove(key);
                }
                Ok(t) => {
                    d.sections.insert(key.clone(), t);
                }
                Err(e) => v.add(&format!("sections[{i}].text"), e.to_string()),
            }
        }
        if let Some(service) = edit
            .complementary_service
            .as_deref()
            .filter(|s| !s.is_empty())
        {
            if d.kind != Kind::ProjetProfessionnel {
                v.add(
                    "complementary_service",
                    "only a Projet professionnel records a complementary service",
                );
            } else if service == "NONE" {
                d.complementary = None;
            } else if !self.directory.kinds.contains_key(service) {
                let kinds: Vec<&str> = self.directory.kinds.keys().map(String::as_str).collect();
                v.add(
                    "complementary_service",
                    format!(
                        "not a service kind of the provider directory: one of {}, or NONE",
                        kinds.join(", ")
                    ),
                );
            } else {
                let providers = self.directory.providers(d.unit.territory_lot, service);
                if providers.is_empty() {
                    return Err(ApiError::precondition(
                        rules::NO_PROVIDER,
                        format!(
                            "the provider directory (version {}) lists no provider of {service} in lot {}",
                            self.directory.version, d.unit.territory_lot
                        ),
                    ));
                }
                d.complementary = Some(Complementary {
                    kind: service.to_owned(),
                    directory_version: self.directory.version.clone(),
                    providers: providers.to_vec(),
                });
            }
        }
        if let Some(wants) = edit.wants_uo2_2 {
            if d.kind == Kind::ProjetProfessionnel {
                d.wants_uo2_2 = wants;
            } else {
                v.add(
                    "wants_uo2_2",
                    "only a Projet professionnel says whether the person wants a UO2.2",
                );
            }
        }
        v.into_result().map_err(ApiError::Invalid)?;
        let at = self.clock.now();
        let owner = d.unit.beneficiary_id;
        let key = self.person_key(&mut tx, owner).await?;
        let json = serde_json::to_vec(&d.sections).map_err(ApiError::internal)?;
        d.sealed_sections = Some(sealing::seal(&key, owner, &json).map_err(ApiError::internal)?);
        store::save_draft(&mut tx, &d, at).await?;
        store::audit(
            &mut tx,
            id,
            at,
            Witness::of_caller(caller).entry(
                "draft.updated",
                json!({"sections": edit.sections.iter().map(|(k, _)| k).collect::<Vec<_>>()}),
                None,
            ),
        )
        .await?;
        let d = self.deliverable(&mut tx, caller, id, false).await?;
        tx.commit().await?;
        Ok(d)
    }

    /// What stops `d` from being frozen for signature.
    pub fn missing(&self, d: &Deliverable) -> Vec<Missing> {
        let mut missing = Vec::new();
        for s in &self.templates.of(d.kind).sections {
            if s.required && !d.sections.contains_key(&s.key) {
                missing.push(Missing {
                    field: format!("sections.{}", s.key),
                    rule: rules::SECTION_REQUIRED,
                    message: format!("section \"{}\" is required by the template", s.heading),
                });
            }
        }
        if let Some(c) = &d.complementary
            && !self.directory.is_current(d.unit.territory_lot, c)
        {
            missing.push(Missing {
                field: "providers".into(),
                rule: rules::PROVIDER_LIST_OUTDATED,
                message: format!(
                    "the attached list of {} providers (directory {}) differs from the directory in force ({}): update the draft to attach it again",
                    c.kind, c.directory_version, self.directory.version
                ),
            });
        }
        missing
    }

    pub async fn validate(&self, caller: &Caller, id: Uuid) -> Result<Vec<Missing>, ApiError> {
        caller.require_any_role(authz::READ)?;
        let mut conn = self.pool.acquire().await?;
        let d = self.deliverable(&mut conn, caller, id, false).await?;
        Ok(self.missing(&d))
    }

    // ---- rendering ---------------------------------------------------------------------

    async fn person(&self, on_behalf: &OnBehalf, id: Uuid) -> Result<bpb::Beneficiary, ApiError> {
        cep_runtime::personal::beneficiary(&self.beneficiaries, on_behalf, id).await
    }

    async fn rendered(
        &self,
        d: &Deliverable,
        on_behalf: &OnBehalf,
    ) -> Result<(cep_render::Rendered, Bytes), ApiError> {
        let person = self.person(on_behalf, d.unit.beneficiary_id).await?;
        let doc = document::of(
            d,
            self.templates.of(d.kind),
            &person,
            self.clock.now().date_naive(),
        );
        let letterhead = self.letterhead.clone();
        let mut rendered =
            tokio::task::spawn_blocking(move || cep_render::render(&letterhead, &doc))
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?;
        // the bytes move out: the document is not held twice
        let bytes = Bytes::from(std::mem::take(&mut rendered.pdf));
        Ok((rendered, bytes))
    }

    /// Keeps a document of person `owner`, sealed with their data `key`.
    async fn keep(
        &self,
        conn: &mut PgConnection,
        (owner, key): (Uuid, &DataKey),
        parts: &[Bytes],
        media_type: &str,
    ) -> Result<(String, u64), ApiError> {
        let (sha, size) = self
            .blobs
            .put(owner, key, parts)
            .await
            .map_err(ApiError::internal)?;
        store::put_blob(conn, owner, &sha, size, media_type, self.clock.now()).await?;
        Ok((sha, size))
    }

    /// A document of person `owner`, opened with their data `key` and checked against
    /// its hash.
    async fn document(&self, owner: Uuid, key: &DataKey, sha: &str) -> Result<Bytes, ApiError> {
        self.blobs
            .get(owner, key, sha)
            .await
            .map_err(ApiError::internal)
    }

    pub async fn render(
        &self,
        caller: &Caller,
        on_behalf: &OnBehalf,
        id: Uuid,
    ) -> Result<Render, ApiError> {
        caller.require_any_role(authz::WORK)?;
        let mut conn = self.pool.acquire().await?;
        let d = self.deliverable(&mut conn, caller, id, false).await?;
        let (rendered, bytes) = self.rendered(&d, on_behalf).await?;
        let owner = d.unit.beneficiary_id;
        let key = self.person_key(&mut conn, owner).await?;
        let (sha256, size) = self
            .keep(&mut conn, (owner, &key), &[bytes], "application/pdf")
            .await?;
        if d.state == State::Draft {
            store::set_rendered(&mut conn, id, &sha256).await?;
        }
        Ok(Render {
            sha256,
            size,
            pages: rendered.pages,
        })
    }

    // ---- the ceremony ------------------------------------------------------------------

    async fn check_closure(
        &self,
        on_behalf: &OnBehalf,
        uo_id: Uuid,
    ) -> Result<Vec<jpb::ClosureObstacle>, ApiError> {
        let mut client =
            jpb::journey_service_client::JourneyServiceClient::new(self.journeys.clone());
        let reply = client
            .check_closure(on_behalf.request(jpb::CheckClosureRequest {
                uo_id: uo_id.to_string(),
            }))
            .await
            .map_err(|s| cep_runtime::peer_error("journeys", &s))?;
        Ok(reply.into_inner().obstacles)
    }

    pub async fn start_signing(
        &self,
        caller: &Caller,
        on_behalf: &OnBehalf,
        id: Uuid,
    ) -> Result<Deliverable, ApiError> {
        caller.require_any_role(authz::WORK)?;
        let mut conn = self.pool.acquire().await?;
        let d = self.deliverable(&mut conn, caller, id, false).await?;
        Self::stage(&d, &[State::Draft], "freezing for signature")?;
        let missing = self.missing(&d);
        if let Some(first) = missing.first() {
            let all: Vec<String> = missing
                .iter()
                .map(|m| format!("{} ({})", m.field, m.rule))
                .collect();
            let rule = if missing
                .iter()
                .all(|m| m.rule == rules::PROVIDER_LIST_OUTDATED)
            {
                first.rule
            } else {
                rules::INCOMPLETE
            };
            return Err(ApiError::precondition(
                rule,
                format!("the deliverable is not complete: {}", all.join(", ")),
            ));
        }
        let obstacles = self.check_closure(on_behalf, d.unit.id).await?;
        if let Some(o) = obstacles.first() {
            let rule = rules::JOURNEYS
                .iter()
                .find(|r| **r == o.rule)
                .copied()
                .unwrap_or(rules::CLOSURE_REFUSED);
            return Err(ApiError::precondition(
                rule,
                format!(
                    "journeys refuses the closure by signature: {} ({})",
                    o.message, o.rule
                ),
            ));
        }
        let (rendered, bytes) = self.rendered(&d, on_behalf).await?;
        let boxes: Vec<SignatureBox> = rendered
            .signatures
            .iter()
            .map(|b| SignatureBox {
                field: b.field.clone(),
                page: b.page,
                rect: b.rect,
            })
            .collect();
        let mut tx = self.pool.begin().await?;
        let d = self.deliverable(&mut tx, caller, id, true).await?;
        Self::stage(&d, &[State::Draft], "freezing for signature")?;
        let owner = d.unit.beneficiary_id;
        let key = self.person_key(&mut tx, owner).await?;
        let (sha, _) = self
            .keep(&mut tx, (owner, &key), &[bytes], "application/pdf")
            .await?;
        let at = self.clock.now();
        store::set_boxes(&mut tx, id, &boxes).await?;
        store::advance(&mut tx, id, State::Signing, &sha, at).await?;
        store::audit(
            &mut tx,
            id,
            at,
            Witness::of(caller, on_behalf).entry(
                "signing.started",
                json!({"check_closure": "no obstacle", "pages": rendered.pages}),
                Some(&sha),
            ),
        )
        .await?;
        let d = self.deliverable(&mut tx, caller, id, false).await?;
        tx.commit().await?;
        Ok(d)
    }

    /// Signs the current document of `d` in its `field` box; returns the new document's
    /// hash and the signer's certificate.
    async fn add_signature(
        &self,
        conn: &mut PgConnection,
        d: &Deliverable,
        field: &str,
        signer: String,
        reason: String,
        appearance: Vec<String>,
    ) -> Result<(String, String), ApiError> {
        let current = d
            .current_sha256
            .clone()
            .ok_or_else(|| ApiError::internal("a frozen deliverable without its document"))?;
        let owner = d.unit.beneficiary_id;
        let key = self.person_key(conn, owner).await?;
        let document = self.document(owner, &key, &current).await?;
        let boxes = store::get_boxes(conn, d.id).await?;
        let b = boxes
            .iter()
            .find(|b| b.field == field)
            .cloned()
            .ok_or_else(|| ApiError::internal("no signature box"))?;
        let authority = self.authority.clone();
        let at = self.clock.now();
        let doc = document.clone();
        let (update, pem) = tokio::task::spawn_blocking(move || {
            authority.sign(
                &doc,
                &Signing {
                    field: &b.field,
                    signer: &signer,
                    reason: &reason,
                    at,
                    page: b.page,
                    rect: b.rect,
                    appearance,
                },
            )
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
        let (sha, _) = self
            .keep(
                conn,
                (owner, &key),
                &[document, Bytes::from(update)],
                "application/pdf",
            )
            .await?;
        Ok((sha, pem))
    }

    pub async fn sign_as_counsellor(
        &self,
        caller: &Caller,
        on_behalf: &OnBehalf,
        id: Uuid,
    ) -> Result<Deliverable, ApiError> {
        caller.require_any_role(authz::COUNSELLOR)?;
        let mut tx = self.pool.begin().await?;
        let d = self.deliverable(&mut tx, caller, id, true).await?;
        Self::stage(&d, &[State::Signing], "the counsellor's signature")?;
        let at = self.clock.now();
        let signer = format!("Conseiller {}", caller.subject);
        let appearance = vec![
            "Signé électroniquement par".to_owned(),
            signer.clone(),
            format!("le {} (UTC)", at.format("%d/%m/%Y à %H:%M")),
            "Lu et approuvé".to_owned(),
        ];
        let (sha, pem) = self
            .add_signature(
                &mut tx,
                &d,
                "counsellor",
                signer.clone(),
                "Lu et approuvé".into(),
                appearance,
            )
            .await?;
        store::add_signature(&mut tx, id, "counsellor", &signer, at, &pem, &sha).await?;
        store::advance(&mut tx, id, State::CounsellorSigned, &sha, at).await?;
        store::audit(
            &mut tx,
            id,
            at,
            Witness::of(caller, on_behalf).entry(
                "signed.counsellor",
                json!({"signer": signer, "before": d.current_sha256}),
                Some(&sha),
            ),
        )
        .await?;
        let d = self.deliverable(&mut tx, caller, id, false).await?;
        tx.commit().await?;
        Ok(d)
    }

    pub async fn send_code(
        &self,
        caller: &Caller,
        on_behalf: &OnBehalf,
        id: Uuid,
        channel: &str,
    ) -> Result<(String, DateTime<Utc>), ApiError> {
        caller.require_any_role(authz::CEREMONY)?;
        let channel = if channel.is_empty() { "EMAIL" } else { channel };
        if channel != self.email.channel() {
            return Err(ApiError::invalid(
                "channel",
                format!(
                    "{channel}: no transport is configured for it (configured: {})",
                    self.email.channel()
                ),
            ));
        }
        let mut tx = self.pool.begin().await?;
        let d = self.deliverable(&mut tx, caller, id, true).await?;
        Self::stage(
            &d,
            &[State::CounsellorSigned],
            "sending the beneficiary's code",
        )?;
        let person = self.person(on_behalf, d.unit.beneficiary_id).await?;
        if person.email.is_empty() {
            return Err(ApiError::precondition(
                rules::NO_EMAIL,
                "the person has no email address on file: record it, or take the paper path",
            ));
        }
        let (code_id, code, at) = (Uuid::now_v7(), codes::generate(), self.clock.now());
        let expires_at = at + Duration::minutes(i64::from(self.code.lifetime_minutes));
        store::new_code(
            &mut tx,
            code_id,
            id,
            &codes::hash(&self.code.key, code_id, &code),
            channel,
            at,
            expires_at,
        )
        .await?;
        let masked = mask_email(&person.email);
        store::audit(
            &mut tx,
            id,
            at,
            Witness::of(caller, on_behalf).entry(
                "code.sent",
                json!({"channel": channel, "to": masked, "expires_at": expires_at.to_rfc3339()}),
                d.current_sha256.as_deref(),
            ),
        )
        .await?;
        self.email
            .send(CodeMessage {
                to: &person.email,
                code: &code,
                dossier_number: &d.unit.dossier_number,
                document: &self.templates.of(d.kind).title,
                minutes: self.code.lifetime_minutes,
            })
            .await
            .map_err(|e| match e {
                // the mail server's reply may quote the address: neither logged nor
                // returned
                crate::mail::SendError::Transport(_) => {
                    tracing::warn!(
                        "the one-time code could not be sent: the mail transport failed"
                    );
                    ApiError::Unavailable(
                        "the one-time code could not be sent by email; try again later".into(),
                    )
                }
                other => ApiError::Unavailable(other.to_string()),
            })?;
        tx.commit().await?;
        Ok((masked, expires_at))
    }

    pub async fn sign_as_beneficiary(
        &self,
        caller: &Caller,
        on_behalf: &OnBehalf,
        id: Uuid,
        code: &str,
        mention: &str,
    ) -> Result<Deliverable, ApiError> {
        caller.require_any_role(authz::CEREMONY)?;
        if !codes::is_lu_et_approuve(mention) {
            return Err(ApiError::invalid(
                "mention",
                "the person types the mention \"lu et approuvé\"",
            ));
        }
        if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
            return Err(ApiError::invalid("code", "6 digits"));
        }
        let mut tx = self.pool.begin().await?;
        let d = self.deliverable(&mut tx, caller, id, true).await?;
        Self::stage(
            &d,
            &[State::CounsellorSigned],
            "the beneficiary's signature",
        )?;
        let at = self.clock.now();
        let live = store::live_code(&mut tx, id).await?.ok_or_else(|| {
            ApiError::precondition(
                rules::CODE_MISSING,
                "no code was sent for this deliverable (or it was used): send one",
            )
        })?;
        let max = self.code.max_attempts as i32;
        if live.attempts >= max {
            return Err(ApiError::precondition(
                rules::CODE_LOCKED,
                format!("{max} wrong codes: this code is locked, send a new one"),
            ));
        }
        if at > live.expires_at {
            return Err(ApiError::precondition(
                rules::CODE_EXPIRED,
                "the code has expired: send a new one",
            ));
        }
        if !codes::matches(&self.code.key, live.id, code, &live.hash) {
            store::code_attempt(&mut tx, live.id, None).await?;
            store::audit(
                &mut tx,
                id,
                at,
                Witness::of(caller, on_behalf).entry(
                    "code.wrong",
                    json!({"attempt": live.attempts + 1}),
                    None,
                ),
            )
            .await?;
            tx.commit().await?;
            let left = max - live.attempts - 1;
            return Err(if left == 0 {
                ApiError::precondition(
                    rules::CODE_LOCKED,
                    format!("wrong code; {max} wrong codes: this code is locked, send a new one"),
                )
            } else {
                ApiError::precondition(rules::CODE_WRONG, format!("wrong code: {left} tries left"))
            });
        }
        store::code_attempt(&mut tx, live.id, Some(at)).await?;
        let head = store::audit(
            &mut tx,
            id,
            at,
            Witness::of(caller, on_behalf).entry(
                "code.verified",
                json!({"mention": "lu et approuvé", "attempt": live.attempts + 1}),
                d.current_sha256.as_deref(),
            ),
        )
        .await?;
        let signer = format!("Bénéficiaire du dossier {}", d.unit.dossier_number);
        // The trail's head, sealed into the signature dictionary the signature covers.
        let reason = format!("Lu et approuvé ; piste d'audit sha256:{head}");
        let appearance = vec![
            "Signé électroniquement par le bénéficiaire".to_owned(),
            format!("le {} (UTC)", at.format("%d/%m/%Y à %H:%M")),
            "code à usage unique vérifié".to_owned(),
            "Lu et approuvé".to_owned(),
        ];
        let (sha, pem) = self
            .add_signature(
                &mut tx,
                &d,
                "beneficiary",
                signer.clone(),
                reason,
                appearance,
            )
            .await?;
        store::add_signature(&mut tx, id, "beneficiary", &signer, at, &pem, &sha).await?;
        store::complete(&mut tx, id, "ELECTRONIC", &sha, at).await?;
        store::audit(
            &mut tx,
            id,
            at,
            Witness::of(caller, on_behalf).entry(
                "signed.beneficiary",
                json!({"audit_head": head}),
                Some(&sha),
            ),
        )
        .await?;
        self.publish_signed(&mut tx, &d, "ELECTRONIC", &sha, (at, at))
            .await?;
        let d = self.deliverable(&mut tx, caller, id, false).await?;
        tx.commit().await?;
        self.send_copy(caller, on_behalf, &d, &sha).await;
        Ok(d)
    }

    /// The person's signed copy, by email at once; its outcome goes to the audit
    /// trail (a failure does not undo the signature: the copy stays downloadable).
    async fn send_copy(&self, caller: &Caller, on_behalf: &OnBehalf, d: &Deliverable, sha: &str) {
        // the causes are named, never quoted: a mail server's reply may hold the address
        let sent: Result<String, &'static str> = async {
            let person = self
                .person(on_behalf, d.unit.beneficiary_id)
                .await
                .map_err(|_| "the person's record could not be read")?;
            let mut conn = self
                .pool
                .acquire()
                .await
                .map_err(|_| "the database is unavailable")?;
            let owner = d.unit.beneficiary_id;
            let unreadable = |_| "the signed document could not be read";
            let key = self
                .person_key(&mut conn, owner)
                .await
                .map_err(unreadable)?;
            let pdf = self.document(owner, &key, sha).await.map_err(unreadable)?;
            let file_name = format!(
                "{}-{}.pdf",
                d.kind.code().to_lowercase(),
                d.unit.dossier_number
            );
            self.copies
                .send_copy(crate::mail::CopyMessage {
                    to: &person.email,
                    dossier_number: &d.unit.dossier_number,
                    document: &self.templates.of(d.kind).title,
                    file_name: &file_name,
                    pdf: pdf.to_vec(),
                })
                .await
                .map_err(|e| match e {
                    crate::mail::SendError::Address => "the address on file is not valid",
                    _ => "the mail transport refused the message",
                })?;
            Ok(mask_email(&person.email))
        }
        .await;
        let (action, detail) = match &sent {
            Ok(to) => ("copy.sent", json!({ "to": to })),
            Err(why) => {
                tracing::warn!(deliverable = %d.id, error = %why, "the signed copy was not sent");
                ("copy.failed", json!({ "error": why }))
            }
        };
        let at = self.clock.now();
        let recorded: Result<(), ApiError> = async {
            let mut tx = self.pool.begin().await?;
            store::get_deliverable(&mut tx, d.id, true).await?;
            store::audit(
                &mut tx,
                d.id,
                at,
                Witness::of(caller, on_behalf).entry(action, detail, Some(sha)),
            )
            .await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        if let Err(e) = recorded {
            tracing::warn!(deliverable = %d.id, error = %e, "the copy's audit entry was not written");
        }
    }

    /// Publishes that `d` is signed: signed at `signed_at` (the last signature's
    /// instant, or noon of the date written on a paper copy), recorded at `at`.
    async fn publish_signed(
        &self,
        conn: &mut PgConnection,
        d: &Deliverable,
        mode: &str,
        sha: &str,
        (signed_at, at): (DateTime<Utc>, DateTime<Utc>),
    ) -> Result<(), ApiError> {
        let e = events::DeliverableSigned {
            deliverable_id: d.id.to_string(),
            uo_id: d.unit.id.to_string(),
            beneficiary_id: d.unit.beneficiary_id.to_string(),
            kind: d.kind.code().to_owned(),
            signed_at: signed_at.to_rfc3339(),
            document_sha256: sha.to_owned(),
            mode: mode.to_owned(),
        };
        cep_bus::enqueue(conn, facts::signed(&e, d.unit.lot, at))
            .await
            .map_err(store::StoreError::from)?;
        Ok(())
    }

    pub async fn upload_paper(
        &self,
        caller: &Caller,
        on_behalf: &OnBehalf,
        p: PaperUpload,
    ) -> Result<Deliverable, ApiError> {
        caller.require_any_role(authz::WORK)?;
        if !p.pdf.starts_with(b"%PDF-") {
            return Err(ApiError::precondition(
                rules::NOT_A_PDF,
                "the scan must be a PDF (it does not start with %PDF-)",
            ));
        }
        let attestation = text("header.attestation", &p.attestation, 2_000)?;
        if attestation.is_empty() {
            return Err(ApiError::invalid(
                "header.attestation",
                "the counsellor attests that the person signed the paper copy",
            ));
        }
        let mut tx = self.pool.begin().await?;
        let d = self
            .deliverable(&mut tx, caller, p.deliverable_id, true)
            .await?;
        Self::stage(
            &d,
            &[State::Signing, State::CounsellorSigned],
            "the paper path",
        )?;
        let at = self.clock.now();
        let lot = cep_domain::Lot::new(i64::from(d.unit.lot)).map_err(ApiError::internal)?;
        let today = lot.today(at);
        if p.signed_on > today {
            return Err(ApiError::invalid(
                "header.signed_on",
                "a date in the future",
            ));
        }
        if p.signed_on < d.created_at.date_naive() {
            return Err(ApiError::invalid(
                "header.signed_on",
                "before the deliverable was drafted",
            ));
        }
        let owner = d.unit.beneficiary_id;
        let key = self.person_key(&mut tx, owner).await?;
        let (sha, _) = self
            .keep(&mut tx, (owner, &key), &[p.pdf], "application/pdf")
            .await?;
        let attestation =
            sealing::seal(&key, owner, attestation.as_bytes()).map_err(ApiError::internal)?;
        store::insert_paper(
            &mut tx,
            d.id,
            &attestation,
            p.signed_on,
            &sha,
            &caller.subject,
            at,
        )
        .await?;
        store::complete(&mut tx, d.id, "PAPER", &sha, at).await?;
        store::audit(
            &mut tx,
            d.id,
            at,
            Witness::of(caller, on_behalf).entry(
                "signed.paper",
                json!({"signed_on": p.signed_on.to_string(), "frozen": d.frozen_sha256}),
                Some(&sha),
            ),
        )
        .await?;
        // the person signed on the date written on the paper: the unit closes that day
        // (a copy signed before the deadline but uploaded after it is not abandoned)
        let signed_at = lot.start_of_day(p.signed_on) + chrono::Duration::hours(12);
        self.publish_signed(&mut tx, &d, "PAPER", &sha, (signed_at.min(at), at))
            .await?;
        let d = self.deliverable(&mut tx, caller, d.id, false).await?;
        tx.commit().await?;
        Ok(d)
    }

    pub async fn record_trace(
        &self,
        caller: &Caller,
        t: NewTrace,
    ) -> Result<store::Trace, ApiError> {
        caller.require_any_role(authz::WORK)?;
        let summary = text("summary", &t.summary, 5_000)?;
        if summary.is_empty() {
            return Err(ApiError::invalid(
                "summary",
                "the message's text or a description of the document",
            ));
        }
        let content = match t.kind.as_str() {
            "DOCUMENT" if t.content.is_empty() => {
                return Err(ApiError::invalid(
                    "content",
                    "a DOCUMENT trace carries the document",
                ));
            }
            "DOCUMENT" => t.content,
            "MESSAGE" if t.content.is_empty() => Bytes::from(summary.clone().into_bytes()),
            "MESSAGE" => t.content,
            _ => return Err(ApiError::invalid("kind", "DOCUMENT or MESSAGE")),
        };
        if content.len() > MAX_UPLOAD_BYTES {
            return Err(ApiError::invalid(
                "content",
                format!("at most {MAX_UPLOAD_BYTES} bytes"),
            ));
        }
        let mut tx = self.pool.begin().await?;
        let unit = self.unit(&mut tx, caller, t.uo_id).await?;
        if unit.uo != "UO2.2" {
            return Err(ApiError::precondition(
                rules::NOT_A_UO2_2,
                format!(
                    "a written closing trace belongs to a UO2.2; this unit is a {}",
                    unit.uo
                ),
            ));
        }
        let at = self.clock.now();
        if t.received_on > at.date_naive() || t.received_on < unit.engagement_date {
            return Err(ApiError::invalid(
                "received_on",
                "between the unit's engagement and today",
            ));
        }
        let owner = unit.beneficiary_id;
        let media = if t.kind == "DOCUMENT" {
            "application/octet-stream"
        } else {
            "text/plain"
        };
        let key = self.person_key(&mut tx, owner).await?;
        let (sha, _) = self.keep(&mut tx, (owner, &key), &[content], media).await?;
        let summary_sealed =
            sealing::seal(&key, owner, summary.as_bytes()).map_err(ApiError::internal)?;
        let id = Uuid::now_v7();
        let trace = store::Trace {
            id,
            uo_id: unit.id,
            kind: t.kind,
            received_on: t.received_on,
            summary_sealed,
            reference: format!(
                "TRACE-{}-{}",
                unit.dossier_number.replace(' ', ""),
                &sha[..8]
            ),
            sha256: sha,
        };
        store::insert_trace(&mut tx, &trace, &caller.subject, at).await?;
        let e = events::ClosingTraceRecorded {
            trace_id: id.to_string(),
            uo_id: unit.id.to_string(),
            kind: trace.kind.clone(),
            received_on: trace.received_on.to_string(),
            reference: trace.reference.clone(),
            sha256: trace.sha256.clone(),
        };
        cep_bus::enqueue(
            &mut tx,
            facts::closing_trace(&e, unit.lot, unit.beneficiary_id, at),
        )
        .await
        .map_err(store::StoreError::from)?;
        tx.commit().await?;
        Ok(trace)
    }

    // ---- reading -----------------------------------------------------------------------

    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<Deliverable, ApiError> {
        caller.require_any_role(authz::READ)?;
        let mut tx = self.pool.begin().await?;
        let d = self.deliverable(&mut tx, caller, id, false).await?;
        access_log::record(
            &mut tx,
            self.clock.now(),
            caller,
            "deliverables.get",
            &[d.unit.beneficiary_id],
        )
        .await?;
        tx.commit().await?;
        Ok(d)
    }

    /// The document to download: the signed one once complete, else the frozen or the
    /// last rendered one.
    pub async fn download(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<(Deliverable, String, DataKey), ApiError> {
        caller.require_any_role(authz::READ)?;
        let mut tx = self.pool.begin().await?;
        let d = self.deliverable(&mut tx, caller, id, false).await?;
        let sha = match &d.current_sha256 {
            Some(s) => s.clone(),
            None => store::rendered_sha256(&mut tx, id).await?.ok_or_else(|| {
                ApiError::precondition(
                    rules::WRONG_STAGE,
                    "nothing rendered yet: call Render first",
                )
            })?,
        };
        let key = self.person_key(&mut tx, d.unit.beneficiary_id).await?;
        access_log::record(
            &mut tx,
            self.clock.now(),
            caller,
            "deliverables.download",
            &[d.unit.beneficiary_id],
        )
        .await?;
        tx.commit().await?;
        Ok((d, sha, key))
    }

    pub async fn verify_bytes(
        &self,
        caller: &Caller,
        pdf: Bytes,
    ) -> Result<Verification, ApiError> {
        caller.require_any_role(authz::READ)?;
        let sha256 = crate::blobs::sha256_of(&[&pdf]);
        let authority = self.authority.clone();
        let signatures = tokio::task::spawn_blocking(move || authority.verify(&pdf))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| ApiError::invalid("pdf", e.to_string()))?;
        Ok(Verification {
            sha256,
            matches_record: None,
            signatures,
        })
    }

    pub async fn verify_recorded(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<Verification, ApiError> {
        caller.require_any_role(authz::READ)?;
        let mut conn = self.pool.acquire().await?;
        let d = self.deliverable(&mut conn, caller, id, false).await?;
        let sha = d.current_sha256.clone().ok_or_else(|| {
            ApiError::precondition(
                rules::WRONG_STAGE,
                "the deliverable is not frozen yet: nothing to verify",
            )
        })?;
        let key = self.person_key(&mut conn, d.unit.beneficiary_id).await?;
        let pdf = match self.blobs.get(d.unit.beneficiary_id, &key, &sha).await {
            Ok(b) => b,
            Err(crate::blobs::BlobError::Altered(_)) => {
                return Ok(Verification {
                    sha256: String::new(),
                    matches_record: Some(false),
                    signatures: vec![],
                });
            }
            Err(e) => return Err(ApiError::internal(e)),
        };
        let mut v = self.verify_bytes(caller, pdf).await?;
        v.matches_record = Some(v.sha256 == sha);
        Ok(v)
    }
}

/// Section texts of a draft, by key (for the adapter).
pub type Sections = BTreeMap<String, String>;
