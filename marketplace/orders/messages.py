"""The notices orders owes cooperatives and buyers, for every channel."""

from __future__ import annotations


def register() -> None:
    """Register the order notice kinds (to be written)."""
