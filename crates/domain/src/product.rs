//! Products beyond one print per line (seed 000, claims 2 and 18): the **index print**, "a
//! product that uses the image for an end product" — the minilab's contact sheet of every image
//! of an order, each numbered as in the order's item list, as one print on L paper.
//!
//! An order asks for it as a line of size [`PrintSize::Index`] naming one of its images (its
//! quantity: how many sheets). It is priced in the price list as a size (`Index = 30`), checked
//! by the one order check as a size the lab prints, and charged by [`crate::determine_charge`]
//! exactly as a print: its own line at the list's price, reduced by the policy's discounts of
//! prints. Here: which images the sheet shows and their numbers ([`index_cells`]), and how they
//! are laid out ([`index_layout`]); the lab's production renders it through the print path
//! (`reprint_media::index_print`, `reprint_print`).

use crate::PrintSize;
use crate::id::ImageId;
use crate::protocol::PlacedItem;

/// One image on an index print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexCell {
    /// Its number: the place (from 1) of the first line of the order naming the image.
    pub number: u32,
    pub image: ImageId,
    pub name: String,
    /// The edits of that line (the sheet shows the image as ordered).
    pub edits: Option<String>,
}

/// Whether the order asks for an index print.
pub fn has_index_print(items: &[PlacedItem]) -> bool {
    items.iter().any(|i| i.size == PrintSize::Index)
}

/// The images an index print of `items` shows: every image of the order once, in the order of
/// the lines, numbered by the line that first names it (so the numbers are the order's own).
pub fn index_cells(items: &[PlacedItem]) -> Vec<IndexCell> {
    let mut cells: Vec<IndexCell> = Vec::new();
    for (place, item) in items.iter().enumerate() {
        if cells.iter().any(|c| c.image == item.image) {
            continue;
        }
        // An index line's edits are not the image's (it shows the image as its prints are).
        let edits = if item.size == PrintSize::Index {
            None
        } else {
            item.edits.clone()
        };
        cells.push(IndexCell {
            number: u32::try_from(place + 1).unwrap_or(u32::MAX),
            image: item.image,
            name: item.name.clone(),
            edits,
        });
    }
    // An image named only by the index line takes the edits of no print; one named by a print
    // line after the index line takes that line's edits.
    for cell in cells.iter_mut().filter(|c| c.edits.is_none()) {
        cell.edits = items
            .iter()
            .find(|i| i.image == cell.image && i.size != PrintSize::Index)
            .and_then(|i| i.edits.clone());
    }
    cells
}

/// The grid of an index print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexLayout {
    pub columns: u32,
    pub rows: u32,
}

impl IndexLayout {
    /// The cells the grid holds.
    pub fn capacity(&self) -> u32 {
        self.columns * self.rows
    }
}

