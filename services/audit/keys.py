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


def load_or_create_system_key(data_dir: Path) -> Ed25519PrivateKey:
    """Load the checkpoint key, creating it (mode 0600) on first use."""
    path = data_dir / "keys" / "audit-checkpoint-ed25519.pem"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.touch(mode=0o600)
        path.write_bytes(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def known_public_keys(data_dir: Path) -> dict[str, Ed25519PublicKey]:
    """Public keys a verifier trusts: the current system key and any retired ones kept beside it."""
    keys: dict[str, Ed25519PublicKey] = {}
    public = load_or_create_system_key(data_dir).public_key()
    keys[key_id(public)] = public
    for path in sorted((data_dir / "keys").glob("audit-retired-*.pub.pem")):
        retired = load_public_key_pem(path.read_text())
        keys[key_id(retired)] = retired
    return keys
