"""Replies that act on orders: WhatsApp buttons, "SI 1842", "NO 1842", "PEDIDOS"."""

from __future__ import annotations


def register() -> None:
    """Register the reply handlers (to be written)."""
