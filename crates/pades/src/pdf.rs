//! A small PDF reader and writer: just what an incremental signature update needs.
//!
//! The reader borrows the document bytes and never copies them: it finds `startxref`,
//! reads the cross-reference chain (classic tables, cross-reference streams and hybrid
//! files), and parses only the objects that are asked for. Objects inside object
//! streams are supported (the stream is decompressed on demand, one object at a time).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Read as _;
use std::ops::Range;

use crate::PadesError;

fn err(msg: impl Into<String>) -> PadesError {
    PadesError::Pdf(msg.into())
}

/// An object reference `num generation R`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjRef {
    pub num: u32,
    pub generation: u16,
}

/// A PDF object. Reals keep their textual form so that they round-trip unchanged.
#[derive(Debug, Clone, PartialEq)]
pub enum Obj {
    Null,
    Bool(bool),
    Int(i64),
    Real(String),
    Name(Vec<u8>),
    Str(Vec<u8>),
    Array(Vec<Obj>),
    Dict(Dict),
    Ref(ObjRef),
    /// A stream: its dictionary and the range of its (still encoded) data in the file.
    Stream(Dict, Range<usize>),
}

/// A dictionary keeping the order of its keys (names without the leading slash).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dict(pub Vec<(Vec<u8>, Obj)>);

impl Dict {
    pub fn get(&self, key: &str) -> Option<&Obj> {
        self.0
            .iter()
            .find(|(k, _)| k == key.as_bytes())
            .map(|(_, v)| v)
    }

    pub fn set(&mut self, key: &str, value: Obj) {
        if let Some(slot) = self.0.iter_mut().find(|(k, _)| k == key.as_bytes()) {
            slot.1 = value;
        } else {
            self.0.push((key.as_bytes().to_vec(), value));
        }
    }

    pub fn name(&self, key: &str) -> Option<&[u8]> {
        match self.get(key) {
            Some(Obj::Name(n)) => Some(n),
            _ => None,
        }
    }

    /// Entries other than `except`, for comparing two versions of a dictionary.
    pub fn without(&self, except: &[&str]) -> Vec<&(Vec<u8>, Obj)> {
        self.0
            .iter()
            .filter(|(k, _)| !except.iter().any(|e| e.as_bytes() == k.as_slice()))
            .collect()
    }
}

impl Obj {
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Obj::Int(i) => Some(*i),
            _ => None,
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Obj::Int(i) => Some(*i as f64),
            Obj::Real(r) => r.parse().ok(),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Lexing and parsing

fn is_ws(b: u8) -> bool {
    matches!(b, 0 | 9 | 10 | 12 | 13 | 32)
}

fn is_delim(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

fn is_regular(b: u8) -> bool {
    !is_ws(b) && !is_delim(b)
}

/// A cursor over PDF bytes.
#[derive(Debug)]
pub struct Parser<'a> {
    pub data: &'a [u8],
    pub pos: usize,
}

const MAX_DEPTH: usize = 64;

impl<'a> Parser<'a> {
    pub fn new(data: &'a [u8], pos: usize) -> Self {
        Parser { data, pos }
    }

    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    pub fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            if is_ws(b) {
                self.pos += 1;
            } else if b == b'%' {
                while let Some(c) = self.peek() {
                    if c == b'\n' || c == b'\r' {
                        break;
                    }
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// A run of regular characters (a keyword or a number), after whitespace.
    fn token(&mut self) -> &'a [u8] {
        self.skip_ws();
        let start = self.pos;
        while self.peek().is_some_and(is_regular) {
            self.pos += 1;
        }
        &self.data[start..self.pos]
    }

    pub fn expect_keyword(&mut self, kw: &str) -> Result<(), PadesError> {
        let at = self.pos;
        let t = self.token();
        if t == kw.as_bytes() {
            Ok(())
        } else {
            Err(err(format!(
                "expected `{kw}` at byte {at}, found `{}`",
                String::from_utf8_lossy(&t[..t.len().min(20)])
            )))
        }
    }

    fn uint(&mut self) -> Option<u64> {
        let save = self.pos;
        let t = self.token();
        if !t.is_empty() && t.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(t).ok()?.parse().ok()
        } else {
            self.pos = save;
            None
        }
    }

