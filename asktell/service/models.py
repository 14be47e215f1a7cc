"""Request and response bodies of the HTTP API, as Pydantic models (they make the OpenAPI schema).

The models check shapes and types (strict numbers: ``"0.42"`` and ``"NaN"`` are not values, and
NaN or infinity never are); what needs the loop or the space (a parameter out of range, a config a
loop does not take, the number of objectives) is checked by asktell itself, with the same messages
as everywhere else.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_INT = 2**63 - 1
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
MAX_ASK = 1000  # per request (asktell.checks.MAX_ASK, 10 000, is the Python API's): see app.py
MAX_PAGE = 10000
MAX_CONSTRAINTS = 100  # asktell.constraints.MAX_CONSTRAINTS: outcomes one problem may constrain

Finite = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Int64 = Annotated[int, Field(strict=True, ge=-MAX_INT, le=MAX_INT)]
StudyName = Annotated[
    str,
    Field(
        pattern=NAME_PATTERN,
        description="1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit",
        examples=["branin-1"],
    ),
]
Scalar = str | int | float | bool | None


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class NormalPrior(_Body):
    """A normal belief about the best value: ``loc`` and ``scale`` (decades on a log parameter)."""

    type: Literal["normal"]
    loc: Finite
    scale: Finite


class UniformPrior(_Body):
    """A flat belief on a sub-range ``[low, high]`` of the parameter's bounds."""

    type: Literal["uniform"]
    low: Finite
    high: Finite


class BetaPrior(_Body):
    """A Beta(a, b) belief over the parameter's range mapped onto [0, 1]."""

    type: Literal["beta"]
    a: Finite
    b: Finite


Prior = Annotated[NormalPrior | UniformPrior | BetaPrior, Field(discriminator="type")]
PRIOR_FIELD = Field(
    default=None,
    description="optional belief about where the best value lies (asktell.priors), on the "
    "parameter's own scale: {type: normal, loc, scale} | {type: uniform, low, high} | {type: beta, a, b}",
    examples=[{"type": "normal", "loc": 0.001, "scale": 1.0}],
)


class RealParam(_Body):
    type: Literal["real"]
    low: Finite
    high: Finite
    log: bool = False
    prior: Prior | None = PRIOR_FIELD


class IntegerParam(_Body):
    type: Literal["integer"]
    low: Int64
    high: Int64
    log: bool = False
    prior: Prior | None = PRIOR_FIELD


class CategoricalParam(_Body):
    type: Literal["categorical"]
    choices: list[Scalar] = Field(min_length=1, max_length=10000)
    weights: list[Finite] | None = Field(
        default=None,
        max_length=10000,
        description="optional prior weights of the choices (one per choice, >= 0, not all zero)",
    )


Param = Annotated[RealParam | IntegerParam | CategoricalParam, Field(discriminator="type")]


class ConstraintIn(_Body):
    """An outcome constraint as an object: ``{"name": "mem", "op": "<=", "bound": 4}``."""

    name: str = Field(max_length=64, examples=["mem"])
    op: Literal["<=", ">="]
    bound: Finite


class ConstraintOut(BaseModel):
    """A study's outcome constraint: the outcome ``name`` must keep ``op bound``."""

    name: str
    op: Literal["<=", ">="]
    bound: float


Outcomes = Annotated[
    dict[str, Finite],
    Field(
        max_length=MAX_CONSTRAINTS,
        description="each constrained outcome's measured value (name -> number): a completed trial of "
        "a constrained study gives every declared outcome, a failed one none",
        examples=[{"mem": 3.2, "recall": 0.93}],
    ),
]


