//! DPOF (Digital Print Order Format): the `MISC/AUTPRINT.MRK` a camera writes on its card to
//! choose prints (Fig. 2: the walk-in customer hands over a medium), and the same format
//! written as the lab's hot-folder job ticket.
//!
//! The parser takes what real cameras write: `[HDR]` with `GEN REV`, `GEN CRT`, `GEN DTM`,
//! `USR NAM`...; each `[JOB]` with `PRT PID`, `PRT TYP` (STD, IDX, SIZ, MUL...), `PRT QTY`,
//! `IMG FMT` (`EXIF2 -J`, `JFIF`...) and one or more `IMG SRC` lines, bracketed
//! (`<IMG SRC = "../DCIM/100CANON/IMG_0001.JPG">`) or not; CRLF or LF; vendor blocks
//! (`VUQ RGN = BGN` ... `VUQ RGN = END`), unknown sections and unknown keys skipped. Errors
//! name the line. The parser never panics (fuzzed: `fuzz/`).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::error::{MediaError, Result};

/// Largest accepted AUTPRINT.MRK.
pub const MAX_FILE: usize = 1 << 20;
/// Most jobs accepted in one file.
pub const MAX_JOBS: usize = 10_000;
/// Largest print quantity DPOF can express (three digits).
pub const MAX_QUANTITY: u32 = 999;

/// The `[HDR]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DpofHeader {
    /// `GEN REV`, e.g. "01.10".
    pub revision: String,
    /// `GEN CRT`: the device that wrote the file, e.g. "Canon PowerShot G7 X".
    pub creator: Option<String>,
    /// `GEN DTM`: when, as written ("YYYY:MM:DD:HH:MM:SS").
    pub created: Option<String>,
    /// `USR NAM`.
    pub user_name: Option<String>,
    /// `USR ADR`.
    pub user_address: Option<String>,
    /// `USR TEL`.
    pub user_phone: Option<String>,
}

/// `PRT TYP`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PrintType {
    /// `STD`: a standard print of each image.
    Standard,
    /// `IDX`: an index print of all listed images.
    Index,
    /// `SIZ`: a print at a given size (attributes say which).
    Size,
    /// `MUL`: several images on one sheet.
    Multiple,
    /// Anything else, as written.
    Other(String),
}

impl PrintType {
    fn parse(s: &str) -> PrintType {
        match s.to_ascii_uppercase().as_str() {
            "STD" => PrintType::Standard,
            "IDX" => PrintType::Index,
            "SIZ" => PrintType::Size,
            "MUL" => PrintType::Multiple,
            _ => PrintType::Other(s.to_owned()),
        }
    }

    /// The three-letter code.
    pub fn code(&self) -> &str {
        match self {
            PrintType::Standard => "STD",
            PrintType::Index => "IDX",
            PrintType::Size => "SIZ",
            PrintType::Multiple => "MUL",
            PrintType::Other(s) => s,
        }
    }
}

/// One `[JOB]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DpofJob {
    /// Line of the `[JOB]` header (1-based).
    pub line: usize,
    /// `PRT PID`.
    pub pid: Option<u32>,
    /// `PRT TYP`.
    pub print_type: PrintType,
    /// Attributes after the type (e.g. `-SIZ 2x3`), as tokens.
    pub type_attributes: Vec<String>,
    /// `PRT QTY` (1 when absent, as for index prints).
    pub quantity: u32,
    /// `IMG FMT`, e.g. "EXIF2 -J".
    pub image_format: Option<String>,
    /// `IMG SRC` paths as written, relative to `MISC/` (e.g. "../DCIM/100CANON/IMG_0001.JPG").
    pub sources: Vec<String>,
}

impl DpofJob {
    /// The sources as paths from the medium's root ("DCIM/100CANON/IMG_0001.JPG"), refusing
    /// any that would leave the medium (absolute paths, too many `..`).
    pub fn resolved_sources(&self) -> Result<Vec<String>> {
        self.sources
            .iter()
            .map(|s| {
                resolve_source(s).ok_or_else(|| {
                    MediaError::dpof(
                        self.line,
                        format!("IMG SRC {s:?} points outside the medium"),
                    )
                })
            })
            .collect()
    }
}

