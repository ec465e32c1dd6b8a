"""Listing a harvest by WhatsApp: a short guided conversation."""

from __future__ import annotations


def register() -> None:
    """Register the listing conversation (to be written)."""
