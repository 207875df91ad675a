# The counter's terminal (services/counter/src/web/): staff at a 1024 x 768 touch screen.
counter-nav-home = Home
counter-nav-intake = Intake
counter-nav-arrivals = Arrivals
counter-nav-pickup = Pickup
counter-nav-takings = Takings
counter-log-out = Log out
counter-cannot = That did not work
counter-find = Find
counter-scan-label = Scan the slip, or type its number or a telephone number
counter-prints = { $count ->
    [one] 1 print
   *[other] { $count } prints
}

counter-login-title = Staff log-in
counter-login-name = Name
counter-login-password = Password
counter-login-submit = Log in

counter-home-title = Counter
counter-online = Connected to the network.
counter-offline = Offline: intake and pickup go on; messages wait and go out when the network is back.
counter-home-intake = A customer hands over a card
counter-home-pickup = Slip or telephone number
counter-home-arrivals = Ready, on the way, notices
counter-home-takings = Today's payments

counter-intake-title = Walk-in intake
counter-intake-customer = Customer
counter-intake-registration = Registration number (this counter's card)
counter-intake-telephone = Telephone
counter-intake-name = Name
counter-intake-medium = Card and prints
counter-intake-zip = The card as a ZIP file
counter-intake-files = or the photos
counter-intake-lab = Lab
counter-intake-size = Size
counter-intake-quantity = Prints of each photo
counter-intake-dpof = A print order on the card (chosen on the camera) decides which photos and how many.
counter-intake-submit = Take in and print the slip

counter-item-image = Photo
counter-item-size = Size
counter-item-prints = Prints

counter-size-L = L (89 × 127 mm)
counter-size-2L = 2L (127 × 178 mm)
counter-size-KG = KG (102 × 152 mm)
counter-size-DSC = DSC (89 × 119 mm)
counter-size-Hagaki = Postcard (100 × 148 mm)
counter-size-Square = Square (89 × 89 mm)
counter-size-4x6 = 4 × 6 in (102 × 152 mm)
counter-size-5x7 = 5 × 7 in (127 × 178 mm)
counter-size-8x10 = 8 × 10 in (203 × 254 mm)
counter-size-Index = index print (every photo numbered, one L sheet)

counter-line-basic = Basic charge
counter-line-digital-copy = Digital copy (the originals as a ZIP, downloaded by the customer)
counter-line-medium-cd = Digital copy on CD
counter-line-medium-dvd = Digital copy on DVD
counter-line-medium-usb_stick = Digital copy on USB stick
counter-medium-cd = CD
counter-medium-dvd = DVD
counter-medium-usb_stick = USB stick
counter-medium-title = Digital copy
counter-medium-waiting = On a { $medium }: waiting to be written for the writer
counter-medium-written = On a { $medium }: written for the writer, to be burned and handed over with the prints
counter-medium-failed = On a { $medium }: cannot be written ({ $reason }). Tell the customer and write it again by hand.
counter-medium-withdrawn = On a { $medium }: withdrawn from the writer ({ $reason })
counter-line-prints = { $size } × { $count }
counter-line-discount = { $what }: { $percent }% off
counter-line-waived = { $what }: waived

counter-state-placed = Taken in, not at the lab yet
counter-state-received = At the lab
counter-state-arrived = Sent by the lab, not checked in yet
counter-state-ready_for_pickup = Ready for pickup
counter-state-collected = Collected
counter-state-settled = Collected and settled
counter-state-rejected = Not accepted by the lab
counter-state-cancelled = Cancelled
counter-state-handed_on = Handed on to the pickup counter

counter-method-cash = Cash
counter-method-card = Card
counter-method-e-money = E-money
counter-method-qr = QR code

counter-slip-title = Reception slip
counter-slip-number = Reception number
counter-slip-customer = Customer
counter-slip-received = Taken in
counter-slip-ready-by = Ready by
counter-slip-lab = Printed by
counter-slip-qr = QR code of reception { $number }
counter-slip-owed = To pay at pickup
counter-slip-counter-charge = This counter's charge
counter-slip-lab-later = plus { $lab }'s charge for { $count ->
    [one] 1 print
   *[other] { $count } prints
}, known when they arrive; paid together here
counter-slip-bring = Bring this slip when you collect your prints.
counter-slip-cancelled = CANCELLED
counter-slip-cancelled-at = Cancelled { $time }. Nothing is printed and nothing is due.
counter-slip-print = Print the slip
counter-slip-next = Next customer
counter-slip-to-pickup = Open the order
counter-slip-paper = Prints on 80 mm receipt paper, A6 or A4, on one page.

counter-cancel = Cancel the order…
counter-cancel-title = Cancel this order?
counter-cancel-what = { $count ->
    [one] 1 print
   *[other] { $count } prints
} for { $lab }.
counter-cancel-lab = The lab is told at once. If it has already started printing, the prints still come and the order stays cancelled here.
counter-cancel-why = Why
counter-cancel-reason-0 = The customer asked to cancel
counter-cancel-reason-1 = Taken in by mistake (wrong card, size or lab)
counter-cancel-yes = Yes, cancel the order
counter-cancel-no = No, keep it

