//! User analysis (seed 004): the reception contents area of every **individual user file** is
//! kept after the hand-over "so that it can be used for user analysis later on", and an
//! affiliated counter sends its entire file so that the lab knows "which system other than A
//! Corporation and to what extent the user uses".
//!
//! [`analyse`] reads a site's files (and the whole files affiliated counters shared with it) for
//! a period on the site's calendar and gives:
//!
//! - customers who ordered in the period, new (their first reception here, under this site's
//!   registration number) or returning;
//! - new and returning customers per week (weeks start on Monday);
//! - orders per customer;
//! - days between consecutive orders, bucketed by the site's repeat-order policy tiers ("within
//!   a week", "within a month", ...; see [`crate::policy`]) measured from the previous order as
//!   Fig. 7 does, with what the discounts of those orders cost (the discount lines, in integer
//!   minor units);
//! - reprints recognised: prints of an image this file had printed before (by image id), or
//!   discounted because other evidence showed an earlier print (Fig. 10);
//! - from shared files: per counter and per lab the counter sent the user's orders to, the
//!   customers, orders, prints and the counter's takings.
//!
//! Cancelled receptions are left out. Pure: no clock, the period is an argument.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};

use crate::charge::LineKind;
use crate::extract::FileExtract;
use crate::file::{Reception, UserFile};
use crate::policy::Period;
use crate::{ReceptionNumber, SiteId, SiteRules};

/// The days analysed, both included, on the site's calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalysisPeriod {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl AnalysisPeriod {
    /// A period; `None` when `to` is before `from`.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Option<AnalysisPeriod> {
        (from <= to).then_some(AnalysisPeriod { from, to })
    }

    pub fn contains(&self, day: NaiveDate) -> bool {
        self.from <= day && day <= self.to
    }
}

/// New and returning customers of one week.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Week {
    /// The week's Monday.
    pub starts: NaiveDate,
    /// Customers whose first order here was in this week.
    pub new: u32,
    /// Customers who ordered this week and had ordered here before it.
    pub returning: u32,
    pub orders: u32,
}

/// How many customers placed `orders` orders in the period (the last row is "or more").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrdersPerCustomer {
    pub orders: u32,
    pub or_more: bool,
    pub customers: u32,
}

/// Which bucket of the policy an order falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapBucket {
    /// The customer's first order here.
    First,
    /// Within the tier at this index of the policy (the shortest tier that contains it).
    Tier(usize),
    /// Later than every tier.
    Later,
}

/// The orders of one bucket and what their discounts cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierRow {
    pub bucket: GapBucket,
    /// The tier's period, for [`GapBucket::Tier`].
    pub within: Option<Period>,
    /// Its discount in percent, for [`GapBucket::Tier`].
    pub percent: Option<u8>,
    pub orders: u32,
    /// Shortest and longest days since the previous order (none for first orders).
    pub min_days: Option<i64>,
    pub max_days: Option<i64>,
    /// The discount lines of these orders, as a positive amount in minor units.
    pub discount_minor: i64,
    /// Orders with at least one discount line.
    pub discounted_orders: u32,
}

/// Reprints recognised in the period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reprints {
    /// Order lines of an image this file had printed here before (same image id).
    pub lines: u32,
    /// Their prints.
    pub prints: u32,
    /// Orders with at least one such line, or with a discount of a print line (an earlier
    /// print shown by a perceptual match or a print history, Fig. 10).
    pub orders: u32,
}

/// Customers' use of one counter and one lab, from the files affiliated counters shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherSite {
    pub counter: SiteId,
    /// The lab the counter sent these orders to ("(6)" of the counter's file).
    pub lab: SiteId,
    /// Whether that lab is this site.
    pub this_site: bool,
    pub customers: u32,
    pub orders: u32,
    pub prints: u32,
    /// The counter's own amounts of these orders, in minor units.
    pub counter_minor: i64,
}

/// The figures of one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    pub period: AnalysisPeriod,
    pub currency: crate::Currency,
    /// Customers with an order in the period.
    pub customers: u32,
    pub new_customers: u32,
    pub returning_customers: u32,
    pub orders: u32,
    pub weeks: Vec<Week>,
    pub orders_per_customer: Vec<OrdersPerCustomer>,
    /// First orders, then each tier of the policy, then later orders.
    pub tiers: Vec<TierRow>,
    pub reprints: Reprints,
    /// Sorted by counter, then lab.
    pub other_sites: Vec<OtherSite>,
}

