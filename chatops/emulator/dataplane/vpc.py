"""The VPC's security groups in the local data plane: which paths the groups allow, and
the gate that carries a task's Redis traffic only when they do.

Reproduces (EC2 documentation: security group rules, connection tracking):

- **Rules.** A path from a source to a destination on a TCP port is open when one of the
  destination's groups has an ingress rule admitting the source on that port and, when
  the source has groups, one of them has an egress rule admitting the destination.
  A rule admits a peer by CIDR (the peer's addresses lie inside it), by referenced
  security group (the peer has that group) or by prefix list (the peer's addresses are
  that list). Protocol ``-1`` (all traffic) admits every port.
- **Parties.** A viewer is the internet (``0.0.0.0/0``); CloudFront's edge is its
  origin-facing managed prefix list (``com.amazonaws.global.cloudfront.origin-facing``)
  and the internet; a load balancer, a service's tasks (``awsvpc`` groups and subnets)
  and a replication group have their own groups and their subnets' CIDRs.
- **The paths of the stack.** Viewer (and edge) to each load balancer on its listener
  port, each load balancer to the tasks of every service in its target groups on the
  container port (requests and health checks alike), each service's tasks to the
  replication group their ``REDIS_HOST`` names on its port.
- **Connection tracking.** A rule removed stops new connections; connections already
  open carry on (AWS tracks them until they close), so a task's Redis connection fails
  only when it reconnects.

Enforcement: the supervisor decides the paths (`decide`) on every reconcile and writes
them to ``network.json`` in the local directory (`NetworkFile`); the load balancer drops
new viewer connections when viewer to ALB is closed and, when ALB to tasks is closed,
holds a request for the connect timeout and answers 504, while the health checks of
those targets time out (``Target.Timeout``); tasks reach Redis through one gate per
(replication group, service) (``python -m chatops.emulator.dataplane.vpc``, role
``redis-gate``), which refuses new connections while the path is closed. One gate per
service because every source needs its own address for the gate to know who connects
(on AWS each task has its own network interface).

Leaves out: network ACLs, route tables and internet or NAT gateways (a path the groups
allow is carried), UDP and ICMP, IPv6 rules, egress from the internet side, the
per-interface limit of groups, and paths the stack does not use (tasks to AWS APIs,
which the emulator's IAM governs).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import logging
import signal
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("chatops.vpc")

NETWORK_FILE = "network.json"
CLOUDFRONT_PREFIX_LIST = "com.amazonaws.global.cloudfront.origin-facing"
INTERNET = "0.0.0.0/0"

VIEWER, EDGE, ALB, TASKS, REDIS = "viewer", "edge", "alb", "tasks", "redis"


# --- the rules ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One peer of one rule of a security group, in one direction."""

    protocol: str  # "tcp", "udp", "icmp" or "-1" (all)
    from_port: int
    to_port: int
    peer: str  # a CIDR, a security group id (sg-...) or a prefix list id (pl-...)

    def covers(self, port: int) -> bool:
        if self.protocol == "-1":
            return True
        return self.protocol in ("tcp", "6") and self.from_port <= port <= self.to_port


@dataclass(frozen=True)
class SecurityGroup:
    id: str
    name: str
    ingress: tuple[Rule, ...] = ()
    egress: tuple[Rule, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.id} ({self.name})"


def rules_of(permissions: Iterable[Mapping[str, Any]]) -> tuple[Rule, ...]:
    """DescribeSecurityGroups' IpPermissions(Egress), one Rule per peer."""
    rules = []
    for permission in permissions:
        protocol = str(permission.get("IpProtocol", "-1"))
        low = int(permission.get("FromPort", 0) if permission.get("FromPort") is not None else 0)
        high = int(
            permission.get("ToPort", 65535) if permission.get("ToPort") is not None else 65535
        )
        peers = [str(r["CidrIp"]) for r in permission.get("IpRanges") or []]
        peers += [str(p["GroupId"]) for p in permission.get("UserIdGroupPairs") or []]
        peers += [str(p["PrefixListId"]) for p in permission.get("PrefixListIds") or []]
        rules += [Rule(protocol, low, high, peer) for peer in peers]
    return tuple(rules)


