"""A live server on 127.0.0.1 and Debian's Chromium driven by Playwright on a phone viewport."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PHONE = {"width": 360, "height": 740}


@pytest.fixture
def live_server(make_app):
    app = make_app()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("Debian's chromium is required in CI (apt-get install chromium)")
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class PhonePage:
    """A fresh phone-sized browser context whose console errors fail the test."""

    def __init__(self, browser, base_url, javascript=True):
        self.context = browser.new_context(viewport=PHONE, locale="es-CO", java_script_enabled=javascript,
                                           is_mobile=True, has_touch=True)
        self.page = self.context.new_page()
        self.base_url = base_url
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def goto(self, path: str):
        return self.page.goto(self.base_url + path)

    def assert_fits_the_screen(self):
        # Measure a loaded document, not one a navigation is still replacing.
        self.page.wait_for_load_state("load")
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"page scrolls sideways ({width}px) at {self.page.url}"


@pytest.fixture
def phone(browser, live_server):
    pages = []

    def open_page(javascript=True) -> PhonePage:
        page = PhonePage(browser, live_server, javascript)
        pages.append(page)
        return page

    yield open_page
    for page in pages:
        page.context.close()


# The width an <img> decodes to, once it has loaded (or failed: 0). Visible is not loaded: on a
# busy machine the check could run before the bytes arrived. Gives up after 15 s, never hangs.
LOADED_WIDTH = """img => img.complete && img.naturalWidth ? img.naturalWidth : new Promise(done => {
    img.addEventListener("load", () => done(img.naturalWidth), {once: true});
    img.addEventListener("error", () => done(0), {once: true});
    setTimeout(() => done(img.naturalWidth), 15000);
})"""