counter-arrivals-title = Arrivals
counter-arrivals-notices = Notices
counter-arrivals-no-notices = No notices.
counter-arrivals-dismiss = Done
counter-arrivals-dismiss-label = Dismiss the notice of { $number }
counter-arrivals-ready = Ready for pickup
counter-arrivals-no-ready = Nothing is waiting for pickup.
counter-arrivals-awaiting = At a lab, not here yet
counter-arrivals-no-awaiting = No orders are out at a lab.
counter-arrivals-stale = Cannot reach the counter's server: this list may be out of date.
counter-notice-rejected = { $lab } did not accept this order: { $reason }. Tell the customer; nothing is due.
counter-notice-cancelled = Cancelled: { $reason }.

counter-col-reception = Reception
counter-col-customer = Customer
counter-col-lab = Lab
counter-col-lab-number = Lab's number
counter-col-state = State
counter-col-when = Arrived / ready by
counter-col-received = Taken in

counter-pickup-title = Pickup and payment
counter-pickup-found = { $count } orders for “{ $q }”
counter-pickup-check = Check against the slip
counter-pickup-prints = Prints
counter-pickup-registered = Registration { $number } · taken in { $time }
counter-pickup-charges = Charges
counter-pickup-lab-charge = { $lab } (the lab)
counter-pickup-lab-not-yet = { $lab }: the prints have not arrived yet
counter-pickup-counter-charge = This counter
counter-pickup-due = Amount due
counter-pickup-not-arrived = Payment is taken when the prints have arrived.
counter-pickup-handed-on = Handed on to { $counter } at { $time }: the lab has the order and sends the prints there, where the customer collects and pays. Nothing more to do here.
counter-pickup-method = Paid by
counter-pickup-tendered = Cash handed over
counter-pickup-exact = exact amount
counter-pickup-collect = Paid, hand the prints over
counter-pickup-paid = Paid
counter-pickup-receipt = Print the receipt
counter-pickup-slip = Show the slip

counter-pay-method = Choose how the customer pays.
counter-pay-not-a-number = Type the cash handed over as a whole amount, or leave it empty for the exact amount.
counter-pay-too-little = { $tendered } is less than the amount due, { $due }.
counter-pay-too-much = { $tendered } is more than { $due } plus { $most } in change: check the amount typed.
counter-pay-not-exact = A { $method } payment is for the amount due exactly: { $due }.

counter-receipt-title = Receipt
counter-receipt-done = Paid. Hand the prints over and give the receipt.
counter-receipt-heading = Receipt
counter-receipt-total = Total
counter-receipt-change = Change
counter-receipt-thanks = Thank you.
counter-receipt-print = Print the receipt
counter-receipt-next = Next customer

counter-takings-title = Takings
counter-takings-day = Day
counter-takings-show = Show
counter-takings-summary = { $count ->
    [one] 1 payment
   *[other] { $count } payments
}: this counter's share { $counter }, the labs' share { $labs }
counter-takings-by-method = By payment method
counter-takings-method = Method
counter-takings-count = Payments
counter-takings-total = Total
counter-takings-by-lab = Per lab
counter-takings-collected = Collected that day
counter-takings-settled = Settled that day
counter-takings-owed = Still owed

counter-problem-invalid = Please check what was typed
counter-problem-medium = The card cannot be taken in
counter-problem-order = The lab cannot take this order
counter-problem-not-found = Not found
counter-problem-foreign = A slip of another counter
counter-problem-refused = Not possible now
counter-problem-unauthorized = Not logged in
counter-problem-unauthorized-detail = Wrong name or password.
counter-problem-expired = This page has expired
counter-problem-expired-detail = Open the page again and repeat what you did.
counter-problem-too-many = Too many attempts
counter-problem-busy = Busy
counter-problem-busy-detail = The counter was busy with the same order; try again.
counter-problem-ours = Something went wrong on our side
counter-problem-ours-detail = It has been recorded. Try again; if it happens again, call support.

counter-refused-not-arrived = The prints have not arrived from the lab yet ({ $state }).
counter-refused-collected = The prints were collected already.
counter-refused-withdrawn = This order is { $state }: nothing more can be done with it.
counter-refused-too-late = Too late to cancel: the prints are here ({ $state }).
counter-refused-reason = Choose why the order is cancelled.
counter-refused-other = The order cannot do that now.

counter-check-in-label = Parcel from a lab: scan its label (the lab's reception number)
counter-check-in = Check in
counter-check-in-done = { $number } ({ $name }) is checked in and ready for pickup.
counter-slip-pickup-at = Collect the prints at
counter-slip-taken-in-at = Taken in at
counter-check-in-parcel-done = The packing list is checked in: { $count } orders are ready for pickup.