    /// `num generation obj` header of an indirect object.
    pub fn obj_header(&mut self) -> Result<ObjRef, PadesError> {
        let at = self.pos;
        let num = self.uint();
        let generation = self.uint();
        match (num, generation) {
            (Some(num), Some(generation))
                if num <= u32::MAX as u64 && generation <= u16::MAX as u64 =>
            {
                self.expect_keyword("obj")?;
                Ok(ObjRef {
                    num: num as u32,
                    generation: generation as u16,
                })
            }
            _ => Err(err(format!("no object header at byte {at}"))),
        }
    }

    pub fn parse(&mut self) -> Result<Obj, PadesError> {
        self.parse_depth(0)
    }

    fn parse_depth(&mut self, depth: usize) -> Result<Obj, PadesError> {
        if depth > MAX_DEPTH {
            return Err(err("objects nested too deeply"));
        }
        self.skip_ws();
        let at = self.pos;
        let Some(b) = self.peek() else {
            return Err(err("unexpected end of data"));
        };
        match b {
            b'/' => {
                self.pos += 1;
                Ok(Obj::Name(self.name_body()?))
            }
            b'(' => Ok(Obj::Str(self.literal_string()?)),
            b'<' if self.data.get(self.pos + 1) == Some(&b'<') => {
                self.pos += 2;
                let mut dict = Dict::default();
                loop {
                    self.skip_ws();
                    match self.peek() {
                        Some(b'>') if self.data.get(self.pos + 1) == Some(&b'>') => {
                            self.pos += 2;
                            break;
                        }
                        Some(b'/') => {
                            self.pos += 1;
                            let key = self.name_body()?;
                            let value = self.parse_depth(depth + 1)?;
                            dict.0.push((key, value));
                        }
                        _ => return Err(err(format!("bad dictionary key at byte {}", self.pos))),
                    }
                }
                Ok(Obj::Dict(dict))
            }
            b'<' => Ok(Obj::Str(self.hex_string()?)),
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    match self.peek() {
                        Some(b']') => {
                            self.pos += 1;
                            break;
                        }
                        Some(_) => items.push(self.parse_depth(depth + 1)?),
                        None => return Err(err("unterminated array")),
                    }
                }
                Ok(Obj::Array(items))
            }
            _ => {
                let t = self.token();
                match t {
                    b"true" => Ok(Obj::Bool(true)),
                    b"false" => Ok(Obj::Bool(false)),
                    b"null" => Ok(Obj::Null),
                    _ if t.is_empty() => Err(err(format!("unexpected byte at {at}"))),
                    _ => self.number_or_ref(t, at),
                }
            }
        }
    }

    fn number_or_ref(&mut self, t: &[u8], at: usize) -> Result<Obj, PadesError> {
        let s = std::str::from_utf8(t).map_err(|_| err(format!("bad token at byte {at}")))?;
        if t.iter().all(u8::is_ascii_digit) {
            // maybe `num generation R`
            let save = self.pos;
            if let Some(generation) = self.uint() {
                let t2 = self.token();
                if t2 == b"R" && generation <= u16::MAX as u64 {
                    let num: u32 = s.parse().map_err(|_| err("object number too large"))?;
                    return Ok(Obj::Ref(ObjRef {
                        num,
                        generation: generation as u16,
                    }));
                }
            }
            self.pos = save;
        }
        if let Ok(i) = s.parse::<i64>() {
            return Ok(Obj::Int(i));
        }
        if s.parse::<f64>().is_ok() || s.starts_with('.') || s.starts_with("-.") {
            return Ok(Obj::Real(s.to_string()));
        }
        Err(err(format!("unknown token at byte {at}")))
    }

    fn name_body(&mut self) -> Result<Vec<u8>, PadesError> {
        let mut out = Vec::new();
        while let Some(b) = self.peek() {
            if !is_regular(b) {
                break;
            }
            self.pos += 1;
            if b == b'#' {
                let h = self
                    .data
                    .get(self.pos..self.pos + 2)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| err("bad #xx escape in name"))?;
                out.push(h);
                self.pos += 2;
            } else {
                out.push(b);
            }
        }
        Ok(out)
    }

    fn literal_string(&mut self) -> Result<Vec<u8>, PadesError> {
        self.pos += 1;
        let mut out = Vec::new();
        let mut depth = 1usize;
        loop {
            let Some(b) = self.peek() else {
                return Err(err("unterminated string"));
            };
            self.pos += 1;
            match b {
                b'(' => {
                    depth += 1;
                    out.push(b);
                }
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(out);
                    }
                    out.push(b);
                }
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(err("unterminated string"));
                    };
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'\r' => {
                            if self.peek() == Some(b'\n') {
                                self.pos += 1;
                            }
                        }
                        b'\n' => {}
                        b'0'..=b'7' => {
                            let mut v = (e - b'0') as u32;
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        v = v * 8 + (d - b'0') as u32;
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push(v as u8);
                        }
                        other => out.push(other),
                    }
                }
                _ => out.push(b),
            }
        }
    }

    fn hex_string(&mut self) -> Result<Vec<u8>, PadesError> {
        self.pos += 1;
        let mut out = Vec::new();
        let mut high: Option<u8> = None;
        loop {
            let Some(b) = self.peek() else {
                return Err(err("unterminated hex string"));
            };
            self.pos += 1;
            let v = match b {
                b'>' => break,
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                b'A'..=b'F' => b - b'A' + 10,
                _ if is_ws(b) => continue,
                _ => return Err(err(format!("bad hex digit at byte {}", self.pos - 1))),
            };
            match high.take() {
                Some(h) => out.push(h << 4 | v),
                None => high = Some(v),
            }
        }
        if let Some(h) = high {
            out.push(h << 4);
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------
// Cross-reference chain and object access

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XrefEntry {
    Free,
    /// byte offset, generation
    InFile(usize, u16),
    /// object stream number, index in it
    InStream(u32, u32),
}

/// How a cross-reference section was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XrefForm {
    Table,
    Stream,
}

/// One cross-reference section: where it is, its entries and its trailer.
#[derive(Debug, Clone)]
pub struct XrefSection {
    pub offset: usize,
    pub form: XrefForm,
    pub entries: Vec<(u32, XrefEntry)>,
    pub trailer: Dict,
}

/// A parsed document (borrowing its bytes).
pub struct Document<'a> {
    pub data: &'a [u8],
    /// The offset found after the last `startxref`.
    pub startxref: usize,
    /// Newest section first.
    pub sections: Vec<XrefSection>,
    pub xref: HashMap<u32, XrefEntry>,
    /// The newest trailer.
    pub trailer: Dict,
}

