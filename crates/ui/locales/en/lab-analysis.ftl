# The lab's user analysis (services/lab/src/web/analysis.rs), English.

analysis-nav = Analysis
analysis-title = User analysis
analysis-intro = What the individual user files say about the customers: every reception is kept in them for this. Figures for the days chosen, on this site's calendar; cancelled orders are left out.
analysis-from = From
analysis-to = To
analysis-show = Show
analysis-csv = Download as CSV
analysis-nothing = Nothing in these days.
analysis-bad-date = Give the dates as year-month-day, for example 2026-11-18.
analysis-bad-order = The first day comes after the last day.
analysis-too-long = Choose at most three years.
analysis-no-such-table = There is no such table.

analysis-summary-heading = Customers
analysis-weeks-heading = New and returning customers per week
analysis-orders-heading = Orders per customer
analysis-tiers-heading = Days between orders and what the discounts cost
analysis-tiers-note = Each order is counted by the days since the same customer's previous order here, against the lab's discount tiers; the cost is the sum of the discount lines of those orders.
analysis-sites-heading = Other counters and labs the customers use
analysis-sites-note = From the whole individual user files affiliated counters send with their orders: which lab the counter sent each order to, and the counter's own amounts.

analysis-figure = Figure
analysis-value = Value
analysis-customers = Customers
analysis-new = New
analysis-returning = Returning
analysis-orders = Orders
analysis-reprint-orders = Orders with a reprint
analysis-reprint-lines = Reprinted photos
analysis-reprint-prints = Reprinted prints
analysis-week = Week from
analysis-orders-each = Orders each
analysis-or-more = { $n } or more
analysis-tier = Since the previous order
analysis-tier-first = First order here
analysis-tier-later = Later
analysis-tier-days = { $n ->
    [one] Within 1 day
   *[other] Within { $n } days
}
analysis-tier-months = { $n ->
    [one] Within 1 month
   *[other] Within { $n } months
}
analysis-percent = Discount
analysis-days-min = Fewest days
analysis-days-max = Most days
analysis-discounted = Orders with a discount
analysis-discount-cost = Discounts given
analysis-counter = Counter
analysis-lab = Lab
analysis-this-lab = { $lab } (this lab)
analysis-prints = Prints
analysis-counter-amount = Counter's amounts
analysis-labs-heading = The labs the customers' orders went to
analysis-labs-note = From this counter's own individual user files: which lab printed each order, and this counter's amounts.
