"""Key material: generate, store (owner-only) and load signing keys."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from core.errors import InvalidRequest


def generate_private_key() -> ec.EllipticCurvePrivateKey:
    """A new P-256 key (signs ES256)."""
    return ec.generate_private_key(ec.SECP256R1())


def private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: PrivateKeyTypes | PublicKeyTypes) -> str:
    public = key.public_key() if hasattr(key, "public_key") else key
    return public.public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def write_secret(path: Path, content: bytes) -> None:
    """Write ``content`` so that only the owner can read it (mode 0600) from the start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, content)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)


def load_private_key(path: Path) -> PrivateKeyTypes:
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def load_public_key(pem: str | bytes) -> PublicKeyTypes:
    """Parse a PEM public key. Raises :class:`InvalidRequest` if it is not one."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        return serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise InvalidRequest("not a PEM-encoded public key", code="invalid_public_key") from exc


def key_id(public_key_pem: str) -> str:
    """A stable key id: the first 16 hex digits of the SHA-256 of the PEM."""
    return hashlib.sha256(public_key_pem.strip().encode()).hexdigest()[:16]
