"""Every built-in loop runs the conformance suite users run on theirs (:mod:`asktell.testing`).

A new built-in loop joins by being listed in :data:`asktell.registry.BUILTIN`; it runs with its
default configuration, or with the cheaper one given in ``FAST_CONFIGS`` (capped restarts and
iterations keep the suite fast). The fresh-process check starts an interpreter per loop, so it runs
with the slow tests (``make test-all``).
"""

from __future__ import annotations

import pytest

from asktell.registry import BUILTIN, loop_class
from asktell.testing import LoopConformance

# Cheaper configurations for expensive loops; loops absent here use their defaults.
FAST_CONFIGS: dict[str, dict] = {
    "bayesopt": {
        "n_init": 3,
        "num_restarts": 2,
        "raw_samples": 32,
        "max_fit_iter": 20,
        "acq_maxiter": 20,
    },
    "zord": {"n_init": 3},
    "fzoos": {
        "n_features": 200,
        "local_steps": 2,
        "local_active": 1,
        "local_candidates": 10,
        "post_active": 2,
        "post_candidates": 10,
        "n_init": 2,
        "n_local": 30,
        "n_rff": 40,
    },
    "fedzo": {"local_steps": 2, "q": 3},
    "fedprox": {"local_steps": 2, "q": 3},
    "scaffold1": {"local_steps": 2, "q": 3},
    "scaffold2": {"local_steps": 2, "q": 3},
}
# Hypothesis examples per loop: model-based loops fit a GP per ask.
EXAMPLES = {"random": 25, "sobol": 25}
BUILTIN_LOOPS = sorted(BUILTIN)  # by name, without importing them


class TestBuiltinLoops(LoopConformance):
    @pytest.fixture(params=BUILTIN_LOOPS)
    def loop(self, request):
        return loop_class(request.param).from_config(FAST_CONFIGS.get(request.param, {}))

    @pytest.fixture
    def max_examples(self, loop) -> int:
        return EXAMPLES.get(loop.name, 4)

    @pytest.fixture(params=[pytest.param(True, marks=pytest.mark.slow, id="fresh")])
    def fresh_process(self, request) -> bool:
        return request.param


def test_fast_configs_name_built_in_loops_and_change_their_defaults():
    """A stale entry (a renamed loop or option) would silently run the default configuration."""
    assert set(FAST_CONFIGS) <= set(BUILTIN)
    for name, config in FAST_CONFIGS.items():
        cls = loop_class(name)
        assert cls.from_config(config).config() != cls().config(), name
