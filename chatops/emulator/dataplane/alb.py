"""The Application Load Balancer's local counterpart: an HTTP and WebSocket proxy that
routes as the emulator's listener says.

Run as ``python -m chatops.emulator.dataplane.alb --emulator URL --load-balancer ARN
--port N [--origin-port M]`` (the supervisor starts one per load balancer). ``--port`` is
the listener as the internet reaches it; ``--origin-port`` the same listener as
CloudFront's origin-facing addresses reach it (the local edge connects there), so that
what only CloudFront may reach can be told apart from what anyone may. It reads the load balancer,
its listener and its target groups through boto3, as any client would: whenever the
emulator's generation counter moves (checked every 0.25 s) and every 2 s regardless, so
a ``ModifyListener`` reaches new connections in well under a second.

Reproduces (ELBv2 documentation: listeners and forward actions, listener rules, target
groups, sticky sessions, health checks, deregistration delay, X-Forwarded headers, idle
timeout):

- **Listener rules.** Rules are evaluated by priority, lowest first, the default action
  last; the first whose conditions all match acts. Conditions: ``http-header`` (name
  and values case-insensitive), ``path-pattern`` (case-sensitive, path only),
  ``query-string`` (key/value pairs, case-insensitive), ``host-header``,
  ``http-request-method``, ``source-ip``; ``*`` and ``?`` wildcards; one value of a
  condition is enough, every condition must match. Actions: ``forward`` (as below) and
  ``fixed-response`` (its status, content type and body, answered by the load balancer).
  The served listener is the one whose default action or rules forward.

- **Weighted forward action.** Each request without a valid stickiness cookie goes to a
  target group chosen at random in proportion to the weights (0 to 999; weight 0 gets no
  new requests). Requests on a keep-alive connection are routed one by one, as ALB does.
- **Target group stickiness** (the forward action's ``TargetGroupStickinessConfig``).
  The first response carries ``AWSALBTG`` (and ``AWSALBTGCORS`` with ``SameSite=None;
  Secure`` for cross-origin requests), encoding the chosen group; the cookie expires
  after 7 days, the stickiness after ``DurationSeconds`` counted from the choice. A
  request with a valid cookie goes to the group in the cookie whatever the weights,
  weight 0 included (so a shift or a rollback moves only clients without a cookie or
  whose stickiness expired), and whatever the group's health: stickiness takes
  precedence over weights, so a pinned client keeps reaching a group with no healthy
  target (fail open within it) or with no target at all (503 from the load balancer)
  until the stickiness ends, as AWS describes for weighted target groups. Only a group
  that has left the action is routed by weight again, with a new cookie. URL-encoded
  cookie values are not accepted (ALB does not support them either).
- **Targets.** Within a group, healthy targets in round robin. A group with registered
  targets but none healthy fails open: all of them (``initial`` or ``unhealthy``) share
  the requests. ``draining`` targets get no new requests or connections, and the
  connections still open to them are cut when the deregistration delay ends (the target
  leaves DescribeTargetHealth). No group or no target at all: ``503`` from the load
  balancer itself; a target that refuses the connection or sends no valid response:
  ``502``; one that does not accept the connection within 10 s: ``504``.
- **WebSockets.** An upgrade is routed like any request; once the target answers ``101``
  the two connections are spliced byte for byte and stay on that target whatever the
  weights do later.
- **Idle timeout** (``idle_timeout.timeout_seconds``): a connection with no bytes either
  way for that long is closed (WebSockets included; the chat server pings every 20 s).
- **Headers.** ``X-Forwarded-For`` (the client address appended), ``X-Forwarded-Proto``,
  ``X-Forwarded-Port``, ``X-Amzn-Trace-Id``; ``Server: awselb/2.0`` on its own answers.

Leaves out: HTTPS listeners (the local listener is plain HTTP, an HTTPS listener is
served as HTTP on its local port), the redirect and authenticate actions (a redirect
listener is not served), HTTP/2 to clients, target-level stickiness (``AWSALB``), slow
start, keep-alive connections to targets (each request opens its own), access logs in
S3 (the outcomes go to a local JSON-lines log instead), and the load balancer's own
scaling.

Security groups (see `vpc`): a viewer's new connection is dropped when the groups close
viewer to ALB on the listener port, and a request to a target group whose tasks the
groups close to the ALB waits out the connect timeout and gets ``504``, as a dropped SYN
does on AWS; connections already open carry on (connection tracking).

Two hooks serve the fault and alarm work built on top: every request or upgrade outcome
(target group, target, status, latency, whether the load balancer answered itself) goes
through `Observer`s in one place (`LoadBalancer.observe`), and `Faults` (read from a JSON
file, see `Faults.load`) can add latency to, or answer with 5xx, a share of the requests
of a target group, before they reach it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import ipaddress
import itertools
import json
import logging
import random
import re
import secrets
import signal
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from chatops.emulator.dataplane import cloudwatch, http, vpc
from chatops.emulator.dataplane.control import ControlPlane, region_of
from chatops.processes import connection_gc

log = logging.getLogger("chatops.alb")

COOKIE = "AWSALBTG"
CORS_COOKIE = "AWSALBTGCORS"
COOKIE_LIFETIME = 7 * 24 * 3600  # what ALB sets as Expires; the stickiness is shorter
CONNECT_TIMEOUT = 10.0
POLL_INTERVAL = 0.25
REFRESH_EVERY = 2.0

HEALTHY, INITIAL, UNHEALTHY, DRAINING = "healthy", "initial", "unhealthy", "draining"
INTERNET, CLOUDFRONT = "internet", "cloudfront"  # where a listener side's clients come from


# --- what the control plane says ---------------------------------------------------------


@dataclass(frozen=True)
class Target:
    id: str
    port: int
    state: str

    @property
    def address(self) -> str:
        return f"{self.id}:{self.port}"


@dataclass(frozen=True)
class Group:
    arn: str
    name: str
    weight: int
    targets: tuple[Target, ...] = ()

    def routable(self) -> tuple[Target, ...]:
        """Healthy targets; when none, every registered one not draining (fail open)."""
        healthy = tuple(t for t in self.targets if t.state == HEALTHY)
        if healthy:
            return healthy
        return tuple(t for t in self.targets if t.state != DRAINING)


@dataclass(frozen=True)
class Forward:
    """A forward action: weighted target groups and group stickiness."""

    groups: tuple[Group, ...] = ()
    stickiness: bool = False
    duration: int = 0

    def group(self, arn: str) -> Group | None:
        return next((g for g in self.groups if g.arn == arn), None)


@dataclass(frozen=True)
class FixedResponse:
    status: int
    content_type: str = "text/plain"
    body: str = ""


Action = Forward | FixedResponse


@dataclass(frozen=True)
class Condition:
    """One rule condition. `values`: patterns; for query-string, "key=value" with an
    empty key matching any key; for http-header, `name` is the header."""

    field: str
    values: tuple[str, ...]
    name: str = ""


@dataclass(frozen=True)
class Rule:
    priority: float  # the default rule: infinity
    conditions: tuple[Condition, ...]
    action: Action


@dataclass(frozen=True)
class Request:
    """What a rule may look at."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    source_ip: str = "127.0.0.1"

    @classmethod
    def of(cls, head: http.Head, source_ip: str) -> Request:
        _, _, raw_query = head.target.partition("?")
        query = tuple(urllib.parse.parse_qsl(raw_query, keep_blank_values=True))
        return cls(head.method, head.path, query, tuple(head.headers), source_ip)

    def header_values(self, name: str) -> list[str]:
        lowered = name.lower()
        return [value for key, value in self.headers if key.lower() == lowered]


