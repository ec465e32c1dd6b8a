"""E-mail through SMTP (``SMTP_HOST``...): a refusal is told apart from an outage, so the
worker retries only what may yet go."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid
from typing import TYPE_CHECKING

from flask import current_app

from marketplace.messaging.providers import PermanentFailure, Provider, SendResult, TemporaryFailure

if TYPE_CHECKING:
    from marketplace.messaging.models import Message

log = logging.getLogger(__name__)


def build(message: Message, config) -> EmailMessage:
    """The e-mail for ``message``; tests that set ``app.extensions["marketplace_outbox"]``
    (a list) get a copy of every e-mail built."""
    mail = EmailMessage()
    mail["From"] = config["MAIL_FROM"]
    mail["To"] = message.to_address
    mail["Subject"] = message.subject or ""
    mail["Message-ID"] = make_msgid(domain=_domain(config["MAIL_FROM"]))
    mail.set_content(message.body)
    outbox = current_app.extensions.get("marketplace_outbox")
    if outbox is not None:
        outbox.append(mail)
    return mail


def _domain(sender: str) -> str:
    address = sender.rsplit("<", 1)[-1].rstrip(">").strip()
    return address.rsplit("@", 1)[-1] if "@" in address else "mercadorural.co"


class SmtpProvider(Provider):
    name = "smtp"

    def __init__(self, config):
        self.host = config["SMTP_HOST"]
        self.port = config["SMTP_PORT"]
        self.username = config.get("SMTP_USERNAME")
        self.password = config.get("SMTP_PASSWORD")
        self.starttls = config.get("SMTP_STARTTLS")
        self.timeout = float(config["MESSAGING_TIMEOUT_SECONDS"])

    def send(self, message: Message, *, window_open: bool | None = None) -> SendResult:
        if not message.to_address:
            raise PermanentFailure("sin correo")
        mail = build(message, current_app.config)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password)
                refused = smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reason = next(iter(exc.recipients.values()), (0, b""))
            text = f"{code} {reason.decode(errors='replace') if isinstance(reason, bytes) else reason}"
            if 500 <= code < 600:
                raise PermanentFailure(f"el servidor de correo rechazó la dirección: {text}") from exc
            raise TemporaryFailure(f"el servidor de correo no aceptó la dirección por ahora: {text}") from exc
        except smtplib.SMTPResponseException as exc:
            text = f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace') if isinstance(exc.smtp_error, bytes) else exc.smtp_error}"
            if 500 <= exc.smtp_code < 600 and not isinstance(exc, smtplib.SMTPAuthenticationError):
                raise PermanentFailure(f"el servidor de correo rechazó el mensaje: {text}") from exc
            raise TemporaryFailure(f"servidor de correo: {text}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryFailure(f"servidor de correo no disponible: {exc or exc.__class__.__name__}") from exc
        if refused:
            raise PermanentFailure(f"el servidor de correo rechazó la dirección: {refused}")
        return SendResult(self.name, mail["Message-ID"].strip("<>")[:100])
