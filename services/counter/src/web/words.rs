//! What the terminal says instead of codes: an order's state, a payment method, a print size,
//! a charge's lines, a refusal; times in a message in the counter's local time.

use chrono::{DateTime, NaiveDateTime, Utc};
use maud::{Markup, html};
use reprint_domain::charge::LineKind;
use reprint_domain::counter_order::{CounterOrderError, CounterOrderState};
use reprint_domain::payment::PaymentError;
use reprint_domain::{Charge, OrderItem};

use super::Viewer;
use crate::error::CounterError;

/// An order's state at the counter in words.
pub fn state(viewer: &Viewer, word: &str) -> String {
    match CounterOrderState::parse(word) {
        Some(s) => viewer.t(&format!("counter-state-{}", s.as_str())),
        None => word.to_string(),
    }
}

/// A payment method in words.
pub fn method(viewer: &Viewer, method: &str) -> String {
    match method {
        "cash" | "card" | "e-money" | "qr" => viewer.t(&format!("counter-method-{method}")),
        other => other.to_string(),
    }
}

/// A print size in words (`L (89 × 127 mm)`).
pub fn size(viewer: &Viewer, code: &str) -> String {
    let key = format!("counter-size-{code}");
    let words = viewer.t(&key);
    if words == key || words.is_empty() {
        code.to_string()
    } else {
        words
    }
}

/// The items of an order: image, size in words, prints.
pub fn items_table(viewer: &Viewer, items: &[OrderItem]) -> Markup {
    html! {
        table.items {
            thead { tr {
                th scope="col" { (viewer.t("counter-item-image")) }
                th scope="col" { (viewer.t("counter-item-size")) }
                th.n scope="col" { (viewer.t("counter-item-prints")) }
            } }
            tbody {
                @for i in items {
                    tr {
                        td { (i.name) }
                        td { (size(viewer, i.size.code())) }
                        td.n { (i.quantity) }
                    }
                }
            }
        }
    }
}

/// The number of prints of an order.
pub fn print_count(items: &[OrderItem]) -> u64 {
    items.iter().map(|i| u64::from(i.quantity)).sum()
}

/// One line of a charge in words.
pub fn line(viewer: &Viewer, charge: &Charge, index: usize) -> String {
    let what = |i: usize| match charge.lines.get(i).map(|l| &l.kind) {
        Some(LineKind::BasicCharge) => viewer.t("counter-line-basic"),
        Some(LineKind::Prints {
            size: s, quantity, ..
        }) => viewer.tw(
            "counter-line-prints",
            &[
                ("size", size(viewer, s.code()).into()),
                ("count", (*quantity).into()),
            ],
        ),
        Some(LineKind::DigitalCopy) => {
            match charge
                .lines
                .get(i)
                .and_then(reprint_domain::digital_media::medium_of_line)
            {
                Some(m) => viewer.t(&format!("counter-line-medium-{}", m.code())),
                None => viewer.t("counter-line-digital-copy"),
            }
        }
        // Every kind named: a new kind of line must get its words here, not a blank.
        Some(LineKind::Discount { .. }) | None => String::new(),
    };
    match charge.lines.get(index).map(|l| &l.kind) {
        Some(LineKind::Discount { of, percent }) if percent.get() == 100 => {
            viewer.tw("counter-line-waived", &[("what", what(*of).into())])
        }
        Some(LineKind::Discount { of, percent }) => viewer.tw(
            "counter-line-discount",
            &[
                ("what", what(*of).into()),
                ("percent", percent.get().into()),
            ],
        ),
        _ => what(index),
    }
}

/// A charge's lines and its total, under `heading`.
pub fn charge_rows(viewer: &Viewer, heading: &str, charge: &Charge) -> Markup {
    html! {
        tr { th colspan="2" scope="rowgroup" { (heading) } }
        @for (i, l) in charge.lines.iter().enumerate() {
            tr {
                td { (line(viewer, charge, i)) }
                td.n { (viewer.money(l.amount)) }
            }
        }
    }
}

/// Why an order was withdrawn, in words: one of the counter's own cancel reasons in the
/// viewer's language, or the lab's reason without the code the counter stored with it
/// (`rejected by <lab> (<Code>): <reason>` -> `<reason>`).
pub fn withdrawn_reason(viewer: &Viewer, said: &str) -> String {
    if let Some(i) = crate::pickup::CANCEL_REASONS
        .iter()
        .position(|r| *r == said)
    {
        return viewer.t(&format!("counter-cancel-reason-{i}"));
    }
    said.strip_prefix("rejected by ")
        .and_then(|rest| rest.split_once(": ").map(|(_, r)| r.to_string()))
        .unwrap_or_else(|| said.to_string())
}

/// A refusal's heading in words.
pub fn problem_title(viewer: &Viewer, e: &CounterError) -> String {
    let key = match e {
        CounterError::Invalid(_) | CounterError::Domain(_) => "counter-problem-invalid",
        CounterError::Medium(_) => "counter-problem-medium",
        CounterError::Order(_) => "counter-problem-order",
        CounterError::NotFound(_) => "counter-problem-not-found",
        CounterError::ForeignSlip(_) => "counter-problem-foreign",
        CounterError::Refused(_) | CounterError::Conflict(_) => "counter-problem-refused",
        CounterError::Unauthorized(_) => "counter-problem-unauthorized",
        CounterError::Forbidden(_) => "counter-problem-expired",
        CounterError::TooManyRequests(_) => "counter-problem-too-many",
        CounterError::Store(s) if s.is_retryable() => "counter-problem-busy",
        _ => "counter-problem-ours",
    };
    viewer.t(key)
}