def wildcard(pattern: str, value: str, *, case_sensitive: bool) -> bool:
    """ALB condition patterns: `*` any characters, `?` exactly one."""
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.fullmatch(regex, value, flags | re.DOTALL) is not None


def condition_matches(condition: Condition, request: Request) -> bool:
    values = condition.values
    if condition.field == "http-header":
        present = request.header_values(condition.name)
        return any(wildcard(p, v, case_sensitive=False) for p in values for v in present)
    if condition.field == "path-pattern":
        return any(wildcard(p, request.path, case_sensitive=True) for p in values)
    if condition.field == "host-header":
        hosts = [h.rsplit(":", 1)[0] for h in request.header_values("host")]
        return any(wildcard(p, h, case_sensitive=False) for p in values for h in hosts)
    if condition.field == "http-request-method":
        return request.method in values
    if condition.field == "query-string":
        for pair in values:
            key, _, value = pair.partition("=")
            for got_key, got_value in request.query:
                if (not key or wildcard(key, got_key, case_sensitive=False)) and wildcard(
                    value, got_value, case_sensitive=False
                ):
                    return True
        return False
    if condition.field == "source-ip":
        try:
            address = ipaddress.ip_address(request.source_ip)
            return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in values)
        except ValueError:
            return False
    return False  # a condition this load balancer does not know never matches


