//! PAdES B-B signatures of PDF documents, their verification, and a small PKI.
//!
//! * [`sign`] borrows the original document and returns **only** the incremental update
//!   (the signed document is `original ++ update`); the byte ranges are hashed in place,
//!   the document is never copied.
//! * [`verify`] checks every signature field of a document: CMS digest and signature,
//!   certificate chain against given trust anchors, coverage of its revision, and that
//!   later revisions only add signatures (see [`SignatureReport::later_changes_allowed`]).
//! * [`pki`] makes a local CA and signer certificates (ECDSA P-256).

mod appearance;
mod cms_sig;
pub mod pdf;
pub mod pki;

use std::collections::HashSet;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use p256::ecdsa::SigningKey;
use sha2::{Digest as _, Sha256};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;

use crate::pdf::{Dict, Document, Obj, ObjRef, XrefEntry, XrefForm, name, rref, text_string};

/// Bytes of DER reserved for the CMS structure in `/Contents` (written as twice as many
/// hex digits).
pub const CONTENTS_CAPACITY: usize = 16 * 1024;

/// Everything that can go wrong; messages name the problem, never personal data.
#[derive(Debug, thiserror::Error)]
pub enum PadesError {
    #[error("malformed or unsupported PDF: {0}")]
    Pdf(String),
    #[error("encrypted PDF documents are not supported")]
    Encrypted,
    #[error("page index {index} out of range (document has {count} pages)")]
    PageOutOfRange { index: usize, count: usize },
    #[error("a field with this name already exists in the document")]
    DuplicateField,
    #[error("invalid signature request: {0}")]
    InvalidRequest(&'static str),
    #[error("the private key does not match the leaf certificate")]
    KeyMismatch,
    #[error("empty certificate chain")]
    EmptyChain,
    #[error("certificates or keys: {0}")]
    Pki(String),
    #[error("CMS: {0}")]
    Cms(String),
    #[error("signature of {needed} bytes does not fit in the {capacity} bytes reserved")]
    SignatureTooLarge { needed: usize, capacity: usize },
}

/// A signing key with its certificate chain (leaf first).
pub struct Signer {
    key: SigningKey,
    chain: Vec<Certificate>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("subject", &self.subject())
            .field("chain_len", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Checks that the key is the one certified by the leaf (`chain[0]`).
    pub fn new(key: SigningKey, chain: Vec<Certificate>) -> Result<Self, PadesError> {
        let leaf = chain.first().ok_or(PadesError::EmptyChain)?;
        let spki = SubjectPublicKeyInfoOwned::from_key(*key.verifying_key())
            .map_err(|e| PadesError::Pki(format!("public key: {e}")))?;
        if spki != leaf.tbs_certificate.subject_public_key_info {
            return Err(PadesError::KeyMismatch);
        }
        Ok(Signer { key, chain })
    }

    /// A PKCS#8 PEM key and one or more PEM certificates (leaf first).
    pub fn from_pem(key_pem: &str, chain_pem: &str) -> Result<Self, PadesError> {
        Signer::new(pki::key_from_pem(key_pem)?, pki::certs_from_pem(chain_pem)?)
    }

    /// The leaf's subject as an RFC 4514 string.
    pub fn subject(&self) -> String {
        self.chain[0].tbs_certificate.subject.to_string()
    }

    pub fn chain(&self) -> &[Certificate] {
        &self.chain
    }
}

/// What to sign and how the signature looks.
#[derive(Debug, Clone)]
pub struct SignatureRequest<'a> {
    /// Unique per document, e.g. "counsellor", "beneficiary".
    pub field_name: &'a str,
    /// `/Name` in the signature dictionary.
    pub signer_name: &'a str,
    /// `/Reason`, e.g. "Lu et approuvé".
    pub reason: &'a str,
    pub location: Option<&'a str>,
    /// `/M` in the signature dictionary (PAdES: no signing-time attribute in the CMS).
    pub signing_time: DateTime<Utc>,
    /// 0-based page index of the widget.
    pub page: usize,
    /// Widget rectangle `[x1, y1, x2, y2]` in PDF user units.
    pub rect: [f32; 4],
    /// Lines of text drawn in the widget's appearance.
    pub appearance: Vec<String>,
}

/// One signature of a document, as [`verify`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureReport {
    pub field_name: String,
    pub signer_subject: String,
    /// `/M` of the signature dictionary, RFC 3339 when it parses, else as written.
    pub signing_time: Option<String>,
    pub sub_filter: String,
    pub byte_range: [u64; 4],
    /// message-digest attribute == SHA-256 of the byte ranges.
    pub digest_valid: bool,
    /// ECDSA over the signed attributes with the leaf key (content-type id-data, and the
    /// ESS signing-certificate-v2 naming the leaf when present).
    pub signature_valid: bool,
    /// The leaf (through intermediates of the CMS) chains to a trust anchor, every
    /// certificate valid at the signing time (`/M`, else now). ECDSA P-256 only.
    pub chain_trusted: bool,
    /// ByteRange is `[0, a, b, end - b]` where `end` ends a revision (a `%%EOF` after one
    /// of the document's cross-reference sections) and `a..b` is exactly the `/Contents`
    /// hex string of this signature dictionary.
    pub covers_revision: bool,
    /// Every later revision only: adds new objects that are signature dictionaries,
    /// signature widgets, form XObjects, fonts or xref streams; rewrites the catalog with
    /// only `/AcroForm` changed; rewrites an AcroForm dictionary or a page with only
    /// `/Fields`, `/SigFlags` or `/Annots` changed and no entry removed from those arrays;
    /// rewrites an indirect array only by appending. No object is freed, none is put in
    /// an object stream.
    pub later_changes_allowed: bool,
    /// All of the above.
    pub valid: bool,
}

