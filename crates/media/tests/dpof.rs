//! DPOF: AUTPRINT.MRK in the shapes cameras write, broken ones, the hot-folder ticket, and
//! random and mutated input that must never panic.

use proptest::prelude::*;
use reprint_media::MediaError;
use reprint_media::dpof::{self, HotFolderTicket, PrintType, TicketItem};

/// Canon style: CRLF, bracketed IMG SRC, a date-imprint config line.
const CANON: &str = "[HDR]\r\nGEN REV = 01.10\r\nGEN CRT = \"Canon PowerShot G7 X\" -01.00\r\nGEN DTM = 2026:11:18:10:21:34\r\n\r\n[JOB]\r\nPRT PID = 001\r\nPRT TYP = STD\r\nPRT QTY = 001\r\nIMG FMT = EXIF2 -J\r\n<IMG SRC = \"../DCIM/100CANON/IMG_0001.JPG\">\r\nCFG DSC = \"100-0001\" -ATR DTM\r\n\r\n[JOB]\r\nPRT PID = 002\r\nPRT TYP = STD\r\nPRT QTY = 003\r\nIMG FMT = EXIF2 -J\r\n<IMG SRC = \"../DCIM/100CANON/IMG_0007.JPG\">\r\n";

/// Nikon style: LF, user fields, an index print with several sources.
const NIKON: &str = "[HDR]
GEN REV = 01.00
GEN CRT = \"NIKON DIGITAL CAMERA E990\" -01.00
GEN DTM = 1999:09:20:15:32:30
USR NAM = \"Taro Nikon\"
USR TEL = \"03-1234-5678\"

[JOB]
PRT PID = 001
PRT TYP = STD
PRT QTY = 002
IMG FMT = EXIF2 -J
<IMG SRC = \"../DCIM/100NIKON/DSCN0001.JPG\">

[JOB]
PRT PID = 002
PRT TYP = IDX
IMG FMT = EXIF2 -J
<IMG SRC = \"../DCIM/100NIKON/DSCN0001.JPG\">
<IMG SRC = \"../DCIM/100NIKON/DSCN0002.JPG\">
<IMG SRC = \"../DCIM/100NIKON/DSCN0003.JPG\">
";

/// Olympus style: vendor blocks in the header and in a job, an unknown vendor section,
/// unbracketed IMG SRC, a size print with attributes, a DOS end-of-file mark.
const OLYMPUS: &str = "[HDR]\r\nGEN REV = 01.00\r\nGEN CRT = \"OLYMPUS DIGITAL CAMERA\" -01.00\r\nGEN DTM = 2003:04:01:09:00:00\r\nVUQ RGN = BGN\r\nVUQ VNM = \"OLYMPUS\" -ATR \"OLYMPUS OPTICAL CO.,LTD.\"\r\nVUQ VER = 01.00\r\nPRT RSL = 200\r\nVUQ RGN = END\r\n\r\n[VND OLY]\r\nWHATEVER = 1\r\nno equals sign here\r\n\r\n[JOB]\r\nPRT PID = 001\r\nPRT TYP = SIZ -SIZ 2x3\r\nPRT QTY = 001\r\nIMG FMT = JFIF\r\nIMG SRC = \"../DCIM/100OLYMP/P1010001.JPG\"\r\nVUQ RGN = BGN\r\nVUQ VNM = \"OLYMPUS\"\r\nPRT TRM = 0 0 100 100\r\nVUQ RGN = END\r\nXYZ ABC = unknown key\r\n\x1a";

#[test]
fn canon_sample() {
    let d = dpof::parse(CANON.as_bytes()).unwrap();
    assert_eq!(d.header.revision, "01.10");
    assert_eq!(d.header.creator.as_deref(), Some("Canon PowerShot G7 X"));
    assert_eq!(d.header.created.as_deref(), Some("2026:11:18:10:21:34"));
    assert_eq!(d.jobs.len(), 2);
    assert_eq!(d.jobs[0].print_type, PrintType::Standard);
    assert_eq!(d.jobs[0].image_format.as_deref(), Some("EXIF2 -J"));
    assert_eq!(d.jobs[1].quantity, 3);
    assert_eq!(d.jobs[1].pid, Some(2));
    assert_eq!(
        d.jobs[1].resolved_sources().unwrap(),
        vec!["DCIM/100CANON/IMG_0007.JPG"]
    );
}

#[test]
fn nikon_sample_with_index_print() {
    let d = dpof::parse(NIKON.as_bytes()).unwrap();
    assert_eq!(d.header.user_name.as_deref(), Some("Taro Nikon"));
    assert_eq!(d.header.user_phone.as_deref(), Some("03-1234-5678"));
    assert_eq!(d.jobs[0].quantity, 2);
    assert_eq!(d.jobs[1].print_type, PrintType::Index);
    assert_eq!(d.jobs[1].quantity, 1);
    assert_eq!(d.jobs[1].sources.len(), 3);
    assert_eq!(d.jobs[1].line, 15);
}

#[test]
fn olympus_sample_with_vendor_blocks() {
    let d = dpof::parse(OLYMPUS.as_bytes()).unwrap();
    assert_eq!(d.jobs.len(), 1);
    assert_eq!(d.jobs[0].print_type, PrintType::Size);
    assert_eq!(d.jobs[0].type_attributes, vec!["-SIZ", "2x3"]);
    assert_eq!(d.jobs[0].image_format.as_deref(), Some("JFIF"));
    assert_eq!(d.jobs[0].sources, vec!["../DCIM/100OLYMP/P1010001.JPG"]);
}

