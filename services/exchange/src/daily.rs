//! The annex-2 daily files of a lot and day: one per data family from the day's
//! records ([`crate::records`]), each person's identity and NIR asked of
//! beneficiaries on the caller's behalf (never kept here), the deliverables signed
//! that day fetched from deliverables and checked against their recorded hash, and a
//! manifest naming every file with its size, SHA-256 and record count.
//!
//! Files are written under a temporary name, then renamed: a reader never sees half
//! a file. A file of the day's folder that the new build does not name is removed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cep_domain::Lot;
use cep_proto::deliverables as dpb;
use cep_runtime::{ApiError, OnBehalf};
use chrono::{NaiveDate, SecondsFormat};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio_stream::StreamExt;
use uuid::Uuid;

use crate::files::{self, Format};
use crate::records::{Family, IDENTITY, TRAILER};
use crate::settings::ExportSettings;
use crate::store::{self, DailyRecord};

/// A file written, as the manifest and the answer name it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Written {
    pub name: String,
    pub size: i64,
    pub sha256: String,
    pub records: i64,
    /// DATA, DELIVERABLE or MANIFEST.
    pub kind: String,
}

/// A day's files.
#[derive(Debug, Clone)]
pub struct Export {
    pub directory: PathBuf,
    /// The day's folder relative to the export folder (and to the remote root).
    pub relative: String,
    pub files: Vec<Written>,
}

/// The names of a lot and day's files.
#[derive(Debug)]
pub struct Names<'a> {
    settings: &'a ExportSettings,
    lot: String,
    day: String,
    yyyymmdd: String,
}

impl<'a> Names<'a> {
    #[must_use]
    pub fn new(settings: &'a ExportSettings, lot: Lot, day: NaiveDate) -> Self {
        Self {
            settings,
            lot: lot.two_digits(),
            day: day.to_string(),
            yyyymmdd: day.format("%Y%m%d").to_string(),
        }
    }

    fn fill(&self, pattern: &str, more: &[(&str, &str)]) -> String {
        let mut values = vec![
            ("lot", self.lot.as_str()),
            ("day", self.day.as_str()),
            ("yyyymmdd", self.yyyymmdd.as_str()),
        ];
        values.extend_from_slice(more);
        files::fill(pattern, &values)
    }

    #[must_use]
    pub fn directory(&self) -> String {
        self.fill(&self.settings.day_directory, &[])
    }

    fn data(&self, family: Family, format: Format) -> String {
        let family = family.code().to_lowercase();
        self.fill(
            &self.settings.file_name,
            &[("family", &family), ("ext", format.extension())],
        )
    }

    fn deliverable(&self, dossier: &str, kind: &str) -> String {
        self.fill(
            &self.settings.deliverable_name,
            &[("dossier", dossier), ("kind", &kind.to_lowercase())],
        )
    }

    fn manifest(&self) -> String {
        self.fill(&self.settings.manifest_name, &[])
    }
}

/// What the build needs from the outside: the persons' identity and the signed PDFs.
#[derive(Debug, Clone)]
pub struct Peers {
    pub beneficiaries: tonic::transport::Channel,
    pub deliverables: tonic::transport::Channel,
}

