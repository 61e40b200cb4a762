"""CloudFront's local counterpart: the edge that serves the site and forwards the rest.

Run as ``python -m chatops.emulator.dataplane.cloudfront --emulator URL --distribution ID
--port N --origin DOMAIN=HOST:PORT`` (the supervisor starts one per enabled distribution,
mapping the ALB's DNS name to the local ALB). It reads the distribution through boto3
when the emulator's generation counter moves and every 2 s.

Reproduces:

- **Behaviours.** Ordered cache behaviours by path pattern (``*`` and ``?`` wildcards,
  case-sensitive), then the default behaviour; the methods each allows (others: 403).
- **S3 origins.** Objects read from the emulator's bucket (the origin's bucket regional
  domain name): the default root object for ``/``, the stored Content-Type, ETag,
  Last-Modified and Cache-Control, ``If-None-Match`` answered with 304; a missing object
  is the 403 AccessDenied S3 gives CloudFront (origin access control, no ListBucket).
- **Custom origins** (the ALB): ``/ws*`` and ``/api*`` are forwarded with every viewer
  header except Host (the ``AllViewerExceptHostHeader`` origin request policy), with
  ``X-Forwarded-For`` and ``Via``, uncached; WebSocket upgrades are spliced through. The
  origin's custom headers (the ALB's ``X-Origin-Verify`` secret) are added, replacing a
  viewer header of the same name.
- **Custom error responses.** An origin status the distribution maps (S3's 403 for a
  missing key, here) is answered with the mapped page, read through the behaviour its
  path matches, and the mapped status; without a page, the origin's answer stands.
- **Response headers policies.** The behaviour's policy (security headers: CSP, HSTS,
  nosniff, frame options, referrer policy, XSS protection; custom headers) on every
  response, replacing the origin's value when the policy says override.
- ``Via``, ``X-Cache``, ``X-Amz-Cf-Pop`` and ``X-Amz-Cf-Id`` on responses.

Leaves out: caching (every request reads the origin, so invalidations have nothing to
do and a republished site shows at once), HTTPS and the viewer protocol policy (the
local edge is plain HTTP), compression, geo restrictions, WAF, Lambda@Edge and
CloudFront Functions, signed URLs, error caching (``ErrorCachingMinTTL``: nothing is
cached), and origin failover.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import email.utils
import fnmatch
import logging
import re
import secrets
import signal
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from chatops.emulator.dataplane import http
from chatops.emulator.dataplane.alb import install_uvloop
from chatops.emulator.dataplane.control import ControlPlane
from chatops.processes import connection_gc

log = logging.getLogger("chatops.cloudfront")

POLL_INTERVAL = 0.5
REFRESH_EVERY = 2.0
SERVER = "AmazonS3"
_BUCKET_DOMAIN = re.compile(r"^(?P<bucket>.+?)\.s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com$")


@dataclass(frozen=True)
class Origin:
    id: str
    domain: str
    bucket: str | None  # an S3 origin's bucket; None for a custom origin
    region: str | None = None
    custom_headers: tuple[tuple[str, str], ...] = ()  # sent to the origin with each request


@dataclass(frozen=True)
class ErrorResponse:
    """A custom error response: the page served instead, with which status."""

    page: str
    status: int


@dataclass(frozen=True)
class Behaviour:
    pattern: str | None  # None: the default behaviour
    origin_id: str
    methods: frozenset[str]
    headers: tuple[tuple[str, str, bool], ...] = ()  # (name, value, override)


@dataclass(frozen=True)
class Distribution:
    id: str
    domain: str
    default_root_object: str
    origins: dict[str, Origin] = field(default_factory=dict)
    behaviours: tuple[Behaviour, ...] = ()  # ordered ones first, the default last
    error_responses: dict[int, ErrorResponse] = field(default_factory=dict)  # by origin status

    def behaviour_for(self, path: str) -> Behaviour | None:
        for behaviour in self.behaviours:
            if behaviour.pattern is None or path_matches(behaviour.pattern, path):
                return behaviour
        return None


def path_matches(pattern: str, path: str) -> bool:
    """CloudFront path patterns: `*` any characters, `?` one; a leading / is optional."""
    pattern = pattern if pattern.startswith("/") else "/" + pattern
    return fnmatch.fnmatchcase(path, pattern.replace("[", "[[]"))


def policy_headers(config: dict[str, Any]) -> tuple[tuple[str, str, bool], ...]:
    """The headers a response headers policy adds: (name, value, override)."""
    headers: list[tuple[str, str, bool]] = []
    security = config.get("SecurityHeadersConfig") or {}
    csp = security.get("ContentSecurityPolicy")
    if csp:
        headers.append(
            ("Content-Security-Policy", csp["ContentSecurityPolicy"], bool(csp.get("Override")))
        )
    hsts = security.get("StrictTransportSecurity")
    if hsts:
        value = f"max-age={hsts['AccessControlMaxAgeSec']}"
        if str(hsts.get("IncludeSubdomains")).lower() == "true":
            value += "; includeSubDomains"
        if str(hsts.get("Preload")).lower() == "true":
            value += "; preload"
        headers.append(("Strict-Transport-Security", value, bool(hsts.get("Override"))))
    if security.get("ContentTypeOptions"):
        override = bool(security["ContentTypeOptions"].get("Override"))
        headers.append(("X-Content-Type-Options", "nosniff", override))
    frame = security.get("FrameOptions")
    if frame:
        headers.append(("X-Frame-Options", frame["FrameOption"], bool(frame.get("Override"))))
    referrer = security.get("ReferrerPolicy")
    if referrer:
        headers.append(
            ("Referrer-Policy", referrer["ReferrerPolicy"], bool(referrer.get("Override")))
        )
    xss = security.get("XSSProtection")
    if xss:
        value = "1" if str(xss.get("Protection")).lower() == "true" else "0"
        if str(xss.get("ModeBlock")).lower() == "true":
            value += "; mode=block"
        headers.append(("X-XSS-Protection", value, bool(xss.get("Override"))))
    custom = (config.get("CustomHeadersConfig") or {}).get("Items") or []
    for item in custom:
        headers.append((item["Header"], item["Value"], bool(item.get("Override"))))
    return tuple(headers)


def apply_policy(head: http.Head, headers: tuple[tuple[str, str, bool], ...]) -> None:
    for name, value, override in headers:
        if override or head.get(name) is None:
            head.set(name, value)


def _items(container: Any) -> list[Any]:
    if not container:
        return []
    items = container.get("Items") if isinstance(container, dict) else container
    return list(items or [])


def read_distribution(control: ControlPlane, distribution_id: str) -> Distribution | None:
    cloudfront = control.client("cloudfront", "us-east-1")
    try:
        described = cloudfront.get_distribution(Id=distribution_id)["Distribution"]
    except Exception as error:  # noqa: BLE001 - NoSuchDistribution
        if "NoSuchDistribution" in str(error):
            return None
        raise
    config = described["DistributionConfig"]
    if not config.get("Enabled", True):
        return None
    origins = {}
    for origin in _items(config.get("Origins")):
        match = (
            _BUCKET_DOMAIN.match(origin["DomainName"])
            if "S3OriginConfig" in origin
            or (".s3" in origin["DomainName"] and "CustomOriginConfig" not in origin)
            else None
        )
        origins[origin["Id"]] = Origin(
            origin["Id"],
            origin["DomainName"],
            match.group("bucket") if match else None,
            match.group("region") if match else None,
            tuple(
                (str(h["HeaderName"]), str(h["HeaderValue"]))
                for h in _items(origin.get("CustomHeaders"))
            ),
        )
    policies: dict[str, tuple[tuple[str, str, bool], ...]] = {}

    def behaviour(raw: dict[str, Any], pattern: str | None) -> Behaviour:
        policy_id = raw.get("ResponseHeadersPolicyId")
        if policy_id and policy_id not in policies:
            try:
                policy = cloudfront.get_response_headers_policy(Id=policy_id)
                policies[policy_id] = policy_headers(
                    policy["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"]
                )
            except Exception as error:  # noqa: BLE001 - serve without the headers, say why
                log.warning("response headers policy %s: %s", policy_id, error)
                policies[policy_id] = ()
        methods = frozenset(_items(raw.get("AllowedMethods")) or ["GET", "HEAD"])
        return Behaviour(pattern, raw["TargetOriginId"], methods, policies.get(policy_id or "", ()))

    behaviours = [behaviour(b, b["PathPattern"]) for b in _items(config.get("CacheBehaviors"))]
    behaviours.append(behaviour(config["DefaultCacheBehavior"], None))
    return Distribution(
        distribution_id,
        described.get("DomainName", f"{distribution_id.lower()}.cloudfront.net"),
        config.get("DefaultRootObject") or "",
        origins,
        tuple(behaviours),
        error_responses(config),
    )


def error_responses(config: dict[str, Any]) -> dict[int, ErrorResponse]:
    """The custom error responses that replace a page (those without one only set caching)."""
    mapped = {}
    for item in _items(config.get("CustomErrorResponses")):
        page = str(item.get("ResponsePagePath") or "")
        if page:
            status = int(item.get("ResponseCode") or item["ErrorCode"])
            mapped[int(item["ErrorCode"])] = ErrorResponse(page, status)
    return mapped


class Edge:
    """One distribution, served on one local port."""

    def __init__(self, control: ControlPlane, origins: dict[str, tuple[str, int]]) -> None:
        self.control = control
        self.origin_addresses = origins  # custom origin domain -> local (host, port)
        self.distribution: Distribution | None = None
        self.pop = "LOCAL1-C1"

    def edge_headers(self, head: http.Head, behaviour: Behaviour | None) -> None:
        domain = self.distribution.domain if self.distribution else "local.cloudfront.net"
        head.set("Via", f"1.1 {domain} (CloudFront)")
        head.set("X-Cache", "Miss from cloudfront")
        head.set("X-Amz-Cf-Pop", self.pop)
        head.set("X-Amz-Cf-Id", secrets.token_urlsafe(42)[:56])
        if behaviour is not None:
            apply_policy(head, behaviour.headers)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        try:
            while True:
                raw = await http.read_head(reader)
                if raw is None:
                    break
                request = http.parse_head(raw, response=False)
                if not await self._serve(request, reader, writer, str(peer[0])):
                    break
        except (http.ProtocolError, ValueError):
            writer.write(
                http.response(400, b"Bad Request", "text/plain", close=True, server="CloudFront")
            )
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # shutting down: the connection goes with the process
        finally:
            http.close_writer(writer)

    async def _serve(
        self,
        request: http.Head,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        client_ip: str,
    ) -> bool:
        distribution = self.distribution
        if distribution is None:
            writer.write(
                http.response(
                    503,
                    b"The distribution is not deployed",
                    "text/plain",
                    close=True,
                    server="CloudFront",
                )
            )
            return False
        behaviour = distribution.behaviour_for(request.path)
        origin = distribution.origins.get(behaviour.origin_id) if behaviour else None
        if behaviour is None or origin is None:
            return self._reply(writer, request, 502, b"No origin", behaviour)
        if request.method not in behaviour.methods:
            return self._reply(
                writer,
                request,
                403,
                b"This distribution is not configured to "
                b"allow the HTTP request method that was used.",
                behaviour,
            )
        if origin.bucket is not None:
            await http.relay_body(request, reader, _Discard())  # type: ignore[arg-type]
            return await self._from_bucket(request, writer, origin, behaviour, distribution)
        return await self._forward(request, reader, writer, origin, behaviour, client_ip)

    def _reply(
        self,
        writer: asyncio.StreamWriter,
        request: http.Head,
        status: int,
        body: bytes,
        behaviour: Behaviour | None,
        content_type: str = "text/plain",
        extra: list[tuple[str, str]] | None = None,
    ) -> bool:
        head = http.Head(
            ("HTTP/1.1", str(status), http.REASONS.get(status, "")),
            [
                ("Server", SERVER),
                ("Date", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())),
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
                *(extra or []),
            ],
        )
        self.edge_headers(head, behaviour)
        writer.write(head.render() + (b"" if request.method == "HEAD" else body))
        return request.keep_alive()

    async def _from_bucket(
        self,
        request: http.Head,
        writer: asyncio.StreamWriter,
        origin: Origin,
        behaviour: Behaviour,
        distribution: Distribution,
    ) -> bool:
        path = request.path
        if path == "/" and distribution.default_root_object:
            path = "/" + distribution.default_root_object
        key = urllib.parse.unquote(path.lstrip("/"))
        s3 = self.control.client("s3", origin.region or self.control.region)
        try:
            got = await asyncio.to_thread(s3.get_object, Bucket=origin.bucket, Key=key)
            body = await asyncio.to_thread(got["Body"].read)
        except Exception as error:  # noqa: BLE001 - NoSuchKey and friends: S3 says 403 here
            if "NoSuchKey" not in str(error) and "404" not in str(error):
                log.warning("s3 get %s/%s: %s", origin.bucket, key, error)
            denied = (
                b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                b"<Message>Access Denied</Message></Error>"
            )
            keep = await self._error_response(writer, request, 403, distribution)
            if keep is not None:
                return keep
            await writer.drain()
            return self._reply(writer, request, 403, denied, behaviour, "application/xml")
        etag = str(got.get("ETag", ""))
        extra = [("ETag", etag), ("Accept-Ranges", "bytes")]
        modified = got.get("LastModified")
        if modified is not None:
            moment = modified.astimezone(datetime.UTC)
            extra.append(("Last-Modified", email.utils.format_datetime(moment, usegmt=True)))
        if got.get("CacheControl"):
            extra.append(("Cache-Control", str(got["CacheControl"])))
        content_type = str(got.get("ContentType") or "binary/octet-stream")
        if etag and request.get("if-none-match") == etag:
            keep = self._reply(writer, request, 304, b"", behaviour, content_type, extra)
        else:
            keep = self._reply(writer, request, 200, body, behaviour, content_type, extra)
        await writer.drain()
        return keep

    async def _read_object(self, origin: Origin, key: str) -> tuple[bytes, str] | None:
        s3 = self.control.client("s3", origin.region or self.control.region)
        try:
            got = await asyncio.to_thread(s3.get_object, Bucket=origin.bucket, Key=key)
            body = await asyncio.to_thread(got["Body"].read)
        except Exception:  # noqa: BLE001 - missing or unreadable: no page
            return None
        return bytes(body), str(got.get("ContentType") or "binary/octet-stream")

    async def _error_response(
        self,
        writer: asyncio.StreamWriter,
        request: http.Head,
        status: int,
        distribution: Distribution,
    ) -> bool | None:
        """Answer with the custom error page mapped to `status`; None when there is none
        (or the page itself cannot be read: CloudFront then returns the origin's error)."""
        mapped = distribution.error_responses.get(status)
        if mapped is None:
            return None
        behaviour = distribution.behaviour_for(mapped.page)
        origin = distribution.origins.get(behaviour.origin_id) if behaviour else None
        if origin is None or origin.bucket is None:
            return None
        page = await self._read_object(origin, urllib.parse.unquote(mapped.page.lstrip("/")))
        if page is None:
            return None
        body, content_type = page
        keep = self._reply(writer, request, mapped.status, body, behaviour, content_type)
        await writer.drain()
        return keep

    async def _forward(
        self,
        request: http.Head,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        origin: Origin,
        behaviour: Behaviour,
        client_ip: str,
    ) -> bool:
        address = self.origin_addresses.get(origin.domain)
        if address is None:
            return self._reply(
                writer, request, 502, b"The origin is not running locally", behaviour
            )
        try:
            up_reader, up_writer = await asyncio.open_connection(*address)
        except OSError:
            return self._reply(
                writer, request, 502, b"CloudFront could not connect to origin", behaviour
            )
        try:
            forwarded_for = request.get("x-forwarded-for")
            request.set("Host", origin.domain)
            request.set(
                "X-Forwarded-For", f"{forwarded_for}, {client_ip}" if forwarded_for else client_ip
            )
            request.set(
                "Via", f"1.1 {self.distribution.domain if self.distribution else ''} (CloudFront)"
            )
            for name, value in origin.custom_headers:
                request.set(name, value)
            client_keep = request.keep_alive()
            if not request.is_upgrade:
                request.set("Connection", "close")
            up_writer.write(request.render())
            await http.relay_body(request, reader, up_writer)
            raw = await http.read_head(up_reader)
            if raw is None:
                return self._reply(writer, request, 502, b"Bad gateway", behaviour)
            answer = http.parse_head(raw, response=True)
            upgraded = answer.status == 101 and request.is_upgrade
            if not upgraded and self.distribution is not None:
                # The origin's body is dropped with its connection.
                keep = await self._error_response(writer, request, answer.status, self.distribution)
                if keep is not None:
                    return keep
            if not upgraded:
                answer.remove("connection")
                if not client_keep:
                    answer.set("Connection", "close")
            self.edge_headers(answer, behaviour)
            writer.write(answer.render())
            if upgraded:
                await writer.drain()
                await http.splice((reader, writer), (up_reader, up_writer), http.Activity())
                return False
            reusable = await http.relay_body(
                answer, up_reader, writer, request_method=request.method
            )
            await writer.drain()
            return client_keep and reusable
        finally:
            http.close_writer(up_writer)


class _Discard:
    """A writer that drops what it is given (a request body the bucket does not need)."""

    def write(self, data: bytes) -> None:
        pass

    async def drain(self) -> None:
        pass


async def follow_control_plane(edge: Edge, distribution_id: str, on_gone: Any) -> None:
    seen: int | None = None
    refreshed = 0.0
    while True:
        generation = await asyncio.to_thread(edge.control.generation, 1.0)
        now = time.monotonic()
        if generation is not None and (generation != seen or now - refreshed > REFRESH_EVERY):
            try:
                distribution = await asyncio.to_thread(
                    read_distribution, edge.control, distribution_id
                )
            except Exception as error:  # noqa: BLE001 - keep serving the last one
                log.warning("could not read the distribution: %s", error)
            else:
                seen, refreshed = generation, now
                if distribution is None:
                    on_gone()
                    return
                edge.distribution = distribution
        await asyncio.sleep(POLL_INTERVAL)


def parse_origin(value: str) -> tuple[str, tuple[str, int]]:
    domain, _, address = value.partition("=")
    host, _, port = address.rpartition(":")
    if not domain or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not DOMAIN=HOST:PORT")
    return domain, (host, int(port))


async def serve(args: argparse.Namespace) -> int:
    control = ControlPlane(args.emulator, args.region)
    edge = Edge(control, dict(args.origin or []))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = await asyncio.start_server(edge.handle, args.host, args.port, backlog=512)
    print(f"chatops edge {args.distribution} on http://{args.host}:{args.port}", flush=True)
    follower = asyncio.create_task(follow_control_plane(edge, args.distribution, stop.set))
    await stop.wait()
    follower.cancel()
    server.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chatops-edge")
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--distribution", required=True)
    parser.add_argument("--region", default="ap-northeast-2", help="region of S3 origins")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--origin",
        action="append",
        type=parse_origin,
        help="DOMAIN=HOST:PORT: where a custom origin runs locally",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    install_uvloop()
    with connection_gc():
        return asyncio.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
