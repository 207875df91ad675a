//! The one order check (flows.md step 2), used at every door: the gateway at quote and at
//! submit, the counter at intake, the lab on receipt. What it refuses, it refuses in the same
//! words everywhere, so a home user hears at once what the lab would have said seconds later.
//!
//! An order is refused when it has no prints or more than [`MAX_LINES`] lines; when a quantity
//! is not 1 to 999; when the lab has no price or printer for a size; when an edit list does not
//! parse or is not valid for a picture (rotation by 90, 180 or 270; a crop inside the picture);
//! when the customer's name is empty, too long or holds control characters, or the telephone is
//! not a telephone number; when an image's name holds control characters; when it asks for
//! more than one index print.
//!
//! The index print ([`PrintSize::Index`], `crate::product`) is one sheet of every image of the
//! order, so it is a line of the order, not of an image: at most one line of size `Index` per
//! order, naming any one of the order's images (which image does not change the sheet), with
//! no edits (the sheet shows each image as its prints are), its quantity the number of sheets
//! (1 to 999 like any line). An order may be the index print alone.
//!
//! What only the lab can know (its currency, its delivery counters, the images in the object
//! store) it checks itself after this; the refusal codes are the protocol's [`RejectCode`].

use crate::edit::EditList;
use crate::error::{Refusal, Refuses};
use crate::file::{Telephone, tidy_name};
use crate::protocol::{Customer, OrderPlaced, PlacedItem, RejectCode};
use crate::size::PrintSize;

/// Most lines (image and size) in one order.
pub const MAX_LINES: usize = 500;
/// Most prints of one image at one size.
pub const MAX_QUANTITY: u32 = 999;
/// Longest customer name, in characters.
pub const MAX_NAME: usize = 200;

/// Why an order cannot be taken. Each message names what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("an order needs at least one print")]
    NoPrints,
    #[error("an order has at most {MAX_LINES} lines, this one has {count}")]
    TooManyLines { count: usize },
    #[error("{quantity} x {size} of {name}: a quantity is 1 to {MAX_QUANTITY}")]
    BadQuantity {
        name: String,
        size: PrintSize,
        quantity: u32,
    },
    #[error("this lab does not print size {size} (asked for {name})")]
    UnknownSize { name: String, size: PrintSize },
    #[error("edits of {name}: {reason}")]
    BadEdits { name: String, reason: String },
    #[error("the customer's name must be 1 to {MAX_NAME} characters without control characters")]
    BadName,
    #[error("the customer's telephone: {0}")]
    BadTelephone(String),
    #[error("the image name {name:?} holds control characters")]
    BadImageName { name: String },
    #[error(
        "an order has one index print (one sheet of all its photos), this one asks for {count}: ask for more sheets as its quantity"
    )]
    IndexPrintTwice { count: usize },
    #[error("the index print shows the photos as they are printed, so it takes no edits")]
    IndexPrintEdited,
    /// A source colour profile the lab does not know (not a well-known name, not an RGB ICC
    /// profile), for an image not in the order, or given twice
    /// ([`crate::protocol::check_source_profiles`]'s words).
    #[error("{0}")]
    BadSourceProfile(String),
}

impl OrderError {
    /// The protocol's code for this refusal (what a lab sends back in `OrderRejected`).
    pub fn code(&self) -> RejectCode {
        match self {
            OrderError::UnknownSize { .. } => RejectCode::UnknownSize,
            _ => RejectCode::InvalidOrder,
        }
    }
}

impl Refuses for OrderError {
    fn refusal(&self) -> Refusal {
        Refusal::Invalid
    }
}

/// What a lab prints, as the door knows it: its announced sizes (the gateway and the counter
/// read them from the site directory), or its own price list and printers (the lab).
pub trait PrintsSizes {
    fn prints(&self, size: PrintSize) -> bool;
}

