# Images sent on (seed 000, claims 5, 6, 15 f-g): an order's photos to another lab or to a
# counter that prints, from the order's page, without uploading them again.

send-on-title = Send these photos on
send-on-lead = Have the photos of this order printed somewhere else: at another lab (for another size or product), again at the same lab, or at a shop with its own printer. Nothing is uploaded again, and their print history goes with them.
send-on-not-placed = Only an order that was placed can be sent on.
send-on-back = Back to the order
send-on-where = Where should the photos go?
send-on-nowhere = No lab or shop that prints can be reached just now. Please try again later.
send-on-lab = Lab
send-on-lab-first = Lab (the one that printed this order)
send-on-counter = Shop with its own printer (made by { $lab } and printed here)
send-on-prints = Prints: { $sizes }
send-on-has-index = Also an index print: all photos numbered on one sheet
send-on-choose-site = Choose the photos
send-on-photos = Photos to print at { $site }
send-on-pick = Send { $name }
send-on-size = Size
send-on-copies = Copies
send-on-index = Add an index print of all photos
send-on-index-what = (one sheet per order, every photo numbered)
send-on-see-price = See the price
send-on-quote = Price and pickup
send-on-confirm = Send the photos and place the order
send-on-no-quote = This cannot be ordered as chosen: { $reason }
send-on-none-picked = choose at least one photo
send-on-sent-from = Sent on from your order
send-on-reordered-from = Ordered again from your order
