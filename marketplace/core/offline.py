"""The installable app: its manifest and the service worker's source with the files it keeps.

The service worker itself is ``static/sw.js``; this fills in what changes with a deploy (the
fingerprinted URLs of the static files to keep and a version naming its cache), so a new
deploy installs a new worker that drops the old cache."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from flask import url_for

# The static folders kept on the phone (maps' Leaflet is left out: it is only for staff).
PRECACHED_FOLDERS = ("css", "js", "icons")
THEME_COLOUR = "#1f6b3a"  # --green in static/css/app.css
BACKGROUND_COLOUR = "#faf8f3"  # --bg


def precached_urls(static_folder: str) -> list[str]:
    """The fingerprinted URLs of the static files and the offline page."""
    root = Path(static_folder)
    files = sorted(str(path.relative_to(root)) for folder in PRECACHED_FOLDERS
                   for path in (root / folder).rglob("*") if path.is_file())
    return [url_for("static", filename=name) for name in files] + [url_for("core.offline_page")]


def service_worker_source(app) -> str:
    source = (Path(app.static_folder) / "sw.js").read_text(encoding="utf-8")
    urls = precached_urls(app.static_folder)
    outbox = url_for("static", filename="js/outbox.js")
    version = hashlib.sha256((source + "\n".join(urls)).encode()).hexdigest()[:12]
    return (source.replace('"__VERSION__"', json.dumps(version))
            .replace('"__PRECACHE__"', json.dumps(urls))
            .replace('"__OUTBOX__"', json.dumps(outbox)))


def manifest(name: str) -> dict:
    return {
        "name": name,
        "short_name": name,
        "lang": "es",
        "start_url": url_for("home.dashboard"),
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "icons": [
            {"src": url_for("static", filename="icons/app.svg"), "sizes": "any", "type": "image/svg+xml"},
            {"src": url_for("static", filename="icons/app-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": url_for("static", filename="icons/app-512.png"), "sizes": "512x512", "type": "image/png"},
            # Full-bleed square with the leaf inside the safe zone: usable as a maskable icon.
            {"src": url_for("static", filename="icons/app-512.png"), "sizes": "512x512", "type": "image/png",
             "purpose": "maskable"},
        ],
    }
