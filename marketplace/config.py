"""Settings read from the environment, with defaults that run locally.

Nothing here touches a Flask app; ``load_config`` returns a plain dict that
``create_app`` applies, so tests pass overrides the same way.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import timedelta
from pathlib import Path

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _development_secret_key() -> str:
    """A random key kept in ``instance/`` so local sessions survive restarts."""
    INSTANCE_DIR.mkdir(exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _json(name: str) -> dict:
    value = os.environ.get(name, "").strip()
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be a JSON object: {exc}") from exc
    if not isinstance(parsed, dict):
        raise RuntimeError(f"{name} must be a JSON object.")
    return parsed


def _messaging() -> dict:
    """Messaging providers (marketplace/messaging/providers). A channel whose provider has no
    credentials writes its messages to the log (provider "log"); ``*_PROVIDER`` names one
    explicitly. Secrets come only from the environment."""
    return {
        # WhatsApp: "meta" (Cloud API), "twilio", or "log"; empty: whichever has credentials.
        "WHATSAPP_PROVIDER": os.environ.get("WHATSAPP_PROVIDER", "").strip().lower(),
        "WHATSAPP_ACCESS_TOKEN": os.environ.get("WHATSAPP_ACCESS_TOKEN", ""),
        "WHATSAPP_PHONE_NUMBER_ID": os.environ.get("WHATSAPP_PHONE_NUMBER_ID", ""),
        "WHATSAPP_APP_SECRET": os.environ.get("WHATSAPP_APP_SECRET", ""),
        "WHATSAPP_VERIFY_TOKEN": os.environ.get("WHATSAPP_VERIFY_TOKEN", ""),
        # {"new_order": "pedido_nuevo_v2", ...}: a notice kind's approved template name when
        # it differs from the kind's default.
        "WHATSAPP_TEMPLATES": _json("WHATSAPP_TEMPLATES"),
        # Only for a local fake of the Graph API (tests, benchmarks).
        "WHATSAPP_API_BASE_URL": os.environ.get("WHATSAPP_API_BASE_URL", ""),
        # SMS: "twilio" or "log"; empty: Twilio when its credentials and sender are set.
        "SMS_PROVIDER": os.environ.get("SMS_PROVIDER", "").strip().lower(),
        "TWILIO_ACCOUNT_SID": os.environ.get("TWILIO_ACCOUNT_SID", ""),
        "TWILIO_AUTH_TOKEN": os.environ.get("TWILIO_AUTH_TOKEN", ""),
        "TWILIO_SMS_FROM": os.environ.get("TWILIO_SMS_FROM", ""),
        "TWILIO_MESSAGING_SERVICE_SID": os.environ.get("TWILIO_MESSAGING_SERVICE_SID", ""),
        "TWILIO_WHATSAPP_FROM": os.environ.get("TWILIO_WHATSAPP_FROM", ""),
        # {"new_order": "HX...", "accept": {"es": "HX...", "en": "HX..."}}: the Content API
        # templates WhatsApp-through-Twilio sends when the 24-hour window is closed.
        "TWILIO_WHATSAPP_CONTENT_SIDS": _json("TWILIO_WHATSAPP_CONTENT_SIDS"),
        # Where Twilio reports each message's delivery (empty: the Messaging Service's setting).
        "TWILIO_STATUS_CALLBACK_URL": os.environ.get("TWILIO_STATUS_CALLBACK_URL", ""),
        # Only for a local fake of Twilio's API (tests, benchmarks).
        "TWILIO_API_BASE_URL": os.environ.get("TWILIO_API_BASE_URL", ""),
        # What a message costs, in COP (Decimal strings): an SMS part to a Colombian mobile
        # through Twilio (about USD 0.045), a business-initiated utility WhatsApp template to
        # Colombia (about USD 0.001 in Meta's per-message rates), and a free text inside the
        # 24-hour window (not billed by Meta). Twilio's own per-message fee is extra.
        "SMS_COST_PER_SEGMENT": os.environ.get("SMS_COST_PER_SEGMENT", "180"),
        "WHATSAPP_COST_PER_TEMPLATE": os.environ.get("WHATSAPP_COST_PER_TEMPLATE", "4"),
        "WHATSAPP_COST_PER_SESSION_MESSAGE": os.environ.get("WHATSAPP_COST_PER_SESSION_MESSAGE", "0"),
        # The worker: seconds between outbox rounds, tries before a message is failed, and
        # every provider call's time limit (well under the claim a worker holds on a message).
        "MESSAGING_INTERVAL_SECONDS": float(os.environ.get("MESSAGING_INTERVAL_SECONDS") or 2),
        "MESSAGING_MAX_ATTEMPTS": _int("MESSAGING_MAX_ATTEMPTS", 6),
        "MESSAGING_TIMEOUT_SECONDS": float(os.environ.get("MESSAGING_TIMEOUT_SECONDS") or 8),
        # The largest photo taken from an inbound WhatsApp message, in bytes.
        "MESSAGING_MEDIA_MAX_BYTES": _int("MESSAGING_MEDIA_MAX_BYTES", 10 * 1024 * 1024),
        # Inbound webhooks: requests per client address (the providers send from a few), the
        # messages from one number per hour that get an answer (the rest are recorded, not
        # answered, so a flood cannot make us send and pay for unlimited replies), and the
        # minutes of silence after which a guided conversation is forgotten.
        "WEBHOOK_RATE_LIMIT": os.environ.get("WEBHOOK_RATE_LIMIT", "600 per minute"),
        "INBOUND_PER_NUMBER_PER_HOUR": _int("INBOUND_PER_NUMBER_PER_HOUR", 30),
        "CONVERSATION_MINUTES": _int("CONVERSATION_MINUTES", 60),
        # Verification codes and password recovery: codes sent per client address, recovery
        # requests per client address and per phone/e-mail typed.
        "CODE_LIMIT_PER_ADDRESS": os.environ.get("CODE_LIMIT_PER_ADDRESS", "10 per hour;30 per day"),
        "RECOVERY_LIMIT_PER_ADDRESS": os.environ.get("RECOVERY_LIMIT_PER_ADDRESS", "10 per hour;50 per day"),
        "RECOVERY_LIMIT_PER_LOGIN": os.environ.get("RECOVERY_LIMIT_PER_LOGIN", "3 per 15 minutes;10 per day"),
    }


def check_production(config) -> None:
    """Refuse to start a production app whose rate-limit counters would live in each worker's
    memory: with N workers every limit (logins, password re-confirmations, recovery codes)
    would allow N times its attempts. Development and tests keep the memory store."""
    if str(config.get("APP_ENV", "")).lower() != "production" or config.get("TESTING"):
        return
    if not config.get("RATELIMIT_ENABLED", True):
        return
    storage = str(config.get("RATELIMIT_STORAGE_URI") or "memory://").strip()
    if storage.startswith("memory://"):
        raise RuntimeError(
            "APP_ENV=production needs a rate-limit store shared by every worker process: set "
            "REDIS_URL (or RATELIMIT_STORAGE_URI=redis://...). Without one, each worker counts "
            "login and password attempts on its own, so N workers allow N times every limit "
            "(use APP_ENV=development for a local run)."
        )


def load_config() -> dict:
    env = os.environ.get("APP_ENV", "production").strip().lower()
    production = env == "production"

    secret_key = os.environ.get("SECRET_KEY")
    if not secret_key:
        if production:
            raise RuntimeError(
                "SECRET_KEY must be set when APP_ENV=production "
                "(use APP_ENV=development for a local run)."
            )
        secret_key = _development_secret_key()

    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'marketplace.db'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgres://") :]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]

    redis_url = os.environ.get("REDIS_URL")
    secure_cookies = _bool("SECURE_COOKIES", production)

    return {
        "APP_ENV": env,
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # Sessions and cookies
        "SESSION_COOKIE_SECURE": secure_cookies,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": secure_cookies,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_DURATION": timedelta(days=_int("REMEMBER_DAYS", 30)),
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=_int("SESSION_HOURS", 12)),
        "LOGIN_SESSION_DAYS": _int("LOGIN_SESSION_DAYS", 30),
        # Re-authentication window for sensitive changes, in minutes
        "REAUTH_MINUTES": _int("REAUTH_MINUTES", 10),
        # Password hashing (argon2id); OWASP minimum is m=19 MiB, t=2, p=1.
        "ARGON2_TIME_COST": _int("ARGON2_TIME_COST", 3),
        "ARGON2_MEMORY_COST": _int("ARGON2_MEMORY_COST", 65536),
        "ARGON2_PARALLELISM": _int("ARGON2_PARALLELISM", 4),
        # Forms
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_SSL_STRICT": production,
        # Internationalisation
        "BABEL_DEFAULT_LOCALE": "es",
        "BABEL_DEFAULT_TIMEZONE": "America/Bogota",
        "LANGUAGES": ["es", "en"],
        # Rate limits
        "RATELIMIT_ENABLED": _bool("RATELIMIT_ENABLED", True),
        # Shared by every worker process (Redis) in production: counters in each process's
        # memory would let each worker allow the whole limit (check_production refuses that).
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI") or redis_url or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        "RATELIMIT_KEY_PREFIX": "marketplace",
        "LOGIN_LIMIT_PER_ACCOUNT": os.environ.get("LOGIN_LIMIT_PER_ACCOUNT", "5 per minute;20 per hour"),
        "LOGIN_LIMIT_PER_ADDRESS": os.environ.get("LOGIN_LIMIT_PER_ADDRESS", "30 per minute;200 per hour"),
        "API_RATE_LIMIT": os.environ.get("API_RATE_LIMIT", "600 per minute"),
        "REDIS_URL": redis_url,
        # Reverse proxies in front of the app (for the client address and scheme)
        "TRUSTED_PROXIES": _int("TRUSTED_PROXIES", 0),
        # JSON API (flask-smorest)
        "API_TITLE": "Mercado Rural API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "API_PAGE_SIZE_MAX": 100,
        # Demo data
        "DEMO_PASSWORD": os.environ.get("DEMO_PASSWORD", "cosecha-2026"),
        # Static URLs carry a content hash (core/web.py), so they can be cached for a year.
        "SEND_FILE_MAX_AGE_DEFAULT": 365 * 24 * 3600,
        # Responses compressed by the app (core/compression.py): brotli, else gzip, for text of
        # at least COMPRESS_MIN_SIZE bytes. Off when a proxy in front already compresses.
        "COMPRESS_ENABLED": _bool("COMPRESS_ENABLED", True),
        "COMPRESS_LEVEL": _int("COMPRESS_LEVEL", 6),
        "COMPRESS_BR_LEVEL": _int("COMPRESS_BR_LEVEL", 5),
        "COMPRESS_MIN_SIZE": _int("COMPRESS_MIN_SIZE", 500),
        # Listing photos (local folder; see catalog/photos.py for the storage interface)
        "UPLOAD_FOLDER": os.environ.get("UPLOAD_FOLDER", str(INSTANCE_DIR / "uploads")),
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 32 * 1024 * 1024),
        # Photos of a refused listing form are kept this long for their uploader (catalog/pending.py).
        "PENDING_UPLOAD_HOURS": _int("PENDING_UPLOAD_HOURS", 6),
        # Orders: the platform's fee on the buyer's order and its commission on the
        # cooperative's sales, in percent; how long a cooperative has to answer an order,
        # how long a card order waits for its payment, invoice terms and payout delay.
        # Messaging (marketplace/messaging): the WhatsApp template language per locale.
        "WHATSAPP_TEMPLATE_LANGUAGES": {"es": os.environ.get("WHATSAPP_TEMPLATE_LANGUAGE_ES", "es"),
                                        "en": os.environ.get("WHATSAPP_TEMPLATE_LANGUAGE_EN", "en_US")},
        **_messaging(),
        "PLATFORM_FEE_PERCENT": os.environ.get("PLATFORM_FEE_PERCENT", "3"),
        "COOPERATIVE_FEE_PERCENT": os.environ.get("COOPERATIVE_FEE_PERCENT", "0"),
        "ORDER_ACCEPT_HOURS": _int("ORDER_ACCEPT_HOURS", 48),
        "CARD_PAYMENT_MINUTES": _int("CARD_PAYMENT_MINUTES", 60),
        "INVOICE_TERMS_DAYS": _int("INVOICE_TERMS_DAYS", 30),
        "PAYOUT_DAYS": _int("PAYOUT_DAYS", 8),
        # A receipt short by more than this share of a line's kilos opens a dispute instead of
        # re-pricing the line at once.
        "SHORTFALL_DISPUTE_PERCENT": os.environ.get("SHORTFALL_DISPUTE_PERCENT", "10"),
        # The allocation optimiser's time limit per run, in seconds (it returns the best
        # allocation found when it stops; most runs prove optimality far sooner).
        "MATCHING_TIME_LIMIT": _int("MATCHING_TIME_LIMIT", 5),
        # Stripe: without a secret key the app takes invoice payment only.
        "STRIPE_SECRET_KEY": os.environ.get("STRIPE_SECRET_KEY", ""),
        "STRIPE_PUBLISHABLE_KEY": os.environ.get("STRIPE_PUBLISHABLE_KEY", ""),
        "STRIPE_WEBHOOK_SECRET": os.environ.get("STRIPE_WEBHOOK_SECRET", ""),
        # Only for a fake Stripe server in development and tests (localstripe).
        "STRIPE_API_BASE": os.environ.get("STRIPE_API_BASE", ""),
        "STRIPE_JS_URL": os.environ.get("STRIPE_JS_URL", "https://js.stripe.com/v3/"),
        # Every call to Stripe gives up after this many seconds (well under gunicorn's 30 s
        # worker timeout and the worker's refund claim), retried at most this many times.
        "STRIPE_TIMEOUT_SECONDS": _int("STRIPE_TIMEOUT_SECONDS", 8),
        "STRIPE_MAX_RETRIES": _int("STRIPE_MAX_RETRIES", 1),
        # A refund Stripe could not take is tried again with back-off, then marked failed
        # for staff after this many attempts.
        "REFUND_MAX_ATTEMPTS": _int("REFUND_MAX_ATTEMPTS", 8),
        # E-mail: without SMTP_HOST messages are written to the log.
        "SMTP_HOST": os.environ.get("SMTP_HOST", ""),
        "SMTP_PORT": _int("SMTP_PORT", 587),
        "SMTP_USERNAME": os.environ.get("SMTP_USERNAME", ""),
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD", ""),
        "SMTP_STARTTLS": _bool("SMTP_STARTTLS", True),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "Mercado Rural <no-responder@mercadorural.co>"),
        # Where people ask to see, correct or delete their personal data (Ley 1581 de 2012),
        # printed on the privacy policy page.
        "PRIVACY_CONTACT": os.environ.get("PRIVACY_CONTACT", "datos.personales@mercadorural.co"),
        "PUBLIC_URL": os.environ.get("PUBLIC_URL", "http://127.0.0.1:5000"),
        # Map tiles for the staff's places map (e.g. a self-hosted tile server); without
        # them the map shows the points on a plain background.
        "MAP_TILE_URL": os.environ.get("MAP_TILE_URL", ""),
        "MAP_ATTRIBUTION": os.environ.get("MAP_ATTRIBUTION", ""),
    }