def match_rule(rules: Sequence[Rule], request: Request) -> Action | None:
    """The action of the first rule, by priority, whose conditions all match."""
    for rule in sorted(rules, key=lambda r: r.priority):
        if all(condition_matches(c, request) for c in rule.conditions):
            return rule.action
    return None


@dataclass(frozen=True)
class Routing(Forward):
    """The served listener and the load balancer's settings.

    `groups` holds every target group any rule forwards to (for health and cuts);
    `rules` the listener's rules, the default last. A Routing without rules forwards
    by its own `groups`, `stickiness` and `duration`.
    """

    idle_timeout: float = 60.0
    listener_port: int = 80
    rules: tuple[Rule, ...] = ()

    def decide(self, request: Request) -> Action | None:
        if not self.rules:
            return self
        return match_rule(self.rules, request)


def choose_by_weight(groups: Sequence[Group], roll: float) -> Group | None:
    """The group whose share of the total weight `roll` (0 <= roll < 1) falls into."""
    weighted = [g for g in groups if g.weight > 0]
    total = sum(g.weight for g in weighted)
    if total <= 0:
        return None
    point = roll * total
    for group in weighted:
        if point < group.weight:
            return group
        point -= group.weight
    return weighted[-1]


@dataclass(frozen=True)
class Choice:
    group: Group | None
    sticky: bool  # the cookie decided
    issued: float  # when the group was chosen (for the cookie)
    set_cookie: bool = False  # the forward action has stickiness on


def choose_group(
    forward: Forward, cookie: tuple[str, float] | None, now: float, roll: float
) -> Choice:
    """Target group stickiness, then weights (see the module docstring)."""
    if forward.stickiness and cookie is not None:
        arn, issued = cookie
        group = forward.group(arn)
        if group is not None and now - issued < forward.duration:
            return Choice(group, True, issued, True)
    return Choice(choose_by_weight(forward.groups, roll), False, now, forward.stickiness)


class StickyCookie:
    """The AWSALBTG value: the chosen group and when, signed (ALB encrypts it)."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def encode(self, arn: str, issued: float) -> str:
        payload = json.dumps({"g": arn, "t": round(issued, 3)}, separators=(",", ":")).encode()
        mac = hmac.new(self.key, payload, hashlib.sha256).digest()[:16]
        return base64.b64encode(payload + mac).decode()

    def decode(self, value: str) -> tuple[str, float] | None:
        try:
            raw = base64.b64decode(value, validate=True)
        except ValueError:
            return None
        payload, mac = raw[:-16], raw[-16:]
        expected = hmac.new(self.key, payload, hashlib.sha256).digest()[:16]
        if len(raw) <= 16 or not hmac.compare_digest(mac, expected):
            return None
        try:
            document = json.loads(payload)
            return str(document["g"]), float(document["t"])
        except (ValueError, KeyError, TypeError):
            return None

    def from_header(self, cookie_header: Iterable[str]) -> tuple[str, float] | None:
        for header in cookie_header:
            for part in header.split(";"):
                name, _, value = part.strip().partition("=")
                if name in (COOKIE, CORS_COOKIE):
                    found = self.decode(value)
                    if found is not None:
                        return found
        return None

    def set_cookie_headers(self, arn: str, issued: float, now: float) -> list[tuple[str, str]]:
        value = self.encode(arn, issued)
        expires = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now + COOKIE_LIFETIME))
        return [
            ("Set-Cookie", f"{COOKIE}={value}; Expires={expires}; Path=/"),
            (
                "Set-Cookie",
                f"{CORS_COOKIE}={value}; Expires={expires}; Path=/; SameSite=None; Secure",
            ),
        ]


class RoundRobin:
    """The next target of each group, in turn."""

    def __init__(self) -> None:
        self._counters: dict[str, itertools.count[int]] = {}

    def pick(self, group: Group) -> Target | None:
        candidates = group.routable()
        if not candidates:
            return None
        counter = self._counters.setdefault(group.arn, itertools.count())
        return candidates[next(counter) % len(candidates)]


# --- the hooks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What happened to one request or WebSocket upgrade."""

    at: float
    kind: str  # "http" or "websocket"
    method: str
    path: str
    target_group: str | None
    target: str | None
    status: int
    latency: float  # seconds until the response head
    by_load_balancer: bool  # the ALB answered itself (503, 502, 504)
    injected: bool = False  # a fault answered or delayed it

    @property
    def target_group_name(self) -> str | None:
        return self.target_group.rsplit("/", 2)[-2] if self.target_group else None


