# Day close and statements of the lab's share (issue 15): the counter's takings page and the
# lab console's statements page.
money-orders = { $count ->
    [one] 1 order
   *[other] { $count } orders
}
money-amount = Amount
money-collected-on = Collected on
money-confirmed-by = Confirmed by { $who } at { $at }
money-prev-day = Previous day
money-next-day = Next day
money-today = Today
money-close-title = Day close
money-cash-expected = Cash taken (should be in the till)
money-till-counted = Cash counted
money-till-difference = Difference
money-till-over = { $amount } over
money-till-short = { $amount } short
money-till-even = The till is right
money-till-count-label = Cash counted in the till
money-till-record = Record the count
money-till-none = The till has not been counted for this day.
money-till-by = Counted by { $who } at { $at }
money-till-recorded = The count was recorded.
money-statements-title = Statements to the labs
money-statements-explain = The labs' share collected here is paid by statement: each lists the orders collected for a lab and not yet on a statement; the lab confirms it.
money-statement-send = Send statements up to this day
money-statement-sent-count = { $count ->
    [0] Nothing to state: every order collected up to this day is on a statement.
    [one] 1 statement sent.
   *[other] { $count } statements sent.
}
money-statement-head = { $lab }, up to { $through }
money-state-sent = Sent, waiting for the lab
money-state-confirmed = Confirmed by the lab
money-no-statements = No statement yet.
money-ledger-title = Ledger with each lab
money-ledger-collected = Collected for the lab
money-ledger-settled = Settled
money-ledger-open = On open statements
money-ledger-not-stated = Not yet on a statement
money-ledger-balances = Balances
money-ledger-off = Does not balance
money-col-reception = Reception
money-lab-nav-statements = Statements
money-lab-statements-title = Statements from the counters
money-lab-stated = On statements
money-lab-confirmed = Confirmed
money-lab-open = Open
money-lab-no-statements = No statement has arrived yet.
money-lab-statement-head = { $counter }, up to { $through }
money-lab-received = received
money-lab-reception = Lab reception
money-lab-confirm = Confirm this statement
money-ledger-collected-day = Collected for the lab this day
