"""A server killed mid-stream leaves every batch either wholly stored or not at all."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import select

from cadenza.auth import Scope
from cadenza.bootstrap import Container
from cadenza.events.models import Event
from tests.conftest import Actors

SERVER = """
import sys, uvicorn
from pathlib import Path
from cadenza.api import create_app
from cadenza.bootstrap import build_container
from cadenza.config import Settings
container = build_container(Settings(database_url=sys.argv[1], secret_key="crash-test", data_dir=Path(sys.argv[3])))
uvicorn.run(create_app(container), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_a_killed_server_leaves_no_half_written_batch(container: Container, actors: Actors, database_url: str,
                                                      tmp_path: Path) -> None:
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, database_url, str(port), str(tmp_path)],
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")})
    key = actors.alice.keys[Scope.INGEST]
    auth = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except httpx.HTTPError:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
    sent: list[int] = []
    in_flight = [0]  # requests posted and not yet answered
    lock = threading.Lock()
    stop = threading.Event()
    # Each body from one template (a few µs): the clients spend their time in requests, not in making the next one.
    template = orjson.dumps({"batch": [{"type": "track", "userId": f"u{i % 7}", "event": "Tick",
                                        "messageId": f"b@-{i}", "properties": {"i": i}} for i in range(100)]})

    def send(client_number: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={**auth, "Content-Type": "application/json"},
                          timeout=10) as client:
            for batch in range(client_number * 10_000, client_number * 10_000 + 500):
                if stop.is_set():
                    return
                body = template.replace(b'"b@-', f'"b{batch}-'.encode())
                with lock:
                    sent.append(batch)
                    in_flight[0] += 1
                try:
                    client.post("/v1/batch", content=body)
                except httpx.HTTPError:
                    return
                with lock:
                    in_flight[0] -= 1

    clients = [threading.Thread(target=send, args=(n,)) for n in range(3)]
    for thread in clients:
        thread.start()
    time.sleep(1.5)
    while True:  # killed while a request is being written
        with lock:
            if in_flight[0]:
                break
        time.sleep(0.0005)
    server.send_signal(signal.SIGKILL)
    server.wait(10)
    stop.set()
    for thread in clients:
        thread.join(15)

    with container.db.read() as session:
        stored = session.scalars(select(Event.message_id).where(Event.workspace_id == actors.alice.workspace_id))
        per_batch = Counter(message_id.split("-")[0] for message_id in stored)
    assert per_batch, "no batch was stored before the kill"
    assert set(per_batch.values()) == {100}
    assert set(per_batch) <= {f"b{batch}" for batch in sent}
    assert len(per_batch) < len(sent)  # the kill came while batches were in flight
