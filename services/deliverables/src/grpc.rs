//! `cep.deliverables.v1`: translates requests into the calls of [`crate::usecases`]
//! and their results into replies; nothing else.

use std::pin::Pin;

use bytes::Bytes;
use cep_kit::auth;
use cep_proto::deliverables as pb;
use cep_proto::deliverables::deliverable_service_server::DeliverableService;
use cep_runtime::request::parse_id;
use cep_runtime::{ApiError, OnBehalf, handle, handle_on_behalf};
use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::model::{Deliverable, Kind};
use crate::usecases::{Cases, DraftEdit, MAX_UPLOAD_BYTES, NewTrace, PaperUpload, Verification};

#[derive(Debug, Clone)]
pub struct DeliverableGrpc {
    pub cases: Cases,
}

fn id(field: &str, v: &str) -> Result<uuid::Uuid, ApiError> {
    parse_id(field, v)
}

fn date(field: &str, v: &str) -> Result<chrono::NaiveDate, ApiError> {
    let mut violations = cep_runtime::Violations::default();
    cep_runtime::request::date(&mut violations, field, v).ok_or(ApiError::Invalid(violations))
}

fn reply(cases: &Cases, d: &Deliverable) -> pb::Deliverable {
    let template = cases.templates.of(d.kind);
    pb::Deliverable {
        deliverable_id: d.id.to_string(),
        uo_id: d.unit.id.to_string(),
        beneficiary_id: d.unit.beneficiary_id.to_string(),
        kind: d.kind.code().into(),
        state: d.state.code().into(),
        mode: d.mode.clone().unwrap_or_default(),
        lot: i32::from(d.unit.lot),
        structure_id: d.unit.structure_id.clone(),
        dossier_number: d.unit.dossier_number.clone(),
        sections: template
            .sections
            .iter()
            .map(|s| pb::Section {
                key: s.key.clone(),
                heading: s.heading.clone(),
                required: s.required,
                text: d.sections.get(&s.key).cloned().unwrap_or_default(),
            })
            .collect(),
        complementary_service: d
            .complementary
            .as_ref()
            .map(|c| c.kind.clone())
            .unwrap_or_default(),
        providers: d
            .complementary
            .iter()
            .flat_map(|c| &c.providers)
            .map(|p| pb::Provider {
                provider_id: p.id.clone(),
                name: p.name.clone(),
                city: p.city.clone(),
            })
            .collect(),
        provider_directory_version: d
            .complementary
            .as_ref()
            .map(|c| c.directory_version.clone())
            .unwrap_or_default(),
        wants_uo2_2: d.wants_uo2_2,
        frozen_sha256: d.frozen_sha256.clone().unwrap_or_default(),
        signed_sha256: if d.signed_at.is_some() {
            d.current_sha256.clone().unwrap_or_default()
        } else {
            String::new()
        },
        signed_at: d.signed_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        signatures: d
            .signatures
            .iter()
            .map(|s| pb::Signature {
                role: s.role.clone(),
                signer: s.signer.clone(),
                signed_at: s.signed_at.to_rfc3339(),
            })
            .collect(),
        created_at: d.created_at.to_rfc3339(),
        version: d.version,
    }
}

fn verification(v: Verification) -> pb::VerifyResponse {
    let signatures: Vec<pb::SignatureCheck> = v
        .signatures
        .into_iter()
        .map(|s| pb::SignatureCheck {
            field: s.field_name,
            signer: s.signer_subject,
            signed_at: s.signing_time.unwrap_or_default(),
            valid: s.valid,
            digest_valid: s.digest_valid,
            signature_valid: s.signature_valid,
            chain_trusted: s.chain_trusted,
            covers_revision: s.covers_revision,
            later_changes_allowed: s.later_changes_allowed,
        })
        .collect();
    let valid = !signatures.is_empty()
        && signatures.iter().all(|s| s.valid)
        && v.matches_record != Some(false);
    pb::VerifyResponse {
        sha256: v.sha256,
        matches_record: v.matches_record.unwrap_or(false),
        signatures,
        valid,
    }
}

fn broken(s: Status) -> ApiError {
    ApiError::Unavailable(format!("the upload broke off: {}", s.message()))
}

const CHUNK: usize = 64 * 1024;

type ChunkStream = Pin<Box<dyn Stream<Item = Result<pb::DownloadChunk, Status>> + Send>>;

#[tonic::async_trait]
impl DeliverableService for DeliverableGrpc {
    async fn create_draft(
        &self,
        r: Request<pb::CreateDraftRequest>,
    ) -> Result<Response<pb::Deliverable>, Status> {
        handle(r, |caller, m| async move {
            let uo = id("uo_id", &m.uo_id)?;
            let kind = Kind::parse(&m.kind).ok_or_else(|| {
                ApiError::invalid(
                    "kind",
                    "ETAT_DES_LIEUX_PARTAGE (UO1) or PROJET_PROFESSIONNEL (UO2.1)",
                )
            })?;
            let d = self.cases.create_draft(&caller, uo, kind).await?;
            Ok(reply(&self.cases, &d))
        })
        .await
    }

