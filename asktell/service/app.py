"""The HTTP API: a FastAPI app over a :class:`~asktell.service.storage.Storage`.

Every route but ``GET /health`` needs ``Authorization: Bearer <token>``: the server's token (set at
start), or, for the routes of one study, that study's own token if it was created with one. A
missing or wrong token gets 401 and changes nothing.

Routes (bodies and answers are JSON; the OpenAPI schema is at ``/openapi.json``, docs at ``/docs``)::

    GET    /health                         no token needed
    POST   /studies                        create {name, loop, config, space, seed,        201
                                           constraints: ["mem <= 4", ...], n_objectives,
                                           ref_point: [...], ...}
    GET    /studies                        list (server token only)
    GET    /studies/{name}                 one study, without its trials
    DELETE /studies/{name}                                                                204
    POST   /studies/{name}/ask             {n} -> {trials: [{id, params, ...}], expired: [...]}
    POST   /studies/{name}/tell            {trial_id, value | failed: true, constraints, metadata}
    POST   /studies/{name}/add             {params, value | failed: true, constraints, metadata}: a
                                           trial the loop did not ask for (next id, metadata
                                           added: true)
    GET    /studies/{name}/trials          ?status=&offset=&limit=
    GET    /studies/{name}/trials/{id}
    GET    /studies/{name}/best            {trial: ... | null, detail}: the best feasible trial
                                           (one objective; several: 422, see /pareto)
    GET    /studies/{name}/pareto          {trials, hypervolume, ref_point, ref_point_inferred,
                                           detail}: the Pareto front
    GET    /studies/{name}/state           export the whole state (asktell.State JSON)
    PUT    /studies/{name}/state           import (replace, or create the study)

Outcome constraints: a study created with ``constraints`` (``["mem <= 4", "recall >= 0.9"]``, or
objects ``{name, op, bound}``) takes, in every completed tell and add, ``constraints: {"mem": 3.2,
"recall": 0.93}``: each declared outcome's measured value, none missing, none unknown, finite (a
failed trial gives none). Served trials carry ``constraints`` and ``feasible``; ``/best`` is the best
*feasible* trial, and while there is none it answers ``{"trial": null, "detail": "no feasible trial
yet ..."}`` (200, as it answers before any trial has completed).

Several objectives: a study created with ``n_objectives: 2`` (and, optionally, ``ref_point: [1.0,
250.0]``) takes a list of that many numbers as the value of every completed tell and add, every
objective minimized. Without a ``ref_point`` one is inferred (BoTorch's rule) by the tell that
completes the study's first trials and kept in the state (so in the study row), never to change:
the study's hypervolumes stay comparable as it grows. ``/pareto`` serves the front (the feasible
completed trials no other dominates), the hypervolume and the reference point; before there is one
the hypervolume is null with a ``detail``. ``/best`` has no single answer for several objectives:
422, naming ``/pareto``.

Refusals are 4xx with ``{"detail": "<what was wrong and what to do>"}``: 400 a body that is not
strict JSON (NaN and Infinity are not JSON) or is nested too deep, 401 the token, 404 an unknown
study or trial, 409 a study name taken or a trial already told, 413 a body over the limit, 422 a
request that is well-formed JSON but cannot be applied (a value of the wrong type, a parameter out
of range, an unknown loop, a state whose memo does not fit its trials, ...). 503 means concurrent
requests kept winning the race for the study, or the database was busy: nothing was changed,
retry. A refusal changes nothing: every change is validated, and what it stores and what it answers
are serialized (and what it stores read back), before it is committed.

Limits (what exceeds them is refused as above)::

    request body                  1 MiB (--max-body-bytes); 413
    state import (PUT .../state)  64 MiB (--max-state-bytes); 413
    JSON nesting of a body        512 levels; 400 (no valid request comes near it)
    integers in a body            4300 digits (Python's limit); 400. Numbers beyond a float's
                                  range (1e400) read as infinity: 422 wherever a number is stored
    trial metadata                32 levels deep, 64 KiB as compact JSON; 422
    loop config, memo             32 levels deep, finite numbers; 422
    n per ask                     1000 (the Python API allows 10 000); 422
    trials per page               10 000 (GET .../trials?limit=); 422
    parameters in a space         1000; choices of a categorical 10 000; 422
    integer parameters            bounds within +-2**53; real ranges of finite width; 422
    seed                          0 to 2**63 - 1; 422
    constraints of a study        100, outcome names of 64 characters, finite bounds; 422

``n`` stays at 1000 per request although ``loop.ask`` takes up to 10 000: one request holds its
study's lock while it computes, and builds its whole answer in memory (1000 trials of a
1000-parameter space are already some 20 MB of JSON); ask in several requests for more.

Anything else that goes wrong (a bug) is a 500 with ``{"detail": ...}`` naming the exception's type
only (the traceback goes to the server's log), after which the connection stays usable; nothing
was committed (see above).
"""

