"""A Redis outage: connections stay up, sends are stored and acknowledged, local members
get them at once and the other task's members as soon as Redis is back, exactly once."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from chatops.emulator.dataplane.elasticache import start_redis, stop_redis
from chatops.processes import free_port
from tests.app.helpers import ChatClient, ChatServer, get_json
from tests.conftest import REDIS_PASSWORD


def wait_redis(server: ChatServer, state: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, health = get_json(server.http + "/health")
        if status == 200 and health["redis"] == state:
            return
        time.sleep(0.1)
    raise AssertionError(f"redis never {state} for {server.env['COLOR']}:\n{server.tail()}")


def seqs(client: ChatClient, room: str) -> list[int]:
    return [frame["seq"] for frame in client.messages(room)]


def test_sends_survive_a_redis_outage_and_reach_everyone_once_it_is_back(
    make_server: Callable[..., ChatServer], tmp_path: Path, room: str
) -> None:
    port = free_port()
    redis = start_redis(port, password=REDIS_PASSWORD, workdir=tmp_path / "redis")
    servers: list[ChatServer] = []
    try:
        blue = make_server("blue", redis_port=port)
        green = make_server("green", redis_port=port)
        servers += [blue, green]
        with (
            ChatClient(blue.ws, nickname="ann") as ann,
            ChatClient(blue.ws, nickname="carl") as carl,
            ChatClient(green.ws, nickname="bob") as bob,
        ):
            for client in (ann, carl, bob):
                client.join(room)
            ann.send(room, "before", "outage-0000")
            for client in (ann, carl, bob):
                client.wait_messages(room, 1)
                assert seqs(client, room) == [1]

            stop_redis(redis.pid)
            wait_redis(blue, "down")
            wait_redis(green, "down")

            acks = [ann.send(room, f"during {i}", f"outage-000{i + 1}") for i in range(3)]
            assert [ack["seq"] for ack in acks] == [2, 3, 4]
            assert not any(ack["duplicate"] for ack in acks)
            retry = ann.send(room, "during 0", "outage-0001")
            assert (retry["seq"], retry["duplicate"]) == (2, True)
            assert bob.send(room, "from green", "outage-0100")["seq"] == 5
            # Local members have them at once; the other task's do not (yet).
            for client in (ann, carl):
                client.wait_messages(room, 4)
                assert seqs(client, room) == [1, 2, 3, 4]
            bob.drain(0.3)
            assert seqs(bob, room) == [1, 5]
            # Connections stayed up, /health still serves.
            assert get_json(blue.http + "/health")[0] == 200

            redis = start_redis(port, password=REDIS_PASSWORD, workdir=tmp_path / "redis")
            wait_redis(blue, "up")
            wait_redis(green, "up")
            for client in (ann, carl, bob):
                client.wait_messages(room, 5, timeout=15)
            ann.send(room, "after", "outage-0200")
            for client in (ann, carl, bob):
                client.wait_messages(room, 6)
                client.drain(0.3)
                assert sorted(seqs(client, room)) == [1, 2, 3, 4, 5, 6], client.messages(room)
                assert [f["text"] for f in client.messages(room)][-1] == "after"
        assert blue.wait_log("resynced")["delivered"] >= 1
        assert green.wait_log("resynced")["delivered"] >= 3
        for server in (blue, green):
            # One outage noticed once: no flapping while Redis restarts.
            events = [r["event"] for r in server.logs() if r["event"].startswith("redis_")]
            assert events == ["redis_up", "redis_down", "redis_up"], events
    finally:
        for server in servers:
            server.stop()
        stop_redis(redis.pid)
