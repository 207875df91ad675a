//! The charts of every page (ops' dashboard, the lab's and the counter's user analysis), drawn
//! once here with [plotters] into SVG that is part of the page: bars, stacked bars over time,
//! horizontal bars (one row per category, its name above its bars) and lines, each with its
//! value axis and round ticks, its categories, each bar's value, a legend in the page's words
//! and text for those who do not see it (the figures as a table, or the page's own table named
//! by `aria-describedby`).
//!
//! Why plotters: a well-kept Rust chart library whose SVG backend needs no system font (with
//! its default features off it measures text by a rough estimate and writes `<text>`; the
//! browser draws it in the page's font, Japanese included), draws on the server (the charts
//! are there without JavaScript, in tests and in screenshots) and adds three small crates.
//!
//! Each chart is drawn twice, 720 and 360 units wide, and the page shows the one that fits
//! (a media query): text stays about its size on a phone instead of being scaled down with a
//! wide drawing.

use maud::{Markup, PreEscaped, html};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{Lang, t};

/// What kind of chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One bar per category and series, side by side, its value above it.
    Bars,
    /// One bar per category, the series stacked bottom up, the total above it.
    Stacked,
    /// One row per category (its name above its bars), one bar per series, its value at its
    /// end: for long category names.
    Horizontal,
    /// One line per series through the categories.
    Lines,
}

/// One series of values, one per category.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub values: Vec<i64>,
}

/// A chart: what it shows and how its values read.
pub struct Chart<'a> {
    /// The element id (unique on the page); the SVG's title is `<id>-title`.
    pub id: &'a str,
    /// What the chart shows, in words (its accessible name).
    pub title: &'a str,
    /// The category axis (empty: no title).
    pub x_axis: &'a str,
    /// The value axis (empty: no title).
    pub y_axis: &'a str,
    pub kind: Kind,
    pub categories: Vec<String>,
    pub series: Vec<Series>,
    /// How a value reads (ticks, values, table); `None`: the number.
    pub format: Option<&'a dyn Fn(i64) -> String>,
    /// The id of the page's table that holds the same figures (the chart is described by
    /// it); `None`: the chart brings its own table of figures, folded.
    pub table: Option<&'a str>,
    /// The series' colours (hex `#rrggbb`), else [`PALETTE`].
    pub colours: Option<&'a [&'a str]>,
}

/// The series' colours when the chart names none (distinguishable by colour-blind readers:
/// blue, orange, green, purple, yellow, grey).
pub const PALETTE: [&str; 6] = [
    "#1f5f99", "#c25e00", "#2a9d8f", "#7b3294", "#d4a017", "#6c757d",
];

/// The drawing widths: on a desk, and on a phone.
const WIDE: u32 = 720;
/// The grid lines behind the bars.
const GRID: RGBColor = RGBColor(0xdd, 0xdd, 0xdd);
const NARROW: u32 = 360;

const STYLE: &str = "\
figure.chart{margin:8px 0 16px;max-width:720px}\
figure.chart svg{width:100%;height:auto;display:block;background:#fff}\
figure.chart .narrow{display:none}\
@media (max-width:560px){figure.chart .wide{display:none}figure.chart .narrow{display:block}}\
figure.chart figcaption{display:flex;flex-wrap:wrap;gap:4px 16px;margin:4px 0}\
figure.chart .key{white-space:nowrap;display:inline-flex;align-items:center;gap:6px}\
figure.chart .swatch{display:inline-block;width:14px;height:14px;border-radius:2px}\
figure.chart details summary{min-height:44px;display:flex;align-items:center;cursor:pointer}\
";

fn rgb(hex: &str) -> RGBColor {
    let h = hex.trim_start_matches('#');
    let byte = |i: usize| {
        h.get(i..i + 2)
            .and_then(|s| u8::from_str_radix(s, 16).ok())
            .unwrap_or(0x55)
    };
    RGBColor(byte(0), byte(2), byte(4))
}

