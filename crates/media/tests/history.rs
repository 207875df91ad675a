//! Print history in the image (XMP in JPEG and PNG) and beside it (ZIP container).

use std::io::Cursor;

use chrono::NaiveDate;
use reprint_media::history::container::{self, HISTORY_FILE};
use reprint_media::history::xmp;
use reprint_media::{Limits, MediaError, PrintHistory, PrintRecord, synthetic, validate};

fn record(site: &str, reception: &str, day: u32) -> PrintRecord {
    PrintRecord {
        site: site.into(),
        registration_number: "B0000456".into(),
        reception_number: reception.into(),
        date: NaiveDate::from_ymd_opt(2026, 11, day).unwrap(),
    }
}

fn history(n: u32) -> PrintHistory {
    let mut h = PrintHistory::new();
    for i in 0..n {
        h.push(record("LAB-1", &format!("R{:07}", 1000 + i), 1 + i))
            .unwrap();
    }
    h
}

/// Offset of the first SOS marker, walking segments by their lengths.
fn first_sos(jpeg: &[u8]) -> usize {
    let mut pos = 2;
    loop {
        assert_eq!(jpeg[pos], 0xFF);
        let m = jpeg[pos + 1];
        if m == 0xDA {
            return pos;
        }
        let len = u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]) as usize;
        pos += 2 + len;
    }
}

fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let mut s = vec![0xFF, marker];
    s.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    s.extend_from_slice(payload);
    s
}

/// A minimal Exif block: IFD0 with Make = "Canon" and Orientation = 1.
fn exif_payload() -> Vec<u8> {
    let mut t = b"Exif\0\0II*\0\x08\0\0\0".to_vec();
    t.extend_from_slice(&2u16.to_le_bytes());
    // Make, ASCII, 6 bytes at offset 38
    t.extend_from_slice(&0x010Fu16.to_le_bytes());
    t.extend_from_slice(&2u16.to_le_bytes());
    t.extend_from_slice(&6u32.to_le_bytes());
    t.extend_from_slice(&38u32.to_le_bytes());
    // Orientation, SHORT, 1
    t.extend_from_slice(&0x0112u16.to_le_bytes());
    t.extend_from_slice(&3u16.to_le_bytes());
    t.extend_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes());
    t.extend_from_slice(b"Canon\0");
    t
}

const CAMERA_XMP: &str = r#"<?xpacket begin="﻿" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Camera XMP Core">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:tiff="http://ns.adobe.com/tiff/1.0/" xmp:CreatorTool="Canon EOS R5 Firmware 1.8.1" xmp:Rating="3">
   <tiff:Make>Canon</tiff:Make>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"#;

/// A camera-style JPEG: SOI, APP1 Exif, APP1 XMP, then the encoder's own segments.
fn camera_jpeg() -> Vec<u8> {
    let plain = synthetic::jpeg(&synthetic::photo(11, 320, 240), 88).unwrap();
    let mut out = plain[..2].to_vec();
    out.extend(segment(0xE1, &exif_payload()));
    let mut xmp_payload = xmp::JPEG_XMP_SIGNATURE.to_vec();
    xmp_payload.extend_from_slice(CAMERA_XMP.as_bytes());
    out.extend(segment(0xE1, &xmp_payload));
    out.extend_from_slice(&plain[2..]);
    out
}

fn pixels(bytes: &[u8]) -> Vec<u8> {
    validate::decode(bytes, &Limits::default())
        .unwrap()
        .1
        .into_bytes()
}

#[test]
fn jpeg_round_trip_keeps_pixels_and_scan_data() {
    let original = synthetic::jpeg(&synthetic::photo(1, 320, 240), 90).unwrap();
    assert!(xmp::read_history(&original).unwrap().is_empty());
    let h = history(2);
    let written = xmp::write_history(&original, &h).unwrap();
    assert_eq!(xmp::read_history(&written).unwrap(), h);
    // Entropy-coded data and everything after it: byte for byte.
    assert_eq!(
        &written[first_sos(&written)..],
        &original[first_sos(&original)..]
    );
    assert_eq!(pixels(&written), pixels(&original));
    validate::inspect(&written, &Limits::default()).unwrap();
}

#[test]
fn jpeg_append_keeps_earlier_entries() {
    let original = synthetic::jpeg(&synthetic::photo(2, 200, 150), 85).unwrap();
    let once = xmp::append_record(&original, record("LAB-1", "R0001000", 3)).unwrap();
    let twice = xmp::append_record(&once, record("CTR-7", "X0001004", 20)).unwrap();
    let again = xmp::append_record(&twice, record("CTR-7", "X0001004", 20)).unwrap();
    let h = xmp::read_history(&again).unwrap();
    assert_eq!(
        h.entries.len(),
        2,
        "a retried append does not double the entry"
    );
    assert_eq!(h.entries[0].site, "LAB-1");
    assert_eq!(h.last_at("CTR-7").unwrap().reception_number, "X0001004");
    assert!(h.last_at("LAB-9").is_none());
    // Only one XMP segment, not one per write.
    let packet = xmp::read_packet(&again).unwrap().unwrap();
    assert_eq!(packet.matches("History>").count(), 2, "{packet}");
}