/// The grid for `cells` images on a sheet of `width` x `height` (any unit): the number of
/// columns that gives each image the largest square cell (ties: fewer columns), all on one
/// sheet whatever their number.
pub fn index_layout(cells: u32, width: u32, height: u32) -> IndexLayout {
    let cells = cells.max(1);
    let mut best = IndexLayout {
        columns: 1,
        rows: cells,
    };
    let mut best_side = 0u32;
    for columns in 1..=cells {
        let rows = cells.div_ceil(columns);
        let side = (width / columns).min(height / rows);
        if side > best_side {
            best_side = side;
            best = IndexLayout { columns, rows };
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::UserFile;
    use crate::policy::AppliesTo;
    use crate::{Currency, LineKind, Money, SiteRules, determine_charge};
    use chrono::TimeZone;

    fn item(image: &[u8], size: PrintSize, edits: Option<&str>) -> PlacedItem {
        PlacedItem {
            image: ImageId::of_bytes(image),
            name: format!("{}.jpg", String::from_utf8_lossy(image)),
            size,
            quantity: 1,
            edits: edits.map(str::to_string),
            perceptual_hash: None,
            history: vec![],
        }
    }

    #[test]
    fn the_sheet_shows_every_image_once_numbered_as_in_the_order() {
        let items = vec![
            item(b"beach", PrintSize::L, None),
            item(b"temple", PrintSize::L, Some("{\"rotate\":90}")),
            item(b"beach", PrintSize::L2, None),
            item(b"beach", PrintSize::Index, None),
            item(b"harbour", PrintSize::L, None),
        ];
        assert!(has_index_print(&items));
        let cells = index_cells(&items);
        let got: Vec<(u32, &str)> = cells.iter().map(|c| (c.number, c.name.as_str())).collect();
        assert_eq!(
            got,
            vec![(1, "beach.jpg"), (2, "temple.jpg"), (5, "harbour.jpg")]
        );
        assert_eq!(cells[1].edits.as_deref(), Some("{\"rotate\":90}"));
        assert!(!has_index_print(&items[..3]));
    }

    #[test]
    fn an_image_first_named_by_the_index_line_takes_its_prints_edits() {
        let items = vec![
            item(b"beach", PrintSize::Index, Some("{\"rotate\":90}")),
            item(b"beach", PrintSize::L, Some("{\"rotate\":180}")),
        ];
        let cells = index_cells(&items);
        assert_eq!(cells.len(), 1);
        assert_eq!(cells[0].number, 1);
        assert_eq!(cells[0].edits.as_deref(), Some("{\"rotate\":180}"));
    }

    #[test]
    fn the_grid_gives_each_image_the_largest_cell_on_one_sheet() {
        // L at 300 dpi, portrait: 1051 x 1500.
        let grid = |n| {
            let l = index_layout(n, 1051, 1500);
            (l.columns, l.rows)
        };
        assert_eq!(grid(1), (1, 1));
        assert_eq!(grid(2), (1, 2));
        assert_eq!(grid(4), (2, 2));
        assert_eq!(grid(6), (2, 3));
        assert_eq!(grid(12), (3, 4));
        assert_eq!(grid(36), (5, 8));
        // The order check's most lines still fit one sheet.
        let most = index_layout(500, 1051, 1500);
        assert!(most.capacity() >= 500 && most.capacity() < 500 + most.columns);
    }

    #[test]
    fn the_index_print_is_charged_as_a_print_of_its_own_price_and_discounted_as_prints() {
        let mut rules = SiteRules::demo_lab(crate::SiteId::parse("lab-a").unwrap());
        let yen = |v| Money::new(v, Currency::JPY);
        rules.prices.prints.insert(PrintSize::Index, yen(50));
        let now = chrono::Utc.with_ymd_and_hms(2026, 12, 4, 3, 0, 0).unwrap();
        let placed = [
            item(b"beach", PrintSize::L, None),
            item(b"beach", PrintSize::Index, None),
        ];
        let items: Vec<_> = crate::protocol::order_items(&placed);
        let charge = determine_charge(&rules, &UserFile::default(), &items, &[], now).unwrap();
        let index = charge
            .lines
            .iter()
            .position(|l| {
                matches!(
                    l.kind,
                    LineKind::Prints {
                        size: PrintSize::Index,
                        ..
                    }
                )
            })
            .expect("an index print line");
        assert_eq!(charge.lines[index].amount, yen(50));
        assert!(
            charge.lines[index].description.contains("Index"),
            "{:?}",
            charge.lines[index]
        );
        assert_eq!(charge.total, yen(250 + 30 + 50));
        // A lab without a price for it refuses it as it refuses a size it does not sell.
        let mut without = SiteRules::demo_lab(crate::SiteId::parse("lab-a").unwrap());
        without.prices.prints.remove(&PrintSize::Index);
        assert!(determine_charge(&without, &UserFile::default(), &items, &[], now).is_err());
        // Discounted as prints: a policy whose discounts reduce prints reduces it too.
        rules.policy.applies_to = AppliesTo::Both;
        rules.policy.registered = Some(crate::Percent::new(10).unwrap());
        let file = crate::file::UserFile {
            user: Some(crate::file::UserIdArea {
                registration_number: crate::RegistrationNumber::foreign("A0000001"),
                name: "Hanako Yamada".into(),
                telephone: crate::Telephone::parse("03-1234-5678").unwrap(),
                address: None,
                email: None,
                registered_at: now - chrono::Duration::days(30),
            }),
            ..UserFile::default()
        };
        let charge = determine_charge(&rules, &file, &items, &[], now).unwrap();
        assert!(
            charge.lines.iter().any(|l| matches!(
                l.kind,
                LineKind::Discount { of, .. } if of == index
            ) && l.amount == yen(-5)),
            "{charge:#?}"
        );
    }
}
