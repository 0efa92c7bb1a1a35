//! Three services on one nats-server (journeys, beneficiaries, deliverables), a test
//! certificate authority, a mail folder and a blob folder; an engaged person; the
//! code read from the mail the service wrote; the outside validators.

use std::path::{Path, PathBuf};
use std::process::Command;

use cep_kit::auth::Role;
use cep_proto::beneficiaries as bpb;
use cep_proto::beneficiaries::beneficiary_service_client::BeneficiaryServiceClient;
use cep_proto::common::Uo;
use cep_proto::deliverables as pb;
use cep_proto::deliverables::deliverable_service_client::DeliverableServiceClient;
use cep_proto::journeys as jpb;
use cep_proto::journeys::journey_service_client::JourneyServiceClient;
use cep_proto::journeys::purchase_order_service_client::PurchaseOrderServiceClient;
use cep_testkit::service::{self, Companion, Options, TestService};
use tonic::transport::Channel;

pub use cep_testkit::service::{authed, rule};

pub struct Stack {
    pub journeys: TestService,
    pub beneficiaries: Companion,
    pub deliverables: Companion,
    pub dir: tempfile::TempDir,
}

/// The real time: certificates are issued for the system clock, and pyHanko judges
/// them against it.
#[allow(clippy::disallowed_methods)]
pub fn real_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

pub async fn stack() -> Stack {
    stack_with(&[]).await
}