import gc
import hmac
import json
import logging
import math
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError

from asktell import __version__
from asktell.errors import (
    AskTellError,
    BadRequest,
    ConfigError,
    ServiceError,
    StateError,
    TrialFinished,
    Unauthorized,
)
from asktell.registry import loop_class
from asktell.service import models as m
from asktell.service.storage import (
    OVERFLOW_HINT,
    Snapshot,
    Storage,
    Study,
    check_strict_json,
    hash_token,
    load_state_dict,
    trial_not_found,
)
from asktell.service.tables import served
from asktell.space import Space
from asktell.state import COMPLETED, FAILED, PENDING, State, reference_point_wait

MAX_BODY_BYTES = 1 << 20  # 1 MiB: every request but a state import
MAX_STATE_BYTES = 64 << 20  # 64 MiB: PUT /studies/{name}/state
MAX_BODY_DEPTH = 512  # JSON nesting of any body: far beyond any valid one, far below a RecursionError
_PARSE_IN_THREAD_BYTES = 1 << 20
NameParam = Annotated[str, Path(pattern=m.NAME_PATTERN, max_length=128, examples=["branin-1"])]


def _param_spec(param: m.RealParam | m.IntegerParam | m.CategoricalParam) -> dict[str, Any]:
    """A parameter body as the space's JSON form: without an absent prior or weights."""
    spec = param.model_dump()
    return {k: v for k, v in spec.items() if not (k in ("prior", "weights") and v is None)}