class Observer(Protocol):
    def __call__(self, outcome: Outcome) -> None: ...


class OutcomeLog:
    """Outcomes as JSON lines (the local stand-in for ALB access logs); keeps one
    previous file when it grows past `max_bytes`."""

    def __init__(self, path: Path, max_bytes: int = 20 * 1024 * 1024) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.pending: list[str] = []
        path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, outcome: Outcome) -> None:
        self.pending.append(json.dumps(asdict(outcome), separators=(",", ":")))

    def flush(self) -> None:
        if not self.pending:
            return
        lines, self.pending = self.pending, []
        try:
            if self.path.exists() and self.path.stat().st_size > self.max_bytes:
                self.path.replace(self.path.with_suffix(self.path.suffix + ".1"))
            with self.path.open("a") as out:
                out.write("\n".join(lines) + "\n")
        except OSError as error:
            log.warning("could not write %s: %s", self.path, error)


FAULTS_FILE = "faults.json"  # in the local directory: what `chatops local fault` writes


@dataclass(frozen=True)
class Fault:
    http_5xx_share: float = 0.0  # share of requests answered 500 instead of forwarded
    added_latency: float = 0.0  # seconds added before a request is forwarded


def write_fault(path: Path, target_group: str, fault: Fault | None) -> dict[str, Fault]:
    """Set (or with None, clear) the fault of one target group; returns all of them."""
    try:
        raw = json.loads(path.read_text())
        current = {str(k): Fault(**v) for k, v in raw.items()}
    except (OSError, ValueError, TypeError):
        current = {}
    if fault is None:
        current.pop(target_group, None)
    else:
        current[target_group] = fault
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({k: asdict(v) for k, v in current.items()}, indent=2))
    temporary.replace(path)
    return current


