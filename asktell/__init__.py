"""asktell: stateless ask/tell optimization of expensive black boxes.

State in, state out: every loop's ``ask`` and ``tell`` are pure functions of a JSON-serializable
:class:`State`, so a run can be saved, moved, served over HTTP or split across workers.

``import asktell`` loads the data layer only (spaces, states, errors: no torch). Everything else
loads on first use, as NumPy and SciPy do it: ``asktell.minimize``, ``asktell.loops.BayesOpt``,
``asktell.Client`` (the ``service`` extra), ``asktell.problems``, ``asktell.testing``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asktell import errors, priors
from asktell.constraints import Constraint
from asktell.lazy import lazy_exports
from asktell.pareto import hypervolume
from asktell.priors import Beta, Normal, Uniform
from asktell.space import Categorical, Integer, Real, Space
from asktell.state import Problem, State, Trial

if TYPE_CHECKING:  # what the first-use attributes below are (`X as X`: re-exported)
    import asktell.acquisition as acquisition  # noqa: F401
    import asktell.integrations as integrations  # noqa: F401
    import asktell.loops as loops
    import asktell.plot as plot  # noqa: F401
    import asktell.problems as problems
    import asktell.surrogates as surrogates  # noqa: F401
    import asktell.testing as testing  # noqa: F401
    from asktell.api import Result as Result
    from asktell.api import load as load
    from asktell.api import minimize as minimize
    from asktell.service.client import Client as Client

__version__ = "0.1.0"
_LAZY = {
    "Result": "asktell.api",
    "load": "asktell.api",
    "minimize": "asktell.api",
    **{
        name: f"asktell.{name}"
        for name in ("loops", "problems", "testing", "plot", "surrogates", "acquisition", "integrations")
    },
}
__all__ = [  # what `from asktell import *` takes: nothing here needs an extra (Client, testing do)
    "Beta",
    "Categorical",
    "Constraint",
    "Integer",
    "Normal",
    "Problem",
    "Real",
    "Result",
    "Space",
    "State",
    "Trial",
    "Uniform",
    "errors",
    "hypervolume",
    "load",
    "loops",
    "minimize",
    "priors",
    "problems",
]


_lazy_getattr, __dir__ = lazy_exports(
    __name__, _LAZY, [*__all__, "Client", "__version__", *(n for n in _LAZY if n not in __all__)]
)

if not TYPE_CHECKING:  # type checkers see the imports above instead, and catch misspelled names

    def __getattr__(name: str) -> Any:
        if name == "Client":  # the service extra may be missing: say how to get it
            try:
                from asktell.service.client import Client
            except ImportError as exc:
                raise ImportError(
                    f"asktell.Client needs the service extra: pip install 'asktell[service]' ({exc})."
                ) from exc
            return Client
        return _lazy_getattr(name)
