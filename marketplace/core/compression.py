"""Responses compressed by the app itself (Flask-Compress: brotli, else gzip).

The pages are measured, and meant to be light, compressed; without a proxy in front (the
README's first command, a small deployment) nothing else compresses them. Only text that
shrinks is compressed: HTML, CSS, scripts, JSON, SVG and the web app manifest. Photos (JPEG,
WebP, PNG), PDFs and CSV downloads pass untouched, so a file is never compressed twice and a
download keeps its length. Static files, which ``send_file`` streams, are compressed as a
stream and still answer conditional requests: their strong ETag gets the encoding appended
(``"…:br"``), so a cached copy in one encoding is never taken for the other.

Settings (config.py, from the environment): ``COMPRESS_ENABLED``, ``COMPRESS_LEVEL`` (gzip),
``COMPRESS_BR_LEVEL`` and ``COMPRESS_MIN_SIZE``.
"""

from __future__ import annotations

from flask import Flask, Response

from marketplace.extensions import compress

# What compresses well. Everything else (images, PDF, CSV exports) is left alone: either
# already compressed or a download the browser saves as sent.
MIMETYPES = [
    "text/html",
    "text/css",
    "text/plain",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/problem+json",
    "application/manifest+json",
    "image/svg+xml",
]

FIXED = {
    "COMPRESS_MIMETYPES": MIMETYPES,
    # Brotli where the browser takes it (every current one over HTTPS and on localhost), gzip
    # otherwise. Nothing else: zstd and deflate would only add encodings to keep working.
    "COMPRESS_ALGORITHM": ["br", "gzip"],
    # Static files stream from disk; gzip is kept for streams too (Flask-Compress leaves it out
    # by default), so a gzip-only client gets compressed CSS and scripts as well.
    "COMPRESS_ALGORITHM_STREAMING": ["br", "gzip"],
    # Registered below, behind a guard for partial responses.
    "COMPRESS_REGISTER": False,
}


def init_app(app: Flask) -> None:
    if not app.config.get("COMPRESS_ENABLED", True):
        return
    app.config.update(FIXED)
    compress.init_app(app)

    @app.after_request
    def compress_response(response: Response) -> Response:
        # A range of a file (206) is a slice of its bytes; compressing the slice would hand
        # the client bytes it cannot splice into the rest.
        if response.status_code == 206 or "Content-Range" in response.headers:
            return response
        return compress.after_request(response)
