//! `cepctl deliverable …`: the deliverables of the UOs (État des lieux partagé,
//! Projet professionnel), from the draft to the two signatures or the paper copy, and
//! their download and verification. Large documents go up and down in chunks, with a
//! progress line on standard error.

use std::io::Write;
use std::path::PathBuf;

use cep_proto::deliverables as pb;
use cep_proto::deliverables::deliverable_service_client::DeliverableServiceClient;
use serde_json::json;

use crate::call::{self, Target, request};
use crate::failure::Failure;
use crate::output::{self, Format};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Start the draft of a UO (`--uo ID --kind ETAT_DES_LIEUX_PARTAGE|PROJET_PROFESSIONNEL`)
    /// or change one (`--id ID`): `--section KEY=TEXT`, `--section-file KEY=PATH`,
    /// `--complementary BILAN_COMPETENCES|…|NONE`, `--wants-uo2-2 true|false`.
    Draft {
        #[arg(long, conflicts_with = "id")]
        uo: Option<String>,
        #[arg(long, requires = "uo")]
        kind: Option<String>,
        #[arg(long)]
        id: Option<String>,
        #[arg(long = "section")]
        sections: Vec<String>,
        #[arg(long = "section-file")]
        section_files: Vec<String>,
        #[arg(long, default_value = "")]
        complementary: String,
        #[arg(long)]
        wants_uo2_2: Option<bool>,
    },
    /// What is still missing before the document can be frozen.
    Validate { id: String },
    /// Render the draft (PDF/A-2b) for review.
    Render { id: String },
    /// Sign: `--as counsellor` (freezes the document first when it is a draft), or
    /// `--as beneficiary --code 123456` with the mention the person typed.
    Sign {
        id: String,
        #[arg(long = "as", value_parser = ["counsellor", "beneficiary"])]
        role: String,
        #[arg(long, required_if_eq("role", "beneficiary"))]
        code: Option<String>,
        #[arg(long, default_value = "lu et approuvé")]
        mention: String,
    },
    /// Send the beneficiary's one-time code (email).
    SendCode {
        id: String,
        #[arg(long, default_value = "EMAIL")]
        channel: String,
    },
    /// Check a document's signatures: a deliverable's (`ID`) or a file's (`--file`).
    Verify {
        #[arg(required_unless_present = "file")]
        id: Option<String>,
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Save the current document (the signed one once complete) to `--out`.
    Download {
        id: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// The paper path: the scanned signed copy and the counsellor's attestation.
    UploadPaper {
        id: String,
        #[arg(long)]
        file: PathBuf,
        #[arg(long)]
        attestation: String,
        /// The date on the paper copy (YYYY-MM-DD).
        #[arg(long)]
        signed_on: String,
    },
}

/// A command line that cannot be run as given.
fn usage(sentence: impl Into<String>) -> Failure {
    Failure::new(tonic::Code::InvalidArgument, sentence)
}

/// `done` of `total` bytes, on one line of standard error.
fn progress(what: &str, done: u64, total: u64) {
    let percent = (done * 100).checked_div(total).unwrap_or(100);
    let mut err = std::io::stderr();
    let _ = write!(err, "\r{what}: {done} / {total} bytes ({percent}%)");
    if done >= total {
        let _ = writeln!(err);
    }
    let _ = err.flush();
}

fn pair(value: &str, flag: &str) -> Result<(String, String), Failure> {
    value
        .split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .ok_or_else(|| usage(format!("{flag} {value:?}: expected KEY=VALUE")))
}

fn print(format: Format, d: &pb::Deliverable) -> anyhow::Result<()> {
    let shown = json!({
        "deliverable_id": d.deliverable_id,
        "kind": d.kind,
        "state": d.state,
        "mode": d.mode,
        "dossier_number": d.dossier_number,
        "sections_written": d.sections.iter().filter(|s| !s.text.is_empty()).count(),
        "providers": d.providers.len(),
        "frozen_sha256": d.frozen_sha256,
        "signed_sha256": d.signed_sha256,
        "signatures": d.signatures.iter().map(|s| format!("{} {}", s.role, s.signed_at)).collect::<Vec<_>>(),
    });
    match format {
        Format::Json => output::print(format, d, None),
        Format::Table => output::print(format, &shown, None),
    }
}

pub async fn run(
    cmd: Command,
    token: Option<String>,
    addr: &str,
    format: Format,
) -> anyhow::Result<()> {
    let token = call::token(token)?;
    let target = Target::new(
        "deliverables",
        addr,
        "--deliverables-addr, CEP_DELIVERABLES_ADDR",
    )?;
    let mut client = DeliverableServiceClient::new(target.channel());
    let status = |e: tonic::Status| target.failure(e);
    match cmd {
        Command::Draft {
            uo,
            kind,
            id,
            sections,
            section_files,
            complementary,
            wants_uo2_2,
        } => {
            let mut texts = Vec::new();
            for s in &sections {
                let (key, text) = pair(s, "--section")?;
                texts.push(pb::SectionText { key, text });
            }
            for s in &section_files {
                let (key, path) = pair(s, "--section-file")?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| usage(format!("--section-file {key}: cannot read {path}: {e}")))?;
                texts.push(pb::SectionText { key, text });
            }
            let id = match (id, uo) {
                (Some(id), _) => id,
                (None, Some(uo_id)) => {
                    let kind = kind.ok_or_else(|| usage("--kind is required with --uo"))?;
                    let d = client
                        .create_draft(request(pb::CreateDraftRequest { uo_id, kind }, &token)?)
                        .await
                        .map_err(status)?
                        .into_inner();
                    if texts.is_empty() && complementary.is_empty() && wants_uo2_2.is_none() {
                        return print(format, &d);
                    }
                    d.deliverable_id
                }
                (None, None) => {
                    return Err(usage("give --uo and --kind for a new draft, or --id").into());
                }
            };
            let d = client
                .update_draft(request(
                    pb::UpdateDraftRequest {
                        deliverable_id: id,
                        sections: texts,
                        complementary_service: complementary,
                        wants_uo2_2,
                    },
                    &token,
                )?)
                .await
                .map_err(status)?
                .into_inner();
            print(format, &d)
        }
        Command::Validate { id } => {
            let reply = client
                .validate(request(pb::ValidateRequest { deliverable_id: id }, &token)?)
                .await
                .map_err(status)?
                .into_inner();
            output::print(format, &reply, Some("missing"))
        }
        Command::Render { id } => {
            let reply = client
                .render(request(pb::RenderRequest { deliverable_id: id }, &token)?)
                .await
                .map_err(status)?
                .into_inner();
            output::print(format, &reply, None)
        }
        Command::Sign {
            id,
            role,
            code,
            mention,
        } => {
            let d = if role == "counsellor" {
                let current = client
                    .get_deliverable(request(
                        pb::GetDeliverableRequest {
                            deliverable_id: id.clone(),
                        },
                        &token,
                    )?)
                    .await
                    .map_err(status)?
                    .into_inner();
                if current.state == "DRAFT" {
                    client
                        .start_signing(request(
                            pb::StartSigningRequest {
                                deliverable_id: id.clone(),
                            },
                            &token,
                        )?)
                        .await
                        .map_err(status)?;
                }
                client
                    .sign_as_counsellor(request(
                        pb::SignAsCounsellorRequest { deliverable_id: id },
                        &token,
                    )?)
                    .await
                    .map_err(status)?
                    .into_inner()
            } else {
                client
                    .sign_as_beneficiary(request(
                        pb::SignAsBeneficiaryRequest {
                            deliverable_id: id,
                            code: code.unwrap_or_default(),
                            mention,
                        },
                        &token,
                    )?)
                    .await
                    .map_err(status)?
                    .into_inner()
            };
            print(format, &d)
        }
        Command::SendCode { id, channel } => {
            let reply = client
                .send_beneficiary_code(request(
                    pb::SendBeneficiaryCodeRequest {
                        deliverable_id: id,
                        channel,
                    },
                    &token,
                )?)
                .await
                .map_err(status)?
                .into_inner();
            output::print(format, &reply, None)
        }
        Command::Verify { id, file } => {
            let target = match (id, file) {
                (_, Some(path)) => {
                    let bytes = std::fs::read(&path).map_err(|e| {
                        usage(format!("--file: cannot read {}: {e}", path.display()))
                    })?;
                    pb::verify_request::Target::Pdf(bytes)
                }
                (Some(id), None) => pb::verify_request::Target::DeliverableId(id),
                (None, None) => return Err(usage("give a deliverable id or --file").into()),
            };
            let reply = client
                .verify(request(
                    pb::VerifyRequest {
                        target: Some(target),
                    },
                    &token,
                )?)
                .await
                .map_err(status)?
                .into_inner();
            output::print(format, &reply, Some("signatures"))
        }
        Command::Download { id, out } => {
            let mut stream = client
                .download(request(pb::DownloadRequest { deliverable_id: id }, &token)?)
                .await
                .map_err(status)?
                .into_inner();
            let partial = out.with_extension("part");
            let mut file = std::fs::File::create(&partial)
                .map_err(|e| usage(format!("--out: cannot write {}: {e}", partial.display())))?;
            let (mut done, mut total, mut sha256) = (0u64, 0u64, String::new());
            while let Some(chunk) = stream.message().await.map_err(status)? {
                if chunk.total_size > 0 {
                    total = chunk.total_size as u64;
                    sha256 = chunk.sha256.clone();
                }
                file.write_all(&chunk.data)?;
                done += chunk.data.len() as u64;
                progress("download", done, total);
            }
            file.sync_all()?;
            drop(file);
            std::fs::rename(&partial, &out)?;
            output::print(
                format,
                &json!({"file": out.display().to_string(), "size": done, "sha256": sha256}),
                None,
            )
        }
        Command::UploadPaper {
            id,
            file,
            attestation,
            signed_on,
        } => {
            let bytes = std::fs::read(&file)
                .map_err(|e| usage(format!("--file: cannot read {}: {e}", file.display())))?;
            let total = bytes.len() as u64;
            let header = pb::UploadPaperSignedRequest {
                part: Some(pb::upload_paper_signed_request::Part::Header(
                    pb::PaperHeader {
                        deliverable_id: id,
                        attestation,
                        signed_on,
                    },
                )),
            };
            let chunks: Vec<Vec<u8>> = bytes.chunks(64 * 1024).map(<[u8]>::to_vec).collect();
            let mut sent = 0u64;
            let parts = std::iter::once(header).chain(chunks.into_iter().map(move |c| {
                sent += c.len() as u64;
                progress("upload", sent, total);
                pb::UploadPaperSignedRequest {
                    part: Some(pb::upload_paper_signed_request::Part::Chunk(c)),
                }
            }));
            let d = client
                .upload_paper_signed(request(tokio_stream::iter(parts), &token)?)
                .await
                .map_err(status)?
                .into_inner();
            print(format, &d)
        }
    }
}
