"""``asktell.Client``: the Python side of the HTTP service (needs only httpx, not FastAPI).

Example:
    >>> client = asktell.Client("http://127.0.0.1:8080", token="s3cret")     # doctest: +SKIP
    >>> client.create_study("demo", "random", {"x": {"type": "real", "low": 0, "high": 1}})
    >>> (trial,) = client.ask("demo")
    >>> client.tell("demo", trial.id, trial.params["x"] ** 2)
    >>> client.add("demo", {"x": 0.5}, 0.25)      # a point evaluated elsewhere: the next trial
    >>> client.create_study("small", "sobol", space, constraints=["mem <= 4"])   # outcome constraints
    >>> (trial,) = client.ask("small")
    >>> client.tell("small", trial.id, 0.37, constraints={"mem": 3.2})
    >>> client.best("small")                      # the best feasible trial (None while none is)
    >>> client.create_study("two", "sobol", space, n_objectives=2, ref_point=[1.0, 250.0])
    >>> (trial,) = client.ask("two")
    >>> client.tell("two", trial.id, [0.12, 31.0])  # one value per objective, all minimized
    >>> front = client.pareto("two")              # .trials (the Pareto front), .hypervolume, .ref_point

Requests that never reached the server (connection refused, a server restarting) and answers 503
(concurrent requests won the race; nothing was changed) are retried for up to ``retry_s`` seconds.
A tell whose answer was lost is retried too, and a retry that finds the trial already told with the
same outcome counts as done; an ask whose answer was lost is not retried (its trial stays pending
until the study's ``pending_timeout_s`` expires it). Nor is an add whose answer was lost: an add is
not idempotent (the same point added twice is two trials), so instead of guessing, the client raises
a :class:`~asktell.errors.ServiceError` saying the add may or may not have been applied; look at the
study's trials (``Client.trials``) before adding the point again.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from asktell.constraints import Constraint
from asktell.errors import (
    AskTellError,
    BadRequest,
    Conflict,
    ServiceError,
    StudyExists,
    StudyNotFound,
    TrialFinished,
    TrialNotFound,
    Unauthorized,
)
from asktell.space import Space
from asktell.state import COMPLETED, FAILED, State, Trial


@dataclass(frozen=True)
class Pareto:
    """A study's Pareto front, as ``GET /studies/{name}/pareto`` serves it (:meth:`Client.pareto`).

    Attributes:
        trials: the completed, feasible trials no other such trial dominates (every objective
            minimized), by id: ``state.pareto_front()`` of the study's state.
        hypervolume: the volume the feasible completed trials dominate, bounded by ``ref_point``
            (``state.hypervolume()``); None while the study has no reference point (``detail``
            says when it will).
        ref_point: the study's reference point (given at creation or inferred), or None yet.
        ref_point_inferred: whether ``ref_point`` was inferred from the study's first trials.
        n_objectives: the study's number of objectives.
        detail: why ``hypervolume`` is None, else None.
    """

    trials: list[Trial]
    hypervolume: float | None
    ref_point: tuple[float, ...] | None
    ref_point_inferred: bool
    n_objectives: int
    detail: str | None = None


class Client:
    """A client of ``asktell serve``.

    Args:
        url: the server's base URL, e.g. ``http://127.0.0.1:8080``.
        token: the server's token or a study's token (default: ``$ASKTELL_TOKEN``).
        timeout: seconds to wait for one answer (a BayesOpt ask behind many others can take long).
        retry_s: how long to keep retrying requests the server did not receive or refused with 503.
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 600.0,
        retry_s: float = 60.0,
    ):
        token = os.environ.get("ASKTELL_TOKEN") if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self.retry_s = retry_s
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    # --- studies ----------------------------------------------------------------------------
    def create_study(
        self,
        name: str,
        loop: Any = "bayesopt",
        space: Space | Mapping[str, Any] | None = None,
        seed: int = 0,
        *,
        config: Mapping[str, Any] | None = None,
        n_objectives: int = 1,
        ref_point: Sequence[float] | None = None,
        constraints: Sequence[Any] | None = None,
        pending_timeout_s: float | None = None,
        study_token: str | None = None,
        exist_ok: bool = False,
    ) -> dict[str, Any]:
        """Create a study; returns its description (as ``GET /studies/{name}``).

        Args:
            loop: a loop object (its name and configuration are sent) or a registered loop name.
            space: an ``asktell.Space`` or its dict form.
            config: the loop's options when ``loop`` is a name.
            n_objectives: the problem's number of objectives (values are then lists, every
                objective minimized).
            ref_point: with several objectives, the reference point of the study's hypervolumes
                (one number per objective; default: inferred from the first completed trials,
                then kept).
            constraints: outcome constraints, as text (``["mem <= 4", "recall >= 0.9"]``),
                ``asktell.constraints.Constraint`` objects or ``{name, op, bound}`` dicts; every
                completed tell then gives each outcome's value (``tell(..., constraints={...})``).
            pending_timeout_s: expire pending trials older than this at the next ask.
            study_token: a token that gives access to this study alone.
            exist_ok: return the existing study instead of raising StudyExists.
        """
        if space is None:
            raise BadRequest("create_study needs a space (an asktell.Space or its dict).")
        if isinstance(loop, str):
            name_, loop_config = loop, dict(config or {})
        else:
            if config is not None:
                raise BadRequest("pass config only with a loop name; a loop object has its own.")
            name_, loop_config = loop.name, loop.config()
        body: dict[str, Any] = {
            "name": name,
            "loop": name_,
            "config": loop_config,
            "space": space.to_dict() if isinstance(space, Space) else dict(space),
            "seed": seed,
            "n_objectives": n_objectives,
            "pending_timeout_s": pending_timeout_s,
            "token": study_token,
        }
        if constraints is not None:  # absent when not given: a server before constraints reads the body
            body["constraints"] = _constraints_body(constraints)
        if ref_point is not None:  # absent when not given, likewise
            body["ref_point"] = _ref_point_body(ref_point)
        try:
            return self._request("POST", "/studies", json=body)
        except StudyExists:
            if not exist_ok:
                raise
            return self.study(name)

    def study(self, study: str) -> dict[str, Any]:
        """The study's description: loop, config, space, seed, version, trial counts."""
        return self._request("GET", f"/studies/{study}")

    def studies(self) -> list[dict[str, Any]]:
        """All studies (needs the server's token)."""
        return self._request("GET", "/studies")

    def delete_study(self, study: str) -> None:
        self._request("DELETE", f"/studies/{study}")

    # --- ask, tell and add -----------------------------------------------------------------
    def ask(self, study: str, n: int = 1) -> list[Trial]:
        """Ask for ``n`` new trials (pending ``asktell.Trial`` objects)."""
        answer = self._request("POST", f"/studies/{study}/ask", json={"n": n}, idempotent=False)
        return [_trial(t) for t in answer["trials"]]

    def tell(
        self,
        study: str,
        trial_id: int,
        value: Any = None,
        failed: bool = False,
        *,
        metadata: Mapping[str, Any] | None = None,
        constraints: Mapping[str, Any] | None = None,
    ) -> Trial:
        """Report a trial's value (or ``failed=True``); returns the finished trial.

        With several objectives the value is a list (or tuple, or array) of one number per
        objective. In a constrained study a completed trial also gives each declared outcome's measured
        value, ``constraints={"mem": 3.2, ...}``; the returned trial says whether it is feasible.
        """
        value = _plain(value)
        what = f"trial {trial_id}"
        body = {"trial_id": trial_id, **_outcome(value, failed, metadata, constraints, what)}
        try:
            answer = self._request("POST", f"/studies/{study}/tell", json=body, retried_tell=True)
        except _ToldBefore as exc:  # a retry of a tell whose answer was lost
            trial = self.trial(study, trial_id)
            expected = FAILED if failed else COMPLETED
            told = list(trial.value) if isinstance(trial.value, tuple) else trial.value
            same = told == _as_told(value) and trial.constraints == body.get("constraints")
            if trial.status == expected and (failed or same):
                return trial
            raise exc.error from None
        return _trial(answer)

    def add(
        self,
        study: str,
        params: Mapping[str, Any],
        value: Any = None,
        failed: bool = False,
        *,
        metadata: Mapping[str, Any] | None = None,
        constraints: Mapping[str, Any] | None = None,
    ) -> Trial:
        """Record an evaluation the loop did not ask for (as ``Loop.add``); returns the new trial.

        The trial gets the next id and ``metadata["added"] = True``; model-based loops fit on it
        like on any completed trial. ``params`` must be a point of the study's space; in a
        constrained study ``constraints`` gives each outcome's value, as in :meth:`tell`.

        Not retried once the request may have reached the server: an add is not idempotent, so a
        lost answer raises :class:`~asktell.errors.ServiceError` ("may or may not have been
        applied") rather than risk adding the point twice; check ``trials(study)`` before adding it
        again. Requests that never reached the server, and 503 answers (nothing was changed), are
        retried as usual.
        """
        if not isinstance(params, Mapping):
            raise BadRequest(f'params must be a mapping like {{"x": 0.5}}, got {params!r}.')
        body = {
            "params": {name: _plain(v) for name, v in params.items()},
            **_outcome(_plain(value), failed, metadata, constraints, "the added point"),
        }
        answer = self._request(
            "POST", f"/studies/{study}/add", json=body, idempotent=False, lost_hint=_ADD_LOST
        )
        return _trial(answer)

    # --- reading ----------------------------------------------------------------------------
    def trial(self, study: str, trial_id: int) -> Trial:
        return _trial(self._request("GET", f"/studies/{study}/trials/{trial_id}"))

    def trials(self, study: str, status: str | None = None) -> list[Trial]:
        """All trials of the study, by id (optionally only those of one status)."""
        out: list[Trial] = []
        page = 10000
        while True:
            params: dict[str, Any] = {"offset": len(out), "limit": page}
            if status is not None:
                params["status"] = status
            batch = self._request("GET", f"/studies/{study}/trials", params=params)
            out.extend(_trial(t) for t in batch)
            if len(batch) < page:
                return out

    def best(self, study: str) -> Trial | None:
        """The *feasible* completed trial with the lowest value, or None while there is none (no
        completed trial yet, or in a constrained study none that keeps every constraint; the
        server's ``GET /studies/{name}/best`` says which in its ``detail``). A study of several
        objectives has no single best trial: BadRequest, pointing to :meth:`pareto`."""
        trial = self._request("GET", f"/studies/{study}/best")["trial"]
        return None if trial is None else _trial(trial)

    def pareto(self, study: str) -> Pareto:
        """The study's Pareto front, its hypervolume and reference point (:class:`Pareto`): for
        several objectives what :meth:`best` is for one (which a study of several refuses)."""
        answer = self._request("GET", f"/studies/{study}/pareto")
        point = answer["ref_point"]
        return Pareto(
            trials=[_trial(t) for t in answer["trials"]],
            hypervolume=answer["hypervolume"],
            ref_point=None if point is None else tuple(float(x) for x in point),
            ref_point_inferred=bool(answer["ref_point_inferred"]),
            n_objectives=int(answer["n_objectives"]),
            detail=answer.get("detail"),
        )

    def pareto_front(self, study: str) -> list[Trial]:
        """The study's Pareto front: its completed, feasible, non-dominated trials, by id
        (``state.pareto_front()``; :meth:`pareto` has the hypervolume too)."""
        return self.pareto(study).trials

    def state(self, study: str) -> State:
        """Export the study's whole state."""
        return State.from_json(self._raw("GET", f"/studies/{study}/state").content)

    def put_state(self, study: str, state: State | str) -> dict[str, Any]:
        """Import a whole state: replaces the study's (or creates the study)."""
        text = state if isinstance(state, str) else state.to_json()
        return self._request(
            "PUT",
            f"/studies/{study}/state",
            content=text.encode(),
            headers={"Content-Type": "application/json"},
        )

    def health(self) -> dict[str, Any]:
        return self._request("GET", "/health")

    # --- plumbing ---------------------------------------------------------------------------
    def _request(self, method: str, path: str, *, json: Any = None, **kwargs: Any) -> Any:
        if json is not None:
            kwargs["content"] = _json_body(json, f"{method} {path}")
            kwargs["headers"] = {"Content-Type": "application/json"}
        response = self._raw(method, path, **kwargs)
        return None if response.status_code == 204 else response.json()

    def _raw(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool = True,
        retried_tell: bool = False,
        lost_hint: str = "",
        **kwargs: Any,
    ) -> httpx.Response:
        deadline = time.monotonic() + self.retry_s
        attempt, maybe_sent = 0, False
        while True:
            attempt += 1
            try:
                response = self._http.request(method, path, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # never reached the server: always safe to retry
                error: Exception = exc
            except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError) as exc:
                # the server may have applied the request before the connection broke
                if not (idempotent or retried_tell):
                    raise ServiceError(
                        f"{method} {self.url}{path}: the connection broke before the answer "
                        f"({exc}); the request may or may not have been applied.{lost_hint}"
                    ) from None
                error, maybe_sent = exc, True
            except httpx.TimeoutException as exc:
                raise ServiceError(
                    f"{method} {self.url}{path}: no answer within the client's timeout ({exc}); "
                    f"the request may or may not have been applied.{lost_hint} A long request (a "
                    "model-based loop behind many others) needs a larger Client(timeout=...)."
                ) from None
            except httpx.HTTPError as exc:
                raise ServiceError(f"{method} {self.url}{path} failed: {exc}") from None
            else:
                if response.status_code != 503:
                    if response.status_code == 409 and retried_tell and maybe_sent:
                        raise _ToldBefore(_error(response, method, path))
                    if response.status_code >= 400:
                        raise _error(response, method, path)
                    return response
                error = _error(response, method, path)
            if time.monotonic() >= deadline:
                if isinstance(error, AskTellError):
                    raise error
                raise ServiceError(
                    f"{method} {self.url}{path} failed for {self.retry_s:g} s: {error}; "
                    "is `asktell serve` running at that address?"
                ) from None
            time.sleep(min(1.0, 0.02 * 2 ** min(attempt, 6)) * random.uniform(0.5, 1.0))


