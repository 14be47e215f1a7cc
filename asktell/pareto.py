"""Pareto fronts and hypervolumes of minimized values, in NumPy (the data layer: no torch).

For ``n`` points with ``m`` objectives (an ``n x m`` array, every objective minimized):

- a point is *dominated* when another is no worse in every objective and better in one;
  :func:`non_dominated` marks the others (the Pareto front);
- the *hypervolume* of the points with respect to a reference point ``r`` is the Lebesgue measure
  of ``{z : z <= r, some point p <= z}``: the region they dominate, bounded by ``r``. Points not
  strictly better than ``r`` in every objective add nothing. :func:`hypervolume` computes it
  exactly by slicing along the last objective (HSO: each slice is the ``(m - 1)``-objective
  hypervolume of the points below it), with a sort-and-sweep in two objectives.
  :func:`hypervolume_history` gives it for every prefix of a sequence, by exclusive contributions.
  That is fast for the fronts of a BayesOpt run (hundreds of points, up to ~5 objectives); exact
  hypervolume is exponential in ``m`` in the worst case, so many objectives with large fronts are
  slow.
- :func:`infer_reference_point` is BoTorch's ``infer_reference_point`` for minimization: the
  nadir of the front pushed out by a tenth of its range.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from asktell.errors import ShapeError

# BoTorch's MIN_Y_RANGE: the smallest range an objective's front is given (a flat objective)
MIN_RANGE = 1e-7
SCALE = 0.1  # infer_reference_point's default: Ishibuchi et al. find it robust
_BLOCK = 512  # rows compared at once by non_dominated


def reference_trials(dim: int) -> int:
    """The number of completed trials after which a multi-objective state infers its reference
    point (once one of them is feasible: :func:`asktell.state.reference_point_for`): the size of
    asktell's default initial design for ``dim`` parameters."""
    return min(max(5, dim + 1), 20)


def as_values(values: Any, n_objectives: int | None = None) -> np.ndarray:
    """``values`` as a finite float ``n x m`` array (a 1-d array is ``n`` points of one objective).

    Raises ShapeError for another shape, a wrong ``m`` or non-finite entries.
    """
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ShapeError(f"values must be an n x m array of numbers: {exc}.") from None
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise ShapeError(f"values must be an n x m array, got shape {array.shape}.")
    if n_objectives is not None and array.shape[1] != n_objectives:
        raise ShapeError(f"values must have {n_objectives} objectives, got {array.shape[1]}.")
    if not np.isfinite(array).all():
        raise ShapeError("values must be finite.")
    return array


def non_dominated(values: Any) -> np.ndarray:
    """Mask (``n`` booleans) of the points no other point dominates; of equal points only the
    first is kept (BoTorch's ``is_non_dominated(deduplicate=True)``, for minimization)."""
    Y = as_values(values)
    n = Y.shape[0]
    keep = np.zeros(n, dtype=bool)
    for start in range(0, n, _BLOCK):  # blocks of rows bound the n x n x m comparisons' memory
        rows = Y[start : start + _BLOCK, None, :]
        no_worse = (Y[None, :, :] <= rows).all(-1)  # [i, j]: point j is no worse than point i
        dominated = (no_worse & (Y[None, :, :] < rows).any(-1)).any(-1)
        equal = (Y[None, :, :] == rows).all(-1)
        index = np.arange(start, start + rows.shape[0])[:, None]
        earlier_twin = (equal & (np.arange(n)[None, :] < index)).any(-1)  # an equal point comes first
        keep[start : start + rows.shape[0]] = ~(dominated | earlier_twin)
    return keep