fn resolve_source(src: &str) -> Option<String> {
    let src = src.replace('\\', "/");
    if src.starts_with('/') || src.contains(':') {
        return None;
    }
    // AUTPRINT.MRK lives in MISC/.
    let mut parts: Vec<&str> = vec!["MISC"];
    for p in src.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(parts.join("/"))
}

/// A parsed AUTPRINT.MRK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dpof {
    /// The header.
    pub header: DpofHeader,
    /// The jobs in file order.
    pub jobs: Vec<DpofJob>,
}

/// Splits a value into its main part (unquoted) and attribute tokens; quoted strings may hold
/// spaces. An unterminated quote is an error.
fn split_value(value: &str, line: usize) -> Result<(String, Vec<String>)> {
    let mut tokens = Vec::new();
    let mut rest = value.trim();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('"') {
            let end = after.find('"').ok_or_else(|| {
                MediaError::dpof(
                    line,
                    "string not closed (missing '\"'); is the file truncated?",
                )
            })?;
            tokens.push(after[..end].to_owned());
            rest = after[end + 1..].trim_start();
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            tokens.push(rest[..end].to_owned());
            rest = rest[end..].trim_start();
        }
    }
    let mut it = tokens.into_iter();
    let main = it.next().unwrap_or_default();
    Ok((main, it.collect()))
}

fn number(value: &str, line: usize, what: &str) -> Result<u32> {
    let v = value.trim();
    if v.is_empty() || v.len() > 9 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(MediaError::dpof(
            line,
            format!("{what} {v:?} is not a number"),
        ));
    }
    v.parse()
        .map_err(|_| MediaError::dpof(line, format!("{what} {v:?} is not a number")))
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Section {
    None,
    Header,
    Job,
    Unknown,
}

struct JobBuilder {
    line: usize,
    pid: Option<u32>,
    print_type: Option<(PrintType, Vec<String>)>,
    quantity: Option<u32>,
    image_format: Option<String>,
    sources: Vec<String>,
}

impl JobBuilder {
    fn finish(self) -> Result<DpofJob> {
        let (print_type, type_attributes) = self
            .print_type
            .ok_or_else(|| MediaError::dpof(self.line, "job has no PRT TYP"))?;
        if self.sources.is_empty() {
            return Err(MediaError::dpof(self.line, "job has no IMG SRC"));
        }
        Ok(DpofJob {
            line: self.line,
            pid: self.pid,
            print_type,
            type_attributes,
            quantity: self.quantity.unwrap_or(1),
            image_format: self.image_format,
            sources: self.sources,
        })
    }
}

