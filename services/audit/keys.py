"""The system key that signs audit checkpoints (Ed25519, kept in the data dir)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_key_pem(pem: str) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


class CheckpointKeyMissing(Exception):
    """The checkpoint key is gone while checkpoints signed with it exist (a restore without the
    data dir's `keys/`): a new key made silently would let anyone with write access to the data
    dir re-sign the trail, so nothing is signed until an operator decides."""


def key_path(data_dir: Path) -> Path:
    return data_dir / "keys" / "audit-checkpoint-ed25519.pem"


def create_system_key(data_dir: Path) -> Ed25519PrivateKey:
    """Make the checkpoint key (mode 0600); refuses to replace one."""
    path = key_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with path.open("xb") as handle:  # "x": never over an existing key
        path.chmod(0o600)
        handle.write(pem)
    return key


def load_system_key(data_dir: Path) -> Ed25519PrivateKey | None:
    path = key_path(data_dir)
    if not path.exists():
        return None
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def signing_key(data_dir: Path, *, first_checkpoint: bool) -> Ed25519PrivateKey:
    """The key to sign a checkpoint with: made on the very first checkpoint of an installation,
    afterwards only loaded (CheckpointKeyMissing when it is gone)."""
    key = load_system_key(data_dir)
    if key is not None:
        return key
    if first_checkpoint:
        return create_system_key(data_dir)
    raise CheckpointKeyMissing(
        f"The audit checkpoint key {key_path(data_dir)} is missing while signed checkpoints exist: restore the data "
        "directory's keys/ from the backup, or start a new key with `lienthong audit new-key` (see docs/operations.md)."
    )


def known_public_keys(data_dir: Path) -> dict[str, Ed25519PublicKey]:
    """Public keys a verifier trusts: the current system key (if there is one) and any retired
    ones kept beside it. A missing key is not made here: checkpoints it signed show as signed by
    an unknown key."""
    keys: dict[str, Ed25519PublicKey] = {}
    current = load_system_key(data_dir)
    if current is not None:
        keys[key_id(current.public_key())] = current.public_key()
    for path in sorted((data_dir / "keys").glob("audit-retired-*.pub.pem")):
        retired = load_public_key_pem(path.read_text())
        keys[key_id(retired)] = retired
    return keys
