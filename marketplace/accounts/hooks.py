"""Notices that accounts owes people, handed to whoever registered to write them (the
messaging package, at start-up): accounts sits below messaging and never imports it."""

from __future__ import annotations

from collections.abc import Callable

NOTICE_WRITERS: list[Callable[..., None]] = []


def notify(kind: str, *, subject_id: int | None = None, organisation_id: int | None = None,
           user_id: int | None = None, payload: dict | None = None) -> None:
    """Record that a notice of ``kind`` is owed (in the caller's transaction)."""
    for write in NOTICE_WRITERS:
        write(kind, subject_id=subject_id, organisation_id=organisation_id, user_id=user_id,
              payload=payload)
