//! User analysis as pages show it (seed 004: "so that it can be used for user analysis later
//! on"): the figures of [`reprint_domain::analysis`] as tables and bar charts, and each table as
//! CSV with the same rows, for the lab's console and the counter's pages alike.
//!
//! The charts are drawn by [`crate::chart`] (plotters, as SVG), each described by the table of
//! the same figures beside it.

use chrono::{Days, NaiveDate};
use maud::{Markup, html};
use reprint_domain::analysis::{Analysis, AnalysisPeriod, GapBucket};
use reprint_domain::policy::Period;
use reprint_domain::{Currency, Money};

use crate::chart::{Chart, Kind, Series, chart};
use crate::{Lang, t, t_with};

/// The period shown when none is asked for: the last twelve weeks.
pub const DEFAULT_DAYS: u64 = 7 * 12 - 1;
/// The longest period one page shows (its weeks table stays readable).
pub const MAX_DAYS: i64 = 3 * 366;

/// The tables, by their CSV names (`<name>.csv`).
pub const TABLES: [&str; 5] = ["summary", "weeks", "orders", "tiers", "sites"];

/// The period of a form's `from` and `to` (`YYYY-MM-DD`; empty: the last twelve weeks to
/// `today`), or the message key of what is wrong with it.
pub fn period(from: &str, to: &str, today: NaiveDate) -> Result<AnalysisPeriod, &'static str> {
    let day = |s: &str, default: NaiveDate| -> Result<NaiveDate, &'static str> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(default);
        }
        NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| "analysis-bad-date")
    };
    let to = day(to, today)?;
    let from = day(
        from,
        to.checked_sub_days(Days::new(DEFAULT_DAYS)).unwrap_or(to),
    )?;
    let period = AnalysisPeriod::new(from, to).ok_or("analysis-bad-order")?;
    if (to - from).num_days() > MAX_DAYS {
        return Err("analysis-too-long");
    }
    Ok(period)
}

/// One cell of a table: the page and the CSV show the same value.
#[derive(Debug, Clone)]
enum Cell {
    Text(String),
    Num(i64),
    Money(i64),
}