fn err_line(text: &str) -> (usize, String) {
    match dpof::parse(text.as_bytes()) {
        Err(MediaError::Dpof { line, message }) => (line, message),
        other => panic!("expected a DPOF error, got {other:?}"),
    }
}

#[test]
fn broken_files_name_the_line() {
    // Truncated mid-job, inside the IMG SRC line.
    let cut = &CANON[..CANON.find("IMG_0007").unwrap()];
    let (line, msg) = err_line(cut);
    assert_eq!(line, 19, "{msg}");
    assert!(msg.contains("truncated"), "{msg}");

    // Truncated after PRT QTY: the job has no IMG SRC.
    let cut = &NIKON[..NIKON
        .find("IMG FMT = EXIF2 -J\n<IMG SRC = \"../DCIM/100NIKON/DSCN0001")
        .unwrap()];
    let (line, msg) = err_line(cut);
    assert_eq!((line, msg.as_str()), (8, "job has no IMG SRC"));

    // Missing IMG SRC in a complete job.
    let no_src = CANON.replace("<IMG SRC = \"../DCIM/100CANON/IMG_0001.JPG\">\r\n", "");
    assert_eq!(err_line(&no_src), (6, "job has no IMG SRC".into()));

    // Bad quantities.
    let (line, msg) = err_line(&CANON.replace("PRT QTY = 003", "PRT QTY = 0"));
    assert_eq!(line, 17);
    assert!(msg.contains("outside 1..=999"), "{msg}");
    let (line, msg) = err_line(&CANON.replace("PRT QTY = 003", "PRT QTY = three"));
    assert_eq!(line, 17);
    assert!(msg.contains("not a number"), "{msg}");
    let (line, _) = err_line(&CANON.replace("PRT QTY = 003", "PRT QTY = -1"));
    assert_eq!(line, 17);

    // Unclosed vendor block, missing header, job before header, missing revision, no '='.
    let (line, msg) = err_line(&OLYMPUS.replace("VUQ RGN = END\r\nXYZ", "XYZ"));
    assert_eq!(line, 21, "{msg}");
    assert_eq!(err_line("[JOB]\nPRT TYP = STD\n").0, 1);
    assert_eq!(err_line("").0, 1);
    assert_eq!(err_line("[HDR]\nGEN CRT = \"x\"\n").0, 1);
    let (line, msg) = err_line(&NIKON.replace("PRT TYP = STD", "PRT TYP STD"));
    assert_eq!(line, 10);
    assert!(msg.contains("KEY = value"), "{msg}");
}

#[test]
fn sources_may_not_leave_the_medium() {
    let evil = CANON.replace("../DCIM/100CANON/IMG_0001.JPG", "../../../etc/passwd");
    let d = dpof::parse(evil.as_bytes()).unwrap();
    assert!(d.jobs[0].resolved_sources().is_err());
    let abs = CANON.replace("../DCIM/100CANON/IMG_0001.JPG", "/etc/passwd");
    assert!(
        dpof::parse(abs.as_bytes()).unwrap().jobs[0]
            .resolved_sources()
            .is_err()
    );
}

#[test]
fn ticket_round_trip() {
    let ticket = HotFolderTicket {
        creator: "reprint LAB-1".into(),
        created: chrono::NaiveDate::from_ymd_opt(2026, 11, 18)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap(),
        order: "B0001004".into(),
        items: vec![
            TicketItem {
                file: "PRINTS/B0001004-01.JPG".into(),
                quantity: 2,
            },
            TicketItem {
                file: "PRINTS/B0001004-02.JPG".into(),
                quantity: 1,
            },
        ],
    };
    let text = dpof::write_ticket(&ticket).unwrap();
    assert!(text.contains("\r\nPRT QTY = 002\r\n"), "{text}");
    assert!(!text.replace("\r\n", "").contains('\n'));
    let d = dpof::parse(text.as_bytes()).unwrap();
    assert_eq!(d.header.user_name.as_deref(), Some("B0001004"));
    assert_eq!(d.header.created.as_deref(), Some("2026:11:18:10:00:00"));
    let got: Vec<(String, u32)> = d
        .jobs
        .iter()
        .map(|j| (j.resolved_sources().unwrap()[0].clone(), j.quantity))
        .collect();
    let want: Vec<(String, u32)> = ticket
        .items
        .iter()
        .map(|i| (i.file.clone(), i.quantity))
        .collect();
    assert_eq!(got, want);

    let mut bad = ticket.clone();
    bad.items[0].quantity = 1000;
    assert!(dpof::write_ticket(&bad).is_err());
    bad.items[0].quantity = 1;
    bad.items[0].file = "../x.jpg".into();
    assert!(dpof::write_ticket(&bad).is_err());
    bad.items[0].file = "a\".jpg".into();
    assert!(dpof::write_ticket(&bad).is_err());
}

fn samples() -> Vec<&'static [u8]> {
    vec![CANON.as_bytes(), NIKON.as_bytes(), OLYMPUS.as_bytes()]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = dpof::parse(&bytes);
    }

    #[test]
    fn mutated_samples_never_panic(
        which in 0usize..3,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..4), 1..12),
    ) {
        let mut bytes = samples()[which].to_vec();
        for (at, byte, op) in edits {
            if bytes.is_empty() { break; }
            let at = at % bytes.len();
            match op {
                0 => bytes[at] = byte,
                1 => { bytes.remove(at); }
                2 => bytes.insert(at, byte),
                _ => bytes.truncate(at),
            }
        }
        if let Ok(d) = dpof::parse(&bytes) {
            for j in &d.jobs {
                prop_assert!(!j.sources.is_empty());
                prop_assert!((1..=999).contains(&j.quantity));
                let _ = j.resolved_sources();
            }
        }
    }
}
