//! A service's clock: the system's, or one a test pins. Every time a service records is read
//! here, at the edge, and passed into the domain (which never reads a clock). Cheap to clone:
//! every clone reads and moves the same time.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Default)]
pub struct Clock(Arc<Mutex<Option<DateTime<Utc>>>>);

impl Clock {
    /// The pinned time, else the system's.
    pub fn now(&self) -> DateTime<Utc> {
        match self.0.lock() {
            Ok(g) => g.unwrap_or_else(Utc::now),
            Err(_) => Utc::now(),
        }
    }

    /// Milliseconds since the Unix epoch of [`Clock::now`].
    pub fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }

    /// Pins the clock (tests).
    pub fn set(&self, at: DateTime<Utc>) {
        if let Ok(mut g) = self.0.lock() {
            *g = Some(at);
        }
    }

    /// Moves a pinned clock on (tests); pins it at now + `by` when it was not pinned.
    pub fn advance(&self, by: Duration) {
        if let Ok(mut g) = self.0.lock() {
            *g = Some(g.unwrap_or_else(Utc::now) + by);
        }
    }

    /// Lets the clock follow the system's time again.
    pub fn unpin(&self) {
        if let Ok(mut g) = self.0.lock() {
            *g = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_clock_stays_and_moves_only_when_told() {
        let c = Clock::default();
        let at = DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        c.set(at);
        let other = c.clone();
        assert_eq!(other.now(), at);
        other.advance(Duration::days(7));
        assert_eq!(c.now(), at + Duration::days(7));
        c.unpin();
        let gap = (c.now() - Utc::now()).num_seconds().abs();
        assert!(
            gap < 5,
            "unpinned, it follows the system's time ({gap} s off)"
        );
    }
}
