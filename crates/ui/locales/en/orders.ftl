# The user's orders (services/gateway/src/web/orders.rs): history, status, slip, re-order.
orders-title = Your orders
orders-none = You have no orders yet. Choose photos in your album to order prints.
orders-go-album = Go to the album
orders-reception = Reception { $number }
orders-order-id = Order …{ $id }
orders-placed-on = Placed { $time }
orders-details = Details
orders-again = Order again
orders-amount-due = Amount due: { $amount }
orders-amount-lab = Lab charge { $amount }, plus the counter's charge

orders-status-title = Your order
orders-draft = Not placed yet
orders-progress = Progress
orders-ended-cancelled = This order was cancelled. Nothing will be printed and nothing is due.
orders-ended-rejected = The lab could not accept this order. Nothing will be printed and nothing is due.
orders-ended-reason = Reason: { $reason }
orders-ready-by = Ready about { $time }
orders-print-slip = Print the slip
orders-slip-hint = Show the slip (on paper or on your phone) when you collect your prints.
orders-cancel = Cancel this order
orders-cancel-confirm = Cancel this order? The lab will not print it and nothing will be due.
orders-cancel-yes = Yes, cancel the order
orders-cancel-refused = This order can no longer be cancelled: the lab has started printing it.
orders-items = Your prints
orders-copies = { $count ->
    [one] 1 copy
   *[other] { $count } copies
}
orders-pickup = Where to collect
orders-lab = Printed by
orders-hours = Opening hours
orders-hours-line = { $days } { $opens }–{ $closes }
orders-amount = Amount due at the counter
orders-amount-estimate = Estimated amount due at the counter
orders-estimate-note = An estimate: the counter works out its own charge when your prints arrive.
orders-amount-unknown = The amount will be shown here once the lab and the counter have priced your order.
orders-at-lab = { $site } (lab)
orders-at-counter = { $site } (counter)
orders-total = To pay when you collect
orders-history = History
orders-live-note = This page updates itself.

orders-line-basic = Basic charge
orders-line-prints = { $name }: { $size } × { $count }
orders-line-discount = Discount on { $what }: { $percent }% off
orders-line-waived = { $what } waived
orders-why = ({ $why })

orders-event-placed = You placed the order.
orders-event-received = { $lab } received your order.
orders-event-received-number = { $lab } received your order as reception { $number }.
orders-event-printing = Your prints are being made at { $lab }.
orders-event-printed = Your prints are made.
orders-event-printed-at = Printed at { $counter }: your prints are made.
orders-event-dispatched = { $lab } sent your prints to { $counter }.
orders-event-ready = Your prints are at { $counter }.
orders-event-collected = You collected your prints at { $counter }.
orders-event-settled = The order is complete.
orders-event-rejected = { $lab } could not accept the order.
orders-event-cancelled-by-you = You cancelled the order.
orders-event-cancelled = The order was cancelled.

orders-slip-title = Reception slip
orders-slip-none = There is no slip yet: the lab has not received the order.
orders-slip-ended = This order was cancelled or not accepted: there is nothing to collect.
orders-slip-reception = Reception number
orders-slip-registration = Registration number
orders-slip-name = Name
orders-slip-received = Received
orders-slip-ready = Ready about
orders-slip-qr = QR code of reception number { $number }
orders-slip-print = Print
orders-slip-back = Back to the order

orders-reorder-title = Order these prints again
orders-reorder-lead = The same photos, sizes and copies, printed and collected at the same places. Check the price, then confirm.
orders-reorder-confirm = Confirm and place the order
orders-reorder-cancel = Back to your orders
orders-reorder-unavailable = This order cannot be ordered again: { $reason }
orders-reorder-no-quote = No price could be had right now: { $reason }. Try again in a moment.
orders-reorder-not-placed = it was never placed

orders-days-mon = Mon
orders-days-tue = Tue
orders-days-wed = Wed
orders-days-thu = Thu
orders-days-fri = Fri
orders-days-sat = Sat
orders-days-sun = Sun
orders-days-every = Every day

orders-size-L = L (89 × 127 mm)
orders-size-2L = 2L (127 × 178 mm)
orders-size-KG = KG (102 × 152 mm)
orders-size-DSC = DSC (89 × 119 mm)
orders-size-Hagaki = Postcard (100 × 148 mm)
orders-size-Square = Square (89 × 89 mm)
orders-size-4x6 = 4 × 6 in (102 × 152 mm)
orders-size-5x7 = 5 × 7 in (127 × 178 mm)
orders-size-8x10 = 8 × 10 in (203 × 254 mm)
orders-size-Index = index print (every photo numbered, one L sheet)

orders-why-previous = your previous order here was on { $date }
orders-why-first = your first order here was on { $date }
orders-why-printed = printed here before, on { $date }
orders-why-registered = a member here since { $date }
