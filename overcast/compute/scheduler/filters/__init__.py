"""Scheduler filters: one module per filter, each a `BaseFilter` whose `host_passes` says whether
a host can take one instance of the request. Enabled by class name in
`settings.compute.enabled_filters`; every module in this package is discovered, so a new filter
is a new module and nothing else.
"""

from __future__ import annotations

import abc
import importlib
import pkgutil
import sys
from typing import Any, ClassVar

from overcast.common import log
from overcast.compute.scheduler.host_state import HostState

LOG = log.get(__name__)

RequestSpec = dict[str, Any]


class BaseFilter(abc.ABC):
    """The filter contract: a pure function of a host and the request."""

    # Filters whose answer cannot change between the instances of one request run once.
    run_filter_once_per_request: ClassVar[bool] = False

    @abc.abstractmethod
    def host_passes(self, host_state: HostState, spec: RequestSpec) -> bool:
        """True when `host_state` may take one more instance of `spec`."""

    def explain(self, refused: list[HostState], spec: RequestSpec) -> str:
        """Why the filter refused every one of `refused`, for the server's owner (no host
        names): by default what its module's docstring says it requires."""
        doc = (sys.modules[type(self).__module__].__doc__ or "").strip().split("\n\n")[0]
        _name, _, rule = doc.partition(": ")
        return " ".join((rule or doc).split()) or "the request's requirements are not met."


def all_filters() -> dict[str, type[BaseFilter]]:
    """Every filter class in this package, by class name."""
    found: dict[str, type[BaseFilter]] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseFilter)
                and value is not BaseFilter
                and not getattr(value, "__abstractmethods__", None)
            ):
                found[value.__name__] = value
    return found


def enabled(names: list[str]) -> list[BaseFilter]:
    """Instances of the filters named in `names`; unknown names are logged and skipped."""
    known = all_filters()
    out = []
    for name in names:
        cls = known.get(name)
        if cls is None:
            LOG.warning("scheduler filter %s is not available; skipped", name)
            continue
        out.append(cls())
    return out


def hint_list(spec: RequestSpec, name: str) -> list[str]:
    """A scheduler hint that may be given as one string or a list."""
    value = (spec.get("scheduler_hints") or {}).get(name)
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]