    async fn update_draft(
        &self,
        r: Request<pb::UpdateDraftRequest>,
    ) -> Result<Response<pb::Deliverable>, Status> {
        handle(r, |caller, m| async move {
            let d = id("deliverable_id", &m.deliverable_id)?;
            let edit = DraftEdit {
                sections: m.sections.into_iter().map(|s| (s.key, s.text)).collect(),
                complementary_service: Some(m.complementary_service),
                wants_uo2_2: m.wants_uo2_2,
            };
            let d = self.cases.update_draft(&caller, d, edit).await?;
            Ok(reply(&self.cases, &d))
        })
        .await
    }

    async fn validate(
        &self,
        r: Request<pb::ValidateRequest>,
    ) -> Result<Response<pb::ValidateResponse>, Status> {
        handle(r, |caller, m| async move {
            let missing = self
                .cases
                .validate(&caller, id("deliverable_id", &m.deliverable_id)?)
                .await?;
            Ok(pb::ValidateResponse {
                complete: missing.is_empty(),
                missing: missing
                    .into_iter()
                    .map(|m| pb::Missing {
                        field: m.field,
                        rule: m.rule.into(),
                        message: m.message,
                    })
                    .collect(),
            })
        })
        .await
    }

    async fn render(
        &self,
        r: Request<pb::RenderRequest>,
    ) -> Result<Response<pb::RenderResponse>, Status> {
        handle_on_behalf(r, |caller, on_behalf, m| async move {
            let out = self
                .cases
                .render(
                    &caller,
                    &on_behalf,
                    id("deliverable_id", &m.deliverable_id)?,
                )
                .await?;
            Ok(pb::RenderResponse {
                sha256: out.sha256,
                size: out.size as i64,
                pages: out.pages as i32,
            })
        })
        .await
    }

    async fn start_signing(
        &self,
        r: Request<pb::StartSigningRequest>,
    ) -> Result<Response<pb::Deliverable>, Status> {
        handle_on_behalf(r, |caller, on_behalf, m| async move {
            let d = self
                .cases
                .start_signing(
                    &caller,
                    &on_behalf,
                    id("deliverable_id", &m.deliverable_id)?,
                )
                .await?;
            Ok(reply(&self.cases, &d))
        })
        .await
    }

    async fn sign_as_counsellor(
        &self,
        r: Request<pb::SignAsCounsellorRequest>,
    ) -> Result<Response<pb::Deliverable>, Status> {
        handle_on_behalf(r, |caller, on_behalf, m| async move {
            let d = self
                .cases
                .sign_as_counsellor(
                    &caller,
                    &on_behalf,
                    id("deliverable_id", &m.deliverable_id)?,
                )
                .await?;
            Ok(reply(&self.cases, &d))
        })
        .await
    }

    async fn send_beneficiary_code(
        &self,
        r: Request<pb::SendBeneficiaryCodeRequest>,
    ) -> Result<Response<pb::SendBeneficiaryCodeResponse>, Status> {
        handle_on_behalf(r, |caller, on_behalf, m| async move {
            let (sent_to, expires) = self
                .cases
                .send_code(
                    &caller,
                    &on_behalf,
                    id("deliverable_id", &m.deliverable_id)?,
                    &m.channel,
                )
                .await?;
            Ok(pb::SendBeneficiaryCodeResponse {
                sent_to,
                expires_at: expires.to_rfc3339(),
            })
        })
        .await
    }

    async fn sign_as_beneficiary(
        &self,
        r: Request<pb::SignAsBeneficiaryRequest>,
    ) -> Result<Response<pb::Deliverable>, Status> {
        handle_on_behalf(r, |caller, on_behalf, m| async move {
            let d = id("deliverable_id", &m.deliverable_id)?;
            let d = self
                .cases
                .sign_as_beneficiary(&caller, &on_behalf, d, &m.code, &m.mention)
                .await?;
            Ok(reply(&self.cases, &d))
        })
        .await
    }

