# The words of every chart (crates/ui/src/chart.rs), Japanese.

chart-figures = このグラフの数値
