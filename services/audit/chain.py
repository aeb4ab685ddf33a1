"""Pure functions of the audit chain: canonical encoding, entry hashes, Merkle roots, verification.

Kept free of database code so that an exported trail verifies offline with the same logic.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
    "seq", "at", "actor_id", "actor_name", "organization_id", "action",
    "object_type", "object_id", "details", "ip",
)


def canonical_time(value: datetime) -> str:
    """UTC, microseconds always present: the same text whichever database stored it."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(entry: Mapping[str, Any], prev_hash: str) -> str:
    """SHA-256 over the canonical encoding of the entry's fields and the previous hash."""
    payload = {name: entry[name] for name in HASHED_FIELDS}
    if isinstance(payload["at"], datetime):
        payload["at"] = canonical_time(payload["at"])
    payload["prev_hash"] = prev_hash
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def merkle_root(leaf_hashes: Iterable[str]) -> str:
    """RFC 6962-style Merkle tree root (domain-separated leaves and nodes)."""
    level = [hashlib.sha256(b"\x00" + bytes.fromhex(h)).digest() for h in leaf_hashes]
    if not level:
        return hashlib.sha256(b"").hexdigest()
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level) - 1, 2):
            nxt.append(hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest())
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0].hex()


def checkpoint_message(*, first_seq: int, last_seq: int, merkle_root: str, created_at: str) -> bytes:
    """The bytes a checkpoint signature covers."""
    return canonical_json(
        {"first_seq": first_seq, "last_seq": last_seq, "merkle_root": merkle_root, "created_at": created_at}
    ).encode("utf-8")


@dataclass
class VerifyResult:
    ok: bool = True
    first_bad_seq: int | None = None
    problems: list[str] = field(default_factory=list)
    entries_checked: int = 0
    checkpoints_checked: int = 0

    def fail(self, seq: int | None, problem: str) -> None:
        self.ok = False
        self.problems.append(problem)
        if seq is not None and (self.first_bad_seq is None or seq < self.first_bad_seq):
            self.first_bad_seq = seq


def verify_chain(
    entries: Iterable[Mapping[str, Any]],
    checkpoints: Iterable[Mapping[str, Any]],
    *,
    public_keys: Mapping[str, Any],
    head: Mapping[str, Any] | None,
) -> VerifyResult:
    """Recompute the chain and every checkpoint.

    `entries` must be ordered by seq. `public_keys` maps key IDs to Ed25519 public keys
    (cryptography objects). `head` is the recorded last (seq, entry_hash), when known.
    """
    from cryptography.exceptions import InvalidSignature

    result = VerifyResult()
    hashes: dict[int, str] = {}
    prev_hash, expected_seq = GENESIS_HASH, 1
    for entry in entries:
        seq = int(entry["seq"])
        result.entries_checked += 1
        if seq != expected_seq:
            if seq > expected_seq:
                result.fail(expected_seq, f"entries {expected_seq}..{seq - 1} are missing")
            else:
                result.fail(seq, f"entry {seq} is out of order")
        if entry["prev_hash"] != prev_hash:
            result.fail(seq, f"entry {seq} does not link to the entry before it")
        recomputed = entry_hash(entry, entry["prev_hash"])
        if recomputed != entry["entry_hash"]:
            result.fail(seq, f"entry {seq} was changed after it was written")
        hashes[seq] = entry["entry_hash"]
        prev_hash, expected_seq = entry["entry_hash"], seq + 1

    last_seq = expected_seq - 1
    if head is not None and (int(head["seq"]) != last_seq or head["entry_hash"] != prev_hash):
        if int(head["seq"]) > last_seq:
            result.fail(last_seq + 1, f"entries {last_seq + 1}..{head['seq']} are missing at the end")
        else:
            result.fail(int(head["seq"]) + 1, "entries were added after the recorded head of the chain")

    for checkpoint in checkpoints:
        result.checkpoints_checked += 1
        first, last = int(checkpoint["first_seq"]), int(checkpoint["last_seq"])
        key = public_keys.get(checkpoint["key_id"])
        message = checkpoint_message(
            first_seq=first, last_seq=last, merkle_root=checkpoint["merkle_root"],
            created_at=checkpoint["created_at"],
        )
        if key is None:
            result.fail(None, f"checkpoint {first}..{last} is signed by an unknown key")
            continue
        try:
            key.verify(bytes.fromhex(checkpoint["signature"]), message)
        except (InvalidSignature, ValueError):
            result.fail(first, f"checkpoint {first}..{last} has a bad signature")
            continue
        leaves = [hashes.get(seq) for seq in range(first, last + 1)]
        if any(leaf is None for leaf in leaves):
            missing = next(seq for seq, leaf in zip(range(first, last + 1), leaves) if leaf is None)
            result.fail(missing, f"checkpoint {first}..{last} covers entries that are missing")
            continue
        if merkle_root(leaves) != checkpoint["merkle_root"]:  # type: ignore[arg-type]
            result.fail(first, f"checkpoint {first}..{last} no longer matches its entries")
    return result
