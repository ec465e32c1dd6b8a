"""Outgoing e-mail: SMTP from the environment, or the application log when none is set.

A message that cannot be sent is logged, never raised: an order must not fail because a
mail server is down.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from flask import current_app

log = logging.getLogger("marketplace.mail")


def send(to: str, subject: str, body: str) -> bool:
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    outbox = current_app.extensions.get("marketplace_outbox")
    if outbox is not None:  # tests collect messages here
        outbox.append(message)
    if not config.get("SMTP_HOST"):
        log.info("E-mail (no SMTP configured) to %s: %s\n%s", to, subject, body)
        return True
    try:
        with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=10) as smtp:
            if config.get("SMTP_STARTTLS"):
                smtp.starttls()
            if config.get("SMTP_USERNAME"):
                smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
            smtp.send_message(message)
        return True
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("Could not send e-mail to %s (%s): %s", to, subject, exc)
        return False
