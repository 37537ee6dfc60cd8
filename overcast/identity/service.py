"""The identity service: Keystone's v3 API at the root of the listener."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from fastapi import FastAPI

from overcast.common.db import migrate
from overcast.common.db.base import utcnow
from overcast.common.http import faults
from overcast.common.http.auth import CachingValidator
from overcast.common.http.policy import Policy
from overcast.common.service import Runtime, Service, api_app
from overcast.identity import bootstrap, credential_keys, passwords, policies, revocation
from overcast.identity.api import ROUTERS
from overcast.identity.authenticate import Authenticator
from overcast.identity.keys import KeyRepository
from overcast.identity.state import IdentityState
from overcast.identity.tokens import TokenFormatter
from overcast.identity.validator import IdentityValidator

_PUBLIC = {
    ("GET", "/"),
    ("GET", "/v3"),
    ("GET", "/v3/"),
    ("POST", "/v3/auth/tokens"),
    ("POST", "/v3/s3tokens"),  # the request's signature is the proof
}


# A user whose password expired has no token; the original password is the proof instead.
_PASSWORD_CHANGE = re.compile(r"^/v3/users/[^/]+/password$")


def _public(method: str, path: str) -> bool:
    if method == "POST" and _PASSWORD_CHANGE.match(path):
        return True
    return (method, path) in _PUBLIC


def key_repository(runtime: Runtime) -> KeyRepository:
    settings = runtime.settings
    return KeyRepository(settings.data_dir / "fernet-keys", settings.identity.max_active_keys)


def credential_cipher(runtime: Runtime) -> credential_keys.CredentialCipher:
    repo = credential_keys.repository(runtime.settings)
    repo.ensure()
    return credential_keys.CredentialCipher(repo)


class IdentityService(Service):
    name = "identity"
    catalog_type = "identity"
    catalog_name = "keystone"
    prefix = ""
    migrations = Path(__file__).parent / "migrations"

    def endpoint_url(self, base_url: str) -> str:
        return base_url + "/v3"

    async def upgrade(self, runtime: Runtime) -> None:
        """The migrations, handed the credential keys (existing blobs are encrypted then)."""
        assert self.migrations is not None
        attributes = {"credential_cipher": credential_cipher(runtime)}
        await migrate.upgrade(runtime.db, self.name, self.migrations, attributes)

    def build(self, runtime: Runtime) -> FastAPI:
        settings = runtime.settings
        keys = key_repository(runtime)
        keys.ensure()
        formatter = TokenFormatter(keys)
        passwords.set_dummy_rounds(settings.identity.password_hash_rounds)
        runtime.validator = CachingValidator(
            IdentityValidator(runtime.db, formatter),
            settings.identity.validation_cache_seconds,
            runtime.bus,
        )
        app = api_app(
            runtime, title="Overcast Identity (Keystone v3)", render=faults.keystone, public=_public
        )
        app.state.identity = IdentityState(
            settings=settings,
            db=runtime.db,
            bus=runtime.bus,
            policy=Policy("identity", policies.DEFAULTS, settings.policy_dir),
            formatter=formatter,
            authenticator=Authenticator(settings.identity, formatter),
            credential_cipher=credential_cipher(runtime),
        )
        for router in ROUTERS:
            app.include_router(router)
        return app

    async def start(self, runtime: Runtime) -> None:
        settings = runtime.settings
        async with runtime.db.session() as session:
            creds = await bootstrap.run(
                session,
                settings.data_dir,
                settings.region,
                runtime.catalog,
                runtime.service_roles,
                settings.identity.password_hash_rounds,
            )
            runtime.projects.update(creds.projects)
            # Events older than the longest token life can match no live token any more.
            lifetime = dt.timedelta(seconds=settings.identity.token_expiration)
            await revocation.prune(session, utcnow() - lifetime - dt.timedelta(minutes=5))
            # Keys copied or rotated by hand: what an older key encrypted moves to the primary.
            await credential_keys.reencrypt(session, credential_cipher(runtime))