/// A round step for the value axis: 1, 2 or 5 times a power of ten, at most `ticks` steps to
/// `max`; for times in milliseconds, also whole seconds, minutes and hours.
pub fn tick_step(max: i64, ticks: i64, time: bool) -> i64 {
    let max = max.max(1);
    if time {
        const STEPS: [i64; 22] = [
            1,
            10,
            100,
            1_000,
            2_000,
            5_000,
            10_000,
            15_000,
            30_000,
            60_000,
            120_000,
            300_000,
            600_000,
            900_000,
            1_800_000,
            3_600_000,
            7_200_000,
            10_800_000,
            21_600_000,
            43_200_000,
            86_400_000,
            172_800_000,
        ];
        if let Some(s) = STEPS.iter().find(|s| max / **s <= ticks) {
            return *s;
        }
    }
    let mut step = 1i64;
    loop {
        for m in [1i64, 2, 5] {
            let s = step.saturating_mul(m);
            if max / s <= ticks || s == i64::MAX {
                return s;
            }
        }
        step = step.saturating_mul(10);
    }
}

/// A rough width of `text` in px at `size` px: wide characters (Japanese) count double.
fn text_width(text: &str, size: f64) -> f64 {
    text.chars()
        .map(|c| if c.len_utf8() > 1 { 1.0 } else { 0.6 })
        .sum::<f64>()
        * size
}