def group_from_description(described: Mapping[str, Any]) -> SecurityGroup:
    return SecurityGroup(
        id=str(described["GroupId"]),
        name=str(described.get("GroupName", "")),
        ingress=rules_of(described.get("IpPermissions") or []),
        egress=rules_of(described.get("IpPermissionsEgress") or []),
    )


# --- the parties and their paths -----------------------------------------------------------


@dataclass(frozen=True)
class Party:
    """One end of a path: who it is, the groups it has, the addresses it comes from."""

    kind: str  # VIEWER, EDGE, ALB, TASKS, REDIS
    id: str  # the load balancer ARN, the service ARN, the replication group id, or kind
    label: str  # what `local status` calls it
    groups: tuple[str, ...] = ()
    cidrs: tuple[str, ...] = ()
    prefix_lists: tuple[str, ...] = ()

    def admitted_by(self, rule: Rule) -> bool:
        if rule.peer in self.groups or rule.peer in self.prefix_lists:
            return True
        if rule.peer.startswith(("sg-", "pl-")) or not self.cidrs:
            return False
        try:
            network = ipaddress.ip_network(rule.peer, strict=False)
            return all(
                ipaddress.ip_network(cidr, strict=False).subnet_of(network)  # type: ignore[arg-type]
                for cidr in self.cidrs
            )
        except (ValueError, TypeError):
            return False

    def peer_label(self, groups: Mapping[str, SecurityGroup]) -> str:
        """How a rule would name this party: its first group, prefix list or CIDR."""
        if self.groups:
            first = groups.get(self.groups[0])
            return first.label if first else self.groups[0]
        if self.prefix_lists:
            return f"{self.prefix_lists[0]} (CloudFront's origin-facing prefix list)"
        return f"{INTERNET} (the internet)" if self.cidrs == (INTERNET,) else ", ".join(self.cidrs)


def viewer() -> Party:
    return Party(VIEWER, VIEWER, "viewer", cidrs=(INTERNET,))


def edge(prefix_list: str | None) -> Party:
    return Party(
        EDGE, EDGE, "edge", cidrs=(INTERNET,), prefix_lists=(prefix_list,) if prefix_list else ()
    )


@dataclass(frozen=True)
class PathSpec:
    source: Party
    destination: Party
    port: int
    via: str | None = None  # the target group of an ALB to tasks path


@dataclass(frozen=True)
class PathDecision:
    """Whether the groups carry one path, and when they do not, the rule it lacks."""

    name: str
    source_kind: str
    source: str
    destination_kind: str
    destination: str
    port: int
    open: bool
    missing: str | None = None
    via: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _names(ids: Sequence[str], groups: Mapping[str, SecurityGroup]) -> str:
    labels = [groups[i].label if i in groups else i for i in ids]
    return labels[0] if len(labels) == 1 else "none of " + ", ".join(labels)


def decide_path(spec: PathSpec, groups: Mapping[str, SecurityGroup]) -> PathDecision:
    """Open when the destination's ingress and the source's egress both admit it."""
    source, destination, port = spec.source, spec.destination, spec.port
    name = f"{source.label} → {destination.label}"
    missing = None
    # No groups known for the destination (a service without awsvpc): not theirs to judge.
    if destination.groups:
        ingress = [
            r for g in destination.groups for r in groups.get(g, SecurityGroup(g, "")).ingress
        ]
        if not any(r.covers(port) and source.admitted_by(r) for r in ingress):
            missing = (
                f"{_names(destination.groups, groups)} has no ingress on tcp {port} "
                f"from {source.peer_label(groups)}"
            )
    if missing is None and source.groups and destination.groups:
        egress = [r for g in source.groups for r in groups.get(g, SecurityGroup(g, "")).egress]
        if not any(r.covers(port) and destination.admitted_by(r) for r in egress):
            missing = (
                f"{_names(source.groups, groups)} has no egress on tcp {port} "
                f"to {destination.peer_label(groups)}"
            )
    return PathDecision(
        name=f"{name} on {port}",
        source_kind=source.kind,
        source=source.id,
        destination_kind=destination.kind,
        destination=destination.id,
        port=port,
        open=missing is None,
        missing=missing,
        via=spec.via,
    )