def create_app(
    storage: Storage | str,
    token: str,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_state_bytes: int = MAX_STATE_BYTES,
) -> FastAPI:
    """The ask/tell app on ``storage`` (a Storage, or a database URL), guarded by ``token``."""
    if not isinstance(token, str) or not token:
        raise ConfigError("the server needs a non-empty token (--token or ASKTELL_TOKEN).")
    store = storage if isinstance(storage, Storage) else Storage(storage)
    app = FastAPI(
        title="asktell",
        version=__version__,
        description="Stateless ask/tell optimization over HTTP. Every route but /health takes "
        "`Authorization: Bearer <token>`.",
    )
    app.state.storage = store
    app.add_middleware(_BodyGuard, max_body=max_body_bytes, max_state=max_state_bytes)
    app.add_middleware(_LastResort)  # added last: the outermost of ours, around everything else
    _add_error_handlers(app)
    bearer = HTTPBearer(auto_error=False, description="the server's token, or the study's")
    Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]

    def _is_server(credentials: HTTPAuthorizationCredentials | None) -> bool:
        return credentials is not None and hmac.compare_digest(
            credentials.credentials.encode(), token.encode()
        )

    def server_auth(credentials: Credentials) -> None:
        if not _is_server(credentials):
            raise _unauthorized(credentials, "the server's token")

    def study_auth(name: NameParam, credentials: Credentials) -> None:
        if _is_server(credentials):
            return
        if credentials is not None:
            try:
                study = store.study(name)
            except ServiceError:
                study = None  # an unknown study: say 401, not whether it exists
            if (
                study is not None
                and study.token_hash is not None
                and hmac.compare_digest(hash_token(credentials.credentials), study.token_hash)
            ):
                return
        raise _unauthorized(credentials, f"the server's token or the token of study {name!r}")

    ServerAuth = Annotated[None, Depends(server_auth)]
    StudyAuth = Annotated[None, Depends(study_auth)]
    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": m.ErrorOut} for code in (400, 401, 404, 409, 413, 422, 503)
    }

    @app.get("/health", response_model=m.Health, tags=["service"])
    def health() -> m.Health:
        """Liveness: answers without a token."""
        return m.Health(status="ok", version=__version__)

    @app.post("/studies", status_code=201, response_model=m.StudyOut, responses=errors, tags=["studies"])
    def create_study(body: m.StudyCreate, _: ServerAuth) -> m.StudyOut:
        """Create a study: a loop (with its config), a space and a seed."""
        config = check_strict_json(body.config, "config")
        loop = loop_class(body.loop).from_config(config)
        space = Space.from_dict({k: _param_spec(p) for k, p in body.space.items()})
        constraints = None if body.constraints is None else [_constraint(c) for c in body.constraints]
        # a reference point only when given: a loop's init need not take one (a federation's)
        reference = {} if body.ref_point is None else {"ref_point": body.ref_point}
        state = loop.init(
            space, seed=body.seed, n_objectives=body.n_objectives, constraints=constraints, **reference
        )
        _check_servable(body.name, state)
        study = store.create_study(
            body.name, state, token=body.token, pending_timeout_s=body.pending_timeout_s
        )
        return _study_out(store, study)

    @app.get("/studies", response_model=list[m.StudyOut], responses=errors, tags=["studies"])
    def list_studies(_: ServerAuth) -> list[m.StudyOut]:
        """All studies, by name (server token only)."""
        return [_study_out(store, s) for s in store.studies()]

    @app.get("/studies/{name}", response_model=m.StudyOut, responses=errors, tags=["studies"])
    def get_study(name: NameParam, _: StudyAuth) -> m.StudyOut:
        """A study: loop, config, space, seed, version and trial counts."""
        return _study_out(store, store.study(name))

    @app.delete("/studies/{name}", status_code=204, responses=errors, tags=["studies"])
    def delete_study(name: NameParam, _: StudyAuth) -> Response:
        """Delete a study and all its trials."""
        store.delete_study(name)
        return Response(status_code=204)

    @app.post("/studies/{name}/ask", response_model=m.AskOut, responses=errors, tags=["trials"])
    def ask(name: NameParam, _: StudyAuth, body: m.AskIn | None = None) -> Response:
        """Ask for `n` new trials. Pending trials older than the study's `pending_timeout_s` are
        told as failed first (listed in `expired`)."""
        n = 1 if body is None else body.n
        return store.update(name, lambda snap: _ask(store, snap, n))

    @app.post("/studies/{name}/tell", response_model=m.TrialOut, responses=errors, tags=["trials"])
    def tell(name: NameParam, body: m.TellIn, _: StudyAuth) -> Response:
        """Report a pending trial's value, or `failed: true`. A trial is told once."""
        metadata = _checked_outcome(body, f"trial {body.trial_id}")
        return store.update(name, lambda snap: _tell(snap, body, metadata))

    @app.post("/studies/{name}/add", response_model=m.TrialOut, responses=errors, tags=["trials"])
    def add(name: NameParam, body: m.AddIn, _: StudyAuth) -> Response:
        """Record an evaluation the loop did not ask for (a known point, an earlier run's): a new
        finished trial with the next id and `metadata.added: true`, which model-based loops fit on
        like any other. Not idempotent: each add is a new trial."""
        metadata = _checked_outcome(body, "the added point")
        return store.update(name, lambda snap: _add(snap, body, metadata))

    @app.get("/studies/{name}/trials", response_model=list[m.TrialOut], responses=errors, tags=["trials"])
    def list_trials(
        name: NameParam,
        _: StudyAuth,
        status: Literal["pending", "completed", "failed"] | None = None,
        offset: Annotated[int, Query(ge=0, le=m.MAX_INT)] = 0,
        limit: Annotated[int, Query(ge=1, le=m.MAX_PAGE)] = 1000,
    ) -> list[dict[str, Any]]:
        """Trials by id, optionally of one status; one page (`offset`, `limit`) at a time."""
        return store.trials(name, status=status, offset=offset, limit=limit)

    @app.get(
        "/studies/{name}/trials/{trial_id}", response_model=m.TrialOut, responses=errors, tags=["trials"]
    )
    def get_trial(
        name: NameParam, trial_id: Annotated[int, Path(ge=0, le=m.MAX_INT)], _: StudyAuth
    ) -> dict[str, Any]:
        """One trial."""
        return store.trial(name, trial_id)

    @app.get("/studies/{name}/best", response_model=m.BestOut, responses=errors, tags=["trials"])
    def best(name: NameParam, _: StudyAuth) -> dict[str, Any]:
        """The feasible completed trial with the lowest value; null while there is none, with a
        `detail` saying why (no completed trial yet, or in a constrained study no feasible one)."""
        study = store.study(name)
        core = _core(study)
        if core.n_objectives != 1:
            raise BadRequest(
                f"study {name!r} has {core.n_objectives} objectives, so no single best trial; its "
                f"Pareto front and hypervolume are at GET /studies/{name}/pareto."
            )
        trial = store.best(name)
        if trial is not None:
            return {"trial": trial, "detail": None}
        completed = store.counts(study)["completed"]
        if not core.constraints:
            return {"trial": None, "detail": "no completed trial yet"}
        listed = ", ".join(map(str, core.constraints))
        why = f"{completed} completed, none keeps every constraint" if completed else "no completed trial"
        return {"trial": None, "detail": f"no feasible trial yet ({why}; constraints: {listed})"}

    @app.get("/studies/{name}/pareto", response_model=m.ParetoOut, responses=errors, tags=["trials"])
    def pareto(name: NameParam, _: StudyAuth) -> dict[str, Any]:
        """The Pareto front (the feasible completed trials no other dominates, by id), the
        hypervolume they dominate and its reference point; the hypervolume is null, with a
        `detail`, while the study has no reference point. One objective: the best trial, as a list."""
        return _pareto(store.state(name))

    @app.get(
        "/studies/{name}/state",
        response_model=None,
        responses={
            200: {"model": m.StateDoc, "description": "the state, as asktell.State.to_json()"},
            **errors,
        },
        tags=["state"],
    )
    def export_state(name: NameParam, _: StudyAuth) -> Response:
        """Export the study's whole state; `asktell.load(text)` resumes it anywhere."""
        return Response(store.state(name).to_json(), media_type="application/json")

    @app.put(
        "/studies/{name}/state",
        response_model=m.ImportOut,
        responses={
            201: {"model": m.ImportOut, "description": "the study was created"},
            **errors,
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StateDoc"}}},
            }
        },
        tags=["state"],
    )
    def import_state(
        name: NameParam,
        request: Request,
        credentials: Credentials,
    ) -> JSONResponse:
        """Import a whole state: replaces the study's, or creates the study (server token)."""
        exists = _exists(store, name)
        if not exists and not _is_server(credentials):
            raise _unauthorized(credentials, "the server's token (to create a study)")
        if exists:
            study_auth(name, credentials)
        data = getattr(request.state, "asktell_json", _MISSING)
        if data is _MISSING:
            raise BadRequest("send the state as a JSON body (what GET .../state returns).")
        state = load_state_dict(data)
        _check_servable(name, state)
        study, created = store.put_state(name, state)
        body = m.ImportOut(study=_study_out(store, study), created=created)
        return JSONResponse(body.model_dump(mode="json"), status_code=201 if created else 200)

    return app


