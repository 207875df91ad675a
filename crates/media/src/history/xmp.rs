//! Print history inside the image: an XMP packet with reprint's own namespace, spliced into a
//! JPEG (APP1 "http://ns.adobe.com/xap/1.0/") or a PNG (iTXt "XML:com.adobe.xmp") without
//! touching the pixel data (seed 004: data added to the image, the user keeps viewing and
//! storing it as before).
//!
//! An existing packet (a camera's or an editor's) is kept: only reprint's `rph:History`
//! property is replaced, inside its own `rdf:Description`. A packet that is not well-formed XML
//! cannot be kept meaningfully and is replaced by a fresh one.
//!
//! ```text
//! <rdf:Description rdf:about="" xmlns:rph="https://reprint.example/ns/history/1.0/">
//!  <rph:History><rdf:Seq>
//!   <rdf:li rdf:parseType="Resource">
//!    <rph:site>LAB-1</rph:site><rph:registrationNumber>B0000456</rph:registrationNumber>
//!    <rph:receptionNumber>R0001004</rph:receptionNumber><rph:date>2026-11-18</rph:date>
//!   </rdf:li>
//!  </rdf:Seq></rph:History>
//! </rdf:Description>
//! ```

use std::io::{Read, Write};

use chrono::NaiveDate;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use super::{PrintHistory, PrintRecord};
use crate::error::{MediaError, Result};
use crate::validate::{ImageFormat, sniff};
use crate::{jpeg, png};

/// reprint's XMP namespace.
pub const NAMESPACE: &str = "https://reprint.example/ns/history/1.0/";
/// The prefix reprint writes for [`NAMESPACE`] (readers resolve by URI, not prefix).
pub const PREFIX: &str = "rph";
const RDF_NS: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
/// The signature that starts a JPEG APP1 segment holding the main XMP packet.
pub const JPEG_XMP_SIGNATURE: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
/// The PNG iTXt keyword of an XMP packet.
pub const PNG_XMP_KEYWORD: &str = "XML:com.adobe.xmp";
/// The largest packet that fits into one JPEG APP1 segment.
pub const MAX_JPEG_PACKET: usize = 65533 - JPEG_XMP_SIGNATURE.len();
/// Largest inflated XMP text accepted from a compressed iTXt chunk.
const MAX_INFLATED: u64 = 16 << 20;

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The `rdf:Description` holding the history, as XML text.
fn description(history: &PrintHistory) -> String {
    let mut s = format!(
        "\n  <rdf:Description rdf:about=\"\" xmlns:{PREFIX}=\"{NAMESPACE}\">\n   <{PREFIX}:History>\n    <rdf:Seq>\n"
    );
    for r in &history.entries {
        s.push_str(&format!(
            "     <rdf:li rdf:parseType=\"Resource\">\n      <{p}:site>{}</{p}:site>\n      <{p}:registrationNumber>{}</{p}:registrationNumber>\n      <{p}:receptionNumber>{}</{p}:receptionNumber>\n      <{p}:date>{}</{p}:date>\n     </rdf:li>\n",
            escape(&r.site),
            escape(&r.registration_number),
            escape(&r.reception_number),
            r.date.format("%Y-%m-%d"),
            p = PREFIX
        ));
    }
    s.push_str(&format!(
        "    </rdf:Seq>\n   </{PREFIX}:History>\n  </rdf:Description>\n "
    ));
    s
}

const PACKET_BEGIN: &str = "<?xpacket begin=\"\u{FEFF}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n";
const PACKET_END: &str = "\n<?xpacket end=\"w\"?>";

/// A fresh packet holding only the history.
fn fresh_packet(history: &PrintHistory) -> String {
    format!(
        "{PACKET_BEGIN}<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n <rdf:RDF xmlns:rdf=\"{RDF_NS}\">{}</rdf:RDF>\n</x:xmpmeta>{PACKET_END}",
        description(history)
    )
}

fn is_ns(r: &ResolveResult<'_>, ns: &str) -> bool {
    matches!(r, ResolveResult::Bound(n) if n.as_ref() == ns)
}

/// Which namespace an element is in, as far as this module cares.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ns {
    Ours,
    Rdf,
    Other,
}

