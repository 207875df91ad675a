# The counter's own printer: internet orders received as print data and printed here.
printer-nav = Printer
printer-title = Printed here
printer-intro = Internet orders for this counter come as print data and are printed on { $printer }.
printer-none = This counter has no printer of its own: its orders come from the lab as parcels.
printer-empty = No order has come as print data yet.
printer-col-reception = Reception
printer-col-customer = Customer
printer-col-lab = Lab and its reception
printer-col-state = Where it is
printer-receiving = receiving the data
printer-printing = received as data at { $times }, printing
printer-ready = received as data at { $times }, printed: ready for pickup
printer-failed = received as data at { $times }; cannot be printed: { $reason }
printer-out = Prints are out
