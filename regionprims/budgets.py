"""Memory budgets a user sets through the environment (in MB), read as bytes. One reading for every
store that has one (the explorer's shared and per-session stores, the job registry's results), so
that a malformed value means the same everywhere: the default."""
from __future__ import annotations

import os

MB = 1 << 20


def budget_bytes(env: str, default_mb: float) -> int:
    """A budget in bytes from the environment variable `env` (MB, may be fractional); the
    default when unset or not a positive finite number."""
    text = os.environ.get(env, "").strip()
    try:
        mb = float(text) if text else default_mb
    except ValueError:
        mb = default_mb
    if not mb > 0 or mb != mb or mb == float("inf"):
        mb = default_mb
    return int(mb * MB)
