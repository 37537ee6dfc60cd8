"""Key material for key pairs: fingerprints of imported keys and generation of new ones.

Nova's rules: an ssh key's fingerprint is the MD5 of its decoded blob, an x509 certificate's is
its SHA-1, both as colon-separated hex. Generated ssh keys are 2048-bit RSA.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from overcast.common import errors


def _colons(hexdigest: str) -> str:
    return ":".join(a + b for a, b in zip(hexdigest[::2], hexdigest[1::2], strict=True))


def _invalid(reason: str) -> errors.BadRequest:
    return errors.BadRequest(f"Keypair data is invalid: {reason}")


def ssh_fingerprint(public_key: str) -> str:
    """MD5 fingerprint of an OpenSSH public key line; BadRequest if it is not one."""
    try:
        serialization.load_ssh_public_key(public_key.strip().encode())
        blob = base64.b64decode(public_key.split()[1])
    except (ValueError, IndexError, TypeError, UnicodeError, UnsupportedAlgorithm) as exc:
        raise _invalid("failed to generate fingerprint") from exc
    return _colons(hashlib.md5(blob, usedforsecurity=False).hexdigest())


def x509_fingerprint(pem: str) -> str:
    """SHA-1 fingerprint of a PEM certificate; BadRequest if it is not one."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except (ValueError, TypeError, UnicodeError) as exc:
        raise _invalid(f"failed to generate X509 fingerprint. Error message: {exc}") from exc
    return _colons(binascii.hexlify(cert.fingerprint(hashes.SHA1())).decode())


def fingerprint(key_type: str, public_key: str) -> str:
    return x509_fingerprint(public_key) if key_type == "x509" else ssh_fingerprint(public_key)


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def generate_ssh() -> tuple[str, str]:
    """A new (private key PEM, public key line) pair, marked as Nova marks its own."""
    key = _rsa()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return _private_pem(key), f"{public.decode()} Generated-by-Nova"


def generate_x509(user_id: str) -> tuple[str, str]:
    """A new (private key PEM, self-signed certificate PEM) pair for `user_id`, valid 10 years."""
    key = _rsa()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user_id or "overcast")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return _private_pem(key), cert.public_bytes(serialization.Encoding.PEM).decode()