class StudyCreate(_Body):
    """A new study: which loop, its options, the space, the seed."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {
                    "name": "branin-2",
                    "loop": "random",
                    "space": {
                        "x1": {"type": "real", "low": -5.0, "high": 10.0},
                        "n": {"type": "integer", "low": 1, "high": 8},
                        "act": {"type": "categorical", "choices": ["relu", "tanh"]},
                    },
                    "seed": 0,
                    "pending_timeout_s": 3600,
                },
                {
                    "name": "small-model",
                    "loop": "sobol",
                    "space": {"width": {"type": "integer", "low": 16, "high": 1024}},
                    "constraints": ["mem <= 4", {"name": "recall", "op": ">=", "bound": 0.9}],
                },
                {
                    "name": "accuracy-vs-latency",
                    "loop": "sobol",
                    "space": {"width": {"type": "integer", "low": 16, "high": 1024}},
                    "n_objectives": 2,
                    "ref_point": [1.0, 250.0],
                },
            ]
        },
    )

    name: StudyName
    loop: str = Field(
        default="bayesopt",
        max_length=64,
        description="a registered loop: 'random', 'sobol', 'bayesopt', ...",
        examples=["random"],
    )
    config: dict[str, Any] = Field(
        default_factory=dict, description="the loop's options (its configuration), a JSON object"
    )
    space: dict[str, Param] = Field(
        min_length=1,
        max_length=1000,
        description="parameter name -> {type: real|integer|categorical, ...}, in order",
        examples=[{"x": {"type": "real", "low": -5.0, "high": 10.0}}],
    )
    seed: int = Field(default=0, strict=True, ge=0, le=MAX_INT)
    n_objectives: int = Field(
        default=1,
        strict=True,
        ge=1,
        le=1000,
        description="the problem's number of objectives, all minimized: values are then lists of that "
        "many numbers",
    )
    ref_point: list[Finite] | None = Field(
        default=None,
        max_length=1000,
        description="with several objectives, the reference point of the study's hypervolumes (one "
        "number per objective, minimized like the values); null: inferred from the first completed "
        "trials, then kept",
        examples=[[1.0, 250.0]],
    )
    constraints: list[Annotated[str, Field(max_length=300)] | ConstraintIn] | None = Field(
        default=None,
        max_length=MAX_CONSTRAINTS,
        description="outcome constraints, as text ('mem <= 4', 'recall >= 0.9') or objects "
        "{name, op, bound}: every completed tell then gives each outcome's value, and /best is the "
        "best feasible trial",
        examples=[["mem <= 4", "recall >= 0.9"]],
    )
    pending_timeout_s: Finite | None = Field(
        default=None,
        gt=0,
        description="pending trials older than this many seconds are told as failed "
        "(metadata reason 'expired') at the next ask; null: never",
    )
    token: str | None = Field(
        default=None,
        min_length=8,
        max_length=256,
        description="a bearer token for this study alone (the server's token works too)",
    )


class StudyOut(BaseModel):
    """A study, without its trials."""

    name: str
    loop: str
    config: dict[str, Any]
    space: dict[str, Any]
    seed: int
    n_objectives: int = Field(description="the problem's number of objectives")
    ref_point: list[float] | None = Field(
        default=None,
        description="several objectives: the reference point of the hypervolumes (given at creation, "
        "or inferred); null: none yet (or one objective)",
    )
    ref_point_inferred: bool = Field(default=False, description="whether ref_point was inferred")
    constraints: list[ConstraintOut] = Field(
        default_factory=list, description="the problem's outcome constraints (empty: none)"
    )
    version: int = Field(description="incremented by every change")
    n_trials: int
    counts: dict[str, int] = Field(description="trials per status")
    pending_timeout_s: float | None
    has_token: bool = Field(description="whether the study has a token of its own")
    created_at: float
    updated_at: float


class AskIn(_Body):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, json_schema_extra={"examples": [{"n": 2}]})

    n: int = Field(
        default=1,
        strict=True,
        ge=1,
        le=MAX_ASK,
        description=f"how many trials, at most {MAX_ASK} per request (ask again for more)",
    )


class TrialOut(BaseModel):
    """A trial: asked (pending), then completed with a value, or failed."""

    id: int
    params: dict[str, Any]
    status: Literal["pending", "completed", "failed"]
    value: float | list[float] | None
    metadata: dict[str, Any]
    constraints: dict[str, float] | None = Field(
        default=None, description="a completed trial's outcome values (constrained studies only)"
    )
    feasible: bool | None = Field(
        default=None,
        description="whether a completed trial keeps every constraint (true without constraints); "
        "null until completed",
    )


class AskOut(BaseModel):
    trials: list[TrialOut] = Field(description="the new pending trials")
    expired: list[int] = Field(
        default_factory=list, description="pending trials this ask expired (told as failed)"
    )


class _Outcome(_Body):
    """What an evaluation gave: a value (completed), or failed=true with no value."""

    value: Finite | list[Finite] | None = Field(
        default=None,
        description="the value to minimize (a list for several objectives); "
        "JSON has no NaN: report a failed evaluation with failed=true instead",
    )
    failed: bool = Field(default=False, strict=True)
    constraints: Outcomes | None = None
    metadata: dict[str, Any] | None = Field(default=None, description="a JSON object stored with the trial")


class TellIn(_Outcome):
    """A trial's outcome: a value (completed), or failed=true with no value."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {"trial_id": 2, "value": 0.42, "metadata": {"host": "node-7"}},
                {"trial_id": 3, "failed": True},
                {"trial_id": 4, "value": 0.37, "constraints": {"mem": 3.2, "recall": 0.93}},
            ]
        },
    )

    trial_id: int = Field(strict=True, ge=0, le=MAX_INT)


