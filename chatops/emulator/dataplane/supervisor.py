"""The data plane's supervisor: one process, started with the emulator, that makes what
the emulator's state describes actually run.

Run as ``python -m chatops.emulator.dataplane.supervisor --emulator URL --instance-id ID
--local-dir DIR [--app-dir DIR]`` (``EmulatorManager`` starts it). It is a reconciler:
it reads the desired state from the emulator (when the emulator's generation counter
moves, checked every 0.2 s, and every 5 s regardless) and converges:

- ECS services -> task processes (`ecs`), registered in their target groups;
- target groups -> health checks of every registered target (`targets`);
- replication groups -> a Redis server each (`elasticache`), as its child;
- application load balancers -> a proxy process each (`alb`);
- CloudFront distributions -> an edge process each (`cloudfront`);
- CloudWatch metric alarms -> evaluated from the metrics every few seconds (`cloudwatch`);
- security groups -> the paths they allow, in ``network.json``, and a Redis gate per
  (replication group, service) that the tasks reach Redis through (`vpc`).

Every process it starts is recorded in ``dataplane.json`` (see `state`) before anything
else happens to it, so a supervisor that dies (even by SIGKILL) is replaced by one that
adopts the live processes it finds recorded (checked by their environment marker) and
restarts the rest: no duplicates, no orphans. It stops everything it runs when it gets
SIGTERM (``chatops local stop``) or when its emulator is gone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chatops.emulator.dataplane import alb, cloudwatch, ecs, elasticache, targets, vpc
from chatops.emulator.dataplane import http as plumbing
from chatops.emulator.dataplane.control import ControlPlane
from chatops.emulator.dataplane.state import (
    MARKER_VARIABLE,
    DataplaneRecord,
    ProcessRecord,
    choose_port,
    environ_base,
    is_ours,
    marker,
    process_marker,
)
from chatops.emulator.manager import probe
from chatops.processes import terminate

log = logging.getLogger("chatops.supervisor")

GENERATION_POLL = 0.2
TICK = 0.25
RECONCILE_EVERY = 5.0
MIN_RECONCILE_GAP = 0.4
EMULATOR_GRACE = 10.0


# --- reading the rest of the control plane ----------------------------------------------


def read_target_groups(
    control: ControlPlane, regions: list[str]
) -> tuple[dict[str, tuple[targets.HealthCheck, list[tuple[str, int]]]], dict[str, ecs.GroupInfo]]:
    """Health check settings and registrations of every target group."""
    checks: dict[str, tuple[targets.HealthCheck, list[tuple[str, int]]]] = {}
    infos: dict[str, ecs.GroupInfo] = {}
    for region in regions:
        elbv2 = control.client("elbv2", region)
        for group in elbv2.describe_target_groups().get("TargetGroups", []):
            arn = group["TargetGroupArn"]
            health = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
            attributes = elbv2.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
            delay = next(
                (
                    a["Value"]
                    for a in attributes
                    if a["Key"] == "deregistration_delay.timeout_seconds"
                ),
                "300",
            )
            registered = [
                (d["Target"]["Id"], int(d["Target"]["Port"]))
                for d in health
                if d["TargetHealth"]["State"] != "draining"
            ]
            checks[arn] = (targets.HealthCheck.from_target_group(group), registered)
            infos[arn] = ecs.GroupInfo(float(delay), tuple(registered))
    return checks, infos


def read_load_balancers(control: ControlPlane, regions: list[str]) -> list[dict[str, Any]]:
    found = []
    for region in regions:
        described = control.client("elbv2", region).describe_load_balancers()
        for balancer in described.get("LoadBalancers", []):
            if balancer.get("Type", "application") == "application":
                found.append(balancer)
    return found


def read_distributions(control: ControlPlane) -> list[dict[str, Any]]:
    """Enabled distributions: Id, DomainName and Origins (from their configuration)."""
    cloudfront = control.client("cloudfront", "us-east-1")
    listing = cloudfront.list_distributions()
    found = []
    for item in (listing.get("DistributionList") or {}).get("Items") or []:
        try:
            described = cloudfront.get_distribution(Id=item["Id"])["Distribution"]
        except Exception as error:  # noqa: BLE001 - deleted between the two calls
            log.info("distribution %s: %s", item["Id"], error)
            continue
        config = described["DistributionConfig"]
        if config.get("Enabled", True):
            found.append(
                {
                    "Id": item["Id"],
                    "DomainName": described["DomainName"],
                    "Origins": config["Origins"],
                }
            )
    return found


def token_parameters(definitions: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Redis endpoint address -> the parameter tasks read their REDIS_AUTH_TOKEN from."""
    found = {}
    for definition in definitions.values():
        container = ecs.app_container(definition)
        env = {e["name"]: e["value"] for e in container.get("environment", [])}
        secret = next(
            (
                s["valueFrom"]
                for s in container.get("secrets") or []
                if s["name"] == "REDIS_AUTH_TOKEN"
            ),
            None,
        )
        if secret:
            for name in ("REDIS_HOST", "REDIS_READER_HOST"):
                if env.get(name):
                    found[str(env[name])] = ecs.parameter_name(str(secret))
    return found


