//! A counter with its own printer prints an internet order itself (seed 004: "if the printer is
//! installed at the handling counter, the print can be handed to the user earlier by utilizing
//! it"; Figs. 8 and 9, items (4) and (5): "if the counter has the printing facility ... the time
//! of start and finish of receiving the data from laboratory are recorded").
//!
//! Two rules, decided purely:
//!
//! - [`where_to_print`]: whether the lab sends an order's print data to its delivery counter
//!   instead of printing it and shipping a parcel. Only an internet order (a walk-in order's
//!   counter sent the images itself, and chose the lab to print them), only to a counter that
//!   announces its own printer in the site directory, is not stale there and prints every size
//!   of the order, and only when the lab allows it.
//! - [`print_data_charge`]: what the lab charges for print data it did not print. **Its charge
//!   as determined at reception, unchanged**: the basic charge and each print line at the
//!   lab's price list, with the discounts the lab gave (Figs. 7 and 10). The customer was quoted
//!   that charge (and the lab's slip shows it) before anybody knew where the prints would be
//!   made, so they pay the same whichever printer makes them; the paper and the printer at the
//!   counter are the counter's part, paid by its own charge (the seed's basic charge is "split
//!   by the laboratory and the counter fifty-fifty"). So the amount due at the counter, the
//!   counter's statement of the lab's share and both ledgers work as for a parcel. Each print
//!   line says where it was printed, so the counter's file and the statement read truthfully.
//!
//! The message the lab sends is [`PrintDataSent`] (`counter.<counter>.printdata.sent`): the
//! delivery as a parcel would carry it (the lab's file extract, the customer, the counter's
//! registration number from the sender) plus the order's items by reference (image hashes in
//! the object store, sizes, quantities, edits) and the lab's print-history record.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::charge::{Charge, ChargeLine, LineKind};
use crate::file::Route;
use crate::protocol::{DeliveryDispatched, PlacedItem};
use crate::{OrderId, PrintSize};

/// The lab sends the print data of an internet order to the delivery counter, which prints it
/// with its own printer (instead of a parcel: [`DeliveryDispatched`] is inside, unchanged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrintDataSent {
    /// What a parcel's dispatch would say: the lab's file extract (its reception and charge,
    /// see [`print_data_charge`]), the customer, the counter's registration number.
    pub delivery: DeliveryDispatched,
    /// The prints to make: each image by reference (its SHA-256 in the object store), size,
    /// quantity and edits, without the images the lab's operator left out.
    pub items: Vec<PlacedItem>,
    /// The lab's print-history entry to embed in each print (XMP): the prints are the lab's
    /// product, so its reception and registration numbers are written, on the lab's calendar.
    pub history: LabHistoryRecord,
}

impl PrintDataSent {
    pub fn order(&self) -> OrderId {
        self.delivery.order
    }
}

/// The lab's entry in an image's print history (as `reprint_media::PrintRecord`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabHistoryRecord {
    pub site: String,
    pub registration_number: String,
    pub reception_number: String,
    pub date: NaiveDate,
}

/// A delivery counter's printer as the site directory announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnouncedPrinter {
    /// The sizes it prints.
    pub sizes: Vec<PrintSize>,
    /// Whether the counter's last heartbeat is too old (it is probably offline).
    pub stale: bool,
}

/// Where an order's prints are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrintAt {
    /// At the lab, and shipped as a parcel; the reason in words (for the log).
    Lab(String),
    /// At the delivery counter, from the print data the lab sends.
    Counter,
}

/// Whether the lab sends the print data to the delivery counter (see the module's docs).
/// `sizes`: the sizes of the order's prints still to make.
pub fn where_to_print(
    route: Route,
    sizes: &[PrintSize],
    printer: Option<&AnnouncedPrinter>,
    lab_allows: bool,
) -> PrintAt {
    if route != Route::Internet {
        return PrintAt::Lab("a walk-in order is printed by the lab its counter chose".into());
    }
    if !lab_allows {
        return PrintAt::Lab("this lab prints every order itself".into());
    }
    let Some(printer) = printer else {
        return PrintAt::Lab("the delivery counter announces no printer".into());
    };
    if printer.stale {
        return PrintAt::Lab("the delivery counter has not been heard from lately".into());
    }
    if sizes.is_empty() {
        return PrintAt::Lab("nothing to print".into());
    }
    if let Some(missing) = sizes.iter().find(|s| !printer.sizes.contains(s)) {
        return PrintAt::Lab(format!(
            "the delivery counter's printer does not print {missing}"
        ));
    }
    PrintAt::Counter
}

/// What the lab charges for print data it did not print: its charge as determined at
/// reception, unchanged in every amount (see the module's docs for why); each print line says
/// the prints were made at `counter` from the lab's data.
pub fn print_data_charge(lab_charge: &Charge, counter: &str) -> Charge {
    let lines = lab_charge
        .lines
        .iter()
        .map(|line| match line.kind {
            LineKind::Prints { .. } => ChargeLine {
                kind: line.kind.clone(),
                description: format!(
                    "{} (printed at {counter} from the lab's data)",
                    line.description
                ),
                amount: line.amount,
            },
            _ => line.clone(),
        })
        .collect();
    Charge {
        lines,
        total: lab_charge.total,
    }
}