fn pdf_date(t: &DateTime<Utc>) -> String {
    format!("D:{}+00'00'", t.format("%Y%m%d%H%M%S"))
}

fn parse_pdf_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.strip_prefix("D:").unwrap_or(s);
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    if digits.len() < 14 {
        return None;
    }
    let base = chrono::NaiveDateTime::parse_from_str(&digits[..14], "%Y%m%d%H%M%S").ok()?;
    let rest = &s[14..];
    let offset_secs = match rest.chars().next() {
        None | Some('Z') => 0,
        Some(sign @ ('+' | '-')) => {
            let nums: Vec<i64> = rest[1..]
                .split('\'')
                .filter(|p| !p.is_empty())
                .filter_map(|p| p.parse().ok())
                .collect();
            let secs =
                nums.first().copied().unwrap_or(0) * 3600 + nums.get(1).copied().unwrap_or(0) * 60;
            if sign == '-' { -secs } else { secs }
        }
        _ => return None,
    };
    Some(base.and_utc() - chrono::Duration::seconds(offset_secs))
}

struct Update {
    base: usize,
    bytes: Vec<u8>,
    offsets: Vec<(u32, u16, usize)>,
}

impl Update {
    fn pos(&self) -> usize {
        self.base + self.bytes.len()
    }
    fn begin(&mut self, r: ObjRef) {
        let at = self.pos();
        self.offsets.push((r.num, r.generation, at));
        self.bytes
            .extend_from_slice(format!("{} {} obj\n", r.num, r.generation).as_bytes());
    }
    fn end(&mut self) {
        self.bytes.extend_from_slice(b"\nendobj\n");
    }
    fn object(&mut self, r: ObjRef, o: &Obj) {
        self.begin(r);
        pdf::write_obj(&mut self.bytes, o);
        self.end();
    }
    fn stream(&mut self, r: ObjRef, mut dict: Dict, data: &[u8]) {
        dict.set("Length", Obj::Int(data.len() as i64));
        self.begin(r);
        pdf::write_dict(&mut self.bytes, &dict);
        self.bytes.extend_from_slice(b"\nstream\n");
        self.bytes.extend_from_slice(data);
        self.bytes.extend_from_slice(b"\nendstream");
        self.end();
    }
}

fn real(v: f32) -> Obj {
    let s = appearance::num(v);
    match s.parse::<i64>() {
        Ok(i) => Obj::Int(i),
        Err(_) => Obj::Real(s),
    }
}

/// The field's `/T`, decoded.
fn field_name_of(doc: &Document<'_>, f: &Obj) -> Option<String> {
    match doc.resolve(f).ok()? {
        Obj::Dict(d) => match d.get("T") {
            Some(Obj::Str(t)) => Some(pdf::decode_text(t)),
            _ => None,
        },
        _ => None,
    }
}