/// A table of the page and its CSV.
struct Table {
    name: &'static str,
    headers: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

fn tier_words(lang: Lang, bucket: GapBucket, within: Option<Period>) -> String {
    match (bucket, within) {
        (GapBucket::First, _) => t(lang, "analysis-tier-first"),
        (GapBucket::Later, _) => t(lang, "analysis-tier-later"),
        (GapBucket::Tier(_), Some(Period::Days(n))) => {
            t_with(lang, "analysis-tier-days", &[("n", n.into())])
        }
        (GapBucket::Tier(_), Some(Period::CalendarMonths(n))) => {
            t_with(lang, "analysis-tier-months", &[("n", n.into())])
        }
        (GapBucket::Tier(i), None) => format!("{}", i + 1),
    }
}

fn tables(lang: Lang, a: &Analysis) -> Vec<Table> {
    let h = |keys: &[&str]| keys.iter().map(|k| t(lang, k)).collect::<Vec<_>>();
    let n = |v: u32| Cell::Num(i64::from(v));
    let summary = Table {
        name: "summary",
        headers: h(&["analysis-figure", "analysis-value"]),
        rows: [
            ("analysis-customers", a.customers),
            ("analysis-new", a.new_customers),
            ("analysis-returning", a.returning_customers),
            ("analysis-orders", a.orders),
            ("analysis-reprint-orders", a.reprints.orders),
            ("analysis-reprint-lines", a.reprints.lines),
            ("analysis-reprint-prints", a.reprints.prints),
        ]
        .iter()
        .map(|(k, v)| vec![Cell::Text(t(lang, k)), n(*v)])
        .collect(),
    };
    let weeks = Table {
        name: "weeks",
        headers: h(&[
            "analysis-week",
            "analysis-new",
            "analysis-returning",
            "analysis-orders",
        ]),
        rows: a
            .weeks
            .iter()
            .map(|w| {
                vec![
                    Cell::Text(w.starts.format("%Y-%m-%d").to_string()),
                    n(w.new),
                    n(w.returning),
                    n(w.orders),
                ]
            })
            .collect(),
    };
    let orders = Table {
        name: "orders",
        headers: h(&["analysis-orders-each", "analysis-customers"]),
        rows: a
            .orders_per_customer
            .iter()
            .map(|r| {
                let label = if r.or_more {
                    t_with(lang, "analysis-or-more", &[("n", r.orders.into())])
                } else {
                    r.orders.to_string()
                };
                vec![Cell::Text(label), n(r.customers)]
            })
            .collect(),
    };
    let tiers = Table {
        name: "tiers",
        headers: h(&[
            "analysis-tier",
            "analysis-percent",
            "analysis-orders",
            "analysis-days-min",
            "analysis-days-max",
            "analysis-discounted",
            "analysis-discount-cost",
        ]),
        rows: a
            .tiers
            .iter()
            .map(|r| {
                let opt = |v: Option<i64>| v.map_or(Cell::Text("–".into()), Cell::Num);
                vec![
                    Cell::Text(tier_words(lang, r.bucket, r.within)),
                    r.percent
                        .map_or(Cell::Text("–".into()), |p| Cell::Text(format!("{p} %"))),
                    n(r.orders),
                    opt(r.min_days),
                    opt(r.max_days),
                    n(r.discounted_orders),
                    Cell::Money(r.discount_minor),
                ]
            })
            .collect(),
    };
    let sites = Table {
        name: "sites",
        headers: h(&[
            "analysis-counter",
            "analysis-lab",
            "analysis-customers",
            "analysis-orders",
            "analysis-prints",
            "analysis-counter-amount",
        ]),
        rows: a
            .other_sites
            .iter()
            .map(|s| {
                let lab = if s.this_site {
                    t_with(
                        lang,
                        "analysis-this-lab",
                        &[("lab", s.lab.as_str().to_string().into())],
                    )
                } else {
                    s.lab.as_str().to_string()
                };
                vec![
                    Cell::Text(s.counter.as_str().to_string()),
                    Cell::Text(lab),
                    n(s.customers),
                    n(s.orders),
                    n(s.prints),
                    Cell::Money(s.counter_minor),
                ]
            })
            .collect(),
    };
    vec![summary, weeks, orders, tiers, sites]
}

fn cell_text(lang: Lang, currency: Currency, c: &Cell) -> String {
    match c {
        Cell::Text(s) => s.clone(),
        Cell::Num(v) => v.to_string(),
        Cell::Money(m) => crate::money(lang, Money::new(*m, currency)),
    }
}

/// An amount in the currency's major units with its decimals, for a spreadsheet (`1250`,
/// `12.50`).
fn decimal(minor: i64, currency: Currency) -> String {
    let digits = u32::from(currency.minor_digits());
    if digits == 0 {
        return minor.to_string();
    }
    let scale = 10i64.pow(digits);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let scale_u = scale.unsigned_abs();
    format!(
        "{sign}{}.{:0w$}",
        abs / scale_u,
        abs % scale_u,
        w = digits as usize
    )
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The table as CSV (UTF-8 with a byte order mark, so that a spreadsheet reads Japanese).
fn csv(table: &Table, currency: Currency) -> String {
    let mut out = String::from("\u{feff}");
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .map(|c| csv_field(c))
            .collect::<Vec<_>>()
            .join(",")
    };
    out.push_str(&line(table.headers.clone()));
    out.push_str("\r\n");
    for row in &table.rows {
        let cells = row
            .iter()
            .map(|c| match c {
                Cell::Text(s) => s.clone(),
                Cell::Num(v) => v.to_string(),
                Cell::Money(m) => decimal(*m, currency),
            })
            .collect();
        out.push_str(&line(cells));
        out.push_str("\r\n");
    }
    out
}

fn table_markup(
    lang: Lang,
    currency: Currency,
    table: &Table,
    action: &str,
    query: &str,
) -> Markup {
    html! {
        div style="overflow-x:auto" {
            table #(format!("analysis-{}", table.name)) {
                thead { tr { @for h in &table.headers { th scope="col" { (h) } } } }
                tbody {
                    @for row in &table.rows {
                        tr {
                            @for (i, c) in row.iter().enumerate() {
                                @if i == 0 { th scope="row" { (cell_text(lang, currency, c)) } }
                                @else { td style="text-align:right" { (cell_text(lang, currency, c)) } }
                            }
                        }
                    }
                }
            }
        }
        p { a.button.quiet href=(format!("{action}/{}.csv{query}", table.name)) download {
            (t(lang, "analysis-csv")) } }
    }
}

/// Which site's page: the sites table says what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewpoint {
    /// A lab: other counters and labs, from affiliated counters' whole files.
    Lab,
    /// A counter: the labs its customers' orders went to, from its own files.
    Counter,
}

