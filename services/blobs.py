"""The one content-addressed blob store: files are kept by their SHA-256 under the data dir.

Workflow payloads and database rows carry the hash, never the bytes.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from services.errors import NotFound
from services.i18n import _l


def write_atomic(target: Path, data: bytes) -> None:
    """Write then rename, so a reader never sees a half-written file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> BlobStore:
        return cls(data_dir / "blobs")

    def path(self, digest: str) -> Path:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise NotFound(_l("blob not found"))
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        """Store bytes (idempotent) and return their SHA-256 hex digest."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if not target.exists():
            write_atomic(target, data)
        return digest

    def get(self, digest: str) -> bytes:
        path = self.path(digest)
        if not path.exists():
            raise NotFound(_l("blob not found"))
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise NotFound(_l("stored blob does not match its hash"))
        return data

    def exists(self, digest: str) -> bool:
        return self.path(digest).exists()
