intake-price-it = Price it
intake-price-again = Price again with these choices
intake-options = Lab and prints
intake-photos = { $count ->
    [one] One photo on the card
   *[other] { $count } photos on the card
}
intake-from-dpof = chosen on the camera
intake-select-all = Select all
intake-select-none = Select none
intake-skipped = Left out (damaged or not a photo):
intake-skipped-reason = cannot be printed, left out
intake-size-of = Size of { $name }
intake-prints-of = Prints of { $name }
intake-low-resolution = Low resolution for this size ({ $width } × { $height } px)
intake-price-title = Price before taking in
intake-counter-charge = This counter's charge
intake-lab-charge = The lab's charge
intake-lab-unpriced = The lab could not be asked for its price just now; it is charged at pickup.
intake-total = Total the customer pays
intake-ready-by = Ready by
intake-repeat-title = This card was taken in within the last hour.
intake-repeat-detail = The same photos were taken in as { $reception } a moment ago. Take them in again only if the customer wants a second order.
intake-repeat-confirm = Yes, take the same card in again
intake-registration-short = Registration no.
intake-read-card = Read the card in the reader
# Pickup at another counter (seed 004, item (6)).
intake-pickup-at = Pick up at
intake-pickup-here = This counter
intake-copy-on = Digital copy on a medium
intake-copy-none = None (prints only)
intake-copy-medium = { $medium } · { $price }
intake-pickup-charge = { $counter }'s charge (paid there at pickup)
intake-pickup-unpriced = { $counter } could not be asked for its price just now; it charges at pickup.