/// Parses an AUTPRINT.MRK. Text may be CRLF or LF; bytes that are not UTF-8 (a Shift-JIS user
/// name) are kept as replacement characters.
pub fn parse(bytes: &[u8]) -> Result<Dpof> {
    if bytes.len() > MAX_FILE {
        return Err(MediaError::dpof(
            0,
            format!("file of {} bytes is larger than {MAX_FILE}", bytes.len()),
        ));
    }
    let mut header: Option<(usize, DpofHeader)> = None;
    let mut jobs = Vec::new();
    let mut job: Option<JobBuilder> = None;
    let mut section = Section::None;
    let mut vendor_block: Option<usize> = None;

    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let text = String::from_utf8_lossy(raw);
        // Trailing CR, padding NULs and the old DOS end-of-file mark are not content.
        let line = text.trim_matches(|c: char| c.is_whitespace() || c == '\0' || c == '\u{1A}');
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            if let Some(open) = vendor_block {
                return Err(MediaError::dpof(
                    line_no,
                    format!("new section while the vendor block of line {open} is open"),
                ));
            }
            let name = line
                .strip_prefix('[')
                .and_then(|l| l.strip_suffix(']'))
                .ok_or_else(|| MediaError::dpof(line_no, format!("bad section header {line:?}")))?
                .trim()
                .to_ascii_uppercase();
            if let Some(j) = job.take() {
                jobs.push(j.finish()?);
            }
            section = match name.as_str() {
                "HDR" => {
                    if header.is_some() {
                        return Err(MediaError::dpof(line_no, "second [HDR] section"));
                    }
                    header = Some((line_no, DpofHeader::default()));
                    Section::Header
                }
                "JOB" => {
                    if header.is_none() {
                        return Err(MediaError::dpof(line_no, "[JOB] before [HDR]"));
                    }
                    if jobs.len() >= MAX_JOBS {
                        return Err(MediaError::dpof(
                            line_no,
                            format!("more than {MAX_JOBS} jobs"),
                        ));
                    }
                    job = Some(JobBuilder {
                        line: line_no,
                        pid: None,
                        print_type: None,
                        quantity: None,
                        image_format: None,
                        sources: Vec::new(),
                    });
                    Section::Job
                }
                _ => Section::Unknown,
            };
            continue;
        }
        if section == Section::Unknown {
            continue;
        }
        // `<IMG SRC = "...">` is how cameras bracket source lines.
        let body = match line.strip_prefix('<') {
            Some(inner) => inner.strip_suffix('>').ok_or_else(|| {
                MediaError::dpof(
                    line_no,
                    "'<' line not closed by '>'; is the file truncated?",
                )
            })?,
            None => line,
        };
        let (key, value) = body.split_once('=').ok_or_else(|| {
            MediaError::dpof(line_no, format!("expected `KEY = value`, found {line:?}"))
        })?;
        let key: String = key
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_ascii_uppercase();
        let value = value.trim();
        if key == "VUQ RGN" {
            match value.to_ascii_uppercase().as_str() {
                "BGN" => {
                    if let Some(open) = vendor_block {
                        return Err(MediaError::dpof(
                            line_no,
                            format!("vendor block opened again (already open since line {open})"),
                        ));
                    }
                    vendor_block = Some(line_no);
                }
                "END" => {
                    if vendor_block.take().is_none() {
                        return Err(MediaError::dpof(line_no, "VUQ RGN = END without BGN"));
                    }
                }
                other => {
                    return Err(MediaError::dpof(line_no, format!("VUQ RGN = {other:?}")));
                }
            }
            continue;
        }
        if vendor_block.is_some() {
            continue;
        }
        match section {
            Section::None => {
                return Err(MediaError::dpof(
                    line_no,
                    "content before the [HDR] section",
                ));
            }
            Section::Unknown => {}
            Section::Header => {
                let Some((_, h)) = header.as_mut() else {
                    return Err(MediaError::dpof(line_no, "header line outside [HDR]"));
                };
                let slot = match key.as_str() {
                    "GEN REV" => {
                        h.revision = split_value(value, line_no)?.0;
                        continue;
                    }
                    "GEN CRT" => &mut h.creator,
                    "GEN DTM" => &mut h.created,
                    "USR NAM" => &mut h.user_name,
                    "USR ADR" => &mut h.user_address,
                    "USR TEL" => &mut h.user_phone,
                    _ => continue,
                };
                *slot = Some(split_value(value, line_no)?.0);
            }
            Section::Job => {
                let Some(j) = job.as_mut() else {
                    return Err(MediaError::dpof(line_no, "job line outside [JOB]"));
                };
                match key.as_str() {
                    "PRT PID" => j.pid = Some(number(value, line_no, "PRT PID")?),
                    "PRT TYP" => {
                        let (t, attrs) = split_value(value, line_no)?;
                        if t.is_empty() {
                            return Err(MediaError::dpof(line_no, "empty PRT TYP"));
                        }
                        j.print_type = Some((PrintType::parse(&t), attrs));
                    }
                    "PRT QTY" => {
                        if j.quantity.is_some() {
                            return Err(MediaError::dpof(
                                line_no,
                                "PRT QTY given twice in one job",
                            ));
                        }
                        let q = number(value, line_no, "PRT QTY")?;
                        if q == 0 || q > MAX_QUANTITY {
                            return Err(MediaError::dpof(
                                line_no,
                                format!("PRT QTY {q} is outside 1..={MAX_QUANTITY}"),
                            ));
                        }
                        j.quantity = Some(q);
                    }
                    "IMG FMT" => {
                        let (f, attrs) = split_value(value, line_no)?;
                        let mut s = f;
                        for a in attrs {
                            s.push(' ');
                            s.push_str(&a);
                        }
                        j.image_format = Some(s);
                    }
                    "IMG SRC" => {
                        let (src, _) = split_value(value, line_no)?;
                        if src.is_empty() {
                            return Err(MediaError::dpof(line_no, "empty IMG SRC"));
                        }
                        j.sources.push(src);
                    }
                    _ => {}
                }
            }
        }
    }
    if let Some(open) = vendor_block {
        return Err(MediaError::dpof(
            open,
            "vendor block (VUQ RGN = BGN) is not closed; is the file truncated?",
        ));
    }
    if let Some(j) = job.take() {
        jobs.push(j.finish()?);
    }
    let (hdr_line, header) = header.ok_or_else(|| MediaError::dpof(1, "no [HDR] section"))?;
    if header.revision.is_empty() {
        return Err(MediaError::dpof(hdr_line, "[HDR] has no GEN REV"));
    }
    Ok(Dpof { header, jobs })
}

