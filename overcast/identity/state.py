"""What identity's routes need, built once per app and kept in `app.state.identity`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from overcast.common.bus import Bus
from overcast.common.config import Settings
from overcast.common.context import RequestContext
from overcast.common.db.session import Database
from overcast.common.http.policy import Policy
from overcast.identity.authenticate import Authenticator
from overcast.identity.catalog import Catalog
from overcast.identity.credential_keys import CredentialCipher
from overcast.identity.token_cache import TokenCache
from overcast.identity.tokens import TokenFormatter


@dataclass
class IdentityState:
    settings: Settings
    db: Database
    bus: Bus
    policy: Policy
    formatter: TokenFormatter
    authenticator: Authenticator
    credential_cipher: CredentialCipher  # credential blobs are encrypted at rest
    catalog: Catalog = field(init=False)  # the token catalog, cached; see catalog.Catalog
    tokens: TokenCache = field(init=False)  # validated tokens' answers; see token_cache

    def __post_init__(self) -> None:
        self.catalog = Catalog(self.bus)
        self.tokens = TokenCache(self.settings.identity.validation_cache_seconds, self.bus)

    def enforce(self, rule: str, ctx: RequestContext, target: dict[str, Any] | None = None) -> None:
        self.policy.enforce(rule, ctx, target)


def get(request: Request) -> IdentityState:
    """FastAPI dependency: the identity state of the app serving this request."""
    state: IdentityState = request.app.state.identity
    return state
