"""One Swift request, parsed: the account/container/object it names, the caller as
keystoneauth sees them, its headers and query; and the helpers every route answers with.
Built by `dispatch` for each request under `/v1/`.
"""

from __future__ import annotations

import email.utils
import functools
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from overcast.common import errors
from overcast.common.context import RequestContext
from overcast.object_store import access, constraints
from overcast.object_store.containers import AccountInfo, ContainerInfo
from overcast.object_store.state import ObjectStoreState

TEXT = "text/plain; charset=utf-8"


@dataclass
class Call:
    request: Request
    st: ObjectStoreState
    method: str
    account: str
    container: str | None
    obj: str | None
    headers: Headers
    params: dict[str, str]
    context: RequestContext | None
    _caller: access.Caller | None = None
    body: AsyncIterator[bytes] | None = None  # the request body, when not the request's own
    slo_etag: str | None = None  # the ETag a manifest PUT gets, when not Swift's (S3 multipart)
    # The write's timestamp when the request brings its own (a container sync replaying
    # one, `X-Timestamp`); otherwise the write is timed when it is made.
    timestamp: str | None = None
    _account_info: AccountInfo | None = None
    _by_name: dict[str, str] | None = None  # the headers by (lower-case) name, once asked

    async def caller(self) -> access.Caller:
        """The caller; an account ACL is looked up only for callers who do not own it."""
        if self._caller is None:
            cfg = self.st.settings
            caller = access.identify(
                self.context, self.account, "", cfg.operator_roles, cfg.reseller_admin_role
            )
            if not caller.owner and self.context is not None:
                info = await self.account_info()
                caller = access.identify(
                    self.context,
                    self.account,
                    info.get("x-account-access-control"),
                    cfg.operator_roles,
                    cfg.reseller_admin_role,
                )
            self._caller = caller
        return self._caller

    async def account_info(self) -> AccountInfo:
        if self._account_info is None:
            self._account_info = await self.st.containers.account(
                self.account, fresh=self.obj is None
            )
        return self._account_info

    async def container_info(self) -> ContainerInfo | None:
        assert self.container is not None
        return await self.st.containers.info(self.account, self.container)

    @property
    def mount(self) -> str:
        """The path the service is mounted at (`/object-store`), where its catalog URL's path
        begins: what a client signing a temp URL or a form sees before `/v1/`."""
        return str(self.request.scope.get("root_path", ""))

    def header(self, name: str, default: str = "") -> str:
        """A header by its lower-case name; the first of a repeated one, as `Headers.get`.
        A dict made once: `Headers.get` scans and re-encodes the list on every call, and a
        PUT asks for a dozen."""
        if self._by_name is None:
            self._by_name = dict(reversed(self.headers.items()))
        return self._by_name.get(name, default)

    def meta_changes(self, kind: str, extra: tuple[str, ...] = ()) -> dict[str, str | None]:
        """`X-<kind>-Meta-*` to set (empty: remove), `X-Remove-<kind>-Meta-*` to remove, and
        the `extra` system headers given."""
        prefix = f"x-{kind}-meta-"
        remove = f"x-remove-{kind}-meta-"
        changes: dict[str, str | None] = {}
        for key, value in self.headers.items():
            lower = key.lower()
            if lower.startswith(prefix):
                changes[lower] = value
            elif lower.startswith(remove):
                changes[prefix + lower[len(remove) :]] = None
            elif lower in extra:
                changes[lower] = value
            elif lower.startswith("x-remove-") and ("x-" + lower[9:]) in extra:
                changes["x-" + lower[9:]] = None
        constraints.check_metadata({k: v for k, v in changes.items() if v is not None}, kind)
        return changes


def title(key: str) -> str:
    """`x-container-meta-color` → `X-Container-Meta-Color`, as Swift returns headers."""
    return "-".join(p[:1].upper() + p[1:] for p in key.split("-"))


def http_date(ts: str | float) -> str:
    return _http_date(math.ceil(float(ts)))


@functools.lru_cache(maxsize=4096)
def _http_date(seconds: int) -> str:
    """Formatted once per second: objects written together share their Last-Modified."""
    return email.utils.formatdate(seconds, usegmt=True)


def empty(status: int, headers: dict[str, Any] | None = None, media: str = TEXT) -> Response:
    """A bodiless answer with Swift's headers (Content-Length 0)."""
    out = {k: str(v) for k, v in (headers or {}).items()}
    return Response(b"", status_code=status, headers=out, media_type=media)


def require(condition: bool, caller: access.Caller) -> None:
    if not condition:
        raise caller.denied()


def bad(message: str) -> errors.BadRequest:
    return errors.BadRequest(message)
