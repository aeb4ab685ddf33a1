"""The one content-addressed blob store: files are kept by their SHA-256 under the data dir.

Workflow payloads and database rows carry the hash, never the bytes. With `LIENTHONG_BLOB_URL`
(`s3://bucket[/prefix]?endpoint=…&region=…`, credentials from the usual `AWS_*` variables) the
blobs live in an S3-compatible bucket that web and worker processes on every host share; the
data dir then only caches them. A blob never changes (its name is its hash), so a cached copy is
never stale, and every read is checked against the hash whichever way it came.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from services.errors import NotFound
from services.i18n import _l

if TYPE_CHECKING:
    from services.config import Settings


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

    @staticmethod
    def for_settings(settings: Settings) -> BlobStore:
        """The store the settings name: the shared bucket, or files under the data dir."""
        if settings.blob_url:
            return _bucket_store(settings.blob_url, settings.data_dir / "blobs")
        return BlobStore.for_data_dir(settings.data_dir)

    def _local(self, digest: str) -> Path:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise NotFound(_l("blob not found"))
        return self.root / digest[:2] / digest[2:4] / digest

    def path(self, digest: str) -> Path:
        """A file holding the blob (for tools that read files)."""
        return self._local(digest)

    def put(self, data: bytes) -> str:
        """Store bytes (idempotent) and return their SHA-256 hex digest."""
        digest = hashlib.sha256(data).hexdigest()
        target = self._local(digest)
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
        return self._local(digest).exists()

    def delete(self, digest: str) -> None:
        """Remove a blob no row holds any more (the caller checked, in a committed transaction)."""
        self._local(digest).unlink(missing_ok=True)


class BucketBlobStore(BlobStore):
    """Blobs in an S3-compatible bucket (object key: prefix + digest); `root` caches them."""

    def __init__(self, url: str, cache_root: Path) -> None:
        super().__init__(cache_root)
        import boto3  # only installations that configure a bucket need it loaded
        from botocore.config import Config

        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError("LIENTHONG_BLOB_URL must look like s3://bucket[/prefix]?endpoint=…&region=…")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.bucket, self.prefix = parts.netloc, parts.path.strip("/")
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=query.get("endpoint"),
            region_name=query.get("region", "us-east-1"),
            config=Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=60),
        )

    def _key(self, digest: str) -> str:
        self._local(digest)  # checks the digest's form
        return f"{self.prefix}/{digest}" if self.prefix else digest

    def put(self, data: bytes) -> str:
        digest = super().put(data)  # cached here first: this host reads it back without a download
        if not self._in_bucket(digest):
            self.client.put_object(Bucket=self.bucket, Key=self._key(digest), Body=data)
        return digest

    def _in_bucket(self, digest: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(digest))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def path(self, digest: str) -> Path:
        """The cached file, downloaded first when this host has not seen the blob."""
        from botocore.exceptions import ClientError

        target = self._local(digest)
        if target.exists():
            return target
        try:
            data = self.client.get_object(Bucket=self.bucket, Key=self._key(digest))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise NotFound(_l("blob not found")) from exc
            raise
        if hashlib.sha256(data).hexdigest() != digest:
            raise NotFound(_l("stored blob does not match its hash"))
        write_atomic(target, data)
        return target

    def exists(self, digest: str) -> bool:
        return self._local(digest).exists() or self._in_bucket(digest)

    def delete(self, digest: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(digest))
        super().delete(digest)  # and this host's cached copy


@cache
def _bucket_store(url: str, cache_root: Path) -> BucketBlobStore:
    """One client per bucket and process (creating a boto3 client costs tens of milliseconds)."""
    return BucketBlobStore(url, cache_root)
