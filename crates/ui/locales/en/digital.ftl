# The digital copy (seed 000, claims 2 and 18): the originals with their print history in a ZIP,
# ordered with the prints (the album) and downloaded once they are ready (the order page).

digital-line = Digital copy (your originals with their print history, as a ZIP)
digital-choose = Also a digital copy: your originals with their print history, as a ZIP to download when the prints are ready
digital-choose-price = ({ $price } per order)
digital-download = Download your digital copy
digital-download-hint = A ZIP with each photo as you uploaded it and the record of where and when it was printed.
digital-later = Your digital copy can be downloaded here once the prints are ready for pickup.