/// Rows of orders per customer: 1, 2, 3, 4 and "5 or more".
pub const ORDERS_PER_CUSTOMER_ROWS: u32 = 5;

/// The bucket of an order on `day` whose previous order was on `previous`.
pub fn bucket_of(rules: &SiteRules, previous: Option<NaiveDate>, day: NaiveDate) -> GapBucket {
    let Some(previous) = previous else {
        return GapBucket::First;
    };
    rules
        .policy
        .tiers
        .iter()
        .position(|t| t.within.contains(previous, day))
        .map_or(GapBucket::Later, GapBucket::Tier)
}

fn monday_of(day: NaiveDate) -> NaiveDate {
    day - Days::new(u64::from(day.weekday().num_days_from_monday()))
}

fn prints_of(r: &Reception) -> u32 {
    r.items.iter().map(|i| i.quantity).sum()
}

/// The discount lines of a reception as a positive amount in minor units.
fn discount_minor(r: &Reception) -> i64 {
    r.charge.discounts().map(|l| -l.amount.minor).sum()
}

/// Analyses `files` (this site's) and `shared` (whole files affiliated counters sent with their
/// orders; a file sent several times counts once per reception) for `period`.
pub fn analyse(
    rules: &SiteRules,
    files: &[UserFile],
    shared: &[FileExtract],
    period: AnalysisPeriod,
) -> Analysis {
    let day_of = |at: DateTime<Utc>| at.with_timezone(&rules.time_zone).date_naive();
    let mut weeks: BTreeMap<NaiveDate, (BTreeSet<usize>, BTreeSet<usize>, u32)> = BTreeMap::new();
    let mut monday = monday_of(period.from);
    while monday <= period.to {
        weeks.insert(monday, Default::default());
        monday = monday + Days::new(7);
    }
    let mut tiers: Vec<TierRow> = std::iter::once((GapBucket::First, None, None))
        .chain(
            rules
                .policy
                .tiers
                .iter()
                .enumerate()
                .map(|(i, t)| (GapBucket::Tier(i), Some(t.within), Some(t.percent.get()))),
        )
        .chain(std::iter::once((GapBucket::Later, None, None)))
        .map(|(bucket, within, percent)| TierRow {
            bucket,
            within,
            percent,
            orders: 0,
            min_days: None,
            max_days: None,
            discount_minor: 0,
            discounted_orders: 0,
        })
        .collect();
    let mut per_customer = vec![0u32; ORDERS_PER_CUSTOMER_ROWS as usize];
    let (mut customers, mut new_customers, mut orders) = (0u32, 0u32, 0u32);
    let mut reprints = Reprints::default();

    for (index, file) in files.iter().enumerate() {
        let mut kept: Vec<&Reception> = file
            .receptions
            .iter()
            .filter(|r| !r.is_cancelled())
            .collect();
        kept.sort_by_key(|r| r.received_at);
        let mut in_period = 0u32;
        let mut first_in_period = false;
        let mut previous: Option<NaiveDate> = None;
        for (n, r) in kept.iter().enumerate() {
            let day = day_of(r.received_at);
            if period.contains(day) {
                in_period += 1;
                orders += 1;
                if n == 0 {
                    first_in_period = true;
                }
                if let Some(w) = weeks.get_mut(&monday_of(day)) {
                    w.2 += 1;
                    if n == 0 || w.0.contains(&index) {
                        w.0.insert(index);
                    } else {
                        w.1.insert(index);
                    }
                }
                let bucket = bucket_of(rules, previous, day);
                if let Some(row) = tiers.iter_mut().find(|t| t.bucket == bucket) {
                    row.orders += 1;
                    if let Some(p) = previous {
                        let days = (day - p).num_days();
                        row.min_days = Some(row.min_days.map_or(days, |m| m.min(days)));
                        row.max_days = Some(row.max_days.map_or(days, |m| m.max(days)));
                    }
                    let cost = discount_minor(r);
                    row.discount_minor += cost;
                    if r.charge.discounts().next().is_some() {
                        row.discounted_orders += 1;
                    }
                }
                let earlier = &kept[..n];
                let mut reprinted = false;
                for item in &r.items {
                    if earlier
                        .iter()
                        .any(|e| e.items.iter().any(|i| i.image == item.image))
                    {
                        reprints.lines += 1;
                        reprints.prints += item.quantity;
                        reprinted = true;
                    }
                }
                let print_discount = r.charge.lines.iter().any(|l| match l.kind {
                    LineKind::Discount { of, .. } => matches!(
                        r.charge.lines.get(of).map(|l| &l.kind),
                        Some(LineKind::Prints { .. })
                    ),
                    _ => false,
                });
                if reprinted || print_discount {
                    reprints.orders += 1;
                }
            }
            previous = Some(day);
        }
        // A week's returning customer who was new earlier the same week stays new there.
        for w in weeks.values_mut() {
            if w.0.contains(&index) {
                w.1.remove(&index);
            }
        }
        if in_period > 0 {
            customers += 1;
            if first_in_period {
                new_customers += 1;
            }
            let row = in_period.min(ORDERS_PER_CUSTOMER_ROWS) as usize - 1;
            if let Some(c) = per_customer.get_mut(row) {
                *c += 1;
            }
        }
    }

    Analysis {
        period,
        currency: rules.currency,
        customers,
        new_customers,
        returning_customers: customers - new_customers,
        orders,
        weeks: weeks
            .into_iter()
            .map(|(starts, (new, returning, orders))| Week {
                starts,
                new: new.len() as u32,
                returning: returning.len() as u32,
                orders,
            })
            .collect(),
        orders_per_customer: per_customer
            .into_iter()
            .enumerate()
            .map(|(i, customers)| OrdersPerCustomer {
                orders: i as u32 + 1,
                or_more: i as u32 + 1 == ORDERS_PER_CUSTOMER_ROWS,
                customers,
            })
            .collect(),
        tiers,
        reprints,
        other_sites: other_sites(rules, shared, period),
    }
}