impl std::fmt::Debug for Document<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document")
            .field("len", &self.data.len())
            .field("startxref", &self.startxref)
            .field("sections", &self.sections.len())
            .field("objects", &self.xref.len())
            .finish_non_exhaustive()
    }
}

/// Find the offset after the last `startxref` keyword in the data.
pub fn find_startxref(data: &[u8]) -> Result<usize, PadesError> {
    let tail_start = data.len().saturating_sub(4096);
    let tail = &data[tail_start..];
    let pos = tail
        .windows(9)
        .rposition(|w| w == b"startxref")
        .ok_or_else(|| err("no `startxref` near the end of the file"))?;
    let mut p = Parser::new(data, tail_start + pos + 9);
    let off = p.uint().ok_or_else(|| err("no offset after `startxref`"))?;
    usize::try_from(off)
        .ok()
        .filter(|o| *o < data.len())
        .ok_or_else(|| err("`startxref` offset beyond the end of the file"))
}

impl<'a> Document<'a> {
    pub fn load(data: &'a [u8]) -> Result<Self, PadesError> {
        let startxref = find_startxref(data)?;
        let mut doc = Document {
            data,
            startxref,
            sections: Vec::new(),
            xref: HashMap::new(),
            trailer: Dict::default(),
        };
        let mut visited = HashSet::new();
        let mut next = Some(startxref);
        while let Some(off) = next.take() {
            if !visited.insert(off) {
                return Err(err("loop in the cross-reference chain"));
            }
            let section = doc.read_section(off)?;
            if let Some(Obj::Int(stm)) = section.trailer.get("XRefStm") {
                // hybrid file: the stream's entries come after the table's
                let stm = usize::try_from(*stm).map_err(|_| err("bad /XRefStm"))?;
                let hidden = doc.read_section(stm)?;
                for (n, e) in &hidden.entries {
                    doc.xref.entry(*n).or_insert(*e);
                }
            }
            for (n, e) in &section.entries {
                doc.xref.entry(*n).or_insert(*e);
            }
            next = match section.trailer.get("Prev") {
                Some(Obj::Int(p)) => Some(usize::try_from(*p).map_err(|_| err("bad /Prev"))?),
                _ => None,
            };
            doc.sections.push(section);
        }
        doc.trailer = doc.sections[0].trailer.clone();
        Ok(doc)
    }

