"""A listing with one phone photo over a weak rural link: before and after the phone shrinks it.

    .venv/bin/python benchmarks/weak_link.py

Builds the demo (as `flask seed-demo` does) in a temporary SQLite database, serves the app on
127.0.0.1, and drives Debian's Chromium (Playwright, headless, 360 x 740 phone) logged in as the
demo cooperative manager. The link is throttled through the DevTools protocol
(Network.emulateNetworkConditions) to 400 kbps down and up (50,000 bytes/s) with 400 ms of
latency. The photo is a 4,000 x 3,000 camera-like JPEG of about 3 MB (quality 95, EXIF
orientation 6, as phones store portrait shots).

It measures, from the tap on "Publicar" to "Oferta publicada." on the next page:
- before: JavaScript off, so the browser posts the original photo (the old behaviour, and still
  what a phone without JavaScript does);
- after: static/js/photo-shrink.js shrinks the photo on the phone to 1,600 px before sending.

Goal: after <= 10 s.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("APP_ENV", "testing")
os.environ.setdefault("SECRET_KEY", "benchmark-only-secret")

from _machine import demo_app, served  # noqa: E402  (beside this script)
from PIL import Image  # noqa: E402
from sqlalchemy import select  # noqa: E402

from marketplace.core.models import bogota_date  # noqa: E402
from marketplace.extensions import db  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 360, "height": 740}
LINK = {"offline": False, "latency": 400, "downloadThroughput": 50_000, "uploadThroughput": 50_000}
GOAL_SECONDS = 10.0


def phone_photo(path: Path) -> int:
    """A 4,000 x 3,000 JPEG of about 3 MB: soft colour gradients with detail at two scales, a
    texture that survives shrinking (about 350 KB at 1,600 px, like a real photo of a harvest)
    and sensor-like grain (which makes the original as heavy as a phone camera's)."""
    size = (4000, 3000)
    grain = Image.effect_noise(size, 9)
    texture = Image.effect_noise((size[0] // 5, size[1] // 5), 60).resize(size, Image.Resampling.BICUBIC)
    ramp = Image.linear_gradient("L").resize(size)
    side = Image.linear_gradient("L").rotate(90).resize(size)

    def channel(base):
        return Image.blend(Image.blend(base, texture, 0.3), grain, 0.1)

    image = Image.merge("RGB", (channel(ramp), channel(side),
                                channel(ramp.transpose(Image.Transpose.FLIP_TOP_BOTTOM))))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: turn 90 degrees right to show it
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=95, exif=exif)
    path.write_bytes(out.getvalue())
    return len(out.getvalue())


def submit_listing(browser, base: str, password: str, product_id: int, photo: Path, javascript: bool):
    """Seconds from the tap on "Publicar" to the published page, and bytes posted."""
    context = browser.new_context(viewport=PHONE, locale="es-CO", java_script_enabled=javascript,
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(240_000)
    post_started: list[float] = []
    page.on("request", lambda r: post_started.append(time.perf_counter())
            if r.method == "POST" and "/ofertas/nueva" in r.url else None)
    page.goto(base + "/entrar")
    page.get_by_label("Celular o correo").fill("3100000000")
    page.get_by_label("Contraseña").fill(password)
    page.get_by_role("button", name="Entrar").click()
    page.wait_for_load_state("load")
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", LINK)
    page.goto(f"{base}/ofertas/nueva?producto={product_id}")
    page.get_by_label("Cantidad").fill("10")
    page.get_by_label("Unidad", exact=True).select_option("kg")
    page.get_by_label("Precio por unidad (COP)").fill(PRICE_PER_KG)
    page.get_by_label("Disponible hasta").fill((bogota_date() + timedelta(days=30)).isoformat())
    page.get_by_label("O un nuevo centro de acopio o vereda").fill("Vereda La Playa")
    page.locator('input[type="file"][name="photos"]').set_input_files(str(photo))
    POSTED.clear()
    started = time.perf_counter()
    page.get_by_role("button", name="Publicar").click()
    page.get_by_text("Oferta publicada.").wait_for()
    seconds = time.perf_counter() - started
    context.close()
    return seconds, sum(POSTED), post_started[0] - started


PRICE_PER_KG = "12000"
POSTED: list[int] = []


def counting(wsgi_app):
    """The app, noting the size of each listing form posted to it (what crossed the link)."""
    def app(environ, start_response):
        if environ["REQUEST_METHOD"] == "POST" and environ.get("PATH_INFO") == "/ofertas/nueva":
            POSTED.append(int(environ.get("CONTENT_LENGTH") or 0))
        return wsgi_app(environ, start_response)
    return app


def main() -> int:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        print("Debian's chromium is required (apt-get install chromium)")
        return 2
    with tempfile.TemporaryDirectory() as folder:
        app = demo_app(folder)
        with app.app_context():
            from marketplace.catalog.models import Listing, Product

            cacao = db.session.scalar(select(Product.id).where(Product.slug == "cacao-grano-seco"))
            before_count = db.session.scalar(select(db.func.count()).select_from(Listing))
        app.wsgi_app = counting(app.wsgi_app)
        photo = Path(folder) / "IMG_20261207_101530.jpg"
        size = phone_photo(photo)
        with served(app) as base, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=["--no-sandbox", "--disable-gpu"])
            before, before_bytes, _ = submit_listing(browser, base, app.config["DEMO_PASSWORD"], cacao, photo,
                                                     javascript=False)
            after, after_bytes, shrinking = submit_listing(browser, base, app.config["DEMO_PASSWORD"], cacao, photo,
                                                           javascript=True)
            browser.close()
        with app.app_context():
            from marketplace.catalog.models import Listing

            made = db.session.scalars(select(Listing).order_by(Listing.id.desc()).limit(2)).all()
            count = db.session.scalar(select(db.func.count()).select_from(Listing))
            stored = [(p.width, p.height) for listing in made for p in listing.photos]
    assert count == before_count + 2 and len(stored) == 2, (count, stored)
    ok = after <= GOAL_SECONDS
    print(f"link: 400 kbps down and up, 400 ms latency; photo 4000 x 3000, {size / 1e6:.2f} MB, EXIF orientation 6")
    print(f"{'':<8} {'seconds':>8} {'bytes posted':>13}")
    print(f"{'before':<8} {before:>8.1f} {before_bytes:>13,}   (no JavaScript: the original photo)")
    print(f"{'after':<8} {after:>8.1f} {after_bytes:>13,}   (shrunk on the phone to 1,600 px; "
          f"{shrinking:.1f} s of it before the upload starts)")
    print(f"ratio    {before / after:>8.1f}x faster, {before_bytes / max(after_bytes, 1):.1f}x fewer bytes; "
          f"stored photos {stored}  {'PASS' if ok else 'FAIL'} (after <= {GOAL_SECONDS:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
