"""Pages every visitor uses: language choice, municipality search, health check."""

from __future__ import annotations

from datetime import date

from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_login import current_user

from marketplace.core import geography
from marketplace.core import health as health_checks
from marketplace.core.safety import safe_next
from marketplace.extensions import db, limiter

bp = Blueprint("core", __name__)
# When the privacy policy last changed: shown on the page; change it with the text.
PRIVACY_POLICY_DATE = date(2026, 12, 7)


@bp.post("/idioma")
def set_language():
    lang = request.form.get("lang")
    if lang in ("es", "en"):
        session["lang"] = lang
        if current_user.is_authenticated:
            current_user.locale = lang
            db.session.commit()
    return redirect(safe_next(request.form.get("next")) or url_for("home.index"))


@bp.get("/privacidad")
def privacy():
    """The personal data policy (Ley 1581 de 2012, Decreto 1377 de 2013): who is responsible,
    what is kept and why, the holder's rights and how to exercise them."""
    # A legal text is translated as a whole document, not sentence by sentence.
    lang = "en" if str(get_locale()) == "en" else "es"
    return render_template(f"core/privacy_{lang}.html", contact=current_app.config["PRIVACY_CONTACT"],
                           updated=PRIVACY_POLICY_DATE)


@bp.get("/municipios")
@limiter.limit("120 per minute")
def municipalities():
    """A plain page to look up municipalities: the picker's fallback without JavaScript."""
    query = (request.args.get("q") or "")[:80]
    results = geography.search(query, limit=50) if query.strip() else []
    return render_template("core/municipalities.html", query=query, results=results)


@bp.get("/salud")
@limiter.exempt
def health():
    """For load balancers: JSON 200 when the database (and Redis, if configured) answer,
    JSON 503 naming what does not."""
    checks = health_checks.run(db.engine, current_app.config.get("REDIS_URL"))
    healthy = all(state in ("ok", "not_configured") for state in checks.values())
    response = jsonify(status="ok" if healthy else "unavailable", checks=checks)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
