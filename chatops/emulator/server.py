"""Entry point of the emulator process: moto's server with chatops' patches.

Run as ``python -m chatops.emulator.server --port N --instance-id ID``; chatops starts
it in the background (see ``manager``). Besides the AWS APIs it answers
``GET /__chatops/instance`` with its instance id, so chatops can tell its own emulator
from anything else on the port and a restarted emulator from the one a state was made on.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

import moto
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from chatops.emulator import patches
from chatops.emulator.manager import INSTANCE_PATH

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def emulator_app(app: WSGIApp, instance_id: str) -> WSGIApp:
    """moto's app, one request at a time, plus the instance endpoint.

    moto's backends are not thread-safe (e.g. security group rules are rewritten by
    read-modify-write), and Terraform sends up to ten requests at once: concurrent
    revocations lost rules. Serialising costs little, as each request takes milliseconds.
    """
    body = json.dumps(
        {
            "instance_id": instance_id,
            "moto_version": moto.__version__,
            "patches": [patch.name for patch in patches.PATCHES],
        }
    ).encode()

    lock = threading.Lock()

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == INSTANCE_PATH:
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        with lock:
            return list(app(environ, start_response))

    return wrapped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chatops-emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--instance-id", required=True)
    args = parser.parse_args(argv)

    # One line per request would grow the log by megabytes per deploy.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    patches.apply_all()
    app = emulator_app(DomainDispatcherApplication(create_backend_app), args.instance_id)
    server = make_server(args.host, args.port, app, threaded=True)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(f"chatops emulator {args.instance_id} on http://{args.host}:{args.port}", flush=True)
    stop.wait()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
