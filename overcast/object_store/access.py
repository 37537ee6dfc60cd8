"""Who may do what, as Swift's keystoneauth decides it: the project's operators (roles
`operator_roles`, by default member and admin) own the project's account `AUTH_<project_id>`;
the reseller admin role reaches every account; anyone else, and anonymous callers, only what
an account ACL (`X-Account-Access-Control`) or container ACL (`X-Container-Read`,
`X-Container-Write`) grants. Called by the API's request parsing; knows nothing of HTTP.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlparse

from overcast.common import errors
from overcast.common.context import RequestContext

PREFIX = "AUTH_"


@dataclass(frozen=True)
class Caller:
    context: RequestContext | None
    account: str
    owner: bool  # Swift's swift_owner: may read and set ACLs, keys and quotas
    reseller: bool
    account_level: str = ""  # "admin", "read-write" or "read-only" from an account ACL

    @property
    def anonymous(self) -> bool:
        return self.context is None

    def denied(self) -> errors.OvercastError:
        """401 for anonymous callers (they may authenticate), 403 for the others."""
        return errors.Unauthorized() if self.anonymous else errors.Forbidden()


def identify(
    ctx: RequestContext | None,
    account: str,
    account_acl: str,
    operator_roles: list[str],
    reseller_role: str,
) -> Caller:
    if ctx is None:
        return Caller(None, account, False, False)
    roles = {r.lower() for r in ctx.roles}
    reseller = reseller_role.lower() in roles
    own = (
        account.startswith(PREFIX)
        and ctx.project_id == account[len(PREFIX) :]
        and bool(roles & {r.lower() for r in operator_roles})
    )
    level = "" if own or reseller else _account_level(ctx, account_acl)
    return Caller(ctx, account, own or reseller or level == "admin", reseller, level)


def _names(ctx: RequestContext) -> set[str]:
    """The ACL identities that name the caller: project:user by id or name, and wildcards."""
    projects = {p for p in (ctx.project_id, ctx.project_name) if p}
    users = {u for u in (ctx.user_id, ctx.user_name) if u}
    out = {f"{p}:{u}" for p in projects for u in users}
    out |= {f"{p}:*" for p in projects} | {f"*:{u}" for u in users} | {"*:*"}
    return out | set(ctx.roles)


def _account_level(ctx: RequestContext, raw: str) -> str:
    if not raw:
        return ""
    try:
        acl = json.loads(raw)
    except ValueError:
        return ""
    names = _names(ctx) | {ctx.user_id or "", ctx.project_id or ""}
    for level in ("admin", "read-write", "read-only"):
        if names & set(acl.get(level) or []):
            return level
    return ""


def parse_account_acl(raw: str) -> str:
    """Validate an `X-Account-Access-Control` value (JSON of level → identities)."""
    try:
        acl = json.loads(raw)
    except ValueError:
        raise errors.BadRequest("Account ACLs must be JSON") from None
    if not isinstance(acl, dict) or set(acl) - {"admin", "read-write", "read-only"}:
        raise errors.BadRequest("Account ACL keys are admin, read-write and read-only")
    for value in acl.values():
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise errors.BadRequest("Account ACL values must be lists of strings")
    return json.dumps(acl, separators=(",", ":"))


def parse_container_acl(raw: str) -> str:
    """Normalise a V1 container ACL (`.r:*,.rlistings,project:user`); 400 if malformed."""
    items = [i.strip() for i in raw.split(",") if i.strip()]
    for item in items:
        if item.startswith(".") and not item.startswith((".r:", ".referrer:", ".rlistings")):
            raise errors.BadRequest(f"Unknown ACL element {item}")
        if item.startswith((".r:", ".referrer:")) and not item.split(":", 1)[1]:
            raise errors.BadRequest("Referrer ACL elements need a value")
    return ",".join(items)


def _referrer_ok(acl_items: list[str], referrer: str) -> bool:
    host = urlparse(referrer).hostname or "" if referrer else ""
    allowed = False
    for item in acl_items:
        if not item.startswith((".r:", ".referrer:")):
            continue
        value = item.split(":", 1)[1]
        negate = value.startswith("-")
        value = value.lstrip("-")
        match = value == "*" or (
            host and (host == value.lstrip(".") or (value.startswith(".") and host.endswith(value)))
        )
        if match:
            allowed = not negate
    return allowed


def may_read(caller: Caller, read_acl: str, referrer: str, listing: bool) -> bool:
    """Reading a container's objects (or, with `listing`, the container itself)."""
    if caller.owner or caller.account_level:
        return True
    items = [i.strip() for i in read_acl.split(",") if i.strip()]
    if caller.context is not None and _names(caller.context) & set(items):
        return True
    if _referrer_ok(items, referrer):
        return not listing or ".rlistings" in items
    return False


def may_write(caller: Caller, write_acl: str) -> bool:
    """Writing a container's objects."""
    if caller.owner or caller.account_level == "read-write":
        return True
    if caller.context is None:
        return False
    items = {i.strip() for i in write_acl.split(",") if i.strip()}
    return bool(_names(caller.context) & items)
