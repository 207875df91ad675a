# The words of every chart (crates/ui/src/chart.rs), English.

chart-figures = The figures of this chart
