"""Temporal holds only ciphertext: workflow histories read without the key show no title, name or
error text; the app's converter reads them back; an old key still opens what it sealed."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from google.protobuf.message import Message
from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from services.codec import ENCODING, KEY_ID, EncryptionCodec, KeyRingError, encrypted_converter, new_key_entry, parse_key_ring
from services.incoming import service as incoming
from tests.helpers import TEST_PAYLOAD_KEYS, app_client, end_earlier_workflows, send, sign_in
from tests.incoming.conftest import direct_to, principal, register
from workflows.context import ActivityContext
from workflows.incoming.workflows import IncomingWorkflow
from workflows.relay import OutboxRelay
from workflows.worker import build_worker

TITLE = "Kế hoạch tuyên truyền Ngày hội Phụ nữ xã Thạnh Phú Đông năm 2026"
NAME = "Lê Thị Thu"  # thu.le, the lead handler of the demo directory
PIN = "246813"


@activity.defn(name="test_encryption_echo")
async def echo(text: str) -> str:
    return text


@activity.defn(name="test_encryption_refuse")
async def refuse(text: str) -> str:
    raise ApplicationError(f"Không ký được cho {text}", non_retryable=True)


@workflow.defn(sandboxed=False)
class EchoWorkflow:
    """Carries the sensitive text the way a careless workflow would: as input, activity input and
    result, an error message and the workflow's result."""

    @workflow.run
    async def run(self, text: str) -> str:
        echoed = await workflow.execute_activity(echo, text, start_to_close_timeout=timedelta(seconds=30))
        try:
            await workflow.execute_activity(
                refuse, text, start_to_close_timeout=timedelta(seconds=30), retry_policy=RetryPolicy(maximum_attempts=1)
            )
        except ActivityError:
            pass
        return echoed


def _fields(message: Message, path: str = "") -> Iterator[tuple[str, object]]:
    """Every scalar, string and bytes value of a protobuf message, with its path."""
    for field, value in message.ListFields():
        here = f"{path}/{field.name}"
        if field.type != field.TYPE_MESSAGE:
            yield from ((here, v) for v in (value if field.is_repeated else [value]))
        elif field.message_type.GetOptions().map_entry:
            for key, item in value.items():
                yield f"{here}[{key}]", key
                if isinstance(item, Message):
                    yield from _fields(item, f"{here}[{key}]")
                else:
                    yield f"{here}[{key}]", item
        elif field.is_repeated:
            for item in value:
                yield from _fields(item, here)
        else:
            yield from _fields(value, here)


def _payloads(message: Message, path: str = "") -> Iterator[tuple[str, Payload]]:
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        here = f"{path}/{field.name}"
        items = value.values() if field.message_type.GetOptions().map_entry else (value if field.is_repeated else [value])
        for item in items:
            if isinstance(item, Payload):
                yield here, item
            elif isinstance(item, Message):
                yield from _payloads(item, here)


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


async def _raw_history(raw: Client, workflow_id: str):  # type: ignore[no-untyped-def]
    """The history as the Temporal server (and its UI, database and backups) holds it."""
    return await raw.get_workflow_handle(workflow_id).fetch_history()


def _assert_nothing_in_clear(history, secrets: list[str]) -> None:  # type: ignore[no-untyped-def]
    for event in history.events:
        for path, value in _fields(event):
            text = _text(value)
            for secret in secrets:
                assert secret not in text, f"{secret!r} in clear at {event.event_type}{path}"
    # Every payload of ours is sealed; what stays clear is the SDK's own bookkeeping.
    clear = {path for event in history.events for path, p in _payloads(event) if p.metadata.get("encoding") != ENCODING}
    assert clear <= {
        "/marker_recorded_event_attributes/details/payloads",
        "/upsert_workflow_search_attributes_event_attributes/search_attributes/indexed_fields",
    }, clear


async def _decoded_texts(history, codec: EncryptionCodec) -> str:  # type: ignore[no-untyped-def]
    sealed = [p for event in history.events for _, p in _payloads(event) if p.metadata.get("encoding") == ENCODING]
    assert sealed
    return "\n".join(p.data.decode() for p in await codec.decode(sealed))


