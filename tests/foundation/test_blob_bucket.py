"""Files shared by processes on different hosts: with `LIENTHONG_BLOB_URL` the blobs live in an
S3-compatible bucket (here moto's S3 server, a real HTTP server in its own process) and each host's
data dir only caches them. A file uploaded on one host is served on another; a blob altered in
the bucket is refused, not served."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from services.blobs import BlobStore, BucketBlobStore
from services.errors import NotFound
from tests.helpers import free_port, sign_in
from tests.incoming.conftest import register


@pytest.fixture(scope="module")
def bucket_url():  # type: ignore[no-untyped-def]
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except httpx.TransportError:
            assert server.poll() is None and time.monotonic() < deadline, "the S3 server did not start"
            time.sleep(0.1)
    yield f"s3://lienthong-files/blobs?endpoint=http://127.0.0.1:{port}&region=ap-southeast-1"
    server.kill()
    server.wait()


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "lienthong-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "lienthong-test-secret")


def _host(url: str, root: Path) -> BucketBlobStore:
    store = BucketBlobStore(url, root)
    try:
        store.client.create_bucket(Bucket=store.bucket, CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"})
    except store.client.exceptions.BucketAlreadyOwnedByYou:
        pass
    return store


def test_a_blob_stored_on_one_host_is_read_on_another_and_checked_against_its_hash(bucket_url, tmp_path) -> None:
    first, second = _host(bucket_url, tmp_path / "host-a"), _host(bucket_url, tmp_path / "host-b")
    data = b"%PDF-1.7 " + bytes(range(256)) * 40
    digest = first.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert first.put(data) == digest  # idempotent
    assert not second._local(digest).exists() and second.exists(digest)
    assert second.get(digest) == data
    assert second.path(digest).read_bytes() == data  # now cached on the second host too
    listed = first.client.list_objects_v2(Bucket="lienthong-files")["Contents"]
    assert [o["Key"] for o in listed if o["Key"].endswith(digest)] == [f"blobs/{digest}"]

    # Altered in the bucket: a host without a cached copy refuses it and caches nothing.
    forged = b"%PDF-1.7 something else entirely"
    first.client.put_object(Bucket="lienthong-files", Key=f"blobs/{digest}", Body=forged)
    third = _host(bucket_url, tmp_path / "host-c")
    with pytest.raises(NotFound):
        third.get(digest)
    assert not third._local(digest).exists()
    with pytest.raises(NotFound):
        third.get("0" * 64)  # never stored
    with pytest.raises(NotFound):
        third.get("../../etc/passwd")


async def test_a_document_registered_on_one_host_is_served_with_its_page_images_on_another(
    bucket_url, demo_db_sqlite, settings, tmp_path
) -> None:
    from web.app import create_app
    from web.temporal import TemporalHandle

    _host(bucket_url, tmp_path / "make-bucket")
    settings.blob_url = bucket_url
    doc = await register(demo_db_sqlite, settings)  # stored through host A's data dir
    assert isinstance(BlobStore.for_settings(settings), BucketBlobStore)

    other = settings.model_copy(update={"data_dir": tmp_path / "host-b"})
    other.data_dir.mkdir()
    app = create_app(settings=other, database=demo_db_sqlite, temporal=TemporalHandle(other))
    transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers={"accept": "text/html"}) as web:
        await sign_in(web, "mai.tran")
        pdf = await web.get(f"/incoming/{doc.id}/files/1")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        image = await web.get(f"/incoming/{doc.id}/files/1/pages/1.png")
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    assert list((other.data_dir / "blobs").rglob("*"))  # host B cached what it served


def test_a_deleted_blob_leaves_the_bucket_and_the_deleting_hosts_cache(bucket_url, tmp_path) -> None:
    """A register print replaced by a newer one gives up its file (services/documents/register_prints)."""
    first, second = _host(bucket_url, tmp_path / "host-a"), _host(bucket_url, tmp_path / "host-b")
    digest = first.put(b"%PDF-1.7 an old print")
    assert second.exists(digest)
    first.delete(digest)
    assert not first._local(digest).exists() and not first.exists(digest) and not second.exists(digest)
    with pytest.raises(NotFound):
        second.get(digest)
    first.delete(digest)  # deleting again is harmless