_MISSING = object()


def _exists(store: Storage, name: str) -> bool:
    try:
        store.study(name)
    except ServiceError:
        return False
    return True


def _answer(model: type[BaseModel], data: Any) -> JSONResponse:
    """``data`` validated by the route's response model and serialized: a change builds its answer
    this way before it is committed, so an answer that cannot be sent never follows a commit."""
    return JSONResponse(model.model_validate(data).model_dump(mode="json"))


def _ask(store: Storage, snap: Snapshot, n: int) -> tuple[State, JSONResponse]:
    loop, state, study = snap.loop, snap.state, snap.study
    expired: list[int] = []
    timeout = study.pending_timeout_s
    if timeout is not None:
        for trial_id in store.pending_since(study, time.time() - timeout):
            if trial_id < len(state.trials) and state.trials[trial_id].status == PENDING:
                reason = {"reason": "expired", "pending_timeout_s": timeout}
                state = loop.tell(state, trial_id, None, status=FAILED, metadata=reason)
                expired.append(trial_id)
    state, trials = loop.ask(state, n)
    return state, _answer(m.AskOut, {"trials": [t.to_dict() for t in trials], "expired": expired})


def _checked_outcome(body: m.TellIn | m.AddIn, what: str) -> dict[str, Any] | None:
    """The body's metadata, once its outcome is a value or failed=true (exactly one of them)."""
    if body.failed and body.value is not None:
        raise BadRequest(f"{what}: send either a value or failed=true, not both (got value {body.value!r}).")
    if not body.failed and body.value is None:
        raise BadRequest(f"{what}: send its value, or failed=true if the evaluation failed.")
    return None if body.metadata is None else check_strict_json(body.metadata, "metadata")