    fn read_section(&self, off: usize) -> Result<XrefSection, PadesError> {
        let mut p = Parser::new(self.data, off);
        p.skip_ws();
        if self.data[p.pos..].starts_with(b"xref") {
            p.pos += 4;
            let mut entries = Vec::new();
            loop {
                p.skip_ws();
                if self.data[p.pos..].starts_with(b"trailer") {
                    p.pos += 7;
                    break;
                }
                let (Some(first), Some(count)) = (p.uint(), p.uint()) else {
                    return Err(err(format!(
                        "bad xref subsection header near byte {}",
                        p.pos
                    )));
                };
                for i in 0..count {
                    let (Some(o), Some(g)) = (p.uint(), p.uint()) else {
                        return Err(err(format!("bad xref entry near byte {}", p.pos)));
                    };
                    let kind = p.token();
                    let num = u32::try_from(first + i).map_err(|_| err("object number"))?;
                    let e = match kind {
                        b"n" => XrefEntry::InFile(o as usize, g as u16),
                        b"f" => XrefEntry::Free,
                        _ => return Err(err("bad xref entry type")),
                    };
                    entries.push((num, e));
                }
            }
            let Obj::Dict(trailer) = p.parse()? else {
                return Err(err("trailer is not a dictionary"));
            };
            Ok(XrefSection {
                offset: off,
                form: XrefForm::Table,
                entries,
                trailer,
            })
        } else {
            let mut p = Parser::new(self.data, off);
            p.obj_header()?;
            let obj = self.parse_stream_or_value(&mut p)?;
            let Obj::Stream(dict, range) = obj else {
                return Err(err(format!("no xref table or stream at byte {off}")));
            };
            if dict.name("Type") != Some(b"XRef") {
                return Err(err("cross-reference stream without /Type /XRef"));
            }
            let body = self.decode_stream(&dict, range)?;
            let entries = parse_xref_stream(&dict, &body)?;
            Ok(XrefSection {
                offset: off,
                form: XrefForm::Stream,
                entries,
                trailer: dict,
            })
        }
    }

    /// Parse a value after an object header; if a stream follows, return it as `Obj::Stream`.
    fn parse_stream_or_value(&self, p: &mut Parser<'a>) -> Result<Obj, PadesError> {
        let value = p.parse()?;
        let Obj::Dict(dict) = value else {
            return Ok(value);
        };
        let save = p.pos;
        p.skip_ws();
        if !self.data[p.pos..].starts_with(b"stream") {
            p.pos = save;
            return Ok(Obj::Dict(dict));
        }
        p.pos += 6;
        if self.data.get(p.pos) == Some(&b'\r') {
            p.pos += 1;
        }
        if self.data.get(p.pos) == Some(&b'\n') {
            p.pos += 1;
        }
        let start = p.pos;
        let len = match dict.get("Length") {
            Some(Obj::Int(l)) => *l,
            Some(Obj::Ref(r)) => self
                .get(*r)?
                .as_int()
                .ok_or_else(|| err("stream /Length is not an integer"))?,
            _ => return Err(err("stream without /Length")),
        };
        let len = usize::try_from(len).map_err(|_| err("negative stream /Length"))?;
        let end = start
            .checked_add(len)
            .filter(|e| *e <= self.data.len())
            .ok_or_else(|| err("stream runs past the end of the file"))?;
        p.pos = end;
        Ok(Obj::Stream(dict, start..end))
    }