fn as_array(doc: &Document<'_>, o: Option<&Obj>) -> Result<Vec<Obj>, PadesError> {
    match o {
        None | Some(Obj::Null) => Ok(Vec::new()),
        Some(o) => match doc.resolve(o)? {
            Obj::Array(a) => Ok(a),
            Obj::Null => Ok(Vec::new()),
            _ => Err(PadesError::Pdf("expected an array".into())),
        },
    }
}

/// Sign `original` and return the incremental update to append to it.
///
/// The signed document is `original` followed by the returned bytes.
pub fn sign(
    original: &[u8],
    signer: &Signer,
    request: &SignatureRequest<'_>,
) -> Result<Vec<u8>, PadesError> {
    if request.field_name.is_empty() {
        return Err(PadesError::InvalidRequest("empty field name"));
    }
    if request.field_name.contains('.') {
        return Err(PadesError::InvalidRequest("field name contains a period"));
    }
    let [x1, y1, x2, y2] = request.rect;
    if !request.rect.iter().all(|v| v.is_finite()) || x2 <= x1 || y2 <= y1 {
        return Err(PadesError::InvalidRequest(
            "widget rectangle must be [x1, y1, x2, y2] with x1 < x2 and y1 < y2",
        ));
    }
    let doc = Document::load(original)?;
    if doc.trailer.get("Encrypt").is_some() {
        return Err(PadesError::Encrypted);
    }
    let pages = doc.pages()?;
    let page_ref = *pages.get(request.page).ok_or(PadesError::PageOutOfRange {
        index: request.page,
        count: pages.len(),
    })?;
    let root_ref = doc.root_ref()?;
    let mut catalog = doc.get_dict(root_ref)?;
    let mut page = doc.get_dict(page_ref)?;

    let mut next = doc.size();
    let mut alloc = || {
        let r = ObjRef {
            num: next,
            generation: 0,
        };
        next += 1;
        r
    };
    let sig_ref = alloc();
    let widget_ref = alloc();
    let ap_ref = alloc();

    let base_len = original.len();
    let mut up = Update {
        base: base_len,
        bytes: Vec::with_capacity(2 * CONTENTS_CAPACITY + 8192),
        offsets: Vec::new(),
    };
    if !matches!(original.last(), Some(b'\n' | b'\r')) {
        up.bytes.push(b'\n');
    }

    // (d) AcroForm with the existing fields and the new one
    let (acro_ref, mut acro) = match catalog.get("AcroForm") {
        Some(Obj::Ref(r)) => (Some(*r), doc.get_dict(*r)?),
        Some(Obj::Dict(d)) => (None, d.clone()),
        _ => (None, Dict::default()),
    };
    let fields_obj = acro.get("Fields").cloned();
    let fields_indirect = match &fields_obj {
        Some(Obj::Ref(r)) => Some(*r),
        _ => None,
    };
    let mut fields = as_array(&doc, fields_obj.as_ref())?;
    if fields
        .iter()
        .any(|f| field_name_of(&doc, f).as_deref() == Some(request.field_name))
    {
        return Err(PadesError::DuplicateField);
    }
    fields.push(rref(widget_ref));
    match fields_indirect {
        Some(r) => up.object(r, &Obj::Array(fields)),
        None => acro.set("Fields", Obj::Array(fields)),
    }
    acro.set("SigFlags", Obj::Int(3));

    // (a) signature dictionary with placeholders
    up.begin(sig_ref);
    let br_width = 4 * 21 + 8;
    let (br_at, contents_at);
    {
        let b = &mut up.bytes;
        b.extend_from_slice(
            b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /ByteRange ",
        );
        br_at = b.len();
        b.extend(std::iter::repeat_n(b' ', br_width));
        b.extend_from_slice(b" /Contents ");
        contents_at = b.len();
        b.push(b'<');
        b.extend(std::iter::repeat_n(b'0', 2 * CONTENTS_CAPACITY));
        b.push(b'>');
        b.extend_from_slice(b" /M ");
        pdf::write_string(b, pdf_date(&request.signing_time).as_bytes());
        b.extend_from_slice(b" /Name ");
        pdf::write_string(b, &text_string(request.signer_name));
        b.extend_from_slice(b" /Reason ");
        pdf::write_string(b, &text_string(request.reason));
        if let Some(loc) = request.location {
            b.extend_from_slice(b" /Location ");
            pdf::write_string(b, &text_string(loc));
        }
        b.extend_from_slice(b" >>");
    }
    up.end();

    // (b) appearance and the merged field/widget
    let (w, h) = (x2 - x1, y2 - y1);
    let mut font = Dict::default();
    font.set("Type", name("Font"));
    font.set("Subtype", name("Type1"));
    font.set("BaseFont", name("Helvetica"));
    font.set("Encoding", name("WinAnsiEncoding"));
    let mut fonts = Dict::default();
    fonts.set("Helv", Obj::Dict(font));
    let mut res = Dict::default();
    res.set("Font", Obj::Dict(fonts));
    let mut ap = Dict::default();
    ap.set("Type", name("XObject"));
    ap.set("Subtype", name("Form"));
    ap.set(
        "BBox",
        Obj::Array(vec![Obj::Int(0), Obj::Int(0), real(w), real(h)]),
    );
    ap.set("Resources", Obj::Dict(res));
    up.stream(ap_ref, ap, &appearance::content(w, h, &request.appearance));

    let mut widget = Dict::default();
    widget.set("Type", name("Annot"));
    widget.set("Subtype", name("Widget"));
    widget.set("FT", name("Sig"));
    widget.set("T", Obj::Str(text_string(request.field_name)));
    widget.set("V", rref(sig_ref));
    widget.set("F", Obj::Int(132));
    widget.set(
        "Rect",
        Obj::Array(request.rect.iter().map(|v| real(*v)).collect()),
    );
    widget.set("P", rref(page_ref));
    let mut apd = Dict::default();
    apd.set("N", rref(ap_ref));
    widget.set("AP", Obj::Dict(apd));
    up.object(widget_ref, &Obj::Dict(widget));

    // (c) the page's annotations
    match page.get("Annots").cloned() {
        Some(Obj::Ref(r)) => {
            let mut annots = as_array(&doc, Some(&Obj::Ref(r)))?;
            annots.push(rref(widget_ref));
            up.object(r, &Obj::Array(annots));
        }
        other => {
            let mut annots = as_array(&doc, other.as_ref())?;
            annots.push(rref(widget_ref));
            page.set("Annots", Obj::Array(annots));
            up.object(page_ref, &Obj::Dict(page));
        }
    }

    // (d) catalog or AcroForm
    match acro_ref {
        Some(r) => up.object(r, &Obj::Dict(acro)),
        None => {
            catalog.set("AcroForm", Obj::Dict(acro));
            up.object(root_ref, &Obj::Dict(catalog));
        }
    }

    // (e) cross-reference section and trailer, in the form of the previous one
    let mut trailer = Dict::default();
    trailer.set("Root", rref(root_ref));
    for key in ["Info", "ID"] {
        if let Some(v) = doc.trailer.get(key) {
            trailer.set(key, v.clone());
        }
    }
    trailer.set("Prev", Obj::Int(doc.startxref as i64));
    let prev_form = doc.sections[0].form;
    write_xref(&mut up, trailer, prev_form, &mut alloc);

    // ByteRange, digest, CMS
    let contents_end = contents_at + 2 * CONTENTS_CAPACITY + 2;
    let a = base_len + contents_at;
    let b = base_len + contents_end;
    let total = base_len + up.bytes.len();
    let br = format!("[0 {a} {b} {}]", total - b);
    if br.len() > br_width {
        return Err(PadesError::Pdf(
            "document too large for the ByteRange".into(),
        ));
    }
    up.bytes[br_at..br_at + br.len()].copy_from_slice(br.as_bytes());

    let mut hasher = Sha256::new();
    hasher.update(original);
    hasher.update(&up.bytes[..contents_at]);
    hasher.update(&up.bytes[contents_end..]);
    let digest = hasher.finalize();

    let der = cms_sig::build(&signer.key, &signer.chain, &digest)?;
    if der.len() > CONTENTS_CAPACITY {
        return Err(PadesError::SignatureTooLarge {
            needed: der.len(),
            capacity: CONTENTS_CAPACITY,
        });
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for (i, byte) in der.iter().enumerate() {
        let at = contents_at + 1 + 2 * i;
        up.bytes[at] = HEX[(byte >> 4) as usize];
        up.bytes[at + 1] = HEX[(byte & 15) as usize];
    }
    Ok(up.bytes)
}

fn write_xref(
    up: &mut Update,
    mut trailer: Dict,
    form: XrefForm,
    alloc: &mut impl FnMut() -> ObjRef,
) {
    match form {
        XrefForm::Table => {
            let xref_at = up.pos();
            let size = up.offsets.iter().map(|o| o.0 + 1).max().unwrap_or(0);
            let mut entries = up.offsets.clone();
            entries.sort();
            let b = &mut up.bytes;
            b.extend_from_slice(b"xref\n");
            for run in runs(&entries) {
                b.extend_from_slice(format!("{} {}\n", run[0].0, run.len()).as_bytes());
                for (_, generation, off) in run {
                    b.extend_from_slice(format!("{off:010} {generation:05} n\r\n").as_bytes());
                }
            }
            trailer
                .0
                .insert(0, (b"Size".to_vec(), Obj::Int(size as i64)));
            b.extend_from_slice(b"trailer\n");
            pdf::write_dict(b, &trailer);
            b.extend_from_slice(format!("\nstartxref\n{xref_at}\n%%EOF\n").as_bytes());
        }
        XrefForm::Stream => {
            let me = alloc();
            let xref_at = up.pos();
            up.offsets.push((me.num, me.generation, xref_at));
            let mut entries = up.offsets.clone();
            entries.sort();
            let size = entries.iter().map(|o| o.0 + 1).max().unwrap_or(0);
            let mut index = Vec::new();
            let mut data = Vec::new();
            for run in runs(&entries) {
                index.push(Obj::Int(run[0].0 as i64));
                index.push(Obj::Int(run.len() as i64));
                for (_, generation, off) in run {
                    data.push(1u8);
                    data.extend_from_slice(&(*off as u32).to_be_bytes());
                    data.extend_from_slice(&generation.to_be_bytes());
                }
            }
            let mut d = Dict::default();
            d.set("Type", name("XRef"));
            d.set("Size", Obj::Int(size as i64));
            d.set("Index", Obj::Array(index));
            d.set("W", Obj::Array(vec![Obj::Int(1), Obj::Int(4), Obj::Int(2)]));
            for (k, v) in trailer.0 {
                d.0.push((k, v));
            }
            up.stream(me, d, &data);
            up.bytes
                .extend_from_slice(format!("startxref\n{xref_at}\n%%EOF\n").as_bytes());
        }
    }
}

/// Consecutive runs of object numbers.
fn runs(entries: &[(u32, u16, usize)]) -> Vec<&[(u32, u16, usize)]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=entries.len() {
        if i == entries.len() || entries[i].0 != entries[i - 1].0 + 1 {
            out.push(&entries[start..i]);
            start = i;
        }
    }
    out
}