/// The print data's arrival at the counter, as its console says it: "received as data at
/// 10:02-10:03" (local times, `HH:MM`).
pub fn received_as_data_words(
    start: DateTime<Utc>,
    finish: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> String {
    let s = start.with_timezone(&tz).format("%H:%M");
    let f = finish.with_timezone(&tz).format("%H:%M");
    format!("received as data at {s}-{f}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ImageId, Money, SiteRules, UserFile, determine_charge};
    use chrono::TimeZone;

    fn printer(sizes: &[PrintSize]) -> AnnouncedPrinter {
        AnnouncedPrinter {
            sizes: sizes.to_vec(),
            stale: false,
        }
    }

    #[test]
    fn an_internet_order_goes_to_a_counter_whose_printer_prints_every_size() {
        let p = printer(&[PrintSize::L, PrintSize::L2]);
        assert_eq!(
            where_to_print(Route::Internet, &[PrintSize::L], Some(&p), true),
            PrintAt::Counter
        );
        assert_eq!(
            where_to_print(
                Route::Internet,
                &[PrintSize::L, PrintSize::L2],
                Some(&p),
                true
            ),
            PrintAt::Counter
        );
    }

    #[test]
    fn otherwise_the_lab_prints_and_says_why() {
        let p = printer(&[PrintSize::L]);
        let why = |at: PrintAt| match at {
            PrintAt::Lab(w) => w,
            PrintAt::Counter => panic!("sent to the counter"),
        };
        assert!(
            why(where_to_print(
                Route::CounterMedium,
                &[PrintSize::L],
                Some(&p),
                true
            ))
            .contains("walk-in")
        );
        assert!(
            why(where_to_print(
                Route::Internet,
                &[PrintSize::L],
                Some(&p),
                false
            ))
            .contains("itself")
        );
        assert!(
            why(where_to_print(Route::Internet, &[PrintSize::L], None, true))
                .contains("no printer")
        );
        let stale = AnnouncedPrinter {
            stale: true,
            ..p.clone()
        };
        assert!(
            why(where_to_print(
                Route::Internet,
                &[PrintSize::L],
                Some(&stale),
                true
            ))
            .contains("lately")
        );
        assert!(
            why(where_to_print(
                Route::Internet,
                &[PrintSize::L, PrintSize::L2],
                Some(&p),
                true
            ))
            .contains("2L")
        );
        assert!(why(where_to_print(Route::Internet, &[], Some(&p), true)).contains("nothing"));
    }

    fn lab_rules() -> SiteRules {
        SiteRules::from_toml(
            r#"
site = "lab-a"
kind = "lab"
time_zone = "Asia/Tokyo"
currency = "JPY"
registration_number = { prefix = "A", width = 7 }
reception_number = { prefix = "B", width = 7 }
[prices]
basic_charge = 250
prints = { L = 30, "2L" = 80 }
[policy]
anchor = "previous"
[[policy.tiers]]
within_days = 7
percent = 100
"#,
        )
        .unwrap()
    }

    #[test]
    fn the_lab_charges_print_data_as_the_prints_it_quoted() {
        let rules = lab_rules();
        let items = vec![
            crate::OrderItem {
                image: ImageId::of_bytes(b"one"),
                name: "one.jpg".into(),
                size: PrintSize::L,
                quantity: 2,
            },
            crate::OrderItem {
                image: ImageId::of_bytes(b"two"),
                name: "two.jpg".into(),
                size: PrintSize::L2,
                quantity: 1,
            },
        ];
        let at = Utc.with_ymd_and_hms(2026, 11, 18, 1, 0, 0).unwrap();
        let charge = determine_charge(&rules, &UserFile::default(), &items, &[], at).unwrap();
        // Fig. 7's first order: 250 + 2 x 30 + 80.
        assert_eq!(charge.total, Money::new(390, rules.currency));
        let data = print_data_charge(&charge, "Ginza mini-lab");
        assert_eq!(data.total, charge.total);
        assert_eq!(data.lines.len(), charge.lines.len());
        let amounts: Vec<_> = data.lines.iter().map(|l| l.amount).collect();
        let quoted: Vec<_> = charge.lines.iter().map(|l| l.amount).collect();
        assert_eq!(amounts, quoted);
        let prints: Vec<_> = data
            .lines
            .iter()
            .filter(|l| matches!(l.kind, LineKind::Prints { .. }))
            .collect();
        assert_eq!(prints.len(), 2);
        assert!(
            prints
                .iter()
                .all(|l| l.description.contains("printed at Ginza mini-lab"))
        );
        // The basic charge line is the lab's as it was.
        assert_eq!(data.basic_charge(), Money::new(250, rules.currency));
    }

    #[test]
    fn the_console_says_when_the_data_came_in_local_time() {
        let start = Utc.with_ymd_and_hms(2026, 11, 18, 1, 2, 5).unwrap();
        let finish = Utc.with_ymd_and_hms(2026, 11, 18, 1, 3, 40).unwrap();
        assert_eq!(
            received_as_data_words(start, finish, chrono_tz::Asia::Tokyo),
            "received as data at 10:02-10:03"
        );
    }
}
