"""Mercado Rural: a marketplace linking PDET cooperatives with corporate buyers."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from marketplace.config import check_production, load_config


def create_app(overrides: dict | None = None) -> Flask:
    """Build the application: config -> extensions -> models -> blueprints -> errors -> CLI."""
    app = Flask(
        __name__,
        static_folder="../static",
        static_url_path="/static",
        instance_relative_config=False,
    )
    app.config.update(load_config())
    if overrides:
        app.config.update(overrides)
    check_production(app.config)

    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    from marketplace import models  # noqa: F401  (registers every mapped class)
    from marketplace.core import compression, database, web
    from marketplace.extensions import babel, csrf, db, limiter, login_manager, migrate

    database.configure_engines()
    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=web.select_locale, timezone_selector=lambda: "America/Bogota")
    limiter.init_app(app)
    login_manager.init_app(app)
    # First of the response hooks, so it runs last: it compresses what the others have written.
    compression.init_app(app)

    web.init_app(app)
    _register_blueprints(app)
    _register_hooks()

    from marketplace.core.errors import register_error_handlers

    register_error_handlers(app)

    from marketplace import cli

    cli.register(app)
    return app


def _register_hooks() -> None:
    """Each package plugs its handlers into the lower packages' hooks (ARCHITECTURE rule 11):
    the notices it owes, the replies and conversations it answers. Registering twice (one
    app per test) changes nothing."""
    from marketplace.catalog import conversation as catalog_conversation
    from marketplace.messaging import setup as messaging_setup
    from marketplace.orders import messages as order_messages
    from marketplace.orders import replies as order_replies

    messaging_setup.register()
    catalog_conversation.register()
    _register_audit_text()
    order_messages.register()
    order_replies.register()


def _register_audit_text() -> None:
    """Each package tells core's audit presentation what its actions and fields mean."""
    from marketplace.accounts import audit_text as accounts_text
    from marketplace.catalog import audit_text as catalog_text
    from marketplace.core import audit_text
    from marketplace.insights import audit_text as insights_text
    from marketplace.logistics import audit_text as logistics_text
    from marketplace.matching import audit_text as matching_text
    from marketplace.orders import audit_text as orders_text
    from marketplace.traceability import audit_text as traceability_text

    for module in (audit_text, accounts_text, catalog_text, logistics_text, orders_text, matching_text,
                   insights_text, traceability_text):
        module.register()


def _migrations_dir():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "migrations"


def _register_blueprints(app: Flask) -> None:
    from marketplace import home
    from marketplace.accounts import api as accounts_api
    from marketplace.accounts import org_views as accounts_org_views
    from marketplace.accounts import views as accounts_views
    from marketplace.catalog import api as catalog_api
    from marketplace.catalog import views as catalog_views
    from marketplace.core import api as core_api
    from marketplace.core import views as core_views
    from marketplace.extensions import api, limiter
    from marketplace.insights import api as insights_api
    from marketplace.insights import views as insights_views
    from marketplace.logistics import api as logistics_api
    from marketplace.logistics import views as logistics_views
    from marketplace.matching import api as matching_api
    from marketplace.matching import views as matching_views
    from marketplace.messaging import views as messaging_views
    from marketplace.orders import api as orders_api
    from marketplace.orders import shipping_api, shipping_views
    from marketplace.orders import views as orders_views
    from marketplace.traceability import views as traceability_views

    app.register_blueprint(core_views.bp)
    app.register_blueprint(accounts_views.auth_bp)
    app.register_blueprint(accounts_views.account_bp)
    app.register_blueprint(accounts_org_views.org_bp)
    app.register_blueprint(accounts_org_views.admin_bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(catalog_views.bp)
    catalog_views.init_app(app)
    app.register_blueprint(orders_views.bp)
    app.register_blueprint(logistics_views.bp)
    app.register_blueprint(shipping_views.bp)
    orders_views.init_app(app)
    app.register_blueprint(matching_views.bp)
    matching_views.init_app(app)
    app.register_blueprint(insights_views.bp)
    insights_views.init_app(app)
    app.register_blueprint(messaging_views.bp)
    app.register_blueprint(traceability_views.bp)

    api.init_app(app, spec_kwargs=_spec_kwargs())
    for blueprint in (accounts_api.blp, core_api.blp, catalog_api.blp, logistics_api.blp, orders_api.blp,
                      shipping_api.blp, matching_api.blp, insights_api.blp):
        # One shared budget per client address across the whole API. The limiter and the
        # blueprints live for the whole process, so the limit reads the config of the app
        # serving the request: a lambda over ``app`` stayed attached for every app created
        # later. Being the same function each time, it is registered only once.
        limiter.shared_limit(_api_rate_limit, scope="api")(blueprint)
        api.register_blueprint(blueprint, url_prefix="/api/v1")
    accounts_api.register_security(app)
    core_api.register_docs(app)
    _register_webhooks(app)


def _register_webhooks(app: Flask) -> None:
    """The providers' inbound webhooks: CSRF-exempt (each request is verified by its
    provider's signature) and rate-limited per client address."""
    from marketplace.extensions import limiter
    from marketplace.messaging import webhooks

    limiter.shared_limit(webhooks.rate_limit, scope="webhooks")(webhooks.bp)
    app.register_blueprint(webhooks.bp)


def _api_rate_limit() -> str:
    from flask import current_app

    return current_app.config["API_RATE_LIMIT"]


def _spec_kwargs() -> dict:
    return {
        "info": {
            "description": (
                "API de Mercado Rural. Autenticación con token personal (Bearer), "
                "creado en la página de la cuenta. Errores en JSON con `code`, `status` y `message`."
            ),
        },
    }
