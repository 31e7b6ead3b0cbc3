"""Signed checkpoints of the audit chain head, kept outside the database.

A checkpoint is ``{seq, digest, at}`` signed with an Ed25519 key that never
lives in the database. Deleting the last records and rewinding the head
leaves a chain that is consistent with itself; a checkpoint past its end, or
disagreeing with it, gives the truncation away.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from core import keys
from core.canonical import canonical_json


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    digest: str
    at: str
    key_id: str
    signature: str
    path: Path | None = None

    def signed_part(self) -> bytes:
        return canonical_json({"seq": self.seq, "digest": self.digest, "at": self.at})


def _public_path(private_path: Path) -> Path:
    return private_path.with_suffix(".pub")


def load_or_create_key(private_path: Path) -> Ed25519PrivateKey:
    """The checkpoint signing key; created (0600, with its public half beside it) on first use."""
    if not private_path.exists():
        key = Ed25519PrivateKey.generate()
        keys.write_secret(
            private_path,
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        )
        _public_path(private_path).write_text(keys.public_pem(key))
    loaded = keys.load_private_key(private_path)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError(f"{private_path} is not an Ed25519 key")
    return loaded


def load_public_key(private_path: Path) -> Ed25519PublicKey | None:
    """The public half, for verifiers who may not hold the private key. None if there is none."""
    public_path = _public_path(private_path)
    if public_path.exists():
        key = keys.load_public_key(public_path.read_text())
    elif private_path.exists():
        key = load_or_create_key(private_path).public_key()
    else:
        return None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{public_path} is not an Ed25519 public key")
    return key


def write_checkpoint(directory: Path, key: Ed25519PrivateKey, seq: int, digest: str) -> Checkpoint:
    """Sign the head ``(seq, digest)`` and write it as a new file in ``directory``."""
    at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    unsigned = Checkpoint(seq=seq, digest=digest, at=at, key_id="", signature="")
    signature = base64.b64encode(key.sign(unsigned.signed_part())).decode()
    checkpoint = Checkpoint(seq, digest, at, keys.key_id(keys.public_pem(key)), signature)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"checkpoint-{seq:012d}-{at.replace(':', '')}.json"
    body = {"seq": seq, "digest": digest, "at": at, "key_id": checkpoint.key_id, "signature": signature}
    path.write_text(json.dumps(body, indent=2) + "\n")
    return Checkpoint(**{**body, "path": path})


def read_checkpoints(directory: Path) -> list[Checkpoint]:
    """Every checkpoint file in ``directory``, oldest head first. Unreadable files raise ``ValueError``."""
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.glob("checkpoint-*.json")):
        try:
            body = json.loads(path.read_text())
            found.append(Checkpoint(int(body["seq"]), str(body["digest"]), str(body["at"]), str(body["key_id"]), str(body["signature"]), path))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"checkpoint {path.name} is unreadable: {exc}") from exc
    return sorted(found, key=lambda c: c.seq)


def signature_valid(checkpoint: Checkpoint, public_key: Ed25519PublicKey) -> bool:
    try:
        public_key.verify(base64.b64decode(checkpoint.signature), checkpoint.signed_part())
    except (InvalidSignature, ValueError):
        return False
    return True
