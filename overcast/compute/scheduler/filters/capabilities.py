"""ComputeCapabilitiesFilter: flavor extra specs `capabilities:<key>` must match the host's
capabilities, with Nova's operators (`>=`, `<=`, `==`, `!=`, `s==`, `<in>`, `<or>`...)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from overcast.compute.scheduler.filters import BaseFilter, RequestSpec
from overcast.compute.scheduler.host_state import HostState

_NUMERIC: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a >= b,
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_STRING: dict[str, Callable[[str, str], bool]] = {
    "s==": operator.eq,
    "s!=": operator.ne,
    "s>=": operator.ge,
    "s<=": operator.le,
    "s>": operator.gt,
    "s<": operator.lt,
}


def match(value: Any, requirement: str) -> bool:
    """Nova's extra_specs_ops.match: does a host's `value` satisfy `requirement`?"""
    words = requirement.split()
    if not words:
        return str(value) == requirement
    op, rest = words[0], words[1:]
    if op == "<in>" and rest:
        return rest[0] in str(value)
    if op == "<all-in>":
        return all(w in (value if isinstance(value, list) else str(value)) for w in rest)
    if op == "<or>":
        return str(value) in [w for w in rest if w != "<or>"]
    if op in _STRING and rest:
        return _STRING[op](str(value), rest[0])
    if op in _NUMERIC and rest:
        try:
            return _NUMERIC[op](float(value), float(rest[0]))
        except (TypeError, ValueError):
            return False
    return str(value) == requirement


class ComputeCapabilitiesFilter(BaseFilter):
    run_filter_once_per_request = True

    def host_passes(self, host_state: HostState, spec: RequestSpec) -> bool:
        extra = (spec.get("flavor") or {}).get("extra_specs") or {}
        for key, requirement in extra.items():
            scope, _, name = key.partition(":")
            if scope != "capabilities" or not name:
                continue
            value: Any = host_state.capabilities
            for part in name.split(":"):
                value = value.get(part) if isinstance(value, dict) else None
            if value is None and hasattr(host_state, name):
                value = getattr(host_state, name)
            if value is None or not match(value, str(requirement)):
                return False
        return True
