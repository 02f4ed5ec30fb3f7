"""How long to wait before the next attempt: a pure function, tested alone."""

from __future__ import annotations

import random


def retry_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    Exponential (base, 2×base, 4×base, …) up to ``cap``, with "equal jitter":
    half the delay is fixed and half random, so retries of many deliveries that
    failed together spread out but none comes back too soon.
    """
    if attempt < 1:
        raise ValueError("attempt numbers start at 1")
    ceiling = min(cap, base * (2.0 ** min(attempt - 1, 32)))
    half = ceiling / 2
    jitter: float = (rng or random.Random()).uniform(0, half)
    return half + jitter