fn classify(r: &ResolveResult<'_>) -> Ns {
    if is_ns(r, NAMESPACE) {
        Ns::Ours
    } else if is_ns(r, RDF_NS) {
        Ns::Rdf
    } else {
        Ns::Other
    }
}

/// A packet holding `history`: `existing` with reprint's property replaced (everything else
/// kept), or a fresh packet when there is none or it is not well-formed.
pub fn packet_with_history(existing: Option<&str>, history: &PrintHistory) -> Result<String> {
    history.validate()?;
    let Some(existing) = existing else {
        return Ok(fresh_packet(history));
    };
    match merge(existing, history) {
        Some(p) => Ok(p),
        None => Ok(fresh_packet(history)),
    }
}

/// Re-emits `existing` without reprint's elements (and without a description left empty by
/// their removal), inserting the new description before `</rdf:RDF>`; `None` when the packet is
/// not well-formed or has no `rdf:RDF`.
fn merge(existing: &str, history: &PrintHistory) -> Option<String> {
    let mut reader = NsReader::from_str(existing);
    let mut writer = quick_xml::Writer::new(Vec::new());
    let mut skip_depth = 0usize;
    let mut depth = 0usize;
    let mut inserted = false;
    // A top-level rdf:Description being collected: its events, its depth, whether it holds
    // anything but reprint's property.
    let mut pending: Option<(Vec<Event<'_>>, usize, bool)> = None;
    loop {
        let (ns, event) = reader.read_resolved_event().ok()?;
        let ns = classify(&ns);
        match &event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.checked_sub(1)?,
            _ => {}
        }
        if skip_depth > 0 {
            match event {
                Event::Start(_) => skip_depth += 1,
                Event::End(_) => skip_depth -= 1,
                Event::Eof => return None,
                _ => {}
            }
            continue;
        }
        if let Some((events, d, content)) = pending.as_mut() {
            match &event {
                Event::Start(_) if ns == Ns::Ours => {
                    skip_depth = 1;
                    continue;
                }
                Event::Empty(_) if ns == Ns::Ours => continue,
                Event::Start(_) => {
                    *d += 1;
                    *content = true;
                }
                Event::Empty(_) => *content = true,
                Event::Text(t) if !t.trim().is_empty() => *content = true,
                Event::End(_) => *d -= 1,
                Event::Eof => return None,
                _ => {}
            }
            events.push(event);
            if *d == 0 {
                if let Some((events, _, true)) = pending.take() {
                    for e in events {
                        writer.write_event(e).ok()?;
                    }
                }
                pending = None;
            }
            continue;
        }
        match event {
            Event::Eof => break,
            Event::Start(_) if ns == Ns::Ours => skip_depth = 1,
            Event::Empty(_) if ns == Ns::Ours => {}
            Event::PI(pi) if pi.starts_with("xpacket") => {}
            Event::Start(e) if ns == Ns::Rdf && e.local_name().as_ref() == "Description" => {
                let (start, content) = strip_our_attrs(&reader, &e)?;
                pending = Some((vec![Event::Start(start)], 1, content));
            }
            Event::Empty(e) if ns == Ns::Rdf && e.local_name().as_ref() == "Description" => {
                let (start, content) = strip_our_attrs(&reader, &e)?;
                if content {
                    writer.write_event(Event::Empty(start)).ok()?;
                }
            }
            Event::End(e) if ns == Ns::Rdf && e.local_name().as_ref() == "RDF" => {
                writer
                    .get_mut()
                    .write_all(description(history).as_bytes())
                    .ok()?;
                writer.write_event(Event::End(e)).ok()?;
                inserted = true;
            }
            other => writer.write_event(other).ok()?,
        }
    }
    if !inserted || depth != 0 {
        return None;
    }
    let body = String::from_utf8(writer.into_inner()).ok()?;
    Some(format!("{PACKET_BEGIN}{}{PACKET_END}", body.trim()))
}