impl Chart<'_> {
    fn read(&self, v: i64) -> String {
        match self.format {
            Some(f) => f(v),
            None => v.to_string(),
        }
    }

    fn colour(&self, s: usize) -> &str {
        let palette = self.colours.unwrap_or(&PALETTE);
        palette
            .get(s % palette.len().max(1))
            .copied()
            .unwrap_or("#555555")
    }

    /// The largest value the axis must reach.
    fn max(&self) -> i64 {
        let n = self.categories.len();
        match self.kind {
            Kind::Stacked => (0..n)
                .map(|i| {
                    self.series
                        .iter()
                        .map(|s| s.values.get(i).copied().unwrap_or(0).max(0))
                        .sum::<i64>()
                })
                .max()
                .unwrap_or(0),
            _ => self
                .series
                .iter()
                .flat_map(|s| s.values.iter().copied())
                .max()
                .unwrap_or(0),
        }
        .max(1)
    }

    /// The SVG of the chart `width` units wide (plotters' drawing, its outer `<svg>` replaced
    /// by ours).
    fn svg(&self, width: u32, class: &str) -> Option<Markup> {
        let mut buf = String::new();
        let height = self.draw(&mut buf, width).ok()?;
        let inner = buf
            .split_once('>')
            .map(|(_, rest)| rest)
            .and_then(|rest| rest.trim_end().strip_suffix("</svg>"))?;
        let title_id = format!("{}-{class}-title", self.id);
        let described = self
            .table
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}-figures", self.id));
        Some(html! {
            svg.(class) id=(format!("{}-{class}", self.id)) viewBox=(format!("0 0 {width} {height}"))
                role="img" aria-labelledby=(title_id) aria-describedby=(described)
                xmlns="http://www.w3.org/2000/svg" {
                title id=(title_id) { (self.title) }
                (PreEscaped(inner))
            }
        })
    }

    /// Draws the chart into `buf`; its height.
    fn draw(&self, buf: &mut String, width: u32) -> Result<u32, String> {
        let font = if width >= WIDE { 13.0 } else { 12.0 };
        // plotters writes font-size as size / 1.24.
        let style = |size: f64| {
            ("sans-serif", size * 1.24)
                .into_font()
                .color(&RGBColor(0x22, 0x22, 0x22))
        };
        let n = self.categories.len().max(1);
        let max = self.max();
        let time = self.format.is_some();
        let step = tick_step(max, 5, time);
        let top = ((max + step - 1) / step).max(1) * step;
        let ticks: Vec<i64> = (0..=top / step).map(|i| i * step).collect();
        let tick_w = ticks
            .iter()
            .map(|v| text_width(&self.read(*v), font))
            .fold(0.0, f64::max);
        let e = |e: DrawingAreaErrorKind<_>| e.to_string();
        match self.kind {
            Kind::Horizontal => {
                let rows = self.series.len().max(1) as u32;
                let row_h = 22 + 18 * rows;
                let axis_h = if self.y_axis.is_empty() { 28 } else { 48 };
                let height = row_h * n as u32 + axis_h + 8;
                let longest = (0..n)
                    .flat_map(|i| self.series.iter().map(move |s| (i, s)))
                    .map(|(i, s)| {
                        text_width(&self.read(s.values.get(i).copied().unwrap_or(0)), font)
                    })
                    .fold(0.0, f64::max);
                let root = SVGBackend::with_string(buf, (width, height)).into_drawing_area();
                root.fill(&WHITE).map_err(e)?;
                let mut chart = ChartBuilder::on(&root)
                    .margin_left((tick_w / 2.0 + 4.0) as u32)
                    .margin_top(4)
                    .margin_right((longest + 12.0 + tick_w / 2.0) as u32)
                    .x_label_area_size(axis_h)
                    .build_cartesian_2d(0i64..top, 0f64..n as f64)
                    .map_err(e)?;
                // plotters' own value labels left out (ours are round in time): it fails on
                // no labels at all, so two empty ones without tick marks.
                let none = |_: &i64| String::new();
                let mut mesh = chart.configure_mesh();
                mesh.disable_mesh()
                    .y_labels(2)
                    .x_labels(2)
                    .x_label_formatter(&none)
                    .y_label_formatter(&|_| String::new())
                    .set_all_tick_mark_size(0)
                    .axis_desc_style(style(font));
                if !self.y_axis.is_empty() {
                    mesh.x_desc(self.y_axis);
                }
                mesh.draw().map_err(e)?;
                let nf = n as f64;
                // The value axis: round ticks, their grid lines and values.
                chart
                    .draw_series(
                        ticks.iter().map(|v| {
                            PathElement::new(vec![(*v, 0.0), (*v, nf)], GRID.stroke_width(1))
                        }),
                    )
                    .map_err(e)?;
                chart
                    .draw_series(ticks.iter().map(|v| {
                        EmptyElement::at((*v, 0.0))
                            + Text::new(
                                self.read(*v),
                                (0, 6),
                                style(font).pos(Pos::new(HPos::Center, VPos::Top)),
                            )
                    }))
                    .map_err(e)?;
                let row = |i: usize| nf - i as f64; // the top of category i's row
                let frac = |px: u32| f64::from(px) / f64::from(row_h);
                chart
                    .draw_series(self.categories.iter().enumerate().map(|(i, c)| {
                        Text::new(
                            c.clone(),
                            (0, row(i) - frac(4)),
                            style(font).pos(Pos::new(HPos::Left, VPos::Top)),
                        )
                    }))
                    .map_err(e)?;
                for (s, series) in self.series.iter().enumerate() {
                    let colour = rgb(self.colour(s));
                    let y0 = |i: usize| row(i) - frac(22 + 18 * s as u32);
                    let y1 = |i: usize| y0(i) - frac(14);
                    chart
                        .draw_series(series.values.iter().enumerate().map(|(i, v)| {
                            Rectangle::new([(0, y1(i)), ((*v).max(0), y0(i))], colour.filled())
                        }))
                        .map_err(e)?;
                    chart
                        .draw_series(series.values.iter().enumerate().map(|(i, v)| {
                            EmptyElement::at(((*v).max(0), (y0(i) + y1(i)) / 2.0))
                                + Text::new(
                                    self.read(*v),
                                    (4, 0),
                                    style(font).pos(Pos::new(HPos::Left, VPos::Center)),
                                )
                        }))
                        .map_err(e)?;
                }
                root.present().map_err(e)?;
                Ok(height)
            }
            Kind::Bars | Kind::Stacked | Kind::Lines => {
                let height = if width >= WIDE { 300 } else { 280 };
                let label_w = self
                    .categories
                    .iter()
                    .map(|c| text_width(c, font - 1.0))
                    .fold(0.0, f64::max)
                    + 8.0;
                let left = tick_w + if self.y_axis.is_empty() { 14.0 } else { 34.0 };
                let plot_w = f64::from(width) - left - 12.0;
                let every = ((label_w * n as f64 / plot_w).ceil() as usize).max(1);
                let root = SVGBackend::with_string(buf, (width, height)).into_drawing_area();
                root.fill(&WHITE).map_err(e)?;
                let last = n as i32 - 1;
                let mut chart = ChartBuilder::on(&root)
                    .margin_top(20)
                    .margin_right(12)
                    .x_label_area_size(if self.x_axis.is_empty() { 26 } else { 46 })
                    .y_label_area_size(left as u32)
                    .build_cartesian_2d((0..last).into_segmented(), 0i64..top)
                    .map_err(e)?;
                let category_label = |v: &SegmentValue<i32>| match v {
                    SegmentValue::CenterOf(i) if (*i as usize).is_multiple_of(every) => self
                        .categories
                        .get(*i as usize)
                        .cloned()
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                let none = |_: &i64| String::new();
                let mut mesh = chart.configure_mesh();
                mesh.disable_mesh()
                    .x_labels(n)
                    .y_labels(2)
                    .y_label_formatter(&none)
                    .set_tick_mark_size(LabelAreaPosition::Left, 0)
                    .x_label_formatter(&category_label)
                    .x_label_style(style(font - 1.0))
                    .axis_desc_style(style(font));
                if !self.x_axis.is_empty() {
                    mesh.x_desc(self.x_axis);
                }
                if !self.y_axis.is_empty() {
                    mesh.y_desc(self.y_axis);
                }
                mesh.draw().map_err(e)?;
                let at = |i: usize| SegmentValue::Exact(i as i32);
                let centre = |i: usize| SegmentValue::CenterOf(i as i32);
                // The value axis: round ticks, their grid lines and values.
                chart
                    .draw_series(ticks.iter().filter(|v| **v > 0).map(|v| {
                        PathElement::new(vec![(at(0), *v), (at(n), *v)], GRID.stroke_width(1))
                    }))
                    .map_err(e)?;
                chart
                    .draw_series(ticks.iter().map(|v| {
                        EmptyElement::at((at(0), *v))
                            + Text::new(
                                self.read(*v),
                                (-6, 0),
                                style(font).pos(Pos::new(HPos::Right, VPos::Center)),
                            )
                    }))
                    .map_err(e)?;
                let seg_px = plot_w / n as f64;
                // Bars at most 56 px wide (a few categories), with room between them.
                let gap = ((seg_px * 0.15)
                    .max((seg_px - 56.0 * self.series.len().max(1) as f64) / 2.0)
                    as i32)
                    .max(1);
                let value_style = style(font - 1.0).pos(Pos::new(HPos::Center, VPos::Bottom));
                // Values above bars only when they fit beside each other.
                let values_fit = |count: usize| {
                    let widest = (0..n)
                        .flat_map(|i| {
                            self.series
                                .iter()
                                .map(move |s| s.values.get(i).copied().unwrap_or(0))
                        })
                        .map(|v| text_width(&self.read(v), font - 1.0))
                        .fold(0.0, f64::max);
                    widest + 6.0 <= seg_px / count as f64
                };
                match self.kind {
                    Kind::Stacked => {
                        let mut below = vec![0i64; n];
                        for (s, series) in self.series.iter().enumerate() {
                            let colour = rgb(self.colour(s));
                            let bars: Vec<_> = (0..n)
                                .filter_map(|i| {
                                    let v = series.values.get(i).copied().unwrap_or(0).max(0);
                                    let low = below[i];
                                    below[i] += v;
                                    (v > 0).then(|| {
                                        let mut r = Rectangle::new(
                                            [(at(i), low), (at(i + 1), low + v)],
                                            colour.filled(),
                                        );
                                        r.set_margin(0, 0, gap as u32, gap as u32);
                                        r
                                    })
                                })
                                .collect();
                            chart.draw_series(bars).map_err(e)?;
                        }
                        if values_fit(1) {
                            chart
                                .draw_series((0..n).filter(|i| below[*i] > 0).map(|i| {
                                    EmptyElement::at((centre(i), below[i]))
                                        + Text::new(
                                            self.read(below[i]),
                                            (0, -2),
                                            value_style.clone(),
                                        )
                                }))
                                .map_err(e)?;
                        }
                    }
                    Kind::Bars => {
                        let k = self.series.len().max(1);
                        let inner = (seg_px - 2.0 * f64::from(gap)) / k as f64;
                        let fit = values_fit(k);
                        for (s, series) in self.series.iter().enumerate() {
                            let colour = rgb(self.colour(s));
                            let l = gap + (inner * s as f64) as i32;
                            let r = gap + (inner * (k - 1 - s) as f64) as i32;
                            chart
                                .draw_series(series.values.iter().enumerate().map(|(i, v)| {
                                    let mut rect = Rectangle::new(
                                        [(at(i), 0), (at(i + 1), (*v).max(0))],
                                        colour.filled(),
                                    );
                                    rect.set_margin(0, 0, l.max(0) as u32, r.max(0) as u32);
                                    rect
                                }))
                                .map_err(e)?;
                            if fit {
                                let dx = (f64::from(l) + inner / 2.0 - seg_px / 2.0) as i32;
                                chart
                                    .draw_series(series.values.iter().enumerate().map(|(i, v)| {
                                        EmptyElement::at((centre(i), (*v).max(0)))
                                            + Text::new(
                                                self.read(*v),
                                                (dx, -2),
                                                value_style.clone(),
                                            )
                                    }))
                                    .map_err(e)?;
                            }
                        }
                    }
                    Kind::Lines | Kind::Horizontal => {
                        let fit = values_fit(1) && self.series.len() == 1;
                        for (s, series) in self.series.iter().enumerate() {
                            let colour = rgb(self.colour(s));
                            let points: Vec<_> = series
                                .values
                                .iter()
                                .enumerate()
                                .map(|(i, v)| (centre(i), *v))
                                .collect();
                            chart
                                .draw_series(LineSeries::new(
                                    points.clone(),
                                    colour.stroke_width(2),
                                ))
                                .map_err(e)?;
                            chart
                                .draw_series(
                                    points
                                        .iter()
                                        .map(|p| Circle::new(p.clone(), 3, colour.filled())),
                                )
                                .map_err(e)?;
                            if fit {
                                chart
                                    .draw_series(points.iter().map(|(x, v)| {
                                        EmptyElement::at((x.clone(), *v))
                                            + Text::new(self.read(*v), (0, -6), value_style.clone())
                                    }))
                                    .map_err(e)?;
                            }
                        }
                    }
                }
                root.present().map_err(e)?;
                Ok(height)
            }
        }
    }
}