/// A refusal's detail: in the viewer's words where the terminal knows the refusal, else the
/// counter's sentence with its times in local time (no UTC, no nanoseconds).
pub fn problem_detail(viewer: &Viewer, e: &CounterError) -> String {
    match e {
        CounterError::Refused(r) => refusal(viewer, r),
        CounterError::Unauthorized(_) => viewer.t("counter-problem-unauthorized-detail"),
        CounterError::Forbidden(_) => viewer.t("counter-problem-expired-detail"),
        CounterError::Store(s) if s.is_retryable() => viewer.t("counter-problem-busy-detail"),
        CounterError::Store(_) | CounterError::Io(_) | CounterError::Internal(_) => {
            viewer.t("counter-problem-ours-detail")
        }
        other => local_times(viewer, &other.problem().detail),
    }
}

/// The counter's order refusing a step, in words.
pub fn refusal(viewer: &Viewer, e: &CounterOrderError) -> String {
    let (key, s) = match e {
        CounterOrderError::NotArrived { state } => ("counter-refused-not-arrived", Some(*state)),
        CounterOrderError::AlreadyCollected => ("counter-refused-collected", None),
        CounterOrderError::Withdrawn { state, .. } => ("counter-refused-withdrawn", Some(*state)),
        CounterOrderError::TooLateToCancel { state } => ("counter-refused-too-late", Some(*state)),
        CounterOrderError::ReasonNeeded => ("counter-refused-reason", None),
        _ => ("counter-refused-other", None),
    };
    viewer.tw(
        key,
        &[(
            "state",
            s.map(|s| state(viewer, s.as_str()))
                .unwrap_or_default()
                .into(),
        )],
    )
}

/// A payment the till refuses, in words.
pub fn payment(viewer: &Viewer, e: &PaymentError) -> String {
    match e {
        PaymentError::TooLittle { tendered, due } => viewer.tw(
            "counter-pay-too-little",
            &[
                ("tendered", viewer.money(*tendered).into()),
                ("due", viewer.money(*due).into()),
            ],
        ),
        PaymentError::TooMuch {
            tendered,
            due,
            most,
        } => viewer.tw(
            "counter-pay-too-much",
            &[
                ("tendered", viewer.money(*tendered).into()),
                ("due", viewer.money(*due).into()),
                ("most", viewer.money(*most).into()),
            ],
        ),
        PaymentError::NotExact { method: m, due, .. } => viewer.tw(
            "counter-pay-not-exact",
            &[
                ("method", method(viewer, m).into()),
                ("due", viewer.money(*due).into()),
            ],
        ),
    }
}

/// `text` with every moment written as `2026-12-04 08:03:59.123456789 UTC` or
/// `2026-12-04T08:03:59Z` (what a refusal may carry) in the counter's local time, to the minute.
pub fn local_times(viewer: &Viewer, text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if let Some((at, len)) = moment_at(&text[i..]) {
            out.push_str(&viewer.time(at));
            i += len;
        } else {
            let c = text[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// A UTC moment at the start of `s` and its length in bytes.
fn moment_at(s: &str) -> Option<(DateTime<Utc>, usize)> {
    let b = s.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let shape = (0..4).all(digit)
        && b.get(4) == Some(&b'-')
        && digit(5)
        && digit(6)
        && b.get(7) == Some(&b'-')
        && digit(8)
        && digit(9)
        && matches!(b.get(10), Some(b' ') | Some(b'T'))
        && digit(11)
        && digit(12)
        && b.get(13) == Some(&b':')
        && digit(14)
        && digit(15);
    if !shape {
        return None;
    }
    let mut end = 16;
    if b.get(16) == Some(&b':') && digit(17) && digit(18) {
        end = 19;
        if b.get(19) == Some(&b'.') {
            end = 20;
            while digit(end) {
                end += 1;
            }
        }
    }
    let naive = NaiveDateTime::parse_from_str(&s[..16].replace('T', " "), "%Y-%m-%d %H:%M").ok()?;
    let mut len = end;
    for suffix in [" UTC", "Z", "+00:00"] {
        if s[end..].starts_with(suffix) {
            len = end + suffix.len();
            break;
        }
    }
    if len == end {
        return None; // no zone: not a moment we can place
    }
    Some((naive.and_utc(), len))
}

/// The digital copy on a medium of an order and where its writer's job stands, in words:
/// "On a USB stick: written for the writer (X0000001-usb_stick)".
pub fn medium_job(viewer: &Viewer, job: &crate::writer::JobRow) -> String {
    let medium = job
        .medium()
        .map(|m| viewer.t(&format!("counter-medium-{}", m.code())))
        .unwrap_or_else(|| job.medium.clone());
    let folder = job
        .folder
        .as_deref()
        .and_then(|f| std::path::Path::new(f).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    viewer.tw(
        crate::writer::state_key(job),
        &[
            ("medium", medium.into()),
            ("folder", folder.into()),
            ("reason", job.note.clone().into()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use reprint_ui::Lang;

    #[test]
    fn utc_moments_in_a_sentence_become_local_minutes() {
        let v = Viewer {
            lang: Lang::En,
            tz: chrono_tz::Asia::Tokyo,
            path: "/".into(),
        };
        assert_eq!(
            local_times(&v, "collected at 2026-12-04 08:03:59.123456789 UTC already"),
            "collected at 4 Dec 2026, 17:03 already"
        );
        assert_eq!(
            local_times(&v, "since 2026-12-04T08:03:00Z."),
            "since 4 Dec 2026, 17:03."
        );
        assert_eq!(
            local_times(&v, "day 2026-12-04 only"),
            "day 2026-12-04 only"
        );
        assert_eq!(local_times(&v, "日本語 ok"), "日本語 ok");
    }
}