def hypervolume(values: Any, ref_point: Any) -> float:
    """The exact hypervolume the points dominate, bounded by ``ref_point`` (both minimized).

    Args:
        values: ``n x m`` objective values (``n`` may be 0: the volume is 0).
        ref_point: ``m`` finite numbers.
    """
    ref = np.asarray(ref_point, dtype=np.float64).reshape(-1)
    Y = as_values(values) if np.size(values) else np.zeros((0, ref.size))
    if Y.shape[1] != ref.size or not np.isfinite(ref).all():
        raise ShapeError(
            f"ref_point must be {Y.shape[1]} finite numbers (one per objective), got {ref.tolist()}."
        )
    inside = Y[(ref > Y).all(-1)]
    if inside.shape[0] == 0:
        return 0.0
    return float(_volume(_thinned(inside), ref))


def _thinned(Y: np.ndarray) -> np.ndarray:
    """``Y`` without its dominated points where that pays: with more than three objectives (the
    slicing recurses on every subset), not with two or three (the sweep ignores them anyway)."""
    return Y[non_dominated(Y)] if Y.shape[1] > 3 else Y


def _volume(Y: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume of points ``Y`` (``n x m``, ``n >= 1``) all strictly inside ``ref``; dominated
    points may be among them."""
    m = Y.shape[1]
    if m == 1:
        return float(ref[0] - Y[:, 0].min())
    if m == 2:
        # sweep along the first objective: each strip reaches down to the lowest second objective
        # seen so far (dominated points then add nothing)
        order = np.argsort(Y[:, 0], kind="stable")
        x, y = Y[order, 0], np.minimum.accumulate(Y[order, 1])
        right = np.append(x[1:], ref[0])
        return float(((right - x) * (ref[1] - y)).sum())
    # slice along the last objective: between consecutive levels, the (m-1)-volume of the points
    # at or below the level
    order = np.argsort(Y[:, -1], kind="stable")
    Y = Y[order]
    levels = np.append(Y[1:, -1], ref[-1])
    total = 0.0
    for i in range(Y.shape[0]):
        height = levels[i] - Y[i, -1]
        if height <= 0:
            continue
        total += height * _volume(_thinned(Y[: i + 1, :-1]), ref[:-1])
    return total


def hypervolume_history(values: Any, ref_point: Any) -> np.ndarray:
    """The hypervolume of the first ``k`` points for every ``k`` (``n`` floats): each step adds the
    new point's exclusive contribution, ``prod(ref - p)`` less the volume the earlier points
    already cover inside that box (their coordinates raised to ``p``'s), so a run's history costs
    about one small hypervolume per point rather than one of the whole front."""
    ref = np.asarray(ref_point, dtype=np.float64).reshape(-1)
    Y = as_values(values) if np.size(values) else np.zeros((0, ref.size))
    hypervolume(Y[:1], ref)  # the same refusals as one hypervolume
    history = np.zeros(Y.shape[0])
    volume = 0.0
    front = np.zeros((0, ref.size))  # the non-dominated points inside ref seen so far
    for k, point in enumerate(Y):
        inside = bool((point < ref).all())
        if inside and not ((front <= point).all(-1)).any():  # neither outside nor dominated (or repeated)
            box = float(np.prod(ref - point))
            clipped = np.maximum(front, point)
            covered = _volume(_thinned(clipped), ref) if front.shape[0] else 0.0
            volume += box - covered
            front = np.vstack([front[~(point <= front).all(-1)], point])
        history[k] = volume
    return history


def infer_reference_point(values: Any) -> np.ndarray:
    """A reference point for minimized ``values`` (``n x m``, ``n >= 1``): BoTorch's
    ``infer_reference_point`` of their Pareto front, for minimization. With several front points
    ``nadir + 0.1 * (nadir - ideal)`` per objective (a range of at least 1e-7); with one,
    ``y + 0.1 * max(|y|, 1e-7)``."""
    Y = as_values(values)
    if Y.shape[0] == 0:
        raise ShapeError("a reference point needs at least one point.")
    front = Y[non_dominated(Y)]
    if front.shape[0] == 1:
        return front[0] + SCALE * np.maximum(np.abs(front[0]), MIN_RANGE)
    nadir, ideal = front.max(0), front.min(0)
    return nadir + SCALE * np.maximum(nadir - ideal, MIN_RANGE)
