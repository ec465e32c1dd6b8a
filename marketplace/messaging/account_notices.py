"""The notices accounts owes: verification codes, recovery links, temporary passwords and
organisation verification results."""

from __future__ import annotations


def register() -> None:
    """Register the account notice kinds (to be written)."""
