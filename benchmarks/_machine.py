"""What the benchmarks share: what they read off the machine they run on, and the demo app
that the page benchmarks measure (built, and served when a browser needs it)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Cheap password hashing and no rate limits: the benchmarks log in often and measure pages,
# not Argon2; cookies over plain HTTP on 127.0.0.1.
DEMO_SETTINGS = {
    "RATELIMIT_ENABLED": False, "SESSION_COOKIE_SECURE": False, "REMEMBER_COOKIE_SECURE": False,
    "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1,
}


def machine_busy_seconds() -> float | None:
    """CPU seconds spent on anything but idle and iowait, all CPUs together (Linux /proc)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def demo_app(folder: str | Path, **overrides):
    """The app on a new SQLite database (and upload folder) in ``folder``, migrated and seeded
    with the demo as `flask seed-demo` does, with ``DEMO_SETTINGS`` and ``overrides``.
    The caller sets APP_ENV and SECRET_KEY before importing the app."""
    from flask_migrate import upgrade

    from marketplace import create_app, demo
    from marketplace.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/demo.db", "UPLOAD_FOLDER": f"{folder}/uploads",
                      **DEMO_SETTINGS, **overrides})
    with app.app_context():
        upgrade()
        demo.seed(app.config["DEMO_PASSWORD"])
        db.session.commit()
    return app


@contextmanager
def served(app) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 (a free port) from a thread while the block runs; yields its
    base URL ("http://127.0.0.1:<port>")."""
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