def decide(specs: Iterable[PathSpec], groups: Mapping[str, SecurityGroup]) -> list[PathDecision]:
    return [decide_path(spec, groups) for spec in specs]


# --- what the data plane reads and writes ----------------------------------------------------


@dataclass
class Network:
    """The decided paths of every region."""

    paths: list[PathDecision] = field(default_factory=list)
    updated_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"paths": [p.to_json() for p in self.paths], "updated_at": self.updated_at}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Network:
        return cls(
            paths=[PathDecision(**p) for p in raw.get("paths") or []],
            updated_at=float(raw.get("updated_at") or 0.0),
        )

    @property
    def closed(self) -> list[PathDecision]:
        return [p for p in self.paths if not p.open]

    def is_open(
        self,
        source_kind: str,
        destination_kind: str,
        *,
        source: str | None = None,
        destination: str | None = None,
        via: str | None = None,
        port: int | None = None,
    ) -> bool:
        """False only when a decided path that matches is closed: a path the groups do not
        govern (no groups known for it) is carried."""
        for path in self.paths:
            if (
                path.source_kind == source_kind
                and path.destination_kind == destination_kind
                and source in (None, path.source)
                and destination in (None, path.destination)
                and via in (None, path.via)
                and port in (None, path.port)
                and not path.open
            ):
                return False
        return True


