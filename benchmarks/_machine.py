"""What the benchmarks read off the machine they run on."""

from __future__ import annotations

import os
from pathlib import Path


def machine_busy_seconds() -> float | None:
    """CPU seconds spent on anything but idle and iowait, all CPUs together (Linux /proc)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
