"""The token as Keystone shows it (`{"token": {...}}`), and validation answered from the cache.

Used by api/tokens.py for issue, validate and check. `validated` is the hot path every service's
token check ends in: a cached answer costs a dict lookup; a miss decrypts, resolves the token
against the database and renders it once for the next few seconds.
"""

from __future__ import annotations

import json
from typing import Any

from overcast.common import errors
from overcast.identity import catalog, state, token_view
from overcast.identity.token_cache import Validated
from overcast.identity.tokens import isoformat


def _ref(obj: Any) -> dict[str, Any]:
    return {"id": obj.id, "name": obj.name}


async def render(
    session: Any, view: token_view.TokenView, cat: catalog.Catalog | None
) -> dict[str, Any]:
    """The token body; with the catalog when `cat` is given and the token is scoped."""
    data = view.data
    user = view.user
    body: dict[str, Any] = {
        "methods": list(data.methods),
        "user": {
            **_ref(user),
            "domain": _ref(view.user_domain),
            "password_expires_at": (
                isoformat(user.password_expires_at) if user.password_expires_at else None
            ),
        },
        "audit_ids": list(data.audit_ids),
        "expires_at": isoformat(data.expires_at),
        "issued_at": isoformat(data.issued_at),
    }
    if view.project is not None and view.project_domain is not None:
        body["project"] = {**_ref(view.project), "domain": _ref(view.project_domain)}
        body["is_domain"] = False
    if view.domain is not None:
        body["domain"] = _ref(view.domain)
    if data.system:
        body["system"] = {data.system: True}
    if data.project_id or data.domain_id or data.system:
        body["roles"] = [_ref(r) for r in view.roles]
        if cat is not None:
            body["catalog"] = catalog.for_project(await cat.get(session), data.project_id)
    if view.application_credential is not None:
        cred = view.application_credential
        body["application_credential"] = {**_ref(cred), "restricted": not cred.unrestricted}
        if cred.access_rules:
            body["application_credential"]["access_rules"] = cred.access_rules
    return {"token": body}


async def validated(ident: state.IdentityState, subject: str, with_catalog: bool) -> Validated:
    """The answer for `subject`; errors.NotFound if it is not a valid token now."""
    if not subject:
        raise errors.NotFound("Could not find token: the X-Subject-Token header is missing.")
    ident.tokens.sync_keys(ident.formatter.key_generation)
    found = ident.tokens.get(subject, with_catalog)
    if found is not None:
        return found
    generation = ident.tokens.generation
    try:
        data = ident.formatter.decode(subject)
        async with ident.db.reader() as session:
            view = await token_view.resolve(session, data)
            body = await render(session, view, ident.catalog if with_catalog else None)
    except errors.Unauthorized as exc:
        raise errors.NotFound(f"Could not find token: {exc.message}") from exc
    raw = json.dumps(body, separators=(",", ":")).encode()
    ident.tokens.put(subject, with_catalog, (data.user_id, raw, data.expires_at), generation)
    return Validated(data.user_id, raw, 0.0)