    /// Decode a stream's data (FlateDecode with optional PNG predictors, or no filter).
    pub fn decode_stream(&self, dict: &Dict, range: Range<usize>) -> Result<Vec<u8>, PadesError> {
        let raw = &self.data[range];
        let filters: Vec<&[u8]> = match dict.get("Filter") {
            None => Vec::new(),
            Some(Obj::Name(n)) => vec![n.as_slice()],
            Some(Obj::Array(a)) => a
                .iter()
                .map(|f| match f {
                    Obj::Name(n) => Ok(n.as_slice()),
                    _ => Err(err("bad /Filter")),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(err("bad /Filter")),
        };
        match filters.as_slice() {
            [] => Ok(raw.to_vec()),
            [b"FlateDecode"] => {
                let mut out = Vec::new();
                flate2::read::ZlibDecoder::new(raw)
                    .read_to_end(&mut out)
                    .map_err(|e| err(format!("FlateDecode failed: {e}")))?;
                let parms = match dict.get("DecodeParms") {
                    Some(Obj::Dict(d)) => Some(d.clone()),
                    Some(Obj::Array(a)) => match a.first() {
                        Some(Obj::Dict(d)) => Some(d.clone()),
                        _ => None,
                    },
                    _ => None,
                };
                match parms {
                    Some(d) => unpredict(&d, out),
                    None => Ok(out),
                }
            }
            _ => Err(err("unsupported stream filter in a structural stream")),
        }
    }

    /// The newest version of an object.
    pub fn get(&self, r: ObjRef) -> Result<Obj, PadesError> {
        Ok(self.get_located(r)?.0)
    }

    /// The newest version of an object and the byte range of its text in the file
    /// (`None` when it lives in an object stream).
    pub fn get_located(&self, r: ObjRef) -> Result<(Obj, Option<Range<usize>>), PadesError> {
        match self.xref.get(&r.num) {
            None | Some(XrefEntry::Free) => Ok((Obj::Null, None)),
            Some(XrefEntry::InFile(off, _)) => {
                let (o, range) = self.parse_at(*off, r)?;
                Ok((o, Some(range)))
            }
            Some(XrefEntry::InStream(stm, idx)) => {
                Ok((self.in_object_stream(*stm, *idx, r)?, None))
            }
        }
    }

    pub fn parse_at(&self, off: usize, r: ObjRef) -> Result<(Obj, Range<usize>), PadesError> {
        if off >= self.data.len() {
            return Err(err(format!("object {} offset beyond end of file", r.num)));
        }
        let mut p = Parser::new(self.data, off);
        let found = p.obj_header()?;
        if found.num != r.num {
            return Err(err(format!(
                "xref points object {} at byte {off}, found object {}",
                r.num, found.num
            )));
        }
        let o = self.parse_stream_or_value(&mut p)?;
        p.expect_keyword_loose("endobj");
        Ok((o, off..p.pos))
    }

    fn in_object_stream(&self, stm: u32, idx: u32, r: ObjRef) -> Result<Obj, PadesError> {
        let stream_ref = ObjRef {
            num: stm,
            generation: 0,
        };
        let Some(XrefEntry::InFile(off, _)) = self.xref.get(&stm) else {
            return Err(err("object stream not found"));
        };
        let (Obj::Stream(dict, range), _) = self.parse_at(*off, stream_ref)? else {
            return Err(err("object stream is not a stream"));
        };
        let body = self.decode_stream(&dict, range)?;
        let n = dict.get("N").and_then(Obj::as_int).unwrap_or(0);
        let first = dict
            .get("First")
            .and_then(Obj::as_int)
            .ok_or_else(|| err("object stream without /First"))? as usize;
        let mut hp = Parser::new(&body, 0);
        let mut target = None;
        for i in 0..n {
            let (Some(num), Some(o)) = (hp.uint(), hp.uint()) else {
                return Err(err("bad object stream header"));
            };
            if i as u32 == idx || num as u32 == r.num {
                target = Some(o as usize);
                break;
            }
        }
        let o = target.ok_or_else(|| err("object not found in its object stream"))?;
        let mut vp = Parser::new(&body, first + o);
        vp.parse()
    }

    /// Follow a reference (once); direct objects are returned as they are.
    pub fn resolve(&self, o: &Obj) -> Result<Obj, PadesError> {
        match o {
            Obj::Ref(r) => self.get(*r),
            other => Ok(other.clone()),
        }
    }

    pub fn get_dict(&self, r: ObjRef) -> Result<Dict, PadesError> {
        match self.get(r)? {
            Obj::Dict(d) | Obj::Stream(d, _) => Ok(d),
            _ => Err(err(format!("object {} is not a dictionary", r.num))),
        }
    }

    pub fn root_ref(&self) -> Result<ObjRef, PadesError> {
        match self.trailer.get("Root") {
            Some(Obj::Ref(r)) => Ok(*r),
            _ => Err(err("trailer without /Root")),
        }
    }

    /// The page objects in order (depth-first walk of the page tree).
    pub fn pages(&self) -> Result<Vec<ObjRef>, PadesError> {
        let catalog = self.get_dict(self.root_ref()?)?;
        let Some(Obj::Ref(pages)) = catalog.get("Pages") else {
            return Err(err("catalog without /Pages reference"));
        };
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        self.walk_pages(*pages, &mut out, &mut seen, 0)?;
        Ok(out)
    }

    fn walk_pages(
        &self,
        node: ObjRef,
        out: &mut Vec<ObjRef>,
        seen: &mut HashSet<u32>,
        depth: usize,
    ) -> Result<(), PadesError> {
        if depth > MAX_DEPTH || !seen.insert(node.num) {
            return Err(err("malformed page tree"));
        }
        let d = self.get_dict(node)?;
        match d.name("Type") {
            Some(b"Page") => out.push(node),
            _ => {
                let kids = self.resolve(d.get("Kids").unwrap_or(&Obj::Null))?;
                let Obj::Array(kids) = kids else {
                    return Err(err("page tree node without /Kids"));
                };
                for k in kids {
                    let Obj::Ref(k) = k else {
                        return Err(err("page tree kid is not a reference"));
                    };
                    self.walk_pages(k, out, seen, depth + 1)?;
                }
            }
        }
        Ok(())
    }

    /// `/Size` of the newest trailer.
    pub fn size(&self) -> u32 {
        let declared = self
            .trailer
            .get("Size")
            .and_then(Obj::as_int)
            .unwrap_or(0)
            .max(0) as u32;
        let max_seen = self.xref.keys().max().map_or(0, |m| m + 1);
        declared.max(max_seen)
    }
}

impl Parser<'_> {
    /// Skip `kw` if it is next; tolerate its absence (some writers forget `endobj`).
    fn expect_keyword_loose(&mut self, kw: &str) {
        let save = self.pos;
        if self.token() != kw.as_bytes() {
            self.pos = save;
        }
    }
}

fn unpredict(parms: &Dict, data: Vec<u8>) -> Result<Vec<u8>, PadesError> {
    let predictor = parms.get("Predictor").and_then(Obj::as_int).unwrap_or(1);
    if predictor < 10 {
        if predictor == 1 {
            return Ok(data);
        }
        return Err(err("unsupported TIFF predictor"));
    }
    let columns = parms
        .get("Columns")
        .and_then(Obj::as_int)
        .unwrap_or(1)
        .max(1) as usize;
    let colors = parms
        .get("Colors")
        .and_then(Obj::as_int)
        .unwrap_or(1)
        .max(1) as usize;
    let bpc = parms
        .get("BitsPerComponent")
        .and_then(Obj::as_int)
        .unwrap_or(8)
        .max(1) as usize;
    let bpp = (colors * bpc).div_ceil(8).max(1);
    let row_len = (columns * colors * bpc).div_ceil(8);
    let mut out = Vec::with_capacity(data.len());
    let mut prev = vec![0u8; row_len];
    for row in data.chunks(row_len + 1) {
        if row.len() < row_len + 1 {
            break;
        }
        let kind = row[0];
        let mut cur = row[1..].to_vec();
        for i in 0..row_len {
            let left = if i >= bpp { cur[i - bpp] } else { 0 };
            let up = prev[i];
            let up_left = if i >= bpp { prev[i - bpp] } else { 0 };
            cur[i] = match kind {
                0 => cur[i],
                1 => cur[i].wrapping_add(left),
                2 => cur[i].wrapping_add(up),
                3 => cur[i].wrapping_add(((left as u16 + up as u16) / 2) as u8),
                4 => {
                    let p = left as i16 + up as i16 - up_left as i16;
                    let (pa, pb, pc) = (
                        (p - left as i16).abs(),
                        (p - up as i16).abs(),
                        (p - up_left as i16).abs(),
                    );
                    let pred = if pa <= pb && pa <= pc {
                        left
                    } else if pb <= pc {
                        up
                    } else {
                        up_left
                    };
                    cur[i].wrapping_add(pred)
                }
                _ => return Err(err("bad PNG predictor row type")),
            };
        }
        out.extend_from_slice(&cur);
        prev = cur;
    }
    Ok(out)
}

fn parse_xref_stream(dict: &Dict, body: &[u8]) -> Result<Vec<(u32, XrefEntry)>, PadesError> {
    let w: Vec<usize> = match dict.get("W") {
        Some(Obj::Array(a)) if a.len() == 3 => a
            .iter()
            .map(|x| x.as_int().map(|v| v.max(0) as usize))
            .collect::<Option<_>>()
            .ok_or_else(|| err("bad /W"))?,
        _ => return Err(err("xref stream without /W")),
    };
    if w.iter().any(|x| *x > 8) {
        return Err(err("bad /W"));
    }
    let size = dict.get("Size").and_then(Obj::as_int).unwrap_or(0);
    let index: Vec<i64> = match dict.get("Index") {
        Some(Obj::Array(a)) => a
            .iter()
            .map(Obj::as_int)
            .collect::<Option<_>>()
            .ok_or_else(|| err("bad /Index"))?,
        _ => vec![0, size],
    };
    let row = w[0] + w[1] + w[2];
    let field = |b: &[u8]| b.iter().fold(0u64, |acc, x| acc << 8 | *x as u64);
    let mut out = Vec::new();
    let mut pos = 0usize;
    for pair in index.chunks(2) {
        let [first, count] = pair else {
            return Err(err("bad /Index"));
        };
        for i in 0..*count {
            if pos + row > body.len() {
                return Err(err("xref stream shorter than its /Index"));
            }
            let r = &body[pos..pos + row];
            pos += row;
            let t = if w[0] == 0 { 1 } else { field(&r[..w[0]]) };
            let f2 = field(&r[w[0]..w[0] + w[1]]);
            let f3 = field(&r[w[0] + w[1]..]);
            let num = u32::try_from(first + i).map_err(|_| err("object number"))?;
            let e = match t {
                0 => XrefEntry::Free,
                1 => XrefEntry::InFile(f2 as usize, f3 as u16),
                2 => XrefEntry::InStream(f2 as u32, f3 as u32),
                _ => continue,
            };
            out.push((num, e));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Writing

pub fn write_obj(out: &mut Vec<u8>, o: &Obj) {
    match o {
        Obj::Null => out.extend_from_slice(b"null"),
        Obj::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Obj::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Obj::Real(r) => out.extend_from_slice(r.as_bytes()),
        Obj::Name(n) => write_name(out, n),
        Obj::Str(s) => write_string(out, s),
        Obj::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                write_obj(out, x);
            }
            out.push(b']');
        }
        Obj::Dict(d) => write_dict(out, d),
        Obj::Ref(r) => out.extend_from_slice(format!("{} {} R", r.num, r.generation).as_bytes()),
        // Streams are never rewritten by this crate; writing one means a logic error upstream.
        Obj::Stream(d, _) => write_dict(out, d),
    }
}

pub fn write_dict(out: &mut Vec<u8>, d: &Dict) {
    out.extend_from_slice(b"<<");
    for (k, v) in &d.0 {
        out.push(b' ');
        write_name(out, k);
        out.push(b' ');
        write_obj(out, v);
    }
    out.extend_from_slice(b" >>");
}

fn write_name(out: &mut Vec<u8>, n: &[u8]) {
    out.push(b'/');
    for &b in n {
        if is_regular(b) && (b'!'..=b'~').contains(&b) && b != b'#' {
            out.push(b);
        } else {
            out.extend_from_slice(format!("#{b:02X}").as_bytes());
        }
    }
}

/// A literal string when printable, else a hex string.
pub fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.iter().all(|b| (0x20..0x7f).contains(b)) {
        out.push(b'(');
        for &b in s {
            if matches!(b, b'(' | b')' | b'\\') {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b')');
    } else {
        out.push(b'<');
        let mut h = String::with_capacity(s.len() * 2);
        for b in s {
            let _ = write!(h, "{b:02X}");
        }
        out.extend_from_slice(h.as_bytes());
        out.push(b'>');
    }
}

/// A PDF text string: ASCII as is, anything else as UTF-16BE with a byte-order mark.
pub fn text_string(s: &str) -> Vec<u8> {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        s.as_bytes().to_vec()
    } else {
        let mut v = vec![0xFE, 0xFF];
        for u in s.encode_utf16() {
            v.extend_from_slice(&u.to_be_bytes());
        }
        v
    }
}

/// Decode a PDF text string (UTF-16BE with BOM, UTF-8 with BOM, or PDFDocEncoding ~ Latin-1).
pub fn decode_text(b: &[u8]) -> String {
    if let Some(rest) = b.strip_prefix(&[0xFE, 0xFF]) {
        let units: Vec<u16> = rest
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
            .collect();
        String::from_utf16_lossy(&units)
    } else if let Some(rest) = b.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        b.iter().map(|&c| c as char).collect()
    }
}

pub fn name(s: &str) -> Obj {
    Obj::Name(s.as_bytes().to_vec())
}

pub fn rref(r: ObjRef) -> Obj {
    Obj::Ref(r)
}
