"""Explicit randomness: seeds derived from (seed, stream, counter) in the state.

No global RNG is touched unguarded anywhere in asktell. Each ask derives fresh generators from the
state's seed, the state's ask counter and a named stream, so the same state always gives the same
numbers, and two different purposes (say, Sobol scrambling and acquisition restarts) never share a
stream.

Where a library draws from torch's *global* generator and takes no generator of its own (BoTorch's
acquisition optimizers, sample paths, prior draws at a failed fit), the loops seed that generator
inside :data:`GLOBAL_TORCH_LOCK`, held for the whole seeded section
(:func:`asktell.surrogates.seeding.torch_global_seed`): threads asking at once then take turns on
the one generator instead of interleaving draws, and each restores the caller's generator on the
way out. This module is the data layer's part of that (no torch); the generators themselves are
made in :mod:`asktell.surrogates.seeding`.
"""

from __future__ import annotations

import hashlib
import threading

import numpy as np

# One per process: every section of asktell that seeds torch's global generator holds it. Reentrant,
# so a seeded section may call another (a prediction that refits the model).
GLOBAL_TORCH_LOCK = threading.RLock()


def derive_seed(seed: int, *keys: int | str) -> int:
    """A 63-bit seed derived deterministically from ``seed`` and any number of keys."""
    text = "/".join([str(int(seed)), *(str(k) for k in keys)])
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def numpy_rng(seed: int, *keys: int | str) -> np.random.Generator:
    """A numpy Generator for (seed, *keys)."""
    return np.random.default_rng(derive_seed(seed, *keys))
