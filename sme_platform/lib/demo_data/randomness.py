"""Seeded random generators, one independent stream per purpose and key.

Every daily draw comes from a generator seeded by (seed, stream, day), never from one running
stream: a run over more days then reproduces the shared days exactly, and switching on defects
(their own stream) leaves the clean rows untouched.
"""

from __future__ import annotations

import numpy as np

_STREAM_IDS = {
    "catalog": 1,
    "customers": 2,
    "prices": 3,
    "promotions": 4,
    "demand": 5,
    "inventory": 6,
    "tickets": 7,
    "defects": 8,
    "drift": 9,
}


def rng_for(seed: int, stream: str, *keys: int) -> np.random.Generator:
    """A generator for `stream`, keyed by non-negative integers such as a date's ordinal."""
    return np.random.default_rng([seed, _STREAM_IDS[stream], *keys])