/// The page's content: the heading, the period form (to `action`), each table with its chart
/// and its CSV link (`action/<table>.csv` with the period).
pub fn content(lang: Lang, a: &Analysis, action: &str, viewpoint: Viewpoint) -> Markup {
    let currency = a.currency;
    let from = a.period.from.format("%Y-%m-%d").to_string();
    let to = a.period.to.format("%Y-%m-%d").to_string();
    let query = format!("?from={from}&to={to}");
    let all = tables(lang, a);
    let by_name = |name: &str| all.iter().find(|t| t.name == name);
    // A chart is described by its table (`analysis-<name>`), when the page shows one.
    let table_ids: Vec<String> = all.iter().map(|t| format!("analysis-{}", t.name)).collect();
    let described_by = |name: &str| {
        all.iter()
            .position(|t| t.name == name && !t.rows.is_empty())
            .map(|i| table_ids[i].as_str())
    };
    // One bar chart of a table's figures, titled by its section's heading and described by
    // the table.
    let table_chart = |name: &str,
                       id: &str,
                       heading: &str,
                       (x_axis, y_axis): (&str, &str),
                       kind: Kind,
                       categories: Vec<String>,
                       series: Vec<Series>| {
        chart(
            lang,
            &Chart {
                id,
                title: &t(lang, heading),
                x_axis: &t(lang, x_axis),
                y_axis: &t(lang, y_axis),
                kind,
                categories,
                series,
                format: None,
                table: described_by(name),
                colours: None,
            },
        )
    };
    let series = |key: &str, values: Vec<i64>| Series {
        name: t(lang, key),
        values,
    };
    let weeks_chart = table_chart(
        "weeks",
        "chart-weeks",
        "analysis-weeks-heading",
        ("analysis-week", "analysis-customers"),
        Kind::Stacked,
        a.weeks
            .iter()
            .map(|w| w.starts.format("%m/%d").to_string())
            .collect(),
        vec![
            series(
                "analysis-new",
                a.weeks.iter().map(|w| i64::from(w.new)).collect(),
            ),
            series(
                "analysis-returning",
                a.weeks.iter().map(|w| i64::from(w.returning)).collect(),
            ),
        ],
    );
    let orders_chart = table_chart(
        "orders",
        "chart-orders",
        "analysis-orders-heading",
        ("analysis-orders-each", "analysis-customers"),
        Kind::Bars,
        a.orders_per_customer
            .iter()
            .map(|r| {
                if r.or_more {
                    format!("{}+", r.orders)
                } else {
                    r.orders.to_string()
                }
            })
            .collect(),
        vec![series(
            "analysis-customers",
            a.orders_per_customer
                .iter()
                .map(|r| i64::from(r.customers))
                .collect(),
        )],
    );
    let tiers_chart = table_chart(
        "tiers",
        "chart-tiers",
        "analysis-tiers-heading",
        ("analysis-tier", "analysis-orders"),
        Kind::Horizontal,
        a.tiers
            .iter()
            .map(|r| tier_words(lang, r.bucket, r.within))
            .collect(),
        vec![series(
            "analysis-orders",
            a.tiers.iter().map(|r| i64::from(r.orders)).collect(),
        )],
    );
    let section = |name: &str, heading: &str, chart: Option<Markup>| {
        html! {
            section {
                h2 { (t(lang, heading)) }
                @if let Some(chart) = chart { (chart) }
                @if let Some(table) = by_name(name) {
                    @if table.rows.is_empty() { p { (t(lang, "analysis-nothing")) } }
                    @else { (table_markup(lang, currency, table, action, &query)) }
                }
            }
        }
    };
    let (sites_heading, sites_note) = match viewpoint {
        Viewpoint::Lab => ("analysis-sites-heading", "analysis-sites-note"),
        Viewpoint::Counter => ("analysis-labs-heading", "analysis-labs-note"),
    };
    html! {
        h1 { (t(lang, "analysis-title")) }
        p { (t(lang, "analysis-intro")) }
        form.bar method="get" action=(action) {
            label { (t(lang, "analysis-from")) input type="date" name="from" value=(from) required; }
            label { (t(lang, "analysis-to")) input type="date" name="to" value=(to) required; }
            button { (t(lang, "analysis-show")) }
        }
        (section("summary", "analysis-summary-heading", None))
        (section("weeks", "analysis-weeks-heading", Some(weeks_chart)))
        (section("orders", "analysis-orders-heading", Some(orders_chart)))
        (section("tiers", "analysis-tiers-heading", Some(tiers_chart)))
        p { (t(lang, "analysis-tiers-note")) }
        (section("sites", sites_heading, None))
        p { (t(lang, sites_note)) }
    }
}

/// The table `name` as CSV (UTF-8 with a byte order mark), `None` for no such table.
pub fn csv_of(lang: Lang, a: &Analysis, name: &str) -> Option<String> {
    tables(lang, a)
        .into_iter()
        .find(|t| t.name == name)
        .map(|t| csv(&t, a.currency))
}

/// The file name of a table's CSV for the period.
pub fn csv_file_name(name: &str, period: AnalysisPeriod) -> String {
    format!(
        "{name}-{}-{}.csv",
        period.from.format("%Y%m%d"),
        period.to.format("%Y%m%d")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let today = d("2026-12-13");
        assert_eq!(
            period("", "", today),
            Ok(AnalysisPeriod::new(d("2026-09-21"), today).unwrap())
        );
        assert_eq!(
            period("2026-12-14", "2026-12-13", today),
            Err("analysis-bad-order")
        );
        assert_eq!(period("2026-13-01", "", today), Err("analysis-bad-date"));
        assert_eq!(period("2020-01-01", "", today), Err("analysis-too-long"));
    }

    #[test]
    fn amounts_in_major_units() {
        assert_eq!(decimal(1250, Currency::JPY), "1250");
        assert_eq!(decimal(1250, Currency::parse("EUR").unwrap()), "12.50");
        assert_eq!(decimal(-5, Currency::parse("EUR").unwrap()), "-0.05");
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
    }
}