async def test_a_real_flow_leaves_no_clear_text_in_temporal(temporal_env, demo_db_sqlite, settings) -> None:
    db = demo_db_sqlite
    client = app_client(temporal_env.client)  # what the worker, relay and web use
    raw = temporal_env.client  # no key: what anyone reading Temporal sees
    await end_earlier_workflows(client, "incoming-")
    settings.task_queue = f"enc-{uuid.uuid4().hex[:8]}"
    relay = OutboxRelay(client, db, settings, poll=timedelta(milliseconds=200), reconcile_every=None)
    worker = build_worker(
        client, task_queue=settings.task_queue, context=ActivityContext(settings, db), workflows=[EchoWorkflow], activities=[echo, refuse]
    )
    relay_task = asyncio.create_task(relay.run())
    try:
        async with worker:
            with temporal_env.with_time_skipping_disabled():
                doc = await register(db, settings, notation="77/KH-UBND", subject=TITLE)
                await send(client, settings, "incoming", doc.id)
                handle = client.get_workflow_handle(f"incoming-{doc.id}")
                await direct_to(db, doc.id, lead="thu.le")
                await handle.signal(IncomingWorkflow.changed)
                lead = await principal(db, "thu.le")
                async with db.session() as session:
                    await incoming.complete(session, principal=lead, document_id=doc.id, result=f"{NAME} đã hoàn thành {TITLE}.")
                await handle.signal(IncomingWorkflow.changed)
                assert await handle.result() == "done"
                # A workflow that does put the title, the name and a PIN in its payloads.
                text = f"{TITLE} — {NAME} — PIN {PIN}"
                probe = await client.start_workflow(
                    EchoWorkflow.run, text, id=f"enc-probe-{uuid.uuid4().hex[:8]}", task_queue=settings.task_queue
                )
                assert await probe.result() == text  # the app's converter reads its own payloads
    finally:
        relay_task.cancel()
        await asyncio.gather(relay_task, return_exceptions=True)

    codec = EncryptionCodec(parse_key_ring(TEST_PAYLOAD_KEYS))
    flow = await _raw_history(raw, f"incoming-{doc.id}")
    _assert_nothing_in_clear(flow, [TITLE, NAME])
    decoded = await _decoded_texts(flow, codec)
    assert json.dumps({"document_id": doc.id}, separators=(",", ":")) in decoded

    echo_history = await _raw_history(raw, probe.id)
    _assert_nothing_in_clear(echo_history, [TITLE, NAME, PIN, "Không ký được"])
    failed = [e for e in echo_history.events if e.HasField("activity_task_failed_event_attributes")]
    assert failed and failed[0].activity_task_failed_event_attributes.failure.message == "Encoded failure"
    decoded = await _decoded_texts(echo_history, codec)
    assert TITLE in decoded and NAME in decoded and PIN in decoded and "Không ký được" in decoded
    # Read with the codec, the whole history comes back: input, activity results, the error text.
    assert await client.get_workflow_handle(probe.id).result() == text


async def test_keys_rotate_and_old_payloads_still_open(temporal_env, demo_db_sqlite, settings) -> None:
    old, new = TEST_PAYLOAD_KEYS, new_key_entry()

    def with_ring(ring: str) -> Client:
        return Client(**{**temporal_env.client.config(), "data_converter": encrypted_converter(parse_key_ring(ring))})

    before, rotated, new_only = with_ring(old), with_ring(f"{new},{old}"), with_ring(new)
    queue = f"enc-rot-{uuid.uuid4().hex[:8]}"
    async with build_worker(
        before, task_queue=queue, context=ActivityContext(settings, demo_db_sqlite), workflows=[EchoWorkflow], activities=[echo, refuse]
    ):
        with temporal_env.with_time_skipping_disabled():
            handle = await before.start_workflow(
                EchoWorkflow.run, f"trước khi đổi khóa: {NAME}", id=f"enc-rot-{uuid.uuid4().hex[:8]}", task_queue=queue
            )
            await handle.result()
    # After rotation the new key seals and the old one still opens the history it sealed.
    assert await rotated.get_workflow_handle(handle.id).result() == f"trước khi đổi khóa: {NAME}"
    sealed = await rotated.data_converter.encode(["sau khi đổi khóa"])
    assert sealed[0].metadata[KEY_ID].decode() == new.split(":")[0]
    with pytest.raises(KeyRingError):
        await before.data_converter.decode(sealed)
    # A ring that dropped the old key says so instead of returning garbage.
    with pytest.raises(KeyRingError, match="no longer holds"):
        await new_only.get_workflow_handle(handle.id).result()


async def test_codec_refuses_garbage_and_lets_clear_payloads_through() -> None:
    codec = EncryptionCodec(parse_key_ring(TEST_PAYLOAD_KEYS))
    clear = Payload(metadata={"encoding": b"json/plain"}, data=b'{"document_id":1}')
    assert await codec.decode([clear]) == [clear]  # histories from before encryption
    sealed = (await codec.encode([clear]))[0]
    assert clear.data not in sealed.data
    tampered = Payload()
    tampered.CopyFrom(sealed)
    tampered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(KeyRingError, match="does not authenticate"):
        await codec.decode([tampered])
    relabelled = Payload()
    relabelled.CopyFrom(sealed)
    relabelled.metadata[KEY_ID] = b"other"
    with pytest.raises(KeyRingError, match="no longer holds"):
        await codec.decode([relabelled])
    for bad in ("", "nokey", "k1:not-base64!", "k1:" + base64.b64encode(b"short").decode(), f"{TEST_PAYLOAD_KEYS},{TEST_PAYLOAD_KEYS}"):
        with pytest.raises(KeyRingError):
            parse_key_ring(bad)