def _tell(snap: Snapshot, body: m.TellIn, metadata: dict[str, Any] | None) -> tuple[State, JSONResponse]:
    state, trial_id = snap.state, body.trial_id
    if trial_id >= len(state.trials):
        raise trial_not_found(snap.study, trial_id)
    trial = state.trials[trial_id]
    if trial.done:
        why = ""
        if trial.metadata.get("reason") == "expired":
            why = (
                f" (it expired: no tell within the study's pending_timeout_s of "
                f"{trial.metadata.get('pending_timeout_s')} s)"
            )
        raise TrialFinished(
            f"trial {trial_id} of study {snap.study.name!r} is already {trial.status}{why}; "
            "a finished trial cannot be told again."
        )
    status = FAILED if body.failed else COMPLETED
    new = snap.loop.tell(
        state, trial_id, body.value, status=status, metadata=metadata, constraints=body.constraints
    )
    return new, _answer(m.TrialOut, served(new.trials[trial_id]))


def _add(snap: Snapshot, body: m.AddIn, metadata: dict[str, Any] | None) -> tuple[State, JSONResponse]:
    status = FAILED if body.failed else COMPLETED
    new = snap.loop.add(
        snap.state, body.params, body.value, status=status, metadata=metadata, constraints=body.constraints
    )
    return new, _answer(m.TrialOut, served(new.trials[-1]))


def _pareto(state: State) -> dict[str, Any]:
    """The answer of ``GET /studies/{name}/pareto`` for ``state``."""
    point = state.ref_point
    answer: dict[str, Any] = {
        "trials": [served(t) for t in state.pareto_front()],
        "n_objectives": state.n_objectives,
        "hypervolume": None,
        "ref_point": None if point is None else list(point),
        "ref_point_inferred": state.problem.ref_point_inferred,
        "detail": None,
    }
    if point is not None:
        answer["hypervolume"] = state.hypervolume()
    elif state.n_objectives == 1:
        answer["detail"] = "one objective: no hypervolume (the front is the best trial, as GET .../best)"
    else:
        answer["detail"] = (
            f"no reference point yet: {reference_point_wait(state)} ({len(state.completed)} so far), or "
            "given at creation (ref_point)"
        )
    return answer


def _core(study: Study) -> State:
    """The study's state without its trials, as the data layer reads it (an old row migrated)."""
    return State.from_dict({**study.core_dict(), "trials": []})


def _constraint(item: str | m.ConstraintIn) -> str | dict[str, Any]:
    """A constraint of a creation body as the data layer reads it (text, or its object form)."""
    return item if isinstance(item, str) else item.model_dump()


def _describe(core: State, **row: Any) -> m.StudyOut:
    """A study's description: what its state says, and ``row`` (name, version, counts, ...)."""
    return m.StudyOut(
        loop=core.loop_name,
        config=core.loop_config,
        space=core.space.to_dict(),
        seed=core.seed,
        n_objectives=core.n_objectives,
        ref_point=None if core.ref_point is None else list(core.ref_point),
        ref_point_inferred=core.problem.ref_point_inferred,
        constraints=[m.ConstraintOut(**c.to_dict()) for c in core.constraints],
        **row,
    )


def _study_out(store: Storage, study: Study) -> m.StudyOut:
    return _describe(
        _core(study),
        name=study.name,
        version=study.version,
        n_trials=study.n_trials,
        counts=store.counts(study),
        pending_timeout_s=study.pending_timeout_s,
        has_token=study.token_hash is not None,
        created_at=study.created_at,
        updated_at=study.updated_at,
    )


def _check_servable(name: str, state: State) -> None:
    """Refuse (StateError), before it is stored, a state whose study description could not be
    answered: every later GET of the study would fail. The description is built and serialized
    as the answers will build it, with the row's fields (version, times) as placeholders."""
    try:
        probe = _describe(
            state,
            name=name,
            version=1,
            n_trials=len(state.trials),
            counts={},
            pending_timeout_s=None,
            has_token=False,
            created_at=0.0,
            updated_at=0.0,
        )
        json.dumps(probe.model_dump(mode="json"), allow_nan=False)
    except (ValueError, TypeError) as exc:  # pydantic's errors are ValueErrors
        raise StateError(
            f"study {name!r} cannot be stored: its description could not be answered "
            f"({str(exc).splitlines()[0]}); nothing was stored. Check the state's space and loop_config."
        ) from None