class AddIn(_Outcome):
    """An evaluation the loop did not ask for: a point of the space and its outcome."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {"params": {"x": 2.0}, "value": 0.0, "metadata": {"source": "lab notebook"}},
                {"params": {"x": -4.5}, "failed": True},
            ]
        },
    )

    params: dict[str, Scalar] = Field(
        max_length=1000,
        description="the point: a value for every parameter of the study's space, in its range "
        "(an integer for an integer parameter, one of the choices for a categorical one)",
        examples=[{"x": 2.0}],
    )


class BestOut(BaseModel):
    trial: TrialOut | None = Field(
        description="the best feasible completed trial; null while there is none (see detail)"
    )
    detail: str | None = Field(
        default=None,
        description="why trial is null: 'no completed trial yet', or in a constrained study 'no "
        "feasible trial yet' (every completed trial breaks a constraint)",
    )


class ParetoOut(BaseModel):
    """A study's Pareto front and its hypervolume."""

    trials: list[TrialOut] = Field(
        description="the completed, feasible trials no other such trial dominates (every objective "
        "minimized), by id; of trials with equal values only the first. One objective: the best trial"
    )
    n_objectives: int
    hypervolume: float | None = Field(
        description="the volume the feasible completed trials dominate, bounded by ref_point; null "
        "while there is no reference point (see detail)"
    )
    ref_point: list[float] | None = Field(
        description="the reference point (given at creation or inferred); null: none yet"
    )
    ref_point_inferred: bool = Field(description="whether ref_point was inferred from the first trials")
    detail: str | None = Field(default=None, description="why hypervolume is null")


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class ErrorOut(BaseModel):
    detail: str = Field(description="what was wrong and what to do")


class StateDoc(BaseModel):
    """The whole state of a study (``asktell.State.to_json()``), for export and import."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["asktell.state"]
    schema_version: Literal[1, 2] = Field(description="2 is written; 1 (no problem) is still read")
    loop_name: str
    loop_config: dict[str, Any]
    space: dict[str, Any]
    seed: int
    counter: int
    trials: list[dict[str, Any]]
    memo: dict[str, Any]
    problem: dict[str, Any] = Field(
        default_factory=dict,
        description="the problem definition: {n_objectives, constraints (when declared), ref_point "
        "and ref_point_inferred (when set)}; absent in version 1",
    )


class ImportOut(BaseModel):
    study: StudyOut
    created: bool