/// Offsets just after each revision's `%%EOF` (with its end-of-line).
fn revision_ends(doc: &Document<'_>) -> HashSet<usize> {
    let data = doc.data;
    let mut ends = HashSet::new();
    for s in &doc.sections {
        let from = s.offset;
        if let Some(p) = data[from..].windows(5).position(|w| w == b"%%EOF") {
            let mut end = from + p + 5;
            if data.get(end) == Some(&b'\r') {
                end += 1;
            }
            if data.get(end) == Some(&b'\n') {
                end += 1;
            }
            ends.insert(end);
            // some writers end the file without an end-of-line
            ends.insert(from + p + 5);
        }
    }
    ends
}

/// Verify every signature field of `pdf` against `trust_anchors`.
pub fn verify(
    pdf: &[u8],
    trust_anchors: &[Certificate],
) -> Result<Vec<SignatureReport>, PadesError> {
    let doc = Document::load(pdf)?;
    let catalog = doc.get_dict(doc.root_ref()?)?;
    let acro = match catalog.get("AcroForm") {
        Some(o) => match doc.resolve(o)? {
            Obj::Dict(d) => d,
            _ => Dict::default(),
        },
        None => Dict::default(),
    };
    let mut queue: Vec<(Obj, String)> = as_array(&doc, acro.get("Fields"))?
        .into_iter()
        .map(|f| (f, String::new()))
        .collect();
    let mut seen = HashSet::new();
    let mut reports = Vec::new();
    let ends = revision_ends(&doc);
    while let Some((f, parent_name)) = queue.pop() {
        let Obj::Ref(fr) = f else { continue };
        if !seen.insert(fr.num) || seen.len() > 10_000 {
            continue;
        }
        let field = doc.get_dict(fr)?;
        let own = match field.get("T") {
            Some(Obj::Str(t)) => pdf::decode_text(t),
            _ => String::new(),
        };
        let full = match (parent_name.is_empty(), own.is_empty()) {
            (true, _) => own.clone(),
            (false, true) => parent_name.clone(),
            (false, false) => format!("{parent_name}.{own}"),
        };
        for k in as_array(&doc, field.get("Kids"))? {
            queue.push((k, full.clone()));
        }
        if field.name("FT") != Some(b"Sig") {
            continue;
        }
        let Some(Obj::Ref(sig_ref)) = field.get("V") else {
            continue;
        };
        reports.push(check_signature(&doc, *sig_ref, full, &ends, trust_anchors)?);
    }
    reports.sort_by_key(|r| r.byte_range[1]);
    Ok(reports)
}