/// A copy of a start tag without reprint's namespace declaration and attributes; the flag
/// tells whether any attribute other than `rdf:about` and namespace declarations remains.
fn strip_our_attrs<'a>(
    reader: &NsReader<&[u8]>,
    e: &BytesStart<'a>,
) -> Option<(BytesStart<'static>, bool)> {
    let mut out = BytesStart::new(e.name().as_ref().to_owned());
    let mut content = false;
    for attr in e.attributes() {
        let attr = attr.ok()?;
        let key = attr.key.as_ref();
        let value = attr.value.as_ref();
        let is_decl = key == "xmlns" || key.starts_with("xmlns:");
        if is_decl && value == NAMESPACE {
            continue;
        }
        let (ns, local) = reader.resolver().resolve_attribute(attr.key);
        let ns = classify(&ns);
        if ns == Ns::Ours {
            continue;
        }
        if !(is_decl || ns == Ns::Rdf && local.as_ref() == "about") {
            content = true;
        }
        out.push_attribute((key, value));
    }
    Some((out, content))
}

#[derive(Default)]
struct RecordBuilder {
    site: Option<String>,
    registration_number: Option<String>,
    reception_number: Option<String>,
    date: Option<String>,
}

impl RecordBuilder {
    fn set(&mut self, field: &str, value: String) {
        match field {
            "site" => self.site = Some(value),
            "registrationNumber" => self.registration_number = Some(value),
            "receptionNumber" => self.reception_number = Some(value),
            "date" => self.date = Some(value),
            _ => {}
        }
    }

    fn finish(self) -> Result<PrintRecord> {
        let missing = |what: &str| MediaError::History(format!("history entry without {what}"));
        let date = self.date.ok_or_else(|| missing("date"))?;
        let record = PrintRecord {
            site: self.site.ok_or_else(|| missing("site"))?,
            registration_number: self
                .registration_number
                .ok_or_else(|| missing("registrationNumber"))?,
            reception_number: self
                .reception_number
                .ok_or_else(|| missing("receptionNumber"))?,
            date: NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").map_err(|e| {
                MediaError::History(format!("history date {date:?} is not YYYY-MM-DD: {e}"))
            })?,
        };
        record.validate()?;
        Ok(record)
    }
}

fn xml_err(e: impl std::fmt::Display) -> MediaError {
    MediaError::History(format!("XMP packet is not well-formed: {e}"))
}

/// Collects reprint-namespace attributes of an element into the builder.
fn take_attrs(
    reader: &NsReader<&[u8]>,
    e: &quick_xml::events::BytesStart<'_>,
    b: &mut RecordBuilder,
) -> Result<()> {
    for attr in e.attributes() {
        let attr = attr.map_err(xml_err)?;
        let (ns, local) = reader.resolver().resolve_attribute(attr.key);
        if is_ns(&ns, NAMESPACE) {
            let v = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(xml_err)?;
            b.set(local.as_ref(), v.into_owned());
        }
    }
    Ok(())
}

/// Reads the history from an XMP packet (empty when the packet has none).
pub fn history_from_packet(packet: &str) -> Result<PrintHistory> {
    let mut reader = NsReader::from_str(packet);
    let mut history = PrintHistory::new();
    let mut in_history = 0usize;
    let mut current: Option<RecordBuilder> = None;
    let mut field: Option<(String, String)> = None;
    let mut depth = 0usize;
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(xml_err)?;
        let ns = classify(&ns);
        match &event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Eof if depth != 0 => {
                return Err(MediaError::History(
                    "XMP packet is not well-formed: it ends inside an element".into(),
                ));
            }
            _ => {}
        }
        match event {
            Event::Eof => break,
            Event::Start(e) => {
                let local = e.local_name();
                if in_history == 0 {
                    if ns == Ns::Ours && local.as_ref() == "History" {
                        in_history = 1;
                    }
                    continue;
                }
                in_history += 1;
                if let Some(b) = current.as_mut() {
                    if ns == Ns::Ours {
                        field = Some((local.as_ref().to_owned(), String::new()));
                    } else {
                        take_attrs(&reader, &e, b)?;
                    }
                } else if ns == Ns::Rdf && local.as_ref() == "li" {
                    let mut b = RecordBuilder::default();
                    take_attrs(&reader, &e, &mut b)?;
                    current = Some(b);
                }
            }
            Event::Empty(e) => {
                if in_history == 0 {
                    continue;
                }
                let local = e.local_name();
                if let Some(b) = current.as_mut() {
                    if ns == Ns::Ours {
                        b.set(local.as_ref(), String::new());
                    } else {
                        take_attrs(&reader, &e, b)?;
                    }
                } else if ns == Ns::Rdf && local.as_ref() == "li" {
                    let mut b = RecordBuilder::default();
                    take_attrs(&reader, &e, &mut b)?;
                    history.entries.push(b.finish()?);
                }
            }
            Event::Text(t) => {
                if let Some((_, v)) = field.as_mut() {
                    v.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some((_, v)) = field.as_mut() {
                    v.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some((_, v)) = field.as_mut() {
                    if let Some(c) = r.resolve_char_ref().map_err(xml_err)? {
                        v.push(c);
                    } else {
                        let name = r.xml10_content();
                        let c = match name.as_ref() {
                            "amp" => '&',
                            "lt" => '<',
                            "gt" => '>',
                            "quot" => '"',
                            "apos" => '\'',
                            other => {
                                return Err(MediaError::History(format!(
                                    "unknown entity &{other}; in history"
                                )));
                            }
                        };
                        v.push(c);
                    }
                }
            }
            Event::End(e) => {
                if in_history == 0 {
                    continue;
                }
                in_history -= 1;
                let local = e.local_name();
                if let Some((name, value)) = field.take() {
                    if let Some(b) = current.as_mut() {
                        b.set(&name, value);
                    }
                } else if ns == Ns::Rdf
                    && local.as_ref() == "li"
                    && let Some(b) = current.take()
                {
                    history.entries.push(b.finish()?);
                }
            }
            _ => {}
        }
    }
    Ok(history)
}