def _unauthorized(credentials: HTTPAuthorizationCredentials | None, needed: str) -> Unauthorized:
    if credentials is None:
        return Unauthorized(f"send `Authorization: Bearer <token>` with {needed}.")
    return Unauthorized(f"the bearer token is not {needed}; check the token you send.")


# --- errors -------------------------------------------------------------------------------------


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    def _service(_: Request, exc: ServiceError) -> JSONResponse:
        status = exc.status or 400
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if status == 503:
            headers = {"Retry-After": "1"}
        return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)

    @app.exception_handler(AskTellError)
    def _asktell(_: Request, exc: AskTellError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": describe_validation(exc.errors())}, status_code=422)

    @app.exception_handler(DBAPIError)
    def _database(_: Request, exc: DBAPIError) -> JSONResponse:
        if exc.connection_invalidated or "locked" in str(exc.orig) or "busy" in str(exc.orig):
            return JSONResponse(
                {"detail": f"the database is busy or unreachable ({exc.orig}); retry."},
                status_code=503,
                headers={"Retry-After": "1"},
            )
        raise exc


def describe_validation(errors: Any) -> str:
    """Pydantic's errors as one sentence per field: where, what is wrong, what was sent.

    The alternatives of a union (a value that is neither a number nor a list) are one sentence.
    """
    merged: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for error in list(errors)[:20]:
        loc = tuple(str(x) for x in error.get("loc", ()))
        key = loc[:-1] if error.get("ctx", {}).get("union") or _is_branch(loc) else loc
        merged.setdefault(key, []).append(error)
    parts = []
    for loc, group in list(merged.items())[:10]:
        where = {"body": "body", "query": "query parameter", "path": "path parameter"}.get(
            loc[0] if loc else "", "request"
        )
        field = ".".join(loc[1:])
        if not field:
            place = f"the {where}"
        else:
            place = f"{where} field {field!r}" if where == "body" else f"{where} {field!r}"
        messages = " or ".join(dict.fromkeys(e.get("msg", "invalid") for e in group))
        got = group[0].get("input", None)
        missing = got is None and group[0].get("type") == "missing"
        hint = ""
        if isinstance(got, str) and got.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
            hint = "; report a failed evaluation with failed=true instead"
        elif isinstance(got, float) and math.isinf(got):
            hint = f"; {OVERFLOW_HINT}"
        parts.append(f"{place}: {messages}{'' if missing else f' (got {_short(got)})'}{hint}")
    return "; ".join(parts) + "."


def _is_branch(loc: tuple[str, ...]) -> bool:
    """Whether the last element of a location names a union's alternative (a type, not a field)."""
    last = loc[-1] if loc else ""
    return len(loc) > 2 and (
        last in ("float", "int", "str", "bool", "none")
        or last.startswith(("list[", "dict[", "function-"))
        or last.endswith("Param")
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- the body guard -----------------------------------------------------------------------------

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class _BodyGuard:
    """ASGI middleware: refuse bodies over the limit (413) and bodies that are not strict JSON (400).

    The body is read in full (it is at most the limit), parsed once with NaN and Infinity refused,
    and replayed to the app; the parsed JSON is left in ``request.state.asktell_json``.
    """

    def __init__(self, app: Any, max_body: int, max_state: int):
        self.app, self.max_body, self.max_state = app, max_body, max_state

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        is_state = scope["method"] == "PUT" and scope["path"].endswith("/state")
        limit = self.max_state if is_state else self.max_body
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            return await _reject(send, 413, _too_large(limit, length.decode("latin-1")))
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return await _reject(send, 413, _too_large(limit, f"more than {limit}"))
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        content_type = headers.get(b"content-type", b"application/json").lower()
        if body and b"json" in content_type:
            try:  # a large body (a state import) is parsed off the event loop, not to stall it
                big = len(body) > _PARSE_IN_THREAD_BYTES
                parsed = await anyio.to_thread.run_sync(_parse, body) if big else _parse(body)
            except _NotJson as exc:  # the body was read in full: the connection can stay open
                return await _reject(send, 400, str(exc), close=False)
            scope.setdefault("state", {})["asktell_json"] = parsed
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


class _NotJson(ValueError):
    """Why a body is not JSON the app reads (the message is the answer's detail)."""


def _refuse_constant(name: str) -> Any:
    raise _NotJson(
        f"the request body contains {name}, which is not JSON; "
        "report a failed evaluation with failed=true instead of a NaN or infinite value."
    )


def _parse(body: bytes) -> Any:
    """The body's JSON, or _NotJson: NaN and Infinity refused, nested at most MAX_BODY_DEPTH levels
    (checked without recursion: Python's parser would raise RecursionError somewhere near 1000,
    depending on the stack it runs on)."""
    too_deep = _NotJson(
        f"the request body is JSON nested more than {MAX_BODY_DEPTH} levels deep, which no request "
        "of this API needs; flatten it (metadata, configs and memos may nest 32 levels)."
    )
    try:
        parsed = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise too_deep from None
    except _NotJson:
        raise
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, too many digits
        if "integer string conversion" in str(exc):
            raise _NotJson(
                "the request body is not valid JSON for this API: it holds an integer of more than "
                f"{sys.get_int_max_str_digits()} digits; numbers must be within a float's range "
                "(about 1.8e308)."
            ) from None
        raise _NotJson(f"the request body is not valid JSON: {exc}.") from None
    if body.count(b"[") + body.count(b"{") > MAX_BODY_DEPTH and _depth(parsed) > MAX_BODY_DEPTH:
        raise too_deep
    return parsed


def _depth(value: Any) -> int:
    """How deep ``value`` nests (a scalar: 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth + 1)
            if deepest > MAX_BODY_DEPTH:
                return deepest
            stack.extend((v, depth + 1) for v in item if isinstance(v, (dict, list)))
    return deepest


def _too_large(limit: int, got: str) -> str:
    return (
        f"the request body is too large: {got} bytes, the limit is {limit} bytes; "
        "send a smaller body (an import over the limit: start the server with a larger "
        "--max-state-bytes)."
    )


async def _reject(send: Send, status: int, detail: str, *, close: bool = True) -> None:
    """Answer ``{"detail": detail}``; ``close``: and say the connection ends with it (when the
    request's body was not read to its end, the connection cannot carry another request)."""
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# --- the last resort ----------------------------------------------------------------------------

_log = logging.getLogger("asktell.service")


class _LastResort:
    """ASGI middleware, outermost of the app's own: an exception no handler took (a bug, a damaged
    database) becomes a 500 ``{"detail": ...}`` naming its type only, and the traceback goes to the
    log (``asktell.service``).

    Why not an ``exception_handler(Exception)``: Starlette's ServerErrorMiddleware, which runs such a
    handler, re-raises the exception after sending its answer, and uvicorn, seeing an exception
    from a request whose answer had started, closes the connection. The client had the whole 500
    without ``Connection: close``, so it sends its next request on that connection and gets a reset.
    Here the exception stops: the answer is complete and the connection stays usable. Nothing was
    committed: a change commits only after its new state was serialized and read back, and ask,
    tell and add build their answers before they commit.
    """

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            if started:  # an answer cut short: only closing the connection can say so
                raise
            where = f"{scope.get('method', '')} {scope.get('path', '')}"
            _log.error("unhandled %s on %s", type(exc).__name__, where, exc_info=exc)
            await _reject(
                send,
                500,
                f"internal server error ({type(exc).__name__}) on {where}; nothing was changed. "
                "The server's log has the traceback; retry, or report it if it persists.",
                close=False,
            )


def app_from_env() -> FastAPI:
    """The app configured by environment variables (what ``asktell serve`` sets for uvicorn):
    ``ASKTELL_DB`` (default ``sqlite:///asktell.db``), ``ASKTELL_TOKEN`` (required),
    ``ASKTELL_MAX_BODY_BYTES``, ``ASKTELL_MAX_STATE_BYTES``."""
    token = os.environ.get("ASKTELL_TOKEN", "")
    app = create_app(
        os.environ.get("ASKTELL_DB", "sqlite:///asktell.db"),
        token,
        max_body_bytes=int(os.environ.get("ASKTELL_MAX_BODY_BYTES", MAX_BODY_BYTES)),
        max_state_bytes=int(os.environ.get("ASKTELL_MAX_STATE_BYTES", MAX_STATE_BYTES)),
    )
    # What is loaded now (torch, BoTorch, the app) lives as long as the process: keep it out of
    # the cyclic garbage collector, whose full passes over it would pause requests for 100+ ms.
    gc.collect()
    gc.freeze()
    return app