fn check_signature(
    doc: &Document<'_>,
    sig_ref: ObjRef,
    field_name: String,
    ends: &HashSet<usize>,
    anchors: &[Certificate],
) -> Result<SignatureReport, PadesError> {
    let pdf = doc.data;
    let (sig, sig_span) = doc.get_located(sig_ref)?;
    let Obj::Dict(sig) = sig else {
        return Err(PadesError::Pdf(
            "signature value is not a dictionary".into(),
        ));
    };
    let sub_filter = sig
        .name("SubFilter")
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_default();
    let signing_time_raw = match sig.get("M") {
        Some(Obj::Str(s)) => Some(pdf::decode_text(s)),
        _ => None,
    };
    let signing_time_parsed = signing_time_raw.as_deref().and_then(parse_pdf_date);
    let signing_time = signing_time_parsed
        .map(|t| t.to_rfc3339())
        .or(signing_time_raw);
    let br: Vec<u64> = match sig.get("ByteRange") {
        Some(Obj::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_int().and_then(|v| u64::try_from(v).ok()))
            .collect(),
        _ => Vec::new(),
    };
    let contents = match sig.get("Contents") {
        Some(Obj::Str(s)) => s.clone(),
        _ => Vec::new(),
    };
    let mut report = SignatureReport {
        field_name,
        signer_subject: String::new(),
        signing_time,
        sub_filter,
        byte_range: [0; 4],
        digest_valid: false,
        signature_valid: false,
        chain_trusted: false,
        covers_revision: false,
        later_changes_allowed: false,
        valid: false,
    };
    let &[r0, r1, r2, r3] = br.as_slice() else {
        return Ok(report);
    };
    report.byte_range = [r0, r1, r2, r3];
    let len = pdf.len() as u64;
    let (a, b) = (r1 as usize, r2 as usize);
    let end = r2.checked_add(r3).filter(|e| *e <= len);
    let (Some(end), true) = (end, r0 == 0 && r1 < r2) else {
        return Ok(report);
    };
    let end = end as usize;

    // the gap is exactly this dictionary's /Contents hex string
    let gap_ok = b - a >= 2
        && pdf[a] == b'<'
        && pdf[b - 1] == b'>'
        && pdf[a + 1..b - 1].iter().all(u8::is_ascii_hexdigit)
        && (b - a - 2) == contents.len() * 2
        && sig_span.as_ref().is_some_and(|s| s.start < a && b < s.end)
        && pdf[..a].trim_ascii_end().ends_with(b"/Contents");
    report.covers_revision = gap_ok && ends.contains(&end);

    let mut hasher = Sha256::new();
    hasher.update(&pdf[..a]);
    hasher.update(&pdf[b..end]);
    let digest = hasher.finalize();
    let at = signing_time_parsed
        .map(SystemTime::from)
        .unwrap_or_else(SystemTime::now);
    if let Ok(c) = cms_sig::check(&contents, &digest, anchors, at) {
        report.signer_subject = c.signer_subject;
        report.digest_valid = c.digest_valid;
        report.signature_valid = c.signature_valid;
        report.chain_trusted = c.chain_trusted;
    }
    report.later_changes_allowed = report.covers_revision && later_changes_allowed(doc, end)?;
    report.valid = report.digest_valid
        && report.signature_valid
        && report.chain_trusted
        && report.covers_revision
        && report.later_changes_allowed;
    Ok(report)
}