/// The main XMP packet of a JPEG or PNG, if it has one.
pub fn read_packet(bytes: &[u8]) -> Result<Option<String>> {
    let raw: Option<Vec<u8>> = match sniff(bytes) {
        Some(ImageFormat::Jpeg) => {
            let header = jpeg::parse_header(bytes)?;
            jpeg::payloads(bytes, &header, jpeg::APP1, JPEG_XMP_SIGNATURE)
                .next()
                .map(<[u8]>::to_vec)
        }
        Some(ImageFormat::Png) => {
            let chunks = png::chunks(bytes)?;
            let mut found = None;
            for c in chunks.iter().filter(|c| &c.kind == b"iTXt") {
                if let Some(text) = parse_itxt_xmp(&bytes[c.data.clone()])? {
                    found = Some(text);
                    break;
                }
            }
            found
        }
        Some(f) => {
            return Err(MediaError::Unsupported {
                format: f.name(),
                operation: "XMP print history",
            });
        }
        None => return Err(MediaError::UnknownFormat(format!("{} bytes", bytes.len()))),
    };
    raw.map(|r| {
        String::from_utf8(r).map_err(|_| MediaError::History("XMP packet is not UTF-8".into()))
    })
    .transpose()
}

/// The text of an iTXt chunk if its keyword is the XMP one.
fn parse_itxt_xmp(data: &[u8]) -> Result<Option<Vec<u8>>> {
    let Some(rest) = data
        .strip_prefix(PNG_XMP_KEYWORD.as_bytes())
        .and_then(|r| r.strip_prefix(b"\0"))
    else {
        return Ok(None);
    };
    let bad = || MediaError::History("PNG iTXt XMP chunk is malformed".into());
    let (&flag, rest) = rest.split_first().ok_or_else(bad)?;
    let (_method, rest) = rest.split_first().ok_or_else(bad)?;
    let lang_end = rest.iter().position(|&b| b == 0).ok_or_else(bad)?;
    let rest = &rest[lang_end + 1..];
    let tk_end = rest.iter().position(|&b| b == 0).ok_or_else(bad)?;
    let text = &rest[tk_end + 1..];
    if flag == 0 {
        return Ok(Some(text.to_vec()));
    }
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(text)
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut out)
        .map_err(|e| MediaError::History(format!("compressed XMP chunk: {e}")))?;
    if out.len() as u64 > MAX_INFLATED {
        return Err(MediaError::History(
            "compressed XMP chunk inflates too far".into(),
        ));
    }
    Ok(Some(out))
}

fn itxt_xmp(packet: &str) -> Vec<u8> {
    let mut data = Vec::with_capacity(packet.len() + 24);
    data.extend_from_slice(PNG_XMP_KEYWORD.as_bytes());
    data.extend_from_slice(&[0, 0, 0, 0, 0]); // NUL, uncompressed, method 0, no language, no translation
    data.extend_from_slice(packet.as_bytes());
    data
}

