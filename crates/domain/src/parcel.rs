//! The parcel's packing list code: what the lab prints on the packing list it puts in a
//! parcel for one delivery counter (Fig. 2 ④), as text in its QR code, and what the counter's
//! check-in takes in one scan: `REPRINT-PARCEL|<lab>|<counter>|<lab reception>,<lab reception>,...`.

/// The parcel a packing list names: which lab sent it to which counter, and the lab's
/// reception numbers inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackingCode {
    pub lab: String,
    pub counter: String,
    pub receptions: Vec<String>,
}

const PREFIX: &str = "REPRINT-PARCEL";

impl PackingCode {
    /// The code read back from a scan (surrounding blanks ignored); `None` when the text is
    /// not a packing list's code (a single label, say) or names no reception.
    pub fn parse(scanned: &str) -> Option<PackingCode> {
        let mut parts = scanned.trim().split('|');
        if parts.next()? != PREFIX {
            return None;
        }
        let lab = parts.next()?.trim();
        let counter = parts.next()?.trim();
        let receptions: Vec<String> = parts
            .next()?
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(String::from)
            .collect();
        if parts.next().is_some() || lab.is_empty() || counter.is_empty() || receptions.is_empty() {
            return None;
        }
        Some(PackingCode {
            lab: lab.to_string(),
            counter: counter.to_string(),
            receptions,
        })
    }
}

impl std::fmt::Display for PackingCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{PREFIX}|{}|{}|{}",
            self.lab,
            self.counter,
            self.receptions.join(",")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packing_list_code_reads_back_as_written() {
        let code = PackingCode {
            lab: "lab-a".into(),
            counter: "counter-ginza".into(),
            receptions: vec!["B0000001".into(), "B0000002".into()],
        };
        let text = code.to_string();
        assert_eq!(text, "REPRINT-PARCEL|lab-a|counter-ginza|B0000001,B0000002");
        assert_eq!(PackingCode::parse(&format!(" {text}\n")), Some(code));
    }

    #[test]
    fn a_single_label_or_a_broken_code_is_not_a_packing_list() {
        for text in [
            "B0000001",
            "X0000003",
            "REPRINT-PARCEL|lab-a|counter-ginza|",
            "REPRINT-PARCEL|lab-a|counter-ginza",
            "REPRINT-PARCEL||counter-ginza|B0000001",
            "REPRINT-PARCEL|lab-a|counter-ginza|B0000001|more",
            "",
        ] {
            assert_eq!(PackingCode::parse(text), None, "{text:?}");
        }
    }
}
