"""Entry point of the emulator process: moto's server with chatops' patches.

Run as ``python -m chatops.emulator.server --port N --instance-id ID``; chatops starts
it in the background (see ``manager``). Besides the AWS APIs it answers, under
``/__chatops/``:

- ``GET instance``: its instance id, so chatops can tell its own emulator from anything
  else on the port and a restarted emulator from the one a state was made on;
- ``GET regions``: the regions where load balancers, target groups, ECS services or
  replication groups exist (where the data plane has work);
- ``GET generation``: a number that grows with every request that may have changed
  something the data plane runs (any request not marked as a read by the local data
  plane, except DynamoDB's: no table or item is the data plane's concern), so the data
  plane re-reads the state only when it may have changed;
- ``POST <name>``: the data plane's reports of what really runs (target health, ECS
  tasks), handled by the patches that define them, under the same lock as AWS requests.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import logging
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

import moto
from botocore.exceptions import ClientError
from moto.dynamodb.responses import DynamoHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request

from chatops.emulator import patches
from chatops.emulator.manager import (
    GENERATION_PATH,
    INSTANCE_PATH,
    PRIVATE_PREFIX,
    READ_HEADER,
    REGIONS_PATH,
)

# Most of what the emulator allocates survives (it is AWS state): a middle generation
# that collects 10 young batches keeps each of its collections short.
STATE_GC_THRESHOLDS = (20_000, 10, 10)
# Seconds a kept-alive connection may stay idle before its thread lets it go.
IDLE_TIMEOUT = 300
# The X-Amz-Target prefix of DynamoDB's JSON API.
DYNAMODB_TARGET = "DynamoDB_20120810."

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def active_regions() -> list[str]:
    """Regions holding anything the data plane runs or checks (balancers, target groups,
    services, caches)."""
    from moto.ecs.models import ecs_backends
    from moto.elasticache.models import elasticache_backends
    from moto.elbv2.models import elbv2_backends

    found: set[str] = set()
    holdings: list[tuple[Any, str]] = [
        (elbv2_backends, "load_balancers"),
        (elbv2_backends, "target_groups"),
        (ecs_backends, "services"),
        (elasticache_backends, "replication_groups"),
    ]
    for backends, attribute in holdings:
        for account in list(backends.keys()):
            for region in list(backends[account].keys()):
                if getattr(backends[account][region], attribute):
                    found.add(region)
    return sorted(found)


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
    generation = [0]
    read_header = "HTTP_" + READ_HEADER.upper().replace("-", "_")

    def answer(start_response: Callable[..., Any], status: str, document: Any) -> list[bytes]:
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(document, default=str).encode()]

    def private(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        name = str(environ["PATH_INFO"])[len(PRIVATE_PREFIX) :]
        handler = patches.PRIVATE_ENDPOINTS.get(name)
        if handler is None or environ.get("REQUEST_METHOD") != "POST":
            return answer(start_response, "404 Not Found", {"error": f"no endpoint {name}"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(length) or b"{}")
        except ValueError as error:
            return answer(start_response, "400 Bad Request", {"error": str(error)})
        with lock:
            generation[0] += 1
            return answer(start_response, "200 OK", handler(body))

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == INSTANCE_PATH:
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        if path == GENERATION_PATH:
            return answer(start_response, "200 OK", {"generation": generation[0]})
        if path == REGIONS_PATH:
            with lock:
                return answer(start_response, "200 OK", {"regions": active_regions()})
        if path.startswith(PRIVATE_PREFIX):
            return private(environ, start_response)
        if path == "/" and environ.get("HTTP_X_AMZ_TARGET", "").startswith(DYNAMODB_TARGET):
            # Not counted in the generation: the data plane reads no DynamoDB state.
            with lock:
                return dynamodb(environ, start_response)
        with lock:
            if not environ.get(read_header):
                generation[0] += 1
            return list(app(environ, start_response))

    return wrapped


def dynamodb(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """A DynamoDB API call, handed straight to moto's DynamoDB handler.

    moto's own app finds the service of every request by matching its host and
    credential scope against every service's URL patterns, then routes it through
    Flask: two fifths of the emulator's CPU per call under the chat's load, where
    almost every call is a DynamoDB one. The handler and its answers are moto's."""
    request = Request(environ)
    try:
        status, headers, content = DynamoHandler.dispatch(
            request, request.url, dict(request.headers)
        )
    except ClientError as error:  # what moto's Flask wrapper does with one
        status, headers, content = 400, {}, error.response["Error"]["Message"]
    start_response(
        f"{status} {HTTPStatus(status).phrase}", [(k, str(v)) for k, v in headers.items()]
    )
    return [content.encode() if isinstance(content, str) else content]


def keep_state_out_of_collections() -> None:
    """moto holds every resource of the emulated account as Python objects: hundreds of
    thousands once a chat has stored a few thousand messages. A full collection would
    scan them all under the request lock, a pause that grows with the state (0.6 s
    after a few thousand messages) and that every AWS call waits through. So what
    survives a full collection is frozen (never scanned again), and young objects are
    collected less often, so that fewer of them reach the oldest generation. Objects
    still die by reference counting; only a cycle that was alive at a full collection
    and dies later stays until exit."""

    def freeze_survivors(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            gc.freeze()

    gc.freeze()
    gc.set_threshold(*STATE_GC_THRESHOLDS)
    gc.callbacks.append(freeze_survivors)


class RequestHandler(WSGIRequestHandler):
    """werkzeug's handler, with keep-alive connections and no line per request.

    werkzeug answers every request with `Connection: close`: every SDK call paid for a
    new connection in the caller, and for a TCP handshake and a new thread here (a
    quarter of the emulator's CPU per call under the chat's load). A request whose
    length is known up front (what the SDKs send) is read whole and answered with a
    `Content-Length` in one write, and its connection stays open; anything else
    (chunked bodies, `Expect`) goes through werkzeug's own path, which closes. No
    access log line: it would grow the log by megabytes per deploy."""

    timeout = IDLE_TIMEOUT

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def run_wsgi(self) -> None:
        length = self.headers.get("Content-Length", "0")
        if "Transfer-Encoding" in self.headers or "Expect" in self.headers or not length.isdigit():
            self.close_connection = True
            super().run_wsgi()
            return
        environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(self.rfile.read(int(length)))
        answer: list[Any] = []
        chunks: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            answer[:] = [status, headers]
            return chunks.append

        try:
            result = self.server.app(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
            if not answer:
                raise RuntimeError("the application started no response")
        except Exception:
            self.server.log("error", f"Error on request:\n{traceback.format_exc()}")
            self.close_connection = True
            answer[:] = ["500 Internal Server Error", [("Content-Type", "text/plain")]]
            chunks = [b"Internal Server Error"]
        status, headers = answer
        code, _, reason = status.partition(" ")
        body = b"".join(chunks)
        self.send_response(int(code), reason)
        names = set()
        for name, value in headers:
            self.send_header(name, value)
            names.add(name.lower())
        if "content-length" not in names and code not in ("204", "304"):
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        # Headers and body in one write: two small writes on a kept-alive connection
        # can wait for a delayed ACK.
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(body)
        self.flush_headers()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chatops-emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--instance-id", required=True)
    args = parser.parse_args(argv)

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    patches.apply_all()
    keep_state_out_of_collections()
    app = emulator_app(DomainDispatcherApplication(create_backend_app), args.instance_id)
    server = make_server(args.host, args.port, app, threaded=True, request_handler=RequestHandler)

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
