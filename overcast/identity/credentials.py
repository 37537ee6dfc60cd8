"""Credentials (`/v3/credentials`) and the EC2 credentials made from them (`OS-EC2`), and the
check of an S3 request's signature against an EC2 secret (`/v3/s3tokens`, as the object
store's S3 API asks it: the secret never leaves identity).

Called by api/credentials.py. An EC2 credential is a credential of type `ec2` whose id is
sha256(access) and whose blob is {"access", "secret", "trust_id"}. Blobs are kept encrypted
(`credential_keys`): every function that reads or writes one is handed the cipher.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.identity import lookup, models, scopes
from overcast.identity.credential_keys import CredentialCipher

EC2 = "ec2"
# What scopes an EC2 credential, fixed once it is made.
SCOPE_KEYS = ("trust_id", "app_cred_id", "access_token_id", "access_id")


def ec2_id(access: str) -> str:
    return hashlib.sha256(access.encode()).hexdigest()


def plain(cred: models.Credential, cipher: CredentialCipher) -> str:
    """The credential's blob, decrypted."""
    return cipher.decrypt(cred.encrypted_blob)


def blob_of(cred: models.Credential, cipher: CredentialCipher) -> dict[str, Any]:
    try:
        found = json.loads(plain(cred, cipher))
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _ec2_blob(blob: str) -> dict[str, Any]:
    try:
        parsed = json.loads(blob)
    except ValueError:
        raise errors.BadRequest("Invalid blob in credential: not JSON.") from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("access"), str):
        raise errors.BadRequest("Invalid blob in credential: an ec2 blob needs 'access'.")
    return parsed


async def create(
    session: AsyncSession,
    cipher: CredentialCipher,
    user_id: str,
    type_: str,
    blob: str,
    project_id: str | None,
) -> models.Credential:
    await lookup.get(session, models.User, user_id)
    if project_id is not None:
        await lookup.get(session, models.Project, project_id)
    cred_id = None
    if type_ == EC2:
        parsed = _ec2_blob(blob)
        if project_id is None:
            raise errors.BadRequest("Invalid input for field 'project_id': ec2 needs a project.")
        cred_id = ec2_id(parsed["access"])
        if await session.get(models.Credential, cred_id) is not None:
            raise errors.Conflict(
                "Conflict occurred attempting to store credential: duplicate access."
            )
    encrypted, key_hash = cipher.encrypt(blob)
    cred = models.Credential(
        id=cred_id or uuid.uuid4().hex,
        user_id=user_id,
        project_id=project_id,
        type=type_,
        encrypted_blob=encrypted,
        key_hash=key_hash,
        extra={},
    )
    session.add(cred)
    await session.flush()
    return cred


async def get(session: AsyncSession, cred_id: str) -> models.Credential:
    return await lookup.get(session, models.Credential, cred_id)


async def list_(
    session: AsyncSession, user_id: str | None, type_: str | None
) -> list[models.Credential]:
    query = select(models.Credential).order_by(models.Credential.created_at)
    if user_id is not None:
        query = query.where(models.Credential.user_id == user_id)
    if type_ is not None:
        query = query.where(models.Credential.type == type_)
    return list((await session.execute(query)).scalars())


async def update(
    session: AsyncSession,
    cipher: CredentialCipher,
    cred: models.Credential,
    changes: dict[str, Any],
) -> models.Credential:
    if "type" in changes or "blob" in changes:
        new_type = changes.get("type", cred.type)
        new_blob = changes["blob"] if "blob" in changes else plain(cred, cipher)
        if new_type == EC2:
            parsed = _ec2_blob(new_blob)
            if cred.type != EC2 and ec2_id(parsed["access"]) != cred.id:
                raise errors.BadRequest(
                    "Invalid blob in credential: an ec2 credential's id is its access's hash."
                )
            # As Keystone: the access and secret may change, the scope may not. (The id stays
            # the old access's hash: neither access then signs S3 requests, see `check_s3`.)
            old = blob_of(cred, cipher) if cred.type == EC2 else parsed
            for key in SCOPE_KEYS:
                if old.get(key) != parsed.get(key):
                    raise errors.BadRequest(f"{key} can not be updated for credential")
        cred.type = new_type
        cred.encrypted_blob, cred.key_hash = cipher.encrypt(new_blob)
    if "project_id" in changes:
        if changes["project_id"] is not None:
            await lookup.get(session, models.Project, changes["project_id"])
        cred.project_id = changes["project_id"]
    if "user_id" in changes:
        await lookup.get(session, models.User, changes["user_id"])
        cred.user_id = changes["user_id"]
    return cred


async def delete(session: AsyncSession, cred: models.Credential) -> None:
    await session.delete(cred)


# -- EC2 -------------------------------------------------------------------------------------


async def create_ec2(
    session: AsyncSession, cipher: CredentialCipher, user_id: str, project_id: str
) -> models.Credential:
    """A new access/secret pair for the user on a project where the user has a role."""
    await lookup.get(session, models.Project, project_id)
    if project_id not in {p.id for p in await scopes.projects_for_user(session, user_id)}:
        raise errors.Forbidden(f"User {user_id} has no role on project {project_id}.")
    blob = json.dumps({"access": uuid.uuid4().hex, "secret": uuid.uuid4().hex, "trust_id": None})
    return await create(session, cipher, user_id, EC2, blob, project_id)


async def ec2_of(session: AsyncSession, user_id: str, access: str) -> models.Credential:
    cred = await session.get(models.Credential, ec2_id(access))
    if cred is None or cred.user_id != user_id or cred.type != EC2:
        raise errors.NotFound(f"Could not find credential: {access}.")
    return cred


def _v4_key(secret: str, scope: str) -> bytes:
    date, region, service, _terminal = (scope.split("/") + ["", "", "", ""])[:4]
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signature_for(secret: str, string_to_sign: str) -> str:
    """The signature an S3 client computes: AWS SigV4 (hex) when the string to sign is a V4
    one, otherwise V2 (base64 of HMAC-SHA1)."""
    if string_to_sign.startswith("AWS4-HMAC-SHA256\n"):
        lines = string_to_sign.split("\n")
        if len(lines) < 4:
            raise errors.Unauthorized("Credential signature mismatch")
        key = _v4_key(secret, lines[2])
        return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    mac = hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


async def check_s3(
    session: AsyncSession, cipher: CredentialCipher, access: str, token: str, signature: str
) -> models.Credential:
    """The EC2 credential whose secret signed `token` (base64 of the string to sign)."""
    cred = await session.get(models.Credential, ec2_id(access))
    if cred is None or cred.type != EC2 or cred.project_id is None:
        raise errors.Unauthorized("The request you have made requires authentication.")
    try:
        string_to_sign = base64.urlsafe_b64decode(token.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise errors.BadRequest("Invalid input for field 'token': not base64.") from None
    blob = blob_of(cred, cipher)
    if blob.get("access") != access:  # its access was changed: the old one is no key
        raise errors.Unauthorized("The request you have made requires authentication.")
    secret = str(blob.get("secret", ""))
    expected = signature_for(secret, string_to_sign)
    if not secret or not hmac.compare_digest(expected.encode(), signature.encode()):
        raise errors.Unauthorized("Credential signature mismatch")
    return cred
