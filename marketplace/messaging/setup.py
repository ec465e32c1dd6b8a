"""Messaging's own part of start-up: it writes the notices accounts owes, and knows how to
deliver the account notices (codes, verification results)."""

from __future__ import annotations

from marketplace.accounts import hooks as account_hooks
from marketplace.messaging import account_notices, services


def register() -> None:
    if services.notify not in account_hooks.NOTICE_WRITERS:
        account_hooks.NOTICE_WRITERS.append(services.notify)
    account_notices.register()