class Faults:
    """Faults per target group (by name or ARN), from a JSON file such as
    ``{"chatapp-dev-green": {"http_5xx_share": 0.2, "added_latency": 0.5}}``;
    re-read when the file changes, none when it is absent."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.by_group: dict[str, Fault] = {}
        self._mtime: float | None = None

    def reload(self) -> None:
        if self.path is None:
            return
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            self.by_group, self._mtime = {}, None
            return
        if mtime == self._mtime:
            return
        self._mtime = mtime
        try:
            raw = json.loads(self.path.read_text())
            self.by_group = {str(k): Fault(**v) for k, v in raw.items()}
        except (OSError, ValueError, TypeError) as error:
            log.warning("ignoring %s: %s", self.path, error)
            self.by_group = {}

    def for_group(self, group: Group) -> Fault | None:
        return self.by_group.get(group.arn) or self.by_group.get(group.name)


# --- the proxy ---------------------------------------------------------------------------


@dataclass(eq=False)
class Upstream:
    """An open connection to a target (for the idle timeout and draining cuts)."""

    key: tuple[str, str]  # (group ARN, target address)
    client: asyncio.StreamWriter
    writer: asyncio.StreamWriter
    activity: http.Activity

    def cut(self) -> None:
        for writer in (self.writer, self.client):
            transport: Any = writer.transport
            transport.abort()


@dataclass(eq=False)
class ClientConnection:
    writer: asyncio.StreamWriter
    activity: http.Activity = field(default_factory=http.Activity)
    network: str = INTERNET  # the listener side it came in on


class LoadBalancer:
    """The listener: accepts connections and proxies them per the current routing."""

    def __init__(
        self,
        *,
        cookie_key: bytes,
        observers: Sequence[Observer] = (),
        faults: Faults | None = None,
        rng: random.Random | None = None,
        arn: str = "",
        network: vpc.NetworkFile | None = None,
    ) -> None:
        self.routing = Routing()
        self.cookies = StickyCookie(cookie_key)
        self.round_robin = RoundRobin()
        self.observers = list(observers)
        self.faults = faults or Faults(None)
        self.rng = rng or random.Random()
        self.clients: set[ClientConnection] = set()
        self.upstreams: set[Upstream] = set()
        self.port = 0
        self.arn = arn
        self.network = network or vpc.NetworkFile(None)

    # --- hooks ----------------------------------------------------------------------

    def observe(self, outcome: Outcome) -> None:
        """Every outcome passes here (the one place to measure the load balancer)."""
        for observer in self.observers:
            try:
                observer(outcome)
            except Exception as error:  # noqa: BLE001 - an observer must not break traffic
                log.warning("observer failed: %s", error)

    def update(self, routing: Routing) -> None:
        """New routing from the control plane; cuts connections to targets that left."""
        self.routing = routing
        present = {
            (group.arn, target.address) for group in routing.groups for target in group.targets
        }
        known_groups = {group.arn for group in routing.groups}
        for upstream in list(self.upstreams):
            if upstream.key[0] in known_groups and upstream.key not in present:
                log.info("cutting a connection to %s (deregistered)", upstream.key[1])
                upstream.cut()

    def sweep_idle(self, now: float | None = None) -> None:
        now = now if now is not None else time.monotonic()
        limit = self.routing.idle_timeout
        for upstream in list(self.upstreams):
            if now - upstream.activity.last > limit:
                upstream.cut()
        for client in list(self.clients):
            if now - client.activity.last > limit:
                transport: Any = client.writer.transport
                transport.abort()

    # --- connections --------------------------------------------------------------------

    def admits(self, network: str) -> bool:
        """Whether the security groups let clients of `network` (INTERNET, CLOUDFRONT)
        reach the listener."""
        source_kind = vpc.EDGE if network == CLOUDFRONT else vpc.VIEWER
        return self.network.reload().is_open(
            source_kind, vpc.ALB, destination=self.arn, port=self.routing.listener_port
        )

    def handler(self, network: str) -> Callable[..., Any]:
        """The connection handler of one side of the listener: `network` says where its
        clients come from ("internet", or "cloudfront" for the origin-facing side)."""

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self.handle(reader, writer, network)

        return handle

    async def handle(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        network: str = INTERNET,
    ) -> None:
        if not self.admits(network):
            transport: Any = writer.transport
            transport.abort()  # the groups drop it: the client sees no answer
            return
        connection = ClientConnection(writer, network=network)
        self.clients.add(connection)
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        try:
            while True:
                raw = await http.read_head(reader)
                if raw is None:
                    break
                connection.activity.touch()
                request = http.parse_head(raw, response=False)
                keep = await self._exchange(request, reader, writer, connection, str(peer[0]))
                if not keep:
                    break
        except (http.ProtocolError, ValueError):
            writer.write(http.response(400, http.error_page(400), close=True))
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass  # shutting down: the connection goes with the process
        finally:
            self.clients.discard(connection)
            http.close_writer(writer)

    async def _answer(
        self,
        writer: asyncio.StreamWriter,
        request: http.Head,
        status: int,
        started: float,
        kind: str,
        group: Group | None = None,
        target: Target | None = None,
        *,
        injected: bool = False,
        fixed: FixedResponse | None = None,
    ) -> bool:
        by_alb = not injected
        if fixed is not None:
            body = fixed.body.encode()
            writer.write(
                http.response(status, body, fixed.content_type, close=True, server="awselb/2.0")
            )
        else:
            writer.write(
                http.response(status, http.error_page(status), close=True, server="awselb/2.0")
            )
        await writer.drain()
        self.observe(
            Outcome(
                time.time(),
                kind,
                request.method,
                request.path,
                group.arn if group else None,
                target.address if target else None,
                status,
                time.monotonic() - started,
                by_alb,
                injected,
            )
        )
        return False

    async def _exchange(
        self,
        request: http.Head,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        connection: ClientConnection,
        client_ip: str,
    ) -> bool:
        started = time.monotonic()
        now = time.time()
        kind = "websocket" if request.is_upgrade else "http"
        action = self.routing.decide(Request.of(request, client_ip))
        if action is None:  # a listener always has a default action; none read yet
            return await self._answer(writer, request, 503, started, kind)
        if isinstance(action, FixedResponse):
            return await self._answer(writer, request, action.status, started, kind, fixed=action)
        cookie = self.cookies.from_header(request.get_all("cookie")) if action.stickiness else None
        choice = choose_group(action, cookie, now, self.rng.random())
        group = choice.group
        if group is None:
            return await self._answer(writer, request, 503, started, kind)
        target = self.round_robin.pick(group)
        if target is None:
            return await self._answer(writer, request, 503, started, kind, group)
        if not self.network.reload().is_open(vpc.ALB, vpc.TASKS, source=self.arn, via=group.arn):
            await asyncio.sleep(CONNECT_TIMEOUT)  # the groups drop the SYN: no answer
            return await self._answer(writer, request, 504, started, kind, group, target)
        fault = self.faults.for_group(group)
        if fault is not None:
            if fault.added_latency > 0:
                await asyncio.sleep(fault.added_latency)
            if fault.http_5xx_share > 0 and self.rng.random() < fault.http_5xx_share:
                return await self._answer(
                    writer, request, 500, started, kind, group, target, injected=True
                )
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                up_reader, up_writer = await asyncio.open_connection(target.id, target.port)
        except TimeoutError:
            return await self._answer(writer, request, 504, started, kind, group, target)
        except OSError:
            return await self._answer(writer, request, 502, started, kind, group, target)
        upstream = Upstream((group.arn, target.address), writer, up_writer, connection.activity)
        self.upstreams.add(upstream)
        try:
            return await self._forward(
                request,
                reader,
                writer,
                up_reader,
                up_writer,
                upstream,
                group,
                target,
                choice,
                client_ip,
                started,
                kind,
            )
        finally:
            self.upstreams.discard(upstream)
            http.close_writer(up_writer)

    async def _forward(
        self,
        request: http.Head,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
        upstream: Upstream,
        group: Group,
        target: Target,
        choice: Choice,
        client_ip: str,
        started: float,
        kind: str,
    ) -> bool:
        forwarded_for = request.get("x-forwarded-for")
        request.set(
            "X-Forwarded-For", f"{forwarded_for}, {client_ip}" if forwarded_for else client_ip
        )
        request.set("X-Forwarded-Proto", "http")
        request.set("X-Forwarded-Port", str(self.port or self.routing.listener_port))
        if request.get("x-amzn-trace-id") is None:
            request.set("X-Amzn-Trace-Id", f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}")
        client_keep = request.keep_alive()
        if not request.is_upgrade:
            request.set("Connection", "close")  # one request per connection to the target
        up_writer.write(request.render())
        touch = upstream.activity.touch
        await http.relay_body(request, reader, up_writer, touch=touch)
        raw = await http.read_head(up_reader)
        if raw is None:
            return await self._answer(writer, request, 502, started, kind, group, target)
        try:
            answer = http.parse_head(raw, response=True)
        except http.ProtocolError:
            return await self._answer(writer, request, 502, started, kind, group, target)
        while answer.status == 100:  # interim response: pass it on, read the real one
            writer.write(answer.render())
            raw = await http.read_head(up_reader)
            if raw is None:
                return await self._answer(writer, request, 502, started, kind, group, target)
            answer = http.parse_head(raw, response=True)
        if choice.set_cookie:
            answer.headers += self.cookies.set_cookie_headers(group.arn, choice.issued, time.time())
        upgraded = answer.status == 101 and request.is_upgrade
        if not upgraded:
            answer.remove("connection")
            if not client_keep:
                answer.set("Connection", "close")
        latency = time.monotonic() - started
        self.observe(
            Outcome(
                time.time(),
                kind,
                request.method,
                request.path,
                group.arn,
                target.address,
                answer.status,
                latency,
                False,
            )
        )
        writer.write(answer.render())
        if upgraded:
            await writer.drain()
            await http.splice((reader, writer), (up_reader, up_writer), upstream.activity)
            return False
        reusable = await http.relay_body(
            answer, up_reader, writer, request_method=request.method, touch=touch
        )
        await writer.drain()
        return client_keep and reusable


# --- reading the control plane ----------------------------------------------------------


def _forwards(actions: Sequence[dict[str, Any]]) -> bool:
    return any(a.get("Type") == "forward" for a in actions)


def parse_conditions(raw: Sequence[dict[str, Any]]) -> tuple[Condition, ...]:
    """A rule's conditions as DescribeRules gives them."""
    conditions = []
    for item in raw:
        field_name = str(item.get("Field", ""))
        if field_name == "http-header":
            config = item.get("HttpHeaderConfig") or {}
            conditions.append(
                Condition(
                    field_name,
                    tuple(config.get("Values") or []),
                    str(config.get("HttpHeaderName", "")),
                )
            )
        elif field_name == "query-string":
            pairs = (item.get("QueryStringConfig") or {}).get("Values") or []
            conditions.append(
                Condition(
                    field_name, tuple(f"{p.get('Key') or ''}={p.get('Value', '')}" for p in pairs)
                )
            )
        else:
            config_key = {
                "path-pattern": "PathPatternConfig",
                "host-header": "HostHeaderConfig",
                "http-request-method": "HttpRequestMethodConfig",
                "source-ip": "SourceIpConfig",
            }.get(field_name, "")
            values = (item.get(config_key) or {}).get("Values") or item.get("Values") or []
            conditions.append(Condition(field_name, tuple(values)))
    return tuple(conditions)


