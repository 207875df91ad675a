# The ops dashboard (services/gateway/src/web/ops.rs).
ops-title = Network operations
ops-refreshes = This page refreshes itself every 30 seconds.
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
