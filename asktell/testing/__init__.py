"""asktell.testing: the loop conformance suite, for asktell's own loops and for yours.

A loop keeps no state of its own: ``init``, ``ask``, ``tell`` and ``add`` are pure functions of a
JSON-serializable :class:`~asktell.State` (:mod:`asktell.loops.base`). :class:`LoopConformance`
holds a loop to that contract, as ``optuna.testing.pytest_samplers`` does for Optuna's samplers and
``check_estimator`` for scikit-learn's estimators: subclass it in a test file, return your loop from
the ``loop`` fixture, and pytest runs every check on it. Every built-in loop passes it (asktell's
``tests/conformance``).

Example, a test file of your project (``test_my_loop.py``, run with ``pytest``)::

    from dataclasses import dataclass

    import pytest

    from asktell.errors import ConfigError
    from asktell.loops import Loop, Proposal
    from asktell.registry import register_loop
    from asktell.rng import numpy_rng
    from asktell.testing import LoopConformance


    @register_loop  # a state names its loop: asktell.load(text) finds it by that name
    @dataclass(frozen=True)
    class MyLoop(Loop):
        \"\"\"Uniform points, then steps of size 1 / speed around the best point (unit cube).\"\"\"

        name = "my_loop"
        speed: float = 1.0

        def _validate_config(self):  # options checked by type and range when the loop is built
            ok = isinstance(self.speed, (int, float)) and not isinstance(self.speed, bool)
            if not ok or not 1 <= self.speed <= 1000:
                raise ConfigError(f"speed must be a number in [1, 1000], got {self.speed!r}.")

        def _propose(self, state, n):
            rng = numpy_rng(state.seed, self.name, state.counter)  # randomness from the state
            U = rng.random((n, state.space.dim))
            front = state.pareto_front()  # the best trial (several objectives: the non-dominated)
            if front:
                U = (state.space.encode(front[0].params) + (U - 0.5) / self.speed) % 1.0
            return Proposal(params=state.space.decode_many(U), memo=state.memo)


    class TestMyLoop(LoopConformance):
        @pytest.fixture
        def loop(self):
            return MyLoop(speed=3)

What a loop needs: the protocol of :class:`asktell.loops.Loop` (subclassing it gives validation and
``add`` for free), a ``name`` registered with :func:`asktell.registry.register_loop` (a JSON round
trip resumes by name), and ``config()`` / ``from_config`` that round-trip its options. Refusals are
:mod:`asktell.errors` classes with the messages of :func:`asktell.state.finish_trial`.

Fixtures a subclass may override (pytest fixtures of the class; all but ``loop`` have defaults):
    loop: the loop under test (required). Give it the cheapest configuration that still reaches
        its model (capped restarts and fit iterations, a short initial design): every check
        builds fresh runs.
    space: the space of the fixed checks; default :data:`MIXED_SPACE` (a real, a log-scaled real,
        an integer, a categorical).
    space_strategy: the hypothesis strategy of spaces for the property check; default
        :func:`asktell.testing.strategies.spaces`.
    max_examples: how many examples the property check draws (default 10; a loop that fits a
        model per ask may want 3 or 4).
    n_warmup: trials asked and told before the mid-run checks (default 4); set it past your
        initial design so that the checks run through the model.
    loop_with_other_config: the loop with another configuration, whose states yours must refuse;
        default: the first integer option plus one (else the first boolean negated); None skips
        that part.
    fresh_process: whether to repeat an ask in a fresh interpreter (default True; it costs an
        interpreter start and an import of your loop's module, which must be importable).
    hostile_runs: how many accepted hostile options, and how many accepted memo corruptions, are
        run through asks and tells (default 8, spread over the options and keys; the others are
        only built, loaded and checked). A loop that fits a model per ask may want 2 or 3.
    n_objectives: how many objectives the multi-objective checks use (default 2), for a loop whose
        ``max_objectives`` is None or above 1 (for the others they check the refusal of two).
    known_gaps: hostile cases your loop is known to get wrong, as fnmatch patterns of their labels
        (``"option lr = 10**400"``, ``"memo gp.*: null"``; a failure names its label). They must
        still be accepted, so a fixed gap fails until it is removed, and they are not run.

A loop that cannot optimize categoricals refuses a space with them at ``init`` with a
:class:`~asktell.errors.ParamError`; the suite then runs that check on the space's numeric part
(refusing that too fails: give a ``space`` and ``space_strategy`` it takes). A refusal at ``ask``
instead of ``init`` fails.

What it checks, each a ``test_*`` method:
    - ``init`` gives an empty state of this loop, the same one twice for a seed, that round-trips
      through JSON and :func:`asktell.load`; bad seeds and numbers of objectives are refused.
    - ``ask``, ``tell`` and ``add`` never change the state they are given (its exact JSON).
    - The same seed and calls give the same run; the same state asked twice gives the same trials
      and state. Metadata keys ending in ``_seconds`` are wall-clock durations (finite, >= 0):
      the only thing allowed to differ, and ignored by these comparisons
      (:meth:`asktell.State.without_timings`); any other metadata must be reproducible.
    - A JSON round trip mid-run resumes identically (batches of 2 after it), and a fresh process
      asks what this one asks (another hash seed).
    - ``ask(n)`` gives ``n`` new pending trials with the next ids, distinct, each a point of the
      space as the space normalizes it; pending trials are not asked again; failed trials (five
      in a row) do not break the next ask; a bad ``n`` is refused.
    - ``tell`` records the value (numpy numbers stored as floats), the status and the user's
      metadata; bad tells (unknown or non-integer id, NaN, infinity, a bool, a string, a list, a
      value for a failed trial, a bad status, a second tell, metadata that is not a JSON object)
      raise :class:`~asktell.errors.TrialError` and change nothing; ``add`` joins the trajectory
      and refuses points outside the space (a loop without ``add`` skips that check).
    - ``ask(n)`` beyond :data:`asktell.checks.MAX_ASK` points is a
      :class:`~asktell.errors.ParamError` naming the limit.
    - Hostile options (:data:`asktell.testing.hostile.HOSTILE_OPTIONS`: strings, digits as text,
      lists, objects, null, NaN, infinities, -1, 0, tiny and huge numbers, booleans, integers past
      2**63 and past a float's range) in every option of ``config()``, at construction and through
      ``from_config``: refused with a :class:`~asktell.errors.ConfigError`, or accepted and then
      ``init`` works, the state resumes from its JSON and the loop asks and tells.
    - Corrupted memos (:func:`asktell.testing.hostile.memo_corruptions`: each key of a mid-run
      memo, and of the objects in it, deleted, of the wrong type, one item short or long, plus an
      extra key): refused by ``loop.check_state`` with a :class:`~asktell.errors.StateError`
      (type your memo with ``memo_schema``, a TypedDict, and check the rest in ``_check_memo``), or
      a state that still asks and tells.
    - States of another loop, or of this loop with another configuration, and JSON text or a
      dict in place of a state are refused, and change nothing.
    - Several objectives: a loop with ``max_objectives = 1`` refuses two at ``init`` (and one with
      a limit, one more than it); every state refuses a list told or added to a single-objective
      run. A loop with ``max_objectives`` None or > 1 is run with ``n_objectives`` objectives
      (a fixture, default 2): values are stored as tuples of floats, a round trip mid-run
      resumes identically, failed trials do not break the next ask,
      pending points are not asked again, tells and adds of the wrong kind or length or with NaN,
      an infinity, a bool or a text in any objective are refused with the state unchanged
      (:func:`asktell.testing.helpers.bad_values`), the reference point is inferred once (at
      ``reference_trials(dim)`` completed trials) or kept as given, and, with outcome
      constraints too, the front holds feasible trials only and the run resumes. (``best()`` is
      for one objective: a multi-objective state raises; the checks use ``pareto_front()``.)
    - Outcome constraints: a loop without ``supports_constraints = True`` refuses them at
      ``init``; one with it records each trial's outcomes and feasibility, ``best()`` is the best
      feasible trial, a constrained run round-trips and resumes mid-run, pending points are not
      asked again, and tells and adds with missing, unknown or non-finite outcome values are
      refused with the state unchanged.
    - A property check (hypothesis): random spaces and values, every point inside, every state
      round-trips exactly, and ``best()`` is the minimum told.

A failing comparison of two runs names the first place where they differ
(``state.trials[4].params.x: 0.1 != 0.2``). The checks are plain methods, also callable directly
with fixture values as keyword arguments.
This package needs pytest and hypothesis, which asktell does not install (they are in its ``dev``
extra); without them importing it raises an ImportError that says so. ``import asktell`` never
imports it.
"""

