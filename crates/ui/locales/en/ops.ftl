# The ops dashboard (services/gateway/src/web/ops.rs).
ops-title = Network operations
ops-refreshes = Refresh the figures every 10 seconds
ops-stages = Orders by stage and site
ops-stages-here = Placed through this gateway
ops-stages-network = Every order on the status stream (walk-in orders at counters included)
ops-stage = Stage
ops-last-stage = Last stage
ops-lab = Lab
ops-counter = Counter
ops-orders = Orders
ops-none = Nothing yet.
ops-balances = Money between counters and labs
ops-charged = Charged by the lab
ops-collected = Collected by the counter
ops-settled = Settled
ops-owed = Owed to the lab
ops-balances-scope = Charged: the lab's charges of the orders dispatched to the counter or later. Owed: what the counter collected for the lab and has not settled yet.
ops-unattributed = { $count ->
    [one] One dispatched order is not in the balances: its lab, counter or lab charge was not heard.
   *[other] { $count } dispatched orders are not in the balances: their lab, counter or lab charge was not heard.
}
ops-placed-24h = Orders placed in the last 24 hours, per hour
ops-chart-label = Orders placed per hour over the last 24 hours
ops-chart-now = now
ops-backlog = Messages waiting to be sent
ops-backlog-count = { $count ->
    [one] One message is waiting in this gateway's outbox.
   *[other] { $count } messages are waiting in this gateway's outbox.
}
ops-lag = Messages not yet handled, per consumer
ops-consumer = Consumer
ops-lag-messages = Waiting
ops-duration-s = { $s } s
ops-duration-m = { $m } min
ops-duration-hm = { $h } h { $m } min
ops-duration-dh = { $d } d { $h } h
ops-ago = { $time } ago
ops-so-far = { $time } so far
ops-health-good = Good
ops-health-late = Late
ops-health-down = Silent
ops-summary-down = { $count ->
    [one] One site silent
   *[other] { $count } sites silent
}
ops-summary-late = { $count ->
    [one] One site late
   *[other] { $count } sites late
}
ops-summary-stuck = { $count ->
    [one] One order stuck
   *[other] { $count } orders stuck
}
ops-health = Sites
ops-site = Site
ops-state = State
ops-last-heartbeat = Last heard
ops-version = Version
ops-kind-lab = Lab
ops-kind-counter = Counter
ops-health-scope = A site is late when it missed two of its heartbeats, silent after three; its queues are as it reported them with its last heartbeat (a site offline cannot report: its count shows again when it is back). The thresholds are in the gateway's settings.
ops-gateway = This gateway
ops-what = What
ops-stuck = Orders waiting too long
ops-order = Order
ops-since = In this stage since
ops-waiting = Waiting
ops-threshold = limit { $time }
ops-none-stuck = No order is waiting longer than its limit.
ops-legs = How long each step takes
ops-legs-scope = Per lab and per counter, over the steps finished in the last 7 days: half of the orders took less than p50, 95 in 100 less than p95.
ops-legs-chart-label = Time each step takes (dark bar p50, pale bar p95)
ops-legs-axis = time taken
ops-leg = Step
ops-csv = Download the balances (CSV)
ops-daily = Day by day
ops-day = Day
ops-order-title = Order { $order }
ops-back = Back to network operations
ops-when = When
ops-took = Until the next step
ops-detail = Detail
ops-site-lag = Waiting to be handled
ops-site-backlog = Waiting to be sent
ops-site-parked = Set aside
ops-site-error = Last error
ops-not-said = not reported
ops-money-orders = The orders behind this balance: the lab's charge of each, whether the counter collected it from the customer and whether it was settled with the lab.
ops-yes = Yes
ops-no = No
ops-from = From
ops-show = Show
ops-period-owed = Collected and not settled in the period
ops-stages-over-time = Orders in each stage, hour by hour
ops-stages-over-time-scope = How many orders were in each stage at the end of each hour of the last 24 hours (the last bar: now), from the statuses every site sent. Settled, cancelled and refused orders are in none.
ops-stages-chart-label = Orders in each stage at the end of each hour over the last 24 hours
ops-stages-figures = The figures, hour by hour
ops-hour = Hour
ops-trace = Trace
ops-no-error = None
ops-to = To
ops-period-clear = The last 24 hours and all the money
ops-period-scope = The days chosen apply to the orders in each stage and to the money; the health, the stuck orders and the legs (the last 7 days) are always now.
ops-stages-hours-scope = How many orders were in each stage at the end of each hour from { $from } to { $to }, from the statuses every site sent. Settled, cancelled and refused orders are in none.
ops-stages-days-scope = How many orders were in each stage at the end of each day from { $from } to { $to }, from the statuses every site sent. Settled, cancelled and refused orders are in none.
ops-stages-over-time-days = Orders in each stage, day by day
ops-stages-chart-label-days = Orders in each stage at the end of each day of the period
ops-stages-figures-days = The figures, day by day
ops-at-last-heartbeat = at its last heartbeat
ops-stages-clamped = The chart shows the last { $days } days of the period.
