//! One figure beside its raw baseline: printed as a table row, or with `--json` as one line
//! `{"figure", "value", "unit", "baseline", "ratio"}`.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// Stable name, e.g. `store.append.pg.w32`: later runs compare with earlier ones by it.
    pub figure: String,
    pub value: f64,
    pub unit: String,
    /// The same work done by the raw part underneath, measured in the same run.
    pub baseline: f64,
    /// `value / baseline` (for "lower is better" units the caller states it in the unit).
    pub ratio: f64,
}

impl Figure {
    pub fn new(
        figure: impl Into<String>,
        value: f64,
        unit: impl Into<String>,
        baseline: f64,
    ) -> Self {
        let ratio = if baseline == 0.0 {
            0.0
        } else {
            value / baseline
        };
        Figure {
            figure: figure.into(),
            value,
            unit: unit.into(),
            baseline,
            ratio,
        }
    }
}

/// Collects figures and prints each as soon as it is measured.
pub struct Report {
    json: bool,
    header_printed: bool,
    pub figures: Vec<Figure>,
}

impl Report {
    pub fn new(json: bool) -> Self {
        Report {
            json,
            header_printed: false,
            figures: Vec::new(),
        }
    }

    pub fn push(&mut self, f: Figure) {
        if self.json {
            // serde_json cannot fail on this plain struct of strings and finite floats.
            println!("{}", serde_json::to_string(&f).unwrap_or_default());
        } else {
            if !self.header_printed {
                println!(
                    "{:<40} {:>14} {:<10} {:>14} {:>7}",
                    "figure", "value", "unit", "baseline", "ratio"
                );
                self.header_printed = true;
            }
            println!(
                "{:<40} {:>14.1} {:<10} {:>14.1} {:>7.2}",
                f.figure, f.value, f.unit, f.baseline, f.ratio
            );
        }
        self.figures.push(f);
    }
}

/// The value at percentile `p` (0-100) of samples already sorted (nearest rank); NaN for none.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// The samples in ascending order (NaN last), for [`percentile`].
pub fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v
}
