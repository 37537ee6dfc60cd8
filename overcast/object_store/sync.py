"""Container sync, as Swift's: a container with `X-Container-Sync-To` (a container in a
configured realm, `//REALM/CLUSTER/ACCOUNT/CONTAINER`, or where allowed a URL
`http://HOST/v1/ACCOUNT/CONTAINER`) and `X-Container-Sync-Key` has its object writes and
deletes replayed there by the syncer (`daemons/syncer.py`). The receiving store lets such a
request in when it carries the key its container holds too and, from a realm, an
`X-Container-Sync-Auth` signed with the realm's key.

The API checks a value with `target`; the syncer signs with `auth_header`; the receiver
checks with `authorised`. Knows nothing of HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from overcast.common import errors
from overcast.common.config import ObjectStoreSettings, SyncRealm


@dataclass(frozen=True)
class Target:
    url: str  # the destination container's URL
    realm: str = ""  # the realm's name (upper case), "" for a URL
    keys: tuple[str, ...] = ()  # the realm's keys, the first signing


def realms(settings: ObjectStoreSettings) -> dict[str, SyncRealm]:
    """The realms by upper-case name: Swift matches realm and cluster names in any case."""
    return {name.upper(): realm for name, realm in settings.sync_realms.items()}


def target(sync_to: str, settings: ObjectStoreSettings) -> Target:
    """Where `X-Container-Sync-To` leads; BadRequest when it is malformed or not allowed."""
    if sync_to.startswith("//"):
        parts = sync_to.split("/")
        if len(parts) != 6 or not all(parts[2:]):
            raise errors.BadRequest(f"Invalid X-Container-Sync-To format {sync_to!r}")
        realm_name, cluster, account, container = parts[2:]
        realm = realms(settings).get(realm_name.upper())
        if realm is None:
            raise errors.BadRequest(f"No realm key for {realm_name!r}")
        clusters = {name.upper(): url for name, url in realm.clusters.items()}
        endpoint = clusters.get(cluster.upper())
        if endpoint is None:
            raise errors.BadRequest(f"No cluster endpoint for {realm_name!r} {cluster!r}")
        keys = tuple(k for k in (realm.key, realm.key2) if k)
        where = f"{endpoint.rstrip('/')}/{quote(account)}/{quote(container)}"
        return Target(where, realm_name.upper(), keys)
    url = urlsplit(sync_to)
    if url.scheme not in ("http", "https"):
        raise errors.BadRequest(
            f"Invalid scheme {url.scheme!r} in X-Container-Sync-To: use //, http or https"
        )
    if not settings.sync_full_urls:
        raise errors.BadRequest(
            "X-Container-Sync-To may only name a realm: //realm/cluster/account/container"
        )
    if len(url.path.strip("/").split("/")) < 3 or url.query or url.fragment:
        raise errors.BadRequest("X-Container-Sync-To needs a path: /v1/account/container")
    if url.hostname not in settings.sync_hosts:
        raise errors.BadRequest(f"Invalid host {url.hostname!r} in X-Container-Sync-To")
    return Target(sync_to.rstrip("/"))


def signature(key: str, method: str, path: str, timestamp: str, nonce: str, user_key: str) -> str:
    body = f"{method.upper()}\n{path}\n{timestamp}\n{nonce}\n{user_key}"
    return hmac.new(key.encode(), body.encode(), hashlib.sha1).hexdigest()


def auth_header(to: Target, method: str, path: str, timestamp: str, user_key: str) -> str:
    """`X-Container-Sync-Auth` for a request to a realm's cluster: realm, nonce, signature."""
    nonce = secrets.token_hex(16)
    return f"{to.realm} {nonce} {signature(to.keys[0], method, path, timestamp, nonce, user_key)}"


def authorised(
    settings: ObjectStoreSettings,
    method: str,
    path: str,
    timestamp: str,
    sent_key: str,
    sync_auth: str,
    container_key: str,
) -> bool:
    """Whether a sync request (`sent_key`, `sync_auth`) may write into a container holding
    `container_key`: the keys match, and it is signed by a realm we share or, unsigned, URLs
    are allowed."""
    if not container_key or not hmac.compare_digest(sent_key.encode(), container_key.encode()):
        return False
    if not sync_auth:
        return settings.sync_full_urls
    parts = sync_auth.split()
    if len(parts) != 3:
        return False
    realm_name, nonce, sent = parts
    realm = realms(settings).get(realm_name.upper())
    if realm is None:
        return False
    for key in (realm.key, realm.key2):
        wanted = signature(key, method, path, timestamp, nonce, container_key) if key else ""
        if wanted and hmac.compare_digest(wanted.encode(), sent.encode()):
            return True
    return False