fn text(fields: &serde_json::Map<String, Value>, column: &str) -> String {
    fields
        .get(column)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The identity columns of a person, as beneficiaries answers the caller ("" for an
/// erased person, or one the caller may not see).
async fn identity(peers: &Peers, on_behalf: &OnBehalf, id: &str) -> Result<Vec<String>, ApiError> {
    let Ok(id) = id.parse::<Uuid>() else {
        return Ok(vec![String::new(); IDENTITY.len()]);
    };
    let p = match cep_runtime::personal::beneficiary(&peers.beneficiaries, on_behalf, id).await {
        Ok(p) => p,
        Err(ApiError::NotFound(_)) => return Ok(vec![String::new(); IDENTITY.len()]),
        Err(e) => return Err(e),
    };
    let f = p.profile.unwrap_or_default();
    Ok(vec![
        p.last_name,
        p.usual_name,
        p.first_name,
        p.birth_date,
        p.nir,
        f.sex,
        f.address_street_number,
        f.address_street_type,
        f.address_street_name,
        f.address_postal_code,
        f.address_city,
        p.email,
        p.phone,
        f.sector_label,
        f.job_label,
        f.company_entry_month,
        f.disability,
        f.employer_postal_code,
        f.employer_city,
    ])
}

/// The row of a record: its family's columns, then the trailer.
async fn row(
    lot: Lot,
    r: DailyRecord,
    peers: &Peers,
    on_behalf: &OnBehalf,
) -> Result<Vec<String>, ApiError> {
    let who = (r.family == Family::Beneficiaires && text(&r.fields, "efface") != "1")
        .then(|| identity(peers, on_behalf, &r.record_id));
    let known = match who {
        Some(fetch) => Some(fetch.await?),
        None => None,
    };
    let mut out = Vec::with_capacity(r.family.columns().len() + TRAILER.len());
    for column in r.family.columns() {
        let value = match IDENTITY.iter().position(|c| c == column) {
            Some(i) => known.as_ref().map(|k| k[i].clone()).unwrap_or_default(),
            None => text(&r.fields, column),
        };
        out.push(value);
    }
    let local = r.changed_at.with_timezone(&lot.time_zone());
    out.push(r.day.to_string());
    out.push(local.format("%H:%M:%S").to_string());
    out.push(r.changed_at.to_rfc3339_opts(SecondsFormat::Secs, true));
    Ok(out)
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The temporary name a file is written under before it takes its own.
fn temporary(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.part"))
}

/// A new file readable by the service's user only (the files hold identities and NIRs).
async fn private_file(path: &Path) -> std::io::Result<tokio::fs::File> {
    tokio::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .await
}

/// Writes `bytes` at `path` through a temporary name in the same folder.
async fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt as _;
    let tmp = temporary(path);
    let mut file = private_file(&tmp).await?;
    file.write_all(bytes).await?;
    file.sync_all().await?;
    tokio::fs::rename(&tmp, path).await
}

/// Creates the day's folder (and those above it), readable by the service's user only.
async fn private_folder(path: &Path) -> std::io::Result<()> {
    tokio::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .await
}

fn io(e: std::io::Error) -> ApiError {
    ApiError::Unavailable(format!("the export folder cannot be written: {e}"))
}

/// How many persons' identities are asked of beneficiaries at once.
const IDENTITY_CALLS: usize = 16;
/// How much text is gathered before it is written out.
const CHUNK: usize = 64 * 1024;

/// Writes the file of one family as the records are read (never the whole file in
/// memory), through a temporary name; its size, SHA-256 and record count.
async fn write_family(
    pool: &sqlx::PgPool,
    settings: &ExportSettings,
    peers: &Peers,
    on_behalf: &OnBehalf,
    (lot, day, family): (Lot, NaiveDate, Family),
    format: Format,
    path: &Path,
) -> Result<Written, ApiError> {
    use futures::TryStreamExt as _;
    use tokio::io::AsyncWriteExt as _;
    let mut columns: Vec<&str> = family.columns().to_vec();
    columns.extend(TRAILER);
    let encoder = files::Encoder {
        format,
        separator: settings.separator(),
        columns: &columns,
    };
    let tmp = temporary(path);
    let mut file = private_file(&tmp).await.map_err(io)?;
    let (mut hasher, mut size, mut records) = (Sha256::new(), 0_i64, 0_i64);
    let mut buf = String::with_capacity(CHUNK * 2);
    encoder.open(&mut buf, family.code(), &lot.two_digits(), &day.to_string());
    let mut rows = store::daily_records(pool, lot, day, family)
        .map_err(ApiError::from)
        .map_ok(|r| row(lot, r, peers, on_behalf))
        .try_buffered(IDENTITY_CALLS);
    while let Some(values) = futures::TryStreamExt::try_next(&mut rows).await? {
        encoder.row(&mut buf, &values);
        records += 1;
        if buf.len() >= CHUNK {
            hasher.update(buf.as_bytes());
            size += buf.len() as i64;
            file.write_all(buf.as_bytes()).await.map_err(io)?;
            buf.clear();
        }
    }
    encoder.close(&mut buf);
    hasher.update(buf.as_bytes());
    size += buf.len() as i64;
    file.write_all(buf.as_bytes()).await.map_err(io)?;
    file.sync_all().await.map_err(io)?;
    tokio::fs::rename(&tmp, path).await.map_err(io)?;
    Ok(Written {
        name: String::new(),
        size,
        sha256: hex::encode(hasher.finalize()),
        records,
        kind: String::new(),
    })
}

/// A signed PDF, as deliverables streams it to the caller.
async fn signed_pdf(peers: &Peers, on_behalf: &OnBehalf, id: Uuid) -> Result<Vec<u8>, ApiError> {
    let mut client =
        dpb::deliverable_service_client::DeliverableServiceClient::new(peers.deliverables.clone());
    let mut stream = client
        .download(on_behalf.request(dpb::DownloadRequest {
            deliverable_id: id.to_string(),
        }))
        .await
        .map_err(|s| cep_runtime::peer_error("deliverables", &s))?
        .into_inner();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|s| cep_runtime::peer_error("deliverables", &s))?;
        bytes.extend_from_slice(&chunk.data);
    }
    Ok(bytes)
}