/// One rendered file on the lab's hot-folder ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketItem {
    /// Path of the rendered file from the hot folder's root, e.g. "PRINTS/R0001004-01.JPG".
    pub file: String,
    /// Number of prints, 1..=999.
    pub quantity: u32,
}

/// The lab's hot-folder job ticket: a DPOF file (to be stored as `MISC/AUTPRINT.MRK` beside the
/// rendered files) that a minilab's print station reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HotFolderTicket {
    /// `GEN CRT`: the writing system, e.g. "reprint LAB-1".
    pub creator: String,
    /// `GEN DTM`, local time of the lab.
    pub created: chrono::NaiveDateTime,
    /// `USR NAM`: the reception number the prints belong to.
    pub order: String,
    /// The files and quantities.
    pub items: Vec<TicketItem>,
}

fn check_text(what: &str, s: &str) -> Result<()> {
    if s.contains(['"', '<', '>']) || s.chars().any(char::is_control) {
        return Err(MediaError::dpof(
            0,
            format!("{what} {s:?} contains a quote, bracket or control character"),
        ));
    }
    Ok(())
}

/// Writes a ticket as DPOF text with CRLF line ends (the format's own).
pub fn write_ticket(ticket: &HotFolderTicket) -> Result<String> {
    check_text("creator", &ticket.creator)?;
    check_text("order", &ticket.order)?;
    if ticket.items.is_empty() {
        return Err(MediaError::dpof(0, "a ticket needs at least one file"));
    }
    if ticket.items.len() > MAX_JOBS {
        return Err(MediaError::dpof(0, format!("more than {MAX_JOBS} files")));
    }
    let mut s = String::new();
    let crlf = "\r\n";
    // Writing to a String cannot fail.
    let _ = write!(
        s,
        "[HDR]{crlf}GEN REV = 01.10{crlf}GEN CRT = \"{}\" -01.00{crlf}GEN DTM = {}{crlf}USR NAM = \"{}\"{crlf}",
        ticket.creator,
        ticket.created.format("%Y:%m:%d:%H:%M:%S"),
        ticket.order
    );
    for (i, item) in ticket.items.iter().enumerate() {
        check_text("file", &item.file)?;
        if item.file.is_empty()
            || item.file.starts_with('/')
            || item.file.split('/').any(|p| p == "..")
        {
            return Err(MediaError::dpof(
                0,
                format!("file {:?} must be a path inside the hot folder", item.file),
            ));
        }
        if item.quantity == 0 || item.quantity > MAX_QUANTITY {
            return Err(MediaError::dpof(
                0,
                format!(
                    "quantity {} for {} is outside 1..={MAX_QUANTITY}",
                    item.quantity, item.file
                ),
            ));
        }
        let upper = item.file.to_ascii_uppercase();
        let fmt = if upper.ends_with(".JPG") || upper.ends_with(".JPEG") {
            "EXIF2 -J"
        } else {
            "JFIF"
        };
        let _ = write!(
            s,
            "{crlf}[JOB]{crlf}PRT PID = {:03}{crlf}PRT TYP = STD{crlf}PRT QTY = {:03}{crlf}IMG FMT = {fmt}{crlf}<IMG SRC = \"../{}\">{crlf}",
            i + 1,
            item.quantity,
            item.file
        );
    }
    Ok(s)
}
