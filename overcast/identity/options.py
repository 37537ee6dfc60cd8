"""Resource options, as Keystone has them: a small fixed set per resource, each with a type.

Users have the lockout, password and MFA options; roles, projects and domains have
`immutable`. Setting an option to null removes it. Used by the domain-logic modules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from overcast.common import errors

_USER_FLAGS = (
    "ignore_change_password_upon_first_use",
    "ignore_password_expiry",
    "ignore_lockout_failure_attempts",
    "lock_password",
    "ignore_user_inactivity",
    "multi_factor_auth_enabled",
)
USER = {**{name: bool for name in _USER_FLAGS}, "multi_factor_auth_rules": list}
RESOURCE = {"immutable": bool}


def merge(
    current: dict[str, Any] | None, given: dict[str, Any] | None, known: Mapping[str, type]
) -> dict[str, Any]:
    """`current` updated with `given` after checking every option's name and type."""
    merged = dict(current or {})
    for name, value in (given or {}).items():
        kind = known.get(name)
        if kind is None:
            raise errors.BadRequest(f"Invalid input for field 'options': unknown option {name!r}.")
        if value is None:
            merged.pop(name, None)
            continue
        if kind is bool and not isinstance(value, bool):
            raise errors.BadRequest(
                f"Invalid input for field 'options.{name}': expected a boolean."
            )
        if kind is list and not _rules(value):
            raise errors.BadRequest(
                f"Invalid input for field 'options.{name}': expected a list of lists of methods."
            )
        merged[name] = value
    return merged


def _rules(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(rule, list) and rule and all(isinstance(m, str) and m for m in rule)
        for rule in value
    )