/// Reads the print history embedded in a JPEG or PNG (empty when there is none).
pub fn read_history(bytes: &[u8]) -> Result<PrintHistory> {
    match read_packet(bytes)? {
        Some(p) => history_from_packet(&p),
        None => Ok(PrintHistory::new()),
    }
}

/// Writes `history` into a JPEG or PNG, replacing reprint's earlier history and keeping all
/// other metadata. Only the metadata segment or chunk changes: the compressed pixels are copied
/// byte for byte.
pub fn write_history(bytes: &[u8], history: &PrintHistory) -> Result<Vec<u8>> {
    let existing = read_packet(bytes)?;
    let packet = packet_with_history(existing.as_deref(), history)?;
    splice_packet(bytes, &packet)
}

/// Adds one record to the history embedded in the image (the earlier ones stay).
pub fn append_record(bytes: &[u8], record: PrintRecord) -> Result<Vec<u8>> {
    let mut history = read_history(bytes)?;
    history.push(record)?;
    write_history(bytes, &history)
}

/// Replaces the main XMP packet of a JPEG or PNG with `packet` (inserted when there is none).
pub fn splice_packet(bytes: &[u8], packet: &str) -> Result<Vec<u8>> {
    match sniff(bytes) {
        Some(ImageFormat::Jpeg) => splice_jpeg(bytes, packet),
        Some(ImageFormat::Png) => splice_png(bytes, packet),
        Some(f) => Err(MediaError::Unsupported {
            format: f.name(),
            operation: "XMP print history",
        }),
        None => Err(MediaError::UnknownFormat(format!("{} bytes", bytes.len()))),
    }
}

fn splice_jpeg(bytes: &[u8], packet: &str) -> Result<Vec<u8>> {
    if packet.len() > MAX_JPEG_PACKET {
        return Err(MediaError::XmpTooLarge(packet.len()));
    }
    let header = jpeg::parse_header(bytes)?;
    let mut payload = JPEG_XMP_SIGNATURE.to_vec();
    payload.extend_from_slice(packet.as_bytes());
    let segment = jpeg::segment_bytes(jpeg::APP1, &payload)?;
    let is_xmp = |s: &jpeg::Segment| {
        s.marker == jpeg::APP1 && bytes[s.data.clone()].starts_with(JPEG_XMP_SIGNATURE)
    };
    // Where the packet goes: in place of the old one, else after the leading JFIF/Exif segments.
    let at = header.segments.iter().position(is_xmp).unwrap_or_else(|| {
        header
            .segments
            .iter()
            .position(|s| !matches!(s.marker, jpeg::APP0 | jpeg::APP1))
            .unwrap_or(header.segments.len())
    });
    let mut out = Vec::with_capacity(bytes.len() + segment.len());
    out.extend_from_slice(&bytes[..2]);
    for (i, s) in header.segments.iter().enumerate() {
        if i == at {
            out.extend_from_slice(&segment);
        }
        if !is_xmp(s) {
            out.extend_from_slice(&bytes[s.start..s.end()]);
        }
    }
    if at >= header.segments.len() {
        out.extend_from_slice(&segment);
    }
    out.extend_from_slice(&bytes[header.first_sos..]);
    Ok(out)
}

fn splice_png(bytes: &[u8], packet: &str) -> Result<Vec<u8>> {
    let chunks = png::chunks(bytes)?;
    let chunk = png::chunk_bytes(b"iTXt", &itxt_xmp(packet))?;
    let mut is_xmp = Vec::with_capacity(chunks.len());
    for c in &chunks {
        is_xmp.push(&c.kind == b"iTXt" && parse_itxt_xmp(&bytes[c.data.clone()])?.is_some());
    }
    // In place of the old packet, else right after IHDR.
    let at = is_xmp.iter().position(|x| *x).unwrap_or(1);
    let mut out = Vec::with_capacity(bytes.len() + chunk.len());
    out.extend_from_slice(&png::SIGNATURE);
    for (i, c) in chunks.iter().enumerate() {
        if i == at {
            out.extend_from_slice(&chunk);
        }
        if !is_xmp[i] {
            out.extend_from_slice(&bytes[c.start..c.end()]);
        }
    }
    Ok(out)
}
