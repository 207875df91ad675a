//! Print history carried with the image (seed 004, the last two methods): written into the
//! image as an XMP packet ([`xmp`]) or kept beside it in a ZIP container ([`container`]). Either
//! way the next site reads it back into its charge check (Fig. 10, steps S704-S709).

pub mod container;
pub mod digital_copy;
pub mod xmp;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::{MediaError, Result};

/// One earlier print order of this image: where (site), for whom (registration number), which
/// order (reception number) and when (the site's local date).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PrintRecord {
    /// Site id of the lab or counter that took the order.
    pub site: String,
    /// The customer's registration number at that site.
    pub registration_number: String,
    /// The reception number of the order at that site.
    pub reception_number: String,
    /// The date of the order, "YYYY-MM-DD".
    pub date: NaiveDate,
}

/// Longest accepted text field of a record.
const MAX_FIELD: usize = 128;

impl PrintRecord {
    /// Checks the text fields: non-empty, at most 128 characters, no control characters.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("site", &self.site),
            ("registration number", &self.registration_number),
            ("reception number", &self.reception_number),
        ] {
            if v.trim().is_empty() {
                return Err(MediaError::History(format!("{name} is empty")));
            }
            if v.chars().count() > MAX_FIELD {
                return Err(MediaError::History(format!(
                    "{name} is longer than {MAX_FIELD} characters"
                )));
            }
            if v.chars().any(char::is_control) {
                return Err(MediaError::History(format!(
                    "{name} contains control characters"
                )));
            }
        }
        Ok(())
    }
}

/// All earlier prints of one image, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PrintHistory {
    /// The records in order of addition.
    pub entries: Vec<PrintRecord>,
}

impl PrintHistory {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when the image was never printed (as far as it tells).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds a record (validated). Adding the same record twice is a no-op, so a retried
    /// write does not double an entry.
    pub fn push(&mut self, record: PrintRecord) -> Result<()> {
        record.validate()?;
        if !self.entries.contains(&record) {
            self.entries.push(record);
        }
        Ok(())
    }

    /// The latest print at `site` (Fig. 10, step S706: the previous order at the same lab or
    /// counter).
    pub fn last_at(&self, site: &str) -> Option<&PrintRecord> {
        self.entries
            .iter()
            .filter(|r| r.site == site)
            .max_by_key(|r| r.date)
    }

    /// Validates every record.
    pub fn validate(&self) -> Result<()> {
        self.entries.iter().try_for_each(PrintRecord::validate)
    }
}
