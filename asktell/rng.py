"""Explicit randomness: generators derived from (seed, stream, counter) in the state.

No global RNG is touched anywhere in asktell. Each ask derives fresh generators from the state's seed,
the state's ask counter and a named stream, so the same state always gives the same numbers, and two
different purposes (say, Sobol scrambling and acquisition restarts) never share a stream.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch


def derive_seed(seed: int, *keys: int | str) -> int:
    """A 63-bit seed derived deterministically from ``seed`` and any number of keys."""
    text = "/".join([str(int(seed)), *(str(k) for k in keys)])
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def numpy_rng(seed: int, *keys: int | str) -> np.random.Generator:
    """A numpy Generator for (seed, *keys)."""
    return np.random.default_rng(derive_seed(seed, *keys))


def torch_rng(seed: int, *keys: int | str) -> torch.Generator:
    """A CPU torch Generator for (seed, *keys)."""
    gen = torch.Generator()
    gen.manual_seed(derive_seed(seed, *keys))
    return gen