def read_routing(control: ControlPlane, load_balancer_arn: str) -> Routing | None:
    """The routing of the load balancer's forwarding listener; None when it is gone."""
    region = region_of(load_balancer_arn)
    elbv2 = control.client("elbv2", region)
    try:
        elbv2.describe_load_balancers(LoadBalancerArns=[load_balancer_arn])
    except Exception as error:  # noqa: BLE001 - LoadBalancerNotFound
        if "LoadBalancerNotFound" in str(error):
            return None
        raise
    attributes = {
        a["Key"]: a["Value"]
        for a in elbv2.describe_load_balancer_attributes(LoadBalancerArn=load_balancer_arn)[
            "Attributes"
        ]
    }
    idle = float(attributes.get("idle_timeout.timeout_seconds") or 60)
    listeners = elbv2.describe_listeners(LoadBalancerArn=load_balancer_arn)["Listeners"]
    served = None
    for listener in sorted(listeners, key=lambda item: item.get("Port", 0)):
        raw_rules = elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
        if _forwards(listener.get("DefaultActions", [])) or any(
            _forwards(rule.get("Actions", [])) for rule in raw_rules
        ):
            served = (listener, raw_rules)
            break
    if served is None:
        return Routing(idle_timeout=idle)
    listener, raw_rules = served
    if not any(rule.get("IsDefault") for rule in raw_rules):
        raw_rules = [*raw_rules, {"IsDefault": True, "Actions": listener["DefaultActions"]}]
    health: dict[str, tuple[Target, ...]] = {}
    names: dict[str, str] = {}

    def group_of(arn: str, weight: int) -> Group:
        if arn not in health:
            described = elbv2.describe_target_health(TargetGroupArn=arn)
            health[arn] = tuple(
                Target(d["Target"]["Id"], int(d["Target"]["Port"]), d["TargetHealth"]["State"])
                for d in described["TargetHealthDescriptions"]
            )
            for found in elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"]:
                names[arn] = found["TargetGroupName"]
        return Group(arn, names.get(arn, arn), weight, health[arn])

    def action_of(actions: Sequence[dict[str, Any]]) -> Action | None:
        for action in sorted(actions, key=lambda a: int(a.get("Order") or 0)):
            if action.get("Type") == "fixed-response":
                config = action.get("FixedResponseConfig") or {}
                return FixedResponse(
                    int(config.get("StatusCode") or 503),
                    str(config.get("ContentType") or "text/plain"),
                    str(config.get("MessageBody") or ""),
                )
            if action.get("Type") == "forward":
                config = action.get("ForwardConfig") or {}
                weighted = config.get("TargetGroups") or (
                    [{"TargetGroupArn": action["TargetGroupArn"], "Weight": 1}]
                    if action.get("TargetGroupArn")
                    else []
                )
                groups = tuple(
                    group_of(e["TargetGroupArn"], int(e.get("Weight", 1))) for e in weighted
                )
                sticky = config.get("TargetGroupStickinessConfig") or {}
                return Forward(
                    groups,
                    bool(sticky.get("Enabled")) and len(groups) > 0,
                    int(sticky.get("DurationSeconds") or 0),
                )
        return None

    rules = []
    for raw in raw_rules:
        action = action_of(raw.get("Actions", []))
        if action is None:
            continue  # redirect or authenticate: not served locally
        default = bool(raw.get("IsDefault")) or raw.get("Priority") == "default"
        priority = float("inf") if default else float(raw.get("Priority") or 0)
        conditions = () if default else parse_conditions(raw.get("Conditions") or [])
        rules.append(Rule(priority, conditions, action))
    every_group: dict[str, Group] = {}
    for rule in rules:
        if isinstance(rule.action, Forward):
            for group in rule.action.groups:
                every_group.setdefault(group.arn, group)
    default_forward = next(
        (r.action for r in rules if r.priority == float("inf") and isinstance(r.action, Forward)),
        Forward(),
    )
    return Routing(
        groups=tuple(every_group.values()),
        stickiness=default_forward.stickiness,
        duration=default_forward.duration,
        idle_timeout=idle,
        listener_port=int(listener.get("Port", 80)),
        rules=tuple(sorted(rules, key=lambda r: r.priority)),
    )


