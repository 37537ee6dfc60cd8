"""How a metadata request proxied from a guest's network names its instance, as Neutron's
metadata agent tells Nova: `X-Instance-ID` and `X-Tenant-ID`, with `X-Instance-ID-Signature`,
the HMAC-SHA256 of the instance id under a secret the proxy and the metadata API share.

Used by compute's metadata API (to check) and the network dataplane's proxy (to sign). The
secret is the `compute.metadata_secret` setting, or one made once in the data directory.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from overcast.common import files
from overcast.common.config import Settings

HEADER_ID = "X-Instance-ID"
HEADER_PROJECT = "X-Tenant-ID"
HEADER_SIGNATURE = "X-Instance-ID-Signature"


def shared_secret(settings: Settings) -> bytes:
    if settings.compute.metadata_secret:
        return settings.compute.metadata_secret.encode()
    return secret_file(Path(settings.data_dir))


def secret_file(data_dir: Path) -> bytes:
    """The secret kept in the data directory, made on first use."""
    path = data_dir / "metadata_secret"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        files.atomic_write(path, secrets.token_hex(32).encode())
        return path.read_bytes().strip()


def sign(secret: bytes, instance_id: str) -> str:
    return hmac.new(secret, instance_id.encode(), hashlib.sha256).hexdigest()


def verify(secret: bytes, instance_id: str, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, instance_id), signature)
