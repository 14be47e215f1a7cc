"""Torch randomness for the loops: explicit generators, and the guarded global generator.

:func:`torch_rng` gives a fresh CPU generator for (seed, *keys); pass it wherever a torch function
takes ``generator=``. :func:`torch_global_seed` is for the draws that cannot take one (BoTorch's
optimizers and sample paths draw from torch's global generator): it holds
:data:`asktell.rng.GLOBAL_TORCH_LOCK`, forks the global generator, seeds it from (seed, *keys), and
restores the caller's generator on exit. Threads that ask at once thus give exactly what they give
one after the other.

Example:
    >>> with torch_global_seed(7, "bayesopt", 3):
    ...     a = torch.rand(2)
    >>> with torch_global_seed(7, "bayesopt", 3):
    ...     b = torch.rand(2)
    >>> bool((a == b).all())
    True
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from asktell.rng import GLOBAL_TORCH_LOCK, derive_seed


def torch_rng(seed: int, *keys: int | str) -> torch.Generator:
    """A CPU torch Generator for (seed, *keys)."""
    gen = torch.Generator()
    gen.manual_seed(derive_seed(seed, *keys))
    return gen


@contextlib.contextmanager
def torch_global_seed(seed: int, *keys: int | str) -> Iterator[None]:
    """Run the block with torch's global CPU generator seeded from (seed, *keys), alone.

    Holds the process-wide lock for the whole block, so no other asktell section draws from (or
    reseeds) the global generator meanwhile; the caller's generator state is restored on exit.
    """
    with GLOBAL_TORCH_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, *keys))
        yield