def host_counts(routing: Routing) -> dict[str, tuple[int, int]]:
    """(healthy, unhealthy) targets of each group, as HealthyHostCount and UnHealthyHostCount."""
    return {
        group.arn: (
            sum(1 for t in group.targets if t.state == HEALTHY),
            sum(1 for t in group.targets if t.state == UNHEALTHY),
        )
        for group in routing.groups
    }


async def publish_metrics(
    balancer: LoadBalancer, metrics: cloudwatch.AlbMetrics, control: ControlPlane
) -> None:
    """The load balancer's CloudWatch metrics, every few seconds (see cloudwatch.py)."""
    client = control.client("cloudwatch")
    while True:
        await asyncio.sleep(cloudwatch.PUBLISH_EVERY)
        data = metrics.drain(host_counts(balancer.routing))
        try:
            await asyncio.to_thread(cloudwatch.publish, client, data)
        except Exception as error:  # noqa: BLE001 - metrics must never stop the proxy
            log.warning("could not publish metrics: %s", error)


async def follow_control_plane(
    balancer: LoadBalancer,
    control: ControlPlane,
    arn: str,
    on_gone: Callable[[], None],
    flush: Callable[[], None] = lambda: None,
) -> None:
    """Keep `balancer.routing` in step with the emulator."""
    seen: int | None = None
    refreshed = 0.0
    while True:
        generation = await asyncio.to_thread(control.generation, 1.0)
        now = time.monotonic()
        if generation is not None and (generation != seen or now - refreshed > REFRESH_EVERY):
            try:
                routing = await asyncio.to_thread(read_routing, control, arn)
            except Exception as error:  # noqa: BLE001 - keep the last routing, try again
                log.warning("could not read the listener: %s", error)
            else:
                seen, refreshed = generation, now
                if routing is None:
                    on_gone()
                    return
                balancer.update(routing)
        balancer.faults.reload()
        balancer.sweep_idle()
        flush()
        await asyncio.sleep(POLL_INTERVAL)


