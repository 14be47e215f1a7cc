"""The simple ways in: ``minimize`` for a Python function, ``load`` to resume any saved state.

A constrained problem (``minimize(f, space, constraints=["mem <= 4"])``) has ``f`` return the value
and each outcome's measured value, ``(0.37, {"mem": 3.2})``; the result's best is the best
*feasible* trial (None while none is).

Several objectives (``minimize(f, space, loop=Sobol(), n_objectives=2)``): ``f`` returns one value
per objective, ``(0.12, 31.0)``, every one minimized; there is no single best trial, so the result
has a Pareto front (``result.pareto_front``) and its hypervolume (``result.hypervolume``) instead.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, CancelledError, Executor, Future, wait
from dataclasses import dataclass, replace
from typing import Any

from asktell.checks import check_positive
from asktell.constraints import parse_constraints
from asktell.errors import ConfigError, StateError
from asktell.registry import loop_class
from asktell.space import Space
from asktell.state import FAILED, State, Trial, reference_point_wait


def load(text: str | bytes) -> tuple[Any, State]:
    """Resume any run from its JSON: returns ``(loop, state)`` for the loop that wrote it.

    Imports that loop's module (and only it). A state written by an older asktell comes back in
    today's form: its schema migrated, options that were renamed since under their new names and
    options it lacks at their defaults.
    """
    state = State.from_json(text)
    try:
        loop = loop_class(state.loop_name).from_config(state.loop_config)
    except ConfigError as exc:
        raise StateError(f"the state's loop_config is invalid: {exc}") from None
    state = replace(state, loop_config=loop.config())
    loop.check_state(state)  # the memo of the right type, consistent with the trials
    return loop, state


@dataclass(frozen=True)
class Result:
    """What :func:`minimize` returns.

    Attributes:
        best: the *feasible* completed trial with the lowest value: None if every evaluation
            failed, or in a constrained problem while no trial keeps every constraint (then
            :attr:`summary` says "no feasible trial yet"). Always None for several objectives,
            which have no single best trial: see :attr:`pareto_front` and :attr:`hypervolume`.
        trials: all trials, in order.
        state: the final state (``state.to_json()`` saves the run).
    """

    best: Trial | None
    trials: tuple[Trial, ...]
    state: State

    @property
    def best_params(self) -> dict[str, Any] | None:
        return None if self.best is None else dict(self.best.params)

    @property
    def best_value(self) -> Any:
        return None if self.best is None else self.best.value

    @property
    def pareto_front(self) -> list[Trial]:
        """The completed, feasible trials no other such trial dominates (every objective
        minimized), in id order: ``state.pareto_front()``. One objective: the best trial, as a list."""
        return self.state.pareto_front()

    @property
    def hypervolume(self) -> float | None:
        """The hypervolume the feasible completed trials dominate, bounded by the run's reference
        point (given to :func:`minimize` or inferred from the first completed trials, see
        ``state.ref_point``); None while there is no reference point, and for one objective."""
        if self.state.ref_point is None:
            return None
        return self.state.hypervolume()

    @property
    def feasible(self) -> list[Trial]:
        """The completed trials that keep every constraint (all completed ones, unconstrained)."""
        return self.state.feasible

    @property
    def summary(self) -> str:
        """What the run found, in a sentence: the best trial, or why there is none."""
        state = self.state
        completed = len(state.completed)
        if self.best is not None:
            kept = f" (feasible: {len(state.feasible)} of {completed} completed)" if state.constraints else ""
            return f"best value {self.best.value!r} at trial {self.best.id}{kept}"
        if state.n_objectives > 1:
            return self._front_summary()
        if state.constraints and completed:
            listed = ", ".join(map(str, state.constraints))
            return (
                f"no feasible trial yet: none of the {completed} completed trials keeps every "
                f"constraint ({listed})"
            )
        if state.constraints:
            return "no feasible trial yet: no trial has completed"
        return "no completed trial: every evaluation failed" if state.trials else "no trial yet"

    def _front_summary(self) -> str:
        state = self.state
        front, completed = self.pareto_front, len(state.completed)
        if front:
            among = "feasible completed" if state.constraints else "completed"
            found = f"a Pareto front of {len(front)} of the {len(state.feasible)} {among} trials"
        elif state.constraints and completed:
            found = f"no feasible trial yet: none of the {completed} completed trials keeps every constraint"
        else:
            found = "no completed trial yet"
        point = state.ref_point
        if point is None:
            return f"{found}; no reference point yet ({reference_point_wait(state)})"
        how = "inferred" if state.problem.ref_point_inferred else "given"
        shown = "[" + ", ".join(f"{x:.6g}" for x in point) + "]"
        return f"{found}; hypervolume {state.hypervolume():.6g} (reference point {shown}, {how})"


def minimize(
    f: Callable[[dict[str, Any]], Any],
    space: Space | Mapping[str, Any],
    loop: Any = None,
    budget: int = 50,
    seed: int = 0,
    *,
    batch_size: int | None = None,
    state: State | None = None,
    progress: bool | None = None,
    executor: Executor | None = None,
    constraints: Sequence[Any] | None = None,
    n_objectives: int | None = None,
    ref_point: Sequence[float] | None = None,
) -> Result:
    """Minimize ``f(params) -> float`` over ``space`` with ``budget`` evaluations.

    Args:
        f: the black box; takes a dict of parameters. An exception it raises is recorded as a
            failed trial (with the error in the trial's metadata) and the run goes on; so is a
            value (or outcome value) that is not a finite number. With ``constraints``, ``f``
            returns ``(value, {"mem": 3.2, ...})``: the value and each declared outcome's
            measured value (any other shape, or other names, stops the run with a ConfigError:
            it is a bug in ``f``, not a failed evaluation). With ``n_objectives=m > 1``, ``f``
            returns ``m`` values (a list, tuple or array; with constraints
            ``([v1, v2], {"mem": 3.2})``): a non-finite one is a failed trial, another count
            stops the run with a ConfigError.
        space: the search space.
        loop: any asktell loop (default: ``BayesOpt()``, the recommended loop).
        budget: number of evaluations, failed ones included.
        seed: the run's seed.
        batch_size: points asked at once. Without an executor they are evaluated one after
            another (default 1). With an executor, the number of evaluations kept running at once
            (default: the executor's ``max_workers`` where it has one, as the standard library's
            thread and process pools do; pass it for others, such as Dask's).
        state: resume this state instead of starting a new one (``budget`` more evaluations); its
            problem (constraints included) is the run's.
        progress: show a progress bar; by default only when stderr is a terminal.
        executor: a :class:`concurrent.futures.Executor` that evaluates ``f`` in parallel,
            asynchronously: ``batch_size`` trials are submitted, and as soon as one finishes it is
            told and one new trial is asked, with the still-running ones passed to the loop as
            pending trials (so it does not ask for them again). ``f`` and the parameters must be
            picklable for a process pool or a cluster: define ``f`` at a module's top level. The
            trials are told in the order they finish, so a parallel run is not reproducible from
            its seed alone; its state is valid and can be saved and resumed like any other.
        constraints: outcome constraints (``["mem <= 4", "recall >= 0.9"]``, see
            :mod:`asktell.constraints`) for a new run; the result's best is then the best
            feasible trial. The loop must serve them (Sobol, RandomSearch; a loop that cannot
            refuses them with a ConfigError).
        n_objectives: the number of objectives of a new run (default 1), all minimized. With
            several the result has no single best trial (``best`` is None) but a Pareto front
            (``result.pareto_front``) and its hypervolume (``result.hypervolume``); the loop must
            serve several (a loop that cannot, ZoRD say, refuses them with a ConfigError).
            A resumed state keeps its own (a different number is refused).
        ref_point: with several objectives, the reference point of the run's hypervolumes (one
            number per objective); default: inferred from the first completed trials and kept in
            the state (:class:`~asktell.state.Problem`).

    Example (parallel evaluation):
        >>> from concurrent.futures import ProcessPoolExecutor
        >>> with ProcessPoolExecutor(4) as pool:  # doctest: +SKIP
        ...     result = minimize(f, space, budget=40, executor=pool)
        >>> # on a Dask cluster: Client(...).get_executor(), with batch_size=<number of workers>
    """
    if loop is None:
        from asktell.loops import default_loop

        loop = default_loop()
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
        raise ConfigError(f"budget must be a non-negative integer, got {budget!r}.")
    if batch_size is None:
        batch_size = 1 if executor is None else _workers_of(executor)
    check_positive("batch_size", batch_size, integer=True)
    if state is None:
        space = space if isinstance(space, Space) else Space.from_dict(space)
        problem: dict[str, Any] = {"constraints": constraints}
        if n_objectives is not None:  # only when given: a loop's init need not take them
            problem["n_objectives"] = n_objectives
        if ref_point is not None:
            problem["ref_point"] = ref_point
        state = loop.init(space, seed=seed, **problem)
    else:
        _check_resumed_problem(state, constraints, n_objectives, ref_point)
    from tqdm.auto import tqdm  # here, not at the top: `import asktell` stays light

    show = sys.stderr.isatty() if progress is None else progress
    with tqdm(total=budget, disable=not show, desc=f"asktell {loop.name}") as bar:
        if executor is not None:
            state = _minimize_in_parallel(f, loop, state, budget, batch_size, executor, bar)
            return _result(state)
        done = 0
        while done < budget:
            state, trials = loop.ask(state, n=min(batch_size, budget - done))
            for trial in trials:
                state = _evaluate_and_tell(f, loop, state, trial)
                done += 1
                _advance(bar, state)
    return _result(state)


def _result(state: State) -> Result:
    best = None if state.n_objectives > 1 else state.best()  # several: no single best trial
    return Result(best=best, trials=state.trials, state=state)


def _check_resumed_problem(
    state: State,
    constraints: Sequence[Any] | None,
    n_objectives: int | None,
    ref_point: Sequence[float] | None,
) -> None:
    """Refuse a problem given with a state to resume that is not the state's own: the run's
    problem is its state's."""
    if constraints is not None and parse_constraints(constraints) != state.constraints:
        listed = ", ".join(map(str, state.constraints)) or "none"
        raise ConfigError(
            f"the state to resume has its own constraints ({listed}); pass constraints only to start a "
            "new run, or leave them out to resume with the state's."
        )
    if n_objectives is not None and n_objectives != state.n_objectives:
        raise ConfigError(
            f"the state to resume has {state.n_objectives} objective(s), not {n_objectives!r}; pass "
            "n_objectives only to start a new run, or leave it out to resume with the state's."
        )
    if ref_point is not None:
        try:
            same = state.ref_point is not None and tuple(float(x) for x in ref_point) == state.ref_point
        except (TypeError, ValueError):
            same = False
        if not same:
            theirs = "none yet" if state.ref_point is None else list(state.ref_point)
            raise ConfigError(
                f"the state to resume has its own reference point ({theirs}); pass ref_point only "
                "to start a new run, or leave it out to resume with the state's."
            )


def _evaluate_and_tell(f: Callable[[dict[str, Any]], Any], loop: Any, state: State, trial: Trial) -> State:
    try:
        value = f(dict(trial.params))
    except Exception as exc:  # the black box failed: record it, keep going
        return _tell_outcome(loop, state, trial, None, exc)
    return _tell_outcome(loop, state, trial, value, None)


def _tell_outcome(loop: Any, state: State, trial: Trial, result: Any, error: BaseException | None) -> State:
    """Tell what ``f`` returned, or a failed trial when ``f`` raised or returned something not a
    value (NaN, a string; in a constrained problem also a non-finite outcome value)."""
    if error is not None:
        return loop.tell(
            state,
            trial.id,
            None,
            status=FAILED,
            metadata={"error": f"{type(error).__name__}: {error}"},
        )
    value, outcomes = _split(result, state)  # a wrong shape is a bug in f: raised, not a failure
    _check_count(value, state)
    try:
        return loop.tell(state, trial.id, value, constraints=outcomes)
    except ValueError as exc:  # NaN, inf or a non-number from f: a failed evaluation, said so
        return loop.tell(state, trial.id, None, status=FAILED, metadata={"error": str(exc)})


def _split(result: Any, state: State) -> tuple[Any, dict[str, Any] | None]:
    """``f``'s result as ``(value, outcome values)``: in a constrained problem ``f`` returns
    ``(value, {name: outcome})`` with exactly the declared names; otherwise the value alone.

    Raises:
        ConfigError: any other shape (the same mistake would fail every trial of the run).
    """
    names = state.problem.outcome_names
    pair = isinstance(result, (tuple, list)) and len(result) == 2 and isinstance(result[1], Mapping)
    if not names:
        if pair:
            raise ConfigError(
                f"f returned outcome values ({_brief(result[1])}), but the problem declares no "
                "constraints; pass minimize(..., constraints=['mem <= 4']) to constrain them, or "
                "return the value alone."
            )
        return result, None
    listed = ", ".join(map(str, state.constraints))
    if not pair:
        raise ConfigError(
            f"the problem is constrained ({listed}): f must return (value, {{{names[0]!r}: ...}}), "
            f"the value and each outcome's measured value; got {_brief(result)}."
        )
    value, outcomes = result
    if set(outcomes) != set(names):
        given = sorted(str(k)[:64] for k in outcomes)
        raise ConfigError(
            f"the problem is constrained ({listed}): f must return the value of each outcome "
            f"{names}, and only those; it returned {given}."
        )
    return value, dict(outcomes)


def _check_count(value: Any, state: State) -> None:
    """With several objectives, ``f`` returns one value per objective: another count (or a single
    number) is a bug in ``f`` that would fail every trial, so it stops the run.

    Raises:
        ConfigError: naming the number of objectives and what ``f`` returned.
    """
    m = state.n_objectives
    if m == 1:
        return
    try:
        count = None if isinstance(value, (str, bytes, Mapping)) else len(value)
    except TypeError:  # a number, a 0-d array
        count = None
    if count != m:
        got = "a single value" if count is None else f"{count} values"
        raise ConfigError(
            f"the problem has {m} objectives: f must return {m} values, one per objective (a list, "
            f"tuple or array, all minimized); it returned {got}: {_brief(value)}."
        )


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def _workers_of(executor: Executor) -> int:
    workers = getattr(executor, "_max_workers", None)  # ThreadPoolExecutor, ProcessPoolExecutor
    if isinstance(workers, int) and not isinstance(workers, bool) and workers >= 1:
        return workers
    raise ConfigError(
        f"cannot tell how many workers {type(executor).__name__} has; pass batch_size=<number of "
        "evaluations to run at once>."
    )


def _minimize_in_parallel(
    f: Callable[[dict[str, Any]], Any],
    loop: Any,
    state: State,
    budget: int,
    n_running: int,
    executor: Executor,
    bar: Any,
) -> State:
    """Keep ``n_running`` evaluations in flight; tell each as it finishes and ask a new one."""
    running: dict[Future, Trial] = {}
    asked = 0
    try:
        while asked < budget or running:
            free = min(n_running - len(running), budget - asked)
            if free > 0:  # asked with the running trials pending in the state
                state, trials = loop.ask(state, n=free)
                asked += free
                for trial in trials:
                    running[executor.submit(f, dict(trial.params))] = trial
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=lambda fut: running[fut].id):
                trial = running.pop(future)
                try:
                    error = future.exception()
                except CancelledError as exc:  # cancelled by the executor (a cluster shutting down)
                    error = exc
                value = None if error is not None else future.result()
                state = _tell_outcome(loop, state, trial, value, error)
                _advance(bar, state)
    finally:
        for future in running:  # interrupted: do not leave work queued behind us
            future.cancel()
    return state


def _advance(bar: Any, state: State) -> None:
    bar.update(1)
    if state.n_objectives > 1:
        if not bar.disable:  # the front and its hypervolume cost something: only when shown
            front = len(state.pareto_front())
            if state.ref_point is None:
                bar.set_postfix(front=front)
            else:
                bar.set_postfix(front=front, hv=f"{state.hypervolume():.6g}")
        return
    best = state.best()  # feasible only: the bar shows no value before a trial keeps every bound
    if best is not None:
        bar.set_postfix(best=f"{best.value:.6g}")