from __future__ import annotations

try:
    import hypothesis  # noqa: F401
    import pytest
except ImportError as exc:
    raise ImportError(
        "asktell.testing is a pytest suite: it needs pytest and hypothesis, which asktell does not "
        f"install (missing: {exc.name}). Install them with `pip install pytest hypothesis` "
        "(or asktell's dev extra: `pip install 'asktell[dev]'`)."
    ) from exc

# pytest rewrites the asserts of test files only: ask it to rewrite the suite's too, so that a
# failing check shows the values compared (it must be asked before the modules are imported)
pytest.register_assert_rewrite("asktell.testing.conformance", "asktell.testing.helpers")

from asktell.testing.conformance import LoopConformance  # noqa: E402
from asktell.testing.helpers import (  # noqa: E402
    BAD_TELLS,
    MIXED_SPACE,
    PRIOR_SPACE,
    BadTell,
    assert_in_space,
    assert_same_run,
    assert_timings_are_durations,
    objective,
    without_categoricals,
)

__all__ = [
    "BAD_TELLS",
    "MIXED_SPACE",
    "PRIOR_SPACE",
    "BadTell",
    "LoopConformance",
    "assert_in_space",
    "assert_same_run",
    "assert_timings_are_durations",
    "objective",
    "without_categoricals",
]