def install_uvloop() -> bool:
    """Use uvloop when it is installed: the proxy then costs about half the CPU."""
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


async def serve(args: argparse.Namespace) -> int:
    control = ControlPlane(args.emulator, region_of(args.load_balancer) or "ap-northeast-2")
    outcomes = OutcomeLog(Path(args.outcomes)) if args.outcomes else None
    metrics = cloudwatch.AlbMetrics(args.load_balancer)
    balancer = LoadBalancer(
        cookie_key=hashlib.sha256(b"chatops-alb:" + args.load_balancer.encode()).digest(),
        observers=[metrics, *([outcomes] if outcomes else [])],
        faults=Faults(Path(args.faults) if args.faults else None),
        arn=args.load_balancer,
        network=vpc.NetworkFile(Path(args.network) if args.network else None),
    )
    balancer.port = args.port
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    servers = [
        await asyncio.start_server(
            balancer.handler(network), args.host, port, backlog=1024, limit=http.MAX_HEAD
        )
        for network, port in ((INTERNET, args.port), (CLOUDFRONT, args.origin_port))
        if port
    ]
    print(f"chatops alb {args.load_balancer} on http://{args.host}:{args.port}", flush=True)
    if args.origin_port:
        print(f"origin-facing side on http://{args.host}:{args.origin_port}", flush=True)
    follower = asyncio.create_task(
        follow_control_plane(
            balancer,
            control,
            args.load_balancer,
            stop.set,
            outcomes.flush if outcomes else lambda: None,
        )
    )
    publisher = asyncio.create_task(publish_metrics(balancer, metrics, control))
    await stop.wait()
    follower.cancel()
    publisher.cancel()
    for server in servers:
        server.close()
    for upstream in list(balancer.upstreams):
        upstream.cut()
    if outcomes:
        outcomes.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chatops-alb")
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--load-balancer", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="the internet side")
    parser.add_argument(
        "--origin-port", type=int, default=0, help="the side CloudFront's addresses reach"
    )
    parser.add_argument("--outcomes", help="append every outcome to this JSON-lines file")
    parser.add_argument("--faults", help="JSON file of faults to inject per target group")
    parser.add_argument("--network", help="the data plane's network.json (security groups)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    install_uvloop()
    with connection_gc():
        return asyncio.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