/// Per counter and lab, from the shared files: every reception once (by counter and reception
/// number), customers by the counter's registration number.
fn other_sites(
    rules: &SiteRules,
    shared: &[FileExtract],
    period: AnalysisPeriod,
) -> Vec<OtherSite> {
    let day_of = |at: DateTime<Utc>| at.with_timezone(&rules.time_zone).date_naive();
    let mut seen: BTreeSet<(SiteId, ReceptionNumber)> = BTreeSet::new();
    type Acc = (BTreeSet<String>, u32, u32, i64);
    let mut rows: BTreeMap<(SiteId, SiteId), Acc> = BTreeMap::new();
    for extract in shared {
        let receptions = std::iter::once(&extract.reception).chain(&extract.other_receptions);
        for r in receptions {
            if r.is_cancelled() || !period.contains(day_of(r.received_at)) {
                continue;
            }
            if !seen.insert((extract.from_site.clone(), r.number.clone())) {
                continue;
            }
            let acc = rows
                .entry((extract.from_site.clone(), r.partner.clone()))
                .or_default();
            acc.0
                .insert(extract.registration_number.as_str().to_string());
            acc.1 += 1;
            acc.2 += prints_of(r);
            acc.3 += r.charge.total.minor;
        }
    }
    rows.into_iter()
        .map(
            |((counter, lab), (customers, orders, prints, minor))| OtherSite {
                this_site: lab == rules.site,
                counter,
                lab,
                customers: customers.len() as u32,
                orders,
                prints,
                counter_minor: minor,
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::{Sharing, extract};
    use crate::file::{self, Command, OpenReception, Route};
    use crate::{
        ImageId, OrderId, OrderItem, PrintSize, ReceptionNumber, RegistrationNumber, SiteKind,
        Telephone,
    };
    use chrono::TimeZone;
    use chrono_tz::Asia::Tokyo;

    fn site(s: &str) -> SiteId {
        SiteId::parse(s).unwrap()
    }

    fn tokyo(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Tokyo
            .with_ymd_and_hms(y, m, d, 10, 0, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn item(n: u8, quantity: u32) -> OrderItem {
        OrderItem {
            image: ImageId::of_bytes(&[n; 16]),
            name: format!("IMG_{n:04}.JPG"),
            size: PrintSize::L,
            quantity,
        }
    }

    struct Files {
        rules: SiteRules,
        receptions: u64,
        partner: SiteId,
    }

    impl Files {
        /// A file registered with `number`, ordering `orders` (day, items) with the site's
        /// charge determined by its rules, as the site does.
        fn file(&mut self, number: u64, orders: &[(DateTime<Utc>, Vec<OrderItem>)]) -> UserFile {
            let apply =
                |f: UserFile, c: Command| file::decide(&f, c).unwrap().iter().fold(f, file::evolve);
            let mut f = apply(
                UserFile::default(),
                Command::Register {
                    registration_number: RegistrationNumber::new(
                        &self.rules.registration_number,
                        number,
                    )
                    .unwrap(),
                    name: format!("Customer {number}"),
                    telephone: Telephone::parse(&format!("03-1234-{number:04}")).unwrap(),
                    address: None,
                    email: None,
                    at: orders[0].0,
                },
            );
            for (at, items) in orders {
                self.receptions += 1;
                f = apply(
                    f,
                    Command::OpenReception(Box::new(OpenReception {
                        number: ReceptionNumber::new(
                            &self.rules.reception_number,
                            455 + self.receptions,
                        )
                        .unwrap(),
                        order: OrderId::from_parts(
                            at.timestamp_millis() as u64,
                            [self.receptions as u8; 10],
                        ),
                        route: Route::Internet,
                        received_at: *at,
                        data_receive: None,
                        partner: self.partner.clone(),
                        items: items.clone(),
                        digital_copy: false,
                        evidence: vec![],
                        estimated_finish: None,
                        rules: self.rules.clone(),
                    })),
                );
            }
            f
        }
    }

    /// The lab of Fig. 7 (¥250 basic charge, free within 7 days, 50 % within a month) and
    /// three customers:
    /// - Fig. 7's user: first order Nov 18, second Nov 21 (within a week: basic charge
    ///   waived, ¥250), reprinting image 1 on Dec 10 (within a month of Nov 21: ¥125 off);
    /// - a customer first seen Oct 1, back Nov 19 (later than a month: full charge);
    /// - a new customer on Nov 25, once.
    fn known() -> (SiteRules, Vec<UserFile>) {
        let rules = SiteRules::demo_lab(site("lab-a"));
        let mut given = Files {
            rules: rules.clone(),
            receptions: 0,
            partner: site("counter-ginza"),
        };
        let hanako = given.file(
            1,
            &[
                (tokyo(2026, 11, 18), vec![item(1, 2), item(2, 1)]),
                (tokyo(2026, 11, 21), vec![item(3, 1)]),
                (tokyo(2026, 12, 10), vec![item(1, 4)]),
            ],
        );
        let taro = given.file(
            2,
            &[
                (tokyo(2026, 10, 1), vec![item(10, 1)]),
                (tokyo(2026, 11, 19), vec![item(11, 1)]),
            ],
        );
        let jiro = given.file(3, &[(tokyo(2026, 11, 25), vec![item(20, 5)])]);
        (rules, vec![hanako, taro, jiro])
    }

    #[test]
    fn fig7_customers_new_and_returning() {
        let (rules, files) = known();
        let period = AnalysisPeriod::new(date(2026, 11, 16), date(2026, 12, 13)).unwrap();
        let a = analyse(&rules, &files, &[], period);
        assert_eq!(a.customers, 3);
        assert_eq!(a.new_customers, 2, "Fig. 7's user and the Nov 25 customer");
        assert_eq!(a.returning_customers, 1, "first seen on Oct 1");
        assert_eq!(a.orders, 5);
        let weeks: Vec<_> = a
            .weeks
            .iter()
            .map(|w| (w.starts, w.new, w.returning, w.orders))
            .collect();
        assert_eq!(
            weeks,
            vec![
                // Nov 18 new + Nov 21 the same week (still new that week); Oct 1's customer back.
                (date(2026, 11, 16), 1, 1, 3),
                (date(2026, 11, 23), 1, 0, 1),
                (date(2026, 11, 30), 0, 0, 0),
                (date(2026, 12, 7), 0, 1, 1),
            ]
        );
        let per: Vec<_> = a.orders_per_customer.iter().map(|r| r.customers).collect();
        assert_eq!(per, vec![2, 0, 1, 0, 0]);
    }

    #[test]
    fn fig7_days_between_orders_and_discount_cost_per_tier() {
        let (rules, files) = known();
        let period = AnalysisPeriod::new(date(2026, 11, 16), date(2026, 12, 13)).unwrap();
        let a = analyse(&rules, &files, &[], period);
        let rows: Vec<_> = a
            .tiers
            .iter()
            .map(|t| (t.bucket, t.orders, t.min_days, t.max_days, t.discount_minor))
            .collect();
        assert_eq!(
            rows,
            vec![
                (GapBucket::First, 2, None, None, 0),
                // B0000457 of Fig. 7: 3 days after Nov 18, basic charge ¥250 waived.
                (GapBucket::Tier(0), 1, Some(3), Some(3), 250),
                // 19 days after Nov 21: half the basic charge.
                (GapBucket::Tier(1), 1, Some(19), Some(19), 125),
                // 49 days after Oct 1: no discount.
                (GapBucket::Later, 1, Some(49), Some(49), 0),
            ]
        );
        assert_eq!(a.tiers[1].within, Some(Period::Days(7)));
        assert_eq!(a.tiers[1].percent, Some(100));
        assert_eq!(a.tiers[2].within, Some(Period::CalendarMonths(1)));
        // The discounts are the files' own discount lines.
        let all: i64 = files
            .iter()
            .flat_map(|f| &f.receptions)
            .map(discount_minor)
            .sum();
        assert_eq!(all, 375);
    }

    #[test]
    fn reprints_of_an_image_printed_here_before() {
        let (rules, files) = known();
        let period = AnalysisPeriod::new(date(2026, 11, 16), date(2026, 12, 13)).unwrap();
        let a = analyse(&rules, &files, &[], period);
        assert_eq!(
            a.reprints,
            Reprints {
                lines: 1,
                prints: 4,
                orders: 1
            }
        );
    }

    #[test]
    fn a_period_leaves_out_what_is_outside_it_but_remembers_the_history() {
        let (rules, files) = known();
        let period = AnalysisPeriod::new(date(2026, 12, 1), date(2026, 12, 31)).unwrap();
        let a = analyse(&rules, &files, &[], period);
        assert_eq!((a.customers, a.new_customers, a.orders), (1, 0, 1));
        assert!(AnalysisPeriod::new(date(2026, 12, 2), date(2026, 12, 1)).is_none());
    }

    #[test]
    fn fig9_shared_whole_files_show_which_labs_the_customers_use() {
        // The counter of Fig. 9 sends its whole file: two orders printed by this lab, one by
        // another lab ("which system other than A Corporation and to what extent").
        let counter_rules = SiteRules::demo_counter(site("counter-ginza"));
        let mut given = Files {
            rules: counter_rules.clone(),
            receptions: 1000,
            partner: site("lab-a"),
        };
        let mut file = given.file(
            1,
            &[
                (tokyo(2026, 10, 30), vec![item(1, 1)]),
                (tokyo(2026, 11, 27), vec![item(2, 4)]),
                (tokyo(2026, 11, 28), vec![item(3, 2)]),
            ],
        );
        file.receptions[2].partner = site("lab-b");
        let lab = SiteRules::demo_lab(site("lab-a"));
        let whole = |n: usize| {
            extract(
                &file,
                &counter_rules.site,
                SiteKind::Counter,
                &file.receptions[n].number,
                Sharing::WholeFile,
            )
            .unwrap()
        };
        // The file came twice (with two orders): each reception counts once.
        let shared = vec![whole(0), whole(1)];
        let period = AnalysisPeriod::new(date(2026, 10, 1), date(2026, 11, 30)).unwrap();
        let a = analyse(&lab, &[], &shared, period);
        let rows: Vec<_> = a
            .other_sites
            .iter()
            .map(|o| {
                (
                    o.counter.as_str().to_string(),
                    o.lab.as_str().to_string(),
                    o.this_site,
                    o.customers,
                    o.orders,
                    o.prints,
                    o.counter_minor,
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                // Fig. 9: ¥250 on Oct 30, ¥0 within a month on Nov 27.
                ("counter-ginza".into(), "lab-a".into(), true, 1, 2, 5, 250),
                // Nov 28, within a month again: ¥0, printed by another lab.
                ("counter-ginza".into(), "lab-b".into(), false, 1, 1, 2, 0),
            ]
        );
    }
}
