//! The last error a service noted, with its time, for the directory heartbeat
//! (`SiteHealth::last_error`, shown on the gateway's ops page).
//!
//! The source: the last ERROR-level tracing event of the process ([`ErrorLayer`], installed by
//! `telemetry::init`) — a message parked for good by a consumer, a part of the service that
//! stopped — noted into the process's [`global`] holder, which [`crate::metrics::Metrics`]
//! sends with each heartbeat. (Several services in one test process share it.)

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

/// The process's holder (the one [`ErrorLayer`] writes to).
pub fn global() -> LastError {
    static GLOBAL: std::sync::OnceLock<LastError> = std::sync::OnceLock::new();
    GLOBAL.get_or_init(LastError::default).clone()
}

/// Notes every ERROR-level event into [`global`]: its message and fields, at most 300 chars.
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorLayer;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ErrorLayer {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if *event.metadata().level() != tracing::Level::ERROR {
            return;
        }
        let mut words = Words::default();
        event.record(&mut words);
        let text: String = words.0.chars().take(300).collect();
        global().note(text, Utc::now());
    }
}

/// The event's message first, then `field: value` pairs.
#[derive(Default)]
struct Words(String);

impl Words {
    fn push(&mut self, name: &str, value: &str) {
        if name == "message" {
            self.0 = if self.0.is_empty() {
                value.to_string()
            } else {
                format!("{value} ({})", self.0)
            };
        } else {
            if !self.0.is_empty() {
                self.0.push_str(", ");
            }
            self.0.push_str(&format!("{name}: {value}"));
        }
    }
}

impl tracing::field::Visit for Words {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.push(field.name(), value);
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.push(field.name(), &format!("{value:?}"));
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

    #[test]
    fn an_error_event_is_noted_with_its_fields() {
        use tracing_subscriber::layer::SubscriberExt;
        let subscriber = tracing_subscriber::registry().with(super::ErrorLayer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!("not this one");
            tracing::error!(consumer = "lab-inbox", "a message parked");
        });
        let (what, _) = super::global().get().unwrap();
        assert_eq!(what, "a message parked, consumer: lab-inbox");
    }
}
