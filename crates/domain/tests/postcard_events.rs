//! The event store keeps payloads as postcard, which is not self-describing: every event of the
//! user file and the sequences must round-trip through it exactly.

mod common;

use common::*;
use reprint_domain::file;
use reprint_domain::*;

#[test]
fn user_file_events_round_trip_through_postcard() {
    let mut lab =
        Given::new(SiteRules::demo_lab(site("lab-a"))).registered(tokyo(2026, 11, 18, 10, 0));
    lab.order(tokyo(2026, 11, 18, 10, 0), vec![item(1, PrintSize::L, 2)]);
    let cmd = lab.open_command(
        tokyo(2026, 11, 19, 10, 0),
        vec![item(1, PrintSize::L, 1)],
        vec![],
    );
    let mut events = file::decide(&lab.file, cmd).unwrap();
    let number = lab.file.receptions[0].number.clone();
    events.push(file::Event::Collected {
        number: number.clone(),
        at: tokyo(2026, 11, 20, 10, 0),
    });
    events.push(file::Event::ReceptionCancelled {
        number,
        reason: "x".into(),
        at: tokyo(2026, 11, 20, 10, 0),
    });
    for e in &events {
        let bytes = postcard::to_stdvec(e).unwrap();
        let back: file::Event = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(&back, e);
    }
    let state_bytes = postcard::to_stdvec(&lab.file).unwrap();
    assert_eq!(
        postcard::from_bytes::<UserFile>(&state_bytes).unwrap(),
        lab.file,
        "snapshots of a file too"
    );
}
