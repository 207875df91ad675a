# reprint: the words of every page, English. Keys are shared with ../ja/main.ftl; a message
# missing there falls back to this file.

skip-to-content = Skip to the content
nav-album = Album
nav-orders = Orders
nav-log-in = Log in
nav-log-out = Log out
footer-language = 日本語

stage-placed = Order placed
stage-received = Received by the lab
stage-printing = Printing
stage-printed = Printed
stage-dispatched = On its way to the counter
stage-ready_for_pickup = Ready for pickup
stage-collected = Collected
stage-settled = Completed
stage-rejected = Not accepted by the lab
stage-cancelled = Cancelled

# A count of prints, with its plural.
prints = { $count ->
    [one] { $count } print
   *[other] { $count } prints
}

nav-ops = Ops
nav-sign-up = Sign up
nav-account = Account
language-switch = Language

home-title = Prints of your photos
home-lead = Upload your photos, choose a lab and the counter near you, see the price with every discount explained, and collect your prints when they are ready.
