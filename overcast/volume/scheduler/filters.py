"""The scheduler's filters, as Cinder's: a pool passes when it is in the volume's zone, has the
capacity (with thin over-subscription) and has every capability the volume type's extra specs
ask for (`volume_backend_name` included), compared with Cinder's extra-spec operators."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from overcast.volume.scheduler.pools import Pool


@dataclass(frozen=True)
class Request:
    size: int
    availability_zone: str | None
    extra_specs: dict[str, str]
    backend: str | None = None  # a clone or a volume from a snapshot stays on its source's
    exclude: tuple[str, ...] = ()  # pools a create already failed on

    @property
    def thin(self) -> bool:
        return self.extra_specs.get("provisioning:type", "thin") != "thick"


def availability_zone(pool: Pool, req: Request) -> bool:
    return req.availability_zone is None or pool.availability_zone == req.availability_zone


def same_backend(pool: Pool, req: Request) -> bool:
    return req.backend is None or pool.backend == req.backend


def not_excluded(pool: Pool, req: Request) -> bool:
    return pool.host not in req.exclude


def capacity(pool: Pool, req: Request) -> bool:
    caps = pool.capabilities
    total = float(caps.get("total_capacity_gb") or 0)
    free = float(caps.get("free_capacity_gb") or 0)
    if total <= 0:
        return False
    reserved = total * float(caps.get("reserved_percentage") or 0) / 100
    if req.thin and caps.get("thin_provisioning_support"):
        ratio = float(caps.get("max_over_subscription_ratio") or 1)
        if (pool.provisioned_gb + req.size) / total > ratio:
            return False
        return (free - reserved) * ratio >= req.size
    return free - reserved - _unwritten(pool) >= req.size


def _unwritten(pool: Pool) -> float:
    """Thick volumes scheduled but not yet reported are not in `free` yet."""
    reported = float(pool.capabilities.get("provisioned_capacity_gb") or 0)
    return max(0.0, pool.allocated_capacity_gb - reported)


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: _num(a) >= _num(b),
    "<=": lambda a, b: _num(a) <= _num(b),
    ">=": lambda a, b: _num(a) >= _num(b),
    "==": lambda a, b: _num(a) == _num(b),
    "!=": lambda a, b: _num(a) != _num(b),
    "s==": operator.eq,
    "s!=": operator.ne,
    "s<": operator.lt,
    "s<=": operator.le,
    "s>": operator.gt,
    "s>=": operator.ge,
    "<in>": lambda a, b: b in a,
    "<is>": lambda a, b: str(a).lower() == str(b).lower(),
}


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def matches(value: Any, spec: str) -> bool:
    """Cinder's extra-spec operators: `<is> True`, `<in> x`, `<or> a <or> b`, `>= 10`,
    `s== x`; anything else is compared as a string."""
    words = spec.split()
    if not words:
        return str(value) == spec
    if words[0] == "<or>":
        options = [w for w in words[1:] if w != "<or>"]
        return str(value) in options
    if words[0] == "<all-in>":
        return all(w in str(value) for w in words[1:])
    op = _OPS.get(words[0])
    if op is None:
        return str(value) == spec
    if len(words) < 2:
        return False
    try:
        return bool(op(str(value), " ".join(words[1:])))
    except TypeError:
        return False


def capabilities(pool: Pool, req: Request) -> bool:
    caps = pool.capabilities
    for key, wanted in req.extra_specs.items():
        scope, _, name = key.rpartition(":")
        if scope and scope != "capabilities":
            continue  # qos:, provisioning:, multiattach-scoped keys are not capabilities
        found = caps.get(name)
        if found is None:
            return False
        if isinstance(found, bool):
            found = str(found)
        if not matches(found, wanted):
            return False
    return True


FILTERS: tuple[Callable[[Pool, Request], bool], ...] = (
    not_excluded,
    same_backend,
    availability_zone,
    capabilities,
    capacity,
)


def passing(pools: list[Pool], req: Request) -> list[Pool]:
    return [p for p in pools if all(f(p, req) for f in FILTERS)]
