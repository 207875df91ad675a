//! Print sizes, and the pixels a size needs at a printer's dpi.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::DomainError;

/// The print sizes reprint sells. Dimensions are short side x long side; a print is made in
/// whichever orientation the image has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum PrintSize {
    /// L, 89 x 127 mm (3.5 x 5 in): the everyday Japanese print.
    L,
    /// 2L, 127 x 178 mm.
    L2,
    /// KG, 102 x 152 mm.
    Kg,
    /// DSC, 89 x 119 mm (4:3, the digital camera's own aspect).
    Dsc,
    /// Hagaki postcard, 100 x 148 mm.
    Hagaki,
    /// Square, 89 x 89 mm.
    Square,
    /// 4 x 6 in.
    In4x6,
    /// 5 x 7 in.
    In5x7,
    /// 8 x 10 in.
    In8x10,
    /// The index print (seed 000, claims 2, 18: "a product that uses the image for an end
    /// product"): the minilab's contact sheet of every image of the order, numbered as in the
    /// order's item list, as one print on L paper ([`crate::product`]). Ordered, priced and
    /// charged as a print of its own size (a line naming one of the order's images); the sheet
    /// shows them all.
    Index,
}

impl PrintSize {
    pub const ALL: [PrintSize; 10] = [
        PrintSize::L,
        PrintSize::L2,
        PrintSize::Kg,
        PrintSize::Dsc,
        PrintSize::Hagaki,
        PrintSize::Square,
        PrintSize::In4x6,
        PrintSize::In5x7,
        PrintSize::In8x10,
        PrintSize::Index,
    ];

    /// The code used in price lists, APIs and job tickets.
    pub fn code(&self) -> &'static str {
        match self {
            PrintSize::L => "L",
            PrintSize::L2 => "2L",
            PrintSize::Kg => "KG",
            PrintSize::Dsc => "DSC",
            PrintSize::Hagaki => "Hagaki",
            PrintSize::Square => "Square",
            PrintSize::In4x6 => "4x6",
            PrintSize::In5x7 => "5x7",
            PrintSize::In8x10 => "8x10",
            PrintSize::Index => "Index",
        }
    }

    /// Accepts the code, case-insensitively.
    pub fn parse(s: &str) -> Result<PrintSize, DomainError> {
        PrintSize::ALL
            .into_iter()
            .find(|p| p.code().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                let known: Vec<&str> = PrintSize::ALL.iter().map(|p| p.code()).collect();
                DomainError::invalid("print size", s, &format!("one of {}", known.join(", ")))
            })
    }

    /// Short side and long side in micrometres (exact for both metric and inch sizes).
    pub fn micrometres(&self) -> (u32, u32) {
        const IN: u32 = 25_400;
        match self {
            PrintSize::L => (89_000, 127_000),
            PrintSize::L2 => (127_000, 178_000),
            PrintSize::Kg => (102_000, 152_000),
            PrintSize::Dsc => (89_000, 119_000),
            PrintSize::Hagaki => (100_000, 148_000),
            PrintSize::Square => (89_000, 89_000),
            PrintSize::In4x6 => (4 * IN, 6 * IN),
            PrintSize::In5x7 => (5 * IN, 7 * IN),
            PrintSize::In8x10 => (8 * IN, 10 * IN),
            // On L paper.
            PrintSize::Index => (89_000, 127_000),
        }
    }

    /// Short side and long side in millimetres, for people (`89 x 127 mm`).
    pub fn millimetres(&self) -> (f64, f64) {
        let (s, l) = self.micrometres();
        (f64::from(s) / 1000.0, f64::from(l) / 1000.0)
    }

    /// Pixels (short side, long side) a print of this size needs at `dpi`, rounded to the
    /// nearest pixel: an L print at 300 dpi needs 1051 x 1500.
    pub fn pixels_at(&self, dpi: u32) -> (u32, u32) {
        let (s, l) = self.micrometres();
        let px = |um: u32| ((u64::from(um) * u64::from(dpi) + 12_700) / 25_400) as u32;
        (px(s), px(l))
    }

    /// Whether an image of `width` x `height` pixels has enough for this size at `dpi`
    /// (in either orientation).
    pub fn has_enough_pixels(&self, width: u32, height: u32, dpi: u32) -> bool {
        if *self == PrintSize::Index {
            // A thumbnail on the sheet: any image has enough.
            return width > 0 && height > 0;
        }
        let (need_s, need_l) = self.pixels_at(dpi);
        let (s, l) = if width <= height {
            (width, height)
        } else {
            (height, width)
        };
        s >= need_s && l >= need_l
    }
}

impl fmt::Display for PrintSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl TryFrom<String> for PrintSize {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        PrintSize::parse(&s)
    }
}

impl From<PrintSize> for String {
    fn from(p: PrintSize) -> String {
        p.code().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixels_needed_at_a_dpi() {
        assert_eq!(PrintSize::L.pixels_at(300), (1051, 1500));
        assert_eq!(PrintSize::In4x6.pixels_at(300), (1200, 1800));
        assert_eq!(PrintSize::In8x10.pixels_at(300), (2400, 3000));
        assert_eq!(PrintSize::Square.pixels_at(300), (1051, 1051));
        assert_eq!(PrintSize::L2.millimetres(), (127.0, 178.0));
    }

    #[test]
    fn enough_pixels_in_either_orientation() {
        assert!(PrintSize::L.has_enough_pixels(1500, 1051, 300));
        assert!(PrintSize::L.has_enough_pixels(1051, 1500, 300));
        assert!(!PrintSize::L.has_enough_pixels(1000, 1500, 300));
    }

    #[test]
    fn codes_round_trip_and_unknown_is_named() {
        for p in PrintSize::ALL {
            assert_eq!(PrintSize::parse(p.code()).unwrap(), p);
        }
        assert_eq!(PrintSize::parse("2l").unwrap(), PrintSize::L2);
        let err = PrintSize::parse("A4").unwrap_err().to_string();
        assert!(err.contains("A4") && err.contains("Hagaki"), "{err}");
    }
}
