"""Pages every visitor uses: language choice, municipality search, health check, and what
makes the app installable and usable offline (manifest, service worker, offline page, a
fresh CSRF token for drafts sent later)."""

from __future__ import annotations

from datetime import date

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from marketplace.core import geography, idempotency, offline
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


@bp.app_context_processor
def idempotency_field():
    """``idempotency_field()`` in a form: the hidden key that makes sending it twice act once
    (the key sent back when the page is shown again after an error, else a new one)."""

    def field() -> Markup:
        key = idempotency.clean(request.form.get(idempotency.FIELD)) if request.method == "POST" else None
        return Markup('<input type="hidden" name="%s" value="%s">') % (idempotency.FIELD, key or idempotency.new_key())

    return {"idempotency_field": field}


@bp.app_errorhandler(idempotency.Repeated)
def already_done(error: idempotency.Repeated):
    """A form sent again with a key already used: nothing is done twice; the user sees the
    first result."""
    db.session.rollback()
    flash(_("Esto ya se había enviado; no se hizo dos veces."), "info")
    return redirect(error.earlier.result_url or url_for("home.dashboard"), 303)


@bp.get("/sw.js")
@limiter.exempt
def service_worker():
    """The service worker, from the site root so its scope is the whole site. Checked for a
    new version on every visit (never cached long); its cache name changes with the files."""
    response = current_app.response_class(offline.service_worker_source(current_app),
                                          mimetype="application/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.get("/manifest.webmanifest")
@limiter.exempt
def manifest():
    """The web app manifest: installing the app opens the home page full screen."""
    response = jsonify(offline.manifest(_("Mercado Rural")))
    response.mimetype = "application/manifest+json"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/sin-conexion")
def offline_page():
    """What the service worker shows for a page it cannot fetch and never saw (kept in its cache)."""
    # Kept by the service worker for whoever uses the phone next: it names nobody.
    return render_template("core/offline.html", outbox_anonymous=True)


@bp.get("/csrf")
@limiter.limit("120 per minute")
def csrf_token():
    """A fresh CSRF token for a draft kept on the phone, who is logged in (the phone sends a
    draft only as the user who wrote it) and, with ``?clave=``, whether this user's request
    with that idempotency key was already done and where its result is. When nobody is logged
    in it says so (200, so a phone asking after its session ended logs no error)."""
    from flask_wtf.csrf import generate_csrf

    if not current_user.is_authenticated:
        response = jsonify(login_required=True, login_url=url_for("auth.login"))
    else:
        earlier = idempotency.earlier(current_user.id, idempotency.clean(request.args.get("clave")))
        response = jsonify(csrf_token=generate_csrf(), user_id=current_user.id, done=earlier is not None,
                           result_url=earlier.result_url if earlier else None)
    response.headers["Cache-Control"] = "no-store"
    return response
