"""The emulator process: start, reuse, probe, stop, shell exports."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3

from chatops.emulator.manager import EmulatorManager, probe
from chatops.emulator.server import emulator_app
from chatops.local import shell_exports


def test_start_reuse_and_stop(tmp_path: Path) -> None:
    manager = EmulatorManager(tmp_path / "local")
    emulator, started = manager.start()
    try:
        assert started
        assert probe(emulator.endpoint) == emulator.instance_id
        again, started_again = manager.start()
        assert again == emulator and not started_again
        # It answers AWS APIs, with the chatops patches in place.
        s3 = boto3.client(
            "s3",
            endpoint_url=emulator.endpoint,
            region_name="ap-northeast-2",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        s3.create_bucket(
            Bucket="probe-bucket",
            CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"},
        )
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["probe-bucket"]
    finally:
        stopped = manager.stop()
    assert stopped is not None and stopped.pid == emulator.pid
    assert manager.running() is None
    assert probe(emulator.endpoint, timeout=0.5) is None


def test_a_dead_emulator_is_not_running(tmp_path: Path) -> None:
    manager = EmulatorManager(tmp_path / "local")
    emulator, _ = manager.start()
    subprocess.run(["kill", "-9", str(emulator.pid)], check=True)
    manager.stop()  # reaps the killed child
    assert manager.running() is None


def test_shell_exports_point_aws_tools_at_the_emulator(tmp_path: Path) -> None:
    manager = EmulatorManager(tmp_path / "local")
    emulator, _ = manager.start()
    try:
        exports = shell_exports(emulator, "ap-northeast-2")
        # A fresh SDK process configured only by the exported environment.
        probe_sdk = (
            "import boto3; s3 = boto3.client('s3'); "
            "s3.create_bucket(Bucket='from-env', "
            "CreateBucketConfiguration={'LocationConstraint': 'ap-northeast-2'}); "
            "print(len(s3.list_buckets()['Buckets']))"
        )
        script = f'{exports}\n"{sys.executable}" -c "{probe_sdk}"'
        result = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "1"
    finally:
        manager.stop()


def test_the_emulator_serves_one_aws_request_at_a_time() -> None:
    active, peak = 0, 0
    guard = threading.Lock()

    def slow_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        nonlocal active, peak
        with guard:
            active += 1
            peak = max(peak, active)
        time.sleep(0.02)
        with guard:
            active -= 1
        start_response("200 OK", [])
        return [b"ok"]

    app = emulator_app(slow_app, "test")
    threads = [
        threading.Thread(target=app, args=({"PATH_INFO": "/"}, lambda *a: None)) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 1


def _call(app: Any, path: str, method: str = "GET", body: bytes = b"", **headers: str) -> Any:
    import io
    import json

    environ = {
        "PATH_INFO": path,
        "REQUEST_METHOD": method,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        **{"HTTP_" + name.upper(): value for name, value in headers.items()},
    }
    statuses: list[str] = []
    chunks = app(environ, lambda status, _headers: statuses.append(status))
    return statuses[0], json.loads(b"".join(chunks) or b"null")


def test_the_generation_grows_with_every_request_but_the_data_planes_reads() -> None:
    def aws(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b"{}"]

    app = emulator_app(aws, "test")
    assert _call(app, "/__chatops/generation") == ("200 OK", {"generation": 0})
    _call(app, "/")  # Terraform, the CLI, any client
    _call(app, "/", X_CHATOPS_READ="1")  # the data plane reading
    assert _call(app, "/__chatops/generation")[1] == {"generation": 1}


def test_private_endpoints_take_the_data_planes_reports(monkeypatch: Any) -> None:
    from chatops.emulator import patches

    received: list[Any] = []
    monkeypatch.setitem(
        patches.PRIVATE_ENDPOINTS, "probe", lambda body: received.append(body) or {"ok": True}
    )
    app = emulator_app(lambda environ, start: [], "test")
    assert _call(app, "/__chatops/probe", "POST", b'{"a": 1}') == ("200 OK", {"ok": True})
    assert received == [{"a": 1}]
    assert _call(app, "/__chatops/generation")[1] == {"generation": 1}
    assert _call(app, "/__chatops/nothing", "POST", b"{}")[0] == "404 Not Found"
    assert _call(app, "/__chatops/probe", "POST", b"{not json")[0] == "400 Bad Request"


GC_PROBE = """
import gc
from chatops.emulator.server import keep_state_out_of_collections

class Node:
    def __init__(self):
        self.me = self

keep_state_out_of_collections()
before = gc.get_freeze_count()
state = [Node() for _ in range(1000)]  # held, like moto's resources
gc.collect()
frozen = gc.get_freeze_count() - before
young = [Node() for _ in range(100)]
del young
print(frozen, gc.collect())
"""


def test_the_emulators_state_is_frozen_and_its_young_cycles_still_collected() -> None:
    """Survivors of a full collection are never scanned again; garbage made later is."""
    result = subprocess.run(
        [sys.executable, "-c", GC_PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    frozen, collected = map(int, result.stdout.split())
    assert frozen >= 1000  # the held nodes
    assert collected >= 100