/// The figures of the chart as a table (categories down, series across).
fn figures(lang: Lang, c: &Chart) -> Markup {
    html! {
        details {
            summary { (t(lang, "chart-figures")) }
            div.scroll tabindex="0" {
                table id=(format!("{}-figures", c.id)) {
                    thead { tr {
                        th scope="col" { (c.x_axis) }
                        @for s in &c.series { th scope="col" { (s.name) } }
                    } }
                    tbody {
                        @for (i, cat) in c.categories.iter().enumerate() {
                            tr {
                                th scope="row" { (cat) }
                                @for s in &c.series {
                                    td style="text-align:right" { (c.read(s.values.get(i).copied().unwrap_or(0))) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The chart as the page shows it: a figure with the drawing at both widths, the legend (more
/// than one series), and its figures as a table unless the page has its own.
pub fn chart(lang: Lang, c: &Chart) -> Markup {
    let wide = c.svg(WIDE, "wide");
    let narrow = c.svg(NARROW, "narrow");
    html! {
        figure.chart #(c.id) data-kind=(format!("{:?}", c.kind).to_lowercase()) {
            style { (PreEscaped(STYLE)) }
            @if let Some(svg) = wide { (svg) }
            @if let Some(svg) = narrow { (svg) }
            @if c.series.len() > 1 {
                figcaption {
                    @for (s, series) in c.series.iter().enumerate() {
                        span.key {
                            span.swatch style=(format!("background:{}", c.colour(s))) aria-hidden="true" {}
                            (series.name)
                        }
                    }
                }
            }
            @if c.table.is_none() { (figures(lang, c)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(kind: Kind) -> Chart<'static> {
        Chart {
            id: "c",
            title: "Orders <by> week",
            x_axis: "Week",
            y_axis: "Orders",
            kind,
            categories: vec!["11/02".into(), "11/09".into(), "11/16".into()],
            series: vec![
                Series {
                    name: "New".into(),
                    values: vec![3, 0, 5],
                },
                Series {
                    name: "Returning".into(),
                    values: vec![1, 2, 0],
                },
            ],
            format: None,
            table: None,
            colours: None,
        }
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(1, 5, false), 1);
        assert_eq!(tick_step(7, 5, false), 2);
        assert_eq!(tick_step(23, 5, false), 5);
        assert_eq!(tick_step(180, 5, false), 50);
        assert_eq!(tick_step(90_000, 5, true), 30_000);
        assert_eq!(tick_step(4 * 3_600_000, 5, true), 3_600_000);
    }

    #[test]
    fn a_stacked_chart_says_its_totals_categories_and_legend() {
        let html = chart(Lang::En, &sample(Kind::Stacked)).into_string();
        // Both drawings, each named and described by the figures.
        assert_eq!(html.matches("role=\"img\"").count(), 2);
        assert!(html.contains("aria-describedby=\"c-figures\""));
        assert!(html.contains("Orders &lt;by&gt; week"), "the title escaped");
        // The totals above the bars: 4, 2, 5 (each drawing).
        for total in ["4", "2", "5"] {
            assert!(
                html.contains(&format!("\n{total}\n</text>")),
                "{total}: {html}"
            );
        }
        assert!(html.contains("11/09"));
        // Three bars of New... no: two non-empty New, two non-empty Returning, per drawing.
        let wide =
            &html[html.find("class=\"wide\"").unwrap()..html.find("class=\"narrow\"").unwrap()];
        assert_eq!(wide.matches("fill=\"#1F5F99\"").count(), 2, "{wide}");
        assert_eq!(wide.matches("fill=\"#C25E00\"").count(), 2, "{wide}");
        assert!(html.contains("class=\"key\""), "a legend");
        assert!(html.contains("id=\"c-figures\""), "its own table");
    }

    #[test]
    fn every_kind_draws() {
        for kind in [Kind::Bars, Kind::Stacked, Kind::Horizontal, Kind::Lines] {
            let html = chart(Lang::Ja, &sample(kind)).into_string();
            assert_eq!(html.matches("<svg").count(), 2, "{kind:?}");
            assert!(html.contains("11/16"), "{kind:?}");
        }
        // Nothing to show still draws an axis.
        let mut empty = sample(Kind::Bars);
        empty.categories.clear();
        empty.series.clear();
        assert_eq!(
            chart(Lang::En, &empty)
                .into_string()
                .matches("<svg")
                .count(),
            2
        );
    }
}
