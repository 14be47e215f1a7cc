"""Every built-in loop runs the conformance suite users run on theirs (:mod:`asktell.testing`).

A new built-in loop joins by being listed in :data:`asktell.registry.BUILTIN`; it runs with its
default configuration, or with the cheaper one given in ``FAST_CONFIGS`` (capped restarts and
iterations keep the suite fast). The fresh-process check starts an interpreter per loop, so it runs
with the slow tests (``make test-all``).
"""

from __future__ import annotations

import pytest

from asktell.registry import BUILTIN, loop_class
from asktell.testing import PRIOR_SPACE, LoopConformance

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
# Accepted hostile options and memo corruptions run through an ask, per loop (default 8): a
# model-based ask costs a GP fit.
HOSTILE_RUNS = {"bayesopt": 2, "zord": 3, "fzoos": 3}
# Objectives of the multi-objective checks, for the loops that take several (default 3): a model-based
# loop fits a GP per objective, so it gets 2.
N_OBJECTIVES = {"bayesopt": 2}

# Hostile cases a built-in loop is known to get wrong (fnmatch patterns of their labels), each also
# an xfail(strict=True) test in tests/test_refusals.py naming the line; none today. The suite checks
# that a listed case is still accepted (a fixed one fails here until it is removed) and skips it.
KNOWN_GAPS: dict[str, list[str]] = {}
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

    @pytest.fixture
    def hostile_runs(self, loop) -> int:
        return HOSTILE_RUNS.get(loop.name, 8)

    @pytest.fixture
    def known_gaps(self, loop) -> list[str]:
        return KNOWN_GAPS.get(loop.name, [])

    @pytest.fixture
    def n_objectives(self, loop) -> int:
        return N_OBJECTIVES.get(loop.name, 3)


# Loops that read a space's priors (asktell.priors): they run the suite again on a space with a prior
# on every parameter (the others treat it as the space without them).
PRIOR_LOOPS = ["bayesopt", "random"]


class TestBuiltinLoopsOnAPriorSpace(TestBuiltinLoops):
    @pytest.fixture(params=PRIOR_LOOPS)
    def loop(self, request):
        return loop_class(request.param).from_config(FAST_CONFIGS.get(request.param, {}))

    @pytest.fixture
    def space(self):
        return PRIOR_SPACE

    # The constrained and multi-objective checks cost BayesOpt 1-2 minutes each here; they run with
    # the slow tests (`make test-all`), and tests/loops/test_bayesopt_priors.py asks a constrained
    # and a multi-objective prior space in the quick ones.
    @pytest.mark.slow
    def test_outcome_constraints(self, loop, space, n_warmup):
        super().test_outcome_constraints(loop, space, n_warmup)

    @pytest.mark.slow
    def test_multiobjective_with_constraints(self, loop, space, n_warmup, n_objectives):
        super().test_multiobjective_with_constraints(loop, space, n_warmup, n_objectives)

    @pytest.mark.slow
    def test_multiobjective_reference_point_is_inferred_once_or_kept(self, loop, space, n_objectives):
        super().test_multiobjective_reference_point_is_inferred_once_or_kept(loop, space, n_objectives)

    @pytest.mark.slow
    def test_multiobjective_pending_trials_are_not_asked_again(self, loop, space, n_warmup, n_objectives):
        super().test_multiobjective_pending_trials_are_not_asked_again(loop, space, n_warmup, n_objectives)

    @pytest.mark.slow
    def test_multiobjective_run_round_trips_and_resumes(self, loop, space, n_warmup, n_objectives):
        super().test_multiobjective_run_round_trips_and_resumes(loop, space, n_warmup, n_objectives)


def test_the_tables_name_built_in_loops():
    assert set(HOSTILE_RUNS) | set(KNOWN_GAPS) | set(N_OBJECTIVES) <= set(BUILTIN)


def test_fast_configs_name_built_in_loops_and_change_their_defaults():
    """A stale entry (a renamed loop or option) would silently run the default configuration."""
    assert set(FAST_CONFIGS) <= set(BUILTIN)
    for name, config in FAST_CONFIGS.items():
        cls = loop_class(name)
        assert cls.from_config(config).config() != cls().config(), name