/// The three services, journeys with `journeys_settings`.
pub async fn stack_with(journeys_settings: &[(&str, &str)]) -> Stack {
    let options = Options {
        settings: journeys_settings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .chain(journeys::settings::harness_secrets())
            .collect(),
        ..Options::default()
    };
    let journeys = service::spawn::<journeys::Journeys>(options).await;
    let beneficiaries = service::spawn_beside::<beneficiaries::Beneficiaries>(
        &journeys,
        Options {
            settings: beneficiaries::settings::harness_secrets(),
            ..Options::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, ca) = cep_pades::pki::new_ca("CA de test", "Opérateur de test", 30).expect("CA");
    std::fs::write(
        dir.path().join("ca.pem"),
        cep_pades::pki::cert_to_pem(&ca).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("ca.key"),
        cep_pades::pki::key_to_pem(&key).unwrap(),
    )
    .unwrap();
    let path = |p: &str| dir.path().join(p).to_string_lossy().into_owned();
    let settings = vec![
        ("SIGNING__ISSUER_CERTIFICATE_PATH", path("ca.pem")),
        ("SIGNING__ISSUER_KEY_PATH", path("ca.key")),
        ("SIGNING__LOCATION", "Nantes".into()),
        (
            "CODE__HASHING_KEY",
            "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=".into(),
        ),
        (
            "PERSONAL__WRAPPING_KEY",
            "BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU=".into(),
        ),
        ("MAIL__TRANSPORT", "file".into()),
        ("MAIL__DIRECTORY", path("mail")),
        ("BLOBS__ROOT", path("blobs")),
        (
            "LETTERHEAD__OPERATOR_NAME",
            "Évolution Conseil Pays de la Loire".into(),
        ),
        ("JOURNEYS__ENDPOINT", format!("http://{}", journeys.addr)),
        (
            "BENEFICIARIES__ENDPOINT",
            format!("http://{}", beneficiaries.addr),
        ),
    ];
    let deliverables = service::spawn_beside::<deliverables::Deliverables>(
        &journeys,
        Options {
            settings: settings
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            ..Options::default()
        },
    )
    .await;
    deliverables.clock.set(real_now());
    Stack {
        journeys,
        beneficiaries,
        deliverables,
        dir,
    }
}

/// A token every one of the three services accepts.
pub fn token(role: Role) -> String {
    service::token(
        &["deliverables", "journeys", "beneficiaries"],
        role,
        &[8],
        &[],
    )
}

pub fn counsellor() -> String {
    token(Role::Counsellor)
}

impl Stack {
    pub async fn client(&self) -> DeliverableServiceClient<Channel> {
        DeliverableServiceClient::new(self.deliverables.channel().await)
    }

    pub async fn journeys(&self) -> JourneyServiceClient<Channel> {
        JourneyServiceClient::new(self.journeys.channel().await)
    }

    pub fn mail_dir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A person registered in lot 8 with an email, engaged in `uo` (a UO2.1 with a
    /// referent), once deliverables knows the unit.
    pub async fn engaged(&self, uo: Uo) -> (String, String) {
        let manager = token(Role::Manager);
        PurchaseOrderServiceClient::new(self.journeys.channel().await)
            .create_purchase_order(authed(
                jpb::CreatePurchaseOrderRequest {
                    lot: 8,
                    year: 2026,
                    lines: vec![
                        jpb::NewLine {
                            uo: "UO1".into(),
                            quantity: 10,
                        },
                        jpb::NewLine {
                            uo: "UO2.1".into(),
                            quantity: 10,
                        },
                    ],
                    ..Default::default()
                },
                &manager,
            ))
            .await
            .expect("purchase order");
        let person = BeneficiaryServiceClient::new(self.beneficiaries.channel().await)
            .register(authed(
                bpb::RegisterRequest {
                    lot: 8,
                    structure_id: "nantes-centre".into(),
                    last_name: "Lefèvre".into(),
                    first_name: "Zoé".into(),
                    birth_date: "1988-04-02".into(),
                    employment_status: "SALARIE_PRIVE".into(),
                    home_postal_code: Some("44000".into()),
                    email: Some("zoe.lefevre@example.org".into()),
                    ..Default::default()
                },
                &counsellor(),
            ))
            .await
            .expect("registered")
            .into_inner()
            .beneficiary_id;
        let referent = if uo == Uo::Uo21 { "counsellor-1" } else { "" };
        let mut j = self.journeys().await;
        let unit = eventually(|| {
            let mut j = j.clone();
            let person = person.clone();
            async move {
                j.engage(authed(
                    jpb::EngageRequest {
                        beneficiary_id: person,
                        uo: uo as i32,
                        engagement_date: "2026-11-29".into(),
                        origin: "ENTREPRISE".into(),
                        request_reason: "FAIRE_LE_POINT".into(),
                        referent: referent.into(),
                        ..Default::default()
                    },
                    &counsellor(),
                ))
                .await
                .ok()
                .map(|r| r.into_inner())
            }
        })
        .await;
        let _ = &mut j;
        (unit.uo_id, person)
    }

    /// A draft for the unit, once deliverables has heard of it.
    pub async fn draft(&self, uo_id: &str, kind: &str) -> pb::Deliverable {
        let client = self.client().await;
        eventually(|| {
            let mut client = client.clone();
            async move {
                match client
                    .create_draft(authed(
                        pb::CreateDraftRequest {
                            uo_id: uo_id.into(),
                            kind: kind.into(),
                        },
                        &counsellor(),
                    ))
                    .await
                {
                    Ok(d) => Some(d.into_inner()),
                    Err(s) if s.code() == tonic::Code::NotFound => None,
                    Err(s) => panic!("draft refused: {s:?}"),
                }
            }
        })
        .await
    }

    /// A complete État des lieux partagé, drafted for a new engaged UO1.
    pub async fn complete_etat_des_lieux(&self) -> (pb::Deliverable, String, String) {
        let (uo, person) = self.engaged(Uo::Uo1).await;
        let d = self.draft(&uo, "ETAT_DES_LIEUX_PARTAGE").await;
        let d = self
            .client()
            .await
            .update_draft(authed(
                pb::UpdateDraftRequest {
                    deliverable_id: d.deliverable_id,
                    sections: sections(&["situation", "information", "decision", "next_steps"]),
                    ..Default::default()
                },
                &counsellor(),
            ))
            .await
            .expect("updated")
            .into_inner();
        (d, uo, person)
    }

    /// The unit `uo` of `person` once journeys has closed it.
    pub async fn closed_unit(&self, person: &str, uo: &str) -> jpb::UnitOfWork {
        let j = self.journeys().await;
        eventually(|| {
            let mut j = j.clone();
            let (person, uo) = (person.to_owned(), uo.to_owned());
            async move {
                let journey = j
                    .get_journey(authed(
                        jpb::GetJourneyRequest {
                            beneficiary_id: person,
                        },
                        &counsellor(),
                    ))
                    .await
                    .ok()?
                    .into_inner();
                journey
                    .units
                    .into_iter()
                    .find(|u| u.uo_id == uo && !u.closure_reason.is_empty())
            }
        })
        .await
    }

    /// The newest mail sent, as written.
    pub fn last_mail(&self) -> String {
        let newest = std::fs::read_dir(self.mail_dir())
            .expect("mail folder")
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .max_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap())
            .expect("a mail was written");
        std::fs::read_to_string(newest).unwrap()
    }

    /// The code of the newest mail sent.
    pub fn last_code(&self) -> String {
        code_in(&self.last_mail())
    }

    /// Every file of the blob folder, as bytes.
    pub fn blob_files(&self) -> Vec<Vec<u8>> {
        fn walk(dir: &Path, out: &mut Vec<Vec<u8>>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push(std::fs::read(&p).unwrap());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.dir.path().join("blobs"), &mut out);
        out
    }

    pub fn mails(&self) -> usize {
        std::fs::read_dir(self.mail_dir()).map_or(0, |d| d.count())
    }
}

/// The six digits after "… (dossier …) : " in a mail, soft line breaks undone.
pub fn code_in(eml: &str) -> String {
    let text = eml.replace("=\r\n", "").replace("=\n", "");
    let at = text.find(") : ").expect("the code's sentence") + 4;
    let code: String = text[at..].chars().take(6).collect();
    assert!(code.chars().all(|c| c.is_ascii_digit()), "{code}");
    code
}

pub fn sections(keys: &[&str]) -> Vec<pb::SectionText> {
    keys.iter()
        .map(|k| pb::SectionText {
            key: (*k).into(),
            text: format!(
                "Texte de la section {k} : la personne, salariée depuis huit ans, \
                           souhaite faire le point sur son évolution.\n\nSecond paragraphe."
            ),
        })
        .collect()
}

pub use cep_testkit::eventually;

pub async fn download(stack: &Stack, id: &str) -> Vec<u8> {
    let mut stream = stack
        .client()
        .await
        .download(authed(
            pb::DownloadRequest {
                deliverable_id: id.into(),
            },
            &counsellor(),
        ))
        .await
        .expect("download")
        .into_inner();
    let mut bytes = Vec::new();
    let mut total = 0;
    while let Some(chunk) = stream.message().await.expect("chunk") {
        if chunk.total_size > 0 {
            total = chunk.total_size;
        }
        bytes.extend_from_slice(&chunk.data);
    }
    assert_eq!(bytes.len() as i64, total);
    bytes
}

fn tool(name: &str) -> Command {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{name} is needed: bash scripts/lib.sh's ensure_pdf_tools installs it (pyhanko from PyPI, pdfsig from poppler-utils)"
    );
    Command::new(name)
}

/// pyHanko's judgement of every signature of `pdf` against the stack's CA.
pub fn pyhanko(stack: &Stack, pdf: &Path) -> (bool, String) {
    let out = tool("pyhanko")
        .args([
            "sign",
            "validate",
            "--pretty-print",
            "--no-revocation-check",
            "--trust",
        ])
        .arg(stack.ca())
        .arg("--trust-replace")
        .arg(pdf)
        .output()
        .expect("pyhanko runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// poppler's pdfsig output (its exit code says nothing of the digests).
pub fn pdfsig(pdf: &Path) -> String {
    let out = tool("pdfsig").arg(pdf).output().expect("pdfsig runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
