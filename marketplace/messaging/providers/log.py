"""The provider for a channel without credentials: the message goes to the application log
and is recorded as sent by "log" (the development messages page reads those rows)."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import TYPE_CHECKING

from flask import current_app

from marketplace.messaging import gsm, services
from marketplace.messaging.models import Channel
from marketplace.messaging.providers import PermanentFailure, Provider, SendResult
from marketplace.messaging.providers import email as email_provider

if TYPE_CHECKING:
    from marketplace.messaging.models import Message

log = logging.getLogger("marketplace.messaging.log")


class LogProvider(Provider):
    name = "log"

    def send(self, message: Message, *, window_open: bool | None = None) -> SendResult:
        if not message.to_address:
            raise PermanentFailure("sin dirección")
        segments = as_template = None
        if message.channel == Channel.EMAIL:
            email_provider.build(message, current_app.config)
        elif message.channel == Channel.SMS:
            segments = gsm.segments(message.body)[1]
        else:
            # What a real WhatsApp provider would do, so the development page shows it.
            if window_open is None:
                window_open = services.window_open(message.to_address)
            as_template = bool(message.template_name) and not window_open
        log.info("%s (sin proveedor) a %s [%s]%s%s\n%s", message.channel.value, message.to_address,
                 message.kind, f" plantilla {message.template_name} {message.template_params}" if as_template else "",
                 f" botones {message.buttons}" if message.buttons else "",
                 f"{message.subject}\n{message.body}" if message.subject else message.body)
        return SendResult(self.name, f"log-{message.id}", segments=segments, cost=Decimal(0),
                          as_template=as_template)