impl PrintsSizes for [PrintSize] {
    fn prints(&self, size: PrintSize) -> bool {
        self.contains(&size)
    }
}

impl PrintsSizes for Vec<PrintSize> {
    fn prints(&self, size: PrintSize) -> bool {
        self.contains(&size)
    }
}

impl<F: Fn(PrintSize) -> bool> PrintsSizes for F {
    fn prints(&self, size: PrintSize) -> bool {
        self(size)
    }
}

/// The customer as an order names them: a tidy name and a telephone.
pub fn check_customer(customer: &Customer) -> Result<(String, Telephone), OrderError> {
    let name = tidy_name(&customer.name);
    if name.is_empty()
        || name.chars().count() > MAX_NAME
        || customer.name.chars().any(char::is_control)
    {
        return Err(OrderError::BadName);
    }
    if customer.telephone.chars().any(char::is_control) {
        return Err(OrderError::BadTelephone(
            "it holds control characters".into(),
        ));
    }
    let telephone = Telephone::parse(&customer.telephone)
        .map_err(|e| OrderError::BadTelephone(e.to_string()))?;
    Ok((name, telephone))
}

/// The lines of an order: at least one, at most [`MAX_LINES`], each with a quantity of 1 to
/// 999 of a size the lab prints, an edit list valid for a picture, a name without control
/// characters. Returns each line's parsed edits (in the order of `items`).
pub fn check_items(
    items: &[PlacedItem],
    lab: &(impl PrintsSizes + ?Sized),
) -> Result<Vec<EditList>, OrderError> {
    if items.is_empty() {
        return Err(OrderError::NoPrints);
    }
    if items.len() > MAX_LINES {
        return Err(OrderError::TooManyLines { count: items.len() });
    }
    let index_lines = items.iter().filter(|i| i.size == PrintSize::Index).count();
    if index_lines > 1 {
        return Err(OrderError::IndexPrintTwice { count: index_lines });
    }
    let mut edits = Vec::with_capacity(items.len());
    for item in items {
        if item.size == PrintSize::Index && item.edits.as_deref().is_some_and(has_edits) {
            return Err(OrderError::IndexPrintEdited);
        }
        if item.name.chars().any(char::is_control) {
            return Err(OrderError::BadImageName {
                name: item.name.clone(),
            });
        }
        if item.quantity == 0 || item.quantity > MAX_QUANTITY {
            return Err(OrderError::BadQuantity {
                name: item.name.clone(),
                size: item.size,
                quantity: item.quantity,
            });
        }
        if !lab.prints(item.size) {
            return Err(OrderError::UnknownSize {
                name: item.name.clone(),
                size: item.size,
            });
        }
        edits.push(match &item.edits {
            None => EditList::default(),
            Some(json) => EditList::parse(json).map_err(|e| OrderError::BadEdits {
                name: item.name.clone(),
                reason: e.0,
            })?,
        });
    }
    Ok(edits)
}

/// Whether an edit list (JSON) asks for any edit: `null` and `[]` do not.
fn has_edits(json: &str) -> bool {
    !matches!(json.trim(), "" | "null" | "[]")
}

/// The whole check: the customer, then the lines.
pub fn check_order(
    customer: &Customer,
    items: &[PlacedItem],
    lab: &(impl PrintsSizes + ?Sized),
) -> Result<(), OrderError> {
    check_customer(customer)?;
    check_items(items, lab)?;
    Ok(())
}