_ADD_LOST = (
    " An add is not retried (the point would be added twice): look at the study's trials "
    "(Client.trials) before adding it again."
)


class _ToldBefore(Exception):
    def __init__(self, error: ServiceError):
        super().__init__(str(error))
        self.error = error


_ERRORS: dict[int, type[ServiceError]] = {
    401: Unauthorized,
    409: ServiceError,
    422: BadRequest,
    503: Conflict,
}


def _error(response: httpx.Response, method: str, path: str) -> ServiceError:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    detail = str(detail)
    status = response.status_code
    if status == 404:
        cls: type[ServiceError] = TrialNotFound if "no trial" in detail else StudyNotFound
    elif status == 409:
        cls = StudyExists if "already exists" in detail else TrialFinished
    else:
        cls = _ERRORS.get(status, ServiceError)
    return cls(f"{detail} [{method} {path}: HTTP {status}]", status=status)


def _plain(value: Any) -> Any:
    """A numpy or torch scalar or vector as Python numbers (lists for vectors and tuples)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def _outcome(
    value: Any,
    failed: bool,
    metadata: Mapping[str, Any] | None,
    constraints: Mapping[str, Any] | None,
    what: str,
) -> dict[str, Any]:
    """The ``value``/``failed``/``constraints``/``metadata`` fields of a tell or an add (``what``
    names it)."""
    _check_finite(value, what)
    body: dict[str, Any] = {"failed": failed}
    if value is not None:
        body["value"] = value
    if constraints is not None:
        if not isinstance(constraints, Mapping):
            raise BadRequest(
                f"constraints must be a mapping of outcome name to value like {{'mem': 3.2}}, got "
                f"{constraints!r:.200} for {what}."
            )
        outcomes = {name: _plain(v) for name, v in constraints.items()}
        for name, number in outcomes.items():
            if isinstance(number, float) and not math.isfinite(number):
                raise BadRequest(
                    f"constraint value {name!r} must be finite, got {number!r} for {what}; "
                    "report a failed evaluation with failed=True instead."
                )
        body["constraints"] = outcomes
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise BadRequest(f"metadata must be a JSON object (a dict), got {metadata!r} for {what}.")
        body["metadata"] = dict(metadata)
    return body


def _check_finite(value: Any, what: str) -> None:
    """JSON has no NaN or infinity: refuse them here, with the server's wording."""
    numbers = value if isinstance(value, list) else [value]
    for number in numbers:
        if isinstance(number, float) and not math.isfinite(number):
            raise BadRequest(
                f"value must be a finite float, got {number!r} for {what}; "
                "report a failed evaluation with failed=True instead."
            )


