"""Pure functions of the audit chain: canonical encoding, entry hashes, Merkle roots, verification.

Kept free of database code so that an exported trail verifies offline with the same logic.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import import_module
from typing import Any

GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor_name",
    "organization_id",
    "action",
    "object_type",
    "object_id",
    "details",
    "ip",
)


def canonical_time(value: datetime) -> str:
    """UTC, microseconds always present: the same text whichever database stored it."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_entry(entry: Mapping[str, Any], prev_hash: str) -> bytes:
    """The bytes an entry's hash covers: canonical JSON of its fields and the previous hash.

    Control characters are escaped, so these bytes never contain a newline.
    """
    payload = {name: entry[name] for name in HASHED_FIELDS}
    if isinstance(payload["at"], datetime):
        payload["at"] = canonical_time(payload["at"])
    payload["prev_hash"] = prev_hash
    return canonical_json(payload).encode("utf-8")


def entry_hash(entry: Mapping[str, Any], prev_hash: str) -> str:
    """SHA-256 over the canonical encoding of the entry's fields and the previous hash."""
    return hashlib.sha256(canonical_entry(entry, prev_hash)).hexdigest()


def disagreeing_field(canonical: bytes, entry: Mapping[str, Any]) -> str | None:
    """The first stored column that says something else than the hashed bytes (None: all agree)."""
    try:
        hashed = json.loads(canonical)
    except (TypeError, ValueError):
        return "canonical"
    if not isinstance(hashed, dict) or set(hashed) != {*HASHED_FIELDS, "prev_hash"}:
        return "canonical"
    expected = canonical_entry(entry, entry["prev_hash"])
    if expected == canonical:
        return None
    ours = json.loads(expected)
    return next((name for name in (*HASHED_FIELDS, "prev_hash") if ours[name] != hashed[name]), "canonical")


# Merkle leaves and nodes are 33 and 65 bytes: there the per-call cost dominates, and the
# standard library's own SHA-256 has less of it than OpenSSL 3.0's (about 0.45 against 1.1 µs
# here). Same function, same digests; OpenSSL's when the builtin module is not there.
try:
    _small_sha256 = import_module("_sha256").sha256
except (ImportError, AttributeError):  # pragma: no cover - other Python builds
    _small_sha256 = hashlib.sha256


# A checkpoint's tree, recorded with it (`audit_checkpoints.tree`) and, from tree 2 on, signed:
#   1: binary RFC 6962 tree whose leaves hash the entry hashes again (checkpoints before 2026-12-04);
#   2: 256-ary tree whose leaves are the entry hashes themselves: a node hashes 0x01 and up to
#      256 children. Entry hashes are SHA-256 of canonical JSON, which starts with "{", so a
#      node's bytes can never be an entry's; and a checkpoint fixes its number of leaves. It
#      costs one SHA-256 of 8 KB per 256 entries instead of two small ones per entry, which
#      were most of `audit verify`'s time beyond hashing the entries.
BINARY_TREE, WIDE_TREE = 1, 2
CHECKPOINT_TREE = WIDE_TREE  # the tree new checkpoints sign
WIDTH = 256


def merkle_root(leaf_hashes: Iterable[str], *, tree: int) -> str:
    """The Merkle root of a checkpoint's entry hashes (hex), in the given tree format."""
    if tree == BINARY_TREE:
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
    if tree != WIDE_TREE:
        raise ValueError(f"unknown checkpoint tree {tree}")
    level = [bytes.fromhex(h) for h in leaf_hashes]
    if not level:
        return hashlib.sha256(b"").hexdigest()
    while True:  # at least one node above the leaves, so one entry's root is not its hash
        level = [hashlib.sha256(b"\x01" + b"".join(level[i : i + WIDTH])).digest() for i in range(0, len(level), WIDTH)]
        if len(level) == 1:
            return level[0].hex()


def checkpoint_message(*, first_seq: int, last_seq: int, merkle_root: str, created_at: str, tree: int) -> bytes:
    """The bytes a checkpoint signature covers (the tree too, from tree 2 on: no downgrade)."""
    fields: dict[str, Any] = {"first_seq": first_seq, "last_seq": last_seq, "merkle_root": merkle_root, "created_at": created_at}
    if tree != BINARY_TREE:
        fields["tree"] = tree
    return canonical_json(fields).encode("utf-8")