def test_dev_generates_a_private_key_ring_once(tmp_path) -> None:
    from services.config import Settings

    settings = Settings(data_dir=tmp_path, secret_key="s")
    ring = settings.ensure_payload_keys()
    path = tmp_path / "payload_keys"
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(parse_key_ring(ring)) == 1
    assert Settings(data_dir=tmp_path, secret_key="s").ensure_payload_keys() == ring
    assert ring not in repr(settings)  # a SecretStr: never printed with the settings
    with pytest.raises(RuntimeError, match="LIENTHONG_PAYLOAD_KEYS"):
        Settings(data_dir=tmp_path / "prod", secret_key="s", production=True).ensure_payload_keys()


def _json_payloads(*values: str) -> dict:
    return {
        "payloads": [
            {
                "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
                "data": base64.b64encode(json.dumps(v, ensure_ascii=False).encode()).decode(),
            }
            for v in values
        ]
    }


UI = "http://127.0.0.1:8233"


async def test_codec_endpoint_is_for_top_level_admins_only(demo_db_sqlite, client_for, settings) -> None:
    settings.temporal_ui_origins = [UI]
    headers = {"Origin": UI, "X-Namespace": "default"}
    body = _json_payloads(TITLE, NAME)

    anonymous = await client_for(demo_db_sqlite)
    response = await anonymous.post("/temporal-codec/decode", json=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == UI  # the UI can show why

    clerk = await client_for(demo_db_sqlite)
    await sign_in(clerk, "mai.tran")
    response = await clerk.post("/temporal-codec/encode", json=body, headers=headers)
    assert response.status_code == 403 and TITLE not in response.text

    # An admin of a district sees only its subtree: not the province's workflow data.
    root = await client_for(demo_db_sqlite)
    await sign_in(root, "quantri")
    from tests.foundation.test_access import _ids
    from tests.helpers import post_form

    orgs, users, _ = await _ids(demo_db_sqlite)
    await post_form(
        root,
        f"/admin/users/{users['chauthanh.vanthu']}/roles",
        {"role": "admin", "organization_id": str(orgs["hlhpn-chauthanh"])},
        page="/admin",
    )
    district = await client_for(demo_db_sqlite)
    await sign_in(district, "chauthanh.vanthu")
    assert (await district.post("/temporal-codec/decode", json=body, headers=headers)).status_code == 403

    # The top-level admin round-trips, with no CSRF token (the UI cannot know it).
    sealed = await root.post("/temporal-codec/encode", json=body, headers=headers)
    assert sealed.status_code == 200, sealed.text
    assert sealed.headers["access-control-allow-origin"] == UI
    assert sealed.headers["access-control-allow-credentials"] == "true"
    payloads = sealed.json()["payloads"]
    assert all(base64.b64decode(p["metadata"]["encoding"]) == ENCODING for p in payloads)
    assert TITLE.encode() not in b"".join(base64.b64decode(p["data"]) for p in payloads)
    opened = await root.post("/temporal-codec/decode", json=sealed.json(), headers=headers)
    assert opened.status_code == 200 and opened.json() == body
    # What the worker sealed opens too (one key ring for the app and its workers).
    worker_sealed = await encrypted_converter(parse_key_ring(TEST_PAYLOAD_KEYS)).encode([PIN])
    from google.protobuf import json_format
    from temporalio.api.common.v1 import Payloads

    opened = await root.post(
        "/temporal-codec/decode",
        content=json_format.MessageToJson(Payloads(payloads=worker_sealed)),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert base64.b64decode(opened.json()["payloads"][0]["data"]) == json.dumps(PIN).encode()

    # Bad input: a clear 422, nothing decoded.
    bad = await root.post("/temporal-codec/decode", content=b"not json", headers={**headers, "Content-Type": "application/json"})
    assert bad.status_code == 422 and "payloads" in bad.json()["message"]


async def test_codec_preflight_answers_only_listed_origins(demo_db_sqlite, client_for, settings) -> None:
    settings.temporal_ui_origins = [UI]
    client = await client_for(demo_db_sqlite)
    ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-namespace"}
    allowed = await client.options("/temporal-codec/decode", headers={"Origin": UI, **ask})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == UI
    assert allowed.headers["access-control-allow-credentials"] == "true"
    other = await client.options("/temporal-codec/decode", headers={"Origin": "https://evil.example", **ask})
    assert "access-control-allow-origin" not in other.headers
    # Nowhere else in the app does another origin get CORS headers.
    page = await client.get("/login", headers={"Origin": UI})
    assert "access-control-allow-origin" not in page.headers