def _json_body(body: Any, where: str) -> bytes:
    """The request body as strict JSON (the server reads nothing else), or BadRequest."""
    try:
        return json.dumps(body, allow_nan=False, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError) as exc:  # a NaN or infinity, an object JSON cannot hold
        raise BadRequest(
            f"{where}: the request must be JSON with finite numbers (no NaN, no infinity, "
            f"only dicts, lists, strings, numbers, booleans and None): {exc}."
        ) from None


def _as_told(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [float(v) for v in value]
    return None if value is None else float(value)


def _ref_point_body(ref_point: Any) -> list[Any]:
    """A reference point as the creation body takes it: a list of finite numbers."""
    point = _plain(ref_point)
    if not isinstance(point, list):
        raise BadRequest(f"ref_point must be a list of numbers like [1.0, 250.0], got {ref_point!r:.200}.")
    for number in point:
        if isinstance(number, float) and not math.isfinite(number):
            raise BadRequest(f"ref_point must hold finite numbers, got {point!r:.200}.")
    return point


def _constraints_body(constraints: Sequence[Any]) -> list[Any]:
    """A study's constraints as the creation body takes them: text, or ``{name, op, bound}``."""
    if isinstance(constraints, (str, bytes, Mapping)) or not isinstance(constraints, Sequence):
        raise BadRequest(
            f"constraints must be a list like ['mem <= 4', 'recall >= 0.9'], got {constraints!r:.200}."
        )
    return [c.to_dict() if isinstance(c, Constraint) else c for c in constraints]


def _trial(data: Mapping[str, Any]) -> Trial:
    value = data["value"]
    outcomes = data.get("constraints")
    return Trial(
        id=data["id"],
        params=dict(data["params"]),
        status=data["status"],
        value=tuple(value) if isinstance(value, list) else value,
        metadata=dict(data.get("metadata") or {}),
        constraints=None if outcomes is None else dict(outcomes),
        feasible=data.get("feasible"),
    )