class NetworkFile:
    """``network.json``, re-read when it changes (what the ALB and the gates consult)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.network = Network()
        self._mtime: tuple[int, int] | None = None  # (inode, mtime): each write is a new file

    def reload(self) -> Network:
        if self.path is None:
            return self.network
        try:
            stat = self.path.stat()
            mtime = (stat.st_ino, stat.st_mtime_ns)
        except OSError:
            self.network, self._mtime = Network(), None
            return self.network
        if mtime != self._mtime:
            try:
                self.network = Network.from_json(json.loads(self.path.read_text()))
                self._mtime = mtime
            except (OSError, ValueError, TypeError) as error:
                log.warning("ignoring %s: %s", self.path, error)
        return self.network

    def write(self, network: Network) -> bool:
        """Write when the paths changed; True when it did."""
        assert self.path is not None
        current = self.reload()
        if current.paths == network.paths and self._mtime is not None:
            return False
        network.updated_at = time.time()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(network.to_json(), indent=2, sort_keys=True))
        temporary.replace(self.path)
        self.network = network
        stat = self.path.stat()
        self._mtime = (stat.st_ino, stat.st_mtime_ns)
        return True


def load(local_dir: Path) -> Network:
    return NetworkFile(local_dir / NETWORK_FILE).reload()


# --- reading the control plane ----------------------------------------------------------


def _subnet_cidrs(ec2: Any, subnet_ids: Sequence[str]) -> tuple[str, ...]:
    if not subnet_ids:
        return ()
    try:
        subnets = ec2.describe_subnets(SubnetIds=list(subnet_ids))["Subnets"]
    except Exception as error:  # noqa: BLE001 - a subnet gone: judged by groups alone
        log.info("subnets %s: %s", subnet_ids, error)
        return ()
    return tuple(sorted(str(s["CidrBlock"]) for s in subnets))


def read_groups(ec2: Any, ids: Iterable[str]) -> dict[str, SecurityGroup]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    found = {}
    for described in ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": wanted}])[
        "SecurityGroups"
    ]:
        group = group_from_description(described)
        found[group.id] = group
    return found


def cloudfront_prefix_list(ec2: Any) -> str | None:
    try:
        lists = ec2.describe_managed_prefix_lists(
            Filters=[{"Name": "prefix-list-name", "Values": [CLOUDFRONT_PREFIX_LIST]}]
        )["PrefixLists"]
    except Exception as error:  # noqa: BLE001 - no prefix lists: the edge is the internet
        log.info("prefix lists: %s", error)
        return None
    return next(
        (
            str(p["PrefixListId"])
            for p in lists
            if p.get("PrefixListName") == CLOUDFRONT_PREFIX_LIST
        ),
        None,
    )


@dataclass(frozen=True)
class Cache:
    """A replication group as the paths need it."""

    group_id: str
    endpoints: tuple[str, ...]
    port: int
    party: Party


def read_specs(
    control: Any,
    region: str,
    services: Iterable[Any],
    definitions: Mapping[str, Mapping[str, Any]],
) -> tuple[list[PathSpec], dict[str, SecurityGroup], list[Cache]]:
    """The stack's paths in one region: its load balancers, services and caches.

    `services` are ecs.ServiceSpec (with security_groups and subnets), `definitions`
    their task definitions."""
    from chatops.emulator.dataplane.ecs import app_container

    ec2 = control.client("ec2", region)
    elbv2 = control.client("elbv2", region)
    elasticache = control.client("elasticache", region)
    prefix_list = cloudfront_prefix_list(ec2)
    specs: list[PathSpec] = []
    group_ids: set[str] = set()
    albs: dict[str, Party] = {}
    for balancer in elbv2.describe_load_balancers().get("LoadBalancers", []):
        if balancer.get("Type", "application") != "application":
            continue
        arn = str(balancer["LoadBalancerArn"])
        subnets = [
            z["SubnetId"] for z in balancer.get("AvailabilityZones") or [] if z.get("SubnetId")
        ]
        party = Party(
            ALB,
            arn,
            f"alb {balancer['LoadBalancerName']}",
            tuple(balancer.get("SecurityGroups") or ()),
            _subnet_cidrs(ec2, subnets),
        )
        albs[arn] = party
        group_ids.update(party.groups)
        listeners = elbv2.describe_listeners(LoadBalancerArn=arn).get("Listeners", [])
        for port in sorted({int(item["Port"]) for item in listeners}):
            specs.append(PathSpec(viewer(), party, port))
            specs.append(PathSpec(edge(prefix_list), party, port))
    caches: list[Cache] = []
    for group in elasticache.describe_replication_groups().get("ReplicationGroups", []):
        endpoints, port = [], 6379
        for node_group in group.get("NodeGroups", []):
            for key in ("PrimaryEndpoint", "ReaderEndpoint"):
                endpoint = node_group.get(key) or {}
                if endpoint.get("Address"):
                    endpoints.append(str(endpoint["Address"]))
                    port = int(endpoint.get("Port") or port)
        cache_groups: list[str] = []
        subnet_group = None
        for member in group.get("MemberClusters") or []:
            try:
                clusters = elasticache.describe_cache_clusters(CacheClusterId=member)[
                    "CacheClusters"
                ]
            except Exception as error:  # noqa: BLE001 - a member gone between the calls
                log.info("cache cluster %s: %s", member, error)
                continue
            for cluster in clusters:
                subnet_group = subnet_group or cluster.get("CacheSubnetGroupName")
                for entry in cluster.get("SecurityGroups") or []:
                    if entry["SecurityGroupId"] not in cache_groups:
                        cache_groups.append(str(entry["SecurityGroupId"]))
        cidrs: tuple[str, ...] = ()
        if subnet_group:
            try:
                described = elasticache.describe_cache_subnet_groups(
                    CacheSubnetGroupName=subnet_group
                )["CacheSubnetGroups"][0]
                cidrs = _subnet_cidrs(
                    ec2, [s["SubnetIdentifier"] for s in described.get("Subnets") or []]
                )
            except Exception as error:  # noqa: BLE001 - judged by groups alone
                log.info("cache subnet group %s: %s", subnet_group, error)
        group_id = str(group["ReplicationGroupId"])
        party = Party(REDIS, group_id, f"redis {group_id}", tuple(cache_groups), cidrs)
        group_ids.update(party.groups)
        caches.append(Cache(group_id, tuple(endpoints), port, party))
    by_target_group: dict[str, list[str]] = {}
    for service in services:
        if service.region != region:
            continue
        tasks = Party(
            TASKS,
            service.arn,
            f"{service.name} tasks",
            tuple(service.security_groups),
            _subnet_cidrs(ec2, service.subnets),
        )
        group_ids.update(tasks.groups)
        for link in service.load_balancers:
            if link.target_group_arn not in by_target_group:
                try:
                    described = elbv2.describe_target_groups(
                        TargetGroupArns=[link.target_group_arn]
                    )
                    by_target_group[link.target_group_arn] = list(
                        described["TargetGroups"][0].get("LoadBalancerArns") or []
                    )
                except Exception as error:  # noqa: BLE001 - a target group gone
                    log.info("target group %s: %s", link.target_group_arn, error)
                    by_target_group[link.target_group_arn] = []
            for balancer_arn in by_target_group[link.target_group_arn]:
                if balancer_arn in albs:
                    specs.append(
                        PathSpec(
                            albs[balancer_arn], tasks, link.container_port, link.target_group_arn
                        )
                    )
        definition = definitions.get(service.task_definition_arn)
        if definition is None:
            continue
        env = {e["name"]: str(e["value"]) for e in app_container(definition).get("environment", [])}
        hosts = {env.get("REDIS_HOST"), env.get("REDIS_READER_HOST")} - {None}
        for cache in caches:
            if hosts & set(cache.endpoints):
                specs.append(PathSpec(tasks, cache.party, cache.port))
    groups = read_groups(ec2, group_ids)
    return specs, groups, caches


def read_network(
    control: Any,
    regions: Sequence[str],
    services: Iterable[Any],
    definitions: Mapping[str, Mapping[str, Any]],
) -> tuple[Network, list[Cache]]:
    paths: list[PathDecision] = []
    caches: list[Cache] = []
    services = list(services)
    for region in regions:
        specs, groups, found = read_specs(control, region, services, definitions)
        paths += decide(specs, groups)
        caches += found
    return Network(paths=paths), caches


def gate_key(group_id: str, service_name: str) -> str:
    return f"redis-gate:{group_id}:{service_name}"


# --- the gate ------------------------------------------------------------------------------


class Gate:
    """A TCP relay to one Redis for the tasks of one service; refuses new connections
    while the network says that path is closed, and leaves open ones alone."""

    def __init__(self, network: NetworkFile, source: str, group_id: str, redis_port: int) -> None:
        self.network = network
        self.source = source
        self.group_id = group_id
        self.redis_port = redis_port
        self.refused = 0

    def allowed(self) -> bool:
        return self.network.reload().is_open(
            TASKS, REDIS, source=self.source, destination=self.group_id
        )

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.allowed():
            self.refused += 1
            log.info(
                "refused a connection: the security groups close %s -> %s",
                self.source,
                self.group_id,
            )
            transport: Any = writer.transport
            transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.redis_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            _pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True
        )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except (ConnectionError, OSError, RuntimeError):
            pass


async def serve_gate(args: argparse.Namespace) -> int:
    gate = Gate(NetworkFile(Path(args.network)), args.source, args.group, args.redis_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = await asyncio.start_server(gate.handle, "127.0.0.1", args.port)
    print(f"chatops redis gate {args.source} -> {args.group} on 127.0.0.1:{args.port}", flush=True)
    await stop.wait()
    server.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chatops-redis-gate")
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--network", required=True, help="the data plane's network.json")
    parser.add_argument("--source", required=True, help="the service ARN whose tasks connect")
    parser.add_argument("--group", required=True, help="the replication group id")
    parser.add_argument("--redis-port", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    return asyncio.run(serve_gate(args))


if __name__ == "__main__":
    sys.exit(main())
