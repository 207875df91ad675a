# The lab's operator console (services/lab/src/web), English.

lab-nav-queue = Queue
lab-nav-dispatch = Dispatch
lab-nav-ledger = Ledger
lab-log-out = Log out
lab-log-in = Log in
lab-login-name = Name
lab-login-password = Password
lab-login-give-both = Give a name and a password.
lab-not-done = Not done
lab-back-to-queue = Back to the queue
lab-none = None.
lab-yes = Yes
lab-no = No

lab-search-label = Find a reception
lab-search-placeholder = Reception no., slip no., telephone, name
lab-search-button = Find
lab-search-title = Find a reception
lab-search-found = { $count ->
    [0] Nothing found for “{ $q }”.
    [one] One reception found for “{ $q }”.
   *[other] { $count } receptions found for “{ $q }”.
}

lab-state-received = Waiting
lab-state-printing = Printing
lab-state-printed = Printed
lab-state-dispatched = Sent to the counter
lab-state-collected = Collected
lab-state-settled = Settled
lab-state-rejected = Rejected
lab-state-cancelled = Cancelled

lab-route-internet = Internet
lab-route-counter = Counter (medium)
lab-size-postcard = Postcard

lab-queue-title = Queue
lab-queue-summary = { $waiting } waiting, { $printing } printing, { $printed } printed
lab-updated = Updated
lab-filters = Filters
lab-filter-all = All
lab-filter-show = Show
lab-filter-clear = Clear filters
lab-col-counter = Delivery counter
lab-col-printer = Printer
lab-col-size = Size
lab-col-route = Route
lab-col-due = Ready by
lab-col-reception = Reception no.
lab-col-received = Received
lab-col-data-start = Data received from
lab-col-data-finish = Data received until
lab-col-prints = Prints
lab-col-amount = Amount
lab-col-state = State
lab-col-at = When
lab-col-by = By
lab-col-note = Note
lab-due-late = Late
lab-due-hour = Due within the hour
lab-due-today = Due today
lab-due-at = Ready by
lab-due-was = Late, was due
lab-counter-slip = Counter slip no.
lab-per-printer = Per printer
lab-per-counter = Per delivery counter
lab-count-receptions-prints = { $receptions ->
    [one] 1 order
   *[other] { $receptions } orders
}, { $prints ->
    [one] 1 print
   *[other] { $prints } prints
}

lab-batch-title = Start printing in one go
lab-batch-start = { $printer }, { $size }: start { $receptions ->
    [one] 1 order
   *[other] { $receptions } orders
} ({ $prints ->
    [one] 1 print
   *[other] { $prints } prints
})
lab-batch-done-title = Printing started
lab-batch-done = { $count ->
    [0] Nothing was waiting for { $printer }, { $size }.
    [one] One order started on { $printer }, { $size }.
   *[other] { $count } orders started on { $printer }, { $size }.
}
lab-batch-failed = Could not start

lab-action-start = Start printing
lab-action-finished = Prints finished
lab-action-dispatch = Send to the counter

lab-reception = Reception
lab-warnings = Check before printing
lab-warn-low-resolution = too few pixels for this size: { $dpi } dpi on paper, { $wanted } wanted
lab-warn-profile = its colour profile could not be used ({ $reason }); printed as sRGB
lab-reprints = Printed here before
lab-reprint-line = the same photo was printed here on { $on } (reception { $reception })
lab-prints = Prints
lab-user-id-area = User ID area
lab-reception-area = Reception contents area
lab-registration-number = Registration no.
lab-name = Name
lab-telephone = Telephone
lab-address = Address
lab-email = E-mail
lab-registered = Registered
lab-images-prints = { $images ->
    [one] 1 photo
   *[other] { $images } photos
}, { $prints ->
    [one] 1 print
   *[other] { $prints } prints
}
lab-file-open = Open
lab-file-collected = Collected
lab-file-cancelled = Cancelled
lab-charge = Charge
lab-total = Total
lab-production-log = Production
lab-digital-copy = Digital copy
lab-reject-reason = Reject, with the reason the customer will read
lab-reject = Reject

lab-dispatch-title = Send to the counters
lab-dispatch-nothing = No printed order is waiting to be sent.
lab-dispatch-all = Send these { $count } to { $counter } and print the packing list
lab-packing-title = Packing list for { $counter }
lab-print-list = Print the list

lab-ledger-title = Ledger per delivery counter
lab-ledger-charged = Charged
lab-ledger-collected = Collected by the counter
lab-ledger-paid = Paid
lab-ledger-owed = Owed

lab-nav-printers = Printers
lab-printers-title = Printers
lab-rated = rated { $count } prints an hour
lab-hot-folder-unreadable = The hot folder cannot be read
lab-job-waiting = Waiting for the station
lab-job-taken = Taken by the station
lab-job-done = Done
lab-job-failed = Failed
lab-job-void = Withdrawn
lab-job-old = Waiting over 30 minutes
lab-job-done-hour = Done in the last hour
lab-job-folder = Job
lab-job-written = Written
lab-scan-code = Scan at the counter
lab-reject-image = Do not print this image…
lab-reject-image-why = Why (the customer reads this)
lab-reject-why-damaged = The image data is damaged and cannot be read.
lab-reject-why-resolution = The image's resolution is too low for this print size.
lab-reject-why-content = The image's content cannot be printed here.
lab-reject-why-other = Another reason (write it below)
lab-reject-image-text = In your own words (needed for another reason)
lab-reject-image-confirm = Yes, leave this image out of the order
lab-reject-image-button = Leave this image out
lab-reject-image-done = Not printed: rejected by the lab
lab-reject-image-last = This is the last image to print: leaving it out rejects the whole order.
lab-reject-image-pick = Pick why the image is not printed.
lab-reject-image-say = Write the reason the customer will read.
lab-reject-image-unconfirmed = Tick the box to confirm that this image is left out.

# The keyboard shortcuts at the foot of every page.
lab-keys = Keys:
lab-key-search = search
lab-key-next = the reception's next step

## Printers: the print jobs on their way to the hot folder (print workers)
lab-print-jobs = Print jobs on their way to the hot folder
lab-pjob-queued = Queued
lab-pjob-rendering = Rendering
lab-pjob-written = Written
lab-pjob-failed = Could not be written
lab-pjob-withdrawn = Withdrawn
lab-pjob-worker = Worker
lab-pjob-none = Every job is in the hot folder.
