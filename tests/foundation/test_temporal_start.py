"""`lienthong dev` starts its Temporal dev server even when the first try stops at start (a port
taken between the server's pick and its bind), and says why when it cannot."""

from __future__ import annotations

import socket

import pytest

from tests.helpers import free_port
from web import runtime


def _hold(port: int) -> socket.socket:
    holder = socket.socket()
    holder.bind(("127.0.0.1", port))
    holder.listen()
    return holder


async def test_a_server_that_stops_at_start_is_started_again(tmp_path, monkeypatch) -> None:
    port, ui_port = free_port(), free_port()
    holder = _hold(ui_port)  # the first try cannot bind its UI port and exits
    spawned: list[int] = []
    spawn = runtime.spawn_temporal_dev_server

    def counting_spawn(**kwargs):  # type: ignore[no-untyped-def]
        spawned.append(1)
        if len(spawned) == 2:
            holder.close()  # the port is free again for the second try
        return spawn(**kwargs)

    monkeypatch.setattr(runtime, "spawn_temporal_dev_server", counting_spawn)
    # Were the exit unnoticed, the first try would be waited on for an hour.
    monkeypatch.setattr(runtime, "TEMPORAL_START_SECONDS", 3600.0)
    server = await runtime.start_temporal_dev_server(data_dir=tmp_path, port=port, ui_port=ui_port)
    try:
        assert len(spawned) == 2
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        assert "address already in use" in (tmp_path / "temporal.log").read_text()
    finally:
        runtime._stop(server)


async def test_a_server_that_cannot_start_is_reported_with_its_reason(tmp_path, monkeypatch) -> None:
    port, ui_port = free_port(), free_port()
    monkeypatch.setattr(runtime, "TEMPORAL_START_SECONDS", 3600.0)
    with _hold(ui_port), pytest.raises(RuntimeError) as failure:
        await runtime.start_temporal_dev_server(data_dir=tmp_path, port=port, ui_port=ui_port)
    message = str(failure.value)
    assert "did not start" in message and "exited with code" in message
    assert str(tmp_path / "temporal.log") in message
    assert (tmp_path / "temporal.log").read_text().count("address already in use") == runtime.TEMPORAL_START_ATTEMPTS