@dataclass
class VerifyResult:
    ok: bool = True
    first_bad_seq: int | None = None
    problems: list[str] = field(default_factory=list)
    entries_checked: int = 0
    checkpoints_checked: int = 0
    entries_rechecked: int = 0  # entries the batch checks could not vouch for, re-read one by one

    def fail(self, seq: int | None, problem: str) -> None:
        self.ok = False
        self.problems.append(problem)
        if seq is not None and (self.first_bad_seq is None or seq < self.first_bad_seq):
            self.first_bad_seq = seq


class _BinaryAccumulator:
    """The root of `merkle_root(tree=1)` computed leaf by leaf in O(log n) memory.

    The level-by-level tree with an odd node promoted is the RFC 6962 tree, which is also a
    list of perfect subtrees of decreasing height folded from the right; leaves are added in
    perfect blocks so that most hashing happens in list comprehensions.
    """

    __slots__ = ("count", "stack")

    def __init__(self) -> None:
        self.count = 0
        self.stack: list[tuple[int, bytes]] = []  # (height, subtree root), heights decreasing

    def add(self, entry_digests: Sequence[bytes]) -> None:
        """Add leaves given as the raw 32-byte entry hashes, in order."""
        sha256 = _small_sha256
        done, total = 0, len(entry_digests)
        while done < total:
            size = 1 << ((total - done).bit_length() - 1)
            while self.count % size:
                size >>= 1
            level = [sha256(b"\x00" + d).digest() for d in entry_digests[done : done + size]]
            height = 0
            while len(level) > 1:
                level = [sha256(b"\x01" + a + b).digest() for a, b in zip(level[::2], level[1::2])]
                height += 1
            node = level[0]
            while self.stack and self.stack[-1][0] == height:
                node = sha256(b"\x01" + self.stack.pop()[1] + node).digest()
                height += 1
            self.stack.append((height, node))
            done += size
            self.count += size

    def root(self) -> str:
        if not self.stack:
            return hashlib.sha256(b"").hexdigest()
        node = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            node = _small_sha256(b"\x01" + left + node).digest()
        return node.hex()


class _WideAccumulator:
    """The root of `merkle_root(tree=2)` computed leaf by leaf: per level, the nodes not yet
    grouped (fewer than 256 once `add` returns) and how many that level has had in all."""

    __slots__ = ("pending", "totals")

    def __init__(self) -> None:
        self.pending: list[list[bytes]] = [[]]
        self.totals = [0]

    @property
    def count(self) -> int:
        return self.totals[0]

    def add(self, entry_digests: Sequence[bytes]) -> None:
        """Add leaves given as the raw 32-byte entry hashes, in order."""
        sha256, level = hashlib.sha256, 0
        self.pending[0].extend(entry_digests)
        self.totals[0] += len(entry_digests)
        while len(nodes := self.pending[level]) >= WIDTH:
            full = len(nodes) - len(nodes) % WIDTH
            parents = [sha256(b"\x01" + b"".join(nodes[i : i + WIDTH])).digest() for i in range(0, full, WIDTH)]
            del nodes[:full]
            if level + 1 == len(self.pending):
                self.pending.append([])
                self.totals.append(0)
            self.pending[level + 1].extend(parents)
            self.totals[level + 1] += len(parents)
            level += 1

    def root(self) -> str:
        if not self.totals[0]:
            return hashlib.sha256(b"").hexdigest()
        carry: list[bytes] = []  # the last group of the level below, hashed: this level's last node
        for level, nodes in enumerate(self.pending):
            if level and self.totals[level] + len(carry) == 1:
                return (nodes + carry)[0].hex()
            group = nodes + carry
            carry = [hashlib.sha256(b"\x01" + b"".join(group)).digest()] if group else []
        return carry[0].hex()


def merkle_accumulator(tree: int) -> _BinaryAccumulator | _WideAccumulator:
    """An empty accumulator: `add` entry digests in order, then `root()` equals `merkle_root`."""
    return _BinaryAccumulator() if tree == BINARY_TREE else _WideAccumulator()


