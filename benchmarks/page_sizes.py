"""What a cooperative's phone downloads: gzip size of pages with their CSS and scripts.

    .venv/bin/python benchmarks/page_sizes.py

Builds the demo (as `flask seed-demo` does) in a temporary SQLite database, logs in as the
demo cooperative manager and a demo buyer, and measures, gzip-compressed (level 6, as a
typical proxy sends them): the listing form and "my listings" (goal <= 30 KB each,
including CSS and scripts), the buyer's search results (goal <= 60 KB), and every demo
thumbnail (goal <= 20 KB each, already compressed JPEG).
"""

from __future__ import annotations

import gzip
import os
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("APP_ENV", "testing")
os.environ.setdefault("SECRET_KEY", "benchmark-only-secret")

from _machine import demo_app  # noqa: E402  (beside this script)
from sqlalchemy import select  # noqa: E402

from marketplace.extensions import db  # noqa: E402

ASSET = re.compile(r'(?:href|src)="(/static/[^"]+)"')


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6))


def weigh(client, path: str) -> tuple[int, int, list[str]]:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    html = response.data
    assets = sorted(set(ASSET.findall(html.decode())) - {a for a in ASSET.findall(html.decode()) if "favicon" in a})
    total = gz(html)
    for asset in assets:
        total += gz(client.get(asset).data)
    return gz(html), total, assets


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        app = demo_app(folder, WTF_CSRF_ENABLED=False)
        with app.app_context():
            from marketplace.catalog.models import ListingPhoto, Product

            cacao = db.session.scalar(select(Product.id).where(Product.slug == "cacao-grano-seco"))
            thumbs = db.session.scalars(select(ListingPhoto.thumb_key)).all()
        password = app.config["DEMO_PASSWORD"]
        coop = app.test_client()
        assert coop.post("/entrar", data={"identifier": "3100000000", "password": password}).status_code == 302
        buyer = app.test_client()
        assert buyer.post("/entrar", data={"identifier": "compras01@empresa-demo.co",
                                           "password": password}).status_code == 302
        rows = [
            ("listing form", coop, f"/ofertas/nueva?producto={cacao}", 30),
            ("my listings", coop, "/ofertas", 30),
            ("search results", buyer, "/buscar", 60),
        ]
        ok = True
        print(f"{'page':<16} {'HTML gz':>8} {'with CSS/JS gz':>15}  goal")
        for label, client, path, goal in rows:
            html, total, assets = weigh(client, path)
            passed = total <= goal * 1024
            ok &= passed
            print(f"{label:<16} {html / 1024:>6.1f} KB {total / 1024:>12.1f} KB  "
                  f"{'PASS' if passed else 'FAIL'} (<= {goal} KB) {path} + {', '.join(a.split('?')[0] for a in assets)}")
        sizes = [len(coop.get(f"/media/{key}").data) for key in thumbs]
        biggest = max(sizes) if sizes else 0
        thumbs_ok = biggest <= 20 * 1024
        ok &= thumbs_ok
        print(f"{'thumbnails':<16} {len(sizes)} demo thumbnails, largest {biggest / 1024:.1f} KB, "
              f"mean {sum(sizes) / max(len(sizes), 1) / 1024:.1f} KB  {'PASS' if thumbs_ok else 'FAIL'} (<= 20 KB each)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