/// See [`SignatureReport::later_changes_allowed`].
fn later_changes_allowed(doc: &Document<'_>, rev_end: usize) -> Result<bool, PadesError> {
    let pdf = doc.data;
    if rev_end == pdf.len() {
        return Ok(true);
    }
    let Ok(old) = Document::load(&pdf[..rev_end]) else {
        return Ok(false);
    };
    let old_root = old.root_ref()?;
    // every section written after the revision, and only those
    let later: Vec<_> = doc
        .sections
        .iter()
        .filter(|s| s.offset >= rev_end)
        .collect();
    if later.len() + old.sections.len() != doc.sections.len() {
        return Ok(false);
    }
    // an object rewritten in several later revisions: judge each version against `old`
    for section in later {
        for (num, entry) in &section.entries {
            let off = match entry {
                XrefEntry::InFile(off, _) => *off,
                _ => return Ok(false),
            };
            let r = ObjRef {
                num: *num,
                generation: 0,
            };
            let Ok((new_obj, _)) = doc.parse_at(off, r) else {
                return Ok(false);
            };
            let old_entry = old.xref.get(num).copied();
            if old_entry.is_some_and(|e| e == XrefEntry::InFile(off, 0)) {
                continue; // the same bytes, listed again
            }
            let ok = match old_entry {
                None | Some(XrefEntry::Free) => new_object_allowed(&new_obj),
                Some(_) => {
                    let old_obj = old.get(r)?;
                    rewrite_allowed(&old_obj, &new_obj, *num == old_root.num)
                }
            };
            if !ok {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

fn new_object_allowed(o: &Obj) -> bool {
    match o {
        Obj::Dict(d) => {
            matches!(d.name("Type"), Some(b"Sig" | b"DocTimeStamp" | b"Font"))
                || (d.name("Subtype") == Some(b"Widget") && d.name("FT") == Some(b"Sig"))
        }
        Obj::Stream(d, _) => d.name("Subtype") == Some(b"Form") || d.name("Type") == Some(b"XRef"),
        _ => false,
    }
}

fn refs_superset(old: Option<&Obj>, new: Option<&Obj>) -> bool {
    match (old, new) {
        (None, _) => true,
        (Some(Obj::Array(o)), Some(Obj::Array(n))) => o.iter().all(|x| n.contains(x)),
        (Some(o), Some(n)) => o == n,
        _ => false,
    }
}

fn rewrite_allowed(old: &Obj, new: &Obj, is_root: bool) -> bool {
    match (old, new) {
        (Obj::Dict(o), Obj::Dict(n)) if is_root => {
            if o.without(&["AcroForm"]) != n.without(&["AcroForm"]) {
                return false;
            }
            match (o.get("AcroForm"), n.get("AcroForm")) {
                (None, Some(Obj::Dict(_))) => true,
                (Some(Obj::Dict(oa)), Some(Obj::Dict(na))) => acroform_ok(oa, na),
                (Some(a), Some(b)) => a == b,
                _ => false,
            }
        }
        (Obj::Dict(o), Obj::Dict(n)) if o.name("Type") == Some(b"Page") => {
            o.without(&["Annots"]) == n.without(&["Annots"])
                && refs_superset(o.get("Annots"), n.get("Annots"))
        }
        (Obj::Dict(o), Obj::Dict(n)) if o.get("Fields").is_some() => acroform_ok(o, n),
        (Obj::Array(o), Obj::Array(n)) => o.iter().all(|x| n.contains(x)),
        _ => false,
    }
}

fn acroform_ok(o: &Dict, n: &Dict) -> bool {
    o.without(&["Fields", "SigFlags"]) == n.without(&["Fields", "SigFlags"])
        && refs_superset(o.get("Fields"), n.get("Fields"))
}