class _CheckpointCheck:
    """One checkpoint whose signature is good, waiting for the leaves of its range."""

    __slots__ = ("first", "last", "merkle_root", "accumulator", "missing", "broken")

    def __init__(self, first: int, last: int, merkle_root: str, tree: int) -> None:
        self.first, self.last, self.merkle_root = first, last, merkle_root
        self.accumulator = merkle_accumulator(tree)
        self.missing: int | None = None
        self.broken = False

    def add(self, first_seq: int, entry_digests: Sequence[bytes]) -> None:
        """Leaves for the consecutive entries first_seq, first_seq + 1, ... (any overlap with the range)."""
        lo, hi = max(first_seq, self.first), min(first_seq + len(entry_digests) - 1, self.last)
        if lo > hi or self.missing is not None or self.broken:
            return
        expected = self.first + self.accumulator.count
        if lo > expected:
            self.missing = expected
            return
        if lo < expected:  # the same seq twice (only possible in an export)
            self.broken = True
            return
        self.accumulator.add(entry_digests[lo - first_seq : hi - first_seq + 1])


class ChainVerifier:
    """Recomputes the chain and every checkpoint from entries streamed in seq order.

    Memory stays bounded whatever the number of entries: nothing is kept per entry, and each
    checkpoint keeps only O(log n) Merkle subtree roots. Feed entries with `add` (a mapping
    with the fields of `entry_hash` plus prev_hash and entry_hash), with `add_stored` (the
    stored canonical bytes), or a whole batch of canonical bytes with `add_canonical_batch`,
    then call `finish`.
    """

    def __init__(self, checkpoints: Iterable[Mapping[str, Any]], *, public_keys: Mapping[str, Any]) -> None:
        from cryptography.exceptions import InvalidSignature

        self.result = VerifyResult()
        self._prev_hash, self._expected_seq = GENESIS_HASH, 1
        self._checkpoint_problems: list[tuple[int | None, str]] = []
        self._open: list[_CheckpointCheck] = []
        for checkpoint in checkpoints:
            self.result.checkpoints_checked += 1
            first, last = int(checkpoint["first_seq"]), int(checkpoint["last_seq"])
            key = public_keys.get(checkpoint["key_id"])
            tree = checkpoint.get("tree", BINARY_TREE)  # exports made before tree 2 do not say
            if tree not in (BINARY_TREE, WIDE_TREE) or isinstance(tree, bool):
                self._checkpoint_problems.append((first, f"checkpoint {first}..{last} uses an unknown tree format"))
                continue
            message = checkpoint_message(
                first_seq=first,
                last_seq=last,
                merkle_root=checkpoint["merkle_root"],
                created_at=checkpoint["created_at"],
                tree=tree,
            )
            if key is None:
                self._checkpoint_problems.append((None, f"checkpoint {first}..{last} is signed by an unknown key"))
                continue
            try:
                key.verify(bytes.fromhex(checkpoint["signature"]), message)
            except (InvalidSignature, ValueError):
                self._checkpoint_problems.append((first, f"checkpoint {first}..{last} has a bad signature"))
                continue
            self._open.append(_CheckpointCheck(first, last, checkpoint["merkle_root"], tree))
        self._checks = list(self._open)

    @property
    def expected_seq(self) -> int:
        return self._expected_seq

    @property
    def prev_hash(self) -> str:
        return self._prev_hash

    def add(self, entry: Mapping[str, Any]) -> None:
        """Check one entry with the reference encoding (`entry_hash`), as in an export."""
        self._add_one(int(entry["seq"]), entry["prev_hash"], entry["entry_hash"], entry_hash(entry, entry["prev_hash"]))

    def add_stored(self, *, seq: int, canonical: bytes | None, prev_hash: str, entry_hash: str) -> None:
        """Check one entry by its stored canonical bytes, naming what is wrong with it."""
        if canonical is None:
            self.result.fail(seq, f"entry {seq} has lost the bytes its hash was made over")
            recomputed = None
        else:
            recomputed = hashlib.sha256(canonical).hexdigest()
        self._add_one(seq, prev_hash, entry_hash, recomputed)

    def _add_one(self, seq: int, prev_hash: str, stored: str, recomputed: str | None) -> None:
        result = self.result
        result.entries_checked += 1
        expected_seq = self._expected_seq
        if seq != expected_seq:
            if seq > expected_seq:
                result.fail(expected_seq, f"entries {expected_seq}..{seq - 1} are missing")
            else:
                result.fail(seq, f"entry {seq} is out of order")
        if prev_hash != self._prev_hash:
            result.fail(seq, f"entry {seq} does not link to the entry before it")
        if recomputed is not None and recomputed != stored:
            result.fail(seq, f"entry {seq} was changed after it was written")
        if self._open:
            try:
                leaf = bytes.fromhex(stored)
            except (TypeError, ValueError):
                leaf = stored.encode("utf-8", "surrogatepass") if isinstance(stored, str) else b""
            self._add_leaves(seq, [leaf])
        self._prev_hash, self._expected_seq = stored, seq + 1

    def add_canonical_batch(self, *, first_seq: int, last_seq: int, count: int, canonical: bytes, entry_hashes: str) -> bool:
        """Check consecutive entries given as their canonical bytes joined by newlines.

        `entry_hashes` are the stored hex hashes concatenated in the same order. One SHA-256 per
        entry. Each entry's link and sequence number are read from the tail of its bytes:
        canonical JSON sorts its keys, so an entry's bytes end with
        `"prev_hash":"<previous hash>","seq":<seq>}`. Returns False, having changed nothing,
        unless every entry is intact, in order and linked; the caller then feeds that batch
        through `add_stored` to name what is wrong. Canonical bytes never contain a raw newline.
        """
        if first_seq != self._expected_seq or last_seq - first_seq + 1 != count or len(entry_hashes) != 64 * count:
            return False
        lines = canonical.split(b"\n")
        if len(lines) != count:
            return False
        prev_hashes = (self._prev_hash + entry_hashes[:-64]).encode("ascii", "replace")
        tails = map(
            b'"prev_hash":"%s","seq":%d}'.__mod__,
            zip([prev_hashes[i : i + 64] for i in range(0, 64 * count, 64)], range(first_seq, last_seq + 1)),
        )
        if not all(map(bytes.endswith, lines, tails)):
            return False
        sha256 = hashlib.sha256
        digests = [sha256(line).digest() for line in lines]
        if b"".join(digests).hex() != entry_hashes:
            return False
        self.result.entries_checked += count
        if self._open:
            self._add_leaves(first_seq, digests)
        self._prev_hash, self._expected_seq = entry_hashes[-64:], last_seq + 1
        return True

    def _add_leaves(self, first_seq: int, digests: Sequence[bytes]) -> None:
        last_seq = first_seq + len(digests) - 1
        for check in self._open:
            if check.first <= last_seq:
                check.add(first_seq, digests)
        self._open = [c for c in self._open if c.last > last_seq]

    def finish(self, head: Mapping[str, Any] | None) -> VerifyResult:
        """Compare with the recorded head and settle every checkpoint."""
        result = self.result
        last_seq, prev_hash = self._expected_seq - 1, self._prev_hash
        if head is not None and (int(head["seq"]) != last_seq or head["entry_hash"] != prev_hash):
            if int(head["seq"]) > last_seq:
                result.fail(last_seq + 1, f"entries {last_seq + 1}..{head['seq']} are missing at the end")
            else:
                result.fail(int(head["seq"]) + 1, "entries were added after the recorded head of the chain")
        for seq, problem in self._checkpoint_problems:
            result.fail(seq, problem)
        for check in self._checks:
            span = f"checkpoint {check.first}..{check.last}"
            covered = check.first + check.accumulator.count - 1
            if check.missing is None and not check.broken and covered < check.last:
                check.missing = covered + 1
            if check.missing is not None:
                result.fail(check.missing, f"{span} covers entries that are missing")
            elif check.broken or check.accumulator.root() != check.merkle_root:
                result.fail(check.first, f"{span} no longer matches its entries")
        return result


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
    verifier = ChainVerifier(checkpoints, public_keys=public_keys)
    for entry in entries:
        verifier.add(entry)
    return verifier.finish(head)