# --- the supervisor ------------------------------------------------------------------


class Supervisor:
    def __init__(
        self, endpoint: str, instance_id: str, local_dir: Path, app_dir: Path | None
    ) -> None:
        self.endpoint = endpoint
        self.instance_id = instance_id
        self.local_dir = local_dir
        self.control = ControlPlane(endpoint)
        self.record = DataplaneRecord.load(local_dir)
        self.record.instance_id = instance_id
        self.record.supervisor_pid = os.getpid()
        self.record.supervisor_started_at = time.time()
        self.network = vpc.NetworkFile(local_dir / vpc.NETWORK_FILE)
        self.checker = targets.HealthChecker(self._report_health, self._probe)
        self.alarms = cloudwatch.AlarmEvaluator()
        self.metadata_port = 0
        self.ecs = ecs.EcsScheduler(
            control=self.control,
            checker=self.checker,
            local_dir=local_dir,
            app_dir=app_dir,
            instance_id=instance_id,
            metadata_uri=lambda task_id: f"http://127.0.0.1:{self.metadata_port}/v4/{task_id}",
            redis_for=self._redis_for,
            on_change=self._changed,
            credentials_uri=lambda task_id: (
                f"http://127.0.0.1:{self.metadata_port}{ecs.CREDENTIALS_PATH}{task_id}"
            ),
        )
        self.redis: dict[str, elasticache.RunningRedis] = {}
        self.redis_endpoints: dict[str, str] = {}  # endpoint address -> group id
        self.proxies: dict[str, ProcessRecord] = {}
        self.handles: dict[str, subprocess.Popen[bytes]] = {}
        self._dirty = True
        self._stop = asyncio.Event()
        self._last_reconcile = 0.0

    # --- bookkeeping ----------------------------------------------------------------

    def _changed(self) -> None:
        self._dirty = True

    def save(self) -> None:
        processes: dict[str, ProcessRecord] = {}
        states = self.checker.states()
        for task in self.ecs.records():
            health = [states.get((arn, "127.0.0.1", task.port)) for arn in task.targets]
            shown = task.state.lower()
            if task.state == ecs.RUNNING and task.targets:
                shown = (
                    "draining"
                    if not task.registered and task.desired_status != "RUNNING"
                    else (min((h or "initial" for h in health), key=_severity))
                )
            processes[f"task:{task.id}"] = ProcessRecord(
                key=f"task:{task.id}",
                role="task",
                pid=task.pid,
                port=task.port,
                marker=task.marker,
                started_at=task.created_at,
                colour=task.colour,
                health=shown,
                detail=task.to_record(),
            )
        for group_id, redis in self.redis.items():
            processes[f"redis:{group_id}"] = ProcessRecord(
                key=f"redis:{group_id}",
                role="redis",
                pid=redis.pid,
                port=redis.port,
                marker=redis.marker,
                started_at=redis.started_at,
                health="running",
                title=redis.title,
                detail={
                    "group_id": group_id,
                    "region": redis.group.region,
                    "endpoints": list(redis.group.endpoints),
                    "digest": redis.digest,
                },
            )
        processes.update(self.proxies)
        self.record.processes = processes
        self.record.ports["metadata"] = self.metadata_port
        self.record.urls = {
            key: f"http://127.0.0.1:{p.port}/"
            for key, p in self.proxies.items()
            if p.role in ("alb", "edge")
        }
        for key in self.proxies:
            if key.startswith("alb:") and f"{key}:origin" in self.record.ports:
                origin = self.record.ports[f"{key}:origin"]
                self.record.urls[f"alb-origin:{key.split(':', 1)[1]}"] = (
                    f"http://127.0.0.1:{origin}/"
                )
        self.record.save(self.local_dir)
        self._dirty = False

    async def _report_health(self, reports: list[dict[str, Any]]) -> None:
        await asyncio.to_thread(self.control.report, "target-health", {"Targets": reports})
        self._dirty = True

    def _redis_for(self, host: str, service_arn: str) -> tuple[bool, int | None]:
        """Tasks reach their Redis through the gate of their service (see `vpc`)."""
        group_id = self.redis_endpoints.get(host)
        if group_id is None:
            return False, None
        gate = next(
            (
                p
                for p in self.proxies.values()
                if p.role == "redis-gate"
                and p.detail.get("group_id") == group_id
                and p.detail.get("source") == service_arn
            ),
            None,
        )
        return True, gate.port if gate and self._proxy_alive(gate) else None

    async def _probe(self, host: str, port: int, check: targets.HealthCheck) -> targets.CheckResult:
        """A health check, carried only where the security groups let the ALB reach it."""
        task = next((t for t in self.ecs.table.tasks.values() if t.port == port), None)
        if task is not None and not self.network.reload().is_open(
            vpc.ALB, vpc.TASKS, destination=task.service_arn
        ):
            await asyncio.sleep(check.timeout)  # the SYN is dropped: no answer at all
            return targets.CheckResult(False, "Target.Timeout", "Request timed out")
        return await targets.probe(host, port, check)

    # --- adoption ------------------------------------------------------------------

    def adopt(self) -> None:
        previous = self.record.processes
        tasks = []
        for key, process in previous.items():
            if process.role == "task":
                tasks.append(process.detail)
            elif is_ours(process.pid, process.marker, process.title):
                log.info("adopted %s (pid %s, port %s)", key, process.pid, process.port)
                if process.role == "redis":
                    detail = process.detail
                    group = elasticache.GroupSpec(
                        detail["group_id"], detail["region"], tuple(detail["endpoints"]), None
                    )
                    self.redis[detail["group_id"]] = elasticache.RunningRedis(
                        group,
                        process.pid,
                        process.port,
                        process.marker,
                        detail["digest"],
                        process.started_at,
                    )
                    for endpoint in group.endpoints:
                        self.redis_endpoints[endpoint] = group.group_id
                else:
                    self.proxies[key] = process
        self.ecs.adopt(tasks, lambda task: is_ours(task.pid, task.marker))
        self._kill_strays(
            {p.marker for p in previous.values() if is_ours(p.pid, p.marker, p.title)}
        )

    def _kill_strays(self, known: set[str]) -> None:
        """Processes of this data plane that no record names (started just before a crash)."""
        proc = Path("/proc")
        if not proc.is_dir():
            return
        prefix = f"{self.instance_id}/"
        for entry in proc.iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            found = process_marker(int(entry.name))
            if (
                found
                and found.startswith(prefix)
                and found not in known
                and not found.endswith("/supervisor")
            ):
                log.warning("stopping stray process %s (%s)", entry.name, found)
                terminate(int(entry.name), 2.0)

    # --- processes of the proxies ---------------------------------------------------

    def _spawn(
        self,
        key: str,
        role: str,
        module: str,
        args: list[str],
        port_key: str,
        detail: dict[str, Any],
    ) -> ProcessRecord:
        port = choose_port(self.record.ports.get(port_key))
        if self.record.ports.get(port_key) not in (None, port):
            log.warning("port %s of %s is taken: using %s", self.record.ports[port_key], key, port)
        self.record.ports[port_key] = port
        process_marker_value = marker(self.instance_id, key)
        env = {**environ_base(), MARKER_VARIABLE: process_marker_value, "PYTHONUNBUFFERED": "1"}
        if "PYTHONPATH" in os.environ:
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        log_path = self.local_dir / "logs" / role / f"{key.split(':', 1)[1]}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as out:
            handle = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    module,
                    "--emulator",
                    self.endpoint,
                    "--port",
                    str(port),
                    *args,
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self.handles[key] = handle
        record = ProcessRecord(
            key, role, handle.pid, port, process_marker_value, detail=detail, health="running"
        )
        self.proxies[key] = record
        self._dirty = True
        self.save()  # recorded before anything else can happen to it
        log.info("started %s (pid %s, port %s)", key, handle.pid, port)
        return record

    def _proxy_alive(self, record: ProcessRecord) -> bool:
        handle = self.handles.get(record.key)
        if handle is not None:
            return handle.poll() is None
        return is_ours(record.pid, record.marker)

    def _stop_proxy(self, key: str) -> None:
        record = self.proxies.pop(key, None)
        if record is not None and self._proxy_alive(record):
            terminate(record.pid, 5.0)
        self.handles.pop(key, None)
        self._dirty = True

    def _ensure_proxies(
        self, balancers: list[dict[str, Any]], distributions: list[dict[str, Any]]
    ) -> None:
        wanted: set[str] = set()
        alb_addresses: dict[str, int] = {}
        for balancer in balancers:
            key = f"alb:{balancer['LoadBalancerName']}"
            wanted.add(key)
            detail = {"arn": balancer["LoadBalancerArn"], "dns_name": balancer["DNSName"]}
            record = self.proxies.get(key)
            if record is None or record.detail != detail or not self._proxy_alive(record):
                if record is not None:
                    self._stop_proxy(key)
                name = balancer["LoadBalancerName"]
                # The listener's origin-facing side: where the local edge connects.
                origin_port = choose_port(self.record.ports.get(f"{key}:origin"))
                self.record.ports[f"{key}:origin"] = origin_port
                record = self._spawn(
                    key,
                    "alb",
                    "chatops.emulator.dataplane.alb",
                    [
                        "--load-balancer",
                        balancer["LoadBalancerArn"],
                        "--origin-port",
                        str(origin_port),
                        "--outcomes",
                        str(self.local_dir / "logs" / "alb" / f"{name}.outcomes.jsonl"),
                        "--faults",
                        str(self.local_dir / alb.FAULTS_FILE),
                        "--network",
                        str(self.local_dir / vpc.NETWORK_FILE),
                    ],
                    key,
                    detail,
                )
            alb_addresses[balancer["DNSName"]] = self.record.ports.get(f"{key}:origin", record.port)
        for distribution in distributions:
            origins = (distribution.get("Origins") or {}).get("Items") or []
            mapping = sorted(
                f"{o['DomainName']}=127.0.0.1:{alb_addresses[o['DomainName']]}"
                for o in origins
                if o["DomainName"] in alb_addresses
            )
            buckets = sorted(
                o["DomainName"].split(".s3")[0] for o in origins if ".s3" in o["DomainName"]
            )
            key = f"edge:{distribution['Id']}"
            wanted.add(key)
            detail = {
                "id": distribution["Id"],
                "origins": mapping,
                "domain": distribution["DomainName"],
            }
            record = self.proxies.get(key)
            if record is None or record.detail != detail or not self._proxy_alive(record):
                if record is not None:
                    self._stop_proxy(key)
                region = next(
                    (
                        o["DomainName"].split(".s3.")[1].split(".")[0]
                        for o in origins
                        if ".s3." in o["DomainName"]
                    ),
                    self.control.region,
                )
                args = ["--distribution", distribution["Id"], "--region", region]
                for origin in mapping:
                    args += ["--origin", origin]
                self._spawn(
                    key,
                    "edge",
                    "chatops.emulator.dataplane.cloudfront",
                    args,
                    f"edge:{buckets[0] if buckets else distribution['Id']}",
                    detail,
                )
        for key in [
            k for k in self.proxies if k not in wanted and self.proxies[k].role != "redis-gate"
        ]:
            log.info("stopping %s: gone from the emulator", key)
            self._stop_proxy(key)

    # --- Redis ----------------------------------------------------------------------

    async def _ensure_redis(self, groups: list[elasticache.GroupSpec]) -> None:
        wanted = {g.group_id for g in groups}
        self.redis_endpoints = {e: g.group_id for g in groups for e in g.endpoints}
        for group in groups:
            token = await asyncio.to_thread(elasticache.read_token, self.control, group)
            digest = elasticache.token_digest(token)
            running = self.redis.get(group.group_id)
            if (
                running is not None
                and running.digest == digest
                and is_ours(running.pid, running.marker, running.title)
            ):
                continue
            if running is not None:
                elasticache.stop_redis(running.pid)
            key = f"redis:{group.group_id}"
            port = choose_port(self.record.ports.get(key))
            self.record.ports[key] = port
            redis_marker = marker(self.instance_id, key)
            try:
                started = await asyncio.to_thread(
                    elasticache.start_redis,
                    port,
                    password=token,
                    workdir=self.local_dir / "redis" / group.group_id,
                    log_path=self.local_dir / "logs" / "redis" / f"{group.group_id}.log",
                    detach=True,
                    env={**environ_base(), MARKER_VARIABLE: redis_marker},
                )
            except elasticache.RedisUnavailable as error:
                log.error("Redis for %s: %s", group.group_id, error.message)
                self.redis.pop(group.group_id, None)
                continue
            self.redis[group.group_id] = elasticache.RunningRedis(
                group, started.pid, started.port, redis_marker, digest
            )
            log.info("started Redis for %s (pid %s, port %s)", group.group_id, started.pid, port)
            self._dirty = True
            self.save()
        for group_id in [g for g in self.redis if g not in wanted]:
            log.info("stopping Redis of %s: gone from the emulator", group_id)
            elasticache.stop_redis(self.redis.pop(group_id).pid)
            self._dirty = True

    # --- the loop -------------------------------------------------------------------

    async def reconcile(self) -> None:
        """Read the desired state and converge each role; one role failing (logged) does
        not hold the others back."""
        regions = await asyncio.to_thread(self.control.regions)
        view = await asyncio.to_thread(
            ecs.read_services, self.control, regions, self.ecs.view.definitions
        )
        steps: list[tuple[str, Any]] = [
            ("target groups", self._reconcile_targets(regions, view)),
            ("Redis", self._reconcile_redis(regions, view)),
            ("security groups", self._reconcile_network(regions, view)),
            ("load balancers and edges", self._reconcile_proxies(regions)),
        ]
        for name, step in steps:
            try:
                await step
            except Exception as error:  # noqa: BLE001 - logged; tried again at the next pass
                log.warning("reconciling %s failed: %s", name, error)

    async def _evaluate_alarms(self) -> None:
        try:
            for region in await asyncio.to_thread(self.control.regions):
                client = self.control.client("cloudwatch", region)
                changes = await asyncio.to_thread(self.alarms.evaluate, client)
                for name, state, reason in changes:
                    log.info("alarm %s -> %s: %s", name, state, reason)
        except Exception as error:  # noqa: BLE001 - logged; evaluated again soon
            log.warning("evaluating alarms failed: %s", error)

    async def _reconcile_targets(self, regions: list[str], view: ecs.EcsView) -> None:
        checks, infos = await asyncio.to_thread(read_target_groups, self.control, regions)
        self.checker.sync(checks)
        self.ecs.update(view, infos)

    async def _reconcile_redis(self, regions: list[str], view: ecs.EcsView) -> None:
        groups = await asyncio.to_thread(
            elasticache.read_groups, self.control, regions, token_parameters(view.definitions)
        )
        await self._ensure_redis(groups)

    async def _reconcile_network(self, regions: list[str], view: ecs.EcsView) -> None:
        """Decide the paths the security groups allow (read by the ALBs and the gates at
        once: nothing restarts) and keep one Redis gate per (cache, service)."""
        network, _ = await asyncio.to_thread(
            vpc.read_network, self.control, regions, view.services.values(), view.definitions
        )
        if self.network.write(network):
            closed = [f"{p.name}: {p.missing}" for p in network.closed]
            log.info(
                "network: %d of %d paths open%s",
                len(network.paths) - len(closed),
                len(network.paths),
                "".join(f"; closed {c}" for c in closed),
            )
        wanted: set[str] = set()
        for path in network.paths:
            if path.source_kind != vpc.TASKS or path.destination_kind != vpc.REDIS:
                continue
            service = view.services.get(path.source)
            running = self.redis.get(path.destination)
            if service is None or running is None:
                continue
            key = vpc.gate_key(path.destination, service.name)
            wanted.add(key)
            detail = {
                "group_id": path.destination,
                "source": service.arn,
                "redis_port": running.port,
            }
            record = self.proxies.get(key)
            if record is not None and record.detail == detail and self._proxy_alive(record):
                continue
            if record is not None:
                self._stop_proxy(key)
            self._spawn(
                key,
                "redis-gate",
                "chatops.emulator.dataplane.vpc",
                [
                    "--network",
                    str(self.network.path),
                    "--source",
                    service.arn,
                    "--group",
                    path.destination,
                    "--redis-port",
                    str(running.port),
                ],
                key,
                detail,
            )
        for key in [
            k for k, p in self.proxies.items() if p.role == "redis-gate" and k not in wanted
        ]:
            log.info("stopping %s: its path is gone", key)
            self._stop_proxy(key)

    async def _reconcile_proxies(self, regions: list[str]) -> None:
        balancers = await asyncio.to_thread(read_load_balancers, self.control, regions)
        distributions = await asyncio.to_thread(read_distributions, self.control)
        self._ensure_proxies(balancers, distributions)

    async def serve_metadata(self) -> asyncio.Server:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                raw = await plumbing.read_head(reader)
                if raw is not None:
                    request = plumbing.parse_head(raw, response=False)
                    if request.path.startswith(ecs.CREDENTIALS_PATH):
                        status, document = await asyncio.to_thread(
                            ecs.credentials_response,
                            request.path,
                            request.get("Authorization"),
                            self.ecs.table.tasks,
                            self.ecs.roles,
                        )
                    else:
                        status, document = ecs.metadata_response(
                            request.path, self.ecs.table.tasks, self.ecs.view.definitions
                        )
                    writer.write(
                        plumbing.response(
                            status,
                            json.dumps(document).encode(),
                            "application/json",
                            close=True,
                            server="chatops-ecs-agent",
                        )
                    )
                    await writer.drain()
            except (plumbing.ProtocolError, ConnectionError):
                pass
            finally:
                writer.close()

        preferred = self.record.ports.get("metadata")
        self.metadata_port = choose_port(preferred)
        return await asyncio.start_server(handle, "127.0.0.1", self.metadata_port)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stop.set)
        server = await self.serve_metadata()
        self.adopt()
        self.save()
        watchdog = asyncio.create_task(self._watch_emulator())
        seen: int | None = None
        last_tick = 0.0
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                generation = await asyncio.to_thread(self.control.generation, 1.0)
                due = now - self._last_reconcile > RECONCILE_EVERY
                changed = generation is not None and generation != seen
                if (due or changed) and now - self._last_reconcile > MIN_RECONCILE_GAP:
                    try:
                        await self.reconcile()
                        seen = generation
                    except Exception as error:  # noqa: BLE001 - logged; tried again soon
                        log.warning("reconcile failed: %s", error)
                    self._last_reconcile = time.monotonic()
                if now - last_tick >= TICK:
                    await self.ecs.tick()
                    last_tick = now
                if self.alarms.due():
                    await self._evaluate_alarms()
                if self._dirty:
                    self.save()
                try:
                    await asyncio.wait_for(self._stop.wait(), GENERATION_POLL)
                except TimeoutError:
                    pass
        finally:
            watchdog.cancel()
            server.close()
            await self.shutdown()

    async def _watch_emulator(self) -> None:
        missing_since: float | None = None
        while True:
            answered = await asyncio.to_thread(probe, self.endpoint, 1.0)
            if answered == self.instance_id:
                missing_since = None
            else:
                missing_since = missing_since or time.monotonic()
                if answered is not None or time.monotonic() - missing_since > EMULATOR_GRACE:
                    log.warning("the emulator %s is gone: stopping", self.instance_id)
                    self._stop.set()
                    return
            await asyncio.sleep(2.0)

    async def shutdown(self) -> None:
        log.info("stopping the data plane")
        self.checker.close()
        await self.ecs.stop_all()
        for key in list(self.proxies):
            self._stop_proxy(key)
        for group_id in list(self.redis):
            elasticache.stop_redis(self.redis.pop(group_id).pid)
        self.ecs.table.tasks.clear()
        self.record.supervisor_pid = None
        self.save()


def _severity(state: str) -> int:
    order = {"unhealthy": 0, "initial": 1, "draining": 2, "healthy": 3}
    return order.get(state, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chatops-supervisor")
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--instance-id", required=True)
    parser.add_argument("--local-dir", required=True, type=Path)
    parser.add_argument("--app-dir", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    supervisor = Supervisor(args.emulator, args.instance_id, args.local_dir, args.app_dir)
    asyncio.run(supervisor.run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
