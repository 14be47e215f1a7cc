"""The simple ways in: ``minimize`` for a Python function, ``load`` to resume any saved state."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

from asktell.errors import ConfigError
from asktell.registry import loop_class
from asktell.space import Space
from asktell.state import FAILED, State, Trial


def load(text: str | bytes) -> tuple[Any, State]:
    """Resume any run from its JSON: returns ``(loop, state)`` for the loop that wrote it."""
    state = State.from_json(text)
    loop = loop_class(state.loop_name).from_config(state.loop_config)
    return loop, state


@dataclass(frozen=True)
class Result:
    """What :func:`minimize` returns.

    Attributes:
        best: the completed trial with the lowest value (None if every evaluation failed).
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


def minimize(
    f: Callable[[dict[str, Any]], Any],
    space: Space | Mapping[str, Any],
    loop: Any = None,
    budget: int = 50,
    seed: int = 0,
    *,
    batch_size: int = 1,
    state: State | None = None,
    progress: bool | None = None,
) -> Result:
    """Minimize ``f(params) -> float`` over ``space`` with ``budget`` evaluations.

    Args:
        f: the black box; takes a dict of parameters. An exception it raises is recorded as a
            failed trial (with the error in the trial's metadata) and the run goes on.
        space: the search space.
        loop: any asktell loop (default: ``BayesOpt()``, the recommended loop).
        budget: number of evaluations, failed ones included.
        seed: the run's seed.
        batch_size: points asked at once (evaluated one after another).
        state: resume this state instead of starting a new one (``budget`` more evaluations).
        progress: show a progress bar; by default only when stderr is a terminal.
    """
    if loop is None:
        from asktell.loops import default_loop

        loop = default_loop()
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
        raise ConfigError(f"budget must be a non-negative integer, got {budget!r}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if state is None:
        state = loop.init(space if isinstance(space, Space) else Space.from_dict(space), seed=seed)
    show = sys.stderr.isatty() if progress is None else progress
    with tqdm(total=budget, disable=not show, desc=f"asktell {loop.name}") as bar:
        done = 0
        while done < budget:
            state, trials = loop.ask(state, n=min(batch_size, budget - done))
            for trial in trials:
                state = _evaluate_and_tell(f, loop, state, trial)
                done += 1
                bar.update(1)
                best = state.best()
                if best is not None:
                    bar.set_postfix(best=f"{best.value:.6g}")
    return Result(best=state.best(), trials=state.trials, state=state)


def _evaluate_and_tell(
    f: Callable[[dict[str, Any]], Any], loop: Any, state: State, trial: Trial
) -> State:
    try:
        value = f(dict(trial.params))
    except Exception as exc:  # the black box failed: record it, keep going
        return loop.tell(
            state, trial.id, None, status=FAILED, metadata={"error": f"{type(exc).__name__}: {exc}"}
        )
    try:
        return loop.tell(state, trial.id, value)
    except ValueError as exc:  # NaN, inf or a non-number from f: a failed evaluation, said so
        return loop.tell(state, trial.id, None, status=FAILED, metadata={"error": str(exc)})
