//! The last error a service noted, with its time, for the directory heartbeat
//! (`SiteHealth::last_error`, shown on the gateway's ops page).

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

/// An error in a few words and when it was noted.
pub type Noted = (String, DateTime<Utc>);

/// A shared holder of the last error (cheap to clone: all clones see the same one).
#[derive(Debug, Clone, Default)]
pub struct LastError(Arc<Mutex<Option<Noted>>>);

impl LastError {
    /// Notes `what` (a few words) as the last error, at `at`.
    pub fn note(&self, what: impl Into<String>, at: DateTime<Utc>) {
        // A poisoned lock only means a panic while writing two plain fields: keep going.
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *g = Some((what.into(), at));
    }

    /// The last error and when it was noted, if any.
    pub fn get(&self) -> Option<Noted> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_the_last_one() {
        let e = super::LastError::default();
        assert_eq!(e.get(), None);
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        e.note("first", at);
        e.clone().note("second", at);
        assert_eq!(e.get(), Some(("second".to_string(), at)));
    }
}