/// Builds the files of `lot` and `day` in `format` under the export folder.
///
/// # Errors
///
/// The database, a peer unavailable or refusing the caller, the export folder not
/// writable, a signed PDF that is not the document whose signature was recorded.
pub async fn build(
    pool: &sqlx::PgPool,
    settings: &ExportSettings,
    peers: &Peers,
    on_behalf: &OnBehalf,
    lot: Lot,
    day: NaiveDate,
    format: Format,
) -> Result<Export, ApiError> {
    let names = Names::new(settings, lot, day);
    let relative = names.directory();
    let directory = settings.directory.join(&relative);
    private_folder(&directory).await.map_err(io)?;
    let mut written = Vec::new();
    for family in Family::ALL {
        let name = names.data(family, format);
        let file = write_family(
            pool,
            settings,
            peers,
            on_behalf,
            (lot, day, family),
            format,
            &directory.join(&name),
        )
        .await?;
        written.push(Written {
            name,
            kind: "DATA".into(),
            ..file
        });
    }
    let next = day.succ_opt().unwrap_or(day);
    let signed =
        store::signed_between(pool, lot, lot.start_of_day(day), lot.start_of_day(next)).await?;
    for s in signed {
        let bytes = signed_pdf(peers, on_behalf, s.deliverable_id).await?;
        let sha256 = hex_sha256(&bytes);
        if !sha256.eq_ignore_ascii_case(&s.sha256) {
            return Err(ApiError::internal(format!(
                "deliverable {} is not the document whose signature was recorded",
                s.deliverable_id
            )));
        }
        let name = names.deliverable(&s.dossier_number, &s.kind);
        write_atomically(&directory.join(&name), &bytes)
            .await
            .map_err(io)?;
        written.push(Written {
            name,
            size: bytes.len() as i64,
            sha256,
            records: 1,
            kind: "DELIVERABLE".into(),
        });
    }
    let manifest_rows: Vec<Vec<String>> = written
        .iter()
        .map(|w| {
            vec![
                w.name.clone(),
                w.kind.clone(),
                w.size.to_string(),
                w.sha256.clone(),
                w.records.to_string(),
            ]
        })
        .collect();
    let manifest = files::csv(
        &["fichier", "type", "taille", "sha256", "enregistrements"],
        &manifest_rows,
        settings.separator(),
    );
    let manifest_name = names.manifest();
    write_atomically(&directory.join(&manifest_name), &manifest)
        .await
        .map_err(io)?;
    written.push(Written {
        name: manifest_name,
        size: manifest.len() as i64,
        sha256: hex_sha256(&manifest),
        records: 0,
        kind: "MANIFEST".into(),
    });
    remove_others(&directory, &written).await.map_err(io)?;
    Ok(Export {
        directory,
        relative,
        files: written,
    })
}

/// Removes what the folder holds beyond `kept` (an earlier build's file that this
/// one does not name, a temporary file left by a crash).
async fn remove_others(directory: &Path, kept: &[Written]) -> std::io::Result<()> {
    let keep: BTreeSet<&str> = kept.iter().map(|w| w.name.as_str()).collect();
    let mut entries = tokio::fs::read_dir(directory).await?;
    while let Some(entry) = entries.next_entry().await? {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().await?.is_file() && !keep.contains(name.as_str()) {
            tokio::fs::remove_file(entry.path()).await?;
        }
    }
    Ok(())
}