    async fn upload_paper_signed(
        &self,
        r: Request<Streaming<pb::UploadPaperSignedRequest>>,
    ) -> Result<Response<pb::Deliverable>, Status> {
        let caller = auth::caller(&r).map_err(ApiError::from)?.clone();
        let on_behalf = OnBehalf::of(&r).ok_or_else(|| ApiError::from(auth::AuthError::Missing))?;
        let mut stream = r.into_inner();
        let result: Result<pb::Deliverable, ApiError> = async {
            use pb::upload_paper_signed_request::Part;
            let header = match stream.message().await.map_err(broken)? {
                Some(pb::UploadPaperSignedRequest {
                    part: Some(Part::Header(h)),
                }) => h,
                _ => {
                    return Err(ApiError::invalid(
                        "header",
                        "the first message is the header",
                    ));
                }
            };
            let mut pdf = Vec::new();
            while let Some(m) = stream.message().await.map_err(broken)? {
                match m.part {
                    Some(Part::Chunk(c)) => {
                        if pdf.len() + c.len() > MAX_UPLOAD_BYTES {
                            return Err(ApiError::invalid(
                                "chunk",
                                format!("the scan is larger than {MAX_UPLOAD_BYTES} bytes"),
                            ));
                        }
                        pdf.extend_from_slice(&c);
                    }
                    _ => {
                        return Err(ApiError::invalid(
                            "header",
                            "only the first message is a header",
                        ));
                    }
                }
            }
            let upload = PaperUpload {
                deliverable_id: id("header.deliverable_id", &header.deliverable_id)?,
                attestation: header.attestation,
                signed_on: date("header.signed_on", &header.signed_on)?,
                pdf: Bytes::from(pdf),
            };
            let d = self.cases.upload_paper(&caller, &on_behalf, upload).await?;
            Ok(reply(&self.cases, &d))
        }
        .await;
        Ok(Response::new(result?))
    }

    async fn record_closing_trace(
        &self,
        r: Request<pb::RecordClosingTraceRequest>,
    ) -> Result<Response<pb::ClosingTrace>, Status> {
        handle(r, |caller, m| async move {
            let t = NewTrace {
                uo_id: id("uo_id", &m.uo_id)?,
                kind: m.kind,
                received_on: date("received_on", &m.received_on)?,
                summary: m.summary,
                content: Bytes::from(m.content),
            };
            let t = self.cases.record_trace(&caller, t).await?;
            Ok(pb::ClosingTrace {
                trace_id: t.id.to_string(),
                uo_id: t.uo_id.to_string(),
                kind: t.kind,
                received_on: t.received_on.to_string(),
                reference: t.reference,
                sha256: t.sha256,
            })
        })
        .await
    }

    async fn get_deliverable(
        &self,
        r: Request<pb::GetDeliverableRequest>,
    ) -> Result<Response<pb::Deliverable>, Status> {
        handle(r, |caller, m| async move {
            let d = self
                .cases
                .get(&caller, id("deliverable_id", &m.deliverable_id)?)
                .await?;
            Ok(reply(&self.cases, &d))
        })
        .await
    }

    type DownloadStream = ChunkStream;

    async fn download(
        &self,
        r: Request<pb::DownloadRequest>,
    ) -> Result<Response<ChunkStream>, Status> {
        let caller = auth::caller(&r).map_err(ApiError::from)?.clone();
        let m = r.into_inner();
        let result: Result<ChunkStream, ApiError> = async {
            let (d, sha, key) = self
                .cases
                .download(&caller, id("deliverable_id", &m.deliverable_id)?)
                .await?;
            let (size, blob) = self
                .cases
                .blobs
                .stream(d.unit.beneficiary_id, &key, &sha)
                .await
                .map_err(ApiError::internal)?;
            let file_name = format!(
                "{}-{}.pdf",
                d.kind.code().to_lowercase(),
                d.unit.dossier_number.replace(' ', "")
            );
            let mut first = Some((size, sha, file_name));
            let chunks = blob
                .flat_map(|part| {
                    let pieces: Vec<Result<Bytes, Status>> = match part {
                        Ok(b) => (0..b.len())
                            .step_by(CHUNK)
                            .map(|i| Ok(b.slice(i..(i + CHUNK).min(b.len()))))
                            .collect(),
                        Err(e) => vec![Err(Status::from(ApiError::internal(e)))],
                    };
                    futures::stream::iter(pieces)
                })
                .map(move |piece| {
                    piece.map(|data| {
                        let (total_size, sha256, file_name) = first
                            .take()
                            .map_or((0, String::new(), String::new()), |(s, h, f)| {
                                (s as i64, h, f)
                            });
                        pb::DownloadChunk {
                            data: data.to_vec(),
                            total_size,
                            sha256,
                            file_name,
                        }
                    })
                });
            Ok(Box::pin(chunks) as ChunkStream)
        }
        .await;
        Ok(Response::new(result?))
    }

    async fn verify(
        &self,
        r: Request<pb::VerifyRequest>,
    ) -> Result<Response<pb::VerifyResponse>, Status> {
        handle(r, |caller, m| async move {
            use pb::verify_request::Target;
            let v = match m.target {
                Some(Target::DeliverableId(d)) => {
                    self.cases
                        .verify_recorded(&caller, id("deliverable_id", &d)?)
                        .await?
                }
                Some(Target::Pdf(bytes)) => {
                    self.cases.verify_bytes(&caller, Bytes::from(bytes)).await?
                }
                None => {
                    return Err(ApiError::invalid(
                        "target",
                        "a deliverable_id or the pdf bytes",
                    ));
                }
            };
            Ok(verification(v))
        })
        .await
    }
}
