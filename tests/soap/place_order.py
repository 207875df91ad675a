#!/usr/bin/env python3
"""A kiosk that speaks SOAP: places an order with the gateway's SOAP 1.1 binding, and follows it.

The client is zeep (https://docs.python-zeep.org), a SOAP client from outside the project: it
reads the WSDL at <url>/soap/v1?wsdl and builds every envelope from it. The kiosk logs in as
the JSON API's clients do (POST /api/v1/session: the session cookie and its X-CSRF-Token), and
sends both with every SOAP call.

  place_order.py place  --url U --email E --password P --lab L --counter C [--quantity N] PHOTO...
      the locale, the list of services and the ICC profiles of the lab; an order identifier;
      the storage size requirement; each photo uploaded as binary data (base64Binary); an upload
      over the reservation refused with a SOAP fault; the order submitted (the first photo with
      its source profile, Adobe RGB) and its status.
  place_order.py follow --url U --email E --password P --order O --until reception|completed
      [--timeout S]: asks GetOrderStatus until the lab's reception number is there, or until
      the order is completed.
  place_order.py reorder --url U --email E --password P --order O
      re-orders O by reference (the same photos, nothing uploaded); prints the new order's status.

Each prints one JSON document on stdout (what the Rust test checks); progress goes to stderr.
"""

import argparse
import datetime
import json
import os
import sys
import time

import requests
import zeep
from zeep.helpers import serialize_object
from zeep.transports import Transport


def say(*args):
    print("place_order.py:", *args, file=sys.stderr, flush=True)


def log_in(url, email, password):
    """The session of the JSON API: its cookie stays in the requests session, its CSRF token goes
    in a header on every call."""
    s = requests.Session()
    r = s.post(url + "/api/v1/session", json={"email": email, "password": password}, timeout=30)
    r.raise_for_status()
    s.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return s


def service(url, session):
    client = zeep.Client(url + "/soap/v1?wsdl", transport=Transport(session=session, timeout=60))
    # The address of the WSDL's soap:address is the one the gateway was asked at; say it anyway.
    return client, client.create_service("{urn:reprint:soap:v1}ReprintBinding", url + "/soap/v1")


def plain(obj):
    """A zeep object as JSON-able data."""

    def default(o):
        if isinstance(o, (datetime.datetime, datetime.date)):
            return o.isoformat()
        if isinstance(o, bytes):
            return o.decode("ascii", "replace")
        return str(o)

    return json.loads(json.dumps(serialize_object(obj, dict), default=default))


def place(args):
    session = log_in(args.url, args.email, args.password)
    client, soap = service(args.url, session)

    locale = soap.GetLocale(site=args.lab)
    say("locale of", args.lab, locale.currency, locale.language, locale.timeZone, list(locale.size))
    catalog = soap.GetCatalog(site=args.lab)
    say("services of", args.lab, [p.code for p in catalog.product])
    profiles = soap.GetIccProfiles(site=args.lab)
    say("ICC profiles of", args.lab, list(profiles.iccProfile),
        [(p.name, p.printer, p.paper) for p in profiles.printerProfile])

    created = soap.CreateOrder(idempotencyKey="kiosk-" + os.urandom(8).hex())
    order = created.order
    say("order", order)

    photos = []
    for path in args.photos:
        with open(path, "rb") as f:
            photos.append((os.path.basename(path), f.read()))
    need = sum(len(b) for _, b in photos)
    reservation = soap.ReserveStorage(order=order, bytes=need)
    say("reserved", reservation.reserved, "bytes until", reservation.expiresAt)

    images = []
    for name, data in photos:
        # zeep writes bytes as xs:base64Binary.
        up = soap.UploadImage(order=order, name=name, data=data)
        say("uploaded", name, up.image, up.width, "x", up.height, "remaining", up.remaining)
        images.append(up.image)

    # The reservation is used up: one byte more is refused with a SOAP fault, not a 5xx.
    over_reservation = None
    try:
        soap.UploadImage(order=order, name="extra.jpg", data=photos[0][1])
    except zeep.exceptions.Fault as fault:
        detail = fault.detail
        kind = detail.find("{urn:reprint:soap:v1}problem/{urn:reprint:soap:v1}type") if detail is not None else None
        status = detail.find("{urn:reprint:soap:v1}problem/{urn:reprint:soap:v1}status") if detail is not None else None
        over_reservation = {
            "code": fault.code,
            "message": fault.message,
            "type": kind.text if kind is not None else None,
            "status": int(status.text) if status is not None else None,
        }
        say("over the reservation:", over_reservation)

    status = soap.SubmitOrder(
        order=order,
        lab=args.lab,
        counter=args.counter,
        item=[{"image": i, "size": "L", "quantity": args.quantity} for i in images],
        # The first photo has no profile embedded: it was taken in Adobe RGB.
        sourceProfile=[{"image": images[0], "named": "Adobe RGB (1998)"}],
        idempotencyKey="submit-" + order,
    )
    say("submitted:", status.stage)
    print(
        json.dumps(
            {
                "order": order,
                "images": images,
                "locale": plain(locale),
                "services": [p.code for p in catalog.product],
                "icc_profiles": list(profiles.iccProfile),
                "printer_profiles": [p.name for p in profiles.printerProfile],
                "reserved": reservation.reserved,
                "over_reservation": over_reservation,
                "submitted": plain(status),
            }
        )
    )


def follow(args):
    session = log_in(args.url, args.email, args.password)
    _, soap = service(args.url, session)
    deadline = time.monotonic() + args.timeout
    last = None
    while True:
        status = soap.GetOrderStatus(order=args.order)
        if last != status.stage:
            say("order", args.order, "is", status.stage)
            last = status.stage
        done = status.labReception is not None if args.until == "reception" else status.completed
        if done:
            print(json.dumps(plain(status)))
            return
        if time.monotonic() > deadline:
            say("gave up after", args.timeout, "s:", plain(status))
            sys.exit(3)
        time.sleep(0.3)


def reorder(args):
    """Re-order by reference: the same photos again, nothing uploaded."""
    session = log_in(args.url, args.email, args.password)
    _, soap = service(args.url, session)
    status = soap.ReorderOrder(order=args.order, idempotencyKey="again-" + args.order)
    say("re-ordered", args.order, "as", status.order, status.stage)
    print(json.dumps(plain(status)))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["place", "follow", "reorder"])
    p.add_argument("--url", required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--lab")
    p.add_argument("--counter")
    p.add_argument("--quantity", type=int, default=1)
    p.add_argument("--order")
    p.add_argument("--until", choices=["reception", "completed"], default="completed")
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("photos", nargs="*")
    args = p.parse_intermixed_args()
    if args.mode == "place":
        if not (args.lab and args.counter and args.photos):
            p.error("place needs --lab, --counter and at least one photo")
        place(args)
    else:
        if not args.order:
            p.error(args.mode + " needs --order")
        (follow if args.mode == "follow" else reorder)(args)


if __name__ == "__main__":
    main()