/// The check of an order as it arrives at a lab (`OrderPlaced`): [`check_order`], then its
/// source colour profiles ([`crate::protocol::check_source_profiles`]: each a well-known name
/// or an RGB ICC profile within the sizes, for an image of the order, once), which the gateway
/// checked at its door and a lab checks again, since anybody may send it an order.
pub fn check_placed(
    order: &OrderPlaced,
    lab: &(impl PrintsSizes + ?Sized),
) -> Result<(), OrderError> {
    check_order(&order.customer, &order.items, lab)?;
    crate::protocol::check_source_profiles(&order.source_profiles, &order.items)
        .map_err(OrderError::BadSourceProfile)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ImageId;

    fn hanako() -> Customer {
        Customer {
            name: "Hanako Yamada".into(),
            telephone: "090-1234-5678".into(),
            address: None,
            email: None,
            registration_number: None,
        }
    }

    fn item(size: &str, quantity: u32, edits: Option<&str>) -> PlacedItem {
        PlacedItem {
            image: ImageId::of_bytes(b"photo"),
            name: "IMG_0001.JPG".into(),
            size: PrintSize::parse(size).unwrap(),
            quantity,
            edits: edits.map(str::to_string),
            perceptual_hash: None,
            history: vec![],
        }
    }

    fn lab() -> Vec<PrintSize> {
        vec![
            PrintSize::parse("L").unwrap(),
            PrintSize::parse("2L").unwrap(),
        ]
    }

    #[test]
    fn an_order_of_l_prints_for_a_named_customer_is_taken() {
        let edits =
            r#"[{"op":"rotate","degrees":90},{"op":"crop","x":0.1,"y":0,"width":0.9,"height":1}]"#;
        assert_eq!(
            check_order(
                &hanako(),
                &[item("L", 2, Some(edits)), item("2L", 999, None)],
                &lab()
            ),
            Ok(())
        );
    }

    #[test]
    fn a_rotation_of_45_degrees_is_refused_in_the_words_of_every_door() {
        let e = check_order(
            &hanako(),
            &[item("L", 1, Some(r#"[{"op":"rotate","degrees":45}]"#))],
            &lab(),
        )
        .unwrap_err();
        assert_eq!(e.code(), RejectCode::InvalidOrder);
        assert_eq!(
            e.to_string(),
            "edits of IMG_0001.JPG: rotation must be 90, 180 or 270, not 45"
        );
    }

    #[test]
    fn a_crop_past_the_picture_is_refused() {
        let e = check_order(
            &hanako(),
            &[item(
                "L",
                1,
                Some(r#"[{"op":"crop","x":0.5,"y":0,"width":0.6,"height":1}]"#),
            )],
            &lab(),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("crop reaches past the picture's edge"),
            "{e}"
        );
    }

    #[test]
    fn quantities_are_1_to_999() {
        for q in [0, 1000] {
            let e = check_order(&hanako(), &[item("L", q, None)], &lab()).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("{q} x L of IMG_0001.JPG: a quantity is 1 to 999")
            );
        }
    }

    #[test]
    fn a_size_the_lab_does_not_print_is_refused_with_its_code() {
        let e = check_order(&hanako(), &[item("KG", 1, None)], &lab()).unwrap_err();
        assert_eq!(e.code(), RejectCode::UnknownSize);
        assert_eq!(
            e.to_string(),
            "this lab does not print size KG (asked for IMG_0001.JPG)"
        );
    }

    #[test]
    fn an_empty_order_and_an_endless_one_are_refused() {
        assert_eq!(
            check_order(&hanako(), &[], &lab()),
            Err(OrderError::NoPrints)
        );
        let many = vec![item("L", 1, None); MAX_LINES + 1];
        assert_eq!(
            check_order(&hanako(), &many, &lab()),
            Err(OrderError::TooManyLines { count: 501 })
        );
    }

    #[test]
    fn names_and_telephones_with_control_characters_are_refused() {
        let mut c = hanako();
        c.name = "Hanako\u{7}".into();
        assert_eq!(check_customer(&c), Err(OrderError::BadName));
        c.name = "   ".into();
        assert_eq!(check_customer(&c), Err(OrderError::BadName));
        let mut c = hanako();
        c.telephone = "090\n1234".into();
        assert!(matches!(
            check_customer(&c),
            Err(OrderError::BadTelephone(_))
        ));
        c.telephone = "12".into();
        assert!(matches!(
            check_customer(&c),
            Err(OrderError::BadTelephone(_))
        ));
        let mut i = item("L", 1, None);
        i.name = "a\u{1b}[31m.jpg".into();
        assert!(matches!(
            check_order(&hanako(), &[i], &lab()),
            Err(OrderError::BadImageName { .. })
        ));
    }

    #[test]
    fn an_order_has_at_most_one_index_print_without_edits() {
        let lab = vec![PrintSize::L, PrintSize::Index];
        let mut index = item("Index", 2, None);
        // One index line (two sheets) with prints, or alone: taken.
        assert_eq!(
            check_order(&hanako(), &[item("L", 1, None), index.clone()], &lab),
            Ok(())
        );
        assert_eq!(check_order(&hanako(), &[index.clone()], &lab), Ok(()));
        // An index line per image: refused, in words that say what to do instead.
        let mut other = index.clone();
        other.image = ImageId::of_bytes(b"another photo");
        let e = check_order(&hanako(), &[index.clone(), other], &lab).unwrap_err();
        assert_eq!(e, OrderError::IndexPrintTwice { count: 2 });
        assert_eq!(e.code(), RejectCode::InvalidOrder);
        assert!(
            e.to_string()
                .contains("ask for more sheets as its quantity"),
            "{e}"
        );
        // Edits on the sheet: refused; an empty list is no edit.
        index.edits = Some(r#"[{"op":"rotate","degrees":90}]"#.into());
        assert_eq!(
            check_order(&hanako(), &[index.clone()], &lab),
            Err(OrderError::IndexPrintEdited)
        );
        index.edits = Some("[]".into());
        assert_eq!(check_order(&hanako(), &[index], &lab), Ok(()));
    }

    #[test]
    fn a_lab_refuses_a_source_profile_it_does_not_know_in_words() {
        use crate::protocol::{ImageProfile, SourceProfile};
        let json = serde_json::json!({
            "order": "01936a1e-7b2c-7d3e-8f40-123456789abc", "route": "internet",
            "sender": {"kind": "gateway", "id": "gw-1"}, "lab": "lab-a", "delivery_counter": "counter-x",
            "placed_at": "2026-12-05T03:00:00Z", "data_receive": null, "currency": "JPY",
            "customer": {"name": "Hanako Yamada", "telephone": "090-1234-5678",
                "address": null, "email": null, "registration_number": null},
            "items": [], "counter_extract": null
        });
        let mut order: OrderPlaced = serde_json::from_value(json).unwrap();
        order.items = vec![item("L", 1, None)];
        let image = order.items[0].image;
        order.source_profiles = vec![ImageProfile {
            image,
            profile: SourceProfile::Named("Adobe RGB (1998)".into()),
        }];
        assert_eq!(check_placed(&order, &lab()), Ok(()));
        order.source_profiles[0].profile = SourceProfile::Named("Kodachrome".into());
        let e = check_placed(&order, &lab()).unwrap_err();
        assert_eq!(e.code(), RejectCode::InvalidOrder);
        assert!(
            e.to_string()
                .starts_with("source profile 1: unknown colour profile \"Kodachrome\""),
            "{e}"
        );
        order.source_profiles[0].image = ImageId::of_bytes(b"not in the order");
        order.source_profiles[0].profile = SourceProfile::Named("sRGB".into());
        assert!(
            check_placed(&order, &lab())
                .unwrap_err()
                .to_string()
                .contains("is not in the order")
        );
    }

    #[test]
    fn a_lab_may_answer_by_its_own_rule() {
        let only_l = |s: PrintSize| s.code() == "L";
        assert_eq!(
            check_order(&hanako(), &[item("L", 1, None)], &only_l),
            Ok(())
        );
        assert!(check_order(&hanako(), &[item("2L", 1, None)], &only_l).is_err());
    }
}
