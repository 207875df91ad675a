# The index print (seed 000, claims 2 and 18): one sheet of every photo of an order, numbered;
# once per order, not a size of a photo.

index-print-choose = Add an index print of all photos (one sheet, every photo numbered)
index-print-price = ({ $price } per sheet)
index-print-line = Index print of all photos, { $count } sheet(s) at { $price }