#[test]
fn camera_xmp_and_exif_are_kept() {
    let camera = camera_jpeg();
    let written = xmp::write_history(&camera, &history(1)).unwrap();
    let rewritten = xmp::write_history(&written, &history(3)).unwrap();
    let packet = xmp::read_packet(&rewritten).unwrap().unwrap();
    assert!(packet.contains("Canon EOS R5 Firmware 1.8.1"), "{packet}");
    assert!(packet.contains("<tiff:Make>Canon</tiff:Make>"), "{packet}");
    assert_eq!(packet.matches(xmp::NAMESPACE).count(), 1, "{packet}");
    assert_eq!(xmp::read_history(&rewritten).unwrap(), history(3));
    // Exif still first after SOI, XMP segment right after it.
    assert_eq!(&rewritten[2..4], &[0xFF, 0xE1]);
    assert_eq!(&rewritten[6..12], b"Exif\0\0");
    assert_eq!(
        &rewritten[first_sos(&rewritten)..],
        &camera[first_sos(&camera)..]
    );
    assert_eq!(pixels(&rewritten), pixels(&camera));
}

#[test]
fn broken_camera_xmp_is_replaced() {
    let plain = synthetic::jpeg(&synthetic::photo(4, 64, 48), 80).unwrap();
    let mut payload = xmp::JPEG_XMP_SIGNATURE.to_vec();
    payload.extend_from_slice(b"<x:xmpmeta><rdf:RDF>not closed");
    let mut bad = plain[..2].to_vec();
    bad.extend(segment(0xE1, &payload));
    bad.extend_from_slice(&plain[2..]);
    assert!(matches!(
        xmp::read_history(&bad),
        Err(MediaError::History(_))
    ));
    let fixed = xmp::write_history(&bad, &history(1)).unwrap();
    assert_eq!(xmp::read_history(&fixed).unwrap(), history(1));
}

#[test]
fn text_is_escaped_and_attribute_form_is_read() {
    let mut h = PrintHistory::new();
    h.push(PrintRecord {
        site: "Lab <A&B> \"east\"".into(),
        registration_number: "B'1".into(),
        reception_number: "R1".into(),
        date: NaiveDate::from_ymd_opt(2027, 1, 31).unwrap(),
    })
    .unwrap();
    let packet = xmp::packet_with_history(None, &h).unwrap();
    assert_eq!(xmp::history_from_packet(&packet).unwrap(), h);

    let attr_form = format!(
        r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
        <rdf:Description rdf:about="" xmlns:h="{}"><h:History><rdf:Seq>
        <rdf:li h:site="S&amp;1" h:registrationNumber="B1" h:receptionNumber="R9" h:date="2026-02-03"/>
        <rdf:li><rdf:Description h:site="S2" h:registrationNumber="B2" h:receptionNumber="R10" h:date="2026-02-04"/></rdf:li>
        </rdf:Seq></h:History></rdf:Description></rdf:RDF></x:xmpmeta>"#,
        xmp::NAMESPACE
    );
    let h = xmp::history_from_packet(&attr_form).unwrap();
    assert_eq!(h.entries.len(), 2);
    assert_eq!(h.entries[0].site, "S&1");
    assert_eq!(h.entries[1].reception_number, "R10");

    let bad_date = attr_form.replace("2026-02-03", "03/02/2026");
    assert!(matches!(
        xmp::history_from_packet(&bad_date),
        Err(MediaError::History(m)) if m.contains("YYYY-MM-DD")
    ));
}

