"""How long background work waits after a failed try (refunds, messages, media fetches)."""

from __future__ import annotations

from datetime import timedelta


def backoff(attempts: int, cap: timedelta = timedelta(hours=6)) -> timedelta:
    """1, 2, 4, 8... minutes after the first, second, third... failed try, at most ``cap``."""
    cap_minutes = int(cap.total_seconds() // 60)
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), cap_minutes))
