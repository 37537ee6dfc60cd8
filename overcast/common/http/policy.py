"""Policy: each API's rules in OpenStack's policy language, enforced with oslo.policy.

A service declares its defaults as data (`policies.py` beside its API); an operator overrides
any of them in `DATA_DIR/policy/<service>.yaml`, which is re-read when it changes.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any

from oslo_config import cfg
from oslo_policy import opts
from oslo_policy import policy as oslo

from overcast.common import errors
from overcast.common.context import RequestContext

RuleDefault = oslo.RuleDefault

# Rules every service may refer to as `rule:<name>`.
BASE_RULES = [
    RuleDefault("admin_required", "role:admin"),
    RuleDefault("reader_or_admin", "role:admin or role:reader"),
    RuleDefault("member_or_admin", "role:admin or role:member"),
    RuleDefault("owner", "project_id:%(project_id)s"),
    RuleDefault("admin_or_owner", "rule:admin_required or rule:owner"),
    RuleDefault("project_reader", "role:reader and project_id:%(project_id)s"),
    RuleDefault("project_member", "role:member and project_id:%(project_id)s"),
    RuleDefault("project_reader_or_admin", "rule:admin_required or rule:project_reader"),
    RuleDefault("project_member_or_admin", "rule:admin_required or rule:project_member"),
]


def flatten(target: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """`target` with nested dicts also reachable by dotted keys, as rules write them:
    {"target": {"user": {"id": x}}} matches `%(target.user.id)s`."""
    flat: dict[str, Any] = {}
    for key, value in target.items():
        name = f"{prefix}{key}"
        flat[name] = value
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
    return flat


_MAX_DECISIONS = 10000


def _freeze(value: Any) -> Hashable:
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, str | int | float | bool | None):
        return value
    raise TypeError(f"cannot remember a decision about {type(value).__name__}")


class Policy:
    def __init__(self, service: str, defaults: Iterable[RuleDefault], policy_dir: Path) -> None:
        conf = cfg.ConfigOpts()
        conf([], project="overcast", default_config_files=[], default_config_dirs=[])
        path = policy_dir / f"{service}.yaml"
        # Scope is checked by the rules themselves (admin on any project is cloud admin, as in
        # most deployments); the operator's file is the only file read.
        opts.set_defaults(
            conf,
            policy_file=str(path),
            enforce_scope=False,
            enforce_new_defaults=True,
            policy_dirs=[],
        )
        self._enforcer = oslo.Enforcer(conf, policy_file=str(path), use_conf=False)
        self._enforcer.register_defaults(BASE_RULES)
        self._enforcer.register_defaults(list(defaults))
        self._path = path
        self._mtime: float | None = None
        self._looked = 0.0
        self._decisions: dict[Hashable, bool] = {}
        self._enforcer.load_rules(force_reload=True)

    def _load(self) -> None:
        # Registered defaults always apply; the operator's file, when present, overrides them
        # and is re-read when it changes (looked at no more than once a second).
        now = time.monotonic()
        if now - self._looked < 1.0:
            return
        self._looked = now
        mtime = self._path.stat().st_mtime if self._path.exists() else None
        if mtime != self._mtime:
            self._mtime = mtime
            self._enforcer.load_rules(force_reload=True)
            self._decisions.clear()

    def check(
        self, rule: str, ctx: RequestContext, target: Mapping[str, Any] | None = None
    ) -> bool:
        """Whether `ctx` may do `rule` to `target`.

        An oslo.policy check costs 0.1-0.2 ms, as much as a whole cached request, and depends
        only on the rule, the credentials, the target and the rules; so decisions are
        remembered until the operator's file changes.
        """
        self._load()
        target = target or {}
        # The flattened target follows from the target, so the target alone is the key; it is
        # flattened only when the decision is not remembered.
        try:
            key: Hashable = (rule, ctx.policy_key, _freeze(target))
        except TypeError:
            return self._enforce(rule, ctx, target)
        found = self._decisions.get(key)
        if found is None:
            found = self._enforce(rule, ctx, target)
            if len(self._decisions) >= _MAX_DECISIONS:
                self._decisions.clear()
            self._decisions[key] = found
        return found

    def _enforce(self, rule: str, ctx: RequestContext, target: Mapping[str, Any]) -> bool:
        return bool(
            self._enforcer.enforce(rule, flatten(target), ctx.credentials(), do_raise=False)
        )

    def enforce(
        self, rule: str, ctx: RequestContext, target: Mapping[str, Any] | None = None
    ) -> None:
        """Raise errors.Forbidden unless `ctx` may do `rule` to `target`."""
        if not self.check(rule, ctx, target):
            raise errors.Forbidden(
                f"You are not authorized to perform the requested action: {rule}."
            )

    @property
    def rules(self) -> list[str]:
        return sorted(self._enforcer.registered_rules)