/// PNG chunk types in order.
fn chunk_types(png: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut pos = 8;
    let mut out = Vec::new();
    while pos + 8 <= png.len() {
        let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = String::from_utf8_lossy(&png[pos + 4..pos + 8]).into_owned();
        let data = png[pos + 8..pos + 8 + len].to_vec();
        let crc = u32::from_be_bytes(png[pos + 8 + len..pos + 12 + len].try_into().unwrap());
        assert_eq!(crc, crc32(&png[pos + 4..pos + 8 + len]), "CRC of {kind}");
        out.push((kind, data));
        pos += 12 + len;
    }
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn png_round_trip_keeps_pixels_and_idat() {
    let original = synthetic::png(&synthetic::photo(5, 300, 200)).unwrap();
    let h = history(2);
    let written = xmp::write_history(&original, &h).unwrap();
    assert_eq!(xmp::read_history(&written).unwrap(), h);
    let appended = xmp::append_record(&written, record("CTR-2", "X1", 28)).unwrap();
    assert_eq!(xmp::read_history(&appended).unwrap().entries.len(), 3);
    let before = chunk_types(&original);
    let after = chunk_types(&appended);
    let idat = |c: &[(String, Vec<u8>)]| {
        c.iter()
            .filter(|(k, _)| k == "IDAT")
            .map(|(_, d)| d.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(idat(&before), idat(&after));
    assert_eq!(after[0].0, "IHDR");
    assert_eq!(after[1].0, "iTXt");
    assert_eq!(after.iter().filter(|(k, _)| k == "iTXt").count(), 1);
    assert_eq!(pixels(&appended), pixels(&original));
}

#[test]
fn png_compressed_xmp_is_read() {
    use std::io::Write;
    let original = synthetic::png(&synthetic::photo(6, 40, 30)).unwrap();
    let packet = xmp::packet_with_history(None, &history(1)).unwrap();
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(packet.as_bytes()).unwrap();
    let mut data = b"XML:com.adobe.xmp\0\x01\0\0\0".to_vec();
    data.extend(z.finish().unwrap());
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(b"iTXt");
    chunk.extend_from_slice(&data);
    let crc = crc32(&chunk[4..]);
    chunk.extend_from_slice(&crc.to_be_bytes());
    let mut png = original[..33].to_vec();
    png.extend(chunk);
    png.extend_from_slice(&original[33..]);
    assert_eq!(xmp::read_history(&png).unwrap(), history(1));
    // Rewriting replaces the compressed chunk with one plain one.
    let rewritten = xmp::write_history(&png, &history(2)).unwrap();
    assert_eq!(
        chunk_types(&rewritten)
            .iter()
            .filter(|(k, _)| k == "iTXt")
            .count(),
        1
    );
    assert_eq!(xmp::read_history(&rewritten).unwrap(), history(2));
}

#[test]
fn xmp_too_large_for_jpeg_is_an_error() {
    let original = synthetic::jpeg(&synthetic::photo(7, 32, 32), 80).unwrap();
    let h = history(1);
    let mut big = h.clone();
    for i in 0..400 {
        big.push(record(
            &format!("SITE-{i:04}"),
            &format!("R{i}"),
            1 + i % 28,
        ))
        .unwrap();
    }
    assert!(matches!(
        xmp::write_history(&original, &big),
        Err(MediaError::XmpTooLarge(_))
    ));
}

#[test]
fn zip_container_round_trip() {
    let image = synthetic::jpeg(&synthetic::photo(8, 120, 90), 85).unwrap();
    let h = history(2);
    let bytes = container::container_bytes("IMG_0001.JPG", &image, &h).unwrap();
    let c = container::read_container(Cursor::new(&bytes), &Limits::default()).unwrap();
    assert_eq!(c.image, image);
    assert_eq!(c.image_name, "IMG_0001.JPG");
    assert_eq!(c.history, h);

    let mut zip = zip::ZipArchive::new(Cursor::new(&bytes)).unwrap();
    assert_eq!(
        zip.by_name("IMG_0001.JPG").unwrap().compression(),
        zip::CompressionMethod::Stored
    );
    let json: serde_json::Value =
        serde_json::from_reader(zip.by_name(HISTORY_FILE).unwrap()).unwrap();
    assert_eq!(json["history"][0]["date"], "2026-11-01");
    assert_eq!(json["history"][1]["reception_number"], "R0001001");

    // The stored image sits in the archive byte for byte (not deflated).
    assert!(bytes.windows(image.len()).any(|w| w == image.as_slice()));
}

#[test]
fn zip_container_refuses_mismatch_and_missing_history() {
    let image = synthetic::png(&synthetic::photo(9, 30, 20)).unwrap();
    let other = synthetic::png(&synthetic::photo(10, 30, 20)).unwrap();
    // history.json of one image beside another image under the same name.
    let good = container::container_bytes("a.png", &image, &history(1)).unwrap();
    let mut zip = zip::ZipArchive::new(Cursor::new(&good)).unwrap();
    let mut json = Vec::new();
    std::io::Read::read_to_end(&mut zip.by_name(HISTORY_FILE).unwrap(), &mut json).unwrap();
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    w.start_file("a.png", opts).unwrap();
    std::io::Write::write_all(&mut w, &other).unwrap();
    w.start_file(HISTORY_FILE, opts).unwrap();
    std::io::Write::write_all(&mut w, &json).unwrap();
    let forged = w.finish().unwrap().into_inner();
    let err = container::read_container(Cursor::new(&forged), &Limits::default()).unwrap_err();
    assert!(err.to_string().contains("belongs to image"), "{err}");

    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file("a.png", opts).unwrap();
    std::io::Write::write_all(&mut w, &image).unwrap();
    let bare = w.finish().unwrap().into_inner();
    let err = container::read_container(Cursor::new(&bare), &Limits::default()).unwrap_err();
    assert!(err.to_string().contains("no history.json"), "{err}");

    assert!(container::read_container(Cursor::new(b"PK not a zip"), &Limits::default()).is_err());
    assert!(container::container_bytes("../x.jpg", &image, &history(1)).is_err());
}
