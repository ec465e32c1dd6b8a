"""The pages benchmarks/lighthouse.sh audits, each with the session cookie of the role that
sees it: logs in through the login form (CSRF token included) on a running server and picks
the ids (a product with listings, one of the buyer's orders) from the demo database. Each page
is requested once before it is audited, so the audit sees a warm server, not the first request
after start (which compiles its templates).

Writes each page's extra headers (the Cookie) to <folder>/headers-<n>.json and prints one line per
page: n, name and URL, tab-separated. Reads DATABASE_URL like the app.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import re
import sys
import urllib.parse
import urllib.request

from sqlalchemy import func, select

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
COOPERATIVE = "310 000 0000"
BUYER = "compras01@empresa-demo.co"
STAFF = "seguimiento@mercadorural.co"


def session_headers(base: str, login: str, password: str) -> dict:
    """Log in like a browser and return the Cookie header that carries the session."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/entrar", timeout=30).read().decode()
    token = CSRF_RE.search(page)
    if not token:
        sys.exit("No CSRF token on the login page.")
    body = urllib.parse.urlencode({"csrf_token": token.group(1), "identifier": login, "password": password})
    answer = opener.open(f"{base}/entrar", data=body.encode(), timeout=30)
    if "/entrar" in urllib.parse.urlparse(answer.geturl()).path:
        sys.exit(f"Could not log in as {login}.")
    return {"Cookie": "; ".join(f"{c.name}={c.value}" for c in jar)}


def ids() -> dict:
    """A product with the most listings, one of the demo buyer's orders, and the demo password."""
    from marketplace import create_app
    from marketplace.accounts.models import User
    from marketplace.catalog.models import Listing
    from marketplace.extensions import db
    from marketplace.orders.models import Order

    app = create_app()
    with app.app_context():
        product_id = db.session.scalar(select(Listing.product_id).group_by(Listing.product_id)
                                       .order_by(func.count().desc(), Listing.product_id).limit(1))
        buyer = db.session.scalar(select(User).where(User.email == BUYER))
        order_id = db.session.scalar(select(Order.id).where(Order.buyer_id == buyer.organisation.id)
                                     .order_by(Order.id.desc()).limit(1))
    return {"product": product_id, "order": order_id, "password": app.config["DEMO_PASSWORD"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("base", help="e.g. http://127.0.0.1:5190")
    parser.add_argument("folder", help="where to write headers-<n>.json")
    args = parser.parse_args()
    base = args.base.rstrip("/")
    if not base.startswith(("http://", "https://")):
        sys.exit("The base must be an http(s) address.")
    found = ids()
    coop = session_headers(base, COOPERATIVE, found["password"])
    buyer = session_headers(base, BUYER, found["password"])
    staff = session_headers(base, STAFF, found["password"])
    pages = [
        ("inicio", "/", {}),
        ("entrar", "/entrar", {}),
        ("oferta nueva (cooperativa)", f"/ofertas/nueva?producto={found['product']}", coop),
        ("buscar (comprador)", f"/buscar?producto={found['product']}", buyer),
        ("pedido (comprador)", f"/pedidos/{found['order']}", buyer),
        ("tendencias (equipo)", f"/seguimiento/tendencias?producto={found['product']}", staff),
    ]
    for n, (name, path, headers) in enumerate(pages, start=1):
        # One request first, as a running server has had: templates compiled, caches filled.
        warm = urllib.request.Request(base + path, headers=headers)  # noqa: S310 (http, checked above)
        urllib.request.urlopen(warm, timeout=60).read()  # noqa: S310
        with open(f"{args.folder}/headers-{n}.json", "w") as f:
            json.dump(headers, f)
        print(f"{n}\t{name}\t{base}{path}")


if __name__ == "__main__":
    main()
